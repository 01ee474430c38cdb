"""Sign in with Slack (OpenID Connect) and with Discord (OAuth2), end to end over loopback:
the dashboard on a real port, a real aiohttp client following the redirects through the
fake Slack (tests/fakes/slack_openid.py) and the fake Discord (tests/fakes/discord_oauth.py),
the real slack_sdk client in between, rights from the settings as for chat commands."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.core import Outcome
from bot.dashboard.oauth import STATE_TTL, SpentStates
from bot.log import setup_logging
from bot.types import Author, ConversationRef, InboundMessage, Visibility
from tests.bot.dashboard.served import raw_get
from tests.bot.dashboard.signin_site import (
    DISCORD_SECRET,
    SLACK_ID,
    SLACK_SECRET,
    Serve,
    Site,
    discord_env,
    slack_env,
)
from tests.fakes.clock import FakeClock
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import FakeSlack

BAD_STATE = "was not started in this browser"


async def open_ticket(rt: Runtime, workspace: str = "T111", event: str = "e1") -> None:
    """A Slack ticket in the store, opened as the chat opens one."""
    message = InboundMessage(
        id=event,
        conversation=ConversationRef(platform="slack", workspace=workspace, channel="C111"),
        author=Author(id="W222", name="member"),
        text=f"I want to talk to a human please, from {workspace}",
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )
    assert await rt.bot.on_message(message, ConsoleChannel(io.StringIO())) == Outcome.ESCALATED


async def callback_url(site: Site, provider: str, **extra: str) -> str:
    """Start a sign-in and let the fake's authorize page answer (the person clicks Allow):
    the callback address it sends the browser to, not yet opened."""
    status, authorize, _ = await site.get(f"/admin/signin/{provider}", follow=False)
    assert status == 302
    if extra:
        authorize += "&" + urlencode(extra)
    async with site.http.get(authorize, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        return response.headers["Location"]


# -- signing in -------------------------------------------------------------------------


async def test_a_slack_staff_member_signs_in_and_sees_tickets(serve: Serve, fake_slack: FakeSlack) -> None:
    # W111 is staff through the user group S111 only: the rights come from Slack's lookups
    site = await serve(
        '[slack]\nstaff_groups = ["S111"]\nworkspace_admins_are_admins = false\n', slack_env(fake_slack)
    )
    await open_ticket(site.rt)
    status, where, page = await site.get("/admin/signin/slack")
    assert (status, urlsplit(where).path) == (200, "/admin/")
    assert "W111 (slack, staff)" in page
    status, _, queue = await site.get("/admin/tickets")
    assert status == 200 and "talk to a human" in queue
    assert fake_slack.openid.exchanged == ["W111"]
    (exchange,) = fake_slack.calls("openid.connect.token")
    assert exchange.status == 200 and exchange.headers["Authorization"].startswith("Basic ")
    assert SLACK_SECRET not in str(exchange.params)  # the secret went as HTTP Basic, not a field
    assert site.cookie("supportbot_signin") is None  # the state cookie is spent
    audit = site.rt.state.audit_log()
    assert (audit[0].action, audit[0].user_id, audit[0].detail) == ("signin", "W111", "with slack in T111")


async def test_the_groups_read_at_sign_in_count_only_in_the_workspace_they_were_read_in(
    serve: Serve, fake_slack: FakeSlack
) -> None:
    # S111 is a user group of T111; another workspace's tickets need rights there
    site = await serve(
        '[slack]\nstaff_groups = ["S111"]\nworkspace_admins_are_admins = false\n', slack_env(fake_slack)
    )
    await open_ticket(site.rt)
    await open_ticket(site.rt, "T222", "e2")
    assert (await site.get("/admin/signin/slack"))[0] == 200
    status, _, queue = await site.get("/admin/tickets?status=all")
    assert status == 200 and "from T111" in queue and "from T222" not in queue
    other = max(t.id for t in site.rt.state.tickets(statuses=None, limit=10))
    assert (await site.get(f"/admin/tickets/{other}"))[0] == 404


async def test_a_slack_workspace_admin_is_an_admin(serve: Serve, fake_slack: FakeSlack) -> None:
    site = await serve("", slack_env(fake_slack))  # workspace_admins_are_admins is on by default
    status, _, page = await site.get("/admin/signin/slack")
    assert status == 200 and "W111 (slack, admin)" in page
    assert (await site.get("/admin/audit"))[0] == 200


async def test_the_thread_names_a_person_acting_from_the_dashboard_as_the_platform_does(
    serve: Serve, fake_slack: FakeSlack
) -> None:
    channel = ConsoleChannel(io.StringIO())
    site = await serve('[slack]\nstaff_users = ["W111"]\n', slack_env(fake_slack), channel)
    await open_ticket(site.rt)
    [ticket] = site.rt.state.tickets()
    assert (await site.get("/admin/signin/slack"))[0] == 200
    _, _, page = await site.get(f"/admin/tickets/{ticket.id}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    async with site.http.post(
        f"{site.url}/admin/tickets/{ticket.id}/claim", data={"csrf": csrf.group(1)}
    ) as response:
        assert response.status == 200
    said = [r.text for _, r in channel.posted + channel.edits if "looking at this now" in r.text]
    # the name Slack's lookups give, as for the chat's Claim button: not the raw user id
    assert said and all(s.startswith("primary-owner is looking") for s in said), said
    claimed = site.rt.state.ticket(ticket.id)
    assert claimed is not None and (claimed.assignee_id, claimed.assignee_name) == ("W111", "primary-owner")


async def test_the_authorize_request_is_slack_openid_connect(serve: Serve, fake_slack: FakeSlack) -> None:
    site = await serve("", slack_env(fake_slack))
    async with site.http.get(site.url + "/admin/signin/slack", allow_redirects=False) as response:
        location = urlsplit(response.headers["Location"])
        cookie = response.headers["Set-Cookie"]
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert location.path == "/openid/connect/authorize"
    assert query["scope"] == "openid profile" and query["response_type"] == "code"
    assert query["client_id"] == SLACK_ID and query["nonce"] and len(query["state"]) >= 32
    assert query["redirect_uri"] == site.url + "/admin/signin/slack/callback"
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin/signin" in cookie


async def test_a_discord_member_with_the_staff_role_signs_in(serve: Serve, fake_discord: FakeDiscord) -> None:
    settings = (
        f'discord_guild = "{fake_discord.guild_id}"\n'
        f'[discord]\nstaff_roles = ["{fake_discord.staff_role_id}"]\nmanage_server_is_admin = false\n'
    )
    site = await serve(settings, discord_env(fake_discord))
    status, where, page = await site.get("/admin/signin/discord")
    assert (status, urlsplit(where).path) == (200, "/admin/")
    assert f"{fake_discord.staff_user_id} (discord, staff)" in page
    assert (await site.get("/admin/tickets"))[0] == 200
    assert (await site.get("/admin/audit"))[0] == 403  # staff, not admin
    # only what the flow asked for: no `guilds` scope when Manage Server makes nobody admin
    (grant,) = fake_discord.oauth.tokens.values()
    assert grant.scopes == ("identify", "guilds.members.read")


async def test_the_discord_server_owner_is_an_admin_through_manage_server(
    serve: Serve, fake_discord: FakeDiscord
) -> None:
    # bob owns the fake's guild; command_guilds names the guild, so discord_guild is not needed
    site = await serve(
        f'[discord]\ncommand_guilds = ["{fake_discord.guild_id}"]\n', discord_env(fake_discord)
    )
    status, _, page = await site.get("/admin/signin/discord")
    assert status == 200 and f"{fake_discord.staff_user_id} (discord, admin)" in page
    assert (await site.get("/admin/audit"))[0] == 200


# -- refusals -----------------------------------------------------------------------------


async def test_a_slack_member_without_rights_is_refused_and_reads_nothing(
    serve: Serve, fake_slack: FakeSlack
) -> None:
    site = await serve('[slack]\nstaff_groups = ["S111"]\n', slack_env(fake_slack))
    await open_ticket(site.rt)
    fake_slack.openid.signer = "W222"  # a plain member: no group, not a workspace admin
    status, _, page = await site.get("/admin/signin/slack")
    assert status == 403 and "Not allowed" in page and "talk to a human" not in page
    assert site.cookie("supportbot_session") is None
    status, where, _ = await site.get("/admin/tickets", follow=False)
    assert (status, where) == (302, "/admin/signin")
    assert (await site.get("/admin/api/overview"))[0] == 401
    assert [(e.action, e.user_id) for e in site.rt.state.audit_log()] == [("signin refused", "W222")]


async def test_a_discord_member_without_the_role_is_refused(serve: Serve, fake_discord: FakeDiscord) -> None:
    settings = f'discord_guild = "{fake_discord.guild_id}"\n[discord]\nstaff_roles = ["{fake_discord.staff_role_id}"]\n'
    site = await serve(settings, discord_env(fake_discord))
    fake_discord.oauth.signer = fake_discord.user_id  # alice: a member without roles
    status, _, page = await site.get("/admin/signin/discord")
    assert status == 403 and "Not allowed" in page
    assert site.cookie("supportbot_session") is None
    assert (await site.get("/admin/tickets", follow=False))[:2] == (302, "/admin/signin")


async def test_a_slack_user_of_another_workspace_is_refused(serve: Serve, fake_slack: FakeSlack) -> None:
    fake_slack.add_workspace("T222", "Elsewhere", bot_user_id="U0BOT2", bot_id="B0BOT2")
    site = await serve('[slack]\nstaff_users = ["W111"]\n', slack_env(fake_slack))
    status, _, page = await site.get(await callback_url(site, "slack", team="T222"))
    assert status == 400 and "workspace this bot does not serve" in page
    assert site.cookie("supportbot_session") is None


# -- state, codes, credentials ---------------------------------------------------------------


async def test_a_callback_without_state_or_with_a_forged_one_is_refused(
    serve: Serve, fake_slack: FakeSlack, fake_discord: FakeDiscord
) -> None:
    site = await serve(
        f'discord_guild = "{fake_discord.guild_id}"\n[slack]\nstaff_users = ["W111"]\n',
        slack_env(fake_slack) | discord_env(fake_discord),
    )
    real = await callback_url(site, "slack")
    code = parse_qs(urlsplit(real).query)["code"][0]
    forged = [
        f"/admin/signin/slack/callback?code={code}",  # no state
        f"/admin/signin/slack/callback?code={code}&state=made-up",  # not the browser's
        f"/admin/signin/discord/callback?code={code}&state="  # another provider's cookie
        + parse_qs(urlsplit(real).query)["state"][0],
    ]
    for url in forged:
        status, _, page = await site.get(url)
        assert status == 400 and BAD_STATE in page, url
    # a cookie that is not ours (its signature does not match) is no state either
    site.http.cookie_jar.update_cookies({"supportbot_signin": "slack.x.y.99999999999.00"})
    status, _, page = await site.get(f"/admin/signin/slack/callback?code={code}&state=x")
    assert status == 400 and BAD_STATE in page
    assert fake_slack.openid.exchanged == [] and site.cookie("supportbot_session") is None


async def test_a_state_or_state_cookie_that_is_not_ascii_is_refused(
    serve: Serve, fake_slack: FakeSlack
) -> None:
    site = await serve('[slack]\nstaff_users = ["W111"]\n', slack_env(fake_slack))
    real = await callback_url(site, "slack")  # the browser holds a genuine state cookie
    code = parse_qs(urlsplit(real).query)["code"][0]
    status, _, page = await site.get(f"/admin/signin/slack/callback?code={code}&state=%C3%A9")
    assert status == 400 and BAD_STATE in page
    site.http.cookie_jar.clear()
    async with site.http.get(
        f"{site.url}/admin/signin/slack/callback?code={code}&state=x",
        headers={"Cookie": "supportbot_signin=slack.a.b.1.\u00e9"},  # a signature not ASCII
    ) as response:
        assert response.status == 400 and BAD_STATE in await response.text()
    # bytes that are not UTF-8 (aiohttp reads them as lone surrogates)
    target = f"/admin/signin/slack/callback?code={code}&state=a".encode()
    host, port = urlsplit(site.url).hostname or "", urlsplit(site.url).port or 0
    assert await raw_get(host, port, target, b"supportbot_signin=slack.a.b.9999999999.\xff") == 400
    assert fake_slack.openid.exchanged == [] and site.cookie("supportbot_session") is None


async def test_a_replayed_or_late_callback_is_refused(
    serve: Serve, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    site = await serve('[slack]\nstaff_users = ["W111"]\n', slack_env(fake_slack))
    url = await callback_url(site, "slack")
    state_cookie = site.cookie("supportbot_signin")
    assert state_cookie is not None
    assert (await site.get(url))[0] == 200
    # the same callback again: without the spent cookie, and with it put back
    assert (await site.get(url))[0] == 400
    site.http.cookie_jar.update_cookies({"supportbot_signin": state_cookie})
    status, _, page = await site.get(url)
    assert status == 400 and BAD_STATE in page
    assert fake_slack.openid.exchanged == ["W111"]  # the replay never reached Slack
    # a sign-in left open for more than 10 minutes
    late = await callback_url(site, "slack")
    clock.advance(minutes=10, seconds=1)
    status, _, page = await site.get(late)
    assert status == 400 and BAD_STATE in page


def test_spent_states_are_forgotten_in_order_and_bounded() -> None:
    # anyone can start a sign-in and call back: what is remembered must not grow without end
    spent, now = SpentStates(), datetime(2026, 12, 1, tzinfo=UTC)
    assert spent.use("a", now) and not spent.use("a", now)
    later = now + STATE_TTL - timedelta(seconds=1)
    assert spent.use("b", later) and not spent.use("a", later)
    # once its cookie has expired a state is dropped (the cookie is refused before this)
    assert spent.use("c", now + STATE_TTL) and len(spent) == 2 and not spent.use("b", now + STATE_TTL)
    for i in range(SpentStates.LIMIT + 10):
        assert spent.use(f"s{i}", later)
    assert len(spent) == SpentStates.LIMIT  # the oldest went first
    assert not spent.use(f"s{SpentStates.LIMIT + 9}", later) and spent.use("b", later)


@pytest.mark.parametrize("provider", ["slack", "discord"])
async def test_a_code_used_twice_is_refused(
    serve: Serve, fake_slack: FakeSlack, fake_discord: FakeDiscord, provider: str
) -> None:
    site = await serve(
        f'discord_guild = "{fake_discord.guild_id}"\n'
        f'[slack]\nstaff_users = ["W111"]\n[discord]\nstaff_users = ["{fake_discord.staff_user_id}"]\n',
        slack_env(fake_slack) | discord_env(fake_discord),
    )
    first = await callback_url(site, provider)
    assert (await site.get(first))[0] == 200
    site.http.cookie_jar.clear()
    # a fresh sign-in whose callback carries the first one's code
    second = urlsplit(await callback_url(site, provider))
    used = parse_qs(urlsplit(first).query)["code"][0]
    state = parse_qs(second.query)["state"][0]
    status, _, page = await site.get(f"{second.path}?{urlencode({'code': used, 'state': state})}")
    assert status == 400 and "its code was already used or expired" in page
    assert site.cookie("supportbot_session") is None


@pytest.fixture
def production_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Logging set up as `supportbot run` sets it at DEBUG (bot/log.py), captured."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = ("slack_bolt", "slack_sdk", "discord", "httpx", "openai", "aiohttp.access")
    levels = {name: logging.getLogger(name).level for name in names}
    setup_logging("DEBUG")
    root.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    yield caplog
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)


@pytest.mark.parametrize("provider", ["slack", "discord"])
async def test_a_bad_client_secret_shows_a_clear_error_and_logs_no_secret(
    serve: Serve,
    fake_slack: FakeSlack,
    fake_discord: FakeDiscord,
    production_logs: pytest.LogCaptureFixture,
    provider: str,
) -> None:
    wrong = "not-the-secret-" + provider
    site = await serve(
        f'discord_guild = "{fake_discord.guild_id}"\n[slack]\nstaff_users = ["W111"]\n',
        slack_env(fake_slack, wrong) | discord_env(fake_discord, wrong),
    )
    url = await callback_url(site, provider)
    status, _, page = await site.get(url)
    assert status == 400 and "sign-in settings were refused" in page
    assert site.cookie("supportbot_session") is None
    assert (await site.get("/admin/tickets", follow=False))[0] == 302
    text = logged(production_logs)
    assert f"sign-in with {provider} failed" in text  # the operator is told
    code = parse_qs(urlsplit(url).query)["code"][0]
    assert wrong not in text and code not in text


@pytest.mark.parametrize("provider", ["slack", "discord"])
async def test_the_platform_down_shows_a_clear_error_and_logs_no_code(
    serve: Serve,
    fake_slack: FakeSlack,
    fake_discord: FakeDiscord,
    production_logs: pytest.LogCaptureFixture,
    provider: str,
) -> None:
    site = await serve(
        f'discord_guild = "{fake_discord.guild_id}"\n[slack]\nstaff_users = ["W111"]\n',
        slack_env(fake_slack) | discord_env(fake_discord),
    )
    url = await callback_url(site, provider)
    await (fake_slack if provider == "slack" else fake_discord).stop()  # gone before the exchange
    status, _, page = await site.get(url)
    assert status == 502 and "did not answer" in page
    assert site.cookie("supportbot_session") is None
    text = logged(production_logs)
    code = parse_qs(urlsplit(url).query)["code"][0]
    assert "did not answer" in text
    assert code not in text and SLACK_SECRET not in text and DISCORD_SECRET not in text


async def test_an_id_token_for_another_sign_in_is_refused(serve: Serve, fake_slack: FakeSlack) -> None:
    site = await serve('[slack]\nstaff_users = ["W111"]\n', slack_env(fake_slack))
    status, authorize, _ = await site.get("/admin/signin/slack", follow=False)
    parts = urlsplit(authorize)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"nonce": "another-sign-ins-nonce"}
    # Slack answers for a sign-in started elsewhere: its id_token carries that one's nonce
    status, _, page = await site.get(parts._replace(query=urlencode(query)).geturl())
    assert status == 400 and "did not belong to this sign-in" in page
    assert site.cookie("supportbot_session") is None


async def test_the_person_cancelling_on_the_platform_page_is_told(
    serve: Serve, fake_slack: FakeSlack
) -> None:
    site = await serve("", slack_env(fake_slack))
    url = await callback_url(site, "slack")
    state = parse_qs(urlsplit(url).query)["state"][0]
    status, _, page = await site.get(f"/admin/signin/slack/callback?error=access_denied&state={state}")
    assert status == 400 and "cancelled" in page and fake_slack.openid.exchanged == []


# -- the sign-in page ---------------------------------------------------------------------


async def test_the_buttons_show_only_for_configured_platforms(
    serve: Serve, fake_slack: FakeSlack, fake_discord: FakeDiscord
) -> None:
    plain = await serve()
    page = (await plain.get("/admin/signin"))[2]
    assert "signin-with" not in page and "Sign in with Slack" not in page
    assert "supportbot dashboard --link" in page  # the one-time link stays
    assert (await plain.get("/admin/signin/slack", follow=False))[0] == 404
    # Discord credentials without a guild to read roles in: still off
    slack_only = await serve("", slack_env(fake_slack) | discord_env(fake_discord))
    page = (await slack_only.get("/admin/signin"))[2]
    assert 'href="/admin/signin/slack"' in page and "Sign in with Discord" not in page
    both = await serve(
        f'discord_guild = "{fake_discord.guild_id}"\n', slack_env(fake_slack) | discord_env(fake_discord)
    )
    async with both.http.get(both.url + "/admin/signin", headers={"Accept-Language": "ko"}) as response:
        korean = await response.text()
    assert "Slack으로 로그인" in korean and "Discord로 로그인" in korean
