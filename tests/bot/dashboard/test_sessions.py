"""Dashboard sessions over their life: signing out ends one for every copy of its cookie, and
a copy of the state database signs nobody in."""

from __future__ import annotations

from bot.app import Runtime
from bot.dashboard.auth import Session, sign_session
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


async def test_a_copy_of_the_state_signs_nobody_in(rt: Runtime, clock: FakeClock, client: Client) -> None:
    """The cookie secret is in the state: whatever a copy of it (a backup, a dump) holds of a
    live session must not make that session's cookie."""
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    [cookie] = [c.value for c in client.session.cookie_jar if c.key == "supportbot_session"]
    secret = rt.state.dashboard_secret()
    [row] = rt.state.db.execute("select * from dashboard_sessions").fetchall()
    for value in row:
        client.session.cookie_jar.clear()
        forged = Session(
            sid=str(value), platform="slack", user_id="U-ADMIN", expires_at=clock.now(), read_at=clock.now()
        )
        client.session.cookie_jar.update_cookies({"supportbot_session": sign_session(secret, forged)})
        assert (await client.get("/admin/audit", allow_redirects=False)).status == 302, value
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"supportbot_session": cookie})
    assert (await client.get("/admin/audit", allow_redirects=False)).status == 200  # it was live
