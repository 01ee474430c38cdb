"""Migrations meeting a database they must not change: another application's, one a newer
supportbot migrated, one whose login may not create tables. Each is refused with a reason
(the bot, `supportbot migrate`) before anything is written to it. And several processes
opening a new database at once each migrate it or wait, none told it is locked; a worker
already running keeps reading what a newer release migrated, and keeps answering while that
migration waits for a table a report holds; but a migration that changes how work is claimed
waits for the workers of the version before to stop (a dead one's row does not hold it back)."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.errors import StoreError
from bot.store import StateStore
from bot.store.migrations import STATE_MIGRATIONS
from bot.store.postgres import connect
from bot.store.postgres_migrating import EXCLUSIVE, migrate_shared
from bot.store.queue import Reach, TicketQuery
from bot.store.store import open_state
from bot.store.workers import MAX_SKEW, WORKER_LEASE, WorkerRecord, WorkerRepository
from bot.types import Author, ConversationRef, EscalationReason

if TYPE_CHECKING:
    from bot.store.migrations import Migration, StateDatabase

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _newer_release(db: StateDatabase) -> None:
    """What a newer release's migration may do to tables a running worker reads with `select *`."""
    db.table("tickets").add_column("added_by_a_newer_release", str)
    db.table("drafts").add_column("added_by_a_newer_release", str)


def _run(state: Path | str, *statements: str) -> None:
    """`statements` run by another program, through the driver alone."""
    if isinstance(state, Path):
        with closing(sqlite3.connect(state)) as conn:
            for statement in statements:
                conn.execute(statement)
            conn.commit()
        return
    with psycopg.connect(state, autocommit=True) as pg:
        for statement in statements:
            pg.execute(statement)


