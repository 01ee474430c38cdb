"""Sign in with Slack (OpenID Connect) and with Discord (OAuth2): the dashboard's side of the
flow, the same for both.

`GET /admin/signin/{slack,discord}` sends the browser to the platform's authorize page with
a fresh `state` (and, for Slack, a `nonce`), remembered in a short-lived signed cookie
scoped to the sign-in paths: a callback whose state is missing, forged, from another
browser, older than 10 minutes or already used is refused before any code is exchanged.
`GET /admin/signin/{slack,discord}/callback` has the platform's adapter (adapters/*/signin.py,
loaded only when asked, as bot/supervisor.py loads adapters) exchange the code and read who signed
in with their groups or roles, then decides rights with `session_rights`, exactly as for chat
commands. Staff and admins get a session cookie; anyone else the refusal page and no session.

Every route here is open (the guard in app.py lets them through): they are how a session
starts. Nothing secret is logged: not the code, the tokens or the client secret.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlencode

from aiohttp import web

from bot.config import Settings
from bot.dashboard.auth import Rights, new_session, same, session_rights
from bot.dashboard.context import DASHBOARD, PREFIX, TEMPLATES_KEY, refuse, render
from bot.dashboard.identity import (
    Identity,
    Problem,
    SignInError,
    discord_configured,
    slack_configured,
)
from bot.dashboard.pages import audit_change, behind_https, signed_in_response

log = logging.getLogger(__name__)

STATE_COOKIE = "supportbot_signin"
STATE_TTL = timedelta(minutes=10)
SIGNIN = f"{PREFIX}/signin"


class Provider(StrEnum):
    SLACK = "slack"
    DISCORD = "discord"


OPEN_PATHS = frozenset(
    path for p in Provider for path in (f"{SIGNIN}/{p.value}", f"{SIGNIN}/{p.value}/callback")
)

# what the person reads when a sign-in cannot finish (Korean in i18n.py's sign-in block)
MESSAGES = {
    Problem.MISCONFIGURED: "The sign-in settings were refused. An operator should check the app's "
    "client id, client secret and redirect URL (see the dashboard guide).",
    Problem.UNREACHABLE: "The sign-in service did not answer. Try again in a minute.",
    Problem.CODE_REFUSED: "The sign-in was refused: its code was already used or expired. Start again.",
    Problem.MISMATCH: "The answer from the sign-in service did not belong to this sign-in. Start again.",
    Problem.OTHER_WORKSPACE: "You signed in to a Slack workspace this bot does not serve. "
    "Sign in to the bot's workspace.",
}
BAD_STATE = (
    "This sign-in was not started in this browser, was already finished, or took longer than "
    "10 minutes. Start again."
)
CANCELLED = "The sign-in was cancelled. Start again when you are ready."


def available(settings: Settings) -> tuple[Provider, ...]:
    """The sign-in buttons to show: each platform whose OAuth credentials are set."""
    on = {Provider.SLACK: slack_configured(settings), Provider.DISCORD: discord_configured(settings)}
    return tuple(p for p in Provider if on[p])


def public_url(settings: Settings) -> str:
    return settings.dashboard.public_url or f"http://{settings.dashboard.host}:{settings.dashboard.port}"


def redirect_uri(settings: Settings, provider: Provider) -> str:
    """The callback address to register with the platform (see knowledge/dashboard.md)."""
    return f"{public_url(settings)}{SIGNIN}/{provider.value}/callback"


# -- the state cookie ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Started:
    provider: Provider
    state: str
    nonce: str
    expires: int  # unix seconds


def _mac(secret: str, body: str) -> str:
    # a domain of its own: a state cookie never verifies as a session cookie, nor the reverse
    return hmac.new(secret.encode(), b"signin-state\x00" + body.encode(), hashlib.sha256).hexdigest()


def _seal(secret: str, started: _Started) -> str:
    body = f"{started.provider.value}.{started.state}.{started.nonce}.{started.expires}"
    return f"{body}.{_mac(secret, body)}"


def _unseal(secret: str, value: str | None, provider: Provider, now: datetime) -> _Started | None:
    if not value or value.count(".") != 4:
        return None
    body, mac = value.rsplit(".", 1)
    if not same(mac, _mac(secret, body)):
        return None
    name, state, nonce, expires = body.split(".")
    if name != provider.value or not expires.isdigit() or int(expires) <= now.timestamp():
        return None
    return _Started(provider=provider, state=state, nonce=nonce, expires=int(expires))


class SpentStates:
    """States already used in this process: a replayed callback that still carries the
    cookie (another tab, a copied request) is refused here; across processes, the platform
    refuses the code itself a second time.

    Anyone can start a sign-in and call back at once, so this fills at the rate of anonymous
    requests: states leave it in the order they came (each is kept STATE_TTL, after which its
    cookie is refused anyway), a use costs O(1), and past LIMIT the oldest go first, which
    leaves their replay to the platform's own refusal of a used code."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self._until: OrderedDict[str, datetime] = OrderedDict()

    def __len__(self) -> int:
        return len(self._until)

    def use(self, state: str, now: datetime) -> bool:
        while self._until and (next(iter(self._until.values())) <= now or len(self._until) >= self.LIMIT):
            self._until.popitem(last=False)
        if state in self._until:
            return False
        self._until[state] = now + STATE_TTL
        return True


