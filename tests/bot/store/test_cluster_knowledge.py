"""Changes to the knowledge folder made through one worker (an approved draft, `/support
reindex`) on workers sharing one knowledge folder and one PostgreSQL database: each worker's
index is its own, and the others sync theirs at their next clock tick (bot/cluster.py's
SharedKnowledge). The folder watcher is off, so the tick alone carries the change."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.core import Outcome
from bot.messages import say
from bot.types import Author
from tests.bot.store.test_cluster import workers_of
from tests.bot.test_escalation import ADMIN, CONFIG, STAFF, command, msg, texts
from tests.fakes.clock import FakeClock

OTHERS_FOLLOW = say("others_follow")

# the folder is re-read only at start, on `supportbot index` and on `/support reindex`
WATCH_OFF = CONFIG + "\n[knowledge]\nwatch_seconds = 0\n"
ASKED = "how can I rotate my webhook signing key?"
Workers = Callable[[int], list[Runtime]]


@pytest.fixture
def workers(tmp_path: Path, knowledge_dir: Path, pg_url: str, clock: FakeClock) -> Iterator[Workers]:
    """`n` workers on the test's database and one knowledge folder, each with its data dir."""
    yield from workers_of(WATCH_OFF, tmp_path, knowledge_dir, pg_url, clock)


async def ticks(runtime: Runtime, channel: ConsoleChannel) -> None:
    await runtime.bot.tick({"slack": channel})
    await runtime.bot.settle()


async def test_an_approved_answer_is_answered_by_every_worker(workers: Workers) -> None:
    """`learn approve` replied "The bot answers this question now.", but only the worker that
    ran the command re-read the folder: the other worker still handed the same question to a
    person (a new ticket) until it restarted. Now the approval is counted in the store and the
    other worker syncs its index at its next tick; the reply says the others follow."""
    a, b = workers(2)
    channel = ConsoleChannel(io.StringIO())
    assert (
        await a.bot.on_message(msg("How do I rotate the webhook signing key?"), channel) == Outcome.ESCALATED
    )
    [ticket] = a.state.tickets()
    staff_answer = (
        "Open Settings, then Webhooks, and press Rotate signing key. The old webhook signing key keeps "
        "working for 24 hours so you can update your receivers."
    )
    await a.bot.on_message(
        msg(staff_answer, author=STAFF, thread=ticket.conversation.thread, addressed=False), channel
    )
    await a.bot.on_command(command("resolve", str(ticket.id), STAFF), channel)
    await a.bot.on_command(command("learn", "approve 1", ADMIN), channel)
    assert "The bot answers this question now." in texts(channel)[-1]
    assert OTHERS_FOLLOW in texts(channel)[-1]
    assert await a.bot.on_message(msg(ASKED, author=Author(id="U-A")), channel) == Outcome.ANSWERED

    await ticks(b, channel)
    outcome = await b.bot.on_message(msg(ASKED, author=Author(id="U-NEW")), channel)
    assert outcome == Outcome.ANSWERED, texts(channel)[-1]


async def test_support_reindex_reaches_every_worker(workers: Workers, knowledge_dir: Path) -> None:
    """`/support reindex` re-read the folder on the worker that ran it alone: the others kept
    answering from the folder as it was when they started. Now they sync at their next tick."""
    a, b = workers(2)
    channel = ConsoleChannel(io.StringIO())
    (knowledge_dir / "webhooks.md").write_text(
        "# Rotating the webhook signing key\n\nOpen Settings, then Webhooks, and press Rotate signing key. "
        "The old webhook signing key keeps working for 24 hours.\n",
        encoding="utf-8",
    )
    await a.bot.on_command(command("reindex", "", ADMIN), channel)
    assert "1 added" in texts(channel)[-1] and OTHERS_FOLLOW in texts(channel)[-1]
    assert await a.bot.on_message(msg(ASKED, author=Author(id="U-A")), channel) == Outcome.ANSWERED

    await ticks(b, channel)
    outcome = await b.bot.on_message(msg(ASKED, author=Author(id="U-NEW")), channel)
    assert outcome == Outcome.ANSWERED, texts(channel)[-1]


async def test_the_worker_that_made_the_change_does_not_sync_again(
    workers: Workers, knowledge_dir: Path
) -> None:
    """Its own reindex already read the change: its tick reads the count and finds nothing
    new, so a file written after it waits for the next reindex, as on a single worker."""
    [a] = workers(1)
    channel = ConsoleChannel(io.StringIO())
    await a.bot.on_command(command("reindex", "", ADMIN), channel)
    (knowledge_dir / "webhooks.md").write_text(
        "# Rotating the webhook signing key\n\nOpen Settings, then Webhooks, and press Rotate signing key.\n",
        encoding="utf-8",
    )
    await ticks(a, channel)
    assert await a.bot.on_message(msg(ASKED, author=Author(id="U-A")), channel) == Outcome.ESCALATED
