"""Where discord.py connects: the REST API and the gateway, from `DISCORD_API_URL` and
`DISCORD_GATEWAY_URL` (a proxy, a test server), or Discord itself when neither is set."""

from __future__ import annotations

import re
from collections.abc import Callable

import discord
import discord.gateway
import discord.http
import yarl

DEFAULT_API_BASE = "https://discord.com/api/v10"
API_VERSION_SUFFIX = "/api/v10"


def api_base(url: str | None) -> str:
    """`DISCORD_API_URL` as discord.py needs it: ending in the API version (added when the
    URL is a bare host, as REST proxies are usually given)."""
    if not url:
        return DEFAULT_API_BASE
    url = url.rstrip("/")
    if re.search(r"/v\d+$", url):
        return url
    return url + ("/v10" if url.endswith("/api") else API_VERSION_SUFFIX)


def gateway_address(url: str) -> yarl.URL:
    """A gateway URL without a query: discord.py appends `?v=10&encoding=json&compress=...`."""
    return yarl.URL(url).with_query(None)


def point_discord_py(api_url: str | None, gateway_url: str | None) -> Callable[[], None]:
    """Point discord.py at `api_url` / `gateway_url` (either may be None: unchanged) and
    return a function that puts back what was there before.

    discord.py 2.x has no per-client setting for either endpoint; both are class
    attributes, hence process-wide:

    * `discord.http.Route.BASE` (default https://discord.com/api/v10) builds every REST
      URL, interaction callbacks and follow-up webhooks included;
    * `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` (a `yarl.URL`) is where a plain
      `Client` connects on IDENTIFY and after a non-resumable session; a plain Client never
      asks `GET /gateway/bot` (only AutoShardedClient does), so the adapter asks the API
      itself when only `DISCORD_API_URL` is set (`DiscordAdapter._discover_gateway`).
    """
    route, websocket = discord.http.Route, discord.gateway.DiscordWebSocket
    previous = (route.BASE, websocket.DEFAULT_GATEWAY)
    if api_url:
        route.BASE = api_base(api_url)
    if gateway_url:
        websocket.DEFAULT_GATEWAY = gateway_address(gateway_url)

    def restore() -> None:
        route.BASE, websocket.DEFAULT_GATEWAY = previous

    return restore
