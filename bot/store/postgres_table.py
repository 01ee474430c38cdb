"""One PostgreSQL table as sqlite-utils' `Table` offers it: the rows and schema calls the
repositories and migrations make (`insert`, `update`, `get`, `rows_where`, `create`,
`add_column`, `create_index`), with SQLite's column types mapped to PostgreSQL's.

A table runs its statements through the database that made it (bot/store/postgres.py
`PgDatabase`), which it sees only as a `TableHost`: the two modules import in one direction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from psycopg import sql as pgsql
from sqlite_utils.db import NotFoundError

from bot.store.dialect import pg_value

_TYPES: dict[Any, str] = {str: "text", int: "bigint", float: "double precision", bytes: "bytea"}


class Result(Protocol):
    """A statement's result, as sqlite3's cursor offers it."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class TableHost(Protocol):
    """What a table uses of its database (`PgDatabase`)."""

    def run_query(
        self, query: str | pgsql.Composed, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> Result: ...

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Result: ...

    def primary_key(self, table: str) -> list[str]: ...

    def columns(self, table: str) -> dict[str, Any]: ...

    def forget_columns(self, table: str) -> None: ...


class PgTable:
    """One table: the sqlite-utils `Table` calls the repositories and migrations make."""

    def __init__(self, db: TableHost, name: str) -> None:
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
        row = self.db.run_query(query, [pg_value(record[n]) for n in names]).fetchone()
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
        if self.db.run_query(query, [*map(pg_value, updates.values()), *keys]).rowcount == 0:
            raise NotFoundError
        self.last_pk = pk_values
        return self

    def get(self, pk_values: Any) -> dict[str, Any]:
        where, keys = self._where_pk(pk_values)
        cursor = self.db.run_query(
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
        self.db.run_query(
            pgsql.SQL("create table {} ({})").format(pgsql.Identifier(self.name), pgsql.SQL(", ").join(parts))
        )
        self.db.forget_columns(self.name)
        return self

    def add_column(self, name: str, kind: Any) -> PgTable:
        self.db.run_query(
            pgsql.SQL("alter table {} add column {} {}").format(
                pgsql.Identifier(self.name), pgsql.Identifier(name), pgsql.SQL(_TYPES[kind])
            )
        )
        self.db.forget_columns(self.name)
        return self

    def create_index(self, columns: Sequence[str], unique: bool = False) -> PgTable:
        """Named as sqlite-utils names it (`idx_<table>_<columns>`), so both schemas match."""
        name = f"idx_{self.name}_{'_'.join(columns)}"
        self.db.run_query(
            pgsql.SQL("create {}index {} on {} ({})").format(
                pgsql.SQL("unique " if unique else ""),
                pgsql.Identifier(name),
                pgsql.Identifier(self.name),
                pgsql.SQL(", ").join(map(pgsql.Identifier, columns)),
            )
        )
        return self


def _as_dict(cursor: Result, row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip([c[0] for c in cursor.description], row, strict=True))
