"""The dashboard's guard seen from the browser: a form posted without its CSRF token (or with a
forged one) is refused and changes nothing, and without a session every route the application
registers, including those added after this test was written, is refused."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from bot.dashboard.app import OPEN_PATHS
from bot.types import TicketStatus
from tests.bot.dashboard.browser.conftest import ADMIN, Contexts, Site, routes

pytestmark = pytest.mark.asyncio(loop_scope="session")
_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@pytest.mark.parametrize("token", ["", "forged"])
async def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(
    site: Site, contexts: Contexts, token: str
) -> None:
    ticket_id = await site.open_ticket()
    page = await contexts.signed_in(ADMIN)
    await page.goto(site.url(f"/admin/tickets/{ticket_id}"))
    claim = page.locator("form[action$='/claim']")
    if token:
        await claim.locator("input[name=csrf]").evaluate("(input, token) => input.value = token", token)
    else:
        await claim.locator("input[name=csrf]").evaluate("input => input.remove()")
    audited, calls = len(site.rt.state.audit_log()), len(site.fake.api_calls)
    async with page.expect_navigation() as refused:
        await claim.locator("button[type=submit]").click()
    response = await refused.value
    assert response is not None and response.status == 403
    assert "security token" in await page.locator("[role=alert]").inner_text()
    ticket = site.rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.OPEN and ticket.assignee_id is None
    assert len(site.rt.state.audit_log()) == audited
    assert site.fake.api_calls[calls:] == []  # nothing was said in Slack


async def test_without_a_session_every_registered_route_is_refused(site: Site, contexts: Contexts) -> None:
    ticket_id = await site.open_ticket()  # a real id, so a refusal is not a 404 in disguise
    values: defaultdict[str, str] = defaultdict(lambda: "1", id=str(ticket_id), provider="slack")
    context = await contexts.new()
    checked = []
    for method, template in routes(site.app):
        path = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
        if path in OPEN_PATHS:  # signing in itself: the one-time link, Slack and Discord OAuth
            continue
        response = await context.request.fetch(site.url(path), method=method, max_redirects=0)
        if path.startswith("/admin/api/"):
            assert response.status == 401, (method, path, response.status)
        else:
            assert response.status == 302, (method, path, response.status)
            assert response.headers["location"] == "/admin/signin", (method, path)
        assert "refund" not in (await response.text()).lower()
        checked.append((method, path))
    assert ("GET", "/admin/tickets") in checked and ("POST", f"/admin/tickets/{ticket_id}/claim") in checked
    assert any(path.startswith("/admin/api/") for _, path in checked)
    ticket = site.rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.OPEN
