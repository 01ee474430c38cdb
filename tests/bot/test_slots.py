"""The answer pool's lanes (bot/slots.py): fresh questions before late ones, the late lane
never shut out, and no slot lost to a waiter cancelled at any moment; then the same through
the real core, where a read-back's backlog of old questions no longer holds up a new one."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.app import Runtime
from bot.slots import LATE_SHARE, Lane, Slots
from bot.types import ConversationRef, Outcome, Posted, Reply
from tests.bot.test_exactly_once import TOML, Platform, question
from tests.fakes.clock import FakeClock


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
    """The first question's answer waits at the gate, holding the pool's one slot."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.at_gate = asyncio.Event()
        self.order: list[str] = []

    async def send(self, reply: Reply) -> Posted:
        if reply.conversation.channel == "C-FIRST":
            self.at_gate.set()
            await self.gate.wait()
        posted = await super().send(reply)
        self.order.append(reply.conversation.channel)
        return posted


async def test_a_new_question_is_answered_before_a_backlog_of_old_ones(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    runtime = make_runtime("[answer]\nworkers = 1\n" + TOML)
    platform = Gated()
    now = clock.now()

    def asked(id: str, channel: str, ago: timedelta) -> asyncio.Task[Outcome]:
        message = question("How long does a refund take?", id)
        message = dataclasses.replace(
            message,
            conversation=ConversationRef(platform="slack", workspace="T1", channel=channel),
            sent_at=now - ago,
        )
        return asyncio.create_task(runtime.bot.on_message(message, platform))

    first = asked("first", "C-FIRST", timedelta(0))
    async with asyncio.timeout(10):
        await platform.at_gate.wait()
    # a read-back hands over what was said an hour ago, then someone asks now
    backlog = [asked(f"old-{i}", f"C-OLD{i}", timedelta(hours=1)) for i in range(3)]
    await asyncio.sleep(0.05)
    new = asked("new", "C-NEW", timedelta(seconds=2))
    await asyncio.sleep(0.05)
    platform.gate.set()
    await asyncio.gather(first, *backlog, new)
    answered = [c for c in platform.order if c != "C-TRIAGE"]
    assert answered[:2] == ["C-FIRST", "C-NEW"]
    assert sorted(answered[2:]) == ["C-OLD0", "C-OLD1", "C-OLD2"]
