"""The dashboard in a real browser: Debian's Chromium driven by Playwright, launched from the
system's binary with `executable_path` (nothing is downloaded), one browser for the session.

Per test: a fake Slack, the real Slack adapter connected to it, and the dashboard served on a
loopback port by `supportbot run`'s own code for `[dashboard] enabled`, acting through the
adapter's channel and the running core. Every browser context refuses requests that
leave the dashboard's origin and fails the test that made one, so nothing is fetched at test time.

The browser lives in the session's event loop, so every test here runs in that loop too (each
module sets `pytestmark`), and the async fixtures say `loop_scope="session"`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    Route,
    async_playwright,
)

from adapters.slack import SlackAdapter
from adapters.slack.manifest import BOT_SCOPES
from bot import supervisor
from bot.app import Runtime
from bot.dashboard.app import build_app
from bot.dashboard.serve import dashboard_for, issue_link
from bot.insights.gaps import ALL
from tests.adapters.test_slack import MEMBER, STAFF, buttons, click, deliver, posts, press, running, slack_env
from tests.bot.dashboard.test_in_run import free_port, served
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.slack_server import ApiCall, FakeSlack

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
ADMIN = STAFF  # W111: staff and admin of the bot (by id, as the dashboard decides rights)
TOML = f"""
[slack]
staff_groups = ["S111"]
staff_users = ["{ADMIN}"]
admin_users = ["{ADMIN}"]
triage_channel = "C222"
"""
OTHER_MEMBER = "W333"
QUESTION = "How long does a refund take to arrive?"
STAFF_ANSWER = "Refunds to a card arrive within five business days; to PayPal within one."
GAP_QUESTIONS = ("How do I rotate the webhook signing key?", "Where do I rotate the webhook signing key?")
SIGN_IN_BUTTON = "form[action$='/signin'] button[type=submit]"
INSTALL_HINT = "Chromium is not installed: apt-get install chromium (.ci/run installs it for CI)"


def find_chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = find_chromium()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail(f"{INSTALL_HINT}: CI must run the browser tests", pytrace=False)
        pytest.skip(INSTALL_HINT)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        await launched.close()


@dataclass(frozen=True)
class Site:
    """The running stack one test drives."""

    base: str
    app: web.Application
    rt: Runtime
    fake: FakeSlack
    slack: SlackAdapter
    clock: FakeClock

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def link(self, user_id: str) -> str:
        return issue_link(
            self.rt.state, platform="slack", user_id=user_id, base_url=self.base, clock=self.clock
        )

    async def ask(self, text: str, user: str = MEMBER) -> tuple[str, ApiCall]:
        """`user` mentions the bot in #C111; the question's ts and the bot's answer in its thread."""
        body = self.fake.user_message("C111", text, user=user, mention=True)
        await deliver(self.fake, self.slack, body)
        asked = body["event"]["ts"]
        [answer] = [c for c in posts(self.fake, "C111") if c.params.get("thread_ts") == asked]
        return asked, answer

    async def open_ticket(self) -> int:
        """A member asks in the fake Slack and presses *Talk to a person* under the answer."""
        asked, answer = await self.ask(QUESTION)
        await click(self.fake, self.slack, press(self.fake, answer, "supportbot:talk_to_human", MEMBER))
        ticket = self.rt.state.tickets()[0]
        assert ticket.question == QUESTION and ticket.conversation.thread == asked
        return ticket.id

    async def draft(self) -> int:
        """Staff answer a ticket in its Slack thread and press Resolve: a knowledge draft."""
        ticket_id = await self.open_ticket()
        ticket = self.rt.state.ticket(ticket_id)
        assert ticket is not None
        thread = ticket.conversation.thread
        reply = self.fake.user_message("C111", STAFF_ANSWER, user=STAFF, thread_ts=thread)
        await deliver(self.fake, self.slack, reply)
        [escalation] = [
            c
            for c in posts(self.fake, "C111")
            if c.params.get("thread_ts") == thread
            and "supportbot:resolve" in {b["action_id"] for b in buttons(c)}
        ]
        await click(self.fake, self.slack, press(self.fake, escalation, "supportbot:resolve", STAFF))
        [draft] = self.rt.state.drafts()
        return draft.id

    async def gap(self) -> int:
        """Two members find the answer to the same question not helpful: a knowledge gap, placed
        as the running bot's clock places new questions (the gaps page only shows them)."""
        for user, text in ((MEMBER, GAP_QUESTIONS[0]), (OTHER_MEMBER, GAP_QUESTIONS[1])):
            if user not in self.fake.users:
                self.fake.add_user(user, "other", real_name="Other Member")
            _, answer = await self.ask(text, user)
            await click(self.fake, self.slack, press(self.fake, answer, "supportbot:not_helpful", user))
        await self.rt.bot.insights.gaps.tick()
        [gap] = self.rt.state.gaps("slack", ALL)
        return gap.id


