"""One row in, out or changed by its key, in plain SQL that SQLite and PostgreSQL both read.

The one way the state repositories write, read or change a single row. sqlite-utils' table
calls (`insert`, `get`, `update`) look the schema up with PRAGMA statements on every call, and
`update` reads the row before writing it: on the event path that was most of the store
thread's time per event. These helpers say the statement directly: `insert ... returning id`
(SQLite 3.35+, PostgreSQL), `select * ... where key = ?`, `update ... where key = ?`.
sqlite-utils stays for migrations and multi-row `rows_where` reads (the search catalog speaks
plain SQL to the driver: bot/store/catalog.py); a read on the event path says its own SQL too
(`select_rows`).

Table and column names come from our code, never from input; values are always parameters.

And the transactions the repositories hold, one way on both backends:
- `transaction`: a block of statements kept whole or not at all (on SQLite opened by an
  explicit BEGIN IMMEDIATE: sqlite-utils 4 commits each write it sends outside one);
- `one_trip`: the same for writes that read nothing back, sent to PostgreSQL in one round trip;
- `one_statement`: a write that is a single statement: on PostgreSQL (whose connection
  autocommits) its own transaction, without the two round trips of BEGIN and COMMIT;
- `together`: a write whose result is read (`insert ... returning id`) with the reads that
  go with it, one transaction whose statements travel to PostgreSQL in one round trip;
- `Reads`: reads that end a `one_trip` block and travel in its round trip;
- `Condition`: what a write inside `one_trip` carries in its own statement when it must
  change nothing unless something holds (nothing can be read there first).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from sqlite_utils import Database

    from bot.store.postgres import PgDatabase

    # migrations.py's alias, spelled again: migrations.py runs its steps in `transaction`
    StateDatabase: TypeAlias = Database | PgDatabase

__all__ = [
    "Condition",
    "ConditionUnmet",
    "Fetched",
    "Reads",
    "insert_row",
    "insert_statement",
    "one_statement",
    "one_trip",
    "read_together",
    "select_row",
    "select_rows",
    "together",
    "transaction",
    "update_row",
    "values_where",
]

# set on a database whose connection commits each statement outside a transaction block
AUTOCOMMITS = "autocommits"


def one_statement(db: StateDatabase) -> AbstractContextManager[Any]:
    """The transaction for a block that runs ONE write statement (more would not be atomic on
    PostgreSQL, where a statement inside an open transaction joins it)."""
    return nullcontext() if getattr(db, AUTOCOMMITS, False) else _sqlite_transaction(db.conn)


def transaction(db: StateDatabase) -> AbstractContextManager[Any]:
    """One transaction around a block of statements, on either backend: all of it is kept or
    none (an exception in the block rolls it back). Inside a transaction already open, the
    outer one decides. On PostgreSQL it is the connection's (`with db.conn:`); on SQLite see
    `_sqlite_transaction`."""
    return db.conn if getattr(db, AUTOCOMMITS, False) else _sqlite_transaction(db.conn)


def one_trip(db: StateDatabase, *, flushed: bool = True) -> AbstractContextManager[Any]:
    """The transaction of a block of writes that reads no result back: on PostgreSQL its
    statements travel in one round trip (PgDatabase.one_trip, which says what `flushed=False`
    allows); on SQLite (where a round trip is a function call, and state.db's commits already
    wait for no flush: `synchronous=normal`) it is `transaction`'s."""
    trip = getattr(db, "one_trip", None)
    return trip(flushed=flushed) if trip is not None else _sqlite_transaction(db.conn)


class Reads:
    """Reads that end a `one_trip` block, after its writes: `with one_trip(db): ...;
    reads.add(...)`, then `reads.rows()` once the block is over. On PostgreSQL they travel in the
    block's round trip, and their rows are there after it; elsewhere (SQLite, or inside a
    transaction already open) each is read at once."""

    def __init__(self, db: StateDatabase) -> None:
        self._db = db
        self._results: list[Any] = []  # a cursor to read after the block, or rows already read

    def add(self, sql: str, params: Sequence[Any]) -> None:
        cursor = self._db.execute(sql, list(params))
        self._results.append(cursor if getattr(self._db, "batching", False) else cursor.fetchall())

    def rows(self) -> list[list[Any]]:
        """The rows of each read, in order (once the block is over)."""
        self._results = [r if isinstance(r, list) else r.fetchall() for r in self._results]
        return list(self._results)


@dataclass(frozen=True, slots=True)
class Condition:
    """A condition a write states in its own `where` (SQL and its parameters): the write changes
    nothing unless it holds, with no read before it, so a block of such writes stays one trip."""

    sql: str
    params: tuple[Any, ...] = ()


