"""A credential pasted into a question never leaves the conversation it was written in.

The asker's own thread shows what they typed (the platform already has it); everything the
bot copies elsewhere goes through `redact_secrets`: the triage card and its edits, the thread
note, SLA re-announcements, the stored ticket and the ticket list, learned drafts and the
Markdown file an approved draft becomes, and the prompt sent to a model (question, history
and passages). Each test walks the real core; the fakes are the platform and the endpoint.

Credential-shaped values are assembled at run time (as in tests/fakes/tokens.py), so the
repository commits none.
"""

from __future__ import annotations

import html
import io
import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.console import ConsoleChannel
from adapters.slack.mrkdwn import to_mrkdwn
from bot.answering.secrets import REDACTED, redact_secrets
from bot.app import Runtime
from bot.markdown import literal
from bot.store.gaps import GapStatus
from bot.types import (
    Author,
    Command,
    ConversationRef,
    Draft,
    InboundMessage,
    Outcome,
    Reply,
    ReplyKind,
    Ticket,
    Visibility,
)
from tests.fakes.clock import FakeClock
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.tokens import OPENAI_KEY_LONG, SLACK_BOT_TOKEN_LONG, SLACK_USER_TOKEN

CONFIG = """
[slack]
staff_groups = ["S-TIER1"]
second_tier_groups = ["S-TIER2"]
admin_users = ["U-ADMIN"]
triage_channel = "C-TRIAGE"
[escalation]
first_response_minutes = 15
second_tier_minutes = 30
"""

ASKER = Author(id="U-ASK", name="Ann")
STAFF = Author(id="U-SAM", name="Sam", roles=frozenset({"S-TIER1"}))
ADMIN = Author(id="U-ADMIN", name="Ada")
_ids = itertools.count(1)

# What the asker wrote around the credential: it must survive every copy.
BEFORE = "I want to talk to a human, the export job fails and"
AFTER = "it keeps failing since Monday."

_PEM_BODY = ["MIIEowIBAAKCAQEA7xQ3b9" + "Zk2LmN4pQrStUvWx0123456789abcdefghijklmnopqrstu", "Vw" * 20 + "Ab12"]


@dataclass(frozen=True)
class Credential:
    phrase: str  # how it sits in the question
    secret: str  # the part that must not be copied anywhere


def _credentials() -> dict[str, Credential]:
    def token(value: str) -> Credential:
        return Credential(phrase=f"my token is {value}", secret=value)

    password = "Hunt" + "er2!x"
    api_key = "9f8e" + "7d6c5b"
    bearer = "abcDEF" + "123xyz"
    pem_open = "-----BEGIN " + "RSA PRIVATE KEY-----"
    pem_close = "-----END " + "RSA PRIVATE KEY-----"
    pem = "\n".join([pem_open, *_PEM_BODY, pem_close])
    return {
        "slack-bot": token(SLACK_BOT_TOKEN_LONG),
        "slack-user": token(SLACK_USER_TOKEN),
        "slack-app": token("-".join(["xapp", "1", "A0123BCDEF", "1234567890123", "abcdef0123456789" * 2])),
        "slack-refresh": token("-".join(["xoxe", "1", "My0xLTEyMzQ1Njc4OTAxMi0xMjM0NTY3"])),
        "slack-rotated": token("xoxe." + "-".join(["xoxp", "1", "Ab3dEf6hIj9lMnOpQrStUvWx"])),
        "discord-bot": token(".".join(["MTIzNDU2Nzg5MDEyMzQ1Njc4OTA", "GhIjKl", "AbCdEfGhIjKl" * 3])),
        "openai": token(OPENAI_KEY_LONG),
        "openai-project": token("sk" + "-proj-" + "Ab3dEf6hIj9lMnOpQrSt_UvWxYz012345-abcdEFGH"),
        "github": token("ghp" + "_" + "0123456789abcdefghijABCDEFGHIJ0123456789"),
        "github-fine-grained": token("github" + "_pat_" + "11ABCDEFG0" + "_" + "aB3" * 20),
        "aws-key-id": token("AK" + "IA" + "Z7Q4N2W8R5T1Y6U3"),
        "password": Credential(phrase=f"my config has password={password}", secret=password),
        "password-said": Credential(phrase=f"my password is {password}", secret=password),
        # Korean: a particle or a colon after the label, the sentence's ending after the value
        "password-ko": Credential(phrase=f"제 비밀번호는 {password}입니다", secret=password),
        "password-ko-particle": Credential(phrase=f"비밀번호로 {password} 입력했는데", secret=password),
        "password-command-line": Credential(
            phrase=f"curl -u ann:{password} https://x.example", secret=password
        ),
        "token-ko": Credential(phrase=f"토큰: {api_key}{api_key}{api_key}", secret=api_key * 3),
        "api-key": Credential(phrase=f'my settings say "api_key": "{api_key}"', secret=api_key),
        "bearer": Credential(phrase=f"the call sends Authorization: Bearer {bearer}", secret=bearer),
        "private-key": Credential(phrase=f"my key is\n{pem}\n", secret=_PEM_BODY[0]),
        "private-key-cut-off": Credential(
            phrase=f"my key is\n{pem_open}\n{_PEM_BODY[0]}\n", secret=_PEM_BODY[0]
        ),
    }


