"""Opening state.db: clear errors on bad or locked files, the busy timeout, and upgrades in place."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.errors import StoreError
from bot.store import StateStore
from bot.store.migrations import STATE_MIGRATIONS
from bot.store.store import open_database
from bot.types import Author, ConversationRef, EscalationReason, Posted

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REF = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.0")


def test_a_corrupt_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a readable SQLite database") as caught:
        StateStore(path)
    assert "Nothing was changed" in str(caught.value)
    assert path.read_bytes().startswith(b"this is not sqlite")


def test_a_locked_database_names_the_likely_cause(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore(path).close()
    holder = sqlite3.connect(path)
    holder.execute("pragma journal_mode=delete")
    holder.execute("begin exclusive")
    try:
        with pytest.raises(StoreError, match="another supportbot"):
            # a short busy timeout: the lock is never released, waiting the default 5 s proves nothing
            store = StateStore(path, busy_timeout=0.05)
            store.claim_event("x", "slack", "", NOW)
    finally:
        holder.rollback()
        holder.close()


def test_a_new_state_db_another_process_is_opening_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers started together on a new state.db: switching the file to WAL needs it to
    itself, and SQLite reports it busy at once there instead of waiting its busy timeout. The
    opener waits for the other process rather than call the file locked by another bot."""
    path = tmp_path / "state.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("begin immediate")  # another process opening the new file holds its write lock
    switches: list[str] = []
    real_connect = sqlite3.connect

    def watched(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        """sqlite3's connection, its statements watched: the other process lets go of the
        file once this one has been refused it (it asks to switch again)."""
        conn = real_connect(*args, **kwargs)

        def seen(sql: str) -> None:
            if sql == "pragma journal_mode=wal":
                switches.append(sql)
                if len(switches) == 2:
                    other.execute("rollback")

        conn.set_trace_callback(seen)
        return conn

    monkeypatch.setattr(sqlite3, "connect", watched)
    try:
        store = StateStore(path)
    finally:
        other.close()
    assert store.db.execute("pragma journal_mode").fetchone()[0] == "wal"
    store.close()


def test_the_busy_timeout_is_the_connections(tmp_path: Path) -> None:
    default = StateStore(tmp_path / "state.db")
    short = StateStore(tmp_path / "state.db", busy_timeout=0.25)
    assert default.db.execute("pragma busy_timeout").fetchone()[0] == 5000
    assert short.db.execute("pragma busy_timeout").fetchone()[0] == 250


def test_a_state_db_from_before_migration_0002_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    old = open_database(path, STATE_MIGRATIONS[:1])  # what the first release created
    with old.conn:
        old.execute(
            "insert into tickets (conversation, platform, asker_id, asker_name, question, reason, status, "
            "language, visibility, tags, sla_stage, created_at, updated_at) "
            "values (?, 'slack', 'U1', 'Ann', 'q?', ?, 'open', 'en', 'public', '[]', 0, ?, ?)",
            [REF.key, str(EscalationReason.ASKED_FOR_HUMAN), NOW.isoformat(), NOW.isoformat()],
        )
        old.execute(
            "insert into ticket_posts (ticket_id, conversation, message_id, kind) values (1, ?, '5.5', 'thread')",
            [REF.key],
        )
    old.close()

    store = StateStore(path)
    names = [row["name"] for row in store.db["_migrations"].rows]
    assert names == [
        "0001_initial",
        "0002_ticket_context",
        "0003_answer_by_message",
        "0004_inbox_post",
        "0005_insights",
        "0006_privacy",
        "0007_workers",
        "0008_slack_installations",
        "0009_dashboard",
        "0010_messages_at",
        "0011_workspaces",
        "0012_gap_workspaces",
        "0013_message_ids",
        "0014_answer_events",
        "0015_ticket_messages",
        "0016_dashboard_sessions",
        "0017_sla_claims",
        "0018_post_claims",
        "0019_session_hashes",
        "0020_card_claims",
        "0021_slack_organisations",
        "0022_revisions",
        "0023_model_reservations",
        "0024_draft_edits",
        "0025_notice_languages",
        "0026_revised_answers",
    ]
    ticket = store.ticket(1)
    assert ticket is not None and ticket.question == "q?"
    assert store.ticket_context(1) == {}  # the column added by 0002 is empty for old tickets
    assert store.ticket_posts(1) == [("thread", Posted(message_id="5.5", conversation=REF), "")]
    # 0002's index holds for the rows that were already there: a second escalation joins the first
    again, created = store.create_ticket(
        ref=REF, asker=Author(id="U2"), question="me too", reason=EscalationReason.ASKED_FOR_HUMAN, at=NOW
    )
    assert (again.id, created) == (1, False)
    store.close()
    assert [row["name"] for row in StateStore(path).db["_migrations"].rows] == names  # applied once
