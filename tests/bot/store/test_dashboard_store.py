"""The dashboard's state (bot/store/dashboard.py) on both backends: a link is used once and
not after it expires, a session lasts until it expires or ends and is kept only by a hash of
its id, the cookie secret is made once, the audit log keeps who did what."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import StateStore
from bot.store.dashboard import LinkOwner, SessionRecord
from bot.store.migrations import STATE_MIGRATIONS
from bot.store.rows import transaction
from bot.store.store import iso, open_state

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_a_link_is_used_once_and_never_after_it_expires(state: Path | str) -> None:
    store = StateStore(state)
    try:
        store.issue_dashboard_link("h1", "slack", "U1", T0 + timedelta(minutes=10), T0)
        store.issue_dashboard_link("h2", "discord", "D2", T0 + timedelta(minutes=10), T0)
        assert store.use_dashboard_link("h1", T0) == LinkOwner(platform="slack", user_id="U1")
        assert store.use_dashboard_link("h1", T0) is None
        assert store.use_dashboard_link("h2", T0 + timedelta(minutes=10)) is None
        assert store.use_dashboard_link("unknown", T0) is None
    finally:
        store.close()


def test_links_used_or_expired_go_when_the_next_is_issued(state: Path | str) -> None:
    """Each names a person: kept for ever, the table would grow by every link printed."""
    store = StateStore(state)
    try:
        store.issue_dashboard_link("used", "slack", "U1", T0 + timedelta(minutes=10), T0)
        store.issue_dashboard_link("expired", "slack", "U2", T0 + timedelta(minutes=10), T0)
        store.issue_dashboard_link("live", "slack", "U3", T0 + timedelta(minutes=20), T0)
        assert store.use_dashboard_link("used", T0) is not None
        later = T0 + timedelta(minutes=10)
        store.issue_dashboard_link("new", "slack", "U4", later + timedelta(minutes=10), later)
        kept = store.db.execute("select token_hash from dashboard_links order by token_hash").fetchall()
        assert [r[0] for r in kept] == ["live", "new"]
        assert store.use_dashboard_link("live", later) == LinkOwner(platform="slack", user_id="U3")
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


def test_the_audit_log_is_read_for_the_platforms_asked(state: Path | str) -> None:
    """It used to be read whole only: a Slack admin's page showed the Discord admins' sign-ins."""
    store = StateStore(state)
    try:
        store.add_audit(T0, "slack", "U1", "signin")
        store.add_audit(T0, "discord", "111", "signin")
        store.add_audit(T0, "slack", "U1", "claim", "ticket #3")
        assert [e.detail for e in store.audit_log(platforms=["slack"])] == ["ticket #3", ""]
        assert [e.user_id for e in store.audit_log(1, platforms=["discord", "slack"])] == ["U1"]
        assert [e.user_id for e in store.audit_log(platforms=["discord"])] == ["111"]
        assert store.audit_log(platforms=[]) == []
        assert len(store.audit_log()) == 3
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
        assert store.db.execute("select count(*) from dashboard_sessions").fetchone()[0] == 1
        assert store.dashboard_session("s3", T0 + timedelta(hours=1)) == replace(read, sid="s3")
    finally:
        store.close()


def _session(sid: str, platform: str, user_id: str) -> SessionRecord:
    return SessionRecord(
        sid=sid, platform=platform, user_id=user_id, expires_at=T0 + timedelta(hours=12), read_at=T0
    )


def test_the_state_keeps_only_a_hash_of_a_session_id(state: Path | str) -> None:
    """With the cookie secret in the same database, a session id read from a copy of it (a
    backup, a dump) would make that session's cookie: what is kept names no session."""
    store = StateStore(state)
    try:
        store.start_dashboard_session(_session("sid-of-the-admin", "slack", "U-ADMIN"), T0)
        [row] = store.db.execute("select * from dashboard_sessions").fetchall()
        assert not any("sid-of-the-admin" in str(value) for value in row)
        assert all(store.dashboard_session(str(value), T0) is None for value in row)
        assert store.dashboard_session("sid-of-the-admin", T0) == _session(
            "sid-of-the-admin", "slack", "U-ADMIN"
        )
    finally:
        store.close()


def test_forget_me_ends_only_that_persons_sessions(state: Path | str) -> None:
    store = StateStore(state)
    try:
        store.start_dashboard_session(_session("sid-mine", "slack", "U-SAM"), T0)
        store.start_dashboard_session(_session("sid-other", "slack", "U-OTHER"), T0)
        store.start_dashboard_session(_session("sid-discord", "discord", "U-SAM"), T0)
        store.forget("slack", "U-SAM", T0)
        assert store.dashboard_session("sid-mine", T0) is None
        assert store.dashboard_session("sid-other", T0) is not None
        assert store.dashboard_session("sid-discord", T0) is not None
    finally:
        store.close()


def test_sessions_kept_before_their_ids_were_hashed_go_at_the_upgrade(state: Path | str) -> None:
    """Their ids may sit in clear in copies of the database made before: they must not
    survive it (migration 0019)."""
    names = [name for name, _ in STATE_MIGRATIONS]
    old = open_state(state, STATE_MIGRATIONS[: names.index("0019_session_hashes")])
    try:
        with transaction(old):
            old.execute(
                "insert into dashboard_sessions (sid, platform, user_id, expires_at, read_at) "
                "values (?, 'slack', 'U-ADMIN', ?, ?)",
                ["sid-in-clear", iso(T0 + timedelta(hours=12)), iso(T0)],
            )
    finally:
        old.close()
    store = StateStore(state)
    try:
        assert store.db.execute("select count(*) from dashboard_sessions").fetchone()[0] == 0
        assert store.dashboard_session("sid-in-clear", T0) is None
    finally:
        store.close()
