"""The gateway lease (bot/store/leases.py) on a real PostgreSQL, also behind a network that goes
silent (tests/fakes/silent_network.py), and the query a new gateway holder catches up from
(`bot_conversations_since`, on both backends)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from bot.errors import StoreError
from bot.store import StateStore
from bot.store.conversations import CATCH_UP_CONVERSATIONS, ConversationState
from bot.store.leases import APPLICATION_NAME, GatewayLease
from bot.types import Author, ConversationRef, Shards
from tests.bot.store.conftest import in_schema
from tests.fakes.silent_network import SilentNetwork

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


async def test_one_session_holds_a_lease_until_it_ends(pg_url: str) -> None:
    first, second = GatewayLease(pg_url), GatewayLease(pg_url)
    try:
        assert await first.try_acquire("discord-gateway") and first.held
        assert not await second.try_acquire("discord-gateway") and not second.held
        assert await second.try_acquire("another role")  # roles are apart
        await second.release()
        assert await first.check()
        with psycopg.connect(pg_url, autocommit=True) as conn:  # as if first's process died
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where application_name = %s and pid <> pg_backend_pid()",
                [APPLICATION_NAME],
            )
        assert not await first.check() and not first.held
        assert await second.try_acquire("discord-gateway")
    finally:
        await first.release()
        await second.release()


async def test_a_lease_belongs_to_its_schema(pg_url: str, pg_server: str) -> None:
    """Two installs sharing a database in different schemas each have their gateway."""
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute("create schema if not exists other_install")
    here, there = GatewayLease(pg_url), GatewayLease(in_schema(pg_server, "other_install"))
    try:
        assert await here.try_acquire("discord-gateway")
        assert await there.try_acquire("discord-gateway")
    finally:
        await here.release()
        await there.release()
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute("drop schema other_install cascade")


def test_the_conversations_to_catch_up_are_the_bots_recent_ones(state: Path | str) -> None:
    store = StateStore(state)
    try:
        asker = Author(id="U1", name="Ann")
        thread = ConversationRef(platform="discord", workspace="G", channel="C", thread="T")
        quiet = ConversationRef(platform="discord", workspace="G", channel="C", thread="OLD")
        chatter = ConversationRef(platform="discord", workspace="G", channel="C2")
        for ref, at in ((thread, T0), (quiet, T0 - timedelta(hours=2)), (chatter, T0)):
            store.record_message(ref, role="user", text="q", at=at, now=at, author=asker, platform_id="100")
        for ref, at in ((thread, T0), (quiet, T0 - timedelta(hours=2))):
            store.record_message(
                ref, role="bot", text="a", at=at, now=at, platform_id="101:edit:5", bot_participating=True
            )
        assert store.bot_conversations_since("discord", T0 - timedelta(hours=1)) == [(thread, "101:edit:5")]
        assert store.bot_conversations_since("slack", T0 - timedelta(hours=1)) == []
    finally:
        store.close()


def test_the_bot_takes_part_where_it_spoke_not_only_in_its_threads(state: Path | str) -> None:
    """A DM the bot answered and a question it answered in place in its channel are caught up
    as its threads are (their follow-ups reach the bot too), though neither is flagged as a
    thread the bot took part in; a channel it only read is not."""
    store = StateStore(state)
    try:
        asker = Author(id="U1", name="Ann")
        dm = ConversationRef(platform="discord", workspace="dm", channel="D1")
        in_place = ConversationRef(platform="discord", workspace="G", channel="C")
        read_only = ConversationRef(platform="discord", workspace="G", channel="C2")
        for n, ref in enumerate((dm, in_place, read_only)):
            at = T0 + timedelta(minutes=n)
            store.record_message(
                ref, role="user", text="q", at=at, now=at, author=asker, platform_id=f"{n}00"
            )
        for n, ref in enumerate((dm, in_place)):
            at = T0 + timedelta(minutes=n)
            store.record_message(ref, role="bot", text="a", at=at, now=at, platform_id=f"{n}01")
            assert store.conversation(ref.key) == ConversationState(
                key=ref.key, asker_id=None, bot_participating=False, human_takeover=False
            )  # follow-ups there still need what they needed: the flag is the thread's alone
        assert store.bot_conversations_since("discord", T0) == [(in_place, "101"), (dm, "001")]
    finally:
        store.close()


def _burying() -> list[asyncio.Task[object]]:
    """The lease statements given up on and still ending in the background (GatewayLease)."""
    return [t for t in asyncio.all_tasks() if t.get_name() == "supportbot-lease-abandoned" and not t.done()]


async def test_a_standby_on_a_silent_connection_takes_a_freed_lease_on_a_fresh_one(pg_url: str) -> None:
    """A standby's connection that goes silent (no error, no answer: a dropped NAT entry) is
    given up after the lease's timeout, and the lease freed meanwhile is taken on a new one,
    instead of waiting out the kernel's TCP timeout."""
    async with SilentNetwork(pg_url) as network:
        holder, standby = GatewayLease(pg_url), GatewayLease(network.url, timeout=0.5)
        try:
            assert await holder.try_acquire("discord-gateway")
            assert not await standby.try_acquire("discord-gateway")  # standing by, its session open
            assert network.silence() == 1
            await holder.release()
            with pytest.raises(StoreError, match=r"no answer within 0\.5 s"):
                await standby.try_acquire("discord-gateway")
            # it answered at the deadline, not after psycopg's own cancel (which waits up to 10 s
            # for a silent server): the statement it gave up on is still being buried
            assert _burying()
            assert await standby.try_acquire("discord-gateway") and standby.held  # on a fresh session
            assert not await holder.try_acquire("discord-gateway")
        finally:
            await holder.release()
            await standby.release()
        assert _burying() == []  # released: nothing of it is left running


