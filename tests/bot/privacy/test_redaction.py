"""Redaction (bot/privacy/redaction.py): each kind found and replaced by its typed placeholder,
look-alikes left alone, and the core applying it where messages and commands enter, so the
inbox payload (what a replay reads) never holds the value. Card numbers, IBANs and tokens are
assembled at run time, as in tests/fakes/tokens.py."""

from __future__ import annotations

import base64
import io
import itertools
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.console import ConsoleChannel
from bot import faults
from bot.answering.secrets import redact_secrets
from bot.app import Runtime
from bot.config_privacy import RedactKind
from bot.privacy.redaction import Redactor, iban_valid, luhn_valid, quoted_plain
from bot.text import single_line
from bot.types import Author, Command, ConversationRef, InboundMessage, Outcome, Visibility
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.tokens import SLACK_BOT_TOKEN_LONG

ALL = Redactor(frozenset(RedactKind))
DEFAULT = Redactor(frozenset({RedactKind.CARD, RedactKind.TOKEN}))

VISA = "4111" + "1111" * 3
AMEX = "3782" + "822463" + "10005"
IBAN_DE = "DE89" + "3704" + "0044" + "0532" + "0130" + "00"
IBAN_GB = "GB82" + "WEST" + "1234" + "5698" + "7654" + "32"


def groups(digits: str, sep: str = " ") -> str:
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


def luhn(formatted: str) -> str:
    """`formatted` with its last digit changed so its digits pass the Luhn check."""
    digits = "".join(c for c in formatted if c.isdigit())
    last = next(x for x in "0123456789" if luhn_valid(digits[:-1] + x))
    k = max(i for i, c in enumerate(formatted) if c.isdigit())
    return formatted[:k] + last + formatted[k + 1 :]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"my card is {VISA}, thanks", "my card is [card], thanks"),
        (f"card {groups(VISA)} exp 12/26", "card [card] exp 12/26"),
        (f"card {groups(VISA, '-')}.", "card [card]."),
        (f"card={VISA}", "card=[card]"),
        (f"amex {AMEX}", "amex [card]"),
        (f"{groups(VISA)} 2026", "[card] 2026"),  # the year after it is not part of the card
        ("write to ann.lee+billing@example.co.uk today", "write to [email] today"),
        ("ops@here.example said so", "[email] said so"),
        (f"IBAN {groups(IBAN_DE)} PLEASE", "IBAN [iban] PLEASE"),
        (f"to {IBAN_GB}, ref 12", "to [iban], ref 12"),
        (f"to {IBAN_DE.lower()}", "to [iban]"),
        ("call +44 20 7946 0958 or (415) 555-2671", "call [phone] or [phone]"),
        ("내 번호는 010-1234-5678 입니다", "내 번호는 [phone] 입니다"),
        (f"my token is {SLACK_BOT_TOKEN_LONG}", "my token is [redacted]"),
    ],
)
def test_each_kind_becomes_its_typed_placeholder(text: str, expected: str) -> None:
    assert ALL.redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112 fails the Luhn check",
        "a Discord id 1234567890123452 and <@2345678901234567893> are not cards",
        "https://discord.com/channels/4111111111111111/2/3",
        "ticket 12, answer #1234, version 2.3.4 build 20240501",
        "at 2024-05-01 12:30:45 from 192.168.100.200:8080",
        "a timestamp 1712345678 and a price 4111.11",
        "DE88 3704 0044 0532 0130 00 has a wrong check digit",
        "DE89 3704 0044 0532 0130 0 is a digit short",
        "<@U0123ABC> and @here and user@ alone",
        "",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    assert ALL.redact(text) == text


