"""A repository's block of writes is one transaction on both backends: kept whole or not at
all. On SQLite that needs an explicit BEGIN (bot/store/rows.py `transaction`): sqlite-utils 4
commits each write it sends outside a transaction, so `with conn:` alone kept the first
writes of a block that failed later."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.store import StateStore, open_database
from bot.store.rows import insert_row, one_statement, transaction
from bot.types import Author, ConversationRef

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
REF = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.0")


def _refuse_inserts(store: StateStore, table: str) -> None:
    """A trigger that refuses every insert into `table`."""
    if store.shared:
        store.db.execute(
            "create function refuse() returns trigger language plpgsql as $$ begin "
            "raise exception 'refused' using errcode = 'check_violation'; end $$"
        )
        store.db.execute(
            f"create trigger refuse before insert on {table} for each row execute function refuse()"
        )
    else:
        store.db.execute(
            f"create trigger refuse before insert on {table} begin select raise(abort, 'refused'); end"
        )


def _count(db: Any, table: str) -> int:
    return int(db.execute(f"select count(*) from {table}").fetchone()[0])


def test_forgetting_a_person_is_whole_or_not_at_all(state: Path | str) -> None:
    """`forget` deletes the person from every table and writes their tombstone last: with the
    tombstone refused, nothing is deleted (before, on SQLite, the deletions stayed and the
    tombstone that stops the bot from learning about them again was missing)."""
    store = StateStore(state)
    ann = Author(id="U1", name="Ann")
    store.record_message(
        REF, role="user", text="my order 1234", at=NOW, now=NOW, author=ann, platform_id="1.1"
    )
    _refuse_inserts(store, "tombstones")
    with pytest.raises(sqlite3.IntegrityError):
        store.forget("slack", "U1", NOW)
    assert [t.text for t in store.history(REF)] == ["my order 1234"]
    assert not store.is_tombstoned("slack", "U1")
    store.close()


def test_a_block_that_raises_keeps_nothing_and_a_nested_block_joins_the_outer(state: Path | str) -> None:
    store = StateStore(state)
    db = store.db
    insert = "insert into tombstones (hash, at) values (?, ?)"
    with pytest.raises(RuntimeError), transaction(db):
        db.execute(insert, ["a", "x"])
        db.execute(insert, ["b", "x"])
        raise RuntimeError("a failure after two writes")
    assert _count(db, "tombstones") == 0

    with pytest.raises(RuntimeError), transaction(db):
        db.execute(insert, ["c", "x"])
        with transaction(db):
            db.execute(insert, ["d", "x"])
        raise RuntimeError("the outer block fails after the inner one ended")
    assert _count(db, "tombstones") == 0  # the inner block did not commit the outer's writes

    with transaction(db):
        db.execute(insert, ["e", "x"])
        db.execute(insert, ["f", "x"])
    assert _count(db, "tombstones") == 2
    store.close()


def test_a_migration_that_fails_midway_leaves_the_database_at_the_previous_version(tmp_path: Path) -> None:
    """bot/store/migrations.py's promise: a crash mid-upgrade never leaves it half-way."""
    path = tmp_path / "state.db"

    def first(db: Any) -> None:
        db.execute("create table a (x text)")

    def second(db: Any) -> None:
        db.execute("create table b (x text)")
        db.execute("insert into a (x) values ('half')")
        raise RuntimeError("the step fails after two statements")

    open_database(path, [("0001_a", first)]).close()
    with pytest.raises(RuntimeError):
        open_database(path, [("0001_a", first), ("0002_b", second)])
    conn = sqlite3.connect(path)
    tables = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
    assert "b" not in tables and conn.execute("select count(*) from a").fetchone()[0] == 0
    assert [row[0] for row in conn.execute("select name from _migrations")] == ["0001_a"]
    conn.close()


def test_a_single_write_inside_a_block_is_the_blocks_on_both_backends(state: Path | str) -> None:
    """`one_statement` inside `transaction` joins it (before, on SQLite, its `with conn:` committed
    the outer block's writes midway, while PostgreSQL rolled them back)."""
    store = StateStore(state)
    db = store.db
    with pytest.raises(RuntimeError), transaction(db):
        db.execute("insert into tombstones (hash, at) values ('a', 'x')")
        with one_statement(db):
            db.execute("insert into tombstones (hash, at) values ('b', 'x')")
        raise RuntimeError("the outer block fails after the single write")
    assert _count(db, "tombstones") == 0
    store.close()


def test_a_write_left_open_outside_any_block_is_committed_not_joined(tmp_path: Path) -> None:
    """sqlite-utils leaves a write that returns rows uncommitted; a block opened after it must
    not join that transaction (nobody would commit either)."""
    store = StateStore(tmp_path / "state.db")
    db = store.db
    db.execute("create table scratch (id integer primary key, x text)")
    insert_row(db, "scratch", {"x": "1"})  # `insert ... returning id` leaves its transaction open
    assert db.conn.in_transaction
    with transaction(db):
        db.execute("insert into tombstones (hash, at) values ('a', 'x')")
    assert not db.conn.in_transaction
    other = sqlite3.connect(tmp_path / "state.db")
    assert other.execute("select count(*) from tombstones").fetchone()[0] == 1
    assert other.execute("select count(*) from scratch").fetchone()[0] == 1
    other.close()
    store.close()


def test_reads_take_no_write_lock_while_another_process_writes(tmp_path: Path) -> None:
    """Only blocks that write open a transaction: a tombstone check and a dry-run purge go on
    while another connection holds the write lock (a short busy timeout would turn a wait for
    the lock into a "locked" error here)."""
    path = tmp_path / "state.db"
    writer = StateStore(path)
    assert not writer.is_tombstoned("slack", "U1")  # makes the salt, the one write it may need
    reader = StateStore(path, busy_timeout=0.05)
    writer.db.conn.execute("begin immediate")
    try:
        assert not reader.is_tombstoned("slack", "U1")
        assert all(n == 0 for n in reader.purge_text(NOW, NOW, dry_run=True).values())
    finally:
        writer.db.conn.rollback()
        reader.close()
        writer.close()
