"""Reading a Slack or Discord sign-in's groups, roles and admin flag again while the session
lasts (bot/dashboard/roles.py), over loopback through the fake Slack and the fake Discord:
taken away in the platform, they go within minutes; a look-up that fails keeps the roles last
read, is not repeated on every page view, and is shared by the person's sessions."""

from __future__ import annotations

import asyncio
import re

import aiohttp

from bot.dashboard.auth import ROLES_TTL
from bot.dashboard.roles import FAILURE_BACKOFF, ROLES_KEPT
from tests.bot.dashboard.signin_site import Serve, Site, discord_env, slack_env
from tests.fakes.clock import FakeClock
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import FakeSlack

GROUP_STAFF = '[slack]\nstaff_groups = ["S111"]\nworkspace_admins_are_admins = false\n'
MEMBER = "/guilds/{g}/members/{u}"


def discord_staff(fake: FakeDiscord) -> str:
    return (
        f'discord_guild = "{fake.guild_id}"\n'
        f'[discord]\nstaff_roles = ["{fake.staff_role_id}"]\nmanage_server_is_admin = false\n'
    )


async def signed_in(site: Site, platform: str, clock: FakeClock | None = None) -> None:
    """Sign in through `platform`; with `clock`, let the session's roles come due to be read
    again, so the next request reads them."""
    assert (await site.get(f"/admin/signin/{platform}"))[0] == 200
    if clock is not None:
        clock.advance(seconds=ROLES_TTL.total_seconds())


async def status_of(site: Site, path: str = "/admin/tickets") -> int:
    return (await site.get(path, follow=False))[0]