@pytest.mark.parametrize(
    "card",
    [
        f"#{VISA}",
        "no.5555555555554444",
        f"_{VISA}_",  # Markdown italics
        groups(VISA, "\u00a0"),
        groups(VISA, "  "),
        f"번호{VISA}입니다",  # Korean particles attach to the number
        f"Visa-{VISA}",  # a brand glued on
        f"{VISA}/12/26",  # the expiry after it
        f"{groups(VISA)}/12/26",
        groups(VISA, "\u2013"),  # en dash (autocorrect)
        groups(VISA, " - "),
        groups(VISA, "\uff0d"),  # fullwidth hyphen (CJK input)
        VISA.translate({ord(d): chr(0xFF10 + int(d)) for d in "0123456789"}),  # fullwidth digits
        "3782 822463 10005",  # Amex's 4-6-5
        "3056 930902 5904",  # Diners' 4-6-4
        groups("6011" + "0009" + "9013" + "9424"),  # Discover
        "3530111333300000",  # JCB
        groups("2221" + "0000" + "0000" + "0009"),  # Mastercard's 2-series
        groups("6759" + "6498" + "2643" + "8453"),  # Maestro
    ],
)
def test_cards_written_in_ordinary_ways_are_redacted_by_default(card: str) -> None:
    assert DEFAULT.scan(f"my card {card} was charged twice").found == {RedactKind.CARD: 1}


def test_a_card_in_fullwidth_digits_is_replaced_exactly() -> None:
    wide = VISA.translate({ord(d): chr(0xFF10 + int(d)) for d in "0123456789"})
    assert DEFAULT.redact(f"카드 {wide}로 결제했어요") == "카드 [card]로 결제했어요"


@pytest.mark.parametrize(
    "text",
    [
        f"latency 0.{VISA} s",  # a decimal
        "version 2.4.1.20240501150112",  # a version with a build stamp (which passes Luhn)
        "from 2024-05-01 2024-05-05",  # two dates, which together pass Luhn
        "call +49 1512 3456787",  # a phone number, which passes Luhn
        f"order ORD-{VISA} and id_{VISA}",
        f"<#{VISA}> <@!{VISA}> <@&{VISA}> &#{VISA};",
        # each passes Luhn, as one number in ten does: the prefix, the length, how it is
        # written or what it stands in says it is not a card
        "2024\t3150\t4200\t" + luhn("1875")[-4:],  # a spreadsheet row (tabs)
        "Mem:    15884        4321        8765         234        " + luhn("432187652342798")[-4:],
        "user,order\nann," + luhn("3000123456789012"),  # 300-305 issue 14 digits only
        "[412345678901234560," + luhn("412345678901234567") + "]",  # 18 digits: not Visa's
        "order #" + luhn("5012345678901") + " never arrived",  # 50… is not a Maestro range
        "invoice #" + luhn("2024-0001-2345-6789"),
        "운송장번호는" + luhn("6865012345678") + "이에요",  # a Korean tracking number
        "주문번호" + luhn("2024110512345678") + "의 배송이 늦어요",
        "주문번호 " + luhn("2024110512345678"),  # a Naver order number
        "OID 1.3.6.1.4.1." + luhn("41234.5678.1234.5678"),
        "build " + luhn("2023.1104.2215.1234"),
        "seasons " + luhn("2019.2020.2021.2022"),
        "release " + luhn("4111.1111.1111.1111"),  # dots join versions and OIDs, never a card
        "thanks <:pepega:" + luhn("412345678901234567") + ">",  # Discord custom emoji
        "<a:party:" + luhn("5123456789012345") + ">",
        "use </ticket open:" + luhn("6212345678901234") + ">",  # a slash-command mention
        "my server ID is " + luhn("412345678901234567"),
        "failed at " + luhn("20241105143015") + " UTC",  # a compact timestamp
        "ref 2024-" + groups(VISA, "-"),  # a dashed identifier that holds card-like digits
        f"see https://x.example/pay/{VISA}x and {VISA}/abc",
    ],
)
def test_numbers_that_are_not_cards_are_left_alone_by_default(text: str) -> None:
    assert DEFAULT.redact(text) == text


def test_only_the_configured_kinds_are_redacted() -> None:
    text = f"ann@example.com paid with {VISA}, call (415) 555-2671, token {SLACK_BOT_TOKEN_LONG}"
    assert DEFAULT.redact(text) == "ann@example.com paid with [card], call (415) 555-2671, token [redacted]"
    assert Redactor(frozenset()).redact(text) == text


