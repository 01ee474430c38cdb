"""Every page of the dashboard in the browser, in English and in Korean: it loads without a
console error, axe-core finds no serious or critical accessibility violation, and a full-page
screenshot is kept under tests/artifacts/ (ignored by git, kept by CI).

PAGES is the one list to extend when a page is added; a test below fails for a GET route of
the application that is in neither PAGES nor NOT_PAGES, so a new page cannot go unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from axe_playwright_python.async_playwright import Axe

from bot.dashboard.app import OPEN_PATHS
from bot.dashboard.context import PREFIX
from tests.adapters.test_slack import MEMBER
from tests.bot.dashboard.browser.conftest import ADMIN, ARTIFACTS, Contexts, Site, console_errors, routes

LANGUAGES = ("en", "ko")
SERIOUS = frozenset({"serious", "critical"})


@dataclass(frozen=True)
class PageCase:
    name: str
    path: str | None  # None: where signing in lands; {ticket}, {draft}, {gap}: one of `needs`
    user: str | None = ADMIN  # None: not signed in
    status: int = 200
    needs: tuple[str, ...] = ()  # made through the fake Slack before the page is opened


PAGES = (
    PageCase("signin", "/admin/signin", user=None),
    PageCase("refused", None, user=MEMBER, status=403, needs=("ticket",)),
    PageCase("overview", "/admin/", needs=("ticket",)),
    PageCase("tickets", "/admin/tickets", needs=("ticket",)),
    PageCase("ticket", "/admin/tickets/{ticket}", needs=("ticket",)),
    PageCase("drafts", "/admin/drafts", needs=("draft",)),
    PageCase("draft", "/admin/drafts/{draft}", needs=("draft",)),
    PageCase("gaps", "/admin/gaps", needs=("gap",)),
    PageCase("gap", "/admin/gaps/{gap}", needs=("gap",)),
    PageCase("knowledge", "/admin/knowledge"),
    PageCase("why", "/admin/knowledge/why?q=How+long+does+a+refund+take+to+arrive%3F"),
    PageCase("audit", "/admin/audit", needs=("ticket",)),
    PageCase("settings", "/admin/settings"),
)
# GET routes that are no page to look at: redirects (to the overview, to Slack or Discord to
# sign in, and back), JSON
NOT_PAGES = frozenset(
    {
        "/admin",
        "/admin/api/overview",
        "/admin/signin/{provider}",
        "/admin/signin/{provider}/callback",
    }
)


async def samples(site: Site, needs: tuple[str, ...]) -> dict[str, int]:
    """The ticket, draft or gap a page shows, made through the fake Slack."""
    made = {"ticket": site.open_ticket, "draft": site.draft, "gap": site.gap}
    return {name: await made[name]() for name in needs}


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


@pytest.mark.asyncio(loop_scope="session")
async def test_every_page_route_is_in_the_list(site: Site) -> None:
    listed = {_shape(case.path.split("?")[0]) for case in PAGES if case.path} | {
        _shape(p) for p in NOT_PAGES | OPEN_PATHS
    }
    static = f"{PREFIX}/static/"  # stylesheets and scripts: checked as the pages load them
    pages = [path for method, path in routes(site.app) if method == "GET" and not path.startswith(static)]
    assert f"{PREFIX}/tickets" in pages
    missing = sorted(path for path in pages if _shape(path) not in listed)
    assert missing == [], f"add these pages to PAGES in {__file__} (or to NOT_PAGES): {missing}"


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("case", PAGES, ids=[case.name for case in PAGES])
async def test_every_page_loads_cleanly_is_accessible_and_is_kept_as_screenshots(
    site: Site, contexts: Contexts, case: PageCase
) -> None:
    values = await samples(site, case.needs)
    ARTIFACTS.mkdir(exist_ok=True)
    context = await contexts.new()
    page = await context.new_page()
    errors = console_errors(page, case.status)
    for language in LANGUAGES:
        await context.set_extra_http_headers({"Accept-Language": language})
        response = None
        if case.user is not None and (language == LANGUAGES[0] or case.path is None):
            response = await contexts.sign_in(page, case.user)  # a refusal keeps no session
        if case.path is not None:
            response = await page.goto(site.url(case.path.format(**values)))
        assert response is not None and response.status == case.status, (language, response)
        assert await page.locator("html").get_attribute("lang") == language
        results = await Axe().run(page)
        serious = [v for v in results.response["violations"] if v["impact"] in SERIOUS]
        assert serious == [], f"{case.name} ({language}):\n{results.generate_report()}"
        await page.screenshot(path=ARTIFACTS / f"dashboard-{case.name}-{language}.png", full_page=True)
    assert errors == [], (case.name, errors)
