"""Tickets in the browser: a ticket opened through the fake Slack is in the queue; Claim and
Resolve pressed on its page move it in the store and tell the Slack thread as the chat buttons
do; and with JavaScript off the queue still reads."""

from __future__ import annotations

import pytest

from bot.types import TicketStatus
from tests.bot.dashboard.browser.conftest import ADMIN, Contexts, Site

pytestmark = pytest.mark.asyncio(loop_scope="session")


def said_in_thread(site: Site, since: int, thread: str) -> list[str]:
    """What the bot posted in the ticket's Slack thread after the first `since` API calls."""
    return [
        str(c.params.get("text"))
        for c in site.fake.api_calls[since:]
        if c.ok and c.method == "chat.postMessage" and c.params.get("thread_ts") == thread
    ]


def triage_card(site: Site, since: int) -> str:
    """The triage card's text as last edited after the first `since` API calls."""
    edits = [c for c in site.fake.api_calls[since:] if c.ok and c.method == "chat.update"]
    cards = [str(c.params.get("text")) for c in edits if c.params["channel"] == "C222"]
    assert cards, "the triage card was not updated"
    return cards[-1]


async def test_claim_and_resolve_in_the_browser_move_the_ticket_and_tell_the_thread(
    site: Site, contexts: Contexts
) -> None:
    ticket_id = await site.open_ticket()
    opened = site.rt.state.ticket(ticket_id)
    assert opened is not None and opened.conversation.thread is not None
    thread = opened.conversation.thread  # the asker's question in #C111, where the bot answered
    page = await contexts.signed_in(ADMIN)
    await page.goto(site.url("/admin/tickets"))
    row = page.locator("tbody tr", has=page.locator(f"a[href$='/tickets/{ticket_id}']"))
    assert await row.count() == 1
    assert "refund" in (await row.inner_text()).lower()
    async with page.expect_navigation():
        await row.locator(f"a[href$='/tickets/{ticket_id}']").click()
    assert page.url == site.url(f"/admin/tickets/{ticket_id}")

    before = len(site.fake.api_calls)
    async with page.expect_navigation():
        await page.click("form[action$='/claim'] button[type=submit]")
    assert await page.locator("[role=status]").count() == 1
    ticket = site.rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.CLAIMED and ticket.assignee_id == ADMIN
    assert any("is looking at this now" in text for text in said_in_thread(site, before, thread))
    assert f"claimed by {ADMIN}" in triage_card(site, before)
    assert await page.locator("form[action$='/claim']").count() == 0  # claimed: no second Claim

    before = len(site.fake.api_calls)
    async with page.expect_navigation():
        await page.click("form[action$='/resolve'] button[type=submit]")
    ticket = site.rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.RESOLVED
    assert [e["event"] for e in site.rt.state.ticket_events(ticket_id)][-2:] == ["claimed", "resolved"]
    assert f"{ADMIN} marked this resolved." in said_in_thread(site, before, thread)
    assert f"resolved by {ADMIN}" in triage_card(site, before)
    assert [(a.action, a.detail) for a in site.rt.state.audit_log()][:2] == [
        ("resolve", f"ticket #{ticket_id}"),
        ("claim", f"ticket #{ticket_id}"),
    ]


async def test_with_javascript_off_the_queue_reads(site: Site, contexts: Contexts) -> None:
    ticket_id = await site.open_ticket()
    page = await contexts.signed_in(ADMIN, javascript=False)
    assert page.url == site.url("/admin/")  # the sign-in form posts without script
    await page.goto(site.url("/admin/tickets"))
    table = page.locator("table", has=page.locator(f"a[href$='/tickets/{ticket_id}']"))
    assert await table.is_visible()
    assert "refund" in (await table.inner_text()).lower()
    await page.goto(site.url(f"/admin/tickets/{ticket_id}"))
    assert "refund" in (await page.locator("main").inner_text()).lower()
