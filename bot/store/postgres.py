"""The PostgreSQL backend: the part of sqlite-utils' `Database` the repositories use, over psycopg 3.

The repositories and migrations are written once, against sqlite-utils (`db.execute`,
`db.table(name).insert/update/get/rows_where/create/add_column/create_index`, `db.conn` as a
transaction). `PgDatabase` offers that same subset on a PostgreSQL connection, so both
backends run one code path. What it owns:

* opening: one connection from a `psycopg_pool` pool (the store runs every call on one thread,
  see AsyncStore), errors turned into one `StoreError` with advice, the password never shown;
  with keepalives and deadlines (bot/store/postgres_session.py), so a connection gone silent
  is given up and the next call gets a fresh one (`live`);
* the tables (`table(name)`: bot/store/postgres_table.py, the rows and schema calls, with
  SQLite's column types mapped to PostgreSQL's);
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
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.errors import StoreError
from bot.store.dialect import pg_params, to_postgres
from bot.store.postgres_connection import Connection, configure
from bot.store.postgres_session import (
    DEADLINE,
    STATEMENT_TIMEOUT,
    STORE_SESSION,
    UNHURRIED,
    client_keepalives,
    lock_keys,
)
from bot.store.postgres_table import PgTable
from bot.store.urls import redact_url, scrub

log = logging.getLogger(__name__)

# how long opening waits for the server: long enough for a server across a network, short
# enough that a wrong URL is reported while the person is still looking at the terminal
CONNECT_TIMEOUT = 5
# the lock of "migrating now": two workers starting together migrate one after the other
MIGRATION_LOCK = "migrations"


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

    def __init__(self, pool: ConnectionPool[Connection], url: str) -> None:
        self._pool = pool
        self.url = redact_url(url)
        self.connection = pool.getconn()
        self._given_back = False  # `connection` went back to the pool: never twice (it would leak)
        self.conn = Transaction(self)
        self._columns: dict[str, dict[str, Any]] = {}
        self._keys: dict[str, list[str]] = {}
        self.batching = False  # inside one_trip()
        self.trips = 0  # how many one_trip() pipelines were opened: which one a Cursor is of

    def live(self) -> Connection:
        """The connection, replaced by a fresh one from the pool if the last was lost (a
        server restart, a silent network given up on) and no transaction is open on it.

        psycopg learns that the server ended a session only when a statement fails on it, so
        the first statement after a restart would fail (on Discord, which never redelivers, a
        question answered "try again"): a session found ended while idle is replaced before
        the statement is sent. Never after: a statement that may have run is not sent again."""
        connection = self.connection
        if not (connection.broken or connection.closed):
            if self.batching or not connection.ended_while_idle():
                return connection
            log.info("the database server ended the store's idle session: opening another")
            connection.close()
        if self.conn._open or self.batching:
            raise StoreError(f"the connection to {self.url} was lost in a transaction")
        if not self._given_back:
            # returned once: psycopg_pool takes a bad connection back each time and starts a
            # replacement for each, past the pool's size, left open for good
            self._pool.putconn(connection)
            self._given_back = True
        try:  # a call during an outage fails as fast as a connection attempt, not the pool's 30 s
            self.connection = self._pool.getconn(timeout=CONNECT_TIMEOUT * 2)
        except PoolTimeout:
            raise StoreError(f"no connection to {self.url} (the server is not answering)") from None
        self._given_back = False
        return self.connection

    @contextmanager
    def unhurried(self, seconds: float | None = None) -> Iterator[None]:
        """The block's statements have no deadline, on the server or here: migrations and
        `supportbot store copy`, whose statements may take minutes; or, with `seconds`, that
        one (a report's long read). Opened outside any transaction (a SET made inside one is
        undone with it)."""
        # our own bookkeeping, not the connection's status: a connection the server ended
        # reports a status of UNKNOWN, and live() replaces it
        if self.conn._open or self.batching:
            raise RuntimeError("unhurried() opens outside a transaction")
        connection = self.live()
        if seconds is None:
            connection.execute(UNHURRIED)
            connection.deadline = None
        else:
            # a report reads in one snapshot, converting rows between its statements: idle in
            # its transaction for as long as it may run
            allowed = f"'{float(seconds):g}s'"
            connection.execute(
                f"set statement_timeout = {allowed}; set idle_in_transaction_session_timeout = {allowed}"
            )
            connection.deadline = seconds + DEADLINE - STATEMENT_TIMEOUT
        try:
            yield
        finally:
            connection.deadline = DEADLINE
            if not (connection.closed or connection.broken):  # else the next is a fresh one, set so
                connection.execute(STORE_SESSION)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Cursor:
        return self.run_query(to_postgres(sql), pg_params(params))

    def run_query(
        self, query: str | pgsql.Composed, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> Cursor:
        """`query` as it is (PostgreSQL's spelling, or composed), on this store's connection."""
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
        rows = self.run_query(
            "select table_name from information_schema.tables "
            "where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name"
        ).fetchall()
        return [str(row[0]) for row in rows]

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """A session-wide advisory lock of this schema: whoever holds `name` runs, the others
        wait their turn, however long it takes (migrations run under it), as the block does:
        `unhurried`."""
        with self.unhurried():
            self.run_query(f"select pg_advisory_lock({lock_keys('%s')})", [name])
            try:
                yield
            finally:
                self.run_query(f"select pg_advisory_unlock({lock_keys('%s')})", [name])

    def columns(self, table: str) -> dict[str, Any]:
        if table not in self._columns:
            rows = self.run_query(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = current_schema() and table_name = %s order by ordinal_position",
                [table],
            ).fetchall()
            self._columns[table] = {str(name): kind for name, kind in rows}
        return self._columns[table]

    def primary_key(self, table: str) -> list[str]:
        if table not in self._keys:
            rows = self.run_query(
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
        rows = self.run_query(
            "select attname from pg_attribute where attrelid = to_regclass(%s) and attidentity <> ''",
            [table],
        ).fetchall()
        for (column,) in rows:
            self.run_query(
                pgsql.SQL(
                    "select setval(pg_get_serial_sequence(%s, %s), coalesce((select max({}) from {}), 0) + 1, false)"
                ).format(pgsql.Identifier(column), pgsql.Identifier(table)),
                [table, column],
            )

    def close(self) -> None:
        if not self._given_back:
            self._pool.putconn(self.connection)
            self._given_back = True
        self._pool.close()


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
            "is running and reachable from here, and the user, password (any @ / ? # [ in it written "
            "%40 %2F %3F %23 %5B) and database name in SUPPORTBOT_DATABASE_URL (or [store] url); "
            "unset both to use SQLite in the data directory."
        ) from None
    pool: ConnectionPool[Connection] = ConnectionPool(
        url,
        connection_class=Connection,
        min_size=1,
        max_size=1,  # the store runs on one thread (AsyncStore): one connection serves it
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT, **client_keepalives()},
        configure=configure,
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
