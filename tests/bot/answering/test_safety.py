"""Output filtering: no pings and no credentials in what the model wrote."""

from __future__ import annotations

import pytest

from bot.answering.safety import clean_output, passage_links, plain_links
from bot.answering.secrets import REDACTED, redact_secrets
from bot.types import DocVisibility, Passage
from tests.fakes.tokens import OPENAI_KEY_LONG, SLACK_BOT_TOKEN_LONG, SLACK_USER_TOKEN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hey @everyone, read this", "Hey everyone, read this"),
        ("@here look", "here look"),
        ("@Channel look", "Channel look"),
        ("＠everyone look", "everyone look"),
        ("<!channel> look", "channel look"),
        ("<!here> and <!here|here> look", "here and here look"),
        ("<!everyone> look", "everyone look"),
        ("ask <!subteam^S0123ABC|@support-team>", "ask support-team"),
        ("ask <!subteam^S0123ABC>", "ask [group]"),
        ("ask <@&123456789012345678>", "ask [role]"),
        ("ask <@U0123ABC> or <@!123456789> or <@U0123|alice>", "ask [user] or [user] or [user]"),
    ],
)
def test_mentions_are_neutralised(text: str, expected: str) -> None:
    cleaned = clean_output(text)
    assert cleaned == expected
    assert "@everyone" not in cleaned and "<!" not in cleaned and "<@" not in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "Write to ops@here.example or support@channel.io for help.",
        "The @mention syntax is documented in the Slack guide.",
        "Everyone here can use the channel.",
    ],
)
def test_ordinary_text_with_at_signs_is_unchanged(text: str) -> None:
    assert clean_output(text) == text