def test_scan_counts_each_kind_and_never_returns_a_value() -> None:
    found = ALL.scan(f"{VISA} and {AMEX}, a@b.io").found
    assert found == {RedactKind.CARD: 2, RedactKind.EMAIL: 1}


def test_the_checks() -> None:
    assert luhn_valid(VISA) and not luhn_valid(VISA[:-1] + "2")
    assert iban_valid(IBAN_DE) and iban_valid(IBAN_GB)
    assert not iban_valid("XX89" + IBAN_DE[4:])  # unknown country
    assert not iban_valid(IBAN_DE + "0")  # the wrong length for Germany


def test_a_long_hostile_text_is_linear() -> None:
    # runs of local-part characters, digits and separators, as anyone can paste
    text = ("a." * 20_000) + ("1 " * 20_000) + ("AB12 " * 5_000)
    assert ALL.redact(text) == text


def test_a_long_text_is_quoted_from_its_redacted_start_and_no_credential_shows_cut_in_half() -> None:
    # the queue quotes a line of each question (plain: a web page): a pasted log is not scanned whole for it
    log = "".join(f"10:00:{i % 60:02d} INFO worker[{i}] path=/api/export status=500\n" for i in range(2000))
    key = "-----BEGIN PRIVATE KEY-----\n" + "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n" * 60
    texts = [
        f"export fails, my token is {SLACK_BOT_TOKEN_LONG}\n{log}",
        f"my key:\n{key}-----END PRIVATE KEY-----\n{log}",  # its end past what is scanned
        # tokens (no space in one) on both sides of where the start is cut, and redacted to
        # less than is shown
        (SLACK_BOT_TOKEN_LONG + " ") * 40 + log,
        SLACK_BOT_TOKEN_LONG + "," + "x" * 5000,  # no space to cut at: scanned whole
        log,
    ]
    for text in texts:
        for limit in (80, 160, 200):
            shown = quoted_plain(text, limit)
            assert shown == single_line(redact_secrets(text), limit)
            assert "xoxb" not in shown and "MIIE" not in shown


def key_blocks() -> dict[str, str]:
    """Private keys as people paste them, with what comes before their base64 body."""
    rnd = random.Random(7)
    raw = base64.b64encode(bytes(rnd.randrange(256) for _ in range(600))).decode()
    body = [raw[i : i + 64] for i in range(0, len(raw), 64)]
    return {
        # OpenSSL's legacy encrypted key: Proc-Type and DEK-Info before the base64
        "encrypted pem": "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
        "DEK-Info: AES-128-CBC,3F2504E04F8911D39A0C0305E82C3301\n\n"
        + "\n".join(body)
        + "\n-----END RSA PRIVATE KEY-----",
        # gpg --armor, with an armor header
        "pgp": "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n"
        + "\n".join(body)
        + "\n-----END PGP PRIVATE KEY BLOCK-----",
        # quoted in a chat, "> " before each line
        "quoted": "> -----BEGIN PRIVATE KEY-----\n"
        + "\n".join("> " + line for line in body)
        + "\n> -----END PRIVATE KEY-----",
    }


KEYS = key_blocks()


@pytest.mark.parametrize("name", list(KEYS))
def test_a_quote_of_a_long_texts_start_never_shows_a_key_its_cut_falls_in(name: str) -> None:
    block = KEYS[name]
    secret = block.split("\n")[-2].removeprefix("> ")[:16]  # a line of the key's body
    for pad in range(200):  # moves the head's cut through the block, its END line included
        text = "key:" + "." * pad + " " + block + " thanks in advance " + "more words " * 100
        for limit in (150, 200):
            assert secret not in quoted_plain(text, limit), (pad, limit)
    # and a block whose end line never came (a message cut at a length limit)
    assert secret not in redact_secrets(block.rsplit("\n", 1)[0])


