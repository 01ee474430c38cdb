"""What every state store session on PostgreSQL is given (bot/store/postgres_session.py): a
connection gone silent is given up at a deadline, a lock a stuck peer holds is not waited for
long, migrations run without either, and its locks are its schema's own."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from bot.store import AsyncStore, StateStore
from bot.store.postgres import MIGRATION_LOCK, PgDatabase
from tests.bot.store.conftest import in_schema
from tests.fakes.silent_network import SilentNetwork

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _db(store: StateStore) -> PgDatabase:
    assert isinstance(store.db, PgDatabase)
    return store.db


async def test_a_silent_connection_is_given_up_and_the_next_call_gets_a_fresh_one(pg_url: str) -> None:
    """A connection gone silent (no answer, no error: a dropped NAT entry, a failed-over host)
    fails its statement at the store's deadline, instead of holding the store's one thread,
    the heartbeat and every question queued behind it, and the shutdown, for good."""
    async with SilentNetwork(pg_url) as network:
        store = AsyncStore(await asyncio.to_thread(StateStore, network.database_url))
        try:
            _db(store.store).connection.deadline = 0.5  # tens of seconds by default
            network.silence()
            with pytest.raises(psycopg.OperationalError, match=r"sent nothing for 0\.5 s"):
                await store.run(StateStore.claim_event, "slack:E1", "slack", "{}", NOW)
            # never reached the server, and the next call runs on a fresh connection
            assert await store.run(StateStore.claim_event, "slack:E1", "slack", "{}", NOW)
        finally:
            await asyncio.to_thread(store.close)


def test_statements_have_deadlines_that_migrations_lift(pg_url: str) -> None:
    store = StateStore(pg_url)
    db = _db(store)

    def timeouts() -> list[str]:
        names = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
        return [str(db.execute(f"show {name}").fetchone()[0]) for name in names]

    try:
        assert timeouts() == ["15s", "3s", "30s"] and db.connection.deadline is not None
        with db.lock(MIGRATION_LOCK):  # what migrations run under: an index on a big table takes minutes
            assert timeouts() == ["0", "0", "0"] and db.connection.deadline is None
        assert timeouts() == ["15s", "3s", "30s"] and db.connection.deadline is not None
    finally:
        store.close()


def test_a_lock_a_stuck_peer_holds_fails_the_wait_instead_of_freezing_the_store(pg_url: str) -> None:
    """A worker whose network went silent inside `exclusive` keeps its transaction, and the
    lock, until the server's keepalives end it. Another waiting for that lock on its store's
    one thread would hold up its heartbeat and every question meanwhile: the wait fails
    (the caller's retry or next tick does the work) and the store carries on."""
    stuck, here = StateStore(pg_url), StateStore(pg_url)
    try:
        with stuck.exclusive("bursts:slack:T1"):
            with pytest.raises(psycopg.errors.LockNotAvailable), here.exclusive("bursts:slack:T1"):
                pass
            assert here.claim_event("slack:E1", "slack", "{}", NOW)
        with here.exclusive("bursts:slack:T1") as mine:  # once let go, taken at once
            assert mine
    finally:
        stuck.close()
        here.close()


def test_a_lock_belongs_to_its_schema(pg_url: str, pg_server: str) -> None:
    """Two installs sharing a database in different schemas: one placing its knowledge gaps
    does not hold up the other's."""
    schema = f"other_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"create schema {schema}")
    here, there = StateStore(pg_url), StateStore(in_schema(pg_server, schema))
    try:
        with there.exclusive("gaps") as theirs, here.exclusive("gaps", wait=False) as mine:
            assert theirs and mine
    finally:
        here.close()
        there.close()
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f"drop schema {schema} cascade")


def _statement_timeout(store: StateStore) -> str:
    return str(store.db.execute("show statement_timeout").fetchone()[0])


def _idle_in_transaction(store: StateStore) -> str:
    return str(store.db.execute("show idle_in_transaction_session_timeout").fetchone()[0])


def _slow_read(store: StateStore) -> int:
    return int(store.db.execute("select 1 from pg_sleep(5)").fetchone()[0])


async def test_reports_go_on_after_the_server_ended_a_reports_session(pg_url: str, pg_server: str) -> None:
    """A restart or a fail-over ends the reports connection mid-statement: that report fails,
    and the next ones run on a fresh connection (the dashboard and /support stats recover)."""
    store = AsyncStore(StateStore(pg_url), reports=lambda: StateStore(pg_url))
    try:
        reading = asyncio.create_task(store.report(_slow_read))
        with psycopg.connect(pg_server, autocommit=True) as admin:
            for _ in range(500):
                ended = admin.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity "
                    "where query like 'select 1 from pg_sleep(5)%' and pid <> pg_backend_pid()"
                ).fetchall()
                if ended:
                    break
                await asyncio.sleep(0.01)
        with pytest.raises(psycopg.OperationalError):
            await reading
        assert [await store.report(_statement_timeout) for _ in range(2)] == ["5min", "5min"]
    finally:
        store.close()


async def test_a_report_may_read_for_minutes_where_the_bots_statements_may_not(pg_url: str) -> None:
    """A month's figures on a big install may take a minute on the reports connection; the
    bot's own statements keep their seconds, and so does the reports connection after."""
    store = AsyncStore(StateStore(pg_url), reports=lambda: StateStore(pg_url))
    try:
        assert await store.run(_statement_timeout) == "15s"
        assert await store.report(_statement_timeout) == "5min"
        assert await store.report(_idle_in_transaction) == "5min"  # a snapshot read converts rows
        assert await store.run(_statement_timeout) == "15s"
        reports = store._reports
        assert reports is not None
        assert await reports.call(lambda: _statement_timeout(reports.store)) == "15s"
    finally:
        store.close()