@pytest.mark.parametrize(
    "secret",
    [
        SLACK_BOT_TOKEN_LONG,
        SLACK_USER_TOKEN,
        "xapp-1-A0123BCDEF-1234567890123-abcdef0123456789abcdef0123456789abcdef",
        OPENAI_KEY_LONG,
        "sk-proj-Ab3dEf6hIj9lMnOpQrStUvWxYz012345",
        "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GhIjKl.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_0123456789abcdefghijABCDEFGHIJ0123456789",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ],
)
def test_token_shaped_strings_are_redacted(secret: str) -> None:
    cleaned = clean_output(f"Your credential is {secret} (keep it safe).")
    assert secret not in cleaned
    assert secret[8:20] not in cleaned
    assert cleaned == f"Your credential is {REDACTED} (keep it safe)."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("token: 8f3a9c2e71b64d05a9e3c7f1b2d4e6a8", f"token: {REDACTED}"),
        ("the API key is 9f8e7d6c5b4a39281706abcd", f"the API key is {REDACTED}"),
        ("Authorization: Bearer abcdef1234567890abcdef12", f"Authorization: Bearer {REDACTED}"),
        ('password="Sup3rS3cretPassw0rdValue!"', f'password="{REDACTED}!"'),
    ],
)
def test_long_values_after_a_secret_word_are_redacted(text: str, expected: str) -> None:
    assert clean_output(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my password is Tr0ub4dor&3", f"my password is {REDACTED}"),
        ("비밀번호: Tr0ub4dor&3", f"비밀번호: {REDACTED}"),
        ("제 비밀번호는 Tr0ub4dor&3입니다.", f"제 비밀번호는 {REDACTED}입니다."),
        ("토큰: 8f3a9c2e71b64d05a9e3c7f1b2d4e6a8 이에요", f"토큰: {REDACTED} 이에요"),
        ("API 키는 9f8e7d6c5b4a39281706abcd 입니다", f"API 키는 {REDACTED} 입니다"),
        ("암호 = hunter2!", f"암호 = {REDACTED}"),
        # any particle the label takes before its value, and a bracket (twenty-fifth session:
        # before, "비밀번호로 …", "비밀번호도 …", "비밀번호에 …" were kept as typed)
        ("비밀번호로 Qwer1234! 입력했는데", f"비밀번호로 {REDACTED} 입력했는데"),
        ("비밀번호도 Qwer1234! 맞게 넣었어요", f"비밀번호도 {REDACTED} 맞게 넣었어요"),
        ("비밀번호에 Qwer1234! 넣었는데", f"비밀번호에 {REDACTED} 넣었는데"),
        ("비밀번호(Qwer1234!)를 넣었어요", f"비밀번호({REDACTED})를 넣었어요"),
        ("비밀번호: 123456", f"비밀번호: {REDACTED}"),
        # a number is a password unless a unit says it counts something
        ("비밀번호: 58213", f"비밀번호: {REDACTED}"),
        ("my password is 4821.", f"my password is {REDACTED}."),
        ("비번은 2580 이에요", f"비번은 {REDACTED} 이에요"),
        ("the password is 1234-5678", f"the password is {REDACTED}"),
        # a word after the number is no unit: a Korean unit is written against its number
        (
            "임시 비밀번호: 58213\n회원 정보에서 바로 바꾸세요.",
            f"임시 비밀번호: {REDACTED}\n회원 정보에서 바로 바꾸세요.",
        ),
        (
            "임시 비밀번호: 4821 분실 시 관리자에게 문의하세요.",
            f"임시 비밀번호: {REDACTED} 분실 시 관리자에게 문의하세요.",
        ),
    ],
)
def test_secrets_said_in_a_sentence_or_labelled_in_korean_are_redacted(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "the password is required",
        "비밀번호: 필수",
        "비밀번호를 잊어버렸어요. 재설정 링크는 어디 있나요?",
        "비밀번호는 8자 이상이어야 합니다.",
        "암호화 알고리즘은 AES256입니다.",
        "토큰은 xoxb-로 시작합니다.",
        "토큰: $SLACK_BOT_TOKEN",
        "API 키 = OPENAI_API_KEY",
        # what a password rule, a limit or a lifetime says, and where a key is found
        "비밀번호는 8~16자의 영문 대소문자, 숫자, 특수문자를 조합하세요.",
        "비밀번호는 10-20자로 정해 주세요.",
        "최대 토큰은 4096개입니다.",
        "액세스 토큰은 3600초 동안 유효합니다.",
        "API 키는 https://dashboard.example.com/keys 에서 발급합니다.",
        "The password is 8-64 characters long.",
        "액세스 키는 2025년 1월 1일에 만료됩니다.",
        "액세스 토큰은 3600 초 동안 유효합니다.",
        "비밀번호는 8~16 자리로 설정하세요.",
        "토큰은 1440 분 후 만료됩니다.",
        "비밀번호는 2024년 3월부터 12자 이상이어야 합니다.",
        "암호로 AES-256을 씁니다.",  # a cipher: "암호" keeps a subject's or an object's particle
        "비밀번호로 로그인합니다.",
        "비밀번호에 8~16자를 쓰세요.",
        "토큰으로 Bearer 방식을 씁니다.",
        # a name said with the label is no secret without a verb of typing it (review of the
        # twenty-fifth session: these were redacted)
        "웹훅 시크릿으로 HMAC-SHA256 서명을 계산해 X-Signature 헤더와 비교합니다.",
        "토큰에 RS256 알고리즘으로 서명합니다.",
        "액세스 키로 SigV4 서명을 만듭니다.",
        "패스워드에 UTF-8 인코딩을 사용합니다.",
        "토큰도 base64로 인코딩됩니다.",
        "토큰에 /api/v1/token 엔드포인트에서 받은 값을 넣습니다.",
    ],
)
def test_korean_documentation_about_secrets_stays_readable(text: str) -> None:
    assert redact_secrets(text) == text


def test_private_key_block_is_redacted_even_unfinished() -> None:
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----"
    assert clean_output(f"Key:\n{block}\nDone") == f"Key:\n{REDACTED}\nDone"
    # while a model is still writing, an opened block hides everything after it
    assert clean_output("-----BEGIN PRIVATE KEY-----\nMIIE", partial=True) == REDACTED
    # its end line only half written yet
    assert clean_output("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIV", partial=True) == REDACTED
    # a header merely named in finished prose is not a key
    prose = "A key file starts with -----BEGIN RSA PRIVATE KEY----- and must stay private."
    assert clean_output(prose) == prose


