"""Standing by for the Discord gateway, and catching up when taking it over.

Discord sends every event to every gateway connection of a bot, so of the workers sharing a
PostgreSQL state exactly one may be connected: the holder of the gateway lease
(`bot.ports.Lease`, a session advisory lock on a connection of its own: bot/store/leases.py).
The others stand by without connecting (no login, no command sync, nothing answered) and
ask again every `retry` seconds, so when the holder dies (its session ends with it and
PostgreSQL frees the lock) one of them is on the gateway within `retry` seconds plus a
login. The holder checks its lease as often: one whose session is lost stops serving,
since another worker may already hold the gateway.

A new holder cannot RESUME its predecessor's session (discord.py keeps the session in the
process that opened it), so what Discord sent during the hand-over went to a dead
connection. `catch_up` fetches it back over REST: for each conversation the bot took part in
within `ACTIVE_WINDOW`, the channel's messages after the last one recorded (paged back from
the newest, up to `HISTORY_CAP`), handed to the core in order. The inbox makes this safe to over-fetch: a message already handled is a
duplicate and is not answered again.

With sharding (adapters/discord/shards.py) each set of shards is a lease of its own: a
worker stands by for all of them, holds the first it gets, and catches up only on the
conversations whose guilds are on its shards. A set whose holder died and that no standby
took within `ORPHAN_CHECKS` checks (there is none left) is adopted by a worker already
holding another set (`GatewayHold.adopt`), so every set is served while any worker lives.

With state in SQLite there is no lease and one process holds everything. Every fresh
session catches up, a process's first one too (the one before it may have died), and so do the
channels where new questions are asked (adapters/discord/missed.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

import discord

from adapters.discord.events import Events
from adapters.discord.shards import GATEWAY_LEASE, ShardPlan
from adapters.discord.translate import PLATFORM
from bot.errors import StoreError
from bot.ports import Core, Lease
from bot.store.conversations import CATCH_UP_CONVERSATIONS
from bot.types import ConversationRef, Shards

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)

__all__ = ["GATEWAY_LEASE", "GatewayHold", "catch_up"]  # GATEWAY_LEASE: the one set's lease
# how often a standby asks for the lease and a holder checks it: a takeover within about
# this plus a login, far inside the 30 s a dead holder may leave the bot deaf
RETRY_SECONDS = 5.0
# checks in a row (`retry` apart) a set must stay without a holder before a worker already
# holding one adopts it: a standby asks every `retry`, so it takes a free set first, and an
# orphan is still served within about 15 s plus a login
ORPHAN_CHECKS = 3
# the conversations worth catching up: those the bot was talking in this recently (at most
# CATCH_UP_CONVERSATIONS of them, the newest; reaching that is logged)
ACTIVE_WINDOW = timedelta(hours=1)
# conversations read back at once: each is a REST read or more, all in discord.py's rate
# limits, and a new holder's live events share them
CATCH_UP_CONCURRENCY = 8
# messages read back per conversation, newest first, down to the last one recorded: other
# bots' posts are never recorded, so a busy thread may hold many after it. Reaching this is
# logged; the oldest are the ones left unread
HISTORY_CAP = 500
# with nothing recorded to start after: the latest this many
UNANCHORED_LIMIT = 50


@runtime_checkable
class ProbingLease(Lease, Protocol):
    """A lease that can tell whether a role is held without taking it (bot/store/leases.py)."""

    async def taken(self, name: str) -> bool: ...


class GatewayHold:
    """Waiting for a gateway lease (one per set of shards), noticing its loss, giving it back."""

    def __init__(
        self, lease: Lease, *, retry: float = RETRY_SECONDS, adopt_after: int = ORPHAN_CHECKS
    ) -> None:
        self.lease = lease
        self.retry = retry
        self.adopt_after = adopt_after
        # the lease held, once `acquire` got one
        self.name: str | None = None
        # set while another worker holds the gateway (tests and status wait on it)
        self.standing_by = asyncio.Event()
        self._stopped = asyncio.Event()

    async def acquire(self, names: tuple[str, ...] = (GATEWAY_LEASE,)) -> int | None:
        """Return the index in `names` of the lease this process holds, once it holds one
        (the first free, asked in order); until then, stand by. None if `stop` was called
        first (the adapter is closing)."""
        announced = False
        while not self._stopped.is_set():
            try:
                for index, name in enumerate(names):
                    if await self.lease.try_acquire(name):
                        self.name = name
                        self.standing_by.clear()
                        log.info("holding the Discord gateway", extra={"platform": PLATFORM, "lease": name})
                        return index
                if not announced:  # once per wait: a standby may wait for days
                    announced = True
                    log.info(
                        "standing by: another worker holds the Discord gateway",
                        extra={"platform": PLATFORM, "retry_seconds": self.retry},
                    )
            except StoreError as exc:
                # the database is unreachable: no one can be sure to hold it, so keep asking
                log.warning("cannot ask for the Discord gateway: %s", exc, extra={"platform": PLATFORM})
            self.standing_by.set()
            await self._pause()  # a closing adapter stops waiting at once
        self.standing_by.clear()
        return None

    async def adopt(self, names: tuple[str, ...], held: Collection[int]) -> int | None:
        """While holding the sets `held`: wait until another of `names` has had no holder for
        `adopt_after` checks in a row, take it, and return its index. None once `stop` is
        called; with a lease that cannot probe, nothing is ever adopted."""
        lease = self.lease
        unheld: dict[int, int] = {}  # index: checks in a row without a holder
        while not self._stopped.is_set():
            await self._pause()
            if not isinstance(lease, ProbingLease):
                continue
            for index, name in enumerate(names):
                if index in held:
                    continue
                try:
                    taken = await lease.taken(name)
                    unheld[index] = 0 if taken else unheld.get(index, 0) + 1
                    if unheld[index] >= self.adopt_after and await lease.try_acquire(name):
                        log.warning(
                            "adopting a set of shards no worker held; run more workers to spread them",
                            extra={"platform": PLATFORM, "lease": name},
                        )
                        return index
                except StoreError as exc:
                    log.warning("cannot look for unheld shards: %s", exc, extra={"platform": PLATFORM})
                    unheld.clear()
                    break
        return None

    def stop(self) -> None:
        """Stop standing by: the adapter is closing."""
        self._stopped.set()

    async def _pause(self) -> None:
        """Wait `retry` seconds, or until `stop`. With asyncio.timeout, not wait_for: on Python
        3.11 wait_for can swallow a cancellation that arrives as the event is set, and the
        adapter's shutdown, which cancels this task, then waits on it for good."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.retry):
                await self._stopped.wait()

    async def lost(self) -> None:
        """Return when the lease is lost (checked every `retry` seconds)."""
        while await self.lease.check():
            await asyncio.sleep(self.retry)

    async def release(self) -> None:
        self.name = None
        await self.lease.release()


