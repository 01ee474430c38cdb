"""Migrations on PostgreSQL while other workers run on the same tables (a rolling upgrade).

One process migrates at a time (an advisory lock: the others wait their turn, then find
nothing left to do). A step that changes a table (ALTER TABLE, CREATE INDEX) needs a lock
that waits for every transaction that read the table (a report's snapshot may hold one for
minutes), and while it waits every other session's statement on that table queues behind
it: waiting without limit would stop the workers from answering for as long as the report
runs, each cancelled by its own LOCK_TIMEOUT. So a step waits at most STEP_LOCK_TIMEOUT (less
than the workers' LOCK_TIMEOUT: they are never cancelled behind it), gives way (its
transaction undone), and is tried again after a pause growing to LONGEST_PAUSE, for PATIENCE
in all; then a StoreError names the sessions holding the tables.

Only bot/store/store.py imports this module, when a PostgreSQL URL is configured.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg

from bot.errors import StoreError
from bot.store.migrations import Migration, migrate
from bot.store.postgres import MIGRATION_LOCK, PgDatabase
from bot.store.postgres_advice import advice
from bot.store.postgres_session import STEP_LOCK_TIMEOUT
from bot.store.urls import redact_url

log = logging.getLogger(__name__)

# how long a step is tried again in all: twice as long as a report may read
# (bot/store/state.py REPORT_SECONDS), the longest the bot's own sessions hold a table
PATIENCE = 600.0
FIRST_PAUSE, LONGEST_PAUSE = 0.5, 15.0
# the sessions in a transaction holding a lock on a table of this schema, the oldest first:
# who a step waited for (pg_blocking_pids answers only while it waits)
_HOLDERS = """
select a.pid, a.usename, a.application_name, coalesce(host(a.client_addr), 'a local socket'),
       extract(epoch from now() - a.xact_start), a.state, left(a.query, 80)
from pg_stat_activity a
where a.pid <> pg_backend_pid() and a.xact_start is not null and a.pid in (
    select l.pid from pg_locks l join pg_class c on c.oid = l.relation
    join pg_namespace n on n.oid = c.relnamespace
    where l.granted and l.database = (select oid from pg_database where datname = current_database())
      and n.nspname = current_schema())
order by a.xact_start
limit 3
"""


def migrate_shared(
    db: PgDatabase, url: str, migrations: list[Migration], *, patience: float = PATIENCE
) -> list[str]:
    """Apply to `db` (opened on `url`) the migrations it has not seen, one process at a time,
    each step giving way to the sessions holding its tables for up to `patience` seconds; the
    names applied. The driver's errors become a StoreError saying what to check."""
    with advice(url), db.lock(MIGRATION_LOCK):
        # for this session until the lock's block ends (it restores the store's settings)
        db.run_query(f"set lock_timeout = '{STEP_LOCK_TIMEOUT:g}s'")
        return migrate(
            db,
            migrations,
            where=redact_url(url),
            attempts=lambda name, apply: _patiently(db, url, name, apply, patience),
        )


def _patiently(db: PgDatabase, url: str, name: str, apply: Callable[[], bool], patience: float) -> bool:
    started = time.monotonic()
    pause = FIRST_PAUSE
    while True:
        try:
            return apply()
        except psycopg.errors.LockNotAvailable:
            holders = _holders(db)
            waited = time.monotonic() - started
            if waited + pause > patience:
                raise StoreError(
                    f"migration {name} could not lock the tables it changes in {redact_url(url)} "
                    f"within {waited:.0f} s: {holders}. It gave way every {STEP_LOCK_TIMEOUT:g} s so "
                    "that running workers kept answering. Let that transaction end (or end it: "
                    "SELECT pg_terminate_backend(<pid>)), then start again: the migrations before "
                    f"{name} are applied, {name} and those after it are not."
                ) from None
            log.warning(
                "migration %s waits for a lock held by %s: trying again in %g s", name, holders, pause
            )
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)


def _holders(db: PgDatabase) -> str:
    """Who holds a lock on this schema's tables, as a person can find them (pg_stat_activity)."""
    rows = db.run_query(_HOLDERS).fetchall()
    if not rows:
        return "another session (gone since)"
    return "; ".join(
        f"session {pid} (user {user}{f', application {app}' if app else ''}, from {client}) "
        f"in a transaction for {float(age):.0f} s, {state}: {query!r}"
        for pid, user, app, client, age, state, query in rows
    )
