"""The answer pool's slots: at most `size` messages handled at once, fresh ones served first.

New questions, replays and read-backs share one bounded pool (bot/delivery.py). After an
outage a read-back can hand it hundreds of messages at once, said minutes or hours before;
a question asked now would queue behind all of them while its asker watches. So a waiter
says which lane it is in (`Lane.LATE` for a message already `LATE_AFTER` old), and a freed
slot goes to the fresh lane first. A strict priority could leave the late lane waiting for
as long as live questions keep the pool full, so while both lanes wait, every
`LATE_SHARE`-th slot handed over goes to the late one: it keeps at least that share of the
pool. Within a lane, first come, first served.

`Pool` chooses the lane per channel: a message of a channel that has one waiting in the late
lane goes there too, behind it, so the messages of one channel are still taken in the order
they came. A channel, not a thread: a question read back and a live reply in the thread it
starts are one conversation with different thread keys (the reply, taken first, would find no
thread of the bot's and be ignored), and a staff reply read back must come before a live
follow-up in its thread (or the bot answers in a thread staff took over).
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from enum import Enum

# a live question reaches the pool within seconds of being said (a platform's retry, within a
# minute); older than this it was replayed or read back, and its asker is no longer watching
LATE_AFTER = timedelta(seconds=60)
LATE_SHARE = 4  # while both lanes wait, one slot in this many goes to the late lane


class Lane(Enum):
    FRESH = "fresh"
    LATE = "late"


class Slots:
    """A bounded pool with a fresh and a late lane of waiters (see the module's docstring)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one slot")
        self._free = size
        self._lanes: dict[Lane, deque[asyncio.Future[None]]] = {lane: deque() for lane in Lane}
        self._handed = 0  # slots handed over while both lanes waited

    @asynccontextmanager
    async def slot(self, lane: Lane) -> AsyncIterator[None]:
        await self._acquire(lane)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, lane: Lane) -> None:
        if self._free > 0:  # free slots mean nobody waits: a slot is handed on, never freed, while one does
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._lanes[lane].append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed a slot as it was cancelled: hand it on
            elif waiter in self._lanes[lane]:  # a release may have dropped it already
                self._lanes[lane].remove(waiter)
            raise

    def _release(self) -> None:
        while (lane := self._next()) is not None:
            waiter = self._lanes[lane].popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    def _next(self) -> Lane | None:
        fresh, late = self._lanes[Lane.FRESH], self._lanes[Lane.LATE]
        if fresh and late:
            self._handed += 1
            return Lane.LATE if self._handed % LATE_SHARE == 0 else Lane.FRESH
        if fresh:
            return Lane.FRESH
        return Lane.LATE if late else None


class Pool:
    """`Slots` whose lane is chosen per channel (see the module's docstring)."""

    def __init__(self, size: int) -> None:
        self._slots = Slots(size)
        self._waiting_late: Counter[str] = Counter()  # channel key -> its messages waiting late

    @asynccontextmanager
    async def slot(self, channel: str, *, late: bool) -> AsyncIterator[None]:
        lane = Lane.LATE if late or channel in self._waiting_late else Lane.FRESH
        if lane is Lane.LATE:
            self._waiting_late[channel] += 1
        try:
            await self._slots._acquire(lane)
        finally:
            # only a waiting message can be overtaken: once it runs, the channel is fresh again
            if lane is Lane.LATE:
                self._waiting_late[channel] -= 1
                if not self._waiting_late[channel]:
                    del self._waiting_late[channel]
        try:
            yield
        finally:
            self._slots._release()
