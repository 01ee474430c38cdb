"""Retention (bot/privacy/retention.py, bot/store/retention.py): on the clock's tick, message
text older than `[privacy] retention_days` is emptied while every row, id and count stays;
work in progress (an open ticket's thread, a pending draft) is kept; `supportbot privacy purge
--dry-run` says what would go and changes nothing. The real core, store and a controlled clock."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.console import ConsoleChannel
from bot import faults
from bot.app import Runtime
from bot.cli import app
from bot.privacy.retention import EVERY, JOB, STALE_CLAIM
from bot.types import Author, Command, ConversationRef, InboundMessage, Outcome, Visibility
from tests.bot.test_exactly_once import Platform, question
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.clock import FakeClock

CONFIG = """
[slack]
staff_groups = ["S-TIER1"]
admin_users = ["U-SAM"]
triage_channel = "C-TRIAGE"
[privacy]
retention_days = 30
"""
ASKER = Author(id="U-ASK", name="Ann")
OTHER = Author(id="U-BOB", name="Bob")
STAFF = Author(id="U-SAM", name="Sam", roles=frozenset({"S-TIER1"}))
_ids = itertools.count(1)

OLD_QUESTION = "How long does a refund take to arrive?"
OLD_HANDOFF = "I want to talk to a human about my invoice"
WORKED_HANDOFF = "I want to talk to a human about my broken export"
NEW_QUESTION = "How do I reset my password?"


def message(text: str, at: datetime, *, author: Author = ASKER, thread: str | None = None) -> InboundMessage:
    return InboundMessage(
        id=f"r{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-GEN", thread=thread),
        author=author,
        text=text,
        addressed=thread is None,
        visibility=Visibility.INTERNAL,
        sent_at=at,
    )


def command(name: str, args: str) -> Command:
    return Command(
        id=f"c{next(_ids)}",
        name=name,
        args=args,
        invoker=STAFF,
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-GEN"),
        visibility=Visibility.INTERNAL,
    )


def counts(rt: Runtime) -> dict[str, int]:
    # (the same tick also runs the SLA clock, which logs ticket events, and prunes the inbox)
    tables = ("messages", "answers", "tickets", "drafts")
    return {table: rt.state.db[table].count for table in tables}


def texts(rt: Runtime) -> str:
    """Every text column the purge empties, as one string to search."""
    rows = [
        *(r["text"] for r in rt.state.db["messages"].rows),
        *(f"{r['question']} {r['answer']}" for r in rt.state.db["answers"].rows),
        *(f"{r['question']} {r['context']} {r['note']}" for r in rt.state.db["tickets"].rows),
        *(r["detail"] or "" for r in rt.state.db["ticket_events"].rows),
        *(r["text"] or "" for r in rt.state.db["ticket_posts"].rows),
        *(f"{r['title']} {r['question']} {r['answer']}" for r in rt.state.db["drafts"].rows),
    ]
    return "\n".join(str(r) for r in rows)


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


async def history(rt: Runtime, clock: FakeClock, channel: ConsoleChannel) -> None:
    """Forty days ago: an answered question, a ticket resolved with a note (and its draft
    decided), and a ticket still open. Today: a new question."""
    start = clock.now()
    assert await rt.bot.on_message(message(OLD_QUESTION, start), channel) == Outcome.ANSWERED
    assert await rt.bot.on_message(message(OLD_HANDOFF, start), channel) == Outcome.ESCALATED
    assert await rt.bot.on_message(message(WORKED_HANDOFF, start, author=OTHER), channel) == Outcome.ESCALATED
    [done] = [t for t in rt.state.tickets() if t.asker_id == ASKER.id]
    reply = message("Your invoice is fixed now.", start, author=STAFF, thread=done.conversation.thread)
    assert await rt.bot.on_message(reply, channel) == Outcome.RECORDED
    await rt.bot.on_command(command("resolve", f"{done.id} refunded the invoice"), channel)
    await rt.bot.on_command(command("learn", "reject 1"), channel)
    clock.advance(days=40)
    assert await rt.bot.on_message(message(NEW_QUESTION, clock.now()), channel) == Outcome.ANSWERED
    [working] = [t for t in rt.state.tickets() if t.asker_id == OTHER.id]
    assert working.status == "open"


async def test_retention_purges_old_text_on_the_tick_and_keeps_every_row(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    rt = make_runtime(CONFIG, answerer=ConfidentExtractive())
    await history(rt, clock, channel)
    before_counts, before_stats = counts(rt), rt.state.stats()
    assert OLD_QUESTION in texts(rt) and "refunded the invoice" in texts(rt)

    await rt.bot.tick({"slack": channel})

    purged = texts(rt)
    for gone in (OLD_QUESTION, OLD_HANDOFF, "Your invoice is fixed now.", "refunded the invoice"):
        assert gone not in purged, gone
    assert WORKED_HANDOFF in purged  # its ticket is still open: the thread is still needed
    assert NEW_QUESTION in purged  # inside the window
    assert counts(rt) == before_counts  # rows are emptied, never deleted
    assert rt.state.stats() == before_stats  # so reports keep their numbers
    [old_answer] = [r for r in rt.state.db["answers"].rows if r["created_at"] < "2026-12"]
    assert old_answer["question"] == "" and old_answer["confidence"] is not None


async def test_a_purge_whose_process_died_holding_the_hour_is_taken_over_within_minutes(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    rt = make_runtime(CONFIG, answerer=ConfidentExtractive())
    await history(rt, clock, channel)
    # a process claims the hour's purge and is killed before purging: the claim it leaves
    assert rt.state.claim_every(JOB, clock.now(), EVERY, STALE_CLAIM)
    restarted = make_runtime(CONFIG, answerer=ConfidentExtractive())
    await restarted.bot.tick({"slack": channel})
    assert OLD_QUESTION in texts(rt)  # the claim may still be running: left to it
    clock.advance(seconds=STALE_CLAIM.total_seconds())
    await restarted.bot.tick({"slack": channel})
    assert OLD_QUESTION not in texts(rt)
    assert NEW_QUESTION in texts(rt)


async def test_no_retention_keeps_everything(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    rt = make_runtime(
        CONFIG.replace("retention_days = 30", "retention_days = 0"), answerer=ConfidentExtractive()
    )
    await history(rt, clock, channel)
    await rt.bot.tick({"slack": channel})
    kept = texts(rt)
    for old in (OLD_QUESTION, OLD_HANDOFF, "Your invoice is fixed now.", "refunded the invoice"):
        assert old in kept, old


async def test_purge_dry_run_says_what_would_go_and_changes_nothing(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel, tmp_path: Path
) -> None:
    clock.current = datetime(2020, 1, 1, tzinfo=UTC)  # long before the CLI's own clock
    rt = make_runtime(CONFIG, answerer=ConfidentExtractive())
    await history(rt, clock, channel)
    kept = texts(rt)
    args = [
        "privacy",
        "purge",
        "--config",
        str(tmp_path / "supportbot.toml"),
        "--data",
        str(tmp_path / "data"),
    ]

    dry = CliRunner().invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Would purge the text of" in dry.output and "Nothing was changed" in dry.output
    assert "messages" in dry.output and "answers" in dry.output
    assert texts(rt) == kept

    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "Purged the text of" in done.output
    assert NEW_QUESTION not in texts(rt)  # years old by the CLI's clock
    assert WORKED_HANDOFF in texts(rt)  # an open ticket's thread stays
    again = CliRunner().invoke(app, [*args, "--dry-run"])
    assert "Would purge the text of 0 row(s)" in again.output


async def test_a_retention_of_practically_for_ever_keeps_everything_and_the_clock_runs_on(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel, tmp_path: Path
) -> None:
    """`retention_days = 999999` ("keep it practically for ever") is a valid setting, but its
    cutoff, before the year 1, used to raise OverflowError on every tick, before the clock's
    delivery replays ran (a question whose first read failed was never answered), and
    `supportbot privacy purge` printed a traceback. Now nothing is old enough to purge."""
    long = CONFIG.replace("retention_days = 30", "retention_days = 999999")
    rt = make_runtime(long, answerer=ConfidentExtractive())
    await history(rt, clock, channel)
    platform = Platform()
    with faults.crash_at("event.deciding", error=OSError("the connection was reset")):
        failed = await rt.bot.on_message(question("How do I reset my password?", "q1"), platform)
    assert failed == Outcome.FAILED
    clock.advance(seconds=30)
    await rt.bot.tick({"slack": platform})
    await rt.bot.settle()
    assert len(platform.answers()) == 1  # the replay the clock owes it
    kept = texts(rt)
    for old in (OLD_QUESTION, OLD_HANDOFF, "Your invoice is fixed now.", "refunded the invoice"):
        assert old in kept, old
    (tmp_path / "supportbot.toml").write_text(long)
    args = ["--config", str(tmp_path / "supportbot.toml"), "--data", str(tmp_path / "data")]
    dry = CliRunner().invoke(app, ["privacy", "purge", "--dry-run", *args])
    assert dry.exit_code == 0, dry.output
    assert "Would purge the text of 0 row(s)" in dry.output
