"""The web dashboard against a real store on SQLite, through aiohttp's test client: sign-in
by one-time link, sessions, rights, CSRF, claim as the chat button does it, the audit log,
and the overview's figures against `supportbot report`."""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from typer.testing import CliRunner

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.cli import app as cli_app
from bot.core import Outcome
from bot.dashboard.app import build_app
from bot.dashboard.serve import dashboard_for, issue_link
from bot.insights.collect import collect
from bot.insights.metrics import Definitions, Scope
from bot.insights.report import parse_period, to_json
from bot.store import StateStore
from bot.types import Author, ConversationRef, InboundMessage, TicketStatus, Visibility
from tests.bot.dashboard.served import raw_get
from tests.fakes.clock import FakeClock

CONFIG = """
[slack]
staff_users = ["U-SAM"]
admin_users = ["U-ADMIN"]
"""
ASKER = Author(id="U-ASK", name="Ann")
ROUTES = [
    ("GET", "/admin/"),
    ("GET", "/admin/tickets"),
    ("GET", "/admin/tickets/1"),
    ("GET", "/admin/audit"),
    ("POST", "/admin/tickets/1/claim"),
    ("POST", "/admin/tickets/1/resolve"),
    ("POST", "/admin/signout"),
]

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(CONFIG)


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


async def _client(rt: Runtime, clock: FakeClock, channel: ConsoleChannel | None) -> Client:
    dashboard = dashboard_for(rt.settings, rt.store, clock, {"slack": channel} if channel else None)
    client = TestClient(TestServer(await build_app(dashboard)))
    await client.start_server()
    return client


@pytest.fixture
async def client(rt: Runtime, clock: FakeClock, channel: ConsoleChannel) -> AsyncIterator[Client]:
    c = await _client(rt, clock, channel)
    yield c
    await c.close()


async def open_ticket(rt: Runtime, channel: ConsoleChannel) -> int:
    message = InboundMessage(
        id="e1",
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-GEN"),
        author=ASKER,
        text="I want to talk to a human please",
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )
    assert await rt.bot.on_message(message, channel) == Outcome.ESCALATED
    return rt.state.tickets()[0].id


def link_token(rt: Runtime, clock: FakeClock, user_id: str) -> str:
    url = issue_link(rt.state, platform="slack", user_id=user_id, base_url="http://x", clock=clock)
    return url.split("token=", 1)[1]


async def sign_in(client: Client, token: str) -> int:
    page = await client.get(f"/admin/signin?token={token}")
    assert page.status == 200 and token in await page.text()  # GET shows a button, uses nothing
    response = await client.post("/admin/signin", data={"token": token}, allow_redirects=False)
    return response.status


async def csrf_of(client: Client, path: str = "/admin/tickets/1") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', await (await client.get(path)).text())
    assert found
    return found.group(1)


def status_line(page: str) -> str:
    """What a page says after an action: its status line, as the browser shows it."""
    found = re.search(r'<p role="status">(.*?)</p>', page, re.S)
    assert found, page[:500]
    return html.unescape(found.group(1))


async def test_a_link_signs_in_once_then_fails(rt: Runtime, clock: FakeClock, client: Client) -> None:
    token = link_token(rt, clock, "U-SAM")
    assert await sign_in(client, token) == 302
    assert (await client.get("/admin/tickets")).status == 200
    client.session.cookie_jar.clear()
    assert await sign_in(client, token) == 403
    assert (await client.get("/admin/tickets", allow_redirects=False)).status == 302


async def test_an_expired_link_fails(rt: Runtime, clock: FakeClock, client: Client) -> None:
    token = link_token(rt, clock, "U-SAM")
    clock.advance(minutes=10, seconds=1)
    assert await sign_in(client, token) == 403
    assert (await client.get("/admin/", allow_redirects=False)).status == 302


async def test_another_site_cannot_sign_a_browser_in(rt: Runtime, clock: FakeClock, client: Client) -> None:
    # login CSRF: a form on evil.example posts its owner's own link token
    token = link_token(rt, clock, "U-SAM")
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a data: URL
        {"Sec-Fetch-Site": "cross-site"},
    ):
        response = await client.post(
            "/admin/signin", data={"token": token}, headers=headers, allow_redirects=False
        )
        assert response.status == 403 and "another site" in await response.text(), headers
    assert [c for c in client.session.cookie_jar if c.key == "supportbot_session"] == []
    # the link is still good from the dashboard's own page
    own = {"Origin": str(client.make_url("")).rstrip("/"), "Sec-Fetch-Site": "same-origin"}
    response = await client.post("/admin/signin", data={"token": token}, headers=own, allow_redirects=False)
    assert response.status == 302


