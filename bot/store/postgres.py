"""The PostgreSQL backend: the part of sqlite-utils' `Database` the repositories use, over psycopg 3.

The repositories and migrations are written once, against sqlite-utils (`db.execute`,
`db.table(name).insert/update/get/rows_where/create/add_column/create_index`, `db.conn` as a
transaction). `PgDatabase` offers that same subset on a PostgreSQL connection, so both
backends run one code path. What it owns:

* opening: one connection from a `psycopg_pool` pool (the store runs every call on one thread,
  see AsyncStore), errors turned into one `StoreError` with advice, the password never shown;
* the schema calls, with SQLite's column types mapped to PostgreSQL's;
* running each statement through `to_postgres` (bot/store/dialect.py), the small translation
  of the few SQLite spellings that have no portable form. Where portable SQL exists, the
  repository is written in it instead;
* `one_trip`: a transaction of several writes sent as one pipeline, one round trip instead
  of one per statement plus BEGIN and COMMIT (the event path's multi-statement writes).

Only bot/store imports this module, and only when a PostgreSQL URL is configured: psycopg is
an optional dependency (`pip install 'supportbot[postgres]'`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool
from sqlite_utils.db import NotFoundError

from bot.errors import StoreError
from bot.store.dialect import pg_params, pg_value, to_postgres
from bot.store.urls import redact_url, scrub

log = logging.getLogger(__name__)

# how long opening waits for the server: long enough for a server across a network, short
# enough that a wrong URL is reported while the person is still looking at the terminal
CONNECT_TIMEOUT = 5
# one key for "migrating now": two workers starting together migrate one after the other
MIGRATION_LOCK = 0x5B07_0001

_TYPES: dict[Any, str] = {str: "text", int: "bigint", float: "double precision", bytes: "bytea"}


class PgIntegrityError(sqlite3.IntegrityError):
    """A constraint refused a write. A subclass of sqlite3's, so the repositories' one
    `except IntegrityError` (bot/store/store.py) catches it on either backend."""


# -- the database ------------------------------------------------------------------------


class Transaction:
    """`with db.conn:` as on sqlite3: commit on success, roll back on an exception. Nested
    blocks are savepoints (psycopg's), so an inner failure caught inside leaves the outer
    transaction usable, as it does on SQLite."""

    def __init__(self, database: PgDatabase) -> None:
        self._database = database
        self._open: list[AbstractContextManager[Any]] = []

    @property
    def in_transaction(self) -> bool:
        return self._database.connection.info.transaction_status != TransactionStatus.IDLE

    def __enter__(self) -> Transaction:
        if self._database.batching:
            # psycopg would sync the pipeline to open it: the block would no longer be one trip
            raise RuntimeError("a transaction block cannot open inside one_trip()")
        connection = self._database.connection if self._open else self._database.live()
        block = connection.transaction()
        block.__enter__()
        self._open.append(block)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._open.pop().__exit__(kind, exc, tb)


Description = tuple[tuple[str, None, None, None, None, None, None], ...]


class Cursor:
    """A statement's result, typed as sqlite3's cursor is (rows are plain tuples).

    Inside `one_trip` a statement has no result yet: reading one would sync the pipeline
    midway, a round trip of its own, so it raises instead. Once the block is over, its
    result is there (rows.py `Reads` reads it then)."""

    def __init__(self, cursor: psycopg.Cursor[Any], trip: PgDatabase | None = None) -> None:
        self._cursor = cursor
        self._trip = trip  # the database whose one_trip sent it, if one did
        self._trip_number = trip.trips if trip is not None else 0

    def _result(self) -> psycopg.Cursor[Any]:
        trip = self._trip
        if trip is not None and trip.batching and trip.trips == self._trip_number:
            raise RuntimeError("a statement inside one_trip() has no result to read")
        return self._cursor

    @property
    def rowcount(self) -> int:
        return self._result().rowcount

    @property
    def description(self) -> Description:
        return tuple((c.name, None, None, None, None, None, None) for c in self._result().description or ())

    def fetchone(self) -> Any:
        return self._result().fetchone()

    def fetchall(self) -> list[Any]:
        return self._result().fetchall()


class PgDatabase:
    """One PostgreSQL connection with the sqlite-utils calls the repositories make."""

    # the pool opens connections with autocommit: a statement outside `with db.conn:` is its
    # own transaction (bot/store/rows.py `one_statement` relies on it)
    autocommits = True

    def __init__(self, pool: ConnectionPool[psycopg.Connection[Any]], url: str) -> None:
        self._pool = pool
        self.url = redact_url(url)
        self.connection = pool.getconn()
        self.conn = Transaction(self)
        self._columns: dict[str, dict[str, Any]] = {}
        self._keys: dict[str, list[str]] = {}
        self.batching = False  # inside one_trip()
        self.trips = 0  # how many one_trip() pipelines were opened: which one a Cursor is of

    def live(self) -> psycopg.Connection[Any]:
        """The connection, replaced by a fresh one from the pool if the last was lost (a
        server restart) and no transaction is open on it."""
        if self.connection.broken or self.connection.closed:
            if self.conn._open or self.batching:
                raise StoreError(f"the connection to {self.url} was lost in a transaction")
            self._pool.putconn(self.connection)
            self.connection = self._pool.getconn()
        return self.connection

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Cursor:
        return self._run(to_postgres(sql), pg_params(params))

    def _run(self, query: str | pgsql.Composed, params: Sequence[Any] | Mapping[str, Any] = ()) -> Cursor:
        try:
            return Cursor(self.live().execute(query, params), self if self.batching else None)
        except psycopg.errors.IntegrityError as exc:
            raise PgIntegrityError(str(exc)) from exc

    @contextmanager
    def one_trip(self, *, flushed: bool = True) -> Iterator[None]:
        """A transaction whose writes travel together: queued in a pipeline (psycopg's) between
        BEGIN and COMMIT and sent with one Sync, one round trip instead of one per statement
        plus two. All or nothing as `with db.conn:`: a refused statement makes the server skip
        the rest, COMMIT included, and an exception in the block leaves COMMIT unsent; either
        way it is rolled back here. Inside an open transaction the outer one decides. Nothing
        is sent while the block runs, so reading a result raises (Cursor).

        `flushed=False`: COMMIT does not wait for the server's log flush (`synchronous_commit`
        off for this transaction), for writes nothing outside the database has yet been told
        of; the flush is in log order, so the next flushed commit makes them durable too."""
        if self.batching:
            yield
            return
        if self.conn.in_transaction:
            # inside a transaction the outer block decides, and it keeps its savepoints: a
            # pipeline gains nothing there
            with self.conn:
                yield
            return
        connection = self.live()
        self.batching = True
        self.trips += 1
        try:
            with connection.pipeline():
                connection.execute("begin")
                if not flushed:
                    connection.execute("set local synchronous_commit to off")
                yield
                connection.execute("commit")
        except psycopg.errors.IntegrityError as exc:
            raise PgIntegrityError(str(exc)) from exc
        finally:
            self.batching = False
            idle = connection.info.transaction_status == TransactionStatus.IDLE
            if not (idle or connection.closed or connection.broken):
                connection.execute("rollback")  # a refused statement, or an exception in the block

    def read_together(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
        """The rows of each of `statements` (reads), sent in one pipeline: one round trip for
        all instead of one each. Inside a transaction or one_trip they run as usual."""
        return [cursor.fetchall() for cursor in self.together(statements)]

    def together(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Cursor]:
        """Each of `statements` (writes that return rows, reads), sent in one pipeline with one
        Sync: one round trip for all, and one transaction (the server's implicit one up to the
        Sync, committed there): a refused statement undoes those before it and skips the rest.
        Inside a transaction or one_trip they run as usual, in it."""
        if self.batching or self.conn.in_transaction:
            return [self.execute(sql, params) for sql, params in statements]
        connection = self.live()
        try:
            with connection.pipeline():
                cursors = [
                    connection.execute(to_postgres(sql), pg_params(params)) for sql, params in statements
                ]
        except psycopg.errors.IntegrityError as exc:
            raise PgIntegrityError(str(exc)) from exc
        return [Cursor(cursor) for cursor in cursors]

    def table(self, name: str) -> PgTable:
        return PgTable(self, name)

    def __getitem__(self, name: str) -> PgTable:
        return PgTable(self, name)

    def table_names(self) -> list[str]:
        rows = self._run(
            "select table_name from information_schema.tables "
            "where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name"
        ).fetchall()
        return [str(row[0]) for row in rows]

    @contextmanager
    def lock(self, key: int) -> Iterator[None]:
        """A session-wide advisory lock: whoever holds `key` runs, the others wait their turn."""
        self._run("select pg_advisory_lock(%s)", [key])
        try:
            yield
        finally:
            self._run("select pg_advisory_unlock(%s)", [key])

    def columns(self, table: str) -> dict[str, Any]:
        if table not in self._columns:
            rows = self._run(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = current_schema() and table_name = %s order by ordinal_position",
                [table],
            ).fetchall()
            self._columns[table] = {str(name): kind for name, kind in rows}
        return self._columns[table]

    def primary_key(self, table: str) -> list[str]:
        if table not in self._keys:
            rows = self._run(
                "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid "
                "and a.attnum = any(i.indkey) where i.indrelid = to_regclass(%s) and i.indisprimary "
                "order by array_position(i.indkey::int2[], a.attnum)",
                [table],
            ).fetchall()
            self._keys[table] = [str(row[0]) for row in rows]
        return self._keys[table]

    def forget_columns(self, table: str) -> None:
        self._columns.pop(table, None)
        self._keys.pop(table, None)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Stream `rows` into `table` with COPY, the fastest way in, within whatever transaction
        is open (bot/store/copy.py). Returns how many; a refused row is one StoreError naming the
        table, and the transaction's end undoes the rest."""
        statement = pgsql.SQL("copy {} ({}) from stdin").format(
            pgsql.Identifier(table), pgsql.SQL(", ").join(map(pgsql.Identifier, columns))
        )
        written = 0
        try:
            with self.live().cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
                    written += 1
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"PostgreSQL refused a row of {table}: {reason}") from None
        return written

    def restart_identities(self, table: str) -> None:
        """Each identity column of `table` (an integer primary key: see PgTable.create) goes on
        after its largest value, so rows inserted later never take an id that was copied in."""
        rows = self._run(
            "select attname from pg_attribute where attrelid = to_regclass(%s) and attidentity <> ''",
            [table],
        ).fetchall()
        for (column,) in rows:
            self._run(
                pgsql.SQL(
                    "select setval(pg_get_serial_sequence(%s, %s), coalesce((select max({}) from {}), 0) + 1, false)"
                ).format(pgsql.Identifier(column), pgsql.Identifier(table)),
                [table, column],
            )

    def close(self) -> None:
        self._pool.putconn(self.connection)
        self._pool.close()


