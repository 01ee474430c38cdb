"""Sign in with Discord (OAuth2) for the dashboard: the authorize address, and turning the
code Discord sends back into an `Identity` with the rights facts the chat adapter reads.

What it owns: `authorize_url` (`/oauth2/authorize` on the host of DISCORD_API_URL, so a
test server moves it with the REST API), `scopes` (`identify guilds.members.read`, plus
`guilds` when `[discord] manage_server_is_admin` needs the person's permissions), and
`identify`: the code exchanged at `/oauth2/token` (form POST, the application's
DISCORD_CLIENT_ID / DISCORD_CLIENT_SECRET as HTTP Basic), then `/users/@me`, the member's
roles in the configured guild (`/users/@me/guilds/{guild}/member`), and whether they own
it or hold Administrator or Manage Server there, which is what the chat adapter reads from
an interaction (`platform_admin`).

The flow itself (state, cookies, session) is bot/dashboard/oauth.py's. Codes, tokens and
the client secret are never logged.
"""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from adapters.discord.endpoints import api_base
from bot.channel_types import Platform
from bot.config import Settings
from bot.dashboard.identity import Identity, Problem, SignInError, discord_guild

log = logging.getLogger(__name__)

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
_TIMEOUT = aiohttp.ClientTimeout(total=15)


def scopes(settings: Settings) -> tuple[str, ...]:
    # `guilds` lists the person's servers with their permissions there: asked only when
    # Manage Server makes admins, since the consent screen shows it to everyone
    extra = ("guilds",) if settings.discord.manage_server_is_admin else ()
    return ("identify", "guilds.members.read", *extra)


def authorize_url(settings: Settings) -> str:
    parts = urlsplit(api_base(settings.secrets.discord_api_url))
    return f"{parts.scheme}://{parts.netloc}/oauth2/authorize"


async def identify(settings: Settings, *, code: str, redirect_uri: str) -> Identity:
    """Who signed in, with their role ids in the guild and Manage Server, or SignInError."""
    s = settings.secrets
    assert s.discord_client_id is not None and s.discord_client_secret is not None
    api = api_base(s.discord_api_url)
    guild_id = discord_guild(settings)
    try:
        async with aiohttp.ClientSession(timeout=_TIMEOUT) as http:
            async with http.post(
                f"{api}/oauth2/token",
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
                headers={
                    "Authorization": _basic(s.discord_client_id, s.discord_client_secret.get_secret_value())
                },
            ) as response:
                tokens = await _body(response, "oauth2/token")
            bearer = {"Authorization": f"Bearer {tokens.get('access_token', '')}"}
            async with http.get(f"{api}/users/@me", headers=bearer) as response:
                me = await _body(response, "users/@me")
            async with http.get(f"{api}/users/@me/guilds/{guild_id}/member", headers=bearer) as response:
                # not a member of the guild: no roles there, the user id alone decides
                member = {} if response.status == 404 else await _body(response, "guild member")
            admin = False
            if settings.discord.manage_server_is_admin:
                async with http.get(f"{api}/users/@me/guilds", headers=bearer) as response:
                    admin = _manages(await _body(response, "users/@me/guilds"), guild_id)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("Sign in with Discord: Discord did not answer (%s)", type(exc).__name__)
        raise SignInError(Problem.UNREACHABLE, type(exc).__name__) from None
    user_id = str(me.get("id") or "")
    if not user_id:
        raise SignInError(Problem.MISMATCH, "users/@me named nobody")
    return Identity(
        platform=Platform.DISCORD,
        user_id=user_id,
        name=str(me.get("global_name") or me.get("username") or ""),
        team=guild_id,
        roles=frozenset(str(r) for r in member.get("roles") or ()),
        platform_admin=admin,
    )


