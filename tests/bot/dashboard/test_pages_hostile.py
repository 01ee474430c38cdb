"""What anyone can put in a dashboard request, against the pages that read it: ids in the path
no store could hold and a NUL in a filter or a form, on both backends, and a status line of a
link's own."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.types import TicketStatus
from tests.bot.dashboard.served import CONFIG, Client, start
from tests.bot.dashboard.test_dashboard import csrf_of, link_token, sign_in
from tests.bot.dashboard.test_drafts_page import a_draft
from tests.bot.dashboard.test_gaps_page import hard_gap
from tests.bot.insights.test_gaps import two_gaps
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401  (fixtures)
from tests.fakes.clock import FakeClock


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_an_id_no_store_could_hold_is_not_found(
    backend: str,
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    channel: ConsoleChannel,
    request: pytest.FixtureRequest,
) -> None:
    env = {"SUPPORTBOT_DATABASE_URL": request.getfixturevalue("pg_url")} if backend == "postgres" else {}
    rt = make_runtime(CONFIG, env)
    client = await start(rt, clock, channel)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
        csrf = await csrf_of(client, "/admin/tickets")
        # 2**63 and past it (SQLite cannot bind them), 0, and what int() takes but a path should not
        for id in ("9223372036854775808", "99999999999999999999999", "0", "+1", "\u0661"):
            for page in ("tickets", "drafts", "gaps"):
                assert (await client.get(f"/admin/{page}/{id}")).status == 404, (page, id)
            for action in ("tickets/{}/claim", "drafts/{}/reject", "gaps/{}/dismiss"):
                path = "/admin/" + action.format(id)
                assert (await client.post(path, data={"csrf": csrf})).status == 404, path
        # the largest id a store holds is only a ticket nobody has
        assert (await client.get("/admin/tickets/9223372036854775807")).status == 404
    finally:
        await client.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_nul_in_a_filter_or_a_form_is_replaced_not_a_500(
    backend: str,
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    channel: ConsoleChannel,
    request: pytest.FixtureRequest,
) -> None:
    # PostgreSQL's text refuses NUL (SQLite keeps it): replaced as in what the chat brings in
    env = {"SUPPORTBOT_DATABASE_URL": request.getfixturevalue("pg_url")} if backend == "postgres" else {}
    rt = make_runtime(CONFIG, env)
    draft_id = await a_draft(rt, channel)
    ticket = rt.state.draft(draft_id).ticket_id  # type: ignore[union-attr]
    client = await start(rt, clock, channel)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
        for query in ("channel=%00", "assignee=a%00b", "status=all&channel=C%00"):
            assert (await client.get(f"/admin/tickets?{query}")).status == 200, query
        csrf = await csrf_of(client, "/admin/tickets")
        saved = await client.post(
            f"/admin/drafts/{draft_id}/save", data={"csrf": csrf, "title": "T\x00", "answer": "A\x00nswer"}
        )
        assert saved.status == 200
        draft = rt.state.draft(draft_id)
        assert draft is not None and (draft.title, draft.answer) == ("T\ufffd", "A\ufffdnswer")
        reopened = await client.post(
            f"/admin/tickets/{ticket}/reopen", data={"csrf": csrf, "reason": "why\x00"}
        )
        reopened_ticket = rt.state.ticket(ticket)
        assert reopened.status == 200 and reopened_ticket is not None
        assert reopened_ticket.status == TicketStatus.OPEN
    finally:
        await client.close()


async def test_a_link_cannot_put_its_own_status_line_on_a_page(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    # the line after an action ("Draft #3 saved.") reads as the dashboard's own: a link's is not shown
    draft_id = await a_draft(rt, channel)
    await two_gaps(rt, channel)
    await rt.bot.insights.gaps.sync()
    ticket_id = rt.state.draft(draft_id).ticket_id  # type: ignore[union-attr]
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    spoof = "Your session expired. Sign in again at https://evil.example/admin/signin"
    pages = [f"tickets/{ticket_id}", f"drafts/{draft_id}", f"gaps/{hard_gap(rt).id}", "knowledge"]
    for page in pages:
        for query in (
            f"message={quote(spoof)}",
            f"message={quote(spoof)}&sig=00",
            f"message={quote(spoof)}&sig=%ff",
        ):
            response = await client.get(f"/admin/{page}?{query}")
            assert response.status == 200 and "evil.example" not in await response.text(), (page, query)
    # what the dashboard says after an action still shows, for this session only
    csrf = await csrf_of(client, f"/admin/drafts/{draft_id}")
    saved = await client.post(
        f"/admin/drafts/{draft_id}/save",
        data={"csrf": csrf, "title": "Rotating keys", "answer": "Press Rotate."},
    )
    assert f"Draft #{draft_id} saved." in await saved.text()
    client.session.cookie_jar.clear()
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    assert f"Draft #{draft_id} saved." not in await (await client.get(saved.url.path_qs)).text()
