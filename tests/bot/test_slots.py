"""The answer pool's lanes (bot/slots.py): fresh questions before late ones, the late lane
never shut out, and no slot lost to a waiter cancelled at any moment; then the same through
the real core, where a read-back's backlog of old questions no longer holds up a new one."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot import faults
from bot.app import Runtime
from bot.ports import PostChanged
from bot.slots import LATE_SHARE, Lane, Pool, Slots
from bot.types import Author, ConversationRef, InboundMessage, Outcome, Posted, Reply
from tests.bot.test_exactly_once import TOML, Platform, model, question  # noqa: F401  (fixture)
from tests.fakes.clock import FakeClock
from tests.fakes.openai_server import FakeOpenAI

STAFF = Author(id="U-STAFF", name="Sam")


async def _served(slots: Slots, queue: list[tuple[str, Lane]]) -> list[str]:
    """With the one slot held, `queue` waits in order; then the slot is freed: the order in
    which the waiters get it."""
    order: list[str] = []
    gate = asyncio.Event()

    async def holder() -> None:
        async with slots.slot(Lane.FRESH):
            await gate.wait()

    async def waiter(name: str, lane: Lane) -> None:
        async with slots.slot(lane):
            order.append(name)

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    tasks = []
    for name, lane in queue:
        tasks.append(asyncio.create_task(waiter(name, lane)))
        await asyncio.sleep(0)  # queued in this order
    gate.set()
    await asyncio.gather(held, *tasks)
    return order


async def test_a_freed_slot_goes_to_a_fresh_question_before_older_late_ones() -> None:
    order = await _served(Slots(1), [("late-1", Lane.LATE), ("late-2", Lane.LATE), ("fresh", Lane.FRESH)])
    assert order == ["fresh", "late-1", "late-2"]


async def test_the_late_lane_keeps_its_share_while_fresh_questions_keep_coming() -> None:
    queue = [(f"f{i}", Lane.FRESH) for i in range(8)] + [("l0", Lane.LATE), ("l1", Lane.LATE)]
    order = await _served(Slots(1), queue)
    late_at = [i for i, name in enumerate(order) if name.startswith("l")]
    assert late_at == [LATE_SHARE - 1, 2 * LATE_SHARE - 1]  # one slot in LATE_SHARE
    assert [n for n in order if n.startswith("f")] == [f"f{i}" for i in range(8)]  # in order


async def test_cancelled_waiters_take_no_slot_and_lose_none() -> None:
    slots = Slots(2)
    gate = asyncio.Event()

    async def hold(lane: Lane) -> None:
        async with slots.slot(lane):
            await gate.wait()

    holders = [asyncio.create_task(hold(Lane.FRESH)) for _ in range(2)]
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(hold(lane)) for lane in (Lane.LATE, Lane.FRESH, Lane.LATE)]
    await asyncio.sleep(0)
    waiting[1].cancel()  # cancelled while it waits
    gate.set()
    # cancelled in the same turn as it is handed a slot: the slot goes on, not lost
    await asyncio.sleep(0)
    waiting[0].cancel()
    results = await asyncio.gather(*holders, *waiting, return_exceptions=True)
    assert sum(isinstance(r, asyncio.CancelledError) for r in results) >= 1
    # both slots are free again: two get in at once (a lost slot would leave the second waiting)
    async with asyncio.timeout(1):
        async with slots.slot(Lane.LATE), slots.slot(Lane.FRESH):
            pass


def test_a_pool_needs_a_slot() -> None:
    with pytest.raises(ValueError):
        Slots(0)


class Gated(Platform):
    """A post to C-FIRST waits at the gate, holding the pool's one slot; every post and edit
    is logged in order."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.at_gate = asyncio.Event()
        self.log: list[str] = []

    async def send(self, reply: Reply) -> Posted:
        if reply.conversation.channel == "C-FIRST":
            self.at_gate.set()
            await self.gate.wait()
        posted = await super().send(reply)
        self.log.append(f"send {reply.conversation.channel}")
        return posted

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        done = await super().edit(posted, reply, on_change)
        self.log.append(f"edit {posted.conversation.channel}")
        return done

    def order(self) -> list[str]:
        """The channels posted or edited in, by their first post or edit (staff's cards and
        the gate's channel left out)."""
        seen: list[str] = []
        for entry in self.log:
            channel = entry.split()[1]
            if channel not in seen and channel not in ("C-TRIAGE", "C-FIRST"):
                seen.append(channel)
        return seen