CREDENTIALS = _credentials()


def message(
    text: str,
    *,
    author: Author = ASKER,
    channel: str = "C-GEN",
    thread: str | None = None,
    addressed: bool = True,
) -> InboundMessage:
    return InboundMessage(
        id=f"r{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace="T1", channel=channel, thread=thread),
        author=author,
        text=text,
        addressed=addressed,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )


def command(name: str, args: str, invoker: Author) -> Command:
    return Command(
        id=f"c{next(_ids)}",
        name=name,
        args=args,
        invoker=invoker,
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-GEN"),
        visibility=Visibility.INTERNAL,
    )


def everything_shown(channel: ConsoleChannel) -> list[Reply]:
    """Every message the bot posted or edited, anywhere."""
    return [r for _, r in channel.posted] + [r for _, r in channel.edits]


def assert_clean(text: str, credential: Credential) -> None:
    assert credential.secret not in text
    assert credential.secret[-10:] not in text  # not half redacted either


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


def test_every_credential_shape_is_redacted_and_the_sentence_kept() -> None:
    for name, credential in CREDENTIALS.items():
        cleaned = redact_secrets(f"{BEFORE} {credential.phrase} {AFTER}")
        assert credential.secret not in cleaned, name
        assert REDACTED in cleaned and cleaned.startswith(BEFORE) and cleaned.endswith(AFTER), name


