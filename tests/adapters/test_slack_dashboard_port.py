"""The dashboard on the Slack adapter's HTTP port (issue 15: "It lives on the HTTP port of
`supportbot run` under /admin"): one address serves Slack's events and the dashboard, each
behind its own door (signatures for Slack, a session for the dashboard)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp

from adapters.slack import SlackAdapter, build_adapter
from bot.app import Runtime
from bot.supervisor import _place_dashboard
from tests.adapters.test_slack import MEMBER, TOML, fake, posts, section_text, slack_env  # noqa: F401
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.slack_server import FakeSlack, post_signed

DASHBOARD = TOML + "\n[dashboard]\nenabled = true\nport = 1\n"  # a port nobody may open: never used


@asynccontextmanager
async def started(adapter: SlackAdapter) -> AsyncIterator[SlackAdapter]:
    task = asyncio.create_task(adapter.run())
    ready = asyncio.create_task(adapter.ready.wait())
    done, _ = await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # re-raises why it stopped
    assert ready in done, "the adapter did not start within 10 s"
    try:
        yield adapter
    finally:
        await adapter.close()
        await asyncio.wait_for(task, 10)


async def test_slack_http_and_the_dashboard_share_one_port(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(DASHBOARD, env=slack_env(fake, http=True), answerer=ConfidentExtractive())
    adapter = build_adapter(runtime.bot, runtime.settings, host="127.0.0.1", port=0)
    assert _place_dashboard(runtime, [adapter]) is None  # handed to the adapter: no port of its own
    async with started(adapter):
        base = f"http://127.0.0.1:{adapter.http_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/admin/", allow_redirects=False) as page:
                assert page.status == 302 and page.headers["Location"] == "/admin/signin"  # a session first
            async with http.get(f"{base}/admin/signin") as page:
                assert page.status == 200 and "supportbot dashboard --link" in await page.text()
            async with http.get(f"{base}/healthz") as health:
                assert health.status == 200 and (await health.json())["mode"] == "http"
        # Slack's door is its signature, not a dashboard session
        body = json.dumps(fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True))
        status, _ = await post_signed(f"{base}/slack/events", body.encode(), fake.signing_secret)
        assert status == 200
        assert await adapter.drain(timeout=15)
        [answer] = posts(fake)
        assert "Forgot password" in section_text(answer)
        status, _ = await post_signed(f"{base}/slack/events", body.encode(), "not-the-secret")
        assert status == 401  # and an unsigned one is still refused at Slack's door


async def test_in_socket_mode_the_dashboard_keeps_its_own_port(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(DASHBOARD, env=slack_env(fake), answerer=ConfidentExtractive())
    adapter = build_adapter(runtime.bot, runtime.settings)
    assert adapter.mode == "socket" and not adapter.share_http(lambda: asyncio.sleep(0))
    serve = _place_dashboard(runtime, [adapter])
    assert serve is not None  # Socket Mode serves no HTTP: the dashboard opens [dashboard] port
    serve.close()