SPENT = web.AppKey("signin_spent", SpentStates)


# -- handlers -----------------------------------------------------------------------------


def _provider(request: web.Request) -> Provider:
    provider = Provider(request.match_info["provider"])
    if provider not in available(request.app[DASHBOARD].settings):
        raise web.HTTPNotFound()
    return provider


async def start(request: web.Request) -> web.StreamResponse:
    provider = _provider(request)
    dash = request.app[DASHBOARD]
    settings = dash.settings
    started = _Started(
        provider=provider,
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        expires=int((dash.clock.now() + STATE_TTL).timestamp()),
    )
    query = {
        "response_type": "code",
        "state": started.state,
        "redirect_uri": redirect_uri(settings, provider),
    }
    if provider == Provider.SLACK:
        from adapters.slack import signin as slack  # loaded only when asked, as bot/supervisor.py does

        query |= {"client_id": settings.secrets.slack_client_id or "", "scope": " ".join(slack.SCOPES)}
        query["nonce"] = started.nonce
        authorize = slack.authorize_url(settings)
    else:
        from adapters.discord import signin as discord_signin

        query |= {
            "client_id": settings.secrets.discord_client_id or "",
            "scope": " ".join(discord_signin.scopes(settings)),
        }
        authorize = discord_signin.authorize_url(settings)
    response = web.Response(status=302, headers={"Location": f"{authorize}?{urlencode(query)}"})
    response.set_cookie(
        STATE_COOKIE,
        _seal(dash.secret, started),
        max_age=int(STATE_TTL.total_seconds()),
        path=SIGNIN,
        httponly=True,
        samesite="Lax",  # sent on the platform's top-level redirect back, never on a subrequest
        secure=behind_https(request),
    )
    return response


async def callback(request: web.Request) -> web.StreamResponse:
    provider = _provider(request)
    dash = request.app[DASHBOARD]
    now = dash.clock.now()
    started = _unseal(dash.secret, request.cookies.get(STATE_COOKIE), provider, now)
    given = request.query.get("state", "")
    if started is None or not given or not same(given, started.state):
        log.info("refused a %s sign-in callback: missing, forged or expired state", provider.value)
        return _failed(request, BAD_STATE, 400)
    if not request.app[SPENT].use(started.state, now):
        log.info("refused a %s sign-in callback: its state was used already", provider.value)
        return _failed(request, BAD_STATE, 400)
    if request.query.get("error") or not request.query.get("code"):
        return _failed(request, CANCELLED, 400)  # the person clicked Cancel on the platform's page
    try:
        identity = await _identify(request, provider, request.query["code"], started.nonce)
    except SignInError as exc:
        log.warning("sign-in with %s failed: %s", provider.value, exc)
        status = 502 if exc.problem == Problem.UNREACHABLE else 400
        return _failed(request, MESSAGES[exc.problem], status)
    return await _sign_in(request, identity, now)


async def _identify(request: web.Request, provider: Provider, code: str, nonce: str) -> Identity:
    dash = request.app[DASHBOARD]
    redirect = redirect_uri(dash.settings, provider)
    if provider == Provider.SLACK:
        from adapters.slack import signin as slack

        return await slack.identify(dash.settings, dash.store, code=code, redirect_uri=redirect, nonce=nonce)
    from adapters.discord import signin as discord_signin

    return await discord_signin.identify(dash.settings, code=code, redirect_uri=redirect)


async def _sign_in(request: web.Request, identity: Identity, now: datetime) -> web.StreamResponse:
    dash = request.app[DASHBOARD]
    session = new_session(
        identity.platform,
        identity.user_id,
        now,
        roles=identity.roles,
        platform_admin=identity.platform_admin,
        team=identity.team,
        enterprise=identity.enterprise,
        name=identity.name,
    )
    rights = session_rights(dash.settings, session)
    how = f"with {identity.platform}" + (f" in {identity.team}" if identity.team else "")
    if rights == Rights.NONE:
        await audit_change(request, session, "signin refused", f"{how}: no staff or admin rights")
        response = refuse(request)
        response.del_cookie(STATE_COOKIE, path=SIGNIN)
        return response
    await audit_change(request, session, "signin", how)
    response = await signed_in_response(request, session)
    response.del_cookie(STATE_COOKIE, path=SIGNIN)
    return response


def _failed(request: web.Request, message: str, status: int) -> web.Response:
    response = render(request, "signin.html", status=status, token="", problem=message)
    response.del_cookie(STATE_COOKIE, path=SIGNIN)
    return response


def add_routes(app: web.Application) -> None:
    """The sign-in routes, and the buttons signin.html shows (only for configured platforms)."""
    app[SPENT] = SpentStates()
    app[TEMPLATES_KEY].globals["signin_with"] = [p.value for p in available(app[DASHBOARD].settings)]
    app.router.add_get(f"{SIGNIN}/{{provider:slack|discord}}", start)
    app.router.add_get(f"{SIGNIN}/{{provider:slack|discord}}/callback", callback)
