"""Edits of one question handled by two workers on one PostgreSQL (Slack over HTTP behind a
load balancer, a replay taken over from a dead worker): the newest edit's answer stands, an
older edit arriving late revises nothing, and an edit that reaches another worker while the
question is still being answered revises that answer once it is out (bot/store/revisions.py).
The same sequences on one worker are tests/bot/test_core_invariants.py's."""

from __future__ import annotations

import asyncio
import io
import textwrap
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime, build_runtime
from bot.cluster import Presence
from bot.config import load_settings
from bot.inbox import serialise_message
from bot.ports import PostChanged
from bot.store.workers import MAX_SKEW, WORKER_LEASE
from bot.types import InboundMessage, Outcome, Posted, Reply
from tests.bot.store.test_cluster import _free_after_a_refusal
from tests.bot.test_core_invariants import TOML, GatedChannel, message
from tests.fakes.clock import FakeClock


@dataclass
class Worker:
    runtime: Runtime
    presence: Presence

    async def says(self, said: InboundMessage, channel: ConsoleChannel) -> Outcome:
        return await self.runtime.bot.on_message(said, channel)

    async def ticks(self, channel: ConsoleChannel) -> None:
        await self.runtime.bot.tick({"slack": channel})
        await self.runtime.bot.settle()


@pytest.fixture
async def workers(
    pg_url: str, tmp_path: Path, knowledge_dir: Path, clock: FakeClock
) -> AsyncIterator[tuple[Worker, Worker]]:
    """Two workers on one PostgreSQL, both beating."""
    made: list[Worker] = []
    for name in ("a", "b"):
        config = tmp_path / f"{name}.toml"
        config.write_text(textwrap.dedent(TOML), encoding="utf-8")
        settings = load_settings(
            config=config,
            knowledge=knowledge_dir,
            data=tmp_path / f"data-{name}",
            env={"SUPPORTBOT_DATABASE_URL": pg_url},
        )
        runtime = build_runtime(settings, clock=clock)
        presence = Presence(store=runtime.store, clock=clock, platforms=["slack"])
        await presence.join()
        made.append(Worker(runtime, presence))
    yield made[0], made[1]
    for worker in made:
        worker.runtime.close()


def edit(text: str, minute: int, question: str) -> InboundMessage:
    """The asker's edit of `question`, made at 10:`minute`."""
    made = datetime(2026, 11, 30, 10, minute, tzinfo=UTC)
    return replace(
        message(text, id=f"{question}:edited:{minute}"), edited=True, edit_of=question, edited_at=made
    )


async def answered_then_revised(
    a: Worker, channel: ConsoleChannel, question: str, *, kept_older: bool
) -> str:
    """`question` answered by A, then revised by A for the newer edit (10:02); with `kept_older`,
    A first claimed the older edit (10:01) and holds it unhandled. The revised answer's text."""
    assert await a.says(message("How do I reset my password?", id=question), channel) == Outcome.ANSWERED
    if kept_older:
        older = edit("How do I reset my password again?", 1, question)
        key = f"slack:msg:{older.id}"
        assert a.runtime.state.claim_event(key, "slack", serialise_message(older), a.presence.clock.now())
    assert await a.says(edit("How long does a refund take?", 2, question), channel) == Outcome.ANSWERED
    revised = channel.edits[-1][1].text
    assert "five to seven business days" in revised
    return revised


async def test_an_older_edit_arriving_at_another_worker_revises_nothing(
    workers: tuple[Worker, Worker],
) -> None:
    a, b = workers
    channel = ConsoleChannel(io.StringIO())
    revised = await answered_then_revised(a, channel, "q-x", kept_older=False)
    # the older edit (10:01), delivered late (a platform's retry), reaches worker B
    assert await b.says(edit("How do I reset my password again?", 1, "q-x"), channel) == Outcome.IGNORED
    assert channel.edits[-1][1].text == revised


async def test_an_older_edit_replayed_by_another_worker_revises_nothing(
    workers: tuple[Worker, Worker], clock: FakeClock
) -> None:
    """A holds the older edit unhandled; B's clock replays it once A's claim lease passes, and
    again once A is taken for dead (kill -9): it revises nothing either way."""
    a, b = workers
    channel = ConsoleChannel(io.StringIO())
    revised = await answered_then_revised(a, channel, "q-d", kept_older=True)
    clock.advance(seconds=60)
    await a.presence.beat()
    await b.presence.beat()
    await b.ticks(channel)
    assert channel.edits[-1][1].text == revised
    for _ in range(4):  # A dies: B beats on, A's heartbeat stays still past a lease
        clock.advance(seconds=(WORKER_LEASE + MAX_SKEW).total_seconds() / 2 + 5)
        await b.presence.beat()
    await b.ticks(channel)
    assert channel.edits[-1][1].text == revised