@pytest_asyncio.fixture(loop_scope="session")
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def site(
    make_runtime: Callable[..., Runtime], clock: FakeClock, fake: FakeSlack
) -> AsyncIterator[Site]:
    # the bot's clock at the real time, as the fake Slack's message timestamps are: a period
    # counted back from "now" then holds the questions asked through it
    clock.current = datetime.now(UTC).replace(microsecond=0)
    port = free_port()
    dashboard = f'[dashboard]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n'
    rt = make_runtime(TOML + dashboard, env=slack_env(fake), answerer=ConfidentExtractive())
    base = f"http://127.0.0.1:{port}"
    async with running(rt) as slack:
        await fake.wait_for_connection(1)
        # served exactly as `supportbot run` serves it beside its adapters
        serve = supervisor._place_dashboard(rt, [slack])  # Socket Mode: on its own port
        assert serve is not None
        task = asyncio.create_task(serve)
        try:
            await served(base)
            app = await build_app(dashboard_for(rt.settings, rt.store, clock))  # its router, to list routes
            yield Site(base=base, app=app, rt=rt, fake=fake, slack=slack, clock=clock)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@dataclass
class Contexts:
    """Opens browser contexts for one test; what they tried to fetch from elsewhere is kept."""

    browser: Browser
    site: Site
    outside: list[str] = field(default_factory=list)
    opened: list[BrowserContext] = field(default_factory=list)

    async def new(self, *, language: str = "en", javascript: bool = True) -> BrowserContext:
        context = await self.browser.new_context(
            extra_http_headers={"Accept-Language": language},
            java_script_enabled=javascript,
            viewport={"width": 1100, "height": 800},
        )
        await context.route("**/*", self._only_the_dashboard)
        self.opened.append(context)
        return context

    async def _only_the_dashboard(self, route: Route) -> None:
        if route.request.url.startswith(f"{self.site.base}/"):
            await route.continue_()
        else:
            self.outside.append(route.request.url)
            await route.abort()

    async def sign_in(self, page: Page, user_id: str) -> Response | None:
        """Open a one-time link for `user_id` and press its button; the response landed on."""
        await page.goto(self.site.link(user_id))
        async with page.expect_navigation() as landed:
            await page.click(SIGN_IN_BUTTON)
        return await landed.value

    async def signed_in(self, user_id: str = ADMIN, *, javascript: bool = True) -> Page:
        """A page in a new context, signed in through a one-time link as the button does it."""
        context = await self.new(javascript=javascript)
        page = await context.new_page()
        await self.sign_in(page, user_id)
        return page


@pytest_asyncio.fixture(loop_scope="session")
async def contexts(browser: Browser, site: Site) -> AsyncIterator[Contexts]:
    opened = Contexts(browser=browser, site=site)
    yield opened
    for context in opened.opened:
        await context.close()
    assert opened.outside == [], "the dashboard made the browser fetch from elsewhere"


def console_errors(page: Page, expected_status: int = 200) -> list[str]:
    """What the page logs as errors from now on (failed loads included) and uncaught exceptions;
    the browser's note that the document itself came with the status a test expects (a 403
    refusal page) is no error of the page's."""
    errors: list[str] = []
    expected = f"status of {expected_status} "

    def logged(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if expected_status >= 400 and expected in message.text and message.location.get("url") == page.url:
            return
        errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", logged)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, path) of every route the application registers, placeholders kept, HEAD left out."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("path") or info.get("formatter")
        if route.method != "HEAD" and template:
            found.append((route.method, str(template)))
    return found