async def reread(settings: Settings, *, user_id: str, guild_id: str) -> Identity:
    """The roles of `user_id` in `guild_id`, and whether they own it or hold Administrator or
    Manage Server there, read again while a session lasts (the person's own token is not
    kept): through the bot's token, the member and the guild's roles. SignInError when there
    is no bot token or Discord does not answer."""
    token = settings.secrets.discord_token
    if token is None:
        raise SignInError(Problem.MISCONFIGURED, "no DISCORD_TOKEN to read roles again with")
    api = api_base(settings.secrets.discord_api_url)
    bot = {"Authorization": f"Bot {token.get_secret_value()}"}
    try:
        async with aiohttp.ClientSession(timeout=_TIMEOUT) as http:
            async with http.get(f"{api}/guilds/{guild_id}/members/{user_id}", headers=bot) as response:
                # not a member of the guild (any more): no roles there
                member = {} if response.status == 404 else await _body(response, "guild member")
            guild: Any = {}
            if settings.discord.manage_server_is_admin:
                async with http.get(f"{api}/guilds/{guild_id}", headers=bot) as response:
                    guild = await _body(response, "guild")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SignInError(Problem.UNREACHABLE, type(exc).__name__) from None
    roles = frozenset(str(r) for r in member.get("roles") or ())
    return Identity(
        platform=Platform.DISCORD,
        user_id=user_id,
        team=guild_id,
        roles=roles,
        platform_admin=bool(member) and _holds_manage(guild, user_id, roles),
    )


def _holds_manage(guild: Any, user_id: str, roles: frozenset[str]) -> bool:
    """Owner, or Administrator or Manage Server through @everyone or a role, from `/guilds/{id}`."""
    if not isinstance(guild, dict) or not guild:
        return False
    if str(guild.get("owner_id")) == user_id:
        return True
    granted = 0
    for role in guild.get("roles") or ():
        if isinstance(role, dict) and str(role.get("id")) in roles | {str(guild.get("id"))}:
            permissions = str(role.get("permissions") or "0")
            granted |= int(permissions) if permissions.isdigit() else 0
    return bool(granted & (ADMINISTRATOR | MANAGE_GUILD))


def _basic(client_id: str, secret: str) -> str:
    """HTTP Basic credentials (RFC 6749 2.3.1), built by hand: aiohttp.BasicAuth is deprecated."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _manages(guilds: Any, guild_id: str) -> bool:
    """Owner, Administrator or Manage Server in `guild_id`, from `/users/@me/guilds`."""
    for entry in guilds if isinstance(guilds, list) else ():
        if isinstance(entry, dict) and str(entry.get("id")) == guild_id:
            try:
                permissions = int(entry.get("permissions") or 0)
            except ValueError:
                permissions = 0
            return bool(entry.get("owner")) or bool(permissions & (ADMINISTRATOR | MANAGE_GUILD))
    return False


async def _body(response: aiohttp.ClientResponse, what: str) -> Any:
    """A JSON answer, or SignInError naming Discord's error (never the request)."""
    try:
        body = await response.json(content_type=None)
    except ValueError:
        body = None
    if response.status < 400 and body is not None:
        return body if isinstance(body, dict | list) else {}
    error = str(body.get("error") or body.get("message") or "") if isinstance(body, dict) else ""
    log.warning("Sign in with Discord: %s answered %d %s", what, response.status, error)
    if response.status == 401 and what == "oauth2/token":  # invalid_client: our id or secret
        raise SignInError(Problem.MISCONFIGURED, f"{what}: {response.status} {error}")
    if response.status == 400 and error == "invalid_grant":
        raise SignInError(Problem.CODE_REFUSED, f"{what}: {error}")
    if response.status == 400 and what == "oauth2/token":  # e.g. the redirect URI is not registered
        raise SignInError(Problem.MISCONFIGURED, f"{what}: {response.status} {error}")
    raise SignInError(
        Problem.UNREACHABLE, f"{what}: {response.status} {error}", retry_after=_wait(response, body)
    )


def _wait(response: aiohttp.ClientResponse, body: Any) -> float | None:
    """The seconds a 429 asks to wait: the body's `retry_after` (fractions), else Retry-After."""
    if response.status != 429:
        return None
    given = body.get("retry_after") if isinstance(body, dict) else None
    try:
        return float(given if given is not None else response.headers.get("Retry-After", ""))
    except (TypeError, ValueError):
        return None
