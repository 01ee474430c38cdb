"""Two processes doing the same thing at the same moment: the second sees the first's work.

Each test holds the race open on purpose (a lock another connection holds) until both sides
are committed to it, so the interleaving that went wrong is the one that runs, every time.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bot.store import StateStore, open_database
from bot.store.migrations import Migration, migrate
from bot.store.sqlite_file import connect as connect_sqlite

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def _waiting_locks(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as watch:
        return int(watch.execute("select count(*) from pg_locks where not granted").fetchone()[0])


def test_two_presses_of_open_incident_on_one_burst_open_one_incident(pg_url: str) -> None:
    """Two staff press *Open incident* on one burst alert, the presses landing on two workers
    at once: one incident, and the second press is shown the first's."""
    one, two = StateStore(pg_url), StateStore(pg_url)
    try:
        burst = one.record_burst(
            platform="slack",
            representative="login fails",
            signatures="[]",
            askers=5,
            channels=["C1"],
            threads=["slack:T1:C1:1"],
            at=NOW,
        )
        # inserts into incidents wait behind this lock; reads do not: both presses get as far
        # as they can before either commits
        blocker = psycopg.connect(pg_url)
        blocker.execute("lock table incidents in share mode")
        results: dict[str, bool] = {}

        def press(who: str, store: StateStore) -> None:
            _, created = store.open_incident(
                platform="slack", text="Login is down", signatures="[]", by=who, at=NOW, burst_id=burst.id
            )
            results[who] = created

        presses = [threading.Thread(target=press, args=args) for args in (("S1", one), ("S2", two))]
        for thread in presses:
            thread.start()
        for _ in range(500):  # both are waiting: on the table lock, or on each other
            if _waiting_locks(pg_url) >= 2:
                break
            time.sleep(0.02)
        raced = _waiting_locks(pg_url) >= 2  # else the race was never set up: the test proves nothing
        blocker.rollback()
        blocker.close()
        for thread in presses:
            thread.join(10)
        rows = one.db.execute("select burst_id from incidents").fetchall()
        assert raced
        assert rows == [(burst.id,)]
        assert sorted(results.values()) == [False, True]
    finally:
        one.close()
        two.close()


def test_a_migration_another_process_applied_while_this_one_waited_is_not_run_again(tmp_path: Path) -> None:
    """`supportbot migrate` beside a starting `run` on one SQLite file: the second to get the
    write lock finds the step applied, and neither fails."""
    path = tmp_path / "state.db"
    base: Migration = ("0000_base", lambda db: None)  # what a release before the step applied
    open_database(path, [base]).conn.close()  # the file and its `_migrations` table
    runs: list[str] = []

    def add_column(db: object) -> None:
        runs.append("ran")
        db.execute("create table extra (id integer primary key)")  # type: ignore[attr-defined]

    steps: list[Migration] = [base, ("0001_extra", add_column)]
    other = connect_sqlite(path)
    other.execute("begin immediate")  # another process holds the write lock, mid-migration
    outcome: dict[str, object] = {}

    has_read = threading.Event()

    def this_process() -> None:
        conn = connect_sqlite(path)
        # its look at what is applied, seen in SQLite's own statement trace: the other process
        # commits only after it
        conn.set_trace_callback(lambda sql: has_read.set() if "_migrations" in sql else None)
        try:
            from sqlite_utils import Database

            outcome["applied"] = migrate(Database(conn), steps)  # read: nothing applied; then waits
        except Exception as exc:  # what the race used to raise
            outcome["error"] = exc
        finally:
            conn.close()

    waiting = threading.Thread(target=this_process)
    waiting.start()
    assert has_read.wait(10)
    time.sleep(0.1)  # on to its BEGIN IMMEDIATE, which waits for the lock (either way, it read first)
    other.execute("create table extra (id integer primary key)")
    other.execute("insert into _migrations (name, applied_at) values ('0001_extra', '2026-12-01 09:00:00')")
    other.commit()
    other.close()
    waiting.join(10)
    assert outcome == {"applied": []}
    assert runs == []
    with sqlite3.connect(path) as check:
        assert check.execute("select count(*) from _migrations where name = '0001_extra'").fetchone() == (1,)