async def test_on_one_worker_an_older_edit_revises_nothing(workers: tuple[Worker, Worker]) -> None:
    a, _ = workers
    channel = ConsoleChannel(io.StringIO())
    revised = await answered_then_revised(a, channel, "q-z", kept_older=False)
    assert await a.says(edit("How do I reset my password again?", 1, "q-z"), channel) == Outcome.IGNORED
    assert channel.edits[-1][1].text == revised


async def test_an_edit_reaching_another_worker_while_the_question_is_answered_is_not_lost(
    workers: tuple[Worker, Worker],
) -> None:
    """As test_core_invariants' `test_an_edit_made_while_the_question_is_still_being_answered_
    revises_that_answer`, but the edit's event is delivered to worker B (a load balancer)."""
    a, b = workers
    channel = GatedChannel()
    answering = asyncio.create_task(a.says(message("How long does a refund take?", id="q-slow"), channel))
    await asyncio.wait_for(channel.reached.wait(), 5)
    editing = asyncio.create_task(b.says(edit("How do I reset my password?", 1, "q-slow"), channel))
    await asyncio.sleep(0.3)
    channel.go_on.set()
    assert await asyncio.wait_for(answering, 10) == Outcome.ANSWERED
    assert await asyncio.wait_for(editing, 10) == Outcome.FAILED  # left for a later pass, not finished
    await b.ticks(channel)
    [(posted, _)] = [(p, r) for p, r in channel.posted if r.kind.name == "ANSWER"]
    assert "Forgot password" in channel.current[posted.message_id].text


class HeldEdit(ConsoleChannel):
    """The first edit of a post waits until the test lets it go on: a revision under way."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.reached, self.go_on = asyncio.Event(), asyncio.Event()

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        if not self.reached.is_set():
            self.reached.set()
            await self.go_on.wait()
        return await super().edit(posted, reply, on_change)


async def test_a_newer_edit_waits_for_an_older_one_revising_on_another_worker_then_stands(
    workers: tuple[Worker, Worker], clock: FakeClock
) -> None:
    """Worker B is revising the answer for the older edit when the newer one reaches worker A:
    A leaves it for a later pass (before, both revised at once and the slower one's text was
    left, the older question's answer as often as not); once B is done, A's clock revises
    the answer to the newer edit."""
    a, b = workers
    channel = HeldEdit()
    assert await a.says(message("How long does a refund take?", id="q-c"), channel) == Outcome.ANSWERED
    older = asyncio.create_task(b.says(edit("How do I reset my password?", 1, "q-c"), channel))
    await asyncio.wait_for(channel.reached.wait(), 5)
    newer = edit("How long does a refund take to arrive?", 2, "q-c")
    assert await a.says(newer, channel) == Outcome.FAILED  # left: B holds the turn
    channel.go_on.set()
    assert await asyncio.wait_for(older, 10) == Outcome.ANSWERED
    assert "Forgot password" in channel.edits[-1][1].text
    await a.ticks(channel)
    assert "five to seven business days" in channel.edits[-1][1].text
    assert a.runtime.state.pending_events("slack", clock.now() + timedelta(minutes=5)) == []


async def test_an_edit_whose_turn_a_stuck_peer_holds_is_revised_later_without_an_apology(
    workers: tuple[Worker, Worker], pg_url: str, clock: FakeClock
) -> None:
    """A peer stuck in its transaction holds the message's turn row past the lock timeout:
    nothing was done for the edit, so it is tried again at a later pass and revises the answer
    then; before, the asker got an apology, staff a ticket, and the edit was never applied."""
    a, b = workers
    channel = ConsoleChannel(io.StringIO())
    assert await a.says(message("How do I reset my password?", id="q-r"), channel) == Outcome.ANSWERED
    assert await a.says(edit("How do I reset my password please?", 1, "q-r"), channel) == Outcome.ANSWERED
    said = len(channel.posted)
    holder = psycopg.connect(pg_url)
    holder.execute("select message from revisions for update")
    freeing = threading.Thread(target=_free_after_a_refusal, args=(pg_url, holder))
    freeing.start()
    assert await b.says(edit("How long does a refund take?", 2, "q-r"), channel) == Outcome.FAILED  # left
    freeing.join()
    for _ in range(3):
        clock.advance(seconds=30)
        await a.presence.beat()
        await b.presence.beat()
        await b.ticks(channel)
    assert channel.posted[said:] == []  # nothing new said: the answer is edited in place
    assert "five to seven business days" in channel.edits[-1][1].text
    assert a.runtime.state.tickets() == []