def _tables(state: Path | str) -> list[str]:
    if isinstance(state, Path):
        with closing(sqlite3.connect(state)) as conn:
            return [r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")]
    with psycopg.connect(state) as pg:
        query = "select table_name from information_schema.tables where table_schema = current_schema()"
        return [str(r[0]) for r in pg.execute(query)]


def _migrate_command(state: Path | str, tmp_path: Path) -> tuple[int, str]:
    """`supportbot migrate` on the state database: its exit code and what it printed."""
    if isinstance(state, Path):
        args, env = ["migrate", "--data", str(state.parent)], {"SUPPORTBOT_DATABASE_URL": None}
    else:
        args, env = ["migrate", "--data", str(tmp_path / "data")], {"SUPPORTBOT_DATABASE_URL": state}
    done = CliRunner().invoke(app, args, env=env)
    assert not isinstance(done.exception, sqlite3.Error | psycopg.Error), done.exception  # no traceback
    return done.exit_code, done.output


def test_another_applications_database_is_refused_and_left_as_it_was(
    state: Path | str, tmp_path: Path
) -> None:
    _run(
        state,
        "create table messages (id integer primary key, body text)",
        "insert into messages (id, body) values (1, 'theirs')",
    )
    with pytest.raises(StoreError, match="another application's database") as caught:
        StateStore(state)
    assert "messages" in str(caught.value)
    code, output = _migrate_command(state, tmp_path)
    assert code == 2 and "another application's database" in output
    assert _tables(state) == ["messages"]  # not even the record of migrations was made


def test_a_database_a_newer_supportbot_migrated_is_refused(state: Path | str, tmp_path: Path) -> None:
    """An older worker (or a rollback of the package) meeting the database a newer release
    migrated: its code does not know that schema, so it does not run on it."""
    StateStore(state).close()
    _run(state, "insert into _migrations (name, applied_at) values ('9999_next', '2030-01-01 00:00:00')")
    with pytest.raises(StoreError, match=r"newer supportbot \(migration 9999_next.*upgrade this worker"):
        StateStore(state)
    code, output = _migrate_command(state, tmp_path)
    assert code == 2 and "upgrade this worker" in output and "up to date" not in output


def first_release_with_two_open_tickets_in_a_thread(state: Path | str) -> None:
    """A state database as release 0001 left it: that release had no rule of one active ticket
    per thread, so two people asking for a human in one thread (or two racing escalations)
    left two open tickets on it. A channel-level conversation (no thread) holds two askers'."""
    open_state(state, STATE_MIGRATIONS[:1]).close()
    ticket = (
        "insert into tickets (conversation, platform, asker_id, question, reason, status, next_action_at, "
        "created_at, updated_at) values ('{conversation}', 'slack', '{asker}', 'help me', 'asked_for_human', "
        "'{status}', '2026-11-01T11:00:00.000+00:00', '2026-11-01T10:00:00.000+00:00', "
        "'2026-11-01T10:00:00.000+00:00')"
    )
    _run(
        state,
        "insert into conversations (key, platform, channel, started_at) values "
        "('slack:T1:C1:1.0', 'slack', 'C1', '2026-11-01T10:00:00.000+00:00'), "
        "('slack:T1:C2:', 'slack', 'C2', '2026-11-01T10:00:00.000+00:00')",
        ticket.format(conversation="slack:T1:C1:1.0", asker="U1", status="open"),
        ticket.format(conversation="slack:T1:C1:1.0", asker="U2", status="claimed"),
        ticket.format(conversation="slack:T1:C2:", asker="U3", status="open"),
        ticket.format(conversation="slack:T1:C2:", asker="U4", status="open"),
    )


def test_a_first_release_state_db_with_two_open_tickets_in_a_thread_upgrades(
    state: Path | str, tmp_path: Path
) -> None:
    """It used to be refused for good (`UNIQUE constraint failed: tickets.conversation` from
    0002's index of one active ticket per thread): neither `run` nor `migrate` could start.
    Now the older ticket is closed, with an event saying why; none is lost."""
    first_release_with_two_open_tickets_in_a_thread(state)
    code, output = _migrate_command(state, tmp_path)
    assert code == 0, output
    store = StateStore(state)
    try:
        rows = store.db.execute(
            "select id, asker_id, status, next_action_at from tickets order by id"
        ).fetchall()
        assert [tuple(r)[1:3] for r in rows] == [
            ("U1", "closed"), ("U2", "claimed"), ("U3", "open"), ("U4", "open")
        ]  # fmt: skip
        assert rows[0][3] is None  # its SLA clock stopped: nobody is reminded of a closed ticket
        events = store.ticket_events(rows[0][0])
        assert [e["event"] for e in events] == ["closed"]
        assert f"#{rows[1][0]}" in events[0]["detail"]
        thread = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.0")
        assert (active := store.active_ticket(thread)) is not None and active.asker_id == "U2"
        applied = [r[0] for r in store.db.execute("select name from _migrations").fetchall()]
        assert sorted(applied) == sorted(name for name, _ in STATE_MIGRATIONS)
    finally:
        store.close()


def test_a_login_that_may_not_create_tables_is_told_what_to_grant(pg_url: str) -> None:
    """PostgreSQL 15 and later: a user may not create tables in a schema it does not own unless
    granted CREATE, the public schema included (a new install's usual first start)."""
    role = f"bot_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        schema = admin.execute("select current_schema()").fetchone()[0]  # type: ignore[index]
        admin.execute(f"create role {role} login")
        admin.execute(f"grant usage on schema {schema} to {role}")
    try:
        with pytest.raises(StoreError, match="may not create supportbot's tables") as caught:
            StateStore(pg_url.replace("postgres:@", f"{role}:@"))  # trust auth: logs in as the role
        assert "GRANT CREATE ON SCHEMA" in str(caught.value) and schema in str(caught.value)
        assert _tables(pg_url) == []  # the failed first step left no `_migrations` either
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f"drop owned by {role}")  # its grant on the schema
            admin.execute(f"drop role {role}")


