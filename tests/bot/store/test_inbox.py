"""The inbox: each event is claimed once, survives a restart, and keeps only its key once handled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import StateStore

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_an_event_is_claimed_once(state: Path | str) -> None:
    store = StateStore(state)
    assert store.claim_event("slack:1", "slack", "{}", NOW)
    assert not store.claim_event("slack:1", "slack", "{}", NOW)
    assert store.pending_events("slack") == [("slack:1", "{}")]
    store.finish_event("slack:1", NOW)
    assert store.pending_events("slack") == []


def test_inbox_survives_a_restart(state: Path | str) -> None:
    store = StateStore(state)
    store.claim_event("discord:9", "discord", '{"x": 1}', NOW)
    store.close()
    reopened = StateStore(state)
    assert reopened.pending_events("discord") == [("discord:9", '{"x": 1}')]
    assert not reopened.claim_event("discord:9", "discord", "{}", NOW)


def test_handled_events_keep_their_key_but_not_the_message(state: Path | str) -> None:
    store = StateStore(state)
    store.claim_event("slack:msg:1", "slack", '{"text": "my private question"}', NOW)
    store.finish_event("slack:msg:1", NOW)
    row = store.db.execute("select status, payload from inbox").fetchone()
    assert row == ("done", None)
    assert not store.claim_event("slack:msg:1", "slack", "{}", NOW)  # still recognised as a retry
    assert store.prune_inbox(NOW + timedelta(days=8)) == 1
    assert store.claim_event("slack:msg:1", "slack", "{}", NOW)