def test_a_quote_of_a_long_texts_start_never_shows_half_a_quoted_password() -> None:
    password = ("Correct horse battery staple 42 " * 7)[:199]
    text = "a" * 120 + "\n" * 680 + 'db_password: "' + password + '" and then ' + "more words " * 100
    assert "Correct horse" not in quoted_plain(text)
    assert "Correct horse" not in quoted_plain(text, 150)


# -- where the core applies it ----------------------------------------------------------------

_ids = itertools.count(1)
ASKER = Author(id="U1", name="Ann")
REF = ConversationRef(platform="slack", workspace="T", channel="C1")


def message(text: str) -> InboundMessage:
    return InboundMessage(
        id=f"m{next(_ids)}",
        conversation=REF,
        author=ASKER,
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 11, 30, tzinfo=UTC),
    )


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime('[privacy]\nredact = ["email", "card"]\n', answerer=ConfidentExtractive())


async def test_the_inbox_payload_a_replay_reads_holds_only_the_placeholder(rt: Runtime) -> None:
    channel = ConsoleChannel(io.StringIO())
    question = message(f"refund to card {VISA} please, mail ann@example.com")
    with faults.crash_at("event.claimed"), pytest.raises(faults.Crash):
        await rt.bot.on_message(question, channel)  # died right after the inbox took it
    [row] = list(rt.state.db["inbox"].rows)
    assert VISA not in row["payload"] and "ann@example.com" not in row["payload"]
    assert json.loads(row["payload"])["text"] == "refund to card [card] please, mail [email]"

    assert await rt.bot.replay_pending("slack", channel) == 1
    asked = [r["text"] for r in rt.state.db["messages"].rows if r["role"] == "user"]
    assert asked == ["refund to card [card] please, mail [email]"]


async def test_command_arguments_are_redacted_before_any_handler(rt: Runtime) -> None:
    channel = ConsoleChannel(io.StringIO())
    ask = Command(
        id="c1",
        name="ask",
        args=f"how long does a refund to {groups(VISA)} take?",
        invoker=ASKER,
        conversation=REF,
        visibility=Visibility.INTERNAL,
    )
    assert await rt.bot.on_command(ask, channel) == Outcome.ANSWERED
    questions = [row["question"] for row in rt.state.db["answers"].rows]
    assert questions == ["how long does a refund to [card] take?"]


async def test_named_command_options_are_redacted_like_typed_arguments(rt: Runtime) -> None:
    """A platform's named options (Discord's) are read as given, and redacted as `args` is."""
    channel = ConsoleChannel(io.StringIO())
    question = f"how long does a refund to {groups(VISA)} take?"
    ask = Command(
        id="c2",
        name="ask",
        args=question,
        invoker=ASKER,
        conversation=REF,
        visibility=Visibility.INTERNAL,
        options=(("question", question),),
    )
    assert rt.bot.redactor.command(ask).options == (("question", "how long does a refund to [card] take?"),)
    assert await rt.bot.on_command(ask, channel) == Outcome.ANSWERED
    questions = [row["question"] for row in rt.state.db["answers"].rows]
    assert questions == ["how long does a refund to [card] take?"]


def test_placeholders_are_not_search_words() -> None:
    from bot.privacy.redaction import without_placeholders

    assert without_placeholders("refund for [card] to [email] please").split() == [
        "refund",
        "for",
        "to",
        "please",
    ]


async def test_a_redacted_question_searches_as_if_the_values_were_never_there(runtime) -> None:  # type: ignore[no-untyped-def]
    from bot.types import DocVisibility

    plain, plain_result = await runtime.bot.answers.ask(
        "How long does a refund take?", DocVisibility.INTERNAL
    )
    marked, marked_result = await runtime.bot.answers.ask(
        "How long does a refund take? [card] [card] [email] [phone]", DocVisibility.INTERNAL
    )
    assert [p.chunk_id for p in marked_result.passages] == [p.chunk_id for p in plain_result.passages]
    assert marked_result.confidence == plain_result.confidence
    assert marked.text == plain.text