def test_processes_opening_a_new_database_together_each_migrate_or_wait(state: Path | str) -> None:
    """Workers started at once on a new database: none is told it is locked by another."""
    n = 4
    start = threading.Barrier(n)
    errors: list[BaseException] = []
    stores: list[StateStore] = []

    def open_it() -> None:
        start.wait()
        try:
            stores.append(StateStore(state))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    openers = [threading.Thread(target=open_it) for _ in range(n)]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join(60)
    for store in stores:
        store.close()
    assert errors == []
    store = StateStore(state)
    try:
        names = [r[0] for r in store.db.execute("select name from _migrations order by name").fetchall()]
        assert names == [name for name, _ in STATE_MIGRATIONS]
    finally:
        store.close()


def test_a_running_worker_reads_tickets_and_drafts_after_a_newer_release_migrates(state: Path | str) -> None:
    """knowledge/deployment.md: workers of the old version already running keep answering
    once a newer one (another host) has migrated, columns added to their tables included."""
    ref = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.1")
    slack = (Reach(platform="slack"),)
    running = StateStore(state)
    try:
        ticket, _ = running.create_ticket(
            ref=ref,
            asker=Author(id="U1"),
            question="q",
            reason=EscalationReason.ADMIN,
            at=NOW,
            message_id="m1",
        )
        running.create_draft(
            ticket_id=ticket.id, title="t", question="q", answer="a", visibility="public", at=NOW
        )

        def reads() -> tuple[object, ...]:
            return (
                running.active_ticket(ref),
                running.latest_ticket(ref),
                running.ticket_for_message("slack", "m1"),
                running.ticket_queue(TicketQuery(reach=slack), NOW).tickets,
                running.drafts_in(slack),
            )

        before = reads()  # read before the upgrade: what it knows of the tables is as it was then
        open_state(state, [*STATE_MIGRATIONS, ("9999_newer", _newer_release)]).close()
        assert reads() == before
    finally:
        running.close()


def _waiting_for_a_table(watcher: psycopg.Connection[tuple[object, ...]]) -> bool:
    query = "select count(*) from pg_locks where not granted and mode = 'AccessExclusiveLock'"
    return bool(watcher.execute(query).fetchone()[0])  # type: ignore[index]


def test_a_migration_waiting_behind_a_report_lets_running_workers_read_on(pg_url: str) -> None:
    """A newer release's ALTER TABLE waits for a report's snapshot (one transaction over
    minutes of reads) to let go of the table; meanwhile the other workers' statements on it
    queue behind the ALTER. It gives way before they would be cancelled, and tries again."""
    ref = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.1")
    running = StateStore(pg_url)
    running.create_ticket(ref=ref, asker=Author(id="U1"), question="q", reason=EscalationReason.ADMIN, at=NOW)
    report = psycopg.connect(pg_url, autocommit=True)
    report.execute("begin isolation level repeatable read")
    report.execute("select count(*) from tickets").fetchone()
    errors: list[BaseException] = []

    def newer_release_starts() -> None:
        try:
            open_state(pg_url, [*STATE_MIGRATIONS, ("9999_newer", _newer_release)]).close()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    newer = threading.Thread(target=newer_release_starts)
    newer.start()
    watcher = psycopg.connect(pg_url, autocommit=True)
    try:
        for _ in range(600):  # until the ALTER waits for the report's table
            if _waiting_for_a_table(watcher):
                break
            time.sleep(0.01)
        else:
            pytest.fail("the migration never waited for the report")
        assert running.active_ticket(ref) is not None  # a worker answering in a ticket's thread
    finally:
        report.execute("commit")
        newer.join(60)
        report.close()
        watcher.close()
        running.close()
    assert errors == []
    assert "added_by_a_newer_release" in _columns(pg_url, "tickets")  # applied once the report ended


