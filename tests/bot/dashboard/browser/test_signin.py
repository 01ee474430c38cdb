"""Signing in through the browser: a one-time link works once, and a member without rights
is shown a refusal and none of the support data."""

from __future__ import annotations

import pytest

from tests.adapters.test_slack import MEMBER
from tests.bot.dashboard.browser.conftest import ADMIN, SIGN_IN_BUTTON, Contexts, Site

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_link_signs_in_once_and_then_fails(site: Site, contexts: Contexts) -> None:
    link = site.link(ADMIN)
    first = await (await contexts.new()).new_page()
    await first.goto(link)
    async with first.expect_navigation() as signed:
        await first.click(SIGN_IN_BUTTON)
    response = await signed.value
    assert response is not None and response.status == 200
    assert first.url == site.url("/admin/")
    assert await first.locator("[data-metric=questions]").count() == 1
    await first.goto(site.url("/admin/tickets"))
    assert first.url == site.url("/admin/tickets")  # the session holds

    second = await (await contexts.new()).new_page()
    await second.goto(link)
    async with second.expect_navigation() as refused:
        await second.click(SIGN_IN_BUTTON)
    response = await refused.value
    assert response is not None and response.status == 403
    assert "not valid" in await second.locator("[role=alert]").inner_text()
    assert await second.context.cookies() == []
    await second.goto(site.url("/admin/tickets"))
    assert second.url == site.url("/admin/signin")  # no session was given


async def test_a_member_without_rights_sees_a_refusal_and_no_data(site: Site, contexts: Contexts) -> None:
    await site.open_ticket()
    [ticket] = site.rt.state.tickets()
    page = await contexts.signed_in(MEMBER)
    assert await page.locator("h1").inner_text() == "Not allowed"
    body = await page.locator("body").inner_text()
    assert ticket.question not in body and f"#{ticket.id}" not in body
    assert await page.locator("nav").count() == 0 and await page.locator("[data-metric]").count() == 0
    assert await page.context.cookies() == []
    for path in ("/admin/", "/admin/tickets", f"/admin/tickets/{ticket.id}"):
        await page.goto(site.url(path))
        assert page.url == site.url("/admin/signin"), path
        assert ticket.question not in await page.locator("body").inner_text()
