"""The answer pool's slots: at most `size` messages handled at once, fresh ones served first.

New questions, replays and read-backs share one bounded pool (bot/delivery.py). After an
outage a read-back can hand it hundreds of messages at once, said minutes or hours before;
a question asked now would queue behind all of them while its asker watches. So a waiter
says which lane it is in (`Lane.LATE` for a message already `LATE_AFTER` old), and a freed
slot goes to the fresh lane first. A strict priority could leave the late lane waiting for
as long as live questions keep the pool full, so while both lanes wait, every
`LATE_SHARE`-th slot handed over goes to the late one: it keeps at least that share of the
pool. Within a lane, in the order they came (a ticket each).

`Pool` keeps each channel's order: a message joins a lane (its own: by its age) only once no
earlier message of its channel is waiting in one, so the lanes reorder channels, never the
messages of one. A channel, not a thread: a question read back and a live reply in the thread
it starts are one conversation with different thread keys (the reply, taken first, would find
no thread of the bot's and be ignored), and a staff reply read back must come before a live
follow-up in its thread (or the bot answers in a thread staff took over).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
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
        # each lane's waiters by ticket (the order they asked in), as (ticket, waiter)
        self._lanes: dict[Lane, list[tuple[int, asyncio.Future[None]]]] = {lane: [] for lane in Lane}
        self._handed = 0  # slots handed over while both lanes waited
        self._tickets = itertools.count()

    def ticket(self) -> int:
        """A place in line, to be used later (`Pool`: a message keeps the place it came in)."""
        return next(self._tickets)

    @asynccontextmanager
    async def slot(self, lane: Lane) -> AsyncIterator[None]:
        await self._acquire(lane)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, lane: Lane, ticket: int | None = None) -> None:
        if self._free > 0:  # free slots mean nobody waits: a slot is handed on, never freed, while one does
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        entry = (self.ticket() if ticket is None else ticket, waiter)
        bisect.insort(self._lanes[lane], entry, key=lambda e: e[0])
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed a slot as it was cancelled: hand it on
            elif entry in self._lanes[lane]:  # a release may have dropped it already
                self._lanes[lane].remove(entry)
            raise

    def _release(self) -> None:
        while (lane := self._next()) is not None:
            _, waiter = self._lanes[lane].pop(0)
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
    """`Slots` that keep each channel's order (see the module's docstring)."""

    def __init__(self, size: int) -> None:
        self._slots = Slots(size)
        # channel key -> its waiters queued behind the one of it in a lane (the key is present
        # while one of the channel's messages waits in a lane)
        self._chains: dict[str, deque[asyncio.Future[None]]] = {}

    @asynccontextmanager
    async def slot(self, channel: str, *, late: bool) -> AsyncIterator[None]:
        ticket = self._slots.ticket()  # its place in line, kept while it waits behind its channel
        await self._behind_own(channel)
        try:
            await self._slots._acquire(Lane.LATE if late else Lane.FRESH, ticket)
        finally:
            self._next_of(channel)  # taken (or given up): the channel's next may join a lane
        try:
            yield
        finally:
            self._slots._release()

    async def _behind_own(self, channel: str) -> None:
        """Wait until no earlier message of `channel` is waiting in a lane."""
        chain = self._chains.get(channel)
        if chain is None:
            self._chains[channel] = deque()
            return
        waiter = asyncio.get_running_loop().create_future()
        chain.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._next_of(channel)  # its turn came as it was cancelled: pass it on
            elif waiter in chain:
                chain.remove(waiter)
            raise

    def _next_of(self, channel: str) -> None:
        chain = self._chains[channel]
        while chain:
            waiter = chain.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        del self._chains[channel]


class Handling(set[str]):
    """The inbox keys being handled (bot/delivery.py), whose end can be awaited (`ended`): an
    edit of a question still being answered waits for that answer (it revises the answer once
    there is one; before, there is nothing to revise, and the edit would be lost). Keys leave
    only through `discard`."""

    def __init__(self) -> None:
        super().__init__()
        self._ends: dict[str, asyncio.Event] = {}

    def discard(self, key: object) -> None:
        super().discard(key)
        if isinstance(key, str) and (end := self._ends.pop(key, None)) is not None:
            end.set()

    async def ended(self, key: str) -> None:
        """Return once `key` is not being handled (at once if it is not)."""
        while key in self:
            await self._ends.setdefault(key, asyncio.Event()).wait()


class Edits:
    """The edits of one message, revised one at a time and only the newest (bot/delivery.py):
    two quick edits each revise the answer, and the slower would otherwise leave it answering
    the older text. An edit takes its `turn` once `before` (its question's own handling) has
    ended; by then, if a newer edit of the same message came (newer by when it was made, not
    when it arrived: a platform's retry, or one the store refused and handed over again, comes
    late), it is told so and revises nothing. Held through the finish, so the next edit reads
    the answer this one recorded. The newest seen of each of the last `REMEMBERED` messages is
    kept after its turns, so a late one (a replay's) revises nothing either (`outdated`)."""

    REMEMBERED = 10_000

    def __init__(self) -> None:
        self._newest: dict[str, datetime] = {}  # message -> when its newest edit seen was made
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}  # message -> its edits between coming and leaving

    def outdated(self, message: str, made: datetime) -> bool:
        """Whether a newer edit of `message` than one made at `made` has been seen; notes it."""
        newest = self._newest.pop(message, made)  # popped and put back: the last seen go last
        self._newest[message] = max(newest, made)
        while len(self._newest) > self.REMEMBERED:
            del self._newest[next(iter(self._newest))]
        return newest > made

    @asynccontextmanager
    async def turn(
        self, message: str, made: datetime, before: Callable[[], Awaitable[None]]
    ) -> AsyncIterator[bool]:
        """Wait for `before`, then for the edits of `message` that came earlier; yields whether
        the edit made at `made` is still the newest (if not, it is to revise nothing)."""
        self.outdated(message, made)
        self._waiting[message] = self._waiting.get(message, 0) + 1
        try:
            await before()
            async with self._locks.setdefault(message, asyncio.Lock()):
                yield not self.outdated(message, made)
        finally:
            self._waiting[message] -= 1
            if not self._waiting[message]:
                del self._waiting[message]
                self._locks.pop(message, None)