async def test_a_holder_whose_connection_goes_silent_has_lost_its_lease(pg_url: str) -> None:
    async with SilentNetwork(pg_url) as network:
        holder = GatewayLease(network.url, timeout=0.5)
        try:
            assert await holder.try_acquire("discord-gateway") and await holder.check()
            network.silence()
            assert not await holder.check() and not holder.held
            assert _burying()  # answered at the deadline, not after psycopg's cancel
            # a fresh session answers at once, and finds the lock still held by the silent one
            # (until the server's keepalives end it): no one else takes it meanwhile
            assert await holder.taken("discord-gateway")
        finally:
            await holder.release()


def test_a_holder_of_some_shards_lists_its_own_conversations_before_the_bound(state: Path | str) -> None:
    """Chosen by shard in the query, then bounded: a busy guild on another shard crowds out none
    of this holder's conversations. A DM is on shard 0."""
    store = StateStore(state)
    try:
        own, other = str(1 << 22), str(2 << 22)  # shards 1 and 0 of 2
        mine = ConversationRef(platform="discord", workspace=own, channel="C", thread="T")
        dm = ConversationRef(platform="discord", workspace="dm", channel="D")
        busy = [
            ConversationRef(platform="discord", workspace=other, channel="C", thread=f"B{n}")
            for n in range(5)
        ]
        for n, ref in enumerate([mine, dm, *busy]):  # the busy guild's the newest
            at = T0 + timedelta(minutes=n)
            store.record_message(ref, role="bot", text="a", at=at, now=at, platform_id=f"{n}01")
        listed = store.bot_conversations_since("discord", T0, 3, shards=Shards(2, frozenset({1})))
        assert listed == [(mine, "001")]
        assert store.bot_conversations_since("discord", T0, 3, shards=Shards(2, frozenset({0}))) == [
            (busy[4], "601"),
            (busy[3], "501"),
            (busy[2], "401"),
        ]
        assert (dm, "101") in store.bot_conversations_since("discord", T0, shards=Shards(2, frozenset({0})))
        assert store.bot_conversations_since("discord", T0, shards=Shards(2, frozenset())) == []
    finally:
        store.close()


def test_the_catch_up_bound_is_far_above_a_hundred(state: Path | str) -> None:
    """It was 100: the 101st most recent conversation of the hour went unread."""
    store = StateStore(state)
    try:
        refs = [
            ConversationRef(platform="discord", workspace="G", channel="C", thread=f"T{n}")
            for n in range(101)
        ]
        for n, ref in enumerate(refs):
            at = T0 + timedelta(seconds=n)
            store.record_message(ref, role="bot", text="a", at=at, now=at, platform_id=str(n))
        listed = store.bot_conversations_since("discord", T0)
        assert len(listed) == 101 and listed[-1] == (refs[0], "0")
        assert CATCH_UP_CONVERSATIONS >= 1000
    finally:
        store.close()