async def test_leaving_the_slack_staff_group_takes_the_dashboard_away_within_minutes(
    serve: Serve, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    site = await serve(GROUP_STAFF, slack_env(fake_slack))
    await signed_in(site, "slack")
    fake_slack.usergroups["S111"]["users"] = []  # the support lead takes W111 out of the group
    # the groups read at sign-in stand as long as the chat's lookups keep them, then are read again
    clock.advance(seconds=ROLES_TTL.total_seconds() - 1)
    assert await status_of(site) == 200
    clock.advance(seconds=1)
    assert await status_of(site) == 403
    fake_slack.usergroups["S111"]["users"] = ["W111"]  # and back: read again on the next look
    clock.advance(seconds=ROLES_TTL.total_seconds())
    assert await status_of(site) == 200


async def test_losing_the_discord_staff_role_takes_the_dashboard_away_within_minutes(
    serve: Serve, fake_discord: FakeDiscord, clock: FakeClock
) -> None:
    site = await serve(
        discord_staff(fake_discord), discord_env(fake_discord) | {"DISCORD_TOKEN": fake_discord.token}
    )
    await signed_in(site, "discord", clock)
    assert await status_of(site) == 200  # read again through the bot: still staff
    fake_discord.members[fake_discord.guild_id][fake_discord.staff_user_id]["roles"] = []
    clock.advance(seconds=ROLES_TTL.total_seconds())
    assert await status_of(site) == 403


async def test_the_discord_owner_stays_admin_when_rights_are_read_again(
    serve: Serve, fake_discord: FakeDiscord, clock: FakeClock
) -> None:
    site = await serve(
        f'[discord]\ncommand_guilds = ["{fake_discord.guild_id}"]\n',
        discord_env(fake_discord) | {"DISCORD_TOKEN": fake_discord.token},
    )
    await signed_in(site, "discord", clock)
    assert await status_of(site, "/admin/audit") == 200


# -- when the platform does not answer ----------------------------------------------------


async def test_one_rate_limited_group_lookup_keeps_the_groups_last_read(
    serve: Serve, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    site = await serve(GROUP_STAFF, slack_env(fake_slack))
    await signed_in(site, "slack", clock)
    fake_slack.rate_limit("usergroups.users.list", times=1)
    assert await status_of(site) == 200  # no answer is not "in no group"
    asked = len(fake_slack.calls("usergroups.users.list"))
    clock.advance(seconds=FAILURE_BACKOFF.total_seconds() - 1)
    assert await status_of(site) == 200
    assert len(fake_slack.calls("usergroups.users.list")) == asked  # not asked again yet
    # nothing was saved as the answer: once Slack answers, it decides
    fake_slack.usergroups["S111"]["users"] = []
    clock.advance(seconds=1)
    assert await status_of(site) == 403
    assert len(fake_slack.calls("usergroups.users.list")) == asked + 1


async def test_one_failed_users_info_keeps_a_workspace_admin_an_admin(
    serve: Serve, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    site = await serve("", slack_env(fake_slack))  # workspace admins are admins (the default)
    await signed_in(site, "slack", clock)
    fake_slack.http_error("users.info", status=503, times=1)
    assert await status_of(site, "/admin/audit") == 200


async def test_while_slack_is_down_a_person_costs_one_call_per_back_off_not_one_per_page(
    serve: Serve, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    site = await serve(GROUP_STAFF, slack_env(fake_slack))
    await signed_in(site, "slack", clock)
    fake_slack.http_error("auth.test", status=503, times=1000)
    before = len(fake_slack.calls("auth.test"))
    statuses = {await status_of(site) for _ in range(20)}
    assert statuses == {200} and len(fake_slack.calls("auth.test")) - before == 1
    clock.advance(seconds=FAILURE_BACKOFF.total_seconds())
    assert await status_of(site) == 200
    assert len(fake_slack.calls("auth.test")) - before == 2


async def test_the_groups_last_read_stand_an_hour_at_most_while_slack_is_down(
    serve: Serve, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    site = await serve(GROUP_STAFF + 'admin_users = ["W222"]\n', slack_env(fake_slack))
    await signed_in(site, "slack")
    fake_slack.http_error("auth.test", status=503, times=1000)
    clock.advance(seconds=ROLES_KEPT.total_seconds() - 1)
    assert await status_of(site) == 200
    clock.advance(seconds=1)
    assert await status_of(site) == 403  # only people named by id in the settings keep it


async def test_while_discord_rate_limits_the_bot_waits_as_long_as_discord_says(
    serve: Serve, fake_discord: FakeDiscord, clock: FakeClock
) -> None:
    site = await serve(
        discord_staff(fake_discord), discord_env(fake_discord) | {"DISCORD_TOKEN": fake_discord.token}
    )
    await signed_in(site, "discord", clock)
    fake_discord.rate_limit("GET", "/guilds/{guild_id}/members/{user_id}", times=None, retry_after=120)
    before = len(fake_discord.requests_matching("GET", MEMBER))
    statuses = {await status_of(site) for _ in range(20)}
    # one 429 on the bot's own token, not one per page (Discord bans an address for too many)
    assert statuses == {200} and len(fake_discord.requests_matching("GET", MEMBER)) - before == 1
    clock.advance(seconds=119)
    assert await status_of(site) == 200
    assert len(fake_discord.requests_matching("GET", MEMBER)) - before == 1
    fake_discord.clear_faults()
    clock.advance(seconds=1)
    assert await status_of(site) == 200
    assert len(fake_discord.requests_matching("GET", MEMBER)) - before == 2


async def test_a_group_slack_refuses_counts_as_empty_and_the_others_are_still_read(
    serve: Serve, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    # the admin group was deleted in Slack (or mistyped): Slack answers no_such_subteam for it
    assert "S404" not in fake_slack.usergroups
    site = await serve(GROUP_STAFF + 'admin_groups = ["S404"]\n', slack_env(fake_slack))
    await signed_in(site, "slack", clock)
    assert await status_of(site) == 200  # read again: still staff
    # an answer, not an outage: taken out of the staff group, out within minutes, not an hour
    fake_slack.usergroups["S111"]["users"] = []
    clock.advance(seconds=ROLES_TTL.total_seconds())
    assert await status_of(site) == 403


async def test_an_internal_error_slack_answers_with_http_200_is_no_answer(
    serve: Serve, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    site = await serve(GROUP_STAFF, slack_env(fake_slack))
    await signed_in(site, "slack", clock)
    fake_slack.fail("usergroups.users.list", "internal_error")
    assert await status_of(site) == 200  # not "in no group"


async def test_a_retry_after_past_any_date_waits_an_hour_at_most(
    serve: Serve, fake_discord: FakeDiscord, clock: FakeClock
) -> None:
    site = await serve(
        discord_staff(fake_discord), discord_env(fake_discord) | {"DISCORD_TOKEN": fake_discord.token}
    )
    await signed_in(site, "discord", clock)
    fake_discord.rate_limit("GET", "/guilds/{guild_id}/members/{user_id}", times=None, retry_after=1e12)
    before = len(fake_discord.requests_matching("GET", MEMBER))
    assert await status_of(site) == 200  # the roles last read, not a 500
    fake_discord.clear_faults()
    clock.advance(seconds=ROLES_KEPT.total_seconds() - 1)
    assert await status_of(site) == 403  # the roles last read are over an hour old
    assert len(fake_discord.requests_matching("GET", MEMBER)) - before == 1  # waited as asked
    clock.advance(seconds=1)
    assert await status_of(site) == 200  # asked again after an hour, and still staff
    assert len(fake_discord.requests_matching("GET", MEMBER)) - before == 2


async def test_an_answer_no_one_foresaw_is_no_answer_not_a_500(
    serve: Serve, fake_discord: FakeDiscord, clock: FakeClock
) -> None:
    site = await serve(
        discord_staff(fake_discord), discord_env(fake_discord) | {"DISCORD_TOKEN": fake_discord.token}
    )
    await signed_in(site, "discord", clock)
    member = fake_discord.members[fake_discord.guild_id][fake_discord.staff_user_id]
    roles, member["roles"] = member["roles"], 5  # not a list: reading it raises
    before = len(fake_discord.requests_matching("GET", MEMBER))
    assert {await status_of(site) for _ in range(3)} == {200}  # the roles last read
    assert len(fake_discord.requests_matching("GET", MEMBER)) - before == 1  # backed off
    member["roles"] = roles
    clock.advance(seconds=FAILURE_BACKOFF.total_seconds())
    assert await status_of(site) == 200
    assert len(fake_discord.requests_matching("GET", MEMBER)) - before == 2


# -- one look-up per person ---------------------------------------------------------------


async def test_a_persons_sessions_and_requests_share_one_look_up(
    serve: Serve, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    site = await serve(GROUP_STAFF, slack_env(fake_slack))
    browsers = [site.http]
    for _ in range(3):  # the same person signed in in three more browsers
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        browsers.append(http)
    try:
        for http in browsers:
            async with http.get(site.url + "/admin/signin/slack") as response:
                assert response.status == 200
        clock.advance(seconds=ROLES_TTL.total_seconds())
        before = {m: len(fake_slack.calls(m)) for m in ("auth.test", "users.info", "usergroups.users.list")}

        async def page(http: aiohttp.ClientSession) -> int:
            async with http.get(site.url + "/admin/tickets") as response:
                return response.status

        # each browser opens two pages at once, and then one more
        assert set(await asyncio.gather(*(page(h) for h in browsers for _ in range(2)))) == {200}
        assert {await page(h) for h in browsers} == {200}
        assert {m: len(fake_slack.calls(m)) - n for m, n in before.items()} == dict.fromkeys(before, 1)
    finally:
        for http in browsers[1:]:
            await http.close()


# -- signing out --------------------------------------------------------------------------


async def test_a_session_that_lost_its_rights_can_still_sign_out(
    serve: Serve, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    site = await serve(GROUP_STAFF, slack_env(fake_slack))
    await signed_in(site, "slack")
    fake_slack.usergroups["S111"]["users"] = []  # taken out of the group, for a while
    clock.advance(seconds=ROLES_TTL.total_seconds())
    status, _, page = await site.get("/admin/tickets")
    # the refusal shows no data, and the sign-out button
    csrf = re.search(r'action="/admin/signout".*?name="csrf" value="([^"]+)"', page, re.S)
    assert status == 403 and csrf is not None
    async with site.http.post(site.url + "/admin/signout", data={"csrf": "forged"}) as response:
        assert response.status == 403  # still only with the session's CSRF token
    async with site.http.post(
        site.url + "/admin/signout", data={"csrf": csrf.group(1)}, allow_redirects=False
    ) as response:
        assert response.status == 302
    # on a shared computer: back in the group, the cookie left behind names nothing
    fake_slack.usergroups["S111"]["users"] = ["W111"]
    clock.advance(seconds=ROLES_TTL.total_seconds())
    assert await status_of(site) == 302
