"""The web dashboard's state: one-time sign-in links, sessions, the audit log, the cookie
secret.

It owns the SQL of `dashboard_links` and `audit_log` (migration 0009), `dashboard_sessions`
(migrations 0016 and 0019) and of the `dashboard_secret` key in `state_meta`. A session's
cookie names only its id: the session is what its row says, so signing out (deleting the
row) ends it for every copy of the cookie. A link is stored only as the SHA-256 of its token
and a session only as that of its id, so the database alone signs nobody in: the secret
that signs cookies is in it too, and with a session's id it would make that session's
cookie. Using a link is a compare-and-set on `used_at`, so of two requests with the same link
only one signs in. The secret signs session cookies: kept in the state, every worker of a
cluster (and a restarted process) accepts the same cookies.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.store.rows import transaction
from bot.store.store import Repository, iso, parse_time

SECRET_KEY = "dashboard_secret"


def hash_token(token: str) -> str:
    """What the state keeps of a link's token or a session's id (either signs someone in)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class LinkOwner:
    """Who a one-time link signs in."""

    platform: str
    user_id: str


@dataclass(frozen=True, kw_only=True)
class SessionRecord:
    """A dashboard session as kept (bot/dashboard/auth.py `Session` says what it means)."""

    sid: str  # what the cookie names; the state keeps only its hash
    platform: str
    user_id: str
    expires_at: datetime
    read_at: datetime  # when `roles` and `platform_admin` were read from the platform
    name: str = ""
    roles: frozenset[str] = frozenset()
    platform_admin: bool = False
    team: str = ""
    enterprise: str = ""


_SESSION_COLUMNS = (
    "sid_hash, platform, user_id, expires_at, read_at, name, roles, platform_admin, team, enterprise"
)


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """One change made through the dashboard: who, what, when."""

    id: int
    at: datetime
    platform: str
    user_id: str
    action: str
    detail: str


class DashboardRepository(Repository):
    def issue_dashboard_link(
        self, token_hash: str, platform: str, user_id: str, expires_at: datetime, now: datetime
    ) -> None:
        """Keep a new link (by its hash) until `expires_at`. Links used or expired by `now` go
        (each names a person, and a used one is refused as a missing one is), so the table
        holds only the links of the last LINK_TTL."""
        with transaction(self.db):
            self.db.execute(
                "delete from dashboard_links where used_at is not null or expires_at <= ?", [iso(now)]
            )
            self.db.execute(
                "insert into dashboard_links (token_hash, platform, user_id, expires_at) values (?, ?, ?, ?)",
                [token_hash, platform, user_id, iso(expires_at)],
            )

    def use_dashboard_link(self, token_hash: str, now: datetime) -> LinkOwner | None:
        """Whom the link signs in, once: unused and unexpired, it is marked used in the same
        statement that checks it, so a second use (or a race) gets None."""
        with transaction(self.db):
            cursor = self.db.execute(
                "update dashboard_links set used_at = ? "
                "where token_hash = ? and used_at is null and expires_at > ?",
                [iso(now), token_hash, iso(now)],
            )
            if cursor.rowcount != 1:
                return None
            row = self.db.execute(
                "select platform, user_id from dashboard_links where token_hash = ?", [token_hash]
            ).fetchone()
        return LinkOwner(platform=str(row[0]), user_id=str(row[1]))

    def start_dashboard_session(self, session: SessionRecord, now: datetime) -> None:
        """Keep a new session; sessions expired by `now` go (sign-ins are rare, so this keeps
        the table to the sessions of the last SESSION_TTL)."""
        with transaction(self.db):
            self.db.execute("delete from dashboard_sessions where expires_at <= ?", [iso(now)])
            self.db.execute(
                f"insert into dashboard_sessions ({_SESSION_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    hash_token(session.sid),
                    session.platform,
                    session.user_id,
                    iso(session.expires_at),
                    iso(session.read_at),
                    session.name,
                    ",".join(sorted(session.roles)),
                    1 if session.platform_admin else 0,
                    session.team,
                    session.enterprise,
                ],
            )

    def dashboard_session(self, sid: str, now: datetime) -> SessionRecord | None:
        """The session `sid` names, unless it ended or expired: one lookup by primary key, as
        every dashboard request makes it."""
        row = self.db.execute(
            f"select {_SESSION_COLUMNS} from dashboard_sessions where sid_hash = ? and expires_at > ?",
            [hash_token(sid), iso(now)],
        ).fetchone()
        if row is None:
            return None
        expires_at, read_at = parse_time(str(row[3])), parse_time(str(row[4]))
        assert expires_at is not None and read_at is not None
        return SessionRecord(
            sid=sid,
            platform=str(row[1]),
            user_id=str(row[2]),
            expires_at=expires_at,
            read_at=read_at,
            name=str(row[5] or ""),
            roles=frozenset(r for r in str(row[6] or "").split(",") if r),
            platform_admin=bool(row[7]),
            team=str(row[8] or ""),
            enterprise=str(row[9] or ""),
        )

    def reread_dashboard_session(
        self, sid: str, roles: frozenset[str], platform_admin: bool, read_at: datetime
    ) -> None:
        """The groups or roles and admin flag of a session, as read again from its platform."""
        with transaction(self.db):
            self.db.execute(
                "update dashboard_sessions set roles = ?, platform_admin = ?, read_at = ? where sid_hash = ?",
                [",".join(sorted(roles)), 1 if platform_admin else 0, iso(read_at), hash_token(sid)],
            )

    def end_dashboard_session(self, sid: str) -> None:
        """Sign out: the session's cookie, wherever a copy of it is, names nothing now."""
        with transaction(self.db):
            self.db.execute("delete from dashboard_sessions where sid_hash = ?", [hash_token(sid)])

    def dashboard_secret(self) -> str:
        """The key session cookies are signed with, made on first use."""
        with transaction(self.db):
            # insert-or-ignore then read back: two processes racing agree on the first one
            self.db.execute(
                "insert into state_meta (key, value) values (?, ?) on conflict do nothing",
                [SECRET_KEY, secrets.token_hex(32)],
            )
            row = self.db.execute("select value from state_meta where key = ?", [SECRET_KEY]).fetchone()
        return str(row[0])

    def add_audit(self, at: datetime, platform: str, user_id: str, action: str, detail: str = "") -> None:
        with transaction(self.db):
            self.db.execute(
                "insert into audit_log (at, platform, user_id, action, detail) values (?, ?, ?, ?, ?)",
                [iso(at), platform, user_id, action, detail],
            )

    def audit_log(self, limit: int = 200, *, platforms: Sequence[str] | None = None) -> list[AuditEntry]:
        """The latest changes first; with `platforms`, only those made by people of them (the
        dashboard shows each admin their own platforms': a sign-in names its user and server)."""
        where, params = "", []
        if platforms is not None:
            where = f"where platform in ({', '.join('?' for _ in platforms) or 'null'}) "
            params = list(platforms)
        rows = self.db.execute(
            f"select id, at, platform, user_id, action, detail from audit_log {where}order by id desc limit ?",
            [*params, limit],
        ).fetchall()
        entries = []
        for row in rows:
            at = parse_time(str(row[1]))
            assert at is not None
            entries.append(
                AuditEntry(
                    id=int(row[0]),
                    at=at,
                    platform=str(row[2]),
                    user_id=str(row[3]),
                    action=str(row[4]),
                    detail=str(row[5] or ""),
                )
            )
        return entries