STAFF_TOML = "[answer]\nworkers = 1\n" + TOML  # U-STAFF is staff


def said(id: str, at: datetime, *, channel: str = "C-GENERAL", **fields: Any) -> InboundMessage:
    message = question(fields.pop("text", "How long does a refund take?"), id)
    where = ConversationRef(
        platform="slack", workspace="T1", channel=channel, thread=fields.pop("thread", None)
    )
    return dataclasses.replace(message, conversation=where, sent_at=at, **fields)


async def _held(runtime: Runtime, platform: Gated, at: datetime) -> asyncio.Task[Outcome]:
    """The pool's one slot held by a first answer, waiting at the gate."""
    first = asyncio.create_task(runtime.bot.on_message(said("first", at, channel="C-FIRST"), platform))
    async with asyncio.timeout(10):
        await platform.at_gate.wait()
    return first


def _ask(runtime: Runtime, platform: Gated, message: InboundMessage) -> asyncio.Task[Outcome]:
    return asyncio.create_task(runtime.bot.on_message(message, platform))


async def _killed_answering(
    make_runtime: Callable[..., Runtime], server: FakeOpenAI, point: str
) -> tuple[Gated, Callable[[], Runtime]]:
    """A process killed at `point` while it answers q-crash in C1 with a streamed model answer:
    the platform, and how to start the next process on the same data dir."""
    env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": server.api_key}
    toml = STAFF_TOML + "[llm]\nmax_retries = 0\n"
    platform = Gated()
    dying = make_runtime(toml, env)
    with faults.crash_at(point), pytest.raises(faults.Crash):
        await dying.bot.on_message(question("How long does a refund take?", "q-crash"), platform)
    return platform, lambda: make_runtime(toml, env)


