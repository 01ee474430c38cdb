"""Credentials found in text and replaced with `[redacted]` (`redact_secrets`), before anyone sees it.

Anything shaped like a credential: Slack `xox?-` (rotating `xoxe.xox?-` included) and `xapp-`
tokens, Slack and Discord webhook URLs (Slack's response URLs too), OpenAI `sk-` keys,
Discord bot tokens, JWTs, AWS access key ids, GitHub, GitLab, Google, Stripe, Hugging Face
and SendGrid keys, PEM and PGP private keys (whole blocks, and pasted blocks missing their
end line), passwords in URLs (`scheme://user:pass@host`, `redis://:pass@host`), long
random-looking values right after "token", "key", "secret", "password" or "Bearer", values
assigned to a secret-named setting (`password=...`, `DB_PASSWORD: ...`, `"api_key": "..."`,
and within a query or connection string `?user=ann&password=...`, `;Pwd=...`, `&sig=...`),
secrets said in a sentence in English or Korean ("my password is ...", "비밀번호는 ..."), an
AWS secret key written after its key id, credentials on a command line (`curl -u user:...`,
`mysql -p...`, `sshpass -p`, `docker login -p`), and `Authorization:` header credentials.

`redact_secrets` is the one filter for everything the bot copies out of the conversation it
was written in: ticket cards and thread notes, stored ticket questions, learned drafts and
files, the prompt sent to a model (question, history and passages), and model output
(bot/answering/safety.py `clean_output`). People paste tokens into questions; the asker's own
thread already shows them, nothing the bot copies may. A model can only repeat what it was
shown, but the knowledge folder is written by people who sometimes paste a real token into a
runbook.
"""

from __future__ import annotations

import functools
import itertools
import re

REDACTED = "[redacted]"

