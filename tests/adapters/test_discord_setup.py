"""Setting the Discord bot up: the invite URL (`supportbot discord invite`), the setup page in
knowledge/ that must name exactly the permissions the URL asks for, and `supportbot doctor`'s
Discord checks against the fake Discord."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import discord
import pytest
from typer.testing import CliRunner

from adapters.discord import doctor_checks
from adapters.discord.invite import (
    PERMISSIONS,
    InviteError,
    application_id_from_token,
    invite_url,
    permissions_value,
)
from bot.cli import app
from bot.config import Settings
from tests.fakes.discord_server import FakeDiscord

PAGE = Path(__file__).resolve().parents[2] / "knowledge" / "discord-setup.md"
APP_ID = "123456789012345678"
TOKEN = base64.b64encode(APP_ID.encode()).decode().rstrip("=") + ".GhIjKl.not-a-real-secret"

# discord.py's own names for the permissions the page lists: the independent truth for the bits.
DISCORD_PY_FLAG = {
    "View Channels": "view_channel",
    "Send Messages": "send_messages",
    "Embed Links": "embed_links",
    "Read Message History": "read_message_history",
    "Manage Threads": "manage_threads",
    "Create Public Threads": "create_public_threads",
    "Send Messages in Threads": "send_messages_in_threads",
}


def page_permissions() -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    table = text.split("| permission | why |", 1)[1].split("\n\n", 1)[0]
    return [row.split("|")[1].strip() for row in table.strip().splitlines()[1:]]


def query(url: str) -> dict[str, list[str]]:
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "discord.com", "/oauth2/authorize")
    return parse_qs(parts.query)


def test_the_invite_asks_for_both_scopes_and_exactly_the_needed_permissions(
    make_settings: Callable[..., Settings],
) -> None:
    url = invite_url(make_settings(env={"DISCORD_TOKEN": TOKEN}))
    assert "scope=bot+applications.commands" in url
    params = query(url)
    assert params["client_id"] == [APP_ID] and params["scope"] == ["bot applications.commands"]
    granted = discord.Permissions(int(params["permissions"][0]))
    expected = discord.Permissions(**{flag: True for flag in DISCORD_PY_FLAG.values()})
    assert granted == expected
    assert not (granted.administrator or granted.mention_everyone or granted.manage_messages)


def test_the_setup_page_names_exactly_the_permissions_of_the_invite() -> None:
    named = page_permissions()
    assert named == [p.name for p in PERMISSIONS]
    from_page = discord.Permissions(**{DISCORD_PY_FLAG[name]: True for name in named})
    assert from_page.value == permissions_value()
    assert all(p.why for p in PERMISSIONS)


def test_the_setup_page_uses_the_real_setting_names() -> None:
    from bot.config import DiscordSettings

    text = PAGE.read_text(encoding="utf-8")
    block = text.split("```toml", 1)[1].split("```", 1)[0]
    keys = set(re.findall(r"^([a-z_]+) =", block, flags=re.MULTILINE)) - {"mode"}
    assert keys and keys <= {f.name for f in dataclasses.fields(DiscordSettings)}
    for needed in ("staff_roles", "admin_roles", "forum_channels", "command_guilds", "triage_channel"):
        assert needed in keys


def test_the_client_id_option_wins_and_must_be_a_number(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(env={"DISCORD_TOKEN": TOKEN})
    assert query(invite_url(settings, "42"))["client_id"] == ["42"]
    with pytest.raises(InviteError, match="not an application id"):
        invite_url(settings, "my-bot")
    with pytest.raises(InviteError, match="--client-id"):
        invite_url(make_settings())


def test_the_application_id_is_read_from_the_token() -> None:
    assert application_id_from_token(TOKEN) == APP_ID
    assert application_id_from_token("opaque-token") is None
    assert application_id_from_token("aGVsbG8.x.y") is None  # decodes, but not to an id


def test_supportbot_discord_invite_prints_the_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["discord", "invite"], env={"DISCORD_TOKEN": TOKEN, "SUPPORTBOT_DATA": str(tmp_path)}
    )
    assert result.exit_code == 0, result.output
    assert query(result.output.strip())["client_id"] == [APP_ID]


async def test_an_opaque_token_asks_the_api_for_the_application_id(
    make_settings: Callable[..., Settings],
) -> None:
    async with FakeDiscord(token="opaque-token-without-an-id") as fake:
        env = {"DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.api_base}
        url = await asyncio.to_thread(invite_url, make_settings(env=env))
        call = await fake.wait_for_request("GET", "/oauth2/applications/@me")
        assert call.status == 200 and query(url)["client_id"] == [fake.app_id]

        env["DISCORD_TOKEN"] = "wrong-token"
        with pytest.raises(InviteError, match="token was rejected"):
            await asyncio.to_thread(invite_url, make_settings(env=env))


async def test_doctor_names_the_bot_the_application_the_intent_and_the_configured_ids(
    make_settings: Callable[..., Settings],
) -> None:
    async with FakeDiscord() as fake:
        settings = make_settings(
            "[discord]\n"
            f'command_guilds = ["{fake.guild_id}", "42"]\n'
            f'forum_channels = ["{fake.forum_channel_id}", "{fake.text_channel_id}"]\n'
            f'triage_channel = "{fake.general_channel_id}"\n',
            env={"DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.api_base},
        )
        checks = await doctor_checks(settings)
    found = [(c.name, c.status) for c in checks]
    assert found == [
        ("discord token", "ok"),
        ("discord application", "ok"),
        ("discord intent", "ok"),
        ("discord shards", "ok"),
        ("discord server", "ok"),
        ("discord server", "fail"),
        ("discord forum channel", "ok"),
        ("discord forum channel", "warn"),
        ("discord triage channel", "ok"),
    ]
    assert "SupportBot" in checks[0].detail and fake.bot_user_id in checks[0].detail
    assert "not in server 42" in checks[5].detail
    assert all(fake.token not in c.detail for c in checks)


async def test_doctor_checks_each_server_s_own_triage_channel(make_settings: Callable[..., Settings]) -> None:
    async with FakeDiscord() as fake:
        settings = make_settings(
            "[discord]\n"
            f'triage_channel = "{fake.general_channel_id}"\n'
            f'[discord.workspaces."{fake.guild_id}"]\n'
            f'triage_channel = "{fake.text_channel_id}"\n'
            '[discord.workspaces."42"]\n'
            'triage_channel = "999"\n',
            env={"DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.api_base},
        )
        checks = {c.name: c for c in await doctor_checks(settings)}
    assert checks["discord triage channel"].status == "ok"
    assert checks[f"discord triage channel of server {fake.guild_id}"].status == "ok"
    assert checks["discord triage channel of server 42"].status == "fail"  # the bot cannot see 999


async def test_doctor_shows_the_shards_and_warns_when_discord_wants_more(
    make_settings: Callable[..., Settings],
) -> None:
    async with FakeDiscord() as fake:
        fake.recommended_shards = 4
        env = {"DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.api_base}
        fixed = {c.name: c for c in await doctor_checks(make_settings("[discord]\nshards = 2\n", env=env))}
        auto = {
            c.name: c
            for c in await doctor_checks(
                make_settings('[discord]\nshards = "auto"\nshards_per_worker = 2\n', env=env)
            )
        }
    assert (
        fixed["discord shards"].status == "warn" and "Discord recommends 4" in fixed["discord shards"].detail
    )
    assert auto["discord shards"].status == "ok"
    assert (
        "4 shard(s)" in auto["discord shards"].detail and "2 sets of up to 2" in auto["discord shards"].detail
    )


async def test_doctor_explains_a_missing_intent_and_a_rejected_token(
    make_settings: Callable[..., Settings],
) -> None:
    async with FakeDiscord(message_content_intent=False) as fake:
        env = {"DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.api_base}
        checks = {c.name: c for c in await doctor_checks(make_settings(env=env))}
        assert checks["discord intent"].status == "fail"
        assert "Message Content Intent" in checks["discord intent"].detail

        env["DISCORD_TOKEN"] = "wrong"
        [token] = await doctor_checks(make_settings(env=env))
        assert token.status == "fail" and "token was rejected" in token.detail
