"""Messages the core could not record, handed to it again while the process runs.

Discord sends a message once. When the core refuses one (its store failed: a database
restarting, a full disk), nothing will send it again, and a process that runs on for weeks
would leave that question unanswered for weeks. This process still holds the message as it
was heard, though: it is kept here, and handed to the core again `FIRST_AFTER` seconds later
(a store that failed for a moment is back by then), quietly (the asker was told once that it
will be answered), and again, each time twice as late, at most `AT_MOST` later, until the
core takes it; at once when a write succeeds after one failed (`store_back`: the store is
back from an outage), and once more when the adapter closes, before its drain. The message
itself, not a read of its channel: a first DM, a follow-up in a thread quiet for hours, an
edit, a mention in a channel the bot does not watch are none of them in what a read-back
reads. The inbox answers a message once, however often it is handed over; an edit is not
handed over once a later edit of its message was taken (`taken`), and an edit of a question
kept as first sent makes it ask in the new words. A client closed (a lease lost, a failing
set) gives what it kept to the one that follows on the same shards (`give_up`, `Heard.keep`).

What is kept stands for a hole in what the shard heard (adapters/discord/heard.py): its marks
never pass the oldest message not taken yet, and that point is owed in the state, so a restart
before the core took it reads back from before it. At most `KEEP_AT_MOST` messages are kept
per client: past that, the oldest are left to that read-back, and their hole stays open until
a restart. What a process killed before then kept is lost but for what that read-back reads
(the question channels, not a first DM nor a follow-up in a quiet thread).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any

from adapters.discord.missed import Key, heard_snowflake
from adapters.discord.translate import PLATFORM
from bot import faults
from bot.ports import Core
from bot.types import InboundMessage

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)

FIRST_AFTER = 10.0  # seconds: a store that failed for a moment (a lock, a failover) is back
AT_MOST = 120.0  # the longest wait between two tries while the store keeps refusing
KEEP_AT_MOST = 1000  # messages kept per client; the oldest past it are the next start's
# hands a message to the core once more, with no apology; whether the core took it
Deliver = Callable[[InboundMessage], Awaitable[bool]]


class Holes:
    """One client's refused messages per shard, handed to the core again until it takes them."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None  # set by `start`, before the gateway
        self._spawn: Callable[[Coroutine[Any, Any, None]], object] | None = None
        self._core: Core | None = None
        self._place: Callable[[Key], str] = str
        self._owe: dict[Key, int] = {}  # the point owed per key, not written to the state yet
        self._owed: dict[Key, set[int]] = {}  # the points written, settled once all is taken
        # so far, per key: a read-back during which one came may have missed it
        self.refusals: dict[Key, int] = {}
        self._kept: dict[Key, dict[str, InboundMessage]] = {}  # by inbox id, in arrival order
        self._lost: dict[Key, int] = {}  # the oldest let go past KEEP_AT_MOST: open until a restart
        self._delay: dict[Key, float] = {}
        self._busy: set[Key] = set()  # a try waiting or running
        self._timers: dict[Key, asyncio.Task[None]] = {}  # the tries waiting
        self._edits_taken: dict[str, int] = {}  # per message, its latest edit the core took
        self._stopped = False
        self._into: Callable[[InboundMessage], None] | None = None  # refusals once given up
        self.on_filled: Callable[[Key], None] | None = None  # nothing of `key` is kept any more

    def start(
        self,
        deliver: Deliver,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
        core: Core,
        place: Callable[[Key], str],
    ) -> None:
        """Before the gateway: how to hand a message over again, how to run a try in flight as
        events are (a drain waits for it), and where each key's owed points are kept."""
        self._deliver, self._spawn, self._core, self._place = deliver, spawn, core, place
        self._stopped = False

    def oldest(self, key: Key) -> int | None:
        """The oldest message on `key` the core has not taken, as a snowflake."""
        idents = [i for m in self._kept.get(key, {}).values() if (i := heard_snowflake(m.id)) is not None]
        if key in self._lost:
            idents.append(self._lost[key])
        return min(idents, default=None)

    def refused(self, key: Key, message: InboundMessage) -> None:
        """The core could not record `message` on `key`: keep it, and hand it over again later."""
        if self._into is not None:  # given up: another client's
            self._into(message)
            return
        self.refusals[key] = self.refusals.get(key, 0) + 1
        ident = heard_snowflake(message.id)
        if ident is not None:  # a restart before it is taken reads back from just before it
            self._owe[key] = min(self._owe.get(key, ident - 1), ident - 1)
        kept = self._kept.setdefault(key, {})
        superseded = message.edit_of is not None and self._edits_taken.get(message.edit_of, -1) > _edited_at(
            message
        )
        if message.edit_of in kept:  # an edit of a question kept as first sent: asked in its words
            kept[message.edit_of] = replace(kept[message.edit_of], text=message.text)
        elif not superseded and not any(_supersedes(other, message) for other in kept.values()):
            self._forget_before(kept, message)
            kept[message.id] = message
        if sum(len(k) for k in self._kept.values()) > KEEP_AT_MOST:
            self._let_go_oldest()
        if key not in self._busy:
            self._later(key)

    def taken(self, key: Key, message: InboundMessage) -> None:
        """The core took `message`: an older edit of it kept here would undo it."""
        if message.edit_of is None:
            return
        kept = self._kept.get(key, {})
        if message.edit_of in kept:  # the core had no question to revise: the kept one asks it so
            kept[message.edit_of] = replace(kept[message.edit_of], text=message.text)
        self._edits_taken[message.edit_of] = max(
            self._edits_taken.pop(message.edit_of, -1), _edited_at(message)
        )
        if len(self._edits_taken) > KEEP_AT_MOST:  # the least recently edited are long settled
            del self._edits_taken[next(iter(self._edits_taken))]
        if key in self._kept:
            self._forget_before(self._kept[key], message)

    def store_back(self) -> None:
        """The store took a write: each key's waiting try runs now."""
        for key, timer in list(self._timers.items()):
            timer.cancel()
            self._timers.pop(key, None)
            self._now(key)

    @staticmethod
    def _forget_before(kept: dict[str, InboundMessage], message: InboundMessage) -> None:
        for older in [m for m in kept.values() if _supersedes(message, m)]:
            del kept[older.id]

    def _let_go_oldest(self) -> None:
        key, oldest = min(
            ((k, m) for k, kept in self._kept.items() for m in kept.values()), key=lambda km: _order(km[1])
        )
        del self._kept[key][oldest.id]
        ident = heard_snowflake(oldest.id)
        if ident is not None:
            self._lost[key] = min(self._lost.get(key, ident), ident)
        log.warning(
            "too many messages the store refused are kept; the oldest is left to the next start's read-back",
            extra={"platform": PLATFORM, "message_id": oldest.id},
        )

    async def write_owed(self) -> None:
        """Write the points owed since the last write (`Heard`'s write, before its marks);
        raises when the store refuses (the next write tries again)."""
        assert self._core is not None
        for key, point in list(self._owe.items()):
            await self._core.owe_read_back(self._place(key), f"{point:020d}")  # sorts as text
            self._owed.setdefault(key, set()).add(point)
            if self._owe.get(key) == point:
                del self._owe[key]

    def give_up(self, pass_on: Callable[[InboundMessage], None]) -> None:
        """The client is closed: what is kept is passed on (to a live client on its shard, or
        the one that follows: `Heard.keep`), and so is what is refused after (its handlers
        still draining); a try in flight hands over nothing more."""
        self.stop()
        for kept in self._kept.values():
            for message in kept.values():
                pass_on(message)
            kept.clear()  # a try in flight finds nothing more to hand over
        self._kept.clear()
        self._into = pass_on

    def stop(self, *, last_try: bool = False) -> None:
        """Closing: no try begins after this (one running is in flight, and drained), but with
        `last_try`, one now of what is kept (the adapter's close, before its drain)."""
        waiting = list(self._timers)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if last_try:
            for key in waiting:
                self._now(key)
        self._stopped = True

    def _now(self, key: Key) -> None:
        if self._spawn is not None:
            self._busy.add(key)
            self._spawn(self._again(key))

    def _later(self, key: Key) -> None:
        if self._stopped or self._spawn is None:
            return  # the next start reads it back
        self._busy.add(key)
        delay = self._delay.setdefault(key, FIRST_AFTER)
        spawn = self._spawn

        async def timer() -> None:
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                return  # run now (`store_back`, a last try), or closing: whoever cancelled says
            self._timers.pop(key, None)
            if self._stopped:
                self._busy.discard(key)
                return
            spawn(self._again(key))

        self._timers[key] = asyncio.create_task(timer(), name="supportbot-discord-holes-later")

    async def _again(self, key: Key) -> None:
        """Hand `key`'s kept messages over again, oldest first (a follow-up after its question),
        until the core refuses one again (the store is still away: it is kept again, through
        the handler's `refused`, and so are the ones after it)."""
        assert self._deliver is not None
        faults.point("holes.again")  # a process that dies before it hands anything over again
        kept = self._kept.get(key, {})
        taken = 0
        try:
            for message in sorted(kept.values(), key=_order):
                if kept.pop(message.id, None) is None:
                    continue  # a later edit of it was taken meanwhile
                try:
                    took = await self._deliver(message)
                except BaseException:  # cut short (a drain's timeout): still not taken
                    if self._into is not None:  # its client given up meanwhile: another's
                        self._into(message)
                    else:
                        kept[message.id] = message
                    raise
                if not took:
                    break
                taken += 1
        finally:
            self._busy.discard(key)
        if self._into is not None:
            return  # its client was given up meanwhile: what is left is the next client's
        if kept:
            self._delay[key] = min(2 * self._delay.get(key, FIRST_AFTER), AT_MOST)
            self._later(key)
            return
        self._kept.pop(key, None)
        self._delay.pop(key, None)
        if key not in self._lost:  # all taken: nothing is owed for them any more
            self._owe.pop(key, None)
            written = self._owed.pop(key, set())
            if written and self._spawn is not None:
                self._spawn(self._settle(key, written))
        log.info(
            "handed over again %d message(s) the store had refused",
            taken,
            extra={"platform": PLATFORM, "shard": key},
        )
        if self.on_filled is not None and key not in self._lost:
            self.on_filled(key)

    async def _settle(self, key: Key, points: set[int]) -> None:
        assert self._core is not None
        for point in sorted(points):
            mark = f"{point:020d}"
            try:
                await self._core.settle_read_back(self._place(key), mark, mark)
            except Exception as exc:  # the next start reads back from it once more, then settles it
                log.warning(
                    "could not settle what was owed: %s", type(exc).__name__, extra={"platform": PLATFORM}
                )


def _supersedes(later: InboundMessage, earlier: InboundMessage) -> bool:
    """Whether `later` is a later edit of the message `earlier` is an edit of (a message as
    first sent is never superseded: its question must be taken before any edit of it)."""
    return (
        earlier.edit_of is not None
        and later.edit_of == earlier.edit_of
        and _edited_at(later) > _edited_at(earlier)
    )


def _edited_at(message: InboundMessage) -> int:
    """When an edit was made (its key `<id>:edit:<ms>`); 0 for the message as first sent."""
    stamp = message.id.rpartition(":edit:")[2] if message.edit_of else ""
    return int(stamp) if stamp.isdigit() else 0


def _order(message: InboundMessage) -> tuple[int, str]:
    """Messages in the order they were said (an edit's key is its message's snowflake)."""
    return (heard_snowflake(message.id) or 0, message.id)
