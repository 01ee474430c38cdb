"""`supportbot doctor`'s Discord checks: can the bot log in, and is it set up to work?

This module owns `doctor_checks` (loaded by `bot/doctor.py` as `adapters.discord.doctor_checks`):
the token, the application (an Interactions Endpoint URL would take the slash commands and
buttons away from the bot), the Message Content Intent, the gateway shards and their sets per
worker, and the servers and channels the configuration names. It logs in over REST only; it never opens the gateway.
"""

from __future__ import annotations

import aiohttp
import discord

from adapters.discord.endpoints import api_base, point_discord_py
from adapters.discord.shards import ShardPlan, recommended_shards
from adapters.discord.support_client import INTENT_HOW, TOKEN_REJECTED, support_intents
from bot.checks import Check
from bot.config import Settings
from bot.errors import FatalAdapterError, PlatformError

_UNREACHABLE = (aiohttp.ClientError, TimeoutError, OSError)


def _intent_check(flags: discord.ApplicationFlags) -> Check:
    if flags.gateway_message_content:
        return Check(name="discord intent", status="ok", detail="Message Content Intent approved")
    if flags.gateway_message_content_limited:
        return Check(name="discord intent", status="ok", detail="Message Content Intent enabled")
    return Check(name="discord intent", status="fail", detail=f"Message Content Intent is off. {INTENT_HOW}")


async def doctor_checks(settings: Settings) -> list[Check]:
    token = settings.secrets.discord_token
    if token is None:
        return [Check(name="discord token", status="fail", detail="DISCORD_TOKEN is not set")]
    secrets = settings.secrets
    restore = point_discord_py(secrets.discord_api_url, secrets.discord_gateway_url)
    client = discord.Client(intents=support_intents())
    try:
        async with client:
            try:
                await client.login(token.get_secret_value())
            except discord.LoginFailure:
                return [Check(name="discord token", status="fail", detail=TOKEN_REJECTED)]
            except (discord.HTTPException, *_UNREACHABLE) as exc:
                where = api_base(secrets.discord_api_url)
                return [
                    Check(
                        name="discord token", status="fail", detail=f"cannot reach Discord at {where}: {exc}"
                    )
                ]
            return await _doctor(settings, client)
    finally:
        restore()


async def _doctor(settings: Settings, client: discord.Client) -> list[Check]:
    user, app = client.user, client.application
    assert user is not None and app is not None
    checks = [Check(name="discord token", status="ok", detail=f"logged in as {user} (id {user.id})")]
    if app.interactions_endpoint_url:
        checks.append(
            Check(
                name="discord application",
                status="warn",
                detail=f"{app.name} (id {app.id}) has an Interactions Endpoint URL set, so slash "
                "commands and buttons go there instead of to the bot; clear it on the developer "
                "portal's General Information page",
            )
        )
    else:
        checks.append(Check(name="discord application", status="ok", detail=f"{app.name} (id {app.id})"))
    checks.append(_intent_check(app.flags))
    checks.append(await _shard_check(settings))
    discord_settings = settings.discord
    for guild_id in discord_settings.command_guilds:
        checks.append(await _guild_check(client, guild_id))
    for channel_id in discord_settings.forum_channels:
        checks.append(await _channel_check(client, channel_id, "forum channel", forum=True))
    if discord_settings.triage_channel:
        checks.append(await _channel_check(client, discord_settings.triage_channel, "triage channel"))
    for guild in discord_settings.workspaces:  # each server's own, from [discord.workspaces]
        own = discord_settings.for_workspace(guild).triage_channel
        if own and own != discord_settings.triage_channel:
            checks.append(await _channel_check(client, own, f"triage channel of server {guild}"))
    return checks


async def _shard_check(settings: Settings) -> Check:
    """The gateway shards `supportbot run` will use, their sets per worker, and whether
    Discord recommends more."""
    token = settings.secrets.discord_token
    assert token is not None
    api = api_base(settings.secrets.discord_api_url)
    try:
        recommended = await recommended_shards(api, token.get_secret_value(), rejected=TOKEN_REJECTED)
    except (PlatformError, FatalAdapterError, *_UNREACHABLE) as exc:
        return Check(
            name="discord shards", status="warn", detail=f"could not ask Discord for its count: {exc}"
        )
    configured = settings.discord.shards
    count = recommended if configured == "auto" else configured
    plan = ShardPlan.split(count, settings.discord.shards_per_worker)
    sets = (
        f"{len(plan.sets)} sets of up to {len(plan.sets[0])}, one per worker holding a lease"
        if len(plan.sets) > 1
        else "one process holds them all"
    )
    detail = f"{count} shard(s) ({'auto' if configured == 'auto' else 'shards'} = {configured}); {sets}"
    if count < recommended:
        return Check(
            name="discord shards",
            status="warn",
            detail=f'{detail}; Discord recommends {recommended}: raise [discord] shards or use "auto"',
        )
    return Check(name="discord shards", status="ok", detail=f"{detail}; Discord recommends {recommended}")


async def _guild_check(client: discord.Client, guild_id: str) -> Check:
    try:
        guild = await client.fetch_guild(int(guild_id))
    except (discord.HTTPException, ValueError):
        return Check(
            name="discord server",
            status="fail",
            detail=f"the bot is not in server {guild_id} (command_guilds); invite it with the URL "
            "`supportbot discord invite` prints",
        )
    return Check(
        name="discord server", status="ok", detail=f"slash commands register instantly in {guild.name}"
    )


async def _channel_check(client: discord.Client, channel_id: str, what: str, *, forum: bool = False) -> Check:
    try:
        channel = await client.fetch_channel(int(channel_id))
    except (discord.HTTPException, ValueError):
        return Check(
            name=f"discord {what}",
            status="fail",
            detail=f"the bot cannot see channel {channel_id}; check the id and the bot's "
            "View Channels permission",
        )
    if forum and not isinstance(channel, discord.ForumChannel):
        return Check(
            name=f"discord {what}", status="warn", detail=f"#{channel} ({channel_id}) is not a forum channel"
        )
    return Check(name=f"discord {what}", status="ok", detail=f"#{channel} ({channel_id})")
