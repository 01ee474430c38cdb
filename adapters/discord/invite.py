"""`supportbot discord invite`: the OAuth2 URL that adds the bot to a server.

This module owns the list of Discord permissions the adapter needs, each with the reason
it is needed (knowledge/discord-setup.md shows the same table, and a test keeps the two in
step), and finding the application id: the `--client-id` option, else the bot token (its
first segment is the base64 of the bot user's id, which is the application's id), else
`GET /oauth2/applications/@me` with the token.

It deliberately imports nothing from discord.py: printing a URL should not need the SDK
(importing the `adapters.discord` package does load discord.py, a required dependency).
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

from bot.config import Settings
from bot.errors import SupportBotError

AUTHORIZE_URL = "https://discord.com/oauth2/authorize"
DEFAULT_API_URL = "https://discord.com/api/v10"
SCOPES = ("bot", "applications.commands")


@dataclass(frozen=True, kw_only=True)
class Permission:
    name: str  # as the Discord client and developer portal spell it
    bit: int
    why: str


# Exactly what the adapter uses; nothing "just in case". In particular no Administrator,
# no Mention Everyone (only roles marked mentionable are pinged, see discord-setup.md),
# no Add Reactions (the adapter adds none) and no Manage Messages.
PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        name="View Channels",
        bit=1 << 10,
        why="see the channels it answers in; Discord only delivers messages from channels a bot can view",
    ),
    Permission(
        name="Send Messages",
        bit=1 << 11,
        why="answer in channels and direct messages, post escalations and ticket cards",
    ),
    Permission(
        name="Embed Links",
        bit=1 << 14,
        why="show an answer's sources as an embed with links",
    ),
    Permission(
        name="Read Message History",
        bit=1 << 16,
        why="read a forum post's first message and reply to a question when no thread can be made",
    ),
    Permission(
        name="Manage Threads",
        bit=1 << 34,
        why='apply the "answered", "needs staff" and "resolved" forum tags to posts other people created',
    ),
    Permission(
        name="Create Public Threads",
        bit=1 << 35,
        why="start a thread from a question so the answer and follow-ups stay together",
    ),
    Permission(
        name="Send Messages in Threads",
        bit=1 << 38,
        why="answer inside threads and forum posts",
    ),
)


class InviteError(SupportBotError):
    """The invite URL cannot be built (no application id known)."""


def permissions_value() -> int:
    value = 0
    for permission in PERMISSIONS:
        value |= permission.bit
    return value


def invite_url(settings: Settings, client_id: str | None = None) -> str:
    """The OAuth2 URL with the `bot` and `applications.commands` scopes and exactly the
    permissions in PERMISSIONS."""
    application_id = client_id.strip() if client_id else resolve_client_id(settings)
    if not application_id.isdigit():
        raise InviteError(
            f"{application_id!r} is not an application id; it is a number, shown as "
            "Application ID on the developer portal's General Information page"
        )
    query = urlencode(
        {"client_id": application_id, "scope": " ".join(SCOPES), "permissions": permissions_value()}
    )
    return f"{AUTHORIZE_URL}?{query}"


def resolve_client_id(settings: Settings) -> str:
    token = settings.secrets.discord_token
    if token is None:
        raise InviteError(
            "cannot tell the application id: pass --client-id <id> (the Application ID on the "
            "developer portal's General Information page) or set DISCORD_TOKEN"
        )
    secret = token.get_secret_value()
    from_token = application_id_from_token(secret)
    if from_token is not None:
        return from_token
    api = settings.secrets.discord_api_url or DEFAULT_API_URL
    return fetch_application_id(api, secret)


def application_id_from_token(token: str) -> str | None:
    """The bot user's id encoded in a bot token's first segment, or None."""
    first = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(first + "=" * (-len(first) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded if decoded.isdigit() else None


def fetch_application_id(api_url: str, token: str) -> str:
    """`GET /oauth2/applications/@me`: a blocking call, for the CLI only."""
    request = urllib.request.Request(
        api_url.rstrip("/") + "/oauth2/applications/@me",
        headers={"Authorization": f"Bot {token}", "User-Agent": "supportbot (invite)"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            data = json.load(response)
    except urllib.error.HTTPError as exc:
        reason = "the Discord token was rejected" if exc.code == 401 else f"HTTP {exc.code}"
        raise InviteError(
            f"cannot read the application id from Discord ({reason}); pass --client-id <id>"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise InviteError(
            f"cannot reach Discord to read the application id ({exc}); pass --client-id <id>"
        ) from None
    application_id = str(data.get("id", ""))
    if not application_id.isdigit():
        raise InviteError("Discord did not return an application id; pass --client-id <id>")
    return application_id