def test_a_migration_that_cannot_lock_its_table_says_which_session_holds_it(pg_url: str) -> None:
    StateStore(pg_url).close()
    report = psycopg.connect(pg_url, autocommit=True)
    report.execute("begin isolation level repeatable read")
    report.execute("select count(*) from tickets").fetchone()
    holder = report.execute("select pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    db = connect(pg_url)
    try:
        with pytest.raises(StoreError, match=r"migration 9999_newer could not lock the tables") as caught:
            migrate_shared(db, pg_url, [*STATE_MIGRATIONS, ("9999_newer", _newer_release)], patience=0)
    finally:
        db.close()
        report.close()
    assert f"session {holder} " in str(caught.value) and "pg_terminate_backend" in str(caught.value)
    assert "added_by_a_newer_release" not in _columns(pg_url, "tickets")


def _columns(url: str, table: str) -> list[str]:
    with psycopg.connect(url) as pg:
        query = "select column_name from information_schema.columns where table_schema = current_schema() and table_name = %s"
        return [str(r[0]) for r in pg.execute(query, [table])]


def _before(name: str) -> list[Migration]:
    """The migrations of the release before `name`: those a worker of that version applied."""
    return STATE_MIGRATIONS[: [n for n, _ in STATE_MIGRATIONS].index(name)]


def _old_worker_runs(url: str, migrations: list[Migration], beat: datetime) -> WorkerRepository:
    """A worker of the version with `migrations`, registered as its `supportbot run` does on
    its own connection, its last heartbeat at `beat`."""
    workers = WorkerRepository(open_state(url, migrations))
    workers.register_worker(
        WorkerRecord(
            id=uuid.uuid4().hex,
            host="old-host",
            pid=4242,
            started_at=beat,
            heartbeat_at=beat,
            version="0.16",
            platforms=("slack",),
        )
    )
    return workers


def _applied(url: str) -> list[str]:
    with psycopg.connect(url) as pg:
        return [str(r[0]) for r in pg.execute("select name from _migrations order by name")]


def test_a_migration_changing_claims_waits_for_the_old_workers_to_stop(pg_url: str, tmp_path: Path) -> None:
    """0017 and 0018 moved the claims of reminders and posts: a worker of the version before,
    still running, would claim them the old way and both versions would post. The upgrade
    is refused, naming the worker, until it stops."""
    before = _before("0017_sla_claims")
    old = _old_worker_runs(pg_url, before, datetime.now(UTC))
    try:
        with pytest.raises(StoreError) as caught:
            StateStore(pg_url)  # `supportbot run` of the new version
        refusal = str(caught.value)
        assert (
            "migrations 0017_sla_claims, 0018_post_claims, 0019_session_hashes, 0020_card_claims change what workers"
            in refusal
        )
        assert "old-host pid 4242 (v0.16, last heartbeat " in refusal and "Stop every worker" in refusal
        code, output = _migrate_command(pg_url, tmp_path)
        assert code == 2 and "old-host pid 4242" in output
        assert _applied(pg_url) == [name for name, _ in before]  # nothing was changed
        assert "sla_claimed_until" not in _columns(pg_url, "tickets")
        old.unregister_worker()  # an orderly stop
    finally:
        old.db.close()
    StateStore(pg_url).close()
    assert _applied(pg_url) == [name for name, _ in STATE_MIGRATIONS]


def test_a_killed_workers_row_does_not_hold_an_upgrade_back(pg_url: str) -> None:
    """A worker killed without leaving keeps its row: once its heartbeat is too old to be a
    live worker's on any host's clock, the upgrade runs."""
    long_ago = datetime.now(UTC) - WORKER_LEASE - MAX_SKEW - timedelta(minutes=1)
    _old_worker_runs(pg_url, _before("0017_sla_claims"), long_ago).db.close()
    StateStore(pg_url).close()
    assert _applied(pg_url) == [name for name, _ in STATE_MIGRATIONS]


def test_a_migration_changing_no_claims_rolls_beside_running_workers(pg_url: str) -> None:
    running = _old_worker_runs(pg_url, STATE_MIGRATIONS, datetime.now(UTC))
    try:
        open_state(pg_url, [*STATE_MIGRATIONS, ("9999_newer", _newer_release)]).close()
    finally:
        running.db.close()
    assert "added_by_a_newer_release" in _columns(pg_url, "tickets")


def test_the_migrations_marked_exclusive_are_released_ones() -> None:
    assert EXCLUSIVE.issubset(name for name, _ in STATE_MIGRATIONS)  # a name mistyped guards nothing
