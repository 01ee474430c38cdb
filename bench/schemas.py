"""A fresh PostgreSQL schema per measurement: a clean inbox and state for each run on one
server, dropped afterwards, so a bench run against a server of your own (`--database-url`)
leaves nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote


@contextmanager
def fresh_schema(server: str) -> Iterator[str]:
    """A URL on `server` whose search path is a new, empty schema; the schema and everything
    in it is dropped when the block ends (its connections must be closed by then)."""
    import psycopg  # the postgres extra: only a bench or test that uses a server needs it

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"create schema {schema}")
    joiner = "&" if "?" in server else "?"
    try:
        yield f"{server}{joiner}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"drop schema {schema} cascade")