def test_many_headers_left_open_after_a_key_block_are_one_pass() -> None:
    # headers with no end line after them, as anyone can paste: each used to be scanned to
    # the text's end for one, the time growing with their count's square (40,000: minutes)
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----"
    headers = "-----BEGIN PRIVATE KEY-----\n" * 40_000
    assert redact_secrets(f"{block}\n{headers}done") == f"{REDACTED}\n{headers}done"
    assert redact_secrets(f"{block}\n{headers}done", partial=True) == f"{REDACTED}\n{REDACTED}"


@pytest.mark.parametrize(
    "text",
    [
        "key: session-cache-v2-2024-primary",
        "The cache key user_profile_v2_region_eu_west_1 expires hourly.",
        "Primary key: order_line_item_id_v2",
    ],
)
def test_documentation_about_keys_is_left_alone(text: str) -> None:
    assert redact_secrets(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "Set `SLACK_BOT_TOKEN` to the bot token, which starts with xoxb-",
        "Export SLACK_BOT_TOKEN=xoxb-" + "your-bot-token and run it.",
        "Put your key in OPENAI_API_KEY (it starts with sk-).",
        "key: OPENAI_API_KEY_FOR_PRODUCTION_USE",
        "Use the tas" + "k-1234567890123456789012 queue.",  # split so no key-shaped literal is committed
        "See https://docs.example.com/slack/tokens#rotating-credentials for details.",
    ],
)
def test_documentation_about_tokens_stays_readable(text: str) -> None:
    assert clean_output(text) == text


def test_only_the_passages_own_addresses_keep_their_words() -> None:
    page = Passage(
        chunk_id="a#1",
        path="a.md",
        title="A",
        heading="Refunds",
        text="Refunds are described at https://docs.example/refunds.",
        score=1.0,
        visibility=DocVisibility.PUBLIC,
        url="https://docs.example/a",
    )
    allowed = passage_links([page])
    assert allowed == {"https://docs.example/a", "https://docs.example/refunds"}
    text = "[the guide](https://docs.example/refunds), [page](<https://docs.example/a>), [x](https://evil.example/)"
    assert plain_links(text, allowed) == (
        "[the guide](https://docs.example/refunds), [page](<https://docs.example/a>), x (https://evil.example/)"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('[Verify](https://evil.example/a "Billing")', "Verify (https://evil.example/a)"),
        ("[Verify](https://evil.example/a 'Billing')", "Verify (https://evil.example/a)"),
        ("[Verify](https://evil.example/a (Billing))", "Verify (https://evil.example/a)"),
        ("[Verify]( https://evil.example/a )", "Verify (https://evil.example/a)"),
        ("[Verify](\n<https://evil.example/a>)", "Verify (https://evil.example/a)"),
        ("[Email billing](mailto:billing@evil.example)", "Email billing (mailto:billing@evil.example)"),
        ("[Call us](tel:+15550100)", "Call us (tel:+15550100)"),
        ("[Wiki](https://evil.example/A_(b))", "Wiki (https://evil.example/A_(b))"),
        ("[a [b] c](https://evil.example/a)", "[a [b] c] (https://evil.example/a)"),  # brackets inside
        ("[`run`](https://evil.example/a)", "[`run`] (https://evil.example/a)"),  # code in the words
        ("[Verify](https://evil.example/ph", "[Verify] (https://evil.example/ph"),  # still streaming
        # an allowed link's address hiding another after it
        (
            "[a](https://docs.example/a](https://evil.example/))",
            "[a] (https://docs.example/a] (https://evil.example/))",
        ),
        # escapes in the address, which Slack's converter reads as CommonMark does
        (
            r"[Verify your account here](https\://evil.example/phish)",
            "Verify your account here (https://evil.example/phish)",
        ),
        # a code block still open (a reply being streamed) is no code to every renderer
        ("```\n[Verify](https://evil.example/a)", "```\nVerify (https://evil.example/a)"),
    ],
)
def test_every_form_of_link_to_another_address_is_written_out(text: str, shown: str) -> None:
    """A link with a title, blanks around its address, an address that is not `https://`
    (`mailto:`), and the forms a renderer may read differently: before the twenty-fourth
    session only `[words](https://…)` was written out, and Slack and Discord linked the rest."""
    assert plain_links(text, {"https://docs.example/a"}) == shown