async def test_a_user_without_rights_is_refused_and_sees_no_ticket(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    await open_ticket(rt, channel)
    response = await client.post("/admin/signin", data={"token": link_token(rt, clock, "U-ASK")})
    assert response.status == 403
    page = await response.text()
    assert "Not allowed" in page and "talk to a human" not in page
    tickets = await client.get("/admin/tickets", allow_redirects=False)
    assert tickets.status == 302  # no session was given
    assert (await client.get("/admin/api/overview")).status == 401


async def test_every_route_without_a_session_is_refused(client: Client) -> None:
    for method, path in ROUTES:
        response = await client.request(method, path, allow_redirects=False)
        assert response.status == 302, (method, path)
        assert response.headers["Location"] == "/admin/signin"
    assert (await client.get("/admin/api/overview")).status == 401


async def test_a_forged_cookie_is_no_session(client: Client) -> None:
    client.session.cookie_jar.update_cookies({"supportbot_session": "eA.00"})
    assert (await client.get("/admin/api/overview")).status == 401


async def test_the_session_cookie_is_httponly_and_lax(rt: Runtime, clock: FakeClock, client: Client) -> None:
    token = link_token(rt, clock, "U-SAM")
    response = await client.post(
        "/admin/signin", data={"token": token}, headers={"X-Forwarded-Proto": "https"}, allow_redirects=False
    )
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" in header


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    ticket_id = await open_ticket(rt, channel)
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    for data in ({}, {"csrf": "not-the-token"}):
        response = await client.post(f"/admin/tickets/{ticket_id}/claim", data=data, allow_redirects=False)
        assert response.status == 403
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.OPEN
    assert [e.action for e in rt.state.audit_log()] == ["signin"]


async def test_a_cookie_or_csrf_token_that_is_not_ascii_is_refused_not_a_500(
    rt: Runtime, clock: FakeClock, client: Client
) -> None:
    client.session.cookie_jar.update_cookies({"supportbot_session": "abc.\u00e9"})
    assert (await client.get("/admin/api/overview")).status == 401
    # bytes that are not UTF-8 (aiohttp reads them as lone surrogates)
    server = client.server
    assert await raw_get(server.host, server.port, b"/admin/tickets", b"supportbot_session=abc.\xff") == 302
    client.session.cookie_jar.clear()
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    for csrf in ("\u00e9", "%ff"):  # %ff is read as U+FFFD
        response = await client.post("/admin/signout", data={"csrf": csrf}, allow_redirects=False)
        assert response.status == 403, csrf
    assert [e.action for e in rt.state.audit_log()] == ["signin"]


def part(headers: bytes, value: bytes = b"abc") -> bytes:
    """A multipart body of one field with `headers` of its own."""
    return (
        b'--xx\r\nContent-Disposition: form-data; name="f"\r\n'
        + headers
        + b"\r\n"
        + value
        + b"\r\n--xx--\r\n"
    )


MULTIPART = {"Content-Type": "multipart/form-data; boundary=xx"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# bodies aiohttp cannot read, each raising something else
UNREADABLE = (
    (b"token=\xff\xfe", FORM),  # not UTF-8: UnicodeDecodeError
    (b"garbage", MULTIPART),  # ValueError
    (b"token=abc", {"Content-Type": FORM["Content-Type"] + "; charset=no-such-charset"}),  # LookupError
    (part(b"Content-Type: text/plain; charset=no-such-charset\r\n"), MULTIPART),  # LookupError
    (part(b"Content-Transfer-Encoding: bogus\r\n"), MULTIPART),  # RuntimeError
)


async def test_a_form_that_cannot_be_read_is_a_400(rt: Runtime, clock: FakeClock, client: Client) -> None:
    for body, headers in UNREADABLE:  # on the open sign-in form
        assert (await client.post("/admin/signin", data=body, headers=headers)).status == 400, body
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    for body, headers in UNREADABLE:  # and behind the guard, where the CSRF token is read
        response = await client.post("/admin/signout", data=body, headers=headers, allow_redirects=False)
        assert response.status == 400, body
    assert [e.action for e in rt.state.audit_log()] == ["signin"]


async def test_claim_moves_the_ticket_as_the_chat_button_and_is_audited(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    ticket_id = await open_ticket(rt, channel)
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    queue = await (await client.get("/admin/tickets")).text()
    assert f"#{ticket_id}" in queue and "talk to a human" in queue
    csrf = await csrf_of(client, f"/admin/tickets/{ticket_id}")
    posted, edited = len(channel.posted), len(channel.edits)
    response = await client.post(f"/admin/tickets/{ticket_id}/claim", data={"csrf": csrf})
    assert response.status == 200 and "claimed" in (await response.text()).lower()
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.CLAIMED and ticket.assignee_id == "U-SAM"
    events = [e["event"] for e in rt.state.ticket_events(ticket_id)]
    assert events[-1] == "claimed"
    # the chat was told as for the chat button: the thread note and the card updated
    told = [r.text for _, r in channel.edits[edited:] + channel.posted[posted:]]
    assert "U-SAM is looking at this now and will reply here." in told
    audit = rt.state.audit_log()
    assert (audit[0].action, audit[0].user_id, audit[0].detail) == ("claim", "U-SAM", f"ticket #{ticket_id}")
    resolve = await client.post(f"/admin/tickets/{ticket_id}/resolve", data={"csrf": csrf})
    assert resolve.status == 200
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.RESOLVED


async def test_standalone_shows_tickets_read_only(
    rt: Runtime, clock: FakeClock, channel: ConsoleChannel
) -> None:
    ticket_id = await open_ticket(rt, channel)
    client = await _client(rt, clock, None)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
        page = await (await client.get(f"/admin/tickets/{ticket_id}")).text()
        assert "Read-only" in page and "/claim" not in page
        csrf = await csrf_of(client, f"/admin/tickets/{ticket_id}")
        response = await client.post(f"/admin/tickets/{ticket_id}/claim", data={"csrf": csrf})
        assert response.status == 409
        ticket = rt.state.ticket(ticket_id)
        assert ticket is not None and ticket.status == TicketStatus.OPEN
    finally:
        await client.close()


async def test_the_audit_log_is_for_admins(rt: Runtime, clock: FakeClock, client: Client) -> None:
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    assert (await client.get("/admin/audit")).status == 403
    client.session.cookie_jar.clear()
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    page = await client.get("/admin/audit")
    assert page.status == 200 and "U-SAM" in await page.text()


async def test_a_slack_admin_does_not_read_the_discord_audit(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """A Slack-only admin used to read every platform's audit log: the Discord admins'
    sign-ins (their ids and servers) and changes. Each admin reads their own platform's, as
    the settings page withholds the other platform's section."""
    rt = make_runtime(CONFIG + '[discord]\nadmin_users = ["111222333"]\n')
    client = await _client(rt, clock, None)
    try:
        url = issue_link(rt.state, platform="discord", user_id="111222333", base_url="http://x", clock=clock)
        assert await sign_in(client, url.split("token=", 1)[1]) == 302  # the Discord admin
        client.session.cookie_jar.clear()
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302  # the Slack admin
        audit = await client.get("/admin/audit")
        assert audit.status == 200
        page = await audit.text()
        assert "U-ADMIN" in page and "111222333" not in page
    finally:
        await client.close()


async def test_the_overview_has_the_report_figures(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    await open_ticket(rt, channel)
    clock.advance(minutes=5)  # a period ends before now: what happens at its last instant is next
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    definitions = Definitions.from_settings(rt.settings)
    for since in ("1d", "7d", "30d"):
        period = parse_period(since, None, now=clock.now(), zone=definitions.hours.zone)
        expected = to_json(collect(rt.state, period, Scope(platform="slack"), definitions))
        assert await (await client.get(f"/admin/api/overview?period={since}")).json() == json.loads(
            json.dumps(expected)
        )
        page = await (await client.get(f"/admin/?period={since}")).text()
        assert f'data-metric="questions">{expected["metrics"]["questions"]}<' in page
    assert expected["metrics"]["questions"] == 1 and expected["metrics"]["escalations"] == 1


def test_the_cli_prints_a_link_that_signs_in(rt: Runtime, tmp_path: object) -> None:
    config = rt.settings.config_path
    result = CliRunner().invoke(
        cli_app,
        [
            "dashboard",
            "--link",
            "--user",
            "U-SAM",
            "--config",
            str(config),
            "--data",
            str(rt.settings.data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    url = result.output.strip()
    assert url.startswith("http://127.0.0.1:8090/admin/signin?token=")  # where `run` serves it
    token = url.split("token=", 1)[1]
    owner = rt.state.use_dashboard_link(_hash(token), datetime.now(UTC))
    assert owner is not None and owner.user_id == "U-SAM"
    assert StateStore.use_dashboard_link(rt.state, _hash(token), datetime.now(UTC)) is None


def _hash(token: str) -> str:
    from bot.dashboard.auth import hash_token

    return hash_token(token)