_B = r"(?<![A-Za-z0-9_\-])"  # a token starts at a boundary: "task-..." is not an sk- key
_E = r"(?![A-Za-z0-9_\-])"
_SECRETS = [
    # Slack bot/user/app-level tokens. Requiring a digit spares placeholders like "xoxb-<your token>".
    # A rotating token's "xoxe." prefix goes too, so no stub is left to tell which kind it was.
    re.compile(_B + r"(?:xoxe\.)?xox[abeposr]-(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{10,}"),
    re.compile(_B + r"xapp-(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{10,}"),
    # OpenAI keys, legacy and project/service-account forms.
    re.compile(_B + r"sk-(?:proj-|svcacct-|admin-|ant-)?(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}" + _E),
    # Discord bot tokens: base64 user id . timestamp . HMAC.
    re.compile(_B + r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}" + _E),
    # JWTs (header.payload.signature), e.g. bearer tokens copied from a browser.
    re.compile(_B + r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}" + _E),
    # AWS access key ids, GitHub tokens, Google API keys. (An access key id followed by its
    # secret, a credentials CSV's row: _AWS_PAIR, before these.)
    re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])"),
    re.compile(_B + r"(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{30,}" + _E),
    re.compile(_B + r"glpat-[A-Za-z0-9_-]{20,}" + _E),
    re.compile(_B + r"AIza[0-9A-Za-z_-]{35}" + _E),
    # Stripe secret and restricted keys (a publishable "pk_" key is public), Hugging Face
    # tokens (random, so never one lower-case word: "hf_" names in code have underscores),
    # SendGrid keys (id . secret).
    re.compile(_B + r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}" + _E),
    re.compile(_B + r"hf_(?=[a-z]*[A-Z0-9])[A-Za-z0-9]{30,}" + _E),
    re.compile(_B + r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{32,64}" + _E),
    # Webhook URLs: whoever has the URL can post as the integration. Slack's response URLs
    # (commands/, actions/) post into a channel too; Discord's API path may name its version.
    re.compile(
        r"https://hooks\.slack\.com/(?:services|workflows|triggers|commands|actions)/[A-Za-z0-9/_-]{20,}"
    ),
    re.compile(
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/(?:v\d+/)?webhooks/\d+/[A-Za-z0-9_-]{30,}",
        re.IGNORECASE,
    ),
    # (PEM and PGP private keys' whole blocks: _redact_key_blocks, before these)
    # A block pasted without its end line (a message cut at a length limit, a half copy):
    # the header followed by base64 is a key; followed by prose it is only named. Armor
    # headers may come first (PGP's "Version:", OpenSSL's "Proc-Type:" and "DEK-Info:"), and
    # a block quoted in a chat has "> " before each line.
    # (A block's last line may be short: taken only when it is a line of its own.)
    re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----(?:\n(?:>[ \t]?)?[A-Za-z][A-Za-z0-9-]*:[^\n]*)*"
        r"(?:\s+(?:>[ \t]?)?[A-Za-z0-9+/=]{16,})+"
        r"(?:\n(?:>[ \t]?)?[A-Za-z0-9+/=]{1,15}(?=[ \t]*(?:\n|\Z)))?"
    ),
]
# An AWS access key id and the 40-character secret written right after it: the row of the
# credentials CSV the console hands out ("AKIA…,wJalr…"), `aws configure list`'s columns. The
# secret alone has no shape of its own (it is any base64), so it is known by its neighbour.
_AWS_PAIR = re.compile(
    r"(?<![A-Z0-9])(?P<id>(?:AKIA|ASIA)[0-9A-Z]{16})(?P<sep>[ \t]*[,;|\t][ \t]*|[ \t]+)"
    r"(?=[A-Za-z0-9/+]{0,39}\d)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
)
# Credentials given on a command line: curl's and wget's "-u user:password" ("--user"), the
# MySQL clients' "-pPASSWORD" written against the flag, "sshpass -p" and "docker login -p"
# ("--password=VALUE" is an assignment, below). Tied to the commands that take them: rsync's
# "-u" means --update, psql's and pg_dump's "--password" only makes them prompt. Only what
# `_secret_like` takes for a typed secret, never digits alone ("-u 1000:1000" names a uid and a
# gid) nor a path or another flag ("-p/--password").
_COMMAND_LINE = re.compile(
    r"(?P<label>\b(?:curl|wget|http|https)\b[^\n]{0,200}?[ \t](?:-u|--user)(?:[ \t]+|=)[\"']?[^\s:\"'@]{1,100}:"
    r"|\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b[^\n]{0,200}?[ \t]-p[\"']?"
    r"|\bsshpass[ \t]+-p[ \t]*[\"']?"
    r"|\bdocker[ \t]+login\b[^\n]{0,200}?[ \t](?:-p|--password)[ \t]+[\"']?)"
    r"(?P<value>[^\s\"']{1,200})"
)
# PEM and PGP private keys: a header and the first end line after it hide the whole block (a
# header merely mentioned in prose is left alone; streamed partial text is handled by
# redact_secrets(partial=True)). Paired in one pass by _redact_key_blocks: as one pattern
# (BEGIN.*?END) every header left open scanned to the text's end, and a text of unclosed
# headers took time growing with their count's square.
_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----")
_KEY_END = re.compile(r"-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----")
# partial text: a header whose block the patterns above left (its end line not written yet,
# or cut off part way) hides everything after it
_PEM_OPEN = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----.*\Z", re.DOTALL)
# The password of a URL: "postgres://app:hunter2@db:5432" keeps the user and the host; the
# user may be empty ("redis://:hunter2@cache:6379", Redis' own form). A port is followed by a
# path or nothing, never by "@", so "db:5432" stays.
_URL_PASSWORD = re.compile(
    r"(?P<label>(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://[^\s:/@]*:)(?P<value>[^\s/@]+)(?=@)", re.IGNORECASE
)
# A long random-looking value right after a word that announces a secret: "token: 8f3a...",
# "API key = ...", "Authorization: Bearer ...". The value must mix letters and digits, so an
# environment variable's name ("key: OPENAI_API_KEY") is left readable.
# "key" alone is not a label: documentation is full of cache keys, primary keys and YAML keys.
# A bracket may come between the label and its value: `aws configure` prompts "AWS Secret
# Access Key [None]: ", with what is set now in the bracket.
# The look-aheads for a digit and a letter are bounded: unbounded, every label inside a long
# run of value characters ("token=token=...", as anyone can paste into a question) rescans
# the rest of the run, and the time grows with its square.
_LABELLED = re.compile(
    r"(?P<label>\b(?:token|api[\s_-]?key|secret[\s_-]?access[\s_-]?key|secret|client[\s_-]?secret|password|"
    r"passwd|bearer|authorization)\b(?:[ \t]*\[[^\]\n]{0,40}\])?"
    r"(?:[\s\"'`]*(?:is|was)?[\s\"'`]*[:=][\s\"'`]*|\s+(?:is|was)\s+[\"'`]?|\s+)(?:bearer\s+)?)"
    r"(?P<value>(?=[A-Za-z0-9+/_.=-]{0,200}\d)(?=[A-Za-z0-9+/_.=-]{0,200}[A-Za-z])[A-Za-z0-9+/_.=-]{20,})",
    re.IGNORECASE,
)