async def test_a_check_cancelled_by_its_caller_keeps_the_session_and_the_lease(pg_url: str) -> None:
    """Cancelling the caller is not the session's fault: the lease stays held (a process that
    dies keeps it until the server ends its session; one that stops releases it)."""
    async with SilentNetwork(pg_url) as network:
        holder, other = GatewayLease(network.url, timeout=5.0), GatewayLease(pg_url)
        try:
            assert await holder.try_acquire("discord-gateway")
            network.silence()  # the check will wait: cancel it mid-statement
            checking = asyncio.ensure_future(holder.check())
            await asyncio.sleep(0.2)
            checking.cancel()
            await asyncio.gather(checking, return_exceptions=True)
            assert holder.held
            assert await other.taken("discord-gateway")  # its session still holds the lock
        finally:
            await other.release()
            await holder.release()
        assert _burying() == []


# a holder in a process of its own, checking its lease every `sys.argv[2]` seconds, as the
# Discord adapter's holder does (adapters/discord/standby.py)
_HOLDER = """
import asyncio, sys
from bot.store.leases import GatewayLease

async def main():
    lease = GatewayLease(sys.argv[1])
    assert await lease.try_acquire("discord-gateway")
    print("held", flush=True)
    while await lease.check():
        await asyncio.sleep(float(sys.argv[2]))
    print("lost", flush=True)

asyncio.run(main())
"""


@pytest.mark.timeout(60)
async def test_a_frozen_holder_loses_the_lease_to_a_standby_and_a_checking_one_never_does(
    pg_url: str,
) -> None:
    """A holder frozen (SIGSTOP: a suspended VM) keeps its session, as its kernel answers the
    keepalives, but checks its lease no more: a standby ends the session once it has sat idle
    `stale_after` seconds and takes the lease; resumed, the holder finds it lost. A holder that
    keeps checking is never ended, however long a standby asks."""
    import os
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, pg_url, "0.3"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    standby = GatewayLease(pg_url, stale_after=1.5)
    try:
        assert holder.stdout is not None
        assert await asyncio.to_thread(holder.stdout.readline) == "held\n"
        for _ in range(10):  # 3 s of asking while the holder checks
            assert not await standby.try_acquire("discord-gateway")
            await asyncio.sleep(0.3)
        assert await standby.taken("discord-gateway")
        os.kill(holder.pid, signal.SIGSTOP)
        for _ in range(40):
            if not await standby.taken("discord-gateway"):
                break  # a worker holding other sets would count it unheld, and adopt it
            await asyncio.sleep(0.3)
        assert not await standby.taken("discord-gateway")
        for _ in range(40):
            if await standby.try_acquire("discord-gateway"):
                break
            await asyncio.sleep(0.3)
        assert standby.held
        os.kill(holder.pid, signal.SIGCONT)
        assert await asyncio.to_thread(holder.stdout.readline) == "lost\n"
        assert await standby.check()
    finally:
        os.kill(holder.pid, signal.SIGCONT)
        holder.kill()
        holder.wait()
        await standby.release()


async def test_a_holder_that_has_not_begun_its_checks_keeps_the_lease(pg_url: str) -> None:
    """Between taking the lease and serving (logging in to Discord, which may wait out a long
    rate limit first) the holder checks nothing itself: the lease keeps its session busy, so a
    standby never takes that running holder for a frozen one."""
    holder, standby = GatewayLease(pg_url, stale_after=1.0), GatewayLease(pg_url, stale_after=1.0)
    try:
        assert await holder.try_acquire("discord-gateway")
        for _ in range(12):  # 3.6 s: over three times `stale_after`, no check of its own
            assert not await standby.try_acquire("discord-gateway")
            assert await standby.taken("discord-gateway")
            await asyncio.sleep(0.3)
        assert await holder.check()
    finally:
        await holder.release()
        await standby.release()
    # released: nothing of it left running
    assert [t for t in asyncio.all_tasks() if t.get_name() == "supportbot-lease-keep"] == []
