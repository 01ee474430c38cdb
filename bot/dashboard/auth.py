"""Who is looking at the dashboard: one-time sign-in links, sessions and their signed
cookies, CSRF tokens, and the rights a user has.

Nothing is stored in the browser but a signed cookie naming the session by its random id;
the session itself (platform and user, expiry, the workspace a Slack or Discord sign-in went
through and the group or role ids it read there) is a row of the state, kept by a hash of
its id (bot/store/dashboard.py), so signing out ends it for every copy of the cookie. Rights are
decided again on every request from the settings by `bot.policy`, exactly as for chat
commands, so a person removed from the staff loses the dashboard on their next click rather
than when the cookie expires. Rights are per workspace, as in the chat
(`[slack.workspaces.T...]` may name other staff), and the groups, roles and admin flag read
at sign-in count only in the workspace they were read in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum

from bot import policy
from bot.config import Settings
from bot.store.dashboard import SessionRecord
from bot.store.dashboard import hash_token as hash_token  # links and sessions are kept by it
from bot.types import Author

LINK_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=12)
# how long the groups, roles and admin flag a sign-in read stand before they are read again
# (bot/dashboard/roles.py): as long as the chat adapters cache group membership
ROLES_TTL = timedelta(minutes=5)
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
class Session(SessionRecord):
    """A signed-in person: `sid` is random per sign-in (what the cookie names and CSRF tokens
    are bound to). What Sign in with Slack / Discord read (bot/dashboard/oauth.py), the group
    or role ids and the platform's admin flag in `team`, is kept so policy can decide rights
    from them on every request; a one-time link knows neither, and has no `team`."""

    @classmethod
    def of(cls, record: SessionRecord) -> Session:
        return cls(**{f.name: getattr(record, f.name) for f in fields(record)})

    @property
    def author(self) -> Author:
        # named as the platform names them (what the chat's thread says of a staff member);
        # a one-time link knows no name, and the thread then shows the id
        return Author(id=self.user_id, name=self.name, roles=self.roles, platform_admin=self.platform_admin)

    def author_in(self, platform: str, workspace: str | None) -> Author:
        """The person as the chat would see them in `workspace`: with the groups, roles and
        admin flag read at sign-in only in the workspace they were read in."""
        if platform == self.platform and self.team and workspace == self.team:
            return self.author
        return Author(id=self.user_id, name=self.name)


def new_link_token() -> tuple[str, str]:
    """A fresh token for a sign-in link and the hash the store keeps of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def new_session(
    platform: str,
    user_id: str,
    now: datetime,
    *,
    roles: frozenset[str] = frozenset(),
    platform_admin: bool = False,
    team: str = "",
    enterprise: str = "",
    name: str = "",
) -> Session:
    return Session(
        sid=secrets.token_urlsafe(16),
        platform=platform,
        user_id=user_id,
        name=name,
        expires_at=now + SESSION_TTL,
        read_at=now,
        roles=roles,
        platform_admin=platform_admin,
        team=team,
        enterprise=enterprise,
    )


def _sign(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def same(given: str, expected: str) -> bool:
    """A constant-time comparison of what a request carried with what we computed: as bytes,
    since `hmac.compare_digest` raises on a str that is not ASCII (a hostile cookie or field).
    A header's bytes that are not UTF-8 reach us as lone surrogates (aiohttp decodes with
    surrogateescape), which a plain encode refuses: they are kept as bytes, never matching."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def sign_session(secret: str, session: Session) -> str:
    """The cookie value: the session's id, a dot, its HMAC-SHA256 (a cookie we did not make
    is refused without a look in the store)."""
    return f"{session.sid}.{_sign(secret, 'session' + chr(0) + session.sid)}"


def session_id(secret: str, value: str | None) -> str | None:
    """The session id a cookie names, or None when it is missing or forged."""
    if not value or "." not in value:
        return None
    sid, signature = value.rsplit(".", 1)
    return sid if same(signature, _sign(secret, "session" + chr(0) + sid)) else None


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
