"""Messages the core could not record, and reading them back while the process runs.

Discord sends a message once. When the core refuses one (its store failed: a database
restarting, a full disk), nothing will send it again. Its shard's marks (adapters/discord/
heard.py) never pass the oldest such message, so the next start reads it back; but a process
that runs on for weeks would leave that question unanswered for weeks. So a refusal also
reads back, while the process runs, what it may have cost: the bot's conversations on the
shard from their last recorded message (a refused follow-up; adapters/discord/standby.py
`catch_up`) and the shard's question channels and forums from `MARGIN` before the oldest
refused message (a refused question; adapters/discord/missed.py `catch_up_channels`),
`FIRST_AFTER` seconds after the refusal, as a start would. Messages handled before are
recognised by the inbox and answered once. A read-back that could not read everything, or
during which the core refused again (the store still away), is tried again, each time twice
as late, at most `AT_MOST` later; once one reads everything with no refusal while it ran, the
hole is filled and the shard's marks move on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import discord

from adapters.discord.events import Events
from adapters.discord.missed import catch_up_channels
from adapters.discord.shards import ShardPlan
from adapters.discord.standby import catch_up
from adapters.discord.translate import PLATFORM

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)

FIRST_AFTER = 10.0  # seconds: a store that failed for a moment (a lock, a failover) is back
AT_MOST = 600.0  # the longest wait between two read-backs of a hole still open
# a mark's key (adapters/discord/missed.py `mark_keys`): a shard, or None on an unsharded client
Key = int | None


class Holes:
    """One client's oldest unrecorded message per shard, and the read-backs that fill them."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client
        self._events: Events | None = None  # set by `start`, before the gateway
        self._plan: ShardPlan | None = None
        self._shards: tuple[int, ...] = ()
        self._oldest: dict[Key, int] = {}
        self._refusals: dict[Key, int] = {}  # refusals so far: one during a read-back voids it
        self._delay: dict[Key, float] = {}
        self._busy: set[Key] = set()  # a read-back waiting or running
        self._timers: set[asyncio.Task[None]] = set()
        self._stopped = False
        self.on_filled: Callable[[], None] | None = None  # the marks may move on

    def start(self, events: Events, plan: ShardPlan | None, shards: tuple[int, ...]) -> None:
        """Before the gateway: the client's handler, shard plan and shards."""
        self._events, self._plan, self._shards = events, plan, shards
        self._stopped = False

    def oldest(self, key: Key) -> int | None:
        """The oldest message on `key` the core could not record, not read back since."""
        return self._oldest.get(key)

    def refused(self, key: Key, ident: int) -> None:
        """The core could not record message `ident` on `key`: read back from before it."""
        self._oldest[key] = min(self._oldest.get(key, ident), ident)
        self._refusals[key] = self._refusals.get(key, 0) + 1
        if key not in self._busy:
            self._later(key)

    def stop(self) -> None:
        """Closing: no read-back begins (one running is in flight, and drained)."""
        self._stopped = True
        for timer in self._timers:
            timer.cancel()

    def _later(self, key: Key) -> None:
        if self._stopped or self._events is None:
            return  # the next start reads it back
        self._busy.add(key)
        delay = self._delay.setdefault(key, FIRST_AFTER)
        events = self._events

        async def timer() -> None:
            await asyncio.sleep(delay)
            if self._stopped:
                self._busy.discard(key)
                return
            # in flight as events are: a drain waits for the messages it hands over
            events.inflight.start(self._read(key), name="supportbot-discord-holes")

        task = asyncio.create_task(timer(), name="supportbot-discord-holes-later")
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _read(self, key: Key) -> None:
        try:
            oldest, refusals = self._oldest.get(key), self._refusals.get(key, 0)
            read = oldest is None or await self._read_back(key, oldest)
        finally:
            self._busy.discard(key)
        if oldest is None:
            return
        if read and self._refusals.get(key, 0) == refusals:
            del self._oldest[key]
            self._delay.pop(key, None)
            log.info(
                "read back what the store could not record",
                extra={"platform": PLATFORM, "shard": key, "after": oldest},
            )
            if self.on_filled is not None:
                self.on_filled()
            return
        self._delay[key] = min(2 * self._delay.get(key, FIRST_AFTER), AT_MOST)
        self._later(key)

    async def _read_back(self, key: Key, oldest: int) -> bool:
        """Read back `key`'s conversations and question channels; whether every channel was."""
        assert self._events is not None
        events, core = self._events, self._events.core
        shards = self._shards if key is None else (key,)
        conversations, channels = await asyncio.gather(
            catch_up(core, events, self.client, plan=self._plan, shards=shards),
            catch_up_channels(core, events, self.client, heard=str(oldest), plan=self._plan, shards=shards),
            return_exceptions=True,
        )
        failed = [r for r in (conversations, channels) if isinstance(r, BaseException)]
        for exc in failed:
            log.warning(
                "could not read back what the store could not record; trying again later: %s",
                type(exc).__name__,
                extra={"platform": PLATFORM, "shard": key},
            )
        return not failed and channels is True