async def test_a_new_question_and_an_edit_made_now_go_before_a_backlog_of_old_ones(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    runtime = make_runtime(STAFF_TOML)
    platform = Gated()
    asked = clock.now()
    assert (
        await runtime.bot.on_message(said("q1", asked, text="How do I reset my password?"), platform)
        == Outcome.ANSWERED
    )
    clock.advance(minutes=5)
    platform.log.clear()
    now = clock.now()
    first = await _held(runtime, platform, now)
    # a read-back hands over what was said an hour ago; then, live, a new question and an edit
    # of the question answered five minutes ago (its event carries the original's time)
    backlog = [
        _ask(runtime, platform, said(f"old{i}", now - timedelta(hours=1), channel=f"C-OLD{i}"))
        for i in range(3)
    ]
    await asyncio.sleep(0.05)
    new = _ask(runtime, platform, said("n1", now - timedelta(seconds=2), channel="C-NEW"))
    edit = said("q1:edited:1", asked, text="How do I reset my password on mobile?", edited=True, edit_of="q1")
    edited = _ask(runtime, platform, edit)
    await asyncio.sleep(0.05)
    platform.gate.set()
    async with asyncio.timeout(10):
        await asyncio.gather(first, new, edited, *backlog)
    order = platform.order()
    assert set(order[:2]) == {"C-NEW", "C-GENERAL"}  # the edit's answer is rewritten in C-GENERAL
    assert sorted(order[2:]) == ["C-OLD0", "C-OLD1", "C-OLD2"]


async def test_a_staff_reply_read_back_still_comes_before_a_live_follow_up_in_its_thread(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """After an outage the read-back hands over a staff reply said in the bot's thread 10
    minutes ago (a takeover); a moment later the asker writes in that thread, live. Messages of
    one conversation keep their order: the takeover comes first and the bot stays quiet."""
    runtime = make_runtime(STAFF_TOML)
    platform = Gated()
    asked = clock.now()
    assert (
        await runtime.bot.on_message(said("q1", asked, text="How do I reset my password?"), platform)
        == Outcome.ANSWERED
    )
    thread = platform.posted[0][1].conversation
    clock.advance(minutes=30)  # the outage; the bot is back
    now = clock.now()
    first = await _held(runtime, platform, now)
    where: dict[str, Any] = {"channel": thread.channel, "thread": thread.thread, "addressed": False}
    staff = _ask(
        runtime,
        platform,
        said("s1", now - timedelta(minutes=10), text="Let me check your account", author=STAFF, **where),
    )
    await asyncio.sleep(0.05)
    follow = _ask(runtime, platform, said("f1", now, text="thanks! how long is the link valid?", **where))
    await asyncio.sleep(0.05)
    platform.gate.set()
    async with asyncio.timeout(10):
        outcomes = await asyncio.gather(first, staff, follow)
    assert outcomes[1:] == [Outcome.RECORDED, Outcome.RECORDED]  # the bot stayed quiet


async def test_a_half_written_answer_is_finished_before_live_questions_after_a_slow_restart(
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    model: FakeOpenAI,  # noqa: F811
) -> None:
    """kill -9 while an answer streams (the asker sees half of it); the restart takes 90 s.
    The replay that finishes it is not late: queued before four live questions, it goes first."""
    platform, restart = await _killed_answering(make_runtime, model, "answer.noted")
    assert platform.leftovers()
    clock.advance(seconds=90)
    platform.log.clear()
    restarted = restart()
    now = clock.now()
    first = await _held(restarted, platform, now)
    replay = asyncio.create_task(restarted.bot.replay_pending("slack", platform))
    await asyncio.sleep(0.05)
    live = [_ask(restarted, platform, said(f"n{i}", now, channel=f"C-NEW{i}")) for i in range(4)]
    await asyncio.sleep(0.05)
    platform.gate.set()
    async with asyncio.timeout(20):
        await asyncio.gather(first, replay, *live)
    assert platform.leftovers() == []
    assert platform.order()[0] == "C1"  # the half-written answer, finished first


AUTO_TOML = STAFF_TOML + '[slack.channels.C-AUTO]\nmode = "auto-answer"\n'


class Logged(Gated):
    """Gated, logging which message each post answers (the thread a top-level message opened
    is named after its id on the console channel)."""

    def __init__(self) -> None:
        super().__init__()
        self.answered: list[str] = []

    async def send(self, reply: Reply) -> Posted:
        posted = await super().send(reply)
        if reply.conversation.channel not in ("C-FIRST", "C-TRIAGE"):
            self.answered.append(reply.in_reply_to or reply.conversation.thread or "?")
        return posted

    def firsts(self) -> list[str]:
        seen: list[str] = []
        for m in self.answered:
            if m not in seen:
                seen.append(m)
        return seen


async def test_a_live_reply_in_a_read_back_questions_thread_is_not_lost(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    runtime = make_runtime(AUTO_TOML)
    platform = Logged()
    now = clock.now()
    first = await _held(runtime, platform, now)
    root = _ask(
        runtime,
        platform,
        said(
            "q-root",
            now - timedelta(minutes=10),
            channel="C-AUTO",
            addressed=False,
            text="How long does a refund take?",
        ),
    )
    await asyncio.sleep(0.05)
    reply = _ask(
        runtime,
        platform,
        said(
            "f1",
            now,
            channel="C-AUTO",
            thread="q-root",
            addressed=False,
            text="it was paid by card, does that change how long it takes?",
        ),
    )
    await asyncio.sleep(0.05)
    platform.gate.set()
    async with asyncio.timeout(20):
        outcomes = await asyncio.gather(first, root, reply)
    assert outcomes[1] == Outcome.ANSWERED
    assert outcomes[2] != Outcome.IGNORED, outcomes  # the follow-up was dropped unseen


async def test_a_channel_leaves_the_late_lane_once_its_old_messages_are_taken() -> None:
    pool = Pool(1)
    order: list[str] = []
    gates: dict[str, asyncio.Event] = {}

    async def run(name: str, conv: str, late: bool) -> None:
        gates[name] = asyncio.Event()
        async with pool.slot(conv, late=late):
            order.append(name)
            await gates[name].wait()

    tasks = [asyncio.create_task(run("holder", "other", False))]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(run("readback", "C", True)))  # the only old message
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(run("live1", "C", False)))  # behind it, rightly
    await asyncio.sleep(0)
    gates["holder"].set()
    await asyncio.sleep(0.01)
    assert order == ["holder", "readback"]
    gates["readback"].set()
    await asyncio.sleep(0.01)
    assert order[-1] == "live1"  # live1 now runs; no read-back message of C is left
    # three live questions: one in C, two elsewhere, in that order
    tasks.append(asyncio.create_task(run("live2", "C", False)))
    await asyncio.sleep(0)
    for i in range(3):
        tasks.append(asyncio.create_task(run(f"x{i}", f"X{i}", False)))
        await asyncio.sleep(0)
    for name in ["live1", "live2", "x0", "x1", "x2"]:
        await asyncio.sleep(0.01)
        if name in gates:
            gates[name].set()
    for _ in range(5):
        await asyncio.sleep(0.01)
        for g in gates.values():
            g.set()
    await asyncio.gather(*tasks)
    # live2 was asked before x0..x2 and nothing old is left in C: it should go first
    assert order.index("live2") < order.index("x0"), order


async def test_pool_counter_is_cleaned_on_cancel_and_raise() -> None:
    pool = Pool(1)
    gate = asyncio.Event()

    async def hold() -> None:
        async with pool.slot("H", late=False):
            await gate.wait()

    async def late(conv: str) -> None:
        async with pool.slot(conv, late=True):
            await asyncio.sleep(0)

    async def boom(conv: str) -> None:
        async with pool.slot(conv, late=True):
            raise RuntimeError("boom")

    h = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(late(f"C{i}")) for i in range(50)]
    await asyncio.sleep(0)
    assert len(pool._chains) == 50  # each channel's one waiter, in the late lane
    for w in waiters:
        w.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert not pool._chains
    assert not pool._slots._lanes[Lane.LATE]
    gate.set()
    await h
    with pytest.raises(RuntimeError):
        await boom("B")
    assert not pool._chains
    # cancelled in the same turn it is handed the slot
    gate2 = asyncio.Event()

    async def hold2() -> None:
        async with pool.slot("H", late=False):
            await gate2.wait()

    h2 = asyncio.create_task(hold2())
    await asyncio.sleep(0)
    w = asyncio.create_task(late("Z"))
    await asyncio.sleep(0)
    gate2.set()
    await asyncio.sleep(0)
    w.cancel()
    await asyncio.gather(h2, w, return_exceptions=True)
    assert not pool._chains
    assert pool._slots._free == 1


