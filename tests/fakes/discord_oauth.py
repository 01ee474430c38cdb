"""Discord's OAuth2 for people (not bots) on the fake Discord (tests/fakes/discord_server.py),
as Discord runs it for "Sign in with Discord".

What it owns: the app's registered credentials (`configure`), the authorize page
(`GET /oauth2/authorize?response_type=code&client_id&scope&state&redirect_uri`, which stands
for `signer` clicking "Authorize": it issues a one-time code and redirects to
`redirect_uri?code=...&state=...`), the token exchange (`POST /api/v10/oauth2/token`, form
body, client credentials as HTTP Basic or form fields), and the routes a Bearer token
reaches: `GET /users/@me` (scope identify), `GET /users/@me/guilds` (scope guilds, with the
person's `owner` and `permissions` in each), `GET /users/@me/guilds/{guild}/member` (scope
guilds.members.read; 404 Unknown Guild when not a member), read from the fake's world.
Errors in Discord's shapes: 401 `invalid_client`, 400 `invalid_grant` (unknown, used or
expired code; another redirect_uri), 400 `unsupported_grant_type`, 401 for a bad Bearer
token, 403 Missing Access without the scope.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscord

TOKEN_PATH = "/oauth2/token"


@dataclass
class _Grant:
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]


@dataclass
class FakeDiscordOAuth:
    discord: FakeDiscord
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uris: tuple[str, ...] = ()  # registered; empty accepts any
    signer: str | None = None  # who clicks "Authorize"; None: the fake's staff user (bob)
    codes: dict[str, _Grant] = field(default_factory=dict)
    tokens: dict[str, _Grant] = field(default_factory=dict)
    exchanges: int = 0  # token requests answered with a token

    def configure(self, client_id: str, client_secret: str, redirect_uris: tuple[str, ...] = ()) -> None:
        self.client_id, self.client_secret, self.redirect_uris = client_id, client_secret, redirect_uris

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        if not self.client_id or query.get("client_id") != self.client_id:
            return web.Response(status=400, text="Unknown application")
        redirect = query.get("redirect_uri", "")
        if not redirect or (self.redirect_uris and redirect not in self.redirect_uris):
            return web.Response(status=400, text="Invalid OAuth2 redirect_uri")
        scopes = tuple(query.get("scope", "").split())
        if query.get("response_type") != "code" or not scopes:
            return web.Response(status=400, text="Invalid response_type or scope")
        code = secrets.token_urlsafe(20)
        self.codes[code] = _Grant(self.signer or self.discord.staff_user_id, redirect, scopes)
        raise web.HTTPFound(f"{redirect}?{urlencode({'code': code, 'state': query.get('state', '')})}")

    async def intercept(self, request: web.Request, path: str) -> web.StreamResponse | None:
        """The fake's REST handler asks first: the token exchange and Bearer-token routes are
        answered here; anything else (Bot tokens) goes on to the REST fake."""
        if path == TOKEN_PATH and request.method == "POST":
            return await self._token(request)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        grant = self.tokens.get(auth[len("Bearer ") :])
        if grant is None:
            return _json(401, {"message": "401: Unauthorized", "code": 0})
        return self._bearer(request.method, path, grant)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        client_id, client_secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if not self.client_id or client_id != self.client_id or client_secret != self.client_secret:
            return _json(401, {"error": "invalid_client"})
        if form.get("grant_type") != "authorization_code":
            return _json(400, {"error": "unsupported_grant_type"})
        grant = self.codes.pop(str(form.get("code", "")), None)  # single use
        if grant is None:
            return _json(400, {"error": "invalid_grant", "error_description": 'Invalid "code" in request.'})
        if form.get("redirect_uri") != grant.redirect_uri:
            return _json(
                400, {"error": "invalid_grant", "error_description": 'Invalid "redirect_uri" in request.'}
            )
        access = secrets.token_urlsafe(24)
        self.tokens[access] = grant
        self.exchanges += 1
        return _json(
            200,
            {
                "token_type": "Bearer",
                "access_token": access,
                "expires_in": 604800,
                "refresh_token": secrets.token_urlsafe(24),
                "scope": " ".join(grant.scopes),
            },
        )

    def _bearer(self, method: str, path: str, grant: _Grant) -> web.Response:
        fake, user_id = self.discord, grant.user_id
        parts = path.strip("/").split("/")
        if method != "GET" or parts[:2] != ["users", "@me"]:
            return _json(401, {"message": "401: Unauthorized", "code": 0})
        if len(parts) == 2:
            return self._scoped(grant, "identify", lambda: fake.user_payload(user_id))
        if len(parts) == 3 and parts[2] == "guilds":
            return self._scoped(grant, "guilds", lambda: self._guilds(user_id))
        if len(parts) == 5 and parts[2] == "guilds" and parts[4] == "member":
            guild_id = parts[3]
            if user_id not in fake.members.get(guild_id, {}):
                return _json(404, {"message": "Unknown Guild", "code": 10004})
            return self._scoped(grant, "guilds.members.read", lambda: fake.member_payload(guild_id, user_id))
        return _json(404, {"message": "404: Not Found", "code": 0})

    def _guilds(self, user_id: str) -> list[dict[str, Any]]:
        fake = self.discord
        return [
            {
                "id": guild_id,
                "name": guild["name"],
                "icon": None,
                "banner": None,
                "owner": guild.get("owner_id") == user_id,
                "permissions": str(fake.permissions_of(guild_id, user_id)),
                "features": list(guild.get("features") or []),
            }
            for guild_id, guild in fake.guilds.items()
            if user_id in fake.members.get(guild_id, {})
        ]

    @staticmethod
    def _scoped(grant: _Grant, scope: str, body: Any) -> web.Response:
        if scope not in grant.scopes:
            return _json(403, {"message": "Missing Access", "code": 50001})
        return _json(200, body())


def _json(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)
