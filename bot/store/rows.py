"""One row in, out or changed by its key, in plain SQL that SQLite and PostgreSQL both read.

The one way the state repositories write, read or change a single row. sqlite-utils' table
calls (`insert`, `get`, `update`) look the schema up with PRAGMA statements on every call, and
`update` reads the row before writing it: on the event path that was most of the store
thread's time per event. These helpers say the statement directly: `insert ... returning id`
(SQLite 3.35+, PostgreSQL), `select * ... where key = ?`, `update ... where key = ?`.
sqlite-utils stays for migrations, multi-row `rows_where` reads and the search catalog.

Table and column names come from our code, never from input; values are always parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.store.migrations import StateDatabase

__all__ = ["insert_row", "select_row", "update_row"]


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