@pytest.mark.parametrize("kind", list(CREDENTIALS))
async def test_a_pasted_credential_reaches_no_card_note_reminder_list_or_learned_draft(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock, kind: str
) -> None:
    credential = CREDENTIALS[kind]
    rt = make_runtime(CONFIG)
    asked = f"{BEFORE} {credential.phrase} {AFTER}"
    assert await rt.bot.on_message(message(asked), channel) == Outcome.ESCALATED

    # the stored ticket, which every later copy is made from
    [ticket] = rt.state.tickets()
    assert_clean(ticket.question, credential)
    assert BEFORE in ticket.question and AFTER in ticket.question

    # the triage card, in a channel other people read
    [card] = [r for _, r in channel.posted if r.kind == ReplyKind.TICKET]
    assert card.conversation.channel == "C-TRIAGE"
    assert_clean(card.text, credential)
    assert BEFORE in card.text and AFTER in card.text

    # the escalation note in the asker's thread
    [note] = [r for _, r in channel.posted if r.kind == ReplyKind.ESCALATION]
    assert_clean(note.text, credential)
    thread = ticket.conversation

    # nobody answered: the SLA re-announces, the card is edited, then the second tier is told
    channels = {"slack": channel}
    clock.advance(minutes=15)
    assert await rt.bot.tick(channels) == 1
    assert [r for _, r in channel.posted if "still has no response" in r.text]
    card_edits = [r for _, r in channel.edits if r.conversation.channel == "C-TRIAGE"]
    assert card_edits and all(BEFORE in r.text and AFTER in r.text for r in card_edits)
    clock.advance(minutes=30)
    assert await rt.bot.tick(channels) == 1

    # staff answer in the thread, quoting the credential back, and resolve: a draft is made
    staff_reply = f"Thanks Ann. Never write {credential.phrase} here; open Settings and press Rotate."
    in_thread = message(staff_reply, author=STAFF, thread=thread.thread, addressed=False)
    assert await rt.bot.on_message(in_thread, channel) == Outcome.RECORDED
    await rt.bot.on_command(command("tickets", "", STAFF), channel)
    await rt.bot.on_command(command("resolve", str(ticket.id), STAFF), channel)
    [draft] = rt.state.drafts("pending")
    for field in (draft.title, draft.question, draft.answer):
        assert_clean(field, credential)
    assert BEFORE in draft.question and AFTER in draft.question
    assert "open Settings and press Rotate" in draft.answer

    # an admin reviews and approves it: the learned file is written into the knowledge folder
    await rt.bot.on_command(command("learn", "list", ADMIN), channel)
    await rt.bot.on_command(command("learn", "approve 1", ADMIN), channel)
    [written] = list((rt.settings.knowledge_dir / "learned").glob("*.md"))
    content = written.read_text(encoding="utf-8")
    assert_clean(content, credential)
    assert_clean(written.name, credential)
    assert AFTER in content and "open Settings and press Rotate" in content

    # and nothing the bot posted or edited anywhere carried it
    shown = everything_shown(channel)
    assert len(shown) > 8
    for reply in shown:
        assert_clean(reply.text, credential)