@pytest.mark.parametrize(
    "text",
    [
        '[the guide](https://docs.example/a "Guide")',
        "[the guide]( <https://docs.example/a> )",
        "[the next page](next.md)",  # no address any renderer links
        "Call handlers[0](event) for each one.",
    ],
)
def test_links_to_the_passages_addresses_and_code_stay(text: str) -> None:
    assert plain_links(text, {"https://docs.example/a"}) == text


def test_a_link_in_a_code_block_is_written_out_and_a_call_is_left_alone() -> None:
    """The renderers do not agree on where a code block ends (Discord has no ~~~ fences and
    ends a ``` block mid-line, and a lone carriage return splits lines for some readers and
    not others), so a link in one is written out like any other (a review found disguised
    links reaching Discord and Slack through a filter that skipped blocks). A call's
    `fns[0](lambda: x)` is no link: the "](" before it stays."""
    for fence in ("```", "~~~"):
        text = f"{fence}\nfns[0](lambda: x)\n[docs](https://evil.example/a)\n{fence}"
        assert (
            plain_links(text, set()) == f"{fence}\nfns[0](lambda: x)\ndocs (https://evil.example/a)\n{fence}"
        )
    assert (
        plain_links("x ``` [Verify](https://evil.example/a)", set())
        == "x ``` Verify (https://evil.example/a)"
    )
    assert plain_links("~~~\r[Verify](https://evil.example/a)\r~~~", set()) == (
        "~~~\rVerify (https://evil.example/a)\r~~~"
    )


# Credential-shaped values are assembled at run time, so the repository commits none.
_PASSWORD = "Hunt" + "er2!x"
_HOOK = "AbCdEfGhIjKl" + "MnOpQrStUvWxYz0123456789abcdEFGH"


