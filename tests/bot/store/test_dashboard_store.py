"""The dashboard's state (bot/store/dashboard.py) on both backends: a link is used once and
not after it expires, the cookie secret is made once, the audit log keeps who did what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import StateStore
from bot.store.dashboard import LinkOwner

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_a_link_is_used_once_and_never_after_it_expires(state: Path | str) -> None:
    store = StateStore(state)
    try:
        store.issue_dashboard_link("h1", "slack", "U1", T0 + timedelta(minutes=10))
        store.issue_dashboard_link("h2", "discord", "D2", T0 + timedelta(minutes=10))
        assert store.use_dashboard_link("h1", T0) == LinkOwner(platform="slack", user_id="U1")
        assert store.use_dashboard_link("h1", T0) is None
        assert store.use_dashboard_link("h2", T0 + timedelta(minutes=10)) is None
        assert store.use_dashboard_link("unknown", T0) is None
    finally:
        store.close()


def test_the_secret_is_made_once_and_the_audit_log_is_newest_first(state: Path | str) -> None:
    store = StateStore(state)
    try:
        secret = store.dashboard_secret()
        assert len(secret) == 64 and store.dashboard_secret() == secret
        store.add_audit(T0, "slack", "U1", "signin")
        store.add_audit(T0 + timedelta(minutes=1), "slack", "U1", "claim", "ticket #3")
        entries = store.audit_log()
        assert [(e.action, e.detail, e.at) for e in entries] == [
            ("claim", "ticket #3", T0 + timedelta(minutes=1)),
            ("signin", "", T0),
        ]
    finally:
        store.close()