# A value assigned to a setting whose name says it is secret, as pasted from code, a config
# file, JSON, a query string or a connection string: "password=hunter2", "DB_PASSWORD: S3cret!",
# '"api_key": "abc123"', "?user=ann&password=hunter2", "Server=db;Pwd=hunter2". People
# choose passwords, so unlike _LABELLED there is no length or randomness floor; instead
# `_secret_like` spares one plain word ("password: required") and a reference to where the
# value lives ("$DB_PASSWORD", "<your token>", "getpass()", a placeholder like "xoxb-" followed by "your-bot-token").
# The name must end in the secret word ("max_tokens=1500" is not a token); it is matched whole
# and checked afterwards, since a pattern that looks for the word inside every name takes
# quadratic time on a long run of name characters. Every name is checked, those inside
# another's value too ("https://…/export?format=csv&api_key=…": matched as name=value pairs,
# "https:" took the rest of the run with every secret in it), and the scan stays linear: a
# name starts only where none goes on, and only a secret name's value is read, its first 200
# characters deciding (read whole, a run of secret names whose values are spared,
# "$A&token=$B&…", took time growing with its square); a redacted value is hidden whole.
_ASSIGN_NAME = re.compile(r"(?<![A-Za-z0-9_.-])(?P<name>[A-Za-z0-9_.-]+)[\"'`]?[ \t]*[:=][ \t]*")
_ASSIGN_VALUE = re.compile(
    r"(?P<quote>[\"'`])(?P<quoted>[^\"'`\n]{4,200}?)(?P=quote)|(?P<value>[^\s\"'`]{4,200})"
)
_VALUE_REST = re.compile(r"[^\s\"'`]*")
# A secret said in a sentence rather than assigned: "my password is Tr0ub4dor&3"; in Korean a
# particle follows the label, or a colon: "비밀번호는 Tr0ub4dor&3", "토큰: 8f3a…". Short values
# too, as for `_ASSIGN_NAME`, but only what `_secret_like` takes for a typed secret ("비밀번호:
# 필수", "the password is required" stay). The value stops at Hangul, so a sentence's
# ending ("…입니다") stays readable, and a label inside a longer Hangul word ("암호화") is none.
# A bracket may hold it ("비밀번호(…)"). The particles of a means, a place or an addition ("비밀번호로
# …", "비밀번호도 …", "비밀번호에 …") name a secret only when a verb of typing or setting it
# follows the value ("…로 Qwer1234! 입력했는데"): documentation says "시크릿으로 HMAC-SHA256 서명을",
# "토큰에 RS256 알고리즘으로", "토큰도 base64로". "암호" is a cipher as often as a password
# ("암호로 AES-256을"), so it keeps the particles of a subject or an object only.
_SAID = re.compile(
    r"(?P<label>(?:\b(?:password|passwd|passphrase)\s+(?:is|was)\s+|(?<![\uac00-\ud7a3])"
    r"(?:(?:비밀번호|비번|패스워드|토큰|시크릿|(?:API|api)\s?키|인증\s?키|액세스\s?키|비밀\s?키)"
    r"(?:은|는|이|가|을|를|(?P<means>으로|로|도|에는|에서|에))?|암호(?:은|는|이|가|을|를)?)"
    r"[ \t]*(?::[ \t]*|=[ \t]*)?)[\"'`(]?)"
    r"(?P<value>[^\s\"'`\uac00-\ud7a3]{4,200})",
    re.IGNORECASE,
)
# what follows a value given with such a particle when it is the secret itself: typed, put in,
# set, changed, used to sign in ("입력했는데", "넣었어요", "맞게", "로그인하면", "했는데")
_TYPED_VERB = re.compile(
    r"[ \t]+(?:입력|넣|쳤|치|쓰|썼|사용|설정|바꾸|바꿨|변경|로그인|접속|맞게|맞는데|했|해서|해도|하면|하니|하고)"
)
_SECRET_NAME = re.compile(
    r"(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key)\Z",
    re.IGNORECASE,
)
# Names that are secret only as a parameter of a query string or a connection string (after
# "?", "&" or ";"): "&pass=", ODBC's ";Pwd=", an Azure SAS' "&sig=", S3's "&X-Amz-Signature=".
# Elsewhere they are code and prose: "sig = inspect.signature(f)", "pass :meth:", "PWD=/home".
_PARAMETER_NAME = re.compile(r"(?<![A-Za-z])(?:pass|pwd|sig|signature)\Z", re.IGNORECASE)
# An HTTP Authorization header's credentials, whatever the scheme ("Bearer", "Basic", Discord's
# "Bot"); short values too, but not a placeholder ("$TOKEN", "<token>", "{{token}}").
_AUTH_HEADER = re.compile(
    r"(?P<label>\bauthorization[\"'`]?[ \t]*[:=][ \t]*[\"'`]?(?:(?:bearer|basic|bot|token)[ \t]+)?)"
    r"(?P<value>[A-Za-z0-9+/_.~=:-]{6,})",
    re.IGNORECASE,
)
_SYMBOLS = set("!#$%^&*+/=?~@|\\:")