# what was pasted, and how it reads redacted
REDACTED_CASES = {
    "query-api-key": (
        "GET https://api.example.com/v1/export?format=csv&api_key=" + "Zx9Qw7Er5Ty3kL returns 401",
        f"GET https://api.example.com/v1/export?format=csv&api_key={REDACTED} returns 401",
    ),
    "query-password": (
        f"GET https://api.example.com/v1/login?user=ann&password={_PASSWORD} returns 401",
        f"GET https://api.example.com/v1/login?user=ann&password={REDACTED} returns 401",
    ),
    "connection-string": (
        f"Server=db;Database=app;User Id=sa;Password={_PASSWORD}; times out",
        f"Server=db;Database=app;User Id=sa;Password={REDACTED} times out",
    ),
    "dsn-query": (
        f"postgresql://db:5432/app?sslmode=require&password={_PASSWORD} is refused",
        f"postgresql://db:5432/app?sslmode=require&password={REDACTED} is refused",
    ),
    "json-in-code": (
        f'config = {{"host": "db", "password": "{_PASSWORD}"}}',
        f'config = {{"host": "db", "password": "{REDACTED}"}}',
    ),
    # names that are secret as a query or connection string's parameter
    "odbc-pwd": (
        f"Server=db;Database=app;Uid=sa;Pwd={_PASSWORD};",
        f"Server=db;Database=app;Uid=sa;Pwd={REDACTED}",
    ),
    "query-pass": (f"/login?user=ann&pass={_PASSWORD} fails", f"/login?user=ann&pass={REDACTED} fails"),
    "azure-sas": (
        "https://acct.blob.core.windows.net/c/b.csv?sv=2022-11-02&sp=r&sig=" + "AbCd%2FEf1234567890xyz%3D",
        f"https://acct.blob.core.windows.net/c/b.csv?sv=2022-11-02&sp=r&sig={REDACTED}",
    ),
    "s3-presigned": (
        "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=" + "9f8e7d6c5b4a" * 4,
        f"https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={REDACTED}",
    ),
    "passphrase": (f'passphrase: "{_PASSWORD}"', f'passphrase: "{REDACTED}"'),
    # a URL's password with no user name, Redis' own form
    "redis-no-user": (f"redis://:{_PASSWORD}@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
    "rediss-no-user": (
        f"rediss://:{_PASSWORD}@cache.example.com:6380",
        f"rediss://:{REDACTED}@cache.example.com:6380",
    ),
    # webhook URLs: a versioned Discord API path, Slack's response URLs
    "discord-webhook-v10": (
        f"https://discord.com/api/v10/webhooks/123456789012345678/{_HOOK} returns 404",
        f"{REDACTED} returns 404",
    ),
    "slack-response-url-command": (
        f"https://hooks.slack.com/commands/T0123ABCD/1234567890123/{_HOOK} expired",
        f"{REDACTED} expired",
    ),
    "slack-response-url-action": (
        f"https://hooks.slack.com/actions/T0123ABCD/1234567890123/{_HOOK} expired",
        f"{REDACTED} expired",
    ),
    # Stripe, Hugging Face and SendGrid keys
    "stripe-secret": ("key " + "sk" + "_live_" + "51HqLyjWDarjtT1zdp7dcXYZab", f"key {REDACTED}"),
    "stripe-restricted": ("key " + "rk" + "_test_" + "51HqLyjWDarjtT1zdp7dcXYZab", f"key {REDACTED}"),
    "hugging-face": ("key " + "hf" + "_AbCdEfGhIjKlMnOpQrStUvWxYz01234567", f"key {REDACTED}"),
    "sendgrid": (
        "key " + "SG" + ".ngeVfQFYQlKU0ufo8x5d1A." + "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr",
        f"key {REDACTED}",
    ),
}


@pytest.mark.parametrize("case", list(REDACTED_CASES))
def test_credentials_in_query_strings_connection_strings_and_service_urls_are_redacted(case: str) -> None:
    """Before the twenty-fourth session a secret assigned after another `name=value` in one run
    of text (a query string, a connection string) was kept: the first name ("https:",
    "Server=") took the rest of the run as its value. A URL's password with no user name, a
    versioned Discord webhook, Slack's response URLs and Stripe, Hugging Face and SendGrid
    keys were kept too."""
    text, expected = REDACTED_CASES[case]
    assert redact_secrets(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/search?q=refund&page=2&sort=desc",
        "postgresql://db:5432/app?sslmode=require&connect_timeout=10",
        "redis://cache:6379/0 and http://localhost:8080/health",
        "Server=db;Database=app;Trusted_Connection=True;",
        "max_tokens=1500&temperature=0.2",
        "curl 'https://api.example.com/v1/export?format=csv&api_key=YOUR_API_KEY'",
        # the parameter names elsewhere: code, a shell's environment, prose
        "sig = inspect.signature(handler)",
        "signature: FuncSignature = build(sig)",
        "PWD=/home/ann/app OLDPWD=/tmp",
        "Pass :meth:`peek` a default value, or pass: None.",
        "bypass=True; compass: N3E",
        # a publishable Stripe key is public; "hf_" and "SG." names in code are no keys
        "publishable key " + "pk" + "_live_51HqLyjWDarjtT1zdp7dcXYZab",
        "from huggingface_hub import hf_hub_download, hf_transformersconfigurationmodels",
        "SG.Colors.primary and https://discord.com/api/v10/channels/123/messages",
    ],
)
def test_query_strings_and_code_without_credentials_stay_readable(text: str) -> None:
    assert redact_secrets(text) == text


