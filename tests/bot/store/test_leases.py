"""The gateway lease (bot/store/leases.py) on a real PostgreSQL, and the query a new gateway
holder catches up from (`bot_conversations_since`, on both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bot.store import StateStore
from bot.store.leases import APPLICATION_NAME, GatewayLease
from bot.types import Author, ConversationRef
from tests.bot.store.conftest import in_schema

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
