"""`supportbot store copy`: an install's state.db moved into a real PostgreSQL gives the same
report and the same rows, new rows get fresh ids, a target with rows is refused, the source is
never changed, and a failure part-way leaves the target without a row."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_settings
from bot.errors import StoreError
from bot.insights.gaps import place
from bot.insights.report import ReportFormat, run_report
from bot.store import StateStore
from bot.store.copy import copy_state, source_path
from bot.store.migrations import CATALOG_MIGRATIONS, STATE_MIGRATIONS
from bot.store.store import open_database
from bot.types import Author, EscalationReason
from tests.bot.insights.week import NOW, WEEK, at, escalate, script_week, thread
from tests.bot.store.test_migrations import first_release_with_two_open_tickets_in_a_thread


@pytest.fixture
def install(tmp_path: Path) -> Path:
    """The data directory of an install that ran for a week: state.db filled through the real
    repositories (tickets and their events, drafts, gaps, bursts, incidents, memory, welcomes)."""
    data = tmp_path / "data"
    store = StateStore(data / "state.db")
    script_week(store)
    place(store, 3, WEEK.until)
    ticket = escalate(store, thread(), "U2", at(3, 9), EscalationReason.ASKED_FOR_HUMAN)
    store.create_draft(ticket_id=ticket, title="t", question="q", answer="a", visibility="public", at=NOW)
    burst = store.record_burst(
        platform="slack", representative="login fails", signatures="[]", askers=5,
        channels=["C1"], threads=["slack:T1:C1:1"], at=NOW,
    )  # fmt: skip
    incident, _ = store.open_incident(
        platform="slack", text="Login is down", signatures="[]", by="S1", at=NOW, burst_id=burst.id
    )
    store.add_notice(incident.id, thread(), NOW)
    store.set_memory_enabled("slack", "U1", True, NOW)
    store.claim_welcome("slack", "U1", NOW)
    store.claim_event("slack:msg:x1", "slack", "{}", NOW)
    store.close()
    return data


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tables(target: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every state table's rows (sorted, so the order rows come back in does not matter)."""
    store = StateStore(target)
    try:
        names = [t for t in store.db.table_names() if t != "_migrations"]
        return {
            t: sorted(map(tuple, store.db.execute(f'select * from "{t}"').fetchall()), key=repr)
            for t in names
        }
    finally:
        store.close()


def _report(data: Path, url: str | None) -> dict[str, Any]:
    """`supportbot report --format json` of the week, at the week's fixed moment (the command
    itself reads the clock, and the scripted week lies ahead of it)."""
    settings = load_settings(data=data, env={"SUPPORTBOT_DATABASE_URL": url} if url else {})
    text = run_report(
        settings, since="2026-11-30", until=None, platform=None, channel=None, fmt=ReportFormat.JSON, now=NOW
    )
    report: dict[str, Any] = json.loads(text)
    return report