async def test_a_learned_file_from_a_draft_made_before_redaction_is_still_clean(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    """Drafts stored by an earlier version carry the raw text; approving one must not publish it."""
    from bot.escalation import write_entry
    from bot.types import DocVisibility, Draft

    credential = CREDENTIALS["slack-bot"]
    rt = make_runtime(CONFIG)
    old = Draft(
        id=7,
        ticket_id=3,
        title=f"{credential.phrase} does not work",
        question=f"{BEFORE} {credential.phrase} {AFTER}",
        answer=f"Rotate {credential.secret} in the dashboard.",
        visibility=DocVisibility.INTERNAL,
        status="pending",
    )
    path = write_entry(rt.settings.knowledge_dir, old, datetime(2026, 12, 1, tzinfo=UTC).date())
    content = (rt.settings.knowledge_dir / path).read_text(encoding="utf-8")
    assert_clean(content, credential)
    assert_clean(path, credential)
    assert AFTER in content and "in the dashboard" in content


def test_cards_of_a_ticket_stored_before_redaction_are_still_clean() -> None:
    """Tickets opened by an earlier version hold the raw question; every edit of their card
    and thread note is rendered again, so rendering redacts too."""
    from bot.escalation import card, thread_note
    from bot.escalation.values import Context
    from bot.types import EscalationReason, Ticket, TicketStatus

    credential = CREDENTIALS["openai"]
    when = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    thread = ConversationRef(platform="slack", workspace="T1", channel="C-GEN", thread="t1")
    ticket = Ticket(
        id=4,
        conversation=thread,
        asker_id=ASKER.id,
        asker_name=ASKER.name,
        question=f"{BEFORE} {credential.phrase} {AFTER}",
        reason=EscalationReason.ASKED_FOR_HUMAN,
        status=TicketStatus.OPEN,
        created_at=when,
        updated_at=when,
    )
    triage = ConversationRef(platform="slack", workspace="T1", channel="C-TRIAGE")
    shown = card(ticket, triage, when, Context(answer=f"Paste {credential.phrase} into the form."))
    assert_clean(shown.text, credential)
    assert BEFORE in shown.text and AFTER in shown.text and "into the form" in shown.text
    note = thread_note(ticket, thread, f"Ticket #4 for {credential.phrase}")
    assert_clean(note.text, credential)


# -- credentials inside a run of settings or a service's URL -----------------------------------
# What people paste around a credential: a failing call with its query string, a .NET
# connection string, a DSN's parameters, a Redis URL, a webhook URL.


def _pasted_runs() -> dict[str, Credential]:
    password = "Hunt" + "er2!x"
    api_key = "Zx9Qw7" + "Er5Ty3kL"
    hook = "AbCdEfGhIjKl" + "MnOpQrStUvWxYz0123456789abcdEFGH"

    def pasted(phrase: str, secret: str = password) -> Credential:
        return Credential(phrase=phrase, secret=secret)

    return {
        "query-api-key": pasted(
            f"GET https://api.example.com/v1/export?format=csv&api_key={api_key}", api_key
        ),
        "query-password": pasted(f"GET https://api.example.com/v1/login?user=ann&password={password}"),
        "connection-string": pasted(f"Server=db;Database=app;User Id=sa;Password={password};"),
        "dsn-query": pasted(f"postgresql://db:5432/app?sslmode=require&password={password}"),
        "redis-no-user": pasted(f"CELERY_BROKER_URL is redis://:{password}@cache:6379/0"),
        "discord-webhook-v10": pasted(
            f"https://discord.com/api/v10/webhooks/123456789012345678/{hook}", hook
        ),
        "slack-response-url": pasted(
            f"https://hooks.slack.com/commands/T0123ABCD/1234567890123/{hook}", hook
        ),
    }


PASTED_RUNS = _pasted_runs()


@pytest.mark.parametrize("kind", list(PASTED_RUNS))
async def test_a_credential_inside_a_run_of_settings_reaches_no_ticket_card_or_learned_file(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, kind: str
) -> None:
    """Before the twenty-fourth session these were copied as typed into the stored ticket, the
    triage card and the learned file: a secret assigned after another `name=value` in one run
    (the first name took the rest of the run as its value), a URL's password with no user
    name, a versioned Discord webhook URL and a Slack response URL."""
    credential = PASTED_RUNS[kind]
    rt = make_runtime(CONFIG)
    asked = f"{BEFORE} {credential.phrase} returns an error, {AFTER}"
    assert await rt.bot.on_message(message(asked), channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    assert_clean(ticket.question, credential)
    assert BEFORE in ticket.question and AFTER in ticket.question
    [card] = [r for _, r in channel.posted if r.kind == ReplyKind.TICKET]
    assert_clean(card.text, credential)
    reply = message(
        "Rotate it in Settings, then retry.", author=STAFF, thread=ticket.conversation.thread, addressed=False
    )
    assert await rt.bot.on_message(reply, channel) == Outcome.RECORDED
    await rt.bot.on_command(command("resolve", str(ticket.id), STAFF), channel)
    await rt.bot.on_command(command("learn", "approve 1", ADMIN), channel)
    [written] = list((rt.settings.knowledge_dir / "learned").glob("*.md"))
    content = written.read_text(encoding="utf-8")
    assert_clean(content, credential)
    assert "Rotate it in Settings" in content
    for shown in everything_shown(channel):
        assert_clean(shown.text, credential)


# -- every output path ------------------------------------------------------------------------
# `[privacy] redact` without "token" stores a pasted credential as written; every copy the bot
# makes of what people wrote still hides it (`quoted`, bot/privacy/redaction.py).

INSIGHTS = (
    CONFIG.replace("[escalation]\n", '[escalation]\ntimezone = "Asia/Seoul"\n')
    + '[insights]\ndigest_channel = "CDIGEST"\ndigest_weekday = "mon"\ndigest_hour = 9\n'
    + "[privacy]\nredact = []\n"
)
ASKED = "export to CSV fails with {token} help"


async def _burst_alert(rt: Runtime, channel: ConsoleChannel, clock: FakeClock, asked: str) -> str:
    from bot.insights.bursts import alert
    from bot.store.incidents import BurstRecord

    burst = BurstRecord(
        id=1,
        platform="slack",
        representative=asked,
        signatures="[]",
        askers=5,
        channels=("C-GEN",),
        threads=("slack:T1:C-GEN:t1",),
        alerted_at=clock.now(),
        workspace="T1",
    )
    return alert(burst, ConversationRef(platform="slack", workspace="T1", channel="C-TRIAGE"), 30).text


async def _digest(rt: Runtime, channel: ConsoleChannel, clock: FakeClock, asked: str) -> str:
    clock.current = datetime(2026, 11, 30, 0, 5, tzinfo=UTC)  # Monday 09:05 in Seoul
    await rt.bot.tick({"slack": channel})
    [digest] = [r.text for _, r in channel.posted if r.conversation.channel == "CDIGEST"]
    assert "Top knowledge gaps" in digest
    return digest


def _report(fmt: str) -> Callable[[Runtime, ConsoleChannel, FakeClock, str], Awaitable[str]]:
    async def written(rt: Runtime, channel: ConsoleChannel, clock: FakeClock, asked: str) -> str:
        from bot.insights.collect import collect
        from bot.insights.metrics import Definitions, Period, Scope
        from bot.insights.report import ReportFormat, render

        period = Period(since=clock.now() - timedelta(days=7), until=clock.now() + timedelta(minutes=1))
        report = collect(rt.state, period, Scope(platform="slack"), Definitions.from_settings(rt.settings))
        assert report.gaps and report.top_questions
        return render(report, ReportFormat(fmt))

    return written


def _command(name: str, args: str) -> Callable[[Runtime, ConsoleChannel, FakeClock, str], Awaitable[str]]:
    async def said(rt: Runtime, channel: ConsoleChannel, clock: FakeClock, asked: str) -> str:
        before = len(channel.posted)
        await rt.bot.on_command(command(name, args, ADMIN), channel)
        return "\n".join(r.text for _, r in channel.posted[before:])

    return said


async def _card(rt: Runtime, channel: ConsoleChannel, clock: FakeClock, asked: str) -> str:
    [card] = [r for _, r in channel.posted if r.kind == ReplyKind.TICKET]
    return card.text


async def _escalated(rt: Runtime, channel: ConsoleChannel, asked: str) -> Ticket:
    assert (
        await rt.bot.on_message(message(f"I want to talk to a human: {asked}"), channel) == Outcome.ESCALATED
    )
    return max(rt.state.tickets(), key=lambda ticket: ticket.id)


async def _tickets(rt: Runtime, channel: ConsoleChannel, clock: FakeClock, asked: str) -> str:
    await _escalated(rt, channel, asked)
    return await _command("tickets", "")(rt, channel, clock, asked)


async def _learn_show(rt: Runtime, channel: ConsoleChannel, clock: FakeClock, asked: str) -> str:
    draft = await _learned_draft(rt, channel, asked)
    return await _command("learn", f"show {draft.id}")(rt, channel, clock, asked)


async def _learned_draft(rt: Runtime, channel: ConsoleChannel, asked: str) -> Draft:
    ticket = await _escalated(rt, channel, asked)
    answer = message("Open Settings and press Export.", author=STAFF, thread=ticket.conversation.thread)
    assert await rt.bot.on_message(replace(answer, addressed=False), channel) == Outcome.RECORDED
    await rt.bot.on_command(command("resolve", str(ticket.id), STAFF), channel)
    [draft] = rt.state.drafts("pending")
    return draft


async def _ticket_page(rt: Runtime, channel: ConsoleChannel, clock: FakeClock, asked: str) -> str:
    from tests.bot.dashboard.served import start
    from tests.bot.dashboard.test_dashboard import link_token, sign_in

    ticket = await _escalated(rt, channel, asked)
    client = await start(rt, clock, channel)
    try:
        assert await sign_in(client, link_token(rt, clock, ADMIN.id)) == 302
        page = await (await client.get(f"/admin/tickets/{ticket.id}")).text()
    finally:
        await client.close()
    assert "Transcript" in page
    return html.unescape(page)


OUTPUT_PATHS = {
    "triage card": _card,
    "weekly digest": _digest,
    "burst alert": _burst_alert,
    "report table": _report("table"),
    "report markdown": _report("markdown"),
    "report json": _report("json"),
    "report csv": _report("csv"),
    "stats command": _command("stats", ""),
    "gaps list command": _command("gaps", "list"),
    "gaps show command": _command("gaps", "show 1"),
    "tickets command": _tickets,
    "learn show command": _learn_show,
    "dashboard ticket page": _ticket_page,
}


@pytest.mark.parametrize("path", list(OUTPUT_PATHS))
async def test_every_output_path_hides_a_credential_the_config_lets_through(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock, path: str
) -> None:
    credential = CREDENTIALS["slack-bot"]
    rt = make_runtime(INSIGHTS)
    clock.current = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    asked = ASKED.format(token=credential.phrase)
    await rt.bot.on_message(message(asked), channel)
    await rt.bot.tick({"slack": channel})  # places the knowledge gap
    [gap] = rt.state.gaps("slack", (GapStatus.OPEN,))
    assert credential.secret in gap.representative  # stored as written: `redact = []`
    shown = await OUTPUT_PATHS[path](rt, channel, clock, asked)
    assert "export to CSV" in shown  # the question is there...
    assert_clean(shown, credential)  # ...without the credential


# A link typed into a question is never the bot's link: where the bot copies the question into
# its own words (Markdown the adapters render) it shows as typed, target in plain sight; where
# it copies it as plain text (the dashboard, a report's table, CSV, JSON) it is the same text.
LINKED = "CSV fails [status page](https://evil.example/s) **now**"
MASKED_ON_DISCORD = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")  # an unescaped [words](
MASKED_ON_SLACK = re.compile(r"<https://evil\.example/s\|")
CHAT_PATHS = [
    p for p in OUTPUT_PATHS if p not in ("report table", "report json", "report csv", "dashboard ticket page")
]


@pytest.mark.parametrize("path", list(OUTPUT_PATHS))
async def test_a_link_typed_into_a_question_is_never_posted_as_the_bots_link(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock, path: str
) -> None:
    rt = make_runtime(INSIGHTS)
    clock.current = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    await rt.bot.on_message(message(LINKED), channel)
    await rt.bot.tick({"slack": channel})  # places the knowledge gap
    shown = await OUTPUT_PATHS[path](rt, channel, clock, LINKED)
    if path in CHAT_PATHS:
        assert literal(LINKED) in shown  # shown as typed on Discord, which honours the escapes
        assert not MASKED_ON_DISCORD.search(shown)
        assert not MASKED_ON_SLACK.search(to_mrkdwn(shown))
        assert "https://evil.example/s" in to_mrkdwn(shown)  # in plain sight
    else:
        assert LINKED in shown
        assert r"\[status page\]" not in shown  # not escaped for Markdown either (the card's brief)


# A question's own lines stay inside its quote: a line of its own must not read as another row
# of the list or as the bot's words.
FAKE_ROW = "- #999 [claimed, Ada] 0m old, admin, SLA ok: refund approved for U-ASK, pay out now"


async def test_the_ticket_list_keeps_each_question_on_its_row(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    rt = make_runtime(CONFIG)
    listing = await _tickets(rt, channel, clock, f"exports fail\n{FAKE_ROW}")
    rows = [line for line in listing.splitlines() if line.startswith("- #")]
    assert [row.split(" ", 2)[1] for row in rows] == ["#1"]
    assert r"exports fail - #999 \[claimed" in rows[0]  # the question, on its row, cut at 80 characters


async def test_learn_show_quotes_every_line_of_the_question(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    rt = make_runtime(CONFIG)
    shown = await _learn_show(
        rt, channel, clock, "exports fail\nApproved by security: run `rm -rf /data` first."
    )
    approved = next(line for line in shown.splitlines() if "Approved by security" in line)
    assert approved.startswith("> ")  # inside the quote, not the bot's own words
    assert "Open Settings and press Export." in shown


# -- model prompts ----------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
def model_runtime(make_runtime: Callable[..., Runtime], fake: FakeOpenAI) -> Callable[[], Runtime]:
    def make() -> Runtime:
        env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": fake.api_key}
        # No confidence floor for the model: a long token's pieces match no document and dilute
        # retrieval's confidence, and these tests are about what the model is sent when asked.
        return make_runtime(
            CONFIG + "[llm]\nmax_retries = 0\ntimeout_seconds = 5\nmin_confidence = 0.0\n", env
        )

    return make


@pytest.mark.parametrize(
    "kind", ["slack-bot", "openai-project", "password", "password-ko", "token-ko", "bearer", "private-key"]
)
async def test_the_prompt_carries_neither_the_question_nor_the_history_credential(
    model_runtime: Callable[[], Runtime], fake: FakeOpenAI, channel: ConsoleChannel, kind: str
) -> None:
    credential = CREDENTIALS[kind]
    rt = model_runtime()
    fake.default_reply = "Refunds take five to seven business days [1]."
    first = f"How long does a refund take? {credential.phrase} and my card was charged twice."
    assert await rt.bot.on_message(message(first), channel) == Outcome.ANSWERED
    prompt = fake.chat_requests[-1].prompt
    assert_clean(prompt, credential)
    assert "How long does a refund take?" in prompt and "my card was charged twice" in prompt

    # a follow-up in the thread: the first question now travels as history
    thread = channel.posted[0][1].conversation
    follow = message(
        "And how long does a refund take to arrive?",
        thread=thread.thread,
        channel=thread.channel,
        addressed=False,
    )
    assert await rt.bot.on_message(follow, channel) == Outcome.ANSWERED
    assert len(fake.chat_requests) == 2
    prompt = fake.chat_requests[-1].prompt
    assert "<conversation>" in prompt and "my card was charged twice" in prompt  # the history is there
    assert_clean(prompt, credential)
    for reply in everything_shown(channel):
        assert_clean(reply.text, credential)


async def test_a_token_left_in_a_runbook_is_not_sent_to_the_model(
    model_runtime: Callable[[], Runtime], fake: FakeOpenAI, channel: ConsoleChannel, knowledge_dir: Path
) -> None:
    credential = CREDENTIALS["github"]
    (knowledge_dir / "deploys.md").write_text(
        "# Deploy keys\n\nTo redeploy the mirror, run the deploy script with the machine token "
        f"{credential.secret} and wait for the green check.\n",
        encoding="utf-8",
    )
    rt = model_runtime()
    fake.default_reply = "Run the deploy script and wait for the green check [1]."
    asked = message("How do I redeploy the mirror with the deploy script?")
    assert await rt.bot.on_message(asked, channel) == Outcome.ANSWERED
    prompt = fake.chat_requests[-1].prompt
    assert "run the deploy script with the machine token" in prompt and "wait for the green check" in prompt
    assert_clean(prompt, credential)
    # the citation still points at the right document: redaction kept the passages' order
    final = channel.edits[-1][1] if channel.edits else channel.posted[-1][1]
    assert [c.path for c in final.citations] == ["deploys.md"]


@pytest.mark.parametrize("kind", ["query-api-key", "query-password", "connection-string", "dsn-query"])
async def test_a_credential_inside_a_run_of_settings_is_not_sent_to_the_model(
    model_runtime: Callable[[], Runtime], fake: FakeOpenAI, channel: ConsoleChannel, kind: str
) -> None:
    """Before the twenty-fourth session the prompt carried a secret assigned after another
    `name=value` in one run of text as typed."""
    credential = PASTED_RUNS[kind]
    rt = model_runtime()
    fake.default_reply = "Refunds take five to seven business days [1]."
    asked = f"How long does a refund take? My refund call fails: {credential.phrase} returns 401"
    assert await rt.bot.on_message(message(asked), channel) == Outcome.ANSWERED
    prompt = fake.chat_requests[-1].prompt
    assert "How long does a refund take?" in prompt and "returns 401" in prompt
    assert_clean(prompt, credential)
