"""Edits of one question handled by two workers on one PostgreSQL (Slack over HTTP behind a
load balancer, a replay taken over from a dead worker): the newest edit's answer stands, an
older edit arriving late revises nothing, and an edit that reaches another worker while the
question is still being answered revises that answer once it is out (bot/store/revisions.py).
The same sequences on one worker are tests/bot/test_core_invariants.py's."""

from __future__ import annotations

import asyncio
import io
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.console import ConsoleChannel
from bot.app import Runtime, build_runtime
from bot.cluster import Presence
from bot.config import load_settings
from bot.inbox import serialise_message
from bot.ports import PostChanged
from bot.types import InboundMessage, Outcome, Posted, Reply
from tests.bot.test_core_invariants import TOML, message
from tests.fakes.clock import FakeClock


def _worker(tmp: Path, knowledge: Path, url: str, clock: FakeClock, name: str, **kw: Any) -> Runtime:
    config = tmp / f"{name}.toml"
    config.write_text(textwrap.dedent(TOML), encoding="utf-8")
    settings = load_settings(
        config=config, knowledge=knowledge, data=tmp / f"data-{name}", env={"SUPPORTBOT_DATABASE_URL": url}
    )
    return build_runtime(settings, clock=clock, **kw)


def edit(text: str, n: int, q: str) -> InboundMessage:
    made = datetime(2026, 11, 30, 10, n, tzinfo=UTC)
    return replace(message(text, id=f"{q}:edited:{n}"), edited=True, edit_of=q, edited_at=made)


async def test_an_older_edit_arriving_at_another_worker_does_not_undo_the_newer_revision(
    pg_url: str, tmp_path: Path, knowledge_dir: Path, clock: FakeClock
) -> None:
    a = _worker(tmp_path, knowledge_dir, pg_url, clock, "a")
    b = _worker(tmp_path, knowledge_dir, pg_url, clock, "b")
    channel = ConsoleChannel(io.StringIO())
    try:
        for rt in (a, b):
            await Presence(store=rt.store, clock=clock, platforms=["slack"]).join()
        assert (
            await a.bot.on_message(message("How do I reset my password?", id="q-x"), channel)
            == Outcome.ANSWERED
        )
        # the newer edit (10:02) reaches worker A and revises the answer
        assert (
            await a.bot.on_message(edit("How long does a refund take?", 2, "q-x"), channel)
            == Outcome.ANSWERED
        )
        revised = channel.edits[-1][1].text
        assert "five to seven business days" in revised
        # the older edit (10:01), delivered late (a platform retry / redelivery), reaches worker B
        outcome = await b.bot.on_message(edit("How do I reset my password again?", 1, "q-x"), channel)
        assert outcome == Outcome.IGNORED
        assert channel.edits[-1][1].text == revised, channel.edits[-1][1].text[:200]
    finally:
        a.close()
        b.close()


async def test_a_replay_on_another_worker_of_an_older_edit_does_not_undo_the_newer_revision(
    pg_url: str, tmp_path: Path, knowledge_dir: Path, clock: FakeClock
) -> None:
    """As tests/bot/test_core_invariants.py's single-process replay test, but the older edit
    is replayed by the other worker's clock."""
    a = _worker(tmp_path, knowledge_dir, pg_url, clock, "a")
    b = _worker(tmp_path, knowledge_dir, pg_url, clock, "b")
    channel = ConsoleChannel(io.StringIO())
    try:
        pa = Presence(store=a.store, clock=clock, platforms=["slack"])
        pb = Presence(store=b.store, clock=clock, platforms=["slack"])
        await pa.join()
        await pb.join()
        assert (
            await a.bot.on_message(message("How do I reset my password?", id="q-y"), channel)
            == Outcome.ANSWERED
        )
        older = edit("How do I reset my password again?", 1, "q-y")
        assert a.state.claim_event("slack:msg:q-y:edited:1", "slack", serialise_message(older), clock.now())
        assert (
            await a.bot.on_message(edit("How long does a refund take?", 2, "q-y"), channel)
            == Outcome.ANSWERED
        )
        revised = channel.edits[-1][1].text
        assert "five to seven business days" in revised
        clock.advance(seconds=60)
        await pa.beat()
        await pb.beat()
        await b.bot.tick({"slack": channel})
        await b.bot.settle()
        assert channel.edits[-1][1].text == revised, channel.edits[-1][1].text[:200]
    finally:
        a.close()
        b.close()


async def test_control_same_sequence_on_one_worker_keeps_the_newer_revision(
    pg_url: str, tmp_path: Path, knowledge_dir: Path, clock: FakeClock
) -> None:
    a = _worker(tmp_path, knowledge_dir, pg_url, clock, "a")
    channel = ConsoleChannel(io.StringIO())
    try:
        await Presence(store=a.store, clock=clock, platforms=["slack"]).join()
        assert (
            await a.bot.on_message(message("How do I reset my password?", id="q-z"), channel)
            == Outcome.ANSWERED
        )
        assert (
            await a.bot.on_message(edit("How long does a refund take?", 2, "q-z"), channel)
            == Outcome.ANSWERED
        )
        revised = channel.edits[-1][1].text
        assert (
            await a.bot.on_message(edit("How do I reset my password again?", 1, "q-z"), channel)
            == Outcome.IGNORED
        )
        assert channel.edits[-1][1].text == revised
    finally:
        a.close()


