"""The plumbing under every repository: opening a database (a SQLite file or a PostgreSQL URL).

It owns migrations on open over a SQLite connection (bot/store/sqlite_file.py opens it), the
choice of backend (`open_state`) and the `Repository` base the state repositories share, and
re-exports the conversions between Python values and stored text (bot/store/values.py). With
migrations.py, sqlite_file.py and postgres.py it is the only module that touches a driver:
repositories take `StateDatabase`, `NotFoundError` and `IntegrityError` from here, so one
repository runs on either backend (bot/store/postgres.py says how).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

from bot.errors import StoreError
from bot.store.migrations import Migration, migrate
from bot.store.postgres_session import lock_keys
from bot.store.sqlite_file import DEFAULT_BUSY_TIMEOUT, advice, close_quietly
from bot.store.sqlite_file import connect as connect_sqlite
from bot.store.urls import is_database_url, redact_url
from bot.store.values import iso, like_prefix, parse_time

if TYPE_CHECKING:
    from bot.store.migrations import StateDatabase

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "Database",
    "IntegrityError",
    "NotFoundError",
    "Repository",
    "connect_state",
    "is_database_url",
    "iso",
    "like_prefix",
    "migrate_state",
    "open_database",
    "open_state",
    "parse_time",
    "redact_url",
]

# PostgreSQL's constraint errors are raised as a subclass of it (postgres.PgIntegrityError)
IntegrityError = sqlite3.IntegrityError


def open_database(
    path: Path, migrations: list[Migration], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
) -> Database:
    """Open (creating if needed) and migrate a database, turning SQLite's errors into advice."""
    conn = connect_sqlite(path, busy_timeout=busy_timeout)
    try:
        with advice(path):
            db = Database(conn)
            migrate(db, migrations, where=str(path))
            return db
    except BaseException:
        close_quietly(conn)
        raise


def open_state(
    target: Path | str, migrations: list[Migration], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
) -> StateDatabase:
    """The state database: a PostgreSQL URL (`postgresql://...`), or else a SQLite file path.
    Migrations run on open either way; on PostgreSQL one process at a time applies them."""
    if not is_database_url(target):
        return open_database(Path(target), migrations, busy_timeout=busy_timeout)
    db = connect_state(target)
    try:
        migrate_state(db, target, migrations)
    except BaseException:
        db.close()
        raise
    return db


def connect_state(target: Path | str) -> StateDatabase:
    """The state database opened, nothing applied (`supportbot migrate` then says what it applies)."""
    if not is_database_url(target):
        return Database(connect_sqlite(Path(target)))  # its errors are advice already
    try:
        from bot.store.postgres import connect
    except ImportError:
        raise StoreError(
            "a PostgreSQL database is configured (SUPPORTBOT_DATABASE_URL or [store] url) but its "
            "driver is not installed: pip install 'supportbot[postgres]'"
        ) from None
    return connect(str(target))


def migrate_state(db: StateDatabase, target: Path | str, migrations: list[Migration]) -> list[str]:
    """Apply to `db` (opened on `target`) the migrations it has not seen; the names applied.
    The drivers' errors become a StoreError saying what to check; on PostgreSQL one process
    at a time migrates, and the others then find nothing left to do, while running workers
    keep using the tables (bot/store/postgres_migrating.py)."""
    if not is_database_url(target):
        with advice(Path(target)):
            return migrate(db, migrations, where=str(target))
    from bot.store.postgres import PgDatabase
    from bot.store.postgres_migrating import migrate_shared

    assert isinstance(db, PgDatabase)
    return migrate_shared(db, str(target), migrations)


def open_readonly(path: Path) -> Database:
    """A SQLite file opened so that nothing done through it can change the file (`supportbot
    store copy` reads an install's state.db this way; bot/store/copy.py)."""
    if not path.is_file():
        raise StoreError(f"there is no SQLite database at {path}")
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("select count(*) from sqlite_master").fetchone()  # fails now on a file that is not one
        return Database(conn)
    except sqlite3.DatabaseError as exc:
        close_quietly(conn)
        raise StoreError(f"{path} is not a readable SQLite database: {exc}. Nothing was changed.") from None


def snapshot(source: Database, destination: Path) -> None:
    """A consistent copy of `source` written to `destination` (SQLite's online backup)."""
    target = sqlite3.connect(destination)
    try:
        source.conn.backup(target)
    finally:
        target.close()


class Repository:
    """One concern's queries over a shared connection. The repositories are mixed into
    `StateStore`, so they share its single `db` (one connection, one thread: see AsyncStore)."""

    db: StateDatabase
    # how many times this store has changed tickets since it opened (moved one, set a field,
    # forgot a person): bot/insights/similar_tickets.py reads its resolved tickets again when
    # this moved since its last read, instead of for every question. Counted after the commit
    ticket_changes: int = 0

    def __init__(self, db: StateDatabase) -> None:
        self.db = db

    @property
    def shared(self) -> bool:
        """Whether other processes may use this state at the same time (PostgreSQL): a
        SQLite file belongs to the one process holding its data directory."""
        return not isinstance(self.db, Database)

    def _lock_until_commit(self, name: str) -> None:
        """Inside a transaction: wait until no other process on this schema holds `name`, then
        hold it until this transaction ends (PostgreSQL's `pg_advisory_xact_lock`: a worker
        that dies mid-way never leaves it held). On SQLite nothing: the transactions there
        already run one at a time (BEGIN IMMEDIATE), and one process owns the file."""
        if self.shared:
            self.db.execute(f"select pg_advisory_xact_lock({lock_keys('?')})", [name])


def in_workspace(where: str, params: list[Any], workspace: str | None) -> tuple[str, list[Any]]:
    """`where` narrowed to the rows of `workspace` and those kept before rows had one (a null
    workspace: platform-wide); unchanged when `workspace` is None (the whole platform)."""
    if workspace is None:
        return where, params
    return f"{where} and (workspace = ? or workspace is null)", [*params, workspace]
