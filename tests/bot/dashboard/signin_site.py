"""The dashboard served on loopback with Sign in with Slack and Discord configured, and a
browser-like client: the fixtures (`serve`, `fake_slack`, `fake_discord`, made shared by
conftest.py) and helpers of test_oauth.py and test_roles.py."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.dashboard.app import build_app
from bot.dashboard.serve import dashboard_for
from tests.fakes.clock import FakeClock
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import FakeSlack

SLACK_ID, SLACK_SECRET = "1111.2222", "slack-client-secret-for-tests"
DISCORD_ID, DISCORD_SECRET = "998877665544", "discord-client-secret-for-tests"


@dataclass
class Site:
    """The dashboard serving on loopback, and a browser-like client (its own cookie jar)."""

    url: str
    rt: Runtime
    http: aiohttp.ClientSession

    async def get(self, url: str, *, follow: bool = True) -> tuple[int, str, str]:
        """Status, final URL and body of a GET (following redirects through the fakes)."""
        full = url if url.startswith("http") else self.url + url
        async with self.http.get(full, allow_redirects=follow) as response:
            where = response.headers.get("Location", "") if not follow else str(response.url)
            return response.status, where, await response.text()

    def cookie(self, name: str) -> str | None:
        found = [c.value for c in self.http.cookie_jar if c.key == name]
        return found[0] if found else None


Serve = Callable[..., Awaitable[Site]]


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.oauth.configure(SLACK_ID, SLACK_SECRET)
        yield fake


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        fake.oauth.configure(DISCORD_ID, DISCORD_SECRET)
        yield fake


def slack_env(fake: FakeSlack, secret: str = SLACK_SECRET) -> dict[str, str]:
    return {
        "SLACK_API_URL": fake.api_url,
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_CLIENT_ID": SLACK_ID,
        "SLACK_CLIENT_SECRET": secret,
    }


def discord_env(fake: FakeDiscord, secret: str = DISCORD_SECRET) -> dict[str, str]:
    return {
        "DISCORD_API_URL": fake.api_base,
        "DISCORD_CLIENT_ID": DISCORD_ID,
        "DISCORD_CLIENT_SECRET": secret,
    }


@pytest.fixture
async def serve(make_runtime: Callable[..., Runtime], clock: FakeClock) -> AsyncIterator[Serve]:
    """Start the dashboard with `toml` (its `public_url` is filled in) and `env`."""
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(
        toml: str = "", env: dict[str, str] | None = None, channel: ConsoleChannel | None = None
    ) -> Site:
        """`channel`: served inside the bot, as `supportbot run` does (tickets can be worked)."""
        # the port is bound first: the redirect URIs the settings give must name it
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        rt = make_runtime(f'[dashboard]\npublic_url = "{url}"\n{toml}', env)
        live = {"channels": {"slack": channel}, "escalations": rt.bot.escalations} if channel else {}
        runner = web.AppRunner(await build_app(dashboard_for(rt.settings, rt.store, clock, **live)))
        await runner.setup()
        await web.SockSite(runner, sock).start()
        runners.append(runner)
        # unsafe: keep cookies set by an IP address host, as a browser on 127.0.0.1 does
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(http)
        return Site(url=url, rt=rt, http=http)

    yield start
    for http in sessions:
        await http.close()
    for runner in runners:
        await runner.cleanup()
