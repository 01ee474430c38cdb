"""A worker paused past its lease asks the inbox before it posts (bot/fence.py).

Two real workers (build_runtime) on one PostgreSQL, a fake clock, the offline answerer held
in its answer as a slow model would be: a worker that stops beating there (a suspended VM,
SIGSTOP) is taken for dead and its question answered by the other. Resumed, it must not
post a second answer; a worker that beat all along, or was paused but not taken over, answers
as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.answering.extractive import ExtractiveAnswerer
from bot.app import Runtime, build_runtime
from bot.cluster import Presence, join
from bot.config import load_settings
from bot.store import StateStore
from bot.store.workers import WORKER_LEASE
from bot.types import Answer, Outcome
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401  (fixtures)
from tests.bot.test_cluster_outage import HeldAnswerer, _worker
from tests.bot.test_exactly_once import Platform, question
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(60)


async def _present(runtime: Runtime, clock: FakeClock) -> Presence:
    """The runtime as `supportbot run` makes it a worker (bot/supervisor.py)."""
    return await join(
        store=runtime.store,
        clock=clock,
        platforms=["slack"],
        lease=WORKER_LEASE,
        deliveries=runtime.bot.deliveries,
    )


@pytest.fixture
async def two(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
    knowledge_dir: Path,
    clock: FakeClock,
) -> AsyncIterator[tuple[Runtime, Presence, HeldAnswerer, Runtime, Presence]]:
    """Worker a, whose answers wait for `release`, and worker b, on one database."""
    held = HeldAnswerer()
    a = _worker(tmp_path, knowledge_dir, pg_url, clock, "a", answerer=held)
    b = _worker(tmp_path, knowledge_dir, pg_url, clock, "b")
    try:
        yield a, await _present(a, clock), held, b, await _present(b, clock)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("beats_first", [False, True], ids=["posting-first", "beating-first"])
async def test_a_worker_resumed_after_another_took_its_question_over_does_not_answer_it_again(
    two: tuple[Runtime, Presence, HeldAnswerer, Runtime, Presence],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    beats_first: bool,
) -> None:
    """Resumed, its answer may come before its next heartbeat or after it: a fresh heartbeat
    says nothing of the pause before it."""
    a, a_presence, held, b, b_presence = two
    platform = Platform()
    answering = asyncio.ensure_future(
        a.bot.on_message(question("How long does a refund take?", "q1"), platform)
    )
    await asyncio.wait_for(held.entered.wait(), 10)  # in its model call, then paused: no beats
    for _ in range(8):  # four minutes of b beating and ticking
        clock.advance(seconds=30)
        await b_presence.beat()
        await b.bot.tick({"slack": platform})
        await b.bot.settle()
    assert len(platform.answers()) == 1  # b took it over and answered it
    caplog.set_level(logging.WARNING, logger="bot.delivery")
    if beats_first:
        await a_presence.beat()
    held.release.set()  # resumed where it was
    assert await asyncio.wait_for(answering, 30) is Outcome.DUPLICATE
    assert len(platform.answers()) == 1, platform.answers()
    assert platform.leftovers() == []
    assert any("took this message over while this one was paused" in r.getMessage() for r in caplog.records)
    assert await b.store.run(StateStore.event_post, "slack:msg:q1") is not None  # b's post, noted


async def test_a_worker_that_beat_all_along_answers_its_slow_question_without_asking(
    two: tuple[Runtime, Presence, HeldAnswerer, Runtime, Presence],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, a_presence, held, b, b_presence = two
    asked: list[str] = []
    holds = StateStore.holds_event
    monkeypatch.setattr(StateStore, "holds_event", lambda self, key: asked.append(key) or holds(self, key))
    platform = Platform()
    answering = asyncio.ensure_future(
        a.bot.on_message(question("How long does a refund take?", "q2"), platform)
    )
    await asyncio.wait_for(held.entered.wait(), 10)
    for _ in range(8):  # a slow model: four minutes, a beating all along
        clock.advance(seconds=30)
        await a_presence.beat()
        await b_presence.beat()
        await b.bot.tick({"slack": platform})
        await b.bot.settle()
    assert platform.answers() == []  # not taken from a live worker
    held.release.set()
    assert await asyncio.wait_for(answering, 30) is Outcome.ANSWERED
    assert len(platform.answers()) == 1
    assert asked == []  # its beats said it was never taken for dead: no read before posting


async def test_a_worker_paused_but_not_taken_over_answers_once_it_resumes(
    two: tuple[Runtime, Presence, HeldAnswerer, Runtime, Presence],
    clock: FakeClock,
) -> None:
    a, a_presence, held, _, _ = two
    platform = Platform()
    answering = asyncio.ensure_future(
        a.bot.on_message(question("How long does a refund take?", "q3"), platform)
    )
    await asyncio.wait_for(held.entered.wait(), 10)
    clock.advance(seconds=240)  # paused four minutes; nobody else ticked meanwhile
    await a_presence.beat()  # resumed: its heartbeat comes first
    held.release.set()
    assert await asyncio.wait_for(answering, 30) is Outcome.ANSWERED
    assert len(platform.answers()) == 1


class _PausedMidStream:
    """A streaming model whose first words are shown, then held (the process paused in its
    stream) until `release`; resumed, it streams on and ends with an answer of its own."""

    name = "streaming"

    def __init__(self) -> None:
        self.inner = ExtractiveAnswerer(threshold=0.1, max_sources=3)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def answer(self, *args: Any, **kwargs: Any) -> Answer:
        on_text = args[5]  # the stream sink, after question, passages, history, language, confidence
        await on_text("Refunds go back")
        self.entered.set()
        await self.release.wait()
        await on_text("Refunds go back to the card, says the paused worker")
        answer = await self.inner.answer(*args, **kwargs)
        return replace(answer, text=f"PAUSED {answer.text}")


async def test_a_worker_paused_mid_stream_and_taken_over_leaves_the_answer_given_in_its_post(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
    knowledge_dir: Path,
    clock: FakeClock,
) -> None:
    """Paused after its first streamed words were posted, the worker's event is taken over by
    another, which answers in that same post. It used to go on where it was once resumed: it
    returned ANSWERED and edited the post with its own answer (the asker saw it change), its
    answer's record replaced the other's, and the thread kept a second bot message for the one
    post (fed back to the model as history). Its edits and its record are fenced now, as its
    posts were, and so is its finish: it stops (DUPLICATE) and what the other said stays."""
    streaming = _PausedMidStream()
    a = _worker(tmp_path, knowledge_dir, pg_url, clock, "a", answerer=streaming)
    b = _worker(tmp_path, knowledge_dir, pg_url, clock, "b")
    try:
        await _present(a, clock)
        b_presence = await _present(b, clock)
        platform = Platform()
        answering = asyncio.ensure_future(
            a.bot.on_message(question("How long does a refund take?", "q6"), platform)
        )
        await asyncio.wait_for(streaming.entered.wait(), 10)
        assert len(platform.posted) == 1  # its first words are out, then it is paused
        for _ in range(8):  # four minutes of b beating and ticking
            clock.advance(seconds=30)
            await b_presence.beat()
            await b.bot.tick({"slack": platform})
            await b.bot.settle()
        [given] = platform.answers()  # b took it over and answered in a's post
        streaming.release.set()  # a resumes in the middle of its stream
        assert await asyncio.wait_for(answering, 30) is Outcome.DUPLICATE
        assert platform.answers() == [given] and platform.leftovers() == []
        assert len(platform.posted) == 1
        recorded = b.state.db.execute("select answer from answers").fetchall()
        assert [row[0].startswith("PAUSED") for row in recorded] == [False]
        kept = b.state.db.execute("select count(*) from messages where role = 'bot'").fetchone()
        assert kept == (1,)
        assert (await b.store.run(StateStore.stats)).answered == 1
    finally:
        a.close()
        b.close()


class _FailingAfterPause:
    """A model call held (the process paused in it), then failing: its stream was cut."""

    name = "failing"

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def answer(self, *args: object, **kwargs: object) -> Answer:
        self.entered.set()
        await self.release.wait()
        raise RuntimeError("connection reset while paused")


async def test_a_resumed_worker_whose_answer_then_fails_apologises_for_nothing_another_answered(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
    knowledge_dir: Path,
    clock: FakeClock,
) -> None:
    """The fence stops the apology too: the question was answered by the worker that took it."""
    failing = _FailingAfterPause()
    a = _worker(tmp_path, knowledge_dir, pg_url, clock, "a", answerer=failing)
    b = _worker(tmp_path, knowledge_dir, pg_url, clock, "b")
    try:
        await _present(a, clock)
        b_presence = await _present(b, clock)
        platform = Platform()
        answering = asyncio.ensure_future(
            a.bot.on_message(question("How long does a refund take?", "q4"), platform)
        )
        await asyncio.wait_for(failing.entered.wait(), 10)
        for _ in range(8):
            clock.advance(seconds=30)
            await b_presence.beat()
            await b.bot.tick({"slack": platform})
            await b.bot.settle()
        posted = len(platform.posted)
        failing.release.set()
        assert await asyncio.wait_for(answering, 30) is Outcome.DUPLICATE
        assert len(platform.posted) == posted and len(platform.answers()) == 1
    finally:
        a.close()
        b.close()


async def test_what_follows_a_finished_answer_is_not_fenced(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
    knowledge_dir: Path,
    clock: FakeClock,
) -> None:
    """Paused and resumed with nobody taking over, the worker answers, finishes the event,
    and then welcomes a first-time asker: the inbox no longer holds the finished event, and
    the fence must not take that for a takeover."""
    config = tmp_path / "welcome.toml"
    config.write_text("[journey]\nwelcome = true\n", encoding="utf-8")
    settings = load_settings(
        config=config,
        knowledge=knowledge_dir,
        data=tmp_path / "data",
        env={"SUPPORTBOT_DATABASE_URL": pg_url},
    )
    held = HeldAnswerer()
    a = build_runtime(settings, clock=clock, answerer=held)
    try:
        await _present(a, clock)
        platform = Platform()
        answering = asyncio.ensure_future(
            a.bot.on_message(question("How long does a refund take?", "q5"), platform)
        )
        await asyncio.wait_for(held.entered.wait(), 10)
        clock.advance(seconds=240)  # paused; resumed, it answers before its next heartbeat
        held.release.set()
        assert await asyncio.wait_for(answering, 30) is Outcome.ANSWERED
        assert len(platform.answers()) == 1
        assert len(platform.posted) == 2  # the answer, then the welcome
    finally:
        a.close()