class PgTable:
    """One table: the sqlite-utils `Table` calls the repositories and migrations make."""

    def __init__(self, db: PgDatabase, name: str) -> None:
        self.db = db
        self.name = name
        self.last_pk: Any = None

    # -- rows ------------------------------------------------------------------------------

    def insert(self, record: Mapping[str, Any]) -> PgTable:
        names = list(record)
        pk = self.db.primary_key(self.name)
        query = pgsql.SQL("insert into {} ({}) values ({}) returning {}").format(
            pgsql.Identifier(self.name),
            pgsql.SQL(", ").join(map(pgsql.Identifier, names)),
            pgsql.SQL(", ").join(pgsql.Placeholder() * len(names)),
            pgsql.SQL(", ").join(map(pgsql.Identifier, pk)),
        )
        row = self.db._run(query, [pg_value(record[n]) for n in names]).fetchone()
        assert row is not None
        self.last_pk = row[0] if len(pk) == 1 else tuple(row)
        return self

    def update(self, pk_values: Any, updates: Mapping[str, Any]) -> PgTable:
        where, keys = self._where_pk(pk_values)
        query = pgsql.SQL("update {} set {} where {}").format(
            pgsql.Identifier(self.name),
            pgsql.SQL(", ").join(pgsql.SQL("{} = %s").format(pgsql.Identifier(n)) for n in updates),
            where,
        )
        if self.db._run(query, [*map(pg_value, updates.values()), *keys]).rowcount == 0:
            raise NotFoundError
        self.last_pk = pk_values
        return self

    def get(self, pk_values: Any) -> dict[str, Any]:
        where, keys = self._where_pk(pk_values)
        cursor = self.db._run(
            pgsql.SQL("select * from {} where {}").format(pgsql.Identifier(self.name), where), keys
        )
        row = cursor.fetchone()
        if row is None:
            raise NotFoundError
        return _as_dict(cursor, row)

    def rows_where(
        self,
        where: str | None = None,
        where_args: Sequence[Any] | Mapping[str, Any] | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        sql = f'select * from "{self.name}"'
        if where is not None:
            sql += f" where {where}"
        if order_by is not None:
            sql += f" order by {order_by}"
        if limit is not None:
            sql += f" limit {int(limit)}"
        cursor = self.db.execute(sql, where_args)
        for row in cursor.fetchall():
            yield _as_dict(cursor, row)

    @property
    def rows(self) -> Iterator[dict[str, Any]]:
        return self.rows_where()

    @property
    def columns_dict(self) -> dict[str, Any]:
        return dict(self.db.columns(self.name))

    def _where_pk(self, pk_values: Any) -> tuple[pgsql.Composable, list[Any]]:
        pk = self.db.primary_key(self.name)
        keys = list(pk_values) if isinstance(pk_values, list | tuple) else [pk_values]
        where = pgsql.SQL(" and ").join(pgsql.SQL("{} = %s").format(pgsql.Identifier(n)) for n in pk)
        return where, keys

    # -- schema ----------------------------------------------------------------------------

    def create(
        self,
        columns: Mapping[str, Any],
        pk: str | tuple[str, ...] | None = None,
        foreign_keys: Sequence[tuple[str, str, str]] | None = None,
        not_null: set[str] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> PgTable:
        """CREATE TABLE as sqlite-utils writes it: an integer primary key of its own numbers
        its rows (an identity column), every other type mapped to PostgreSQL's."""
        keys = (pk,) if isinstance(pk, str) else tuple(pk or ())
        parts: list[pgsql.Composable] = []
        for name, kind in columns.items():
            column = pgsql.SQL("{} {}").format(pgsql.Identifier(name), pgsql.SQL(_TYPES[kind]))
            if keys == (name,) and kind is int:
                column = pgsql.SQL("{} generated by default as identity").format(column)
            if name in (not_null or set()):
                column = pgsql.SQL("{} not null").format(column)
            if defaults and name in defaults:
                column = pgsql.SQL("{} default {}").format(column, pgsql.Literal(defaults[name]))
            parts.append(column)
        if keys:
            parts.append(
                pgsql.SQL("primary key ({})").format(pgsql.SQL(", ").join(map(pgsql.Identifier, keys)))
            )
        for column_name, other, other_column in foreign_keys or ():
            parts.append(
                pgsql.SQL("foreign key ({}) references {} ({})").format(
                    pgsql.Identifier(column_name), pgsql.Identifier(other), pgsql.Identifier(other_column)
                )
            )
        self.db._run(
            pgsql.SQL("create table {} ({})").format(pgsql.Identifier(self.name), pgsql.SQL(", ").join(parts))
        )
        self.db.forget_columns(self.name)
        return self

    def add_column(self, name: str, kind: Any) -> PgTable:
        self.db._run(
            pgsql.SQL("alter table {} add column {} {}").format(
                pgsql.Identifier(self.name), pgsql.Identifier(name), pgsql.SQL(_TYPES[kind])
            )
        )
        self.db.forget_columns(self.name)
        return self

    def create_index(self, columns: Sequence[str], unique: bool = False) -> PgTable:
        """Named as sqlite-utils names it (`idx_<table>_<columns>`), so both schemas match."""
        name = f"idx_{self.name}_{'_'.join(columns)}"
        self.db._run(
            pgsql.SQL("create {}index {} on {} ({})").format(
                pgsql.SQL("unique " if unique else ""),
                pgsql.Identifier(name),
                pgsql.Identifier(self.name),
                pgsql.SQL(", ").join(map(pgsql.Identifier, columns)),
            )
        )
        return self


def _as_dict(cursor: Cursor, row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip([c[0] for c in cursor.description], row, strict=True))


# -- opening -------------------------------------------------------------------------------


def connect(url: str) -> PgDatabase:
    """Open the database at `url`; an unreachable server or a refused login is one StoreError
    saying what to check, with the password never in it (nor in the log)."""
    shown = redact_url(url)
    try:
        # a first connection of our own: a server that is down or a wrong password is reported
        # at once with libpq's reason, where the pool would retry in the background until a timeout
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT).close()
    except psycopg.Error as exc:
        reason = scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, url)
        raise StoreError(
            f"cannot connect to the PostgreSQL database at {shown}: {reason}. Check that the server "
            "is running and reachable from here, and the user, password and database name in "
            "SUPPORTBOT_DATABASE_URL (or [store] url); unset both to use SQLite in the data directory."
        ) from None
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        url,
        min_size=1,
        max_size=1,  # the store runs on one thread (AsyncStore): one connection serves it
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
        open=False,
        name="supportbot-store",
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT * 2)
        return PgDatabase(pool, url)
    except Exception as exc:
        pool.close()
        raise StoreError(
            f"cannot connect to the PostgreSQL database at {shown}: {scrub(str(exc), url)}"
        ) from None