def _secret_like(value: str) -> bool:
    """A value someone typed as a secret rather than a word or a reference to one: it has a
    digit, a symbol, or a capital inside lower case. Placeholders and masks are not secrets."""
    if REDACTED in value or value[0] in "$%" or set(value) <= set("*xX.•-_ "):
        return False
    return (
        any(ch.isdigit() for ch in value)
        or any(ch in _SYMBOLS for ch in value)
        or any(a.islower() and b.isupper() for a, b in itertools.pairwise(value))
    )


# what a sentence about a secret says of it rather than the secret itself: a length, a count
# or a lifetime, a number with its unit after it ("8~16자", "8-64 characters", "3600초",
# "4096개"; a number alone, "비밀번호: 58213", is one), and where to find it (a URL)
_NUMBER = re.compile(r"\d{1,5}(?:\s*[~\-–]\s*\d{1,5})?\+?")
# a unit: Korean writes it against the number ("12자", "3600초", "2025년"), or after a space
# when the unit ends there or takes a particle ("3600 초 동안", "8~16 자리로"; in "4821 분실"
# the number is a password and 분 the start of a word); English after a space or not
_KO_UNITS = r"(?:글자|자리|자|초|분|시간|일|주|개월|월|년|개|회|번|명|건|원|바이트|비트)"
_KO_AFTER = r"(?:$|[\s.,;:!?)]|(?:으로|로|이상|이하|동안|후|전|까지|부터|마다|씩|의|가|이|을|를|은|는|만|째|간|입니다|이에요|예요))"
_UNIT = re.compile(
    rf"{_KO_UNITS}|%|[ \t]{_KO_UNITS}(?={_KO_AFTER})"
    r"|[ \t]?(?:char(?:acter)?s?|digits?|letters?|bytes?|bits?|[KMG]B|ms|seconds?|minutes?|hours?|days?|"
    r"weeks?|months?|years?|tokens?)(?![A-Za-z])",
    re.IGNORECASE,
)
URL = re.compile(r"[a-z][a-z0-9+.-]*://\S*", re.IGNORECASE)


def _redact_said(match: re.Match[str]) -> str:
    value = match.group("value")
    trimmed = value.rstrip(".,;:)")  # a sentence's stop; "!" and "?" are a password's as often
    after = match.start("value") + len(trimmed)
    counted = _NUMBER.fullmatch(trimmed) is not None and _UNIT.match(match.string, after) is not None
    if not _secret_like(trimmed) or counted or URL.fullmatch(trimmed):
        return match.group(0)
    if match.group("means") and not _TYPED_VERB.match(match.string, match.end("value")):
        return match.group(0)  # a name said with the secret ("토큰에 RS256 알고리즘으로"), not it
    return match.group("label") + REDACTED + value[len(trimmed) :]  # the sentence's stop kept