async def test_a_dead_workers_older_edit_replayed_by_another_worker_revises_nothing(
    pg_url: str, tmp_path: Path, knowledge_dir: Path, clock: FakeClock
) -> None:
    """Worker A holds the older edit's claim and answers the newer edit, then dies (kill -9).
    Worker B takes the older edit over once A stops beating: it must revise nothing."""
    from bot.store.workers import MAX_SKEW, WORKER_LEASE

    a = _worker(tmp_path, knowledge_dir, pg_url, clock, "a")
    b = _worker(tmp_path, knowledge_dir, pg_url, clock, "b")
    channel = ConsoleChannel(io.StringIO())
    try:
        pa = Presence(store=a.store, clock=clock, platforms=["slack"])
        pb = Presence(store=b.store, clock=clock, platforms=["slack"])
        await pa.join()
        await pb.join()
        assert (
            await a.bot.on_message(message("How do I reset my password?", id="q-d"), channel)
            == Outcome.ANSWERED
        )
        older = edit("How do I reset my password again?", 1, "q-d")
        assert a.state.claim_event("slack:msg:q-d:edited:1", "slack", serialise_message(older), clock.now())
        assert (
            await a.bot.on_message(edit("How long does a refund take?", 2, "q-d"), channel)
            == Outcome.ANSWERED
        )
        revised = channel.edits[-1][1].text
        assert "five to seven business days" in revised
        # A dies here: B keeps beating, A's heartbeat stays still for more than a lease
        for _ in range(4):
            clock.advance(seconds=(WORKER_LEASE + MAX_SKEW).total_seconds() / 2 + 5)
            await pb.beat()
        await b.bot.tick({"slack": channel})
        await b.bot.settle()
        assert channel.edits[-1][1].text == revised, channel.edits[-1][1].text[:200]
    finally:
        a.close()
        b.close()


async def test_an_edit_reaching_another_worker_while_the_question_is_answered_is_not_lost(
    pg_url: str, tmp_path: Path, knowledge_dir: Path, clock: FakeClock
) -> None:
    """As test_core_invariants' `test_an_edit_made_while_the_question_is_still_being_answered_
    revises_that_answer`, but the edit's event is delivered to worker B (a load balancer)."""
    from tests.bot.test_core_invariants import GatedChannel

    a = _worker(tmp_path, knowledge_dir, pg_url, clock, "a")
    b = _worker(tmp_path, knowledge_dir, pg_url, clock, "b")
    channel = GatedChannel()
    try:
        for rt in (a, b):
            await Presence(store=rt.store, clock=clock, platforms=["slack"]).join()
        answering = asyncio.create_task(
            a.bot.on_message(message("How long does a refund take?", id="q-slow2"), channel)
        )
        await asyncio.wait_for(channel.reached.wait(), 5)
        the_edit = replace(
            message("How do I reset my password?", id="q-slow2:edited:1"),
            edited=True,
            edit_of="q-slow2",
            edited_at=datetime(2026, 11, 30, 10, 1, tzinfo=UTC),
        )
        editing = asyncio.create_task(b.bot.on_message(the_edit, channel))
        await asyncio.sleep(0.3)
        channel.go_on.set()
        assert await asyncio.wait_for(answering, 10) == Outcome.ANSWERED
        edit_outcome = await asyncio.wait_for(editing, 10)
        assert edit_outcome == Outcome.FAILED  # left for a later pass, not finished
        await b.bot.tick({"slack": channel})
        await b.bot.settle()
        await a.bot.tick({"slack": channel})
        await a.bot.settle()
        [(posted, _)] = [(p, r) for p, r in channel.posted if r.kind.name == "ANSWER"]
        shown = channel.current[posted.message_id].text
        assert "Forgot password" in shown, (edit_outcome, shown[:150])
    finally:
        a.close()
        b.close()


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
    pg_url: str, tmp_path: Path, knowledge_dir: Path, clock: FakeClock
) -> None:
    """Worker B is revising the answer for the older edit when the newer one reaches worker A:
    A leaves it for a later pass (before, both revised at once and the slower one's text was
    left, the older question's answer as often as not); once B is done, A's clock revises
    the answer to the newer edit."""
    a = _worker(tmp_path, knowledge_dir, pg_url, clock, "a")
    b = _worker(tmp_path, knowledge_dir, pg_url, clock, "b")
    channel = HeldEdit()
    try:
        for rt in (a, b):
            await Presence(store=rt.store, clock=clock, platforms=["slack"]).join()
        assert await a.bot.on_message(message("How long does a refund take?", id="q-c"), channel) == (
            Outcome.ANSWERED
        )
        older = asyncio.create_task(b.bot.on_message(edit("How do I reset my password?", 1, "q-c"), channel))
        await asyncio.wait_for(channel.reached.wait(), 5)
        newer = edit("How long does a refund take to arrive?", 2, "q-c")
        assert await a.bot.on_message(newer, channel) == Outcome.FAILED  # left: B holds the turn
        channel.go_on.set()
        assert await asyncio.wait_for(older, 10) == Outcome.ANSWERED
        assert "Forgot password" in channel.edits[-1][1].text
        await a.bot.tick({"slack": channel})
        await a.bot.settle()
        assert "five to seven business days" in channel.edits[-1][1].text
        assert a.state.pending_events("slack", clock.now() + timedelta(minutes=5)) == []
    finally:
        a.close()
        b.close()
