"""The settings page over loopback: admins see the configuration the bot runs with, section by
section and each workspace's own, and never a secret (tokens by name only, a URL's password
hidden); staff are refused."""

from __future__ import annotations

import re
from collections.abc import Callable

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.config import Settings
from bot.dashboard.settings_page import _shown, sections
from tests.bot.dashboard.served import CONFIG, start
from tests.bot.dashboard.test_dashboard import link_token, sign_in
from tests.fakes.clock import FakeClock
from tests.fakes.tokens import SLACK_BOT_TOKEN

LLM_KEY = "sk-test-not-a-real-key-0123456789"


def setting(page: str, key: str) -> str:
    found = re.search(rf'data-setting="{re.escape(key)}">([^<]*)<', page)
    assert found is not None, key
    return found.group(1)


async def test_admins_see_the_settings_and_no_secret(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    toml = (
        CONFIG + '[slack.workspaces.T2]\nstaff_users = ["U-TWO"]\n[escalation]\nfirst_response_minutes = 20\n'
    )
    env = {"SLACK_BOT_TOKEN": SLACK_BOT_TOKEN, "OPENAI_API_KEY": LLM_KEY}
    rt = make_runtime(toml, env=env)
    client = await start(rt, clock, channel)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
        assert (await client.get("/admin/settings")).status == 403  # staff, not admin
        client.session.cookie_jar.clear()
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
        response = await client.get("/admin/settings")
        assert response.status == 200
        page = await response.text()
        assert setting(page, "escalation.first_response_minutes") == "20"  # from the file
        assert setting(page, "slack.workspaces.T2.staff_users") == "[&#34;U-TWO&#34;]"  # an override
        assert setting(page, "answer.confidence_threshold")  # a default is shown too
        assert 'data-secret="SLACK_BOT_TOKEN">set<' in page and 'data-secret="DISCORD_TOKEN">not set<' in page
        assert SLACK_BOT_TOKEN not in page and LLM_KEY not in page
        assert "[slack]" in page and "[discord]" not in page  # no admin of Discord's: its section withheld
    finally:
        await client.close()


def test_a_database_password_in_the_settings_is_hidden(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings('[store]\nurl = "postgresql://bot:hunter2@db.example/support"\n')
    shown = {row.key: row.value for _, rows in sections(settings) for row in rows}
    assert "hunter2" not in shown["store.url"] and "*" in shown["store.url"]
    assert all("hunter2" not in value for value in shown.values())


async def test_an_admin_of_one_workspace_does_not_see_every_workspaces_settings(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    rt = make_runtime(
        CONFIG + '[slack.workspaces.T2]\nadmin_users = ["U-TWO"]\ntriage_channel = "C-T2-TRIAGE"\n'
    )
    client = await start(rt, clock, channel)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-TWO")) == 302
        response = await client.get("/admin/settings")
        assert response.status == 403 and "C-T2-TRIAGE" not in await response.text()
        assert (await client.get("/admin/audit")).status == 403  # every workspace's changes: likewise
    finally:
        await client.close()


def test_whatever_in_a_url_may_be_a_credential_is_hidden() -> None:
    shown = _shown(
        [
            "https://TOKEN123@docs.example/x?token=abc&page=2",
            "postgresql://u@h/db?sslpassword=pw&sslmode=require",
        ]
    )
    for secret in ("TOKEN123", "abc", "pw"):
        assert secret not in shown
    assert "page=2" in shown and "sslmode=require" in shown and "docs.example" in shown
