"""PostgreSQL's refusals while migrating, raised as a StoreError that says what to do (as
bot/store/sqlite_file.py's `advice` does for SQLite); bot/store/store.py migrates under it.

Opening is advised by bot/store/postgres.py's `connect`; this is what comes after: a login
that may connect but not create tables (PostgreSQL 15 and later no longer let every user
create in the `public` schema), or a name already taken in the schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from bot.errors import StoreError
from bot.store.urls import redact_url, scrub


@contextmanager
def advice(url: str) -> Iterator[None]:
    """The driver's errors in the block (migrations on `url`) as one StoreError, without the
    password. Each migration is one transaction: the one that failed has left nothing."""
    try:
        yield
    except (psycopg.Error, sqlite3.IntegrityError) as exc:  # PgIntegrityError is the latter
        shown = redact_url(url)
        reason = scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, url)
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            raise StoreError(
                f"the PostgreSQL user of {shown} may not create supportbot's tables: {reason}. The "
                "migration that failed was undone. supportbot creates and upgrades its tables itself, so its user needs "
                "CREATE on the schema: as the database's owner run GRANT CREATE ON SCHEMA <schema> "
                "TO <user> (or make that user the owner of the database or schema)."
            ) from None
        if isinstance(exc, psycopg.errors.DuplicateTable | psycopg.errors.DuplicateObject):
            raise StoreError(
                f"{shown} already holds a table or index of a name supportbot uses: {reason}. "
                "Nothing was changed: is it another application's database? Give supportbot an "
                "empty database (or schema) of its own."
            ) from None
        raise StoreError(
            f"the PostgreSQL database at {shown} could not be upgraded to this version's schema: "
            f"{reason}. The migration that failed was undone; check the database and its user, "
            "then start again."
        ) from None
