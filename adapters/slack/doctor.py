"""`doctor_checks`: what `supportbot doctor` asks of Slack, each problem with what to do.

This module owns the checks: the bot token (auth.test), its granted scopes against the
manifest's `BOT_SCOPES`, the transport (Socket Mode's app-level token, or HTTP mode's
signing secret), the configured user groups and the triage channel. It only reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import TOKEN_HELP, api_url, make_web_client, slack_error
from adapters.slack.directory import configured_groups
from adapters.slack.manifest import BOT_SCOPES
from adapters.slack.transport import EVENTS_PATH
from bot.checks import Check
from bot.config import Settings

_UNREACHABLE = (aiohttp.ClientError, TimeoutError, OSError)


def _check(name: str, status: Literal["ok", "warn", "fail"], *parts: str) -> Check:
    return Check(name=name, status=status, detail="".join(parts))


async def doctor_checks(settings: Settings) -> list[Check]:
    """Token, scopes, transport, and the configured groups and triage channel, each with
    what to do about a problem."""
    async with aiohttp.ClientSession() as session:
        client = make_web_client(settings, session=session, retry_interval=0.5)
        return await _doctor(settings, client)


async def _doctor(settings: Settings, client: AsyncWebClient) -> list[Check]:
    if settings.secrets.slack_bot_token is None:
        return [_check("slack token", "fail", "SLACK_BOT_TOKEN is not set")]
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        code = slack_error(exc)
        return [_check("slack token", "fail", f"Slack refused SLACK_BOT_TOKEN ({code}); ", TOKEN_HELP)]
    except _UNREACHABLE as exc:
        return [
            _check(
                "slack token",
                "fail",
                f"cannot reach the Slack Web API at {api_url(settings)} ({type(exc).__name__}); ",
                "check the network, a proxy, or SLACK_API_URL",
            )
        ]
    who = f"team {auth.get('team')} ({auth.get('team_id')}), "
    bot = f"bot @{auth.get('user')} ({auth.get('user_id')})"
    return [
        _check("slack token", "ok", who, bot),
        _scope_check(auth.headers),
        await _transport_check(settings, client),
        *await _workspace_checks(settings, client, str(auth.get("team_id") or "") or None),
    ]


def _scope_check(headers: Mapping[str, Any]) -> Check:
    header = next((str(v) for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
    if header is None:
        return _check("slack scopes", "warn", "Slack did not report the granted scopes")
    granted = {scope.strip() for scope in header.split(",") if scope.strip()}
    missing = [scope for scope in BOT_SCOPES if scope not in granted]
    if missing:
        return _check(
            "slack scopes",
            "fail",
            f"missing: {', '.join(missing)}. Add them under OAuth & Permissions (or recreate ",
            "the app from `supportbot slack manifest`), then reinstall the app to the workspace",
        )
    return _check("slack scopes", "ok", f"all {len(BOT_SCOPES)} scopes the bot uses are granted")


async def _transport_check(settings: Settings, client: AsyncWebClient) -> Check:
    app_token = settings.secrets.slack_app_token
    if app_token is None:
        if settings.secrets.slack_signing_secret is None:
            return _check("slack transport", "fail", "set SLACK_APP_TOKEN or SLACK_SIGNING_SECRET")
        return _check(
            "slack transport",
            "ok",
            f"HTTP mode: Slack must reach POST https://<your host>{EVENTS_PATH} ",
            "(supportbot run --host/--port); requests are checked with SLACK_SIGNING_SECRET",
        )
    try:
        await client.apps_connections_open(app_token=app_token.get_secret_value())
    except SlackApiError as exc:
        return _check(
            "slack socket mode",
            "fail",
            f"SLACK_APP_TOKEN cannot open a connection ({slack_error(exc)}); create an app-level ",
            "token with the connections:write scope and turn Socket Mode on",
        )
    except _UNREACHABLE as exc:
        return _check("slack socket mode", "fail", f"cannot reach Slack ({type(exc).__name__})")
    return _check("slack socket mode", "ok", "the app-level token can open a connection")


async def _workspace_checks(settings: Settings, client: AsyncWebClient, team: str | None) -> list[Check]:
    """The groups and triage channel the token's workspace uses (its `[slack.workspaces]`
    overrides over the shared settings)."""
    checks: list[Check] = []
    slack = settings.slack.for_workspace(team)
    for group in configured_groups(settings, team):
        name = f"slack group {group}"
        try:
            users = (await client.usergroups_users_list(usergroup=group)).get("users") or []
        except SlackApiError as exc:
            checks.append(
                _check(
                    name,
                    "warn",
                    f"cannot read this user group ({slack_error(exc)}); ",
                    "check the id (S...) in supportbot.toml",
                )
            )
        else:
            checks.append(_check(name, "ok", f"{len(users)} member(s)"))
    if slack.triage_channel:
        checks.append(await _triage_check(slack.triage_channel, client))
    return checks


async def _triage_check(channel: str, client: AsyncWebClient) -> Check:
    name = "slack triage channel"
    try:
        info = (await client.conversations_info(channel=channel)).get("channel") or {}
    except SlackApiError as exc:
        return _check(
            name,
            "warn",
            f"cannot see {channel} ({slack_error(exc)}); ",
            "check the channel id and invite the bot",
        )
    if not info.get("is_member"):
        return _check(name, "warn", f"the bot is not in #{info.get('name')}; /invite it there")
    return _check(name, "ok", f"#{info.get('name')} ({channel})")
