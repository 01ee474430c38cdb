"""The web dashboard's state: one-time sign-in links, the audit log, the cookie secret.

It owns the SQL of `dashboard_links` and `audit_log` (migration 0009) and of the
`dashboard_secret` key in `state_meta`. A link is stored only as the SHA-256 of its token,
so the database alone signs nobody in; using a link is a compare-and-set on `used_at`, so of
two requests with the same link only one signs in. The secret signs session cookies: kept in
the state, every worker of a cluster (and a restarted process) accepts the same cookies.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from bot.store.rows import transaction
from bot.store.store import Repository, iso, parse_time

SECRET_KEY = "dashboard_secret"


@dataclass(frozen=True, kw_only=True)
class LinkOwner:
    """Who a one-time link signs in."""

    platform: str
    user_id: str


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
        self, token_hash: str, platform: str, user_id: str, expires_at: datetime
    ) -> None:
        """Keep a new link (by its hash) until `expires_at`."""
        with transaction(self.db):
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

    def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        """The latest changes first."""
        rows = self.db.execute(
            "select id, at, platform, user_id, action, detail from audit_log order by id desc limit ?",
            [limit],
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
