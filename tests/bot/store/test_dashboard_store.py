"""The dashboard's state (bot/store/dashboard.py) on both backends: a link is used once and
not after it expires, a session lasts until it expires or ends, the cookie secret is made
once, the audit log keeps who did what."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import StateStore
from bot.store.dashboard import LinkOwner, SessionRecord

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


def test_a_session_lasts_until_it_ends_or_expires(state: Path | str) -> None:
    store = StateStore(state)
    try:
        read = SessionRecord(
            sid="s1",
            platform="slack",
            user_id="U1",
            expires_at=T0 + timedelta(hours=12),
            read_at=T0,
            name="Sam",
            roles=frozenset({"S1", "S2"}),
            platform_admin=True,
            team="T1",
            enterprise="E1",
        )
        store.start_dashboard_session(read, T0)
        store.start_dashboard_session(
            SessionRecord(
                sid="s2", platform="discord", user_id="D2", expires_at=T0 + timedelta(hours=1), read_at=T0
            ),
            T0,
        )
        assert store.dashboard_session("s1", T0) == read
        assert store.dashboard_session("unknown", T0) is None
        later = T0 + timedelta(minutes=5)
        store.reread_dashboard_session("s1", frozenset({"S2"}), False, later)
        again = store.dashboard_session("s1", later)
        assert again is not None and (again.roles, again.platform_admin, again.read_at) == (
            frozenset({"S2"}),
            False,
            later,
        )
        store.end_dashboard_session("s1")
        assert store.dashboard_session("s1", later) is None
        # an expired session is none, and goes when the next one starts
        assert store.dashboard_session("s2", T0 + timedelta(hours=1)) is None
        store.start_dashboard_session(replace(read, sid="s3"), T0 + timedelta(hours=1))
        assert [r[0] for r in store.db.execute("select sid from dashboard_sessions").fetchall()] == ["s3"]
    finally:
        store.close()
