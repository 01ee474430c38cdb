"""The catalog is a cache: a damaged one is thrown away and rebuilt, never refused; an older
one is migrated on open, and one already current is opened with the driver alone."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store import Catalog, FileRecord, open_database
from bot.store.migrations import CATALOG_MIGRATIONS, pending


def test_a_corrupt_catalog_is_rebuilt_because_it_is_a_cache(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    path.write_bytes(b"garbage" * 1000)
    catalog = Catalog(path)
    assert catalog.files() == {}


def test_a_folder_where_the_catalog_should_be_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    (path / "inside").mkdir(parents=True)
    with pytest.raises(StoreError, match="could not be removed to start afresh") as raised:
        Catalog(path)
    assert str(path) in str(raised.value) and (path / "inside").is_dir()  # nothing of it deleted


def test_a_catalog_a_newer_supportbot_wrote_is_rebuilt_because_it_is_a_cache(tmp_path: Path) -> None:
    """Its schema is one this version does not know (a downgrade on the same data directory):
    thrown away like a damaged one, where state.db would be refused."""
    path = tmp_path / "catalog.db"
    Catalog(path).close()
    with closing(sqlite3.connect(path)) as newer:
        newer.execute("alter table files add column region text not null default 'eu'")
        newer.execute("insert into _migrations (name, applied_at) values ('9999_next', 'x')")
        newer.commit()
    assert pending(sqlite3.connect(path), CATALOG_MIGRATIONS)

    catalog = Catalog(path)
    assert "region" not in [row[1] for row in catalog.conn.execute("pragma table_info(files)")]
    assert not pending(catalog.conn, CATALOG_MIGRATIONS)
    catalog.close()


def test_a_catalog_from_before_a_migration_is_migrated_on_open_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    old = open_database(path, CATALOG_MIGRATIONS[:2])  # before 0003 added the audience columns
    old.execute(
        "insert into files (path, sha256, size, mtime_ns, chunks, indexed_at) values ('a.md', 'h', 3, 7, 2, 'x')"
    )
    old.conn.commit()
    old.close()
    assert pending(sqlite3.connect(path), CATALOG_MIGRATIONS)

    catalog = Catalog(path)
    assert catalog.files() == {
        "a.md": FileRecord(path="a.md", sha256="h", size=3, mtime_ns=7, chunks=2, folder_audience="")
    }
    assert not pending(catalog.conn, CATALOG_MIGRATIONS)
    catalog.put_file(
        FileRecord(path="b.md", sha256="g", size=1, mtime_ns=1, chunks=1, folder_audience="staff"),
        audience=["staff"],
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    catalog.close()

    again = Catalog(path)  # current now: opened without running anything
    assert again.audiences() == {"b.md": ("staff",)}
    assert [row[0] for row in again.conn.execute("select name from _migrations order by name")] == [
        name for name, _ in CATALOG_MIGRATIONS
    ]


def test_a_current_catalog_opens_and_reads_while_another_connection_writes(tmp_path: Path) -> None:
    """Opening reads (WAL): a question is answered while another process writes the index."""
    path = tmp_path / "catalog.db"
    first = Catalog(path)
    first.put_file(
        FileRecord(path="a.md", sha256="h", size=1, mtime_ns=1, chunks=1), at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    first.conn.execute("begin immediate")  # holds the write lock, uncommitted row below
    first.conn.execute("update files set chunks = 9 where path = 'a.md'")
    try:
        reader = Catalog(path)
        assert reader.files()["a.md"].chunks == 1  # the committed state, not the pending write
        reader.close()
    finally:
        first.conn.rollback()
        first.close()