def _redact_command_line(match: re.Match[str]) -> str:
    value = match.group("value")
    if value[0] in "-/" or value.isdigit() or not _secret_like(value):
        return match.group(0)  # the next flag ("--password-stdin"), a path, a gid, a word
    return match.group("label") + REDACTED


def _redact_assigned(text: str) -> str:
    """`text` with each value assigned to a secret name as `[redacted]` (`_ASSIGN_NAME`)."""
    kept: list[str] = []
    at = scan = 0
    while label := _ASSIGN_NAME.search(text, scan):
        scan = label.end()
        name, before = label.group("name"), text[label.start() - 1 : label.start()]
        secret = _SECRET_NAME.search(name) or (before in ("?", "&", ";") and _PARAMETER_NAME.search(name))
        if not secret or not (assigned := _ASSIGN_VALUE.match(text, scan)):
            continue
        quote = assigned.group("quote")
        value = assigned.group("quoted") if quote else assigned.group("value")
        if not _secret_like(value):
            continue
        kept += [text[at:scan], f"{quote}{REDACTED}{quote}" if quote else REDACTED]
        at = scan = assigned.end()
        if not quote and (rest := _VALUE_REST.match(text, at)):  # past its first 200 characters
            at = scan = rest.end()
    return "".join(kept) + text[at:] if kept else text


def _random_looking(value: str) -> bool:
    """Credentials are random: mixed case and digits, few separators. Identifiers such as
    `user_profile_v2_region_eu_west_1` are words joined by separators."""
    letters_digits = sum(ch.isalnum() for ch in value)
    separators = len(value) - letters_digits
    has_mix = (
        any(ch.isdigit() for ch in value)
        and any(ch.isupper() for ch in value)
        and any(ch.islower() for ch in value)
    )
    return has_mix or (separators <= len(value) // 10 and any(ch.isdigit() for ch in value))


def redact_secrets(text: str, *, partial: bool = False) -> str:
    """Every credential-shaped part of `text` replaced with `[redacted]`, the rest kept as is.

    `partial`: the text is still being written, so an opened key block hides the rest."""
    if partial:
        return _redact(text, partial=True)
    return _redact_finished(text)


# Documents are quoted again and again (the same section answers many askers), and a scan of
# a section costs about as much as the rest of an offline answer: finished texts are scanned
# once. A partial text is a stream's growing prefix, never seen twice.
@functools.lru_cache(maxsize=256)
def _redact_finished(text: str) -> str:
    return _redact(text, partial=False)


def _redact_key_blocks(text: str) -> str:
    """Each key block, from a header to the first end line after it, as `[redacted]` (as the
    pattern BEGIN.*?END would, in one pass: a header with no end line after it has none after
    any later header either)."""
    kept: list[str] = []
    at = 0
    while (begin := _KEY_BEGIN.search(text, at)) and (end := _KEY_END.search(text, begin.end())):
        kept += [text[at : begin.start()], REDACTED]
        at = end.end()
    return "".join(kept) + text[at:] if kept else text


def _redact(text: str, *, partial: bool) -> str:
    text = _redact_key_blocks(text)
    text = _AWS_PAIR.sub(lambda m: REDACTED + m.group("sep") + REDACTED, text)
    for pattern in _SECRETS:
        text = pattern.sub(REDACTED, text)
    if partial:
        text = _PEM_OPEN.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: m.group("label") + REDACTED, text)
    text = _LABELLED.sub(
        lambda m: m.group("label") + REDACTED if _random_looking(m.group("value")) else m.group(0), text
    )
    # after _LABELLED, so a long value it already hid is not matched again
    text = _redact_assigned(text)
    text = _SAID.sub(_redact_said, text)
    text = _COMMAND_LINE.sub(_redact_command_line, text)
    return _AUTH_HEADER.sub(
        lambda m: (
            m.group("label") + REDACTED
            if _secret_like(m.group("value")) or len(m.group("value")) >= 16
            else m.group(0)
        ),
        text,
    )