class ConditionUnmet(Exception):
    """A write stated a `Condition` that did not hold: nothing was written."""


def values_where(values: str, conditions: Sequence[str]) -> str:
    """An insert's row: `values (...)`, or with `conditions` (a `Condition`'s SQL, ...), a
    select of the same values where all of them hold (nothing is inserted otherwise)."""
    if not conditions:
        return f"values ({values})"
    return f"select {values} where {' and '.join(conditions)}"


# id(connection) -> how many of our blocks are open on it (an entry lives only while one is:
# sqlite3 connections take no weak references)
_OPEN_BLOCKS: dict[int, int] = {}


@contextmanager
def _sqlite_transaction(conn: Any) -> Iterator[None]:
    """`with conn:` opened by an explicit BEGIN IMMEDIATE. Without a BEGIN the block is not
    one transaction: sqlite-utils 4 (`db.execute`) commits each write that finds none open,
    and sqlite3 opens its implicit one only at a write. IMMEDIATE takes the write lock at the
    start (waiting out another writer for the busy timeout), so a block that reads before it
    writes never finds, at its first write, that another connection wrote since its read.

    A block inside one of ours joins it (the outer one commits or rolls back). A transaction
    left open outside any block of ours (sqlite-utils leaves a write that returns rows
    uncommitted) is committed first, as `with conn:` always committed it: joining it instead
    would leave this block's writes for nobody to commit."""
    key = id(conn)
    if _OPEN_BLOCKS.get(key):
        _OPEN_BLOCKS[key] += 1
        try:
            yield
        finally:
            _OPEN_BLOCKS[key] -= 1
        return
    if conn.in_transaction:
        conn.commit()
    _OPEN_BLOCKS[key] = 1
    try:
        with conn:
            conn.execute("begin immediate")
            yield
    finally:
        del _OPEN_BLOCKS[key]


def insert_row(db: StateDatabase, table: str, record: Mapping[str, Any]) -> int:
    """Insert `record` into `table` and return the new row's `id`."""
    row = db.execute(*insert_statement(table, record)).fetchone()
    return int(row[0])


def insert_statement(table: str, record: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """`insert_row`'s statement, to send with others (`together`): it returns the new `id`."""
    columns = ", ".join(record)
    marks = ", ".join("?" for _ in record)
    return f"insert into {table} ({columns}) values ({marks}) returning id", list(record.values())


def select_row(db: StateDatabase, table: str, column: str, key: Any) -> dict[str, Any] | None:
    """The row of `table` whose `column` (its key) is `key`, as a dict by column name."""
    cursor = db.execute(f"select * from {table} where {column} = ?", [key])
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip((d[0] for d in cursor.description), row, strict=True))


def read_together(db: StateDatabase, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
    """The rows of each of `statements`, reads that do not depend on each other: on PostgreSQL
    sent together in one round trip (PgDatabase.read_together), on SQLite one after another
    (each costs microseconds there)."""
    together = getattr(db, "read_together", None)
    if together is not None:
        rows: list[list[Any]] = together(statements)
        return rows
    return [db.execute(sql, list(params)).fetchall() for sql, params in statements]


@dataclass(frozen=True, slots=True)
class Fetched:
    """One statement's result, read in full: its column names and its rows (plain tuples)."""

    columns: tuple[str, ...]
    rows: list[Any]

    @classmethod
    def of(cls, cursor: Any) -> Fetched:
        return cls(tuple(d[0] for d in cursor.description or ()), cursor.fetchall())

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def together(db: StateDatabase, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Fetched]:
    """The result of each of `statements`, one transaction (all kept or none): a write whose
    result is read back, with the reads that go with it. On PostgreSQL one pipeline, one round
    trip for all (PgDatabase.together); on SQLite in `transaction`. For reads alone,
    `read_together` (no write lock on SQLite)."""
    run = getattr(db, "together", None)
    if run is not None:
        return [Fetched.of(cursor) for cursor in run(statements)]
    with transaction(db):
        # each read in full before the next statement: nothing is left pending at the commit
        return [Fetched.of(db.execute(sql, list(params))) for sql, params in statements]


def select_rows(db: StateDatabase, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """The rows of `sql`, each a dict by column name: `rows_where` without the two schema
    reads sqlite-utils makes first (whether the table exists) on every call."""
    cursor = db.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def update_row(db: StateDatabase, table: str, column: str, key: Any, updates: Mapping[str, Any]) -> bool:
    """Set `updates` on the row of `table` whose `column` is `key`; False if there is none."""
    if not updates:
        return False
    sets = ", ".join(f"{name} = ?" for name in updates)
    return db.execute(f"update {table} set {sets} where {column} = ?", [*updates.values(), key]).rowcount > 0
