"""The OAuth v2 install flow of the fake Slack (tests/fakes/slack_server.py), as Slack runs it.

What it owns: the app's registered credentials (`configure`), the authorize page
(`GET /oauth/v2/authorize?client_id&scope&state&redirect_uri[&team]`, which stands for the
person clicking "Allow": it issues a one-time code for the chosen workspace and redirects to
`redirect_uri?code=...&state=...` like Slack's 302), and `oauth.v2.access` (form POST with
client_id / client_secret as fields or HTTP Basic, code, redirect_uri), answering with the
workspace's bot token in Slack's response shape. Codes are single-use and tied to the
redirect_uri they were issued with, as on Slack (errors: invalid_client_id, bad_client_secret,
invalid_code, bad_redirect_uri).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.slack_server import FakeSlack, SlackError, _Ctx


@dataclass
class _Grant:
    team_id: str
    redirect_uri: str | None
    scopes: list[str]
    user_id: str


@dataclass
class FakeOAuth:
    slack: FakeSlack
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str | None = None  # the one registered; a request may name it or leave it out
    installer: str = "W111"
    codes: dict[str, _Grant] = field(default_factory=dict)
    installs: list[str] = field(default_factory=list)  # team ids, in the order they installed

    def configure(self, client_id: str, client_secret: str, redirect_uri: str | None = None) -> None:
        self.client_id, self.client_secret, self.redirect_uri = client_id, client_secret, redirect_uri

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        """The person allows the install in `team` (Slack's own query parameter that picks the
        workspace; the fake's main workspace without it)."""
        query = request.query
        if not self.client_id or query.get("client_id") != self.client_id:
            return web.Response(status=400, text="invalid_client_id")
        redirect = query.get("redirect_uri") or self.redirect_uri
        if redirect is None or (self.redirect_uri and redirect != self.redirect_uri):
            return web.Response(status=400, text="bad_redirect_uri")
        team = query.get("team") or self.slack.team_id
        if team not in self.slack.workspaces:
            return web.Response(status=400, text="team_not_found")
        code = f"{team}.{secrets.token_hex(8)}"
        scopes = [s for s in query.get("scope", "").split(",") if s]
        self.codes[code] = _Grant(team, query.get("redirect_uri"), scopes, self.installer)
        params = {"code": code, "state": query.get("state", "")}
        raise web.HTTPFound(f"{redirect}?{urlencode(params)}")

    async def access(self, ctx: _Ctx) -> dict[str, Any]:
        from tests.fakes.slack_server import SlackError

        client_id, client_secret = ctx.params.get("client_id"), ctx.params.get("client_secret")
        auth = ctx.call.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if not client_id or client_id != self.client_id:
            raise SlackError("invalid_client_id")
        if client_secret != self.client_secret:
            raise SlackError("bad_client_secret")
        grant = self.codes.pop(str(ctx.params.get("code")), None)  # single use
        if grant is None:
            raise _error("invalid_code")
        if (ctx.params.get("redirect_uri") or None) != grant.redirect_uri:
            raise _error("bad_redirect_uri")
        workspace = self.slack.workspaces[grant.team_id]
        token = workspace["bot_token"]
        self.slack.set_scopes(token, grant.scopes or self.slack.token_scopes(token))
        self.installs.append(grant.team_id)
        return {
            "ok": True,
            "access_token": token,
            "token_type": "bot",
            "scope": ",".join(self.slack.token_scopes(token)),
            "bot_user_id": workspace["bot_user_id"],
            "app_id": self.slack.app_id,
            "team": {"id": grant.team_id, "name": workspace["name"]},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": grant.user_id},
        }


def _error(code: str) -> SlackError:
    from tests.fakes.slack_server import SlackError

    return SlackError(code)
