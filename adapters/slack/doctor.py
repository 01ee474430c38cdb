"""`doctor_checks`: what `supportbot doctor` asks of Slack, each problem with what to do.

This module owns the checks: the bot token (auth.test), its granted scopes against the
manifest's `BOT_SCOPES`, the transport (Socket Mode's app-level token, or HTTP mode's
signing secret), the configured user groups and the triage channel. With the app installed
in several workspaces (OAuth: no SLACK_BOT_TOKEN), the same of each installed workspace,
with the token its install keeps in the state database. It only reads, and prints no token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.client import FATAL_AUTH_ERRORS, TOKEN_HELP, api_url, make_web_client, slack_error
from adapters.slack.directory import configured_groups
from adapters.slack.installations import INSTALL_PATH
from adapters.slack.manifest import BOT_SCOPES
from adapters.slack.transport import EVENTS_PATH
from bot.channel_types import Visibility
from bot.checks import Check
from bot.config import Settings
from bot.errors import SupportBotError
from bot.store import StateStore
from bot.store.slack_installs import SlackInstallRecord

_UNREACHABLE = (aiohttp.ClientError, TimeoutError, OSError)


def _check(name: str, status: Literal["ok", "warn", "fail"], *parts: str) -> Check:
    return Check(name=name, status=status, detail="".join(parts))


async def doctor_checks(settings: Settings) -> list[Check]:
    """Token, scopes, transport, and the configured groups and triage channel, each with
    what to do about a problem."""
    async with aiohttp.ClientSession() as session:
        if settings.slack_oauth:
            return await _installed(settings, session)
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
        return [_unreachable(settings, exc)]
    return [
        _token_check(auth),
        _scope_check(auth.headers),
        await _transport_check(settings, client),
        *await _workspace_checks(settings, client, str(auth.get("team_id") or "") or None),
    ]


def _unreachable(settings: Settings, exc: BaseException) -> Check:
    return _check(
        "slack token",
        "fail",
        f"cannot reach the Slack Web API at {api_url(settings)} ({type(exc).__name__}); ",
        "check the network, a proxy, or SLACK_API_URL",
    )


def _token_check(auth: AsyncSlackResponse) -> Check:
    who = f"team {auth.get('team')} ({auth.get('team_id')}), "
    return _check("slack token", "ok", who, f"bot @{auth.get('user')} ({auth.get('user_id')})")


async def _installed(settings: Settings, session: aiohttp.ClientSession) -> list[Check]:
    """Several workspaces (OAuth): the app's credentials (`Settings.slack_oauth` holds only
    with all three), then each installed workspace as `_doctor` checks the one of
    SLACK_BOT_TOKEN, with its install's token; no install yet is a warning, not a failure."""
    install_url = f"https://<your host>{INSTALL_PATH}"
    checks = [
        _check(
            "slack oauth",
            "ok",
            f"several workspaces: SLACK_CLIENT_ID {settings.secrets.slack_client_id}, SLACK_CLIENT_SECRET ",
            f"and SLACK_SIGNING_SECRET set; Slack must reach POST https://<your host>{EVENTS_PATH}, ",
            f"and workspaces install the app at {install_url}",
        )
    ]
    try:
        state = StateStore.open(settings)
        try:
            installs = state.slack_installations()
        finally:
            state.close()
    except SupportBotError as exc:
        return [*checks, _check("slack workspaces", "fail", f"cannot read the installs: {exc}")]
    if not installs:
        return [
            *checks,
            _check(
                "slack workspaces", "warn", f"none installed the app yet: open {install_url} to install it"
            ),
        ]
    named = ", ".join(f"{r.team_name} ({r.team_id or r.enterprise_id})" for r in installs)
    checks.append(_check("slack workspaces", "ok", f"{len(installs)} installed: {named}"))
    checks.extend(_unnamed_internal(settings, installs))
    for install in installs:
        try:
            checks.extend(await _install_checks(settings, session, install, install_url))
        except _UNREACHABLE as exc:
            return [*checks, _unreachable(settings, exc)]  # nor for the next workspace
    return checks


def _unnamed_internal(settings: Settings, installs: list[SlackInstallRecord]) -> list[Check]:
    """Workspaces that installed the app without a section of their own read every document
    when `[slack] default_visibility` is internal (its default): anyone who can open the
    install page gets internal documents in their workspace, which is rarely meant once the
    app is distributed beyond one organisation."""
    if settings.slack.default_visibility != Visibility.INTERNAL:
        return []
    unnamed = [r for r in installs if r.team_id and r.team_id not in settings.slack.workspaces]
    if not unnamed:
        return []
    teams = ", ".join(f"{r.team_name} ({r.team_id})" for r in unnamed)
    return [
        _check(
            "slack visibility",
            "warn",
            f"{teams} answer(s) from internal documents: they have no [slack.workspaces.T…] section ",
            'and [slack] default_visibility is "internal". If people outside your organisation can ',
            'install the app, set [slack] default_visibility = "public" and name your own workspaces',
        )
    ]


async def _install_checks(
    settings: Settings, session: aiohttp.ClientSession, install: SlackInstallRecord, install_url: str
) -> list[Check]:
    """One installed workspace's token, scopes, groups and triage channel, each check named
    with the install's team (or organisation, for an org-wide install)."""
    team = install.team_id or install.enterprise_id
    token = str(install.data.get("bot_token") or "")
    client = make_web_client(settings, session=session, retry_interval=0.5, token=token)
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        code = slack_error(exc)
        # the workspace removed the app (an uninstall the bot did not hear of) or revoked the
        # token: nothing here to fix, and the other workspaces are served
        status: Literal["warn", "fail"] = "warn" if code in FATAL_AUTH_ERRORS else "fail"
        refused = _check(
            f"slack token ({team})",
            status,
            f"Slack refused the token {install.team_name} ({team}) installed ({code}); ",
            f"it is answered again once someone there installs the app at {install_url}",
        )
        return [refused]
    checks = [
        _token_check(auth),
        _scope_check(auth.headers),
        *await _workspace_checks(settings, client, install.team_id or None),
    ]
    return [replace(check, name=f"{check.name} ({team})") for check in checks]


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
