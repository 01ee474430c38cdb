"""Opening a SQLite file: the connection, its pragmas and busy timeout, and SQLite's errors
turned into advice.

It imports no more than the standard library, so the catalog (bot/store/catalog.py), which
every `supportbot ask` opens, does not load sqlite-utils unless a migration has to run;
`open_database` (bot/store/store.py) builds on it for state.db.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.errors import StoreError

# how long a connection waits for another one's write lock before giving up; long enough
# for any write of ours to finish, short enough that a second bot on the same file is told so
DEFAULT_BUSY_TIMEOUT = 5.0
# how long to wait before asking again for a file another process is switching to WAL mode
_WAL_RETRY = 0.005


def connect(path: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> sqlite3.Connection:
    """A connection to `path` (created if needed) in WAL mode with foreign keys on."""
    conn: sqlite3.Connection | None = None
    with advice(path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=busy_timeout, check_same_thread=False)
            _wal(conn, busy_timeout)
            # with WAL, NORMAL still survives a crash of the process; only an OS crash can
            # lose the last commits, and it avoids an fsync per event (about 10 ms here)
            conn.execute("pragma synchronous=normal")
            conn.execute("pragma foreign_keys=on")
        except BaseException:
            close_quietly(conn)  # a file that could not be opened is not held open (nor its WAL)
            raise
    return conn


def _wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Put the file in WAL mode, waiting up to `busy_timeout` for the others opening it. The
    switch needs the file to itself, and SQLite reports a busy file at once here rather than
    waiting its busy timeout: processes opening a new state.db together (workers started at
    once, `supportbot migrate` beside `run`) would each be told that another holds it."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            conn.execute("pragma journal_mode=wal")
            return
        except sqlite3.OperationalError as exc:
            if not ("locked" in str(exc) or "busy" in str(exc)) or time.monotonic() >= deadline:
                raise
            time.sleep(_WAL_RETRY)


@contextmanager
def advice(path: Path) -> Iterator[None]:
    """SQLite's errors on `path` raised as a StoreError that says what to do."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        message = str(exc)
        if _locked(exc):
            raise _locked_advice(path) from None
        if "not a database" in message or "malformed" in message:
            raise StoreError(
                f"{path} is not a readable SQLite database (it may be corrupt). Nothing was changed. "
                "Move the file aside to start afresh, or restore it from a backup."
            ) from None
        raise StoreError(f"{path} cannot be opened: {message}") from None
    except OSError as exc:
        raise StoreError(f"{path} cannot be created: {exc.strerror}") from None


def explained(path: Path, exc: BaseException) -> BaseException:
    """What a statement on the open file `path` raised, as its caller should see it: another
    process holding the write lock past the busy timeout is `advice`'s StoreError (a terminal
    says so in one line; the bot's boundaries log it as they log any failed write), anything
    else as it was (an IntegrityError, say, that a repository catches)."""
    return _locked_advice(path) if isinstance(exc, sqlite3.OperationalError) and _locked(exc) else exc


def _locked(exc: sqlite3.DatabaseError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _locked_advice(path: Path) -> StoreError:
    return StoreError(
        f"{path} is locked by another process. Is another supportbot running with the same "
        "data directory? Stop it, or give this one its own with --data DIR."
    )


def close_quietly(conn: sqlite3.Connection | None) -> None:
    if conn is not None:
        conn.close()