async def catch_up(
    core: Core,
    events: Events,
    client: discord.Client,
    *,
    plan: ShardPlan | None = None,
    shards: tuple[int, ...] = (),
) -> int:
    """Hand the core what was said in the bot's active conversations after the last message
    it recorded there; how many messages were handed over. With a `plan`, only the
    conversations on `shards`: the other sets' holders catch up on theirs."""
    # the store chooses this holder's shards before its bound: a busy guild on another shard
    # crowds out none of this holder's conversations
    on = Shards(plan.count, frozenset(shards)) if plan is not None else None
    points = await core.active_conversations(PLATFORM, ACTIVE_WINDOW, on)
    if len(points) >= CATCH_UP_CONVERSATIONS:
        log.warning(
            "catching up on only the %d most recent active conversations; older ones are not read back",
            len(points),
            extra={"platform": PLATFORM, "window_s": ACTIVE_WINDOW.total_seconds()},
        )
    # conversations side by side, each in order: a follow-up must not overtake its question
    turns = asyncio.Semaphore(CATCH_UP_CONCURRENCY)

    async def one(ref: ConversationRef, last: str | None) -> int:
        async with turns:
            try:
                return await _catch_up_in(events, client, ref, last)
            except Exception:
                # one conversation's failure (a network error, a record it cannot read) is its
                # own: the others are still read back, and this catch-up ends with all of them
                log.exception(
                    "could not catch up on a conversation",
                    extra={"platform": PLATFORM, "conversation": ref.key},
                )
                return 0

    counts = await asyncio.gather(*(one(ref, last) for ref, last in points))
    handed = sum(counts)
    if handed:
        log.info(
            "caught up on %d message(s) in %d conversation(s)",
            handed,
            len(points),
            extra={"platform": PLATFORM},
        )
    return handed


async def _catch_up_in(
    events: Events, client: discord.Client, conversation: ConversationRef, last: str | None
) -> int:
    """One conversation's missed messages, through `events` as if the gateway had sent them."""
    where = int(conversation.thread or conversation.channel)
    start = _snowflake(last) if last is not None else None
    try:
        channel = client.get_channel(where) or await client.fetch_channel(where)
        if not isinstance(channel, discord.abc.Messageable):
            return 0
        if start is not None:
            # newest first, a page of 100 at a time, until the page that reaches back to the
            # last recorded message: the follow-up said during the hand-over is the newest,
            # and a cap must never leave out the newest
            after = discord.Object(id=start)
            messages = [m async for m in channel.history(limit=HISTORY_CAP, after=after, oldest_first=False)]
            if len(messages) >= HISTORY_CAP:
                log.warning(
                    "caught up on only the newest %d messages of a conversation; older ones are not read",
                    len(messages),
                    extra={"platform": PLATFORM, "channel": where},
                )
        else:  # nothing recorded to start after: the latest few
            messages = [m async for m in channel.history(limit=UNANCHORED_LIMIT)]
        messages.reverse()  # handed over oldest first: a follow-up must not overtake its question
    except discord.HTTPException as exc:
        # a deleted thread or a revoked permission: that conversation is over for the bot
        log.warning(
            "could not catch up on a conversation",
            extra={"platform": PLATFORM, "channel": where, "status": exc.status},
        )
        return 0
    own = client.user.id if client.user is not None else None
    handed = 0
    members: dict[int, Any] = {}
    for message in messages:
        if message.author.id == own:
            continue
        await events.handle_message(await events.as_heard_live(message, members))
        handed += 1
    return handed


def _snowflake(platform_id: str) -> int | None:
    """A recorded message id as a snowflake: an edit is recorded as `<id>:edit:<ms>`."""
    head = platform_id.split(":", 1)[0]
    return int(head) if head.isdigit() else None
