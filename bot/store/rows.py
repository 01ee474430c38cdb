"""One row in, out or changed by its key, in plain SQL that SQLite and PostgreSQL both read.

The one way the state repositories write, read or change a single row. sqlite-utils' table
calls (`insert`, `get`, `update`) look the schema up with PRAGMA statements on every call, and
`update` reads the row before writing it: on the event path that was most of the store
thread's time per event. These helpers say the statement directly: `insert ... returning id`
(SQLite 3.35+, PostgreSQL), `select * ... where key = ?`, `update ... where key = ?`.
sqlite-utils stays for migrations and multi-row `rows_where` reads (the search catalog speaks
plain SQL to the driver: bot/store/catalog.py).

Table and column names come from our code, never from input; values are always parameters.

`one_statement` is the transaction of a write that is a single statement: on PostgreSQL (whose
connection autocommits) the statement is its own transaction, without the two round trips of
BEGIN and COMMIT; on SQLite the driver opens a transaction the block must commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.store.migrations import StateDatabase

__all__ = ["insert_row", "one_statement", "select_row", "update_row"]

# set on a database whose connection commits each statement outside a transaction block
AUTOCOMMITS = "autocommits"


def one_statement(db: StateDatabase) -> AbstractContextManager[Any]:
    """The transaction for a block that runs ONE write statement (more would not be atomic on
    PostgreSQL, where a statement inside an open transaction joins it)."""
    return nullcontext() if getattr(db, AUTOCOMMITS, False) else db.conn


def insert_row(db: StateDatabase, table: str, record: Mapping[str, Any]) -> int:
    """Insert `record` into `table` and return the new row's `id`."""
    columns = ", ".join(record)
    marks = ", ".join("?" for _ in record)
    row = db.execute(
        f"insert into {table} ({columns}) values ({marks}) returning id", list(record.values())
    ).fetchone()
    return int(row[0])


def select_row(db: StateDatabase, table: str, column: str, key: Any) -> dict[str, Any] | None:
    """The row of `table` whose `column` (its key) is `key`, as a dict by column name."""
    cursor = db.execute(f"select * from {table} where {column} = ?", [key])
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip((d[0] for d in cursor.description), row, strict=True))


def update_row(db: StateDatabase, table: str, column: str, key: Any, updates: Mapping[str, Any]) -> bool:
    """Set `updates` on the row of `table` whose `column` is `key`; False if there is none."""
    if not updates:
        return False
    sets = ", ".join(f"{name} = ?" for name in updates)
    return db.execute(f"update {table} set {sets} where {column} = ?", [*updates.values(), key]).rowcount > 0
