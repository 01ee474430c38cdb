"""Sign in with Slack (OpenID Connect) for the dashboard: the authorize address, and turning
the code Slack sends back into an `Identity` with the rights facts the chat adapter reads.

What it owns: `authorize_url` (Slack's `openid/connect/authorize`, beside the Web API's
URL so a SLACK_API_URL pointing at a test server moves both, as the install flow does),
and `identify`: `openid.connect.token` (the app's SLACK_CLIENT_ID / SLACK_CLIENT_SECRET,
HTTP Basic), the id_token's nonce and audience, `openid.connect.userInfo`, and then, with a
bot token for the person's workspace, the same lookups as for a chat message
(`SlackDirectory`: user groups, workspace admin), so rights come out as for chat commands.

The flow itself (state, cookies, session) is bot/dashboard/oauth.py's. Codes, tokens and
the client secret are never logged: slack_sdk's own client logs bodies at DEBUG, so its
logger here is capped at WARNING whatever the level.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import api_url, slack_error
from adapters.slack.directory import LookupFailed, SlackDirectory, SlackIdentity, retry_after, unreachable
from adapters.slack.installations import StoreInstallations
from bot.channel_types import Platform
from bot.config import Settings
from bot.dashboard.identity import Identity, Problem, SignInError
from bot.store import AsyncStore

log = logging.getLogger(__name__)
_SDK_LOG = logging.getLogger("adapters.slack.signin.sdk")
_SDK_LOG.setLevel(logging.WARNING)  # slack_sdk writes request and response bodies at DEBUG

SCOPES = ("openid", "profile")
ISSUER = "https://slack.com"
USER_ID = "https://slack.com/user_id"
TEAM_ID = "https://slack.com/team_id"
ENTERPRISE_ID = "https://slack.com/enterprise_id"  # the workspace's organisation (Enterprise Grid)
# our credentials were refused, or the redirect URL is not registered: the operator's to fix
_MISCONFIGURED = frozenset({"invalid_client_id", "bad_client_secret", "invalid_client", "bad_redirect_uri"})
_TIMEOUT = 15


def authorize_url(settings: Settings) -> str:
    api = api_url(settings)
    base = api[: -len("api/")] if api.endswith("/api/") else api
    return f"{base}openid/connect/authorize"


def _client(settings: Settings, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=api_url(settings), timeout=_TIMEOUT, logger=_SDK_LOG)


async def identify(
    settings: Settings, store: AsyncStore, *, code: str, redirect_uri: str, nonce: str
) -> Identity:
    """Who signed in, with the user groups and admin flag policy reads, or SignInError."""
    s = settings.secrets
    assert s.slack_client_id is not None and s.slack_client_secret is not None
    tokens = await _call(
        _client(settings).openid_connect_token(
            client_id=s.slack_client_id,
            client_secret=s.slack_client_secret.get_secret_value(),
            code=code,
            redirect_uri=redirect_uri,
            grant_type="authorization_code",
        ),
        "openid.connect.token",
    )
    claims = _id_token_claims(str(tokens.get("id_token") or ""))
    # the id_token came straight from Slack over TLS for our code and secret (OpenID Connect
    # Core 3.1.3.7 lets TLS stand in for its signature here); its nonce binds it to this sign-in
    if (claims.get("nonce"), claims.get("aud"), claims.get("iss")) != (nonce, s.slack_client_id, ISSUER):
        raise SignInError(Problem.MISMATCH, "the id_token's nonce, audience or issuer is not this sign-in's")
    access = str(tokens.get("access_token") or "")
    info = await _call(
        _client(settings, access).openid_connect_userInfo(), "openid.connect.userInfo", Problem.MISMATCH
    )
    user_id, team = str(info.get(USER_ID) or ""), str(info.get(TEAM_ID) or "")
    if not user_id or info.get("sub") != claims.get("sub"):
        raise SignInError(Problem.MISMATCH, "userInfo is not the id_token's user")
    return await reread(
        settings,
        store,
        user_id=user_id,
        team=team,
        enterprise=str(info.get(ENTERPRISE_ID) or ""),
        name=str(info.get("name") or ""),
    )


async def reread(
    settings: Settings,
    store: AsyncStore,
    *,
    user_id: str,
    team: str,
    enterprise: str = "",
    name: str = "",
    strict: bool = False,
) -> Identity:
    """The user groups and admin flag of `user_id` in `team`, looked up as for a chat message
    (`SlackDirectory`): at sign-in, and again while a session lasts, so leaving a group takes
    the dashboard away as it takes the chat commands. At sign-in a lookup that fails counts as
    none, as in the chat; `strict` (the re-read) raises SignInError instead, so the session
    keeps what it knew rather than lose its rights to one failed call."""
    directory = await _directory(settings, store, team, enterprise or None, strict=strict)
    if directory is None:
        # no bot token to look through: the user id alone decides, as for a one-time link
        return Identity(platform=Platform.SLACK, user_id=user_id, name=name, team=team)
    try:
        author = await directory.author(user_id, name_hint=name)
    except LookupFailed as exc:
        raise SignInError(Problem.UNREACHABLE, str(exc), retry_after=exc.retry_after) from None
    return Identity(
        platform=Platform.SLACK,
        user_id=user_id,
        name=author.name,
        team=team,
        enterprise=enterprise,
        roles=author.roles,
        platform_admin=author.platform_admin,
    )


async def _directory(
    settings: Settings, store: AsyncStore, team: str, enterprise: str | None = None, *, strict: bool = False
) -> SlackDirectory | None:
    """The chat adapter's lookups in `team`, through the bot token that serves it: the one
    SLACK_BOT_TOKEN (whose workspace must be `team`), or with several workspaces `team`'s
    install, or the org-wide one of `enterprise` (its organisation, as Slack's userInfo
    names it). None when the bot has no token at all."""
    bot_token = settings.secrets.slack_bot_token
    if bot_token is not None:
        client = _client(settings, bot_token.get_secret_value())
        auth = await _call(client.auth_test(), "auth.test", Problem.MISCONFIGURED)  # SLACK_BOT_TOKEN
        identity = SlackIdentity.from_auth_test(auth)
        if identity.team_id != team:
            raise SignInError(
                Problem.OTHER_WORKSPACE, f"signed in to {team}, the bot serves {identity.team_id}"
            )
        return SlackDirectory(client, settings, identity, fail_closed=not strict)
    if not settings.slack_oauth:
        return None
    # the organisation is userInfo's claim (Slack's word): without it, only the workspace's
    # own install lets its people in, never some organisation's that may not include it
    bot = await StoreInstallations(store).async_find_bot(enterprise_id=enterprise, team_id=team)
    if bot is None:
        raise SignInError(Problem.OTHER_WORKSPACE, f"workspace {team} has not installed the app")
    identity = SlackIdentity(
        team_id=bot.team_id or team,
        team=bot.team_name or "",
        bot_user_id=bot.bot_user_id,
        bot_id=bot.bot_id,
        url="",
        enterprise_id=bot.enterprise_id or "",
    )
    return SlackDirectory(_client(settings, bot.bot_token), settings, identity, fail_closed=not strict)


async def _call(call: Any, method: str, refused: Problem = Problem.CODE_REFUSED) -> dict[str, Any]:
    """A Web API call's body, or SignInError naming Slack's error code (never the request):
    `refused` is what any other error of the call means for the sign-in."""
    try:
        response = await call
    except SlackApiError as exc:
        code = slack_error(exc)
        log.warning("Sign in with Slack: %s failed (%s)", method, code)
        if code in _MISCONFIGURED:
            raise SignInError(Problem.MISCONFIGURED, f"{method}: {code}") from None
        if unreachable(exc):  # down, or rate limited
            raise SignInError(
                Problem.UNREACHABLE, f"{method}: {code}", retry_after=retry_after(exc)
            ) from None
        raise SignInError(refused, f"{method}: {code}") from None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("Sign in with Slack: %s did not answer (%s)", method, type(exc).__name__)
        raise SignInError(Problem.UNREACHABLE, f"{method}: {type(exc).__name__}") from None
    data = response.data
    return data if isinstance(data, dict) else {}


def _id_token_claims(id_token: str) -> dict[str, Any]:
    """The claims of a JWT's payload (its middle part), or {} when it is not one."""
    parts = id_token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}
