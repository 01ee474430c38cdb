"""Moving an install's state from SQLite to PostgreSQL: `supportbot store copy`.

What it owns, and why each step is there:

* the source is only read: state.db is opened read-only and read in one read transaction, so
  the copy is one consistent moment of it even if something else has it open. A state.db from
  an older version is first copied aside (SQLite's backup) and that copy is migrated, so the
  same schema is on both sides; one from a newer version is refused.
* the target is migrated with the same migrations as at start, then filled in one transaction:
  a failure anywhere leaves it without a row. Another application's database (tables, but
  no record of supportbot's migrations) or a newer supportbot's is refused before anything
  is created in it (bot/store/migrations.py `check`), on a dry run as well. A target whose
  tables already hold rows is refused unless `replace` says to delete them first: it is
  never merged into.
* tables go in foreign-key order (a ticket before its events), primary keys kept, rows streamed
  in batches with COPY; then every identity column continues after the largest copied id, so
  the rows the bot writes next do not collide with copied ones.
* text PostgreSQL cannot hold (a NUL, which SQLite keeps) is made safe as the bot makes text
  arriving from a platform safe (bot/text.py `scrub`), and the values changed are counted:
  one such character is no reason to leave the whole install behind.

It speaks SQL through the two backends' own modules (bot/store/store.py, bot/store/postgres.py).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import StoreError
from bot.store.migrations import STATE_MIGRATIONS, check
from bot.store.sqlite_file import advice
from bot.store.store import open_database, open_readonly, open_state, snapshot
from bot.store.urls import is_database_url, redact_url
from bot.text import scrub

if TYPE_CHECKING:
    from bot.store.postgres import PgDatabase
    from bot.store.store import Database

log = logging.getLogger(__name__)

# rows read from SQLite at a time: memory stays flat whatever the size of the table
DEFAULT_BATCH = 10_000
_OWN = "_migrations"  # each side keeps its own record of the migrations it has run
# not state but who is running now: the processes on PostgreSQL register themselves, and a
# delivery the SQLite process held is taken over like one of a worker that stopped beating
_NOT_COPIED = frozenset({_OWN, "workers"})


@dataclass(frozen=True, kw_only=True)
class CopyResult:
    """What a copy did (or, on a dry run, would do)."""

    source: Path
    target: str  # without its password
    rows: dict[str, int]  # table -> rows copied (on a dry run: to copy), in copy order
    held: dict[str, int] = field(default_factory=dict)  # the target's rows before (deleted with replace)
    upgraded: list[str] = field(default_factory=list)  # migrations run on a copy of an older source
    # table -> text values holding what PostgreSQL cannot store (a NUL), copied with U+FFFD instead
    scrubbed: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def source_path(text: str) -> Path:
    """`sqlite:PATH`, `sqlite:///PATH` or a plain path, to a state.db or the data directory holding it."""
    if is_database_url(text):
        raise StoreError(f"--from must be a SQLite file (sqlite:PATH), not {redact_url(text)}")
    for prefix in ("sqlite:///", "sqlite:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    path = Path(text).expanduser()
    return path / "state.db" if path.is_dir() else path


def copy_state(
    source: Path,
    target_url: str,
    *,
    replace: bool = False,
    dry_run: bool = False,
    batch: int = DEFAULT_BATCH,
    on_table: Callable[[str, int], None] | None = None,
) -> CopyResult:
    """Copy the SQLite state at `source` into the PostgreSQL database at `target_url`.
    `on_table(name, rows)` is told as each table is done (a progress line)."""
    if not is_database_url(target_url):
        raise StoreError("--to must be a PostgreSQL URL such as postgresql://user:password@host/database")
    shown = redact_url(target_url)
    db = open_readonly(source)
    try:
        # a damaged page is met where it is read, not on opening: each read of the source is
        # in `advice`, which names it and says what to do
        with advice(source):
            seen = check(db, STATE_MIGRATIONS, where=str(source)) if _OWN in db.table_names() else set()
        if not seen:
            raise StoreError(f"{source} is not a supportbot state database (it has no migrations table)")
        missing = [name for name, _ in STATE_MIGRATIONS if name not in seen]
        if not missing:
            return _copy(db, source, target_url, shown, replace, dry_run, batch, on_table, [])
        # an older state.db: migrate a copy of it (never the file itself), then copy from that
        with tempfile.TemporaryDirectory(prefix="supportbot-copy-") as folder:
            upgraded_path = Path(folder) / "state.db"
            with advice(source):
                snapshot(db, upgraded_path)
            try:
                upgraded = open_database(upgraded_path, STATE_MIGRATIONS)
            except StoreError as exc:
                raise StoreError(
                    f"{source} could not be upgraded (on a copy; it was not changed): {exc}"
                ) from None
            try:
                return _copy(upgraded, source, target_url, shown, replace, dry_run, batch, on_table, missing)
            finally:
                upgraded.close()
    finally:
        db.close()


def _copy(
    db: Database,
    source: Path,
    target_url: str,
    shown: str,
    replace: bool,
    dry_run: bool,
    batch: int,
    on_table: Callable[[str, int], None] | None,
    upgraded: list[str],
) -> CopyResult:
    with advice(source):  # the source's reads: a damaged page is named, not a traceback
        order = copy_order(db)
        db.execute("begin")  # one read transaction: every table as of the same moment
        try:
            if dry_run:
                counts = {t: _count(db, t) for t in order}
                return CopyResult(
                    source=source, target=shown, rows=counts, held=_held_without_migrating(target_url, order),
                    upgraded=upgraded, dry_run=True,
                )  # fmt: skip
            target = open_state(target_url, STATE_MIGRATIONS)
            try:
                return _fill(db, target, order, source, shown, replace, batch, on_table, upgraded)
            finally:
                target.close()
        finally:
            db.execute("rollback")


def _fill(
    db: Database,
    target: Database | PgDatabase,
    order: list[str],
    source: Path,
    shown: str,
    replace: bool,
    batch: int,
    on_table: Callable[[str, int], None] | None,
    upgraded: list[str],
) -> CopyResult:
    from bot.store.postgres import PgDatabase

    assert isinstance(target, PgDatabase)  # open_state gives one for a PostgreSQL URL
    rows: dict[str, int] = {}
    scrubbed: dict[str, int] = {}
    # all or nothing: a failure below leaves the target as it was. A big table's COPY or
    # delete takes longer than the bot's statements may (bot/store/postgres_session.py)
    with target.unhurried(), target.conn:
        held = {t: n for t in order if (n := _count(target, t))}
        if held and not replace:
            raise StoreError(
                f"{shown} already holds supportbot state ({_listing(held)}). Nothing was copied: "
                "copy into an empty database, or pass --replace to delete those rows first."
            )
        for table in reversed(order):  # dependents first, so no foreign key is left dangling
            if held.get(table):
                target.execute(f'delete from "{table}"')
        for table in order:
            columns = _columns(db, table, target)
            rows[table] = target.copy_rows(table, columns, _read(db, table, columns, batch, scrubbed))
            log.info("copied %d rows of %s", rows[table], table)
            if on_table is not None:
                on_table(table, rows[table])
        for table in order:  # the next id of each table comes after the copied ones
            target.restart_identities(table)
    return CopyResult(source=source, target=shown, rows=rows, held=held, upgraded=upgraded, scrubbed=scrubbed)


def copy_order(db: Database) -> list[str]:
    """The state tables, each after the tables its foreign keys point at (ties by name, so the
    order is the same every time)."""
    tables = sorted(t for t in db.table_names() if t not in _NOT_COPIED and not t.startswith("sqlite_"))
    needs = {t: {fk.other_table for fk in db.table(t).foreign_keys if fk.other_table != t} for t in tables}
    order: list[str] = []
    while needs:
        ready = [t for t in sorted(needs) if not needs[t] - set(order)]
        if not ready:
            raise StoreError(f"the foreign keys of {', '.join(sorted(needs))} form a circle")
        order.append(ready[0])
        del needs[ready[0]]
    return order


def _columns(db: Database, table: str, target: PgDatabase) -> list[str]:
    columns = list(db.table(table).columns_dict)
    extra = [c for c in columns if c not in target.columns(table)]
    if extra:
        raise StoreError(f"the target's {table} has no column {', '.join(extra)}")
    return columns


def _read(
    db: Database, table: str, columns: Sequence[str], batch: int, scrubbed: dict[str, int]
) -> Iterator[tuple[Any, ...]]:
    """Every row of `table`, fetched `batch` at a time, its text made safe to store; how many
    values that changed is counted in `scrubbed[table]`."""
    names = ", ".join(_quote(c) for c in columns)
    cursor = db.execute(f"select {names} from {_quote(table)}")
    while chunk := cursor.fetchmany(batch):
        for row in chunk:
            if not _holds_nul(row):  # looked for first: scrubbing every value read a table 2.5 times slower
                yield row
                continue
            safe = tuple(scrub(value) if isinstance(value, str) else value for value in row)
            scrubbed[table] = scrubbed.get(table, 0) + sum(a is not b for a, b in zip(safe, row, strict=True))
            yield safe


def _holds_nul(row: tuple[Any, ...]) -> bool:
    """Whether a text value of `row` holds a NUL: all `scrub` would change in a row read from
    SQLite, whose driver never decodes a lone surrogate (it refuses text that is not UTF-8)."""
    return any(type(value) is str and "\x00" in value for value in row)


def _count(db: Database | PgDatabase, table: str) -> int:
    row = db.execute(f"select count(*) from {_quote(table)}").fetchone()
    return int(row[0])


def _held_without_migrating(target_url: str, order: list[str]) -> dict[str, int]:
    """What the target's state tables hold now, read without changing it (a dry run): after the
    check a real copy makes before migrating it (another application's database is refused)."""
    try:
        from bot.store.postgres import connect
    except ImportError:
        raise StoreError(
            "the PostgreSQL driver is not installed: pip install 'supportbot[postgres]'"
        ) from None
    target = connect(target_url)
    try:
        check(target, STATE_MIGRATIONS, where=redact_url(target_url))
        with target.unhurried():  # counting a big table's rows takes a while
            present = set(target.table_names())
            return {t: n for t in order if t in present and (n := _count(target, t))}
    finally:
        target.close()


def _listing(counts: dict[str, int]) -> str:
    return ", ".join(f"{table}: {rows}" for table, rows in counts.items())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
