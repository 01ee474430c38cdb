"""The question channels' read-back of a fresh session, tried again until it has read everything.

A read-back that could not read everything (a channel's 5xx, which discord.py does not retry;
a guild's threads that could not be listed; a new post's first message not fetched) leaves
the session's marks where they were (adapters/discord/heard.py `after`): the next start reads
it again. Without more, a question in that channel waited for the next restart, weeks away
maybe, and nothing the session heard was noted meanwhile. So it is tried again while the
process runs, `FIRST_AFTER` seconds later, then each time twice as late, at most `AT_MOST`,
from the same mark, until it reads everything or the client closes, on the shards no later
session began on (a shard's own read-back reads from the same point or earlier). The wait between
tries is no in-flight work: a shutdown does not wait for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from adapters.discord.heard import Key
from adapters.discord.missed import catch_up_channels
from adapters.discord.shards import ShardPlan
from adapters.discord.support_client import SupportClient
from adapters.discord.translate import PLATFORM
from adapters.inflight import InFlight
from bot.ports import Core

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)

FIRST_AFTER = 30.0  # seconds: a channel refused for a moment (a 503) answers again soon
AT_MOST = 900.0  # the longest wait between two tries while it keeps failing


def _unchanged(client: SupportClient, sessions: dict[Key, int]) -> list[Key]:
    """The keys whose session is still the one `sessions` was taken in."""
    now = client.heard.sessions(sessions)
    return [key for key, session in sessions.items() if now[key] == session]


class ChannelReadBacks:
    """One adapter's read-backs of question channels, and their tries to come."""

    def __init__(self, core: Core, inflight: InFlight) -> None:
        self.core = core
        self.inflight = inflight
        self._later: set[asyncio.Task[None]] = set()

    async def read(
        self,
        client: SupportClient,
        keys: Collection[Key],
        heard: str | None,
        plan: ShardPlan | None,
        shards: tuple[int, ...],
        *,
        wait: float | None = None,
    ) -> None:
        """Read back `client`'s question channels on `shards` (of `plan`) after `heard`, and note what
        `keys`' sessions hear once that is done; if it is not, try again `wait` seconds later
        (`FIRST_AFTER` the first time)."""
        sessions = client.heard.sessions(keys)
        try:
            done = await client.heard.after(
                keys,
                catch_up_channels(self.core, client.handler, client, heard=heard, plan=plan, shards=shards),
            )
        except Exception:
            log.exception("catching up on what was missed failed", extra={"platform": PLATFORM})
            done = False
        if done or client.is_closed() or not _unchanged(client, sessions):
            return
        wait = FIRST_AFTER if wait is None else wait
        log.info("reading back what was missed again in %g s", wait, extra={"platform": PLATFORM})

        async def later() -> None:
            await asyncio.sleep(wait)
            left = _unchanged(client, sessions)  # a shard with a later session reads its own
            if not client.is_closed() and left:
                on = tuple(k for k in left if k is not None) or shards  # None: the client's one mark
                again = self.read(client, left, heard, plan, on, wait=min(2 * wait, AT_MOST))
                self.inflight.start(again, name="supportbot-discord-catch-up-again")

        task = asyncio.create_task(later(), name="supportbot-discord-catch-up-later")
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    def cancel(self) -> None:
        """Shutting down: no more tries (the next start reads from the same marks)."""
        for task in list(self._later):
            task.cancel()
