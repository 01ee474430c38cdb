"""What anyone can put in a dashboard request, against the pages that read it: ids in the path
no store could hold, on both backends, and a status line of a link's own."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
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