async def test_slots_free_count_never_exceeds_size_under_churn() -> None:
    slots = Slots(2)
    import random

    rnd = random.Random(7)

    async def user(i: int) -> None:
        async with slots.slot(rnd.choice(list(Lane))):
            await asyncio.sleep(rnd.random() / 1000)

    tasks = [asyncio.create_task(user(i)) for i in range(300)]
    for _ in range(100):
        await asyncio.sleep(0.0003)
        rnd.choice(tasks).cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert slots._free == 2
    assert not any(slots._lanes.values())


class GateOn(Platform):
    """The first replay's post holds the pool's one slot at the gate; which message each post
    answers is logged."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.at_gate = asyncio.Event()
        self.answered: list[str] = []
        self.looked = 0

    async def find_reply(self, message: Any) -> Posted | None:
        self.looked += 1
        return await super().find_reply(message)

    async def send(self, reply: Reply) -> Posted:
        if reply.conversation.channel not in ("C-NEW", "C-TRIAGE") and not self.at_gate.is_set():
            self.at_gate.set()
            await self.gate.wait()
        posted = await super().send(reply)
        if reply.conversation.channel != "C-TRIAGE":
            self.answered.append(reply.in_reply_to or reply.conversation.thread or "?")
        return posted

    def firsts(self) -> list[str]:
        return list(dict.fromkeys(self.answered))


async def test_a_restart_does_not_put_a_read_back_backlog_ahead_of_live_questions(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    dying = make_runtime(STAFF_TOML)
    p1 = Logged()
    now = clock.now()
    first = await _held(dying, p1, now)
    backlog = [
        _ask(dying, p1, said(f"old{i}", now - timedelta(hours=2), channel=f"C-OLD{i}")) for i in range(5)
    ]
    await asyncio.sleep(0.1)  # all claimed, waiting in the late lane
    assert len(dying.bot.deliveries._workers._slots._lanes[Lane.LATE]) == 5
    for t in [first, *backlog]:  # the process dies (a deploy): claims stay pending
        t.cancel()
    await asyncio.gather(first, *backlog, return_exceptions=True)
    clock.advance(seconds=1)
    restarted = make_runtime(STAFF_TOML)
    p2 = GateOn()
    replay = asyncio.create_task(restarted.bot.replay_pending("slack", p2))
    async with asyncio.timeout(10):
        await p2.at_gate.wait()
    await asyncio.sleep(0.1)
    # the replays of what was said two hours ago, nothing of it posted, wait in the late lane
    assert len(restarted.bot.deliveries._workers._slots._lanes[Lane.LATE]) >= 1
    live = _ask(restarted, p2, said("live", clock.now(), channel="C-NEW"))
    await asyncio.sleep(0.05)
    p2.gate.set()
    async with asyncio.timeout(20):
        await asyncio.gather(replay, live)
    order = [m for m in p2.firsts() if m != "first"]
    # those waiting when `live` was asked were said two hours ago, nothing of them posted:
    # they go first, as with the old FIFO semaphore; the late lane is bypassed
    assert order.index("live") <= 1, order


async def test_a_read_back_staff_reply_never_overtakes_the_resumed_answer_of_its_channel(
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    model: FakeOpenAI,  # noqa: F811
) -> None:
    """kill -9 while an answer streams; staff write in its thread during a 10-minute outage.
    On restart three live questions wait, then the replay resuming the answer (fresh), then
    the staff reply read back (late). The late lane's share must not hand the staff reply the
    slot first: the answer is finished, then staff take the thread over, so the bot stays quiet."""
    platform, restart = await _killed_answering(make_runtime, model, "answer.noted")
    clock.advance(minutes=10)
    now = clock.now()
    restarted = restart()
    first = await _held(restarted, platform, now)
    live = [_ask(restarted, platform, said(f"n{i}", now, channel=f"C-NEW{i}")) for i in range(3)]
    await asyncio.sleep(0.05)
    replay = asyncio.create_task(restarted.bot.replay_pending("slack", platform))
    await asyncio.sleep(0.05)
    where: dict[str, Any] = {"channel": "C1", "thread": "q-crash", "addressed": False}
    staff = _ask(
        restarted,
        platform,
        said("s1", now - timedelta(minutes=5), text="Let me check your account", author=STAFF, **where),
    )
    await asyncio.sleep(0.05)
    platform.gate.set()
    async with asyncio.timeout(20):
        await asyncio.gather(first, replay, staff, *live)
    assert platform.leftovers() == []
    follow = await restarted.bot.on_message(
        said("f1", clock.now(), text="thanks! how long is the link valid?", **where), platform
    )
    assert follow == Outcome.RECORDED  # staff took the thread over: the bot stays quiet


async def test_a_follow_up_cannot_slip_between_a_replays_look_for_its_post_and_its_handling(
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    model: FakeOpenAI,  # noqa: F811
) -> None:
    """Killed between an answer's first post and its note: the replay looks for the post, then
    finishes it, in one slot; the asker's follow-up in its thread, queued meanwhile, comes after
    (taken between them, it would find the thread not yet the bot's and only be recorded)."""
    platform, restart = await _killed_answering(make_runtime, model, "answer.sent")
    clock.advance(seconds=20)
    restarted = restart()
    now = clock.now()
    first = await _held(restarted, platform, now)
    replay = asyncio.create_task(restarted.bot.replay_pending("slack", platform))
    await asyncio.sleep(0.05)
    follow = _ask(
        restarted,
        platform,
        said("f1", now, text="does that include weekends?", channel="C1", thread="q-crash", addressed=False),
    )
    await asyncio.sleep(0.05)
    platform.gate.set()
    async with asyncio.timeout(20):
        await asyncio.gather(first, replay, follow)
    assert follow.result() in (Outcome.ANSWERED, Outcome.ESCALATED)


async def test_a_message_waiting_behind_its_channel_keeps_its_place_in_line() -> None:
    """Two messages of C-A wait, the second behind the first (its channel's order); then
    messages elsewhere are asked. Once the first is taken, the second goes before those asked
    after it: it kept the place it came in."""
    pool = Pool(1)
    order: list[str] = []
    gate = asyncio.Event()

    async def run(name: str, channel: str) -> None:
        async with pool.slot(channel, late=False):
            order.append(name)
            if name == "holder":
                await gate.wait()
            await asyncio.sleep(0)  # handling awaits (the store, the platform): the woken one queues

    tasks = [asyncio.create_task(run("holder", "H"))]
    for name, channel in [("A1", "C-A"), ("A2", "C-A"), ("x0", "X0"), ("x1", "X1")]:
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(run(name, channel)))
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    assert order == ["holder", "A1", "A2", "x0", "x1"]
