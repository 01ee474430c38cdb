"""The dashboard these tests talk to: served over loopback as `supportbot run` serves it (the
core's services and the adapter's channel), or standalone as `supportbot dashboard` does."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.dashboard.app import build_app
from bot.dashboard.serve import dashboard_for
from bot.types import Author
from tests.fakes.clock import FakeClock

CONFIG = """
[slack]
staff_users = ["U-SAM", "U-OLU"]
admin_users = ["U-ADMIN"]
"""
STAFF = Author(id="U-SAM", name="Sam")

Client = TestClient  # type: ignore[type-arg]


async def start(
    rt: Runtime,
    clock: FakeClock,
    channel: ConsoleChannel | None,
    *,
    live: bool = True,
    warm: bool = False,
    platform: str = "slack",
) -> Client:
    """The dashboard as `supportbot run` serves it (the core's services and the adapter's
    channel, `platform`'s), or standalone as `supportbot dashboard` does (`live=False`); `warm`:
    with the overview's figures computed in the background, as served dashboards have them."""
    dashboard = dashboard_for(
        rt.settings,
        rt.store,
        clock,
        {platform: channel} if channel is not None and live else None,
        escalations=rt.bot.escalations,
        host=rt.bot if live else None,
    )
    client = TestClient(TestServer(await build_app(dashboard, warm=warm)))
    await client.start_server()
    return client


async def raw_get(host: str, port: int, target: bytes, cookie: bytes) -> int:
    """The status of a GET whose Cookie header carries `cookie` as bytes, not UTF-8 perhaps
    (what no HTTP client library sends, and anyone can)."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nCookie: " + cookie + b"\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return int(answer.split()[1])
