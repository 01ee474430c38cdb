"""The PostgreSQL backend itself: the translation, migrations, the inbox as a shared queue,
and what an unreachable server or a password in the URL turn into."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from bot.config import load_settings
from bot.errors import ConfigError, StoreError
from bot.store import REPLAY_LEASE, StateStore
from bot.store.dialect import to_postgres
from bot.store.migrations import STATE_MIGRATIONS, Migration, migrate
from bot.store.postgres import PgDatabase, connect
from bot.store.store import open_state

if TYPE_CHECKING:
    from bot.store.store import StateDatabase

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
OLD = NOW - REPLAY_LEASE - timedelta(seconds=1)  # received longer ago than the lease


def test_the_translation_leaves_literals_alone() -> None:
    assert to_postgres("select a from t where b = ? and c like '%?:x' escape '\\'") == (
        "select a from t where b = %s and c like '%%?:x' escape '\\'"
    )
    assert to_postgres("update t set a = :now where b < :before and c::text = 'x'") == (
        "update t set a = %(now)s where b < %(before)s and c::text = 'x'"
    )
    assert to_postgres("insert or ignore into t (a) values (?)") == (
        "insert into t (a) values (%s) on conflict do nothing"
    )
    assert to_postgres("select instr(a, ?) from t not indexed") == "select strpos(a, %s) from t"
    assert to_postgres(" begin ") == "begin isolation level repeatable read"


def test_migrations_are_applied_once(pg_url: str) -> None:
    db = open_state(pg_url, STATE_MIGRATIONS)
    try:
        names = [row["name"] for row in db["_migrations"].rows]
        assert names == [name for name, _ in STATE_MIGRATIONS]
        assert migrate(db, STATE_MIGRATIONS) == []
        assert {"inbox", "tickets", "answers", "job_runs", "welcomed"} <= set(db.table_names())
    finally:
        db.close()
    again = open_state(pg_url, STATE_MIGRATIONS)  # a restart, or a second worker
    assert [row["name"] for row in again["_migrations"].rows] == names
    again.close()


def test_a_failing_migration_leaves_nothing_behind(pg_url: str) -> None:
    def half_done(db: StateDatabase) -> None:
        db.table("half").create({"id": int, "name": str}, pk="id")
        db.table("half").create_index(["name"])
        raise RuntimeError("the step fails after its first statements")

    steps: list[Migration] = [STATE_MIGRATIONS[0], ("0002_half", half_done)]
    db = connect(pg_url)
    try:
        with pytest.raises(RuntimeError):
            migrate(db, steps)
        assert "half" not in db.table_names()  # DDL is transactional on PostgreSQL
        assert [row["name"] for row in db["_migrations"].rows] == ["0001_initial"]
        assert migrate(db, STATE_MIGRATIONS) == [name for name, _ in STATE_MIGRATIONS[1:]]
    finally:
        db.close()


def test_the_first_statement_after_the_server_ended_the_session_runs_on_a_fresh_one(
    pg_url: str, pg_server: str
) -> None:
    """A restart while the bot was idle: psycopg would find out only when the next statement
    failed, whichever it was (a question's claim: on Discord, "try again" and no answer)."""
    store = StateStore(pg_url)

    def end_session() -> None:
        assert isinstance(store.db, PgDatabase)
        with psycopg.connect(pg_server, autocommit=True) as admin:  # returns once it has ended
            admin.execute("select pg_terminate_backend(%s, 5000)", [store.db.connection.info.backend_pid])

    try:
        end_session()
        assert store.claim_event("slack:msg:1", "slack", "{}", NOW)  # one statement
        end_session()
        with store.exclusive("gaps") as mine:  # a transaction block
            assert mine
        end_session()
        store.finish_event("slack:msg:1", NOW, completion=None)
        assert not store.claim_event("slack:msg:1", "slack", "{}", NOW)
    finally:
        store.close()


def test_a_row_another_worker_is_claiming_is_skipped_not_waited_for(pg_url: str) -> None:
    one, two = StateStore(pg_url), StateStore(pg_url)
    try:
        one.claim_event("slack:msg:1", "slack", "{}", OLD)
        with one.db.conn:  # worker one is between locking the row and committing its claim
            one.db.execute("select key from inbox where key = ? for update", ["slack:msg:1"])
            assert not two.take_for_replay("slack:msg:1", NOW)  # returns at once (SKIP LOCKED)
            assert one.take_for_replay("slack:msg:1", NOW)
        assert not two.take_for_replay("slack:msg:1", NOW)  # claimed, and its lease is running
    finally:
        one.close()
        two.close()


def test_a_one_statement_write_is_committed_as_it_returns_and_joins_an_open_transaction(pg_url: str) -> None:
    # the event path's one-statement writes run without BEGIN / COMMIT (rows.one_statement):
    # that is only safe while the connection autocommits
    one, two = StateStore(pg_url), StateStore(pg_url)

    def status(key: str) -> str | None:
        row = two.db.execute("select status from inbox where key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    try:
        assert one.claim_event("slack:msg:9", "slack", "{}", NOW)
        assert status("slack:msg:9") == "pending"  # another connection sees it at once
        with pytest.raises(RuntimeError), one.db.conn:
            one.finish_event("slack:msg:9", NOW)
            raise RuntimeError("the block around it fails")
        assert status("slack:msg:9") == "pending"  # rolled back with the block it joined
        one.finish_event("slack:msg:9", NOW)
        assert status("slack:msg:9") == "done"
    finally:
        one.close()
        two.close()


def test_two_workers_replaying_together_never_take_the_same_event(pg_url: str) -> None:
    stores = [StateStore(pg_url) for _ in range(3)]
    keys = [f"slack:msg:{n}" for n in range(60)]
    for key in keys:
        stores[0].claim_event(key, "slack", "{}", OLD)
    taken: list[list[str]] = [[] for _ in stores]
    start = threading.Barrier(len(stores))

    def replay(n: int) -> None:
        start.wait()
        for key, _ in stores[n].pending_events("slack", NOW):
            if stores[n].take_for_replay(key, NOW):
                taken[n].append(key)

    threads = [threading.Thread(target=replay, args=(n,)) for n in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    everything = [key for mine in taken for key in mine]
    assert sorted(everything) == sorted(keys)  # each taken once, by one worker


def test_a_dead_workers_claims_expire_and_another_takes_them(pg_url: str) -> None:
    dead, alive = StateStore(pg_url), StateStore(pg_url)
    try:
        dead.claim_event("slack:msg:1", "slack", '{"q": 1}', NOW)
        # a fresh delivery is its receiver's while the lease runs, even for a worker started later
        assert alive.pending_events("slack", NOW, started=NOW + timedelta(seconds=1)) == []
        later = NOW + REPLAY_LEASE + timedelta(seconds=1)
        assert alive.pending_events("slack", later) == [("slack:msg:1", '{"q": 1}')]
        assert dead.take_for_replay("slack:msg:1", later)  # the receiver came back to it, then died
        assert not alive.take_for_replay("slack:msg:1", later + timedelta(seconds=1))
        expired = later + REPLAY_LEASE + timedelta(seconds=1)
        assert alive.take_for_replay("slack:msg:1", expired)
        alive.finish_event("slack:msg:1", expired)
        assert alive.pending_events("slack", expired + REPLAY_LEASE * 2) == []
    finally:
        dead.close()
        alive.close()


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}:{password}@{host}"))


def test_an_unreachable_server_is_one_clear_error_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = "postgresql://supportbot:Hunter2Secret@127.0.0.1:1/supportbot"
    with pytest.raises(StoreError) as caught:
        StateStore(url)
    message = str(caught.value)
    assert (
        "cannot connect to the PostgreSQL database at postgresql://supportbot:***@127.0.0.1:1/supportbot"
        in message
    )
    assert "SUPPORTBOT_DATABASE_URL" in message and "SQLite" in message
    assert "Hunter2Secret" not in message and "Hunter2Secret" not in caplog.text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_the_password_in_a_url_is_never_shown(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = _with_password(pg_url, "Hunter2Secret")  # the test server trusts local connections
    settings = load_settings(env={"SUPPORTBOT_DATABASE_URL": url}, data=tmp_path / "data", cwd=tmp_path)
    assert settings.state_target == url
    assert "Hunter2Secret" not in repr(settings) and "Hunter2Secret" not in str(settings.store)
    store = StateStore.open(settings)
    try:
        assert store.shared and "Hunter2Secret" not in str(store.path) and "***" in str(store.path)
        store.claim_event("slack:msg:1", "slack", "{}", NOW)
    finally:
        store.close()
    assert "Hunter2Secret" not in caplog.text


def test_the_environment_beats_the_file_and_only_postgresql_urls_are_taken(tmp_path: Path) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text('[store]\nurl = "postgresql://file/db"\n', encoding="utf-8")
    from_file = load_settings(config=config, env={}, cwd=tmp_path)
    assert from_file.state_target == "postgresql://file/db"
    from_env = load_settings(
        config=config, env={"SUPPORTBOT_DATABASE_URL": "postgres://env/db"}, cwd=tmp_path
    )
    assert from_env.state_target == "postgres://env/db"
    elsewhere = tmp_path / "elsewhere"  # no supportbot.toml here: neither is set
    elsewhere.mkdir()
    assert load_settings(env={}, cwd=elsewhere).state_target == elsewhere / ".supportbot" / "state.db"
    with pytest.raises(ConfigError, match="SUPPORTBOT_DATABASE_URL must be a PostgreSQL URL"):
        load_settings(env={"SUPPORTBOT_DATABASE_URL": "mysql://x/y"}, cwd=tmp_path)
    config.write_text('[store]\nurl = "sqlite:state.db"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"store\.url"):
        load_settings(config=config, env={}, cwd=tmp_path)
