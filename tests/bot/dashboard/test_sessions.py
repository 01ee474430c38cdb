"""Dashboard sessions over their life: signing out ends one for every copy of its cookie."""

from __future__ import annotations

from bot.app import Runtime
from tests.bot.dashboard.served import Client
from tests.bot.dashboard.test_dashboard import csrf_of, link_token, sign_in
from tests.fakes.clock import FakeClock


async def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(
    rt: Runtime, clock: FakeClock, client: Client
) -> None:
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    [cookie] = [c.value for c in client.session.cookie_jar if c.key == "supportbot_session"]
    csrf = await csrf_of(client, "/admin/tickets")
    assert (await client.post("/admin/signout", data={"csrf": csrf}, allow_redirects=False)).status == 302
    # a copy of the cookie (another machine, a proxy's log, a shared computer's history)
    client.session.cookie_jar.update_cookies({"supportbot_session": cookie})
    response = await client.get("/admin/audit", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/admin/signin"
    assert (await client.get("/admin/api/overview")).status == 401
