"""Who is looking at the dashboard: one-time sign-in links, signed session cookies, CSRF
tokens, and the rights a user has.

Nothing here is stored in the browser but a signed cookie naming the session (its id, the
platform and user, its expiry, the workspace a Slack or Discord sign-in went through and the
group or role ids it read there); rights are decided again on every request from the
settings by `bot.policy`, exactly as for chat commands, so a person removed from the staff
loses the dashboard on their next click rather than when the cookie expires. Rights are per
workspace, as in the chat (`[slack.workspaces.T...]` may name other staff), and the groups,
roles and admin flag read at sign-in count only in the workspace they were read in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot import policy
from bot.config import Settings
from bot.types import Author

LINK_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=12)
COOKIE = "supportbot_session"


class Rights(StrEnum):
    NONE = "none"
    STAFF = "staff"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS.index(self)


_RANKS = (Rights.NONE, Rights.STAFF, Rights.ADMIN)


@dataclass(frozen=True, kw_only=True)
class Session:
    sid: str  # random per sign-in: what CSRF tokens are bound to
    platform: str
    user_id: str
    expires_at: datetime
    # what Sign in with Slack / Discord read at sign-in (bot/dashboard/oauth.py): the group
    # or role ids and the platform's admin flag, kept so policy can decide rights from them
    # on every request; a one-time link knows neither
    roles: frozenset[str] = frozenset()
    platform_admin: bool = False
    team: str = ""  # the Slack team or Discord guild they were read in; "" for a link

    @property
    def author(self) -> Author:
        return Author(
            id=self.user_id, name=self.user_id, roles=self.roles, platform_admin=self.platform_admin
        )

    def author_in(self, platform: str, workspace: str | None) -> Author:
        """The person as the chat would see them in `workspace`: with the groups, roles and
        admin flag read at sign-in only in the workspace they were read in."""
        if platform == self.platform and self.team and workspace == self.team:
            return self.author
        return Author(id=self.user_id, name=self.user_id)


def new_link_token() -> tuple[str, str]:
    """A fresh token for a sign-in link and the hash the store keeps of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_session(
    platform: str,
    user_id: str,
    now: datetime,
    *,
    roles: frozenset[str] = frozenset(),
    platform_admin: bool = False,
    team: str = "",
) -> Session:
    return Session(
        sid=secrets.token_urlsafe(16),
        platform=platform,
        user_id=user_id,
        expires_at=now + SESSION_TTL,
        roles=roles,
        platform_admin=platform_admin,
        team=team,
    )


def _sign(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def same(given: str, expected: str) -> bool:
    """A constant-time comparison of what a request carried with what we computed: as bytes,
    since `hmac.compare_digest` raises on a str that is not ASCII (a hostile cookie or field)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def sign_session(secret: str, session: Session) -> str:
    """The cookie value: the session's fields, base64url, a dot, their HMAC-SHA256."""
    fields = "\x00".join(
        [
            session.sid,
            session.platform,
            session.user_id,
            str(int(session.expires_at.timestamp())),
            ",".join(sorted(session.roles)),
            "1" if session.platform_admin else "0",
            session.team,
        ]
    )
    body = base64.urlsafe_b64encode(fields.encode()).decode().rstrip("=")
    return f"{body}.{_sign(secret, body)}"


def read_session(secret: str, value: str | None, now: datetime) -> Session | None:
    """The session a cookie carries, or None when it is missing, forged or expired."""
    if not value or "." not in value:
        return None
    body, signature = value.rsplit(".", 1)
    if not same(signature, _sign(secret, body)):
        return None
    try:
        fields = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().split("\x00")
        # six fields: a cookie signed before sessions kept their workspace
        sid, platform, user_id, expires, roles, admin, team = fields if len(fields) == 7 else [*fields, ""]
        expires_at = datetime.fromtimestamp(int(expires), UTC)
    except ValueError:
        return None
    if expires_at <= now:
        return None
    return Session(
        sid=sid,
        platform=platform,
        user_id=user_id,
        expires_at=expires_at,
        roles=frozenset(r for r in roles.split(",") if r),
        platform_admin=admin == "1",
        team=team,
    )


def csrf_token(secret: str, session: Session) -> str:
    """Bound to the session: a token from another session (or none) is refused."""
    return _sign(secret, "csrf\x00" + session.sid)


def csrf_ok(secret: str, session: Session, given: str) -> bool:
    return same(given, csrf_token(secret, session))


def rights_of(settings: Settings, author: Author, platform: str, workspace: str | None = None) -> Rights:
    """What the chat commands would let `author` do on that platform, in `workspace` (None:
    under the platform's shared settings)."""
    if policy.is_admin(author, platform, settings, workspace):
        return Rights.ADMIN
    if policy.is_staff(author, platform, settings, workspace):
        return Rights.STAFF
    return Rights.NONE


def own_workspaces(settings: Settings, session: Session, platform: str) -> set[str]:
    """The workspaces of `platform` where the session's rights may differ from what the
    shared settings give it: those with settings of their own, and the one it signed in to."""
    shared = policy.platform_settings(settings, platform)
    own = set(shared.workspaces) if shared is not None else set()
    if session.platform == platform and session.team:
        own.add(session.team)
    return own


def session_rights(settings: Settings, session: Session) -> Rights:
    """The session's rights on its platform, which pages it may open: the most it has in any
    workspace (each ticket's own workspace then decides what it may do there)."""
    platform = session.platform
    places: list[str | None] = [None, *sorted(own_workspaces(settings, session, platform))]
    return max(
        (rights_of(settings, session.author_in(platform, w), platform, w) for w in places),
        key=lambda r: r.rank,
    )