def test_a_copied_install_reports_the_same_and_holds_the_same_rows(
    install: Path, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    state_db = install / "state.db"
    before = _digest(state_db)
    runner = CliRunner()
    on_sqlite = _report(install, None)

    done = runner.invoke(app, ["store", "copy", "--from", f"sqlite:{state_db}", "--data", str(tmp_path / "x")],
                         env={"SUPPORTBOT_DATABASE_URL": pg_url})  # fmt: skip
    assert done.exit_code == 0, done.output
    rows = _tables(state_db)
    # rows per table are printed, tickets before their events; the password is never shown
    for table in ("tickets", "ticket_events", "messages", "answers", "feedback", "drafts", "gap_questions"):
        assert rows[table], table
        assert f"{table:<18} {len(rows[table]):>10}" in done.stdout
    assert done.stdout.index("tickets ") < done.stdout.index("ticket_events ")
    assert "was not changed" in done.stdout

    assert _report(tmp_path / "elsewhere", pg_url) == on_sqlite
    assert on_sqlite["metrics"]["questions"] > 0
    assert _tables(pg_url) == rows
    assert _digest(state_db) == before


def test_rows_written_after_the_copy_get_fresh_ids(install: Path, pg_url: str) -> None:
    result = copy_state(source_path(str(install)), pg_url)  # a data directory works as --from
    assert result.rows["tickets"] > 0 and not result.held
    store = StateStore(pg_url)
    try:
        highest = {
            t: store.db.execute(f"select max(id) from {t}").fetchone()[0] for t in ("tickets", "messages")
        }
        ticket, created = store.create_ticket(
            ref=thread(),
            asker=Author(id="U1"),
            question="new",
            reason=EscalationReason.ASKED_FOR_HUMAN,
            at=NOW,
        )
        assert created and ticket.id == highest["tickets"] + 1
        store.add_message(
            thread(), role="user", text="hello", at=NOW, author=Author(id="U1"), platform_id="n1"
        )
        assert store.db.execute("select max(id) from messages").fetchone()[0] == highest["messages"] + 1
    finally:
        store.close()


def test_a_target_holding_rows_is_refused_unless_replaced(install: Path, pg_url: str) -> None:
    state_db = install / "state.db"
    first = copy_state(state_db, pg_url)
    with pytest.raises(StoreError, match="already holds supportbot state"):
        copy_state(state_db, pg_url)
    assert {t: len(r) for t, r in _tables(pg_url).items() if r} == {t: n for t, n in first.rows.items() if n}

    again = copy_state(state_db, pg_url, replace=True, batch=7)  # small batches: many reads per table
    assert again.held == {t: n for t, n in first.rows.items() if n} and again.rows == first.rows
    assert _tables(pg_url) == _tables(state_db)


def test_a_failure_part_way_leaves_the_target_empty_and_the_source_unchanged(
    install: Path, pg_url: str
) -> None:
    state_db = install / "state.db"
    # SQLite keeps text in an integer column; PostgreSQL refuses it, well after the first tables
    with sqlite3.connect(state_db) as conn:
        conn.execute("update user_memory set enabled = 'yes'")
    conn.close()
    before = _digest(state_db)
    with pytest.raises(StoreError, match="user_memory"):
        copy_state(state_db, pg_url)
    assert {t: len(r) for t, r in _tables(pg_url).items() if r} == {}
    assert _digest(state_db) == before


def test_a_dry_run_counts_and_changes_nothing(install: Path, pg_url: str) -> None:
    import psycopg

    result = copy_state(install / "state.db", pg_url, dry_run=True)
    assert result.dry_run and result.rows["tickets"] > 0 and result.held == {}
    with psycopg.connect(pg_url) as conn:  # not even migrated
        assert conn.execute(
            "select count(*) from information_schema.tables where table_schema = current_schema()"
        ).fetchone() == (0,)


def test_an_older_state_db_is_copied_through_an_upgraded_copy(tmp_path: Path, pg_url: str) -> None:
    old = tmp_path / "state.db"
    db = open_database(old, STATE_MIGRATIONS[:4])  # as a release before the insights tables wrote it
    db.execute(
        "insert into conversations (key, platform, channel, started_at) values ('k', 'slack', 'C1', 'x')"
    )
    db.execute("insert into messages (conversation, role, text, at) values ('k', 'user', 'hi', 'x')")
    db.conn.commit()
    db.close()
    before = _digest(old)
    result = copy_state(old, pg_url)
    assert result.upgraded == [name for name, _ in STATE_MIGRATIONS[4:]]
    assert (
        result.rows["conversations"] == 1 and result.rows["messages"] == 1 and result.rows["incidents"] == 0
    )
    assert _digest(old) == before


def test_a_first_release_state_db_with_two_open_tickets_in_a_thread_is_copied(
    tmp_path: Path, pg_url: str
) -> None:
    """Its upgraded copy used to fail at 0002 (`UNIQUE constraint failed`, naming a temporary
    file): such an install could never move. Now every ticket is copied, the older one closed."""
    old = tmp_path / "state.db"
    first_release_with_two_open_tickets_in_a_thread(old)
    before = _digest(old)
    result = copy_state(old, pg_url)
    assert result.rows["tickets"] == 4 and result.rows["ticket_events"] == 1
    assert _digest(old) == before


def test_a_nul_sqlite_kept_is_copied_as_u_fffd_and_counted(tmp_path: Path, pg_url: str) -> None:
    """A message whose text held a NUL (kept by SQLite, from before the bot replaced it on
    arrival; PostgreSQL's text cannot hold one) is no reason to leave the install behind."""
    store = StateStore(tmp_path / "state.db")
    for n, text in enumerate(["hello", "paste:\x00end\x00"]):
        store.add_message(
            thread(), role="user", text=text, at=NOW, author=Author(id="U1"), platform_id=f"n{n}"
        )
    store.close()
    result = copy_state(tmp_path / "state.db", pg_url)
    assert result.rows["messages"] == 2 and result.scrubbed == {"messages": 1}
    copied = StateStore(pg_url)
    try:
        texts = [
            row[0] for row in copied.db.execute("select text from messages order by platform_id").fetchall()
        ]
    finally:
        copied.close()
    assert texts == ["hello", "paste:\ufffdend\ufffd"]


def test_another_applications_database_is_refused_before_anything_is_made_in_it(
    install: Path, pg_url: str
) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as theirs:
        theirs.execute("create table messages (id serial primary key, body text)")
    for dry_run in (True, False):
        with pytest.raises(StoreError, match="another application's database"):
            copy_state(install / "state.db", pg_url, dry_run=dry_run)
    with psycopg.connect(pg_url) as theirs:
        query = "select table_name from information_schema.tables where table_schema = current_schema()"
        assert [row[0] for row in theirs.execute(query)] == ["messages"]


def test_what_is_not_a_state_database_is_refused_with_a_reason(tmp_path: Path, pg_url: str) -> None:
    with pytest.raises(StoreError, match="no SQLite database"):
        copy_state(tmp_path / "missing.db", pg_url)
    with pytest.raises(StoreError, match="must be a SQLite file"):
        source_path(pg_url)
    with pytest.raises(StoreError, match="must be a PostgreSQL URL"):
        copy_state(tmp_path / "state.db", str(tmp_path / "other.db"))


def test_the_search_catalog_given_as_source_is_not_called_a_newer_supportbots_state(
    tmp_path: Path, pg_url: str
) -> None:
    """`--from DATA/index/catalog.db` by mistake (the other SQLite file of a data directory,
    whose first migration shares state.db's name) used to be called a newer supportbot's state
    database, to be copied after installing "that version". Now it is named for what it is not."""
    catalog = tmp_path / "index" / "catalog.db"
    catalog.parent.mkdir()
    open_database(catalog, CATALOG_MIGRATIONS).close()
    with pytest.raises(StoreError, match="is not a supportbot state database") as refused:
        copy_state(catalog, pg_url)
    assert "newer supportbot" not in str(refused.value) and "0002_embeddings" in str(refused.value)


def test_a_damaged_state_db_is_refused_with_a_reason_not_a_traceback(tmp_path: Path, pg_url: str) -> None:
    """A state.db with a damaged page in its messages (a disk error) opens, and used to fail
    half-way through the copy with sqlite3's own traceback. Now the command names the file,
    says what to do, and the target is left without a row."""
    store = StateStore(tmp_path / "data" / "state.db")
    for n in range(600):
        store.add_message(
            thread(),
            role="user",
            text=f"message {n} " + "x" * 200,
            at=NOW,
            author=Author(id="U1"),
            platform_id=f"m{n}",
        )
    store.close()
    path = tmp_path / "data" / "state.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("pragma wal_checkpoint(truncate)")
        size = conn.execute("pragma page_size").fetchone()[0]
        # the messages table's own pages, however the file is laid out (a page in the middle of
        # the file may be an index's, which a copy never reads)
        root = conn.execute("select rootpage from sqlite_master where name = 'messages'").fetchone()[0]
    damaged = bytearray(path.read_bytes())
    damaged[size * (root - 1) : size * root] = b"\xff" * size  # pages count from 1
    path.write_bytes(bytes(damaged))
    done = CliRunner().invoke(
        app, ["store", "copy", "--from", str(path), "--to", pg_url, "--data", str(tmp_path / "x")]
    )
    assert not isinstance(done.exception, sqlite3.Error), repr(done.exception)
    assert done.exit_code == 2 and f"{path} is not a readable SQLite database" in done.output
    assert _tables(pg_url)["messages"] == []


def test_the_command_waits_for_no_bot_and_dry_runs_without_a_password_shown(
    install: Path, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.instance import InstanceLock

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    args = ["store", "copy", "--from", str(install), "--data", str(tmp_path / "x")]
    secret_url = pg_url.replace("postgres:@", "postgres:s3cret@")  # trust auth: any password logs in
    with InstanceLock(install):  # a `supportbot run` on this data directory
        refused = runner.invoke(app, args, env={"SUPPORTBOT_DATABASE_URL": pg_url})
    assert refused.exit_code == 2 and "already running" in refused.output
    dry = runner.invoke(app, [*args, "--dry-run"], env={"SUPPORTBOT_DATABASE_URL": secret_url})
    assert dry.exit_code == 0, dry.output
    assert "Dry run:" in dry.stdout and "holds no supportbot rows" in dry.stdout
    assert "s3cret" not in dry.output
    assert _tables(pg_url) == {t: [] for t in _tables(install / "state.db")}
