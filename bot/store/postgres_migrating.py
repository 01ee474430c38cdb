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

Most migrations only add what old workers' code does not read, and roll: workers of the
version before keep running beside the new one. A migration named in EXCLUSIVE changes how
work is claimed, which workers of both versions must agree on; it is applied only while no
other worker may be running (`_alone`), and otherwise refused before anything is changed.

Only bot/store/store.py imports this module, when a PostgreSQL URL is configured.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import psycopg

from bot.errors import StoreError
from bot.store.heartbeats import MAX_SKEW, WORKER_LEASE, WorkerRecord, maybe_running
from bot.store.migrations import Migration, check, migrate
from bot.store.postgres import MIGRATION_LOCK, PgDatabase
from bot.store.postgres_advice import advice
from bot.store.postgres_session import STEP_LOCK_TIMEOUT
from bot.store.urls import redact_url

log = logging.getLogger(__name__)

# the migrations that change how work is claimed (which row or column says that a post is
# being made, so that one worker makes it): a worker of the version before would go on
# claiming the old way, neither version would see the other's claims, and both would post.
# A new migration that changes claims (or anything else both versions must agree on) is
# named here; its name, like every migration's, never changes (bot/store/migrations.py).
# 0019 re-keys dashboard sessions by a hash: a worker of the version before would fail every
# signed-in page and could not start a session, so it too waits for them to stop
EXCLUSIVE = frozenset({"0017_sla_claims", "0018_post_claims", "0019_session_hashes", "0020_card_claims"})

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
    where = redact_url(url)
    with advice(url), db.lock(MIGRATION_LOCK):
        # for this session until the lock's block ends (it restores the store's settings)
        db.run_query(f"set lock_timeout = '{STEP_LOCK_TIMEOUT:g}s'")
        done = check(db, migrations, where=where)
        _alone(db, where, [name for name, _ in migrations if name not in done and name in EXCLUSIVE])
        return migrate(
            db,
            migrations,
            where=where,
            attempts=lambda name, apply: _patiently(db, url, name, apply, patience),
        )


def _alone(db: PgDatabase, where: str, exclusive: Sequence[str]) -> None:
    """A StoreError, before anything is changed, when `exclusive` (the pending migrations of
    EXCLUSIVE) would be applied while another worker may be running. Under the lock of
    migrating: an old worker starting meanwhile waits for it, then finds the schema too new
    for it (bot/store/migrations.py `check`). Only one that opened its store before and has
    not registered yet (it registers once its index is in step) goes unseen. This process
    has no row to leave out: it migrates as its store opens, before `supportbot run`
    registers it."""
    if not exclusive or "workers" not in db.table_names():  # before 0007 no worker had a row
        return
    now = datetime.now(UTC)
    running = maybe_running(db, now)
    if not running:
        return
    counted_until = max(w.heartbeat_at for w in running) + WORKER_LEASE + MAX_SKEW
    minutes = (WORKER_LEASE + MAX_SKEW).total_seconds() / 60
    named = (
        f"migration {exclusive[0]} changes"
        if len(exclusive) == 1
        else f"migrations {', '.join(exclusive)} change"
    )
    raise StoreError(
        f"{named} what workers of both versions must agree on (how they claim what they post, "
        "how dashboard sessions are kept), and "
        f"workers of the version before may still be running on {where}: "
        f"{'; '.join(_described(w, now) for w in running)}. They would not see this version's "
        "claims, nor it theirs (both would post the same reminders and replies), nor find its "
        "sessions, so this upgrade does not roll. Nothing was changed. Stop every worker of the version before "
        "(an orderly stop, such as systemctl stop or docker compose stop, removes its row at "
        "once), then run this again (`supportbot migrate`, or start the new version). A worker "
        f"that was killed counts as running until its last heartbeat is {minutes:g} minutes "
        f"old: if those listed are stopped, this can run after {counted_until.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC."
    )


def _described(worker: WorkerRecord, now: datetime) -> str:
    """A worker as `supportbot doctor` lists it: where to find it, and its last heartbeat."""
    ago = max(0, int((now - worker.heartbeat_at).total_seconds()))
    return (
        f"{worker.host} pid {worker.pid} (v{worker.version}, last heartbeat "
        f"{worker.heartbeat_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, {ago} s ago)"
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
