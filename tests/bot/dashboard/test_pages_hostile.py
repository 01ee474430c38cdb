"""What anyone can put in a dashboard request, against the pages that read it: ids in the path
no store could hold, on both backends."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from tests.bot.dashboard.served import CONFIG, start
from tests.bot.dashboard.test_dashboard import csrf_of, link_token, sign_in
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
