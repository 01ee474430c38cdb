"""Sign in with Slack (OpenID Connect) on the fake Slack (tests/fakes/slack_server.py), as Slack
runs it.

What it owns: the authorize page (`GET /openid/connect/authorize?response_type=code&scope=
openid profile&client_id&state&nonce&redirect_uri[&team]`, which stands for the person
clicking "Allow": it issues a one-time code for `signer` and redirects to
`redirect_uri?code=...&state=...` like Slack's 302), `openid.connect.token` (client_id /
client_secret as HTTP Basic or form fields, code, redirect_uri; answers with a user token
and an id_token whose claims carry the nonce), and `openid.connect.userInfo` (that user
token as Bearer) in Slack's response shapes. The app's credentials are the install flow's
(`FakeSlack.oauth.configure`): one Slack app has one client id and secret. Codes are
single-use and tied to their redirect_uri (errors: invalid_client_id, bad_client_secret,
invalid_code, bad_redirect_uri).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.slack_server import FakeSlack, SlackError, _Ctx

ISSUER = "https://slack.com"


@dataclass
class _Grant:
    team_id: str
    user_id: str
    redirect_uri: str
    nonce: str | None


@dataclass
class FakeOpenID:
    slack: FakeSlack
    signer: str = "W111"  # who clicks "Allow" on the authorize page
    codes: dict[str, _Grant] = field(default_factory=dict)
    exchanged: list[str] = field(default_factory=list)  # user ids, in the order they signed in

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        oauth = self.slack.oauth
        if not oauth.client_id or query.get("client_id") != oauth.client_id:
            return web.Response(status=400, text="invalid_client_id")
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            return web.Response(status=400, text="invalid_scope")
        redirect = query.get("redirect_uri")
        if not redirect or (oauth.redirect_uri and redirect != oauth.redirect_uri):
            return web.Response(status=400, text="bad_redirect_uri")
        team = query.get("team") or self.slack.team_id
        if team not in self.slack.workspaces:
            return web.Response(status=400, text="team_not_found")
        code = f"{team}.{secrets.token_hex(8)}"
        self.codes[code] = _Grant(team, self.signer, redirect, query.get("nonce"))
        raise web.HTTPFound(f"{redirect}?{urlencode({'code': code, 'state': query.get('state', '')})}")

    async def token(self, ctx: _Ctx) -> dict[str, Any]:
        from tests.fakes.slack_server import SlackError

        client_id, client_secret = ctx.params.get("client_id"), ctx.params.get("client_secret")
        auth = ctx.call.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        oauth = self.slack.oauth
        if not client_id or client_id != oauth.client_id:
            raise SlackError("invalid_client_id")
        if client_secret != oauth.client_secret:
            raise SlackError("bad_client_secret")
        grant = self.codes.pop(str(ctx.params.get("code")), None)  # single use
        if grant is None:
            raise _error("invalid_code")
        if ctx.params.get("redirect_uri") != grant.redirect_uri:
            raise _error("bad_redirect_uri")
        access = f"xoxp-{grant.team_id}-" + secrets.token_hex(8)
        self.slack.add_token(
            access, "user", ("openid", "profile"), user_id=grant.user_id, team_id=grant.team_id
        )
        self.exchanged.append(grant.user_id)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": grant.user_id,
            "aud": client_id,
            "exp": now + 3600,
            "iat": now,
            "auth_time": now,
            "https://slack.com/user_id": grant.user_id,
            "https://slack.com/team_id": grant.team_id,
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        return {
            "ok": True,
            "access_token": access,
            "token_type": "Bearer",
            "id_token": _jwt(claims),
        }

    async def user_info(self, ctx: _Ctx) -> dict[str, Any]:
        user_id = ctx.token.user_id or ""
        team_id = ctx.token.team_id or self.slack.team_id
        user = self.slack.users.get(user_id, {})
        profile = user.get("profile") or {}
        workspace = self.slack.workspaces.get(team_id, {})
        return {
            "ok": True,
            "sub": user_id,
            "https://slack.com/user_id": user_id,
            "https://slack.com/team_id": team_id,
            "name": user.get("real_name") or user.get("name") or "",
            "picture": profile.get("image_48", ""),
            "given_name": "",
            "family_name": "",
            "locale": "en-US",
            "https://slack.com/team_name": workspace.get("name", ""),
            "https://slack.com/team_domain": self.slack.team_domain,
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(claims: dict[str, Any]) -> str:
    """A JWT in Slack's shape (RS256 header); the signature is random bytes: the dashboard
    relies on TLS to Slack, as OpenID Connect allows for the code flow, not on the signature."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "fake-key"}
    return ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(secrets.token_bytes(64))]
    )


def _error(code: str) -> SlackError:
    from tests.fakes.slack_server import SlackError

    return SlackError(code)
