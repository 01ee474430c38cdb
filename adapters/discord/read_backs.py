"""The question channels' read-back of a fresh session, tried again until it has read everything.

A read-back that could not read everything of a shard (a channel's 5xx, which discord.py does
not retry; a guild's threads that could not be listed; a new post's first message not
fetched) leaves that shard's mark where it was (adapters/discord/heard.py `after`; the other
shards' are noted): the next start reads it again. Without more, a question in that channel
waited for the next restart, weeks away maybe, and nothing the shard heard was noted
meanwhile. So it is tried again while the process runs, `FIRST_AFTER` seconds later, then each
time twice as late, at most `AT_MOST`, from the same marks, until it reads everything or the
client closes, on the shards it could not read and no later session began on (a shard's own
read-back reads from the same point or earlier). The wait between tries is no in-flight
work: a shutdown does not wait for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from adapters.discord.missed import Key, catch_up_channels, read_from
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
        marks: Mapping[Key, str | None],
        plan: ShardPlan | None,
        shards: tuple[int, ...],
        *,
        wait: float | None = None,
    ) -> None:
        """Read back `client`'s question channels on `shards` (of `plan`), each after its shard's
        mark (`marks`, by key), and note what each key's sessions hear once its channels are
        read; those not read, try again `wait` seconds later (`FIRST_AFTER` the first time)."""
        marks = read_from(marks)  # a retry keeps where each shard started
        sessions = client.heard.sessions(marks)
        try:
            unread = await client.heard.after(
                marks,
                catch_up_channels(self.core, client.handler, client, marks=marks, plan=plan, shards=shards),
            )
        except Exception:
            log.exception("catching up on what was missed failed", extra={"platform": PLATFORM})
            unread = frozenset(marks)
        if client.is_closed() or not [k for k in _unchanged(client, sessions) if k in unread]:
            return
        wait = FIRST_AFTER if wait is None else wait
        log.info("reading back what was missed again in %g s", wait, extra={"platform": PLATFORM})

        async def later() -> None:
            await asyncio.sleep(wait)
            # a shard with a later session reads its own
            left = [k for k in _unchanged(client, sessions) if k in unread]
            if not client.is_closed() and left:
                on = tuple(k for k in left if k is not None) or shards  # None: the client's one mark
                again = self.read(client, {k: marks[k] for k in left}, plan, on, wait=min(2 * wait, AT_MOST))
                self.inflight.start(again, name="supportbot-discord-catch-up-again")

        task = asyncio.create_task(later(), name="supportbot-discord-catch-up-later")
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    def cancel(self) -> None:
        """Shutting down: no more tries (the next start reads from the same marks)."""
        for task in list(self._later):
            task.cancel()