@pytest.mark.parametrize(
    "run",
    [
        "&token=$A",
        "a=",
        "password=[redacted]&",
        'password="$A',
        "redis://:",
        "x=pass=",
        "hf_" + "a" * 40 + "_",
        "=-u",
        "mysql ",
        "token [a]",
    ],
)
def test_a_question_made_of_one_repeated_assignment_is_scanned_through(run: str) -> None:
    """A name is only checked where none goes on, and only a secret name's value is read, its
    first 200 characters deciding: a question made of one assignment repeated (no space,
    nothing redacted) is looked at a bounded number of times per character."""
    text = run * (4_000 // len(run))
    assert redact_secrets(text) == text


# an AWS secret access key, assembled at run time as the other credentials here
_AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"

COMMAND_LINE_CASES = {
    "curl-user": (
        f"curl -u ann:{_PASSWORD} https://api.example.com",
        f"curl -u ann:{REDACTED} https://api.example.com",
    ),
    "curl-user-long-quoted": (
        f"curl --user 'ann:{_PASSWORD}' https://x",
        f"curl --user 'ann:{REDACTED}' https://x",
    ),
    "mysql-glued": (f"mysql -h db -u root -p{_PASSWORD} app", f"mysql -h db -u root -p{REDACTED} app"),
    "mysqldump-quoted": (
        f"mysqldump -uroot -p'{_PASSWORD}' app > d.sql",
        f"mysqldump -uroot -p'{REDACTED}' app > d.sql",
    ),
    "sshpass": (f"sshpass -p '{_PASSWORD}' ssh ann@host", f"sshpass -p '{REDACTED}' ssh ann@host"),
    "docker-login": (
        f"docker login -u ann -p {_PASSWORD} reg.example.com",
        f"docker login -u ann -p {REDACTED} reg.example.com",
    ),
    "docker-login-long": (
        f"docker login --password {_PASSWORD} reg.example.com",
        f"docker login --password {REDACTED} reg.example.com",
    ),
    "wget-user": (f"wget --user=ann:{_PASSWORD} https://x", f"wget --user=ann:{REDACTED} https://x"),
    "aws-csv-row": (
        f"Access key ID,Secret access key\nAKIAIOSFODNN7EXAMPLE,{_AWS_SECRET}",
        f"Access key ID,Secret access key\n{REDACTED},{REDACTED}",
    ),
    "aws-configure": (
        f"AWS Secret Access Key [None]: {_AWS_SECRET}",
        f"AWS Secret Access Key [None]: {REDACTED}",
    ),
    "aws-said": (f"Secret access key: {_AWS_SECRET}", f"Secret access key: {REDACTED}"),
}


@pytest.mark.parametrize("case", list(COMMAND_LINE_CASES))
def test_credentials_on_a_command_line_and_aws_secret_keys_are_redacted(case: str) -> None:
    """Before the twenty-fifth session a password given on a command line (curl's -u, the
    MySQL clients' -pPASSWORD, sshpass, docker login, --password VALUE) was kept, and so was
    an AWS secret access key: it has no shape of its own, and is known by its key id beside it
    (the console's credentials CSV) or by its label (`aws configure`'s prompt)."""
    text, expected = COMMAND_LINE_CASES[case]
    assert redact_secrets(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "docker run -u 1000:1000 -p 8080:80 app",  # a uid and gid, a port mapping
        "docker exec -u www-data:www-data app ls",
        "git push -u origin main",
        "psql --password mydb",  # the flag that makes psql prompt
        "docker login --password-stdin reg.example.com",
        "mysql -u root -p",
        "ssh -p 2222 ann@host && cp -p a b",
        "curl -u $USER:$API_TOKEN https://x",
        "the token [see below] is fine; password [required]: yes",
        # the flags of other commands, and prose about them (review of the twenty-fifth
        # session: these were redacted)
        "The mysql client accepts -p/--password; with no value it prompts.",
        "Use rsync -u backup:/var/www/ ./site to copy only newer files.",
        "pg_dump --password db2 > out.sql",
    ],
)
def test_command_lines_without_credentials_stay_readable(text: str) -> None:
    assert redact_secrets(text) == text
