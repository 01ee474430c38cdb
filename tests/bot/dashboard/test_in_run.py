"""The dashboard beside `supportbot run` (`[dashboard] enabled`): served on its own port, acting
through whichever adapters are connected at the moment of each press."""

from __future__ import annotations

import asyncio
import io
import re
import socket
from collections.abc import Callable

import aiohttp

from adapters.console import ConsoleChannel
from bot import supervisor
from bot.app import Runtime
from bot.dashboard.serve import issue_link
from bot.types import TicketStatus
from tests.bot.dashboard.test_dashboard import open_ticket
from tests.bot.test_app import FakeAdapter
from tests.fakes.clock import FakeClock


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def served(base: str) -> None:
    """Until the dashboard accepts connections (it binds in a background task), at most 10 s."""
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"{base}/admin/", allow_redirects=False) as response:
                    assert response.status == 302  # no session: to the sign-in page
                    return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    raise AssertionError("the dashboard never started")


async def test_run_serves_the_dashboard_and_acts_through_the_connected_adapter(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    port = free_port()
    rt = make_runtime(
        f'[slack]\nstaff_users = ["U-SAM"]\n[dashboard]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n'
    )
    channel = ConsoleChannel(io.StringIO())
    ticket_id = await open_ticket(rt, channel)
    adapter = FakeAdapter(None)  # not connected yet
    serve = supervisor._place_dashboard(rt, [adapter])  # type: ignore[list-item]
    assert serve is not None  # no adapter serves HTTP: the dashboard opens its own port
    task = asyncio.create_task(serve)
    base = f"http://127.0.0.1:{port}"
    try:
        await served(base)
        link = issue_link(rt.state, platform="slack", user_id="U-SAM", base_url=base, clock=clock)
        token = link.split("token=", 1)[1]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{base}/admin/signin", data={"token": token}, allow_redirects=False) as r:
                assert r.status == 302
            async with http.get(f"{base}/admin/tickets/{ticket_id}") as page:
                found = re.search(r'name="csrf" value="([^"]+)"', await page.text())
            assert found
            csrf = found.group(1)
            async with http.post(f"{base}/admin/tickets/{ticket_id}/claim", data={"csrf": csrf}) as r:
                assert r.status == 409  # no adapter connected: nothing changes
            ticket = rt.state.ticket(ticket_id)
            assert ticket is not None and ticket.status == TicketStatus.OPEN
            adapter._channel = channel  # the adapter connects while the dashboard runs
            async with http.post(f"{base}/admin/tickets/{ticket_id}/claim", data={"csrf": csrf}) as r:
                assert r.status == 200
        ticket = rt.state.ticket(ticket_id)
        assert ticket is not None and ticket.status == TicketStatus.CLAIMED and ticket.assignee_id == "U-SAM"
        assert any(
            "U-SAM is looking at this now" in reply.text for _, reply in channel.edits + channel.posted
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
