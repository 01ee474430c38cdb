"""The Slack app manifest that `supportbot slack manifest` prints.

This module owns the single list of what the Slack app must be allowed to do: the bot
scopes (exactly those the `adapters.slack` package uses, each with the reason), the bot
events it subscribes to, the slash command (described from the command registry),
interactivity and Socket Mode. `supportbot doctor` compares a token's granted scopes with
`BOT_SCOPES`, and a test checks that `knowledge/slack-setup.md` names every scope and event
listed here.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from bot.commands import REGISTRY
from bot.config import Settings

APP_NAME = "supportbot"

# scope -> why the adapter needs it (shown in the setup page; keep the two in step)
BOT_SCOPE_REASONS: dict[str, str] = {
    "app_mentions:read": "receive app_mention events when someone @mentions the bot",
    "channels:history": "read messages in public channels it is in (follow-ups, auto-answer)",
    "groups:history": "the same in private channels it is invited to",
    "im:history": "read direct messages sent to the bot",
    "channels:read": "look up a public channel (is it shared with another organisation?)",
    "groups:read": "the same for private channels",
    "chat:write": "post answers, escalations and ticket cards, and update them",
    "commands": "receive the slash command",
    "reactions:write": "add and remove the 'thinking' reaction on a question",
    "users:read": "read a person's name and whether they are a workspace admin",
    "usergroups:read": "check membership of the staff and admin user groups",
}
BOT_SCOPES: tuple[str, ...] = tuple(BOT_SCOPE_REASONS)

# The app-level token (Socket Mode) needs this scope; it is granted when the token is
# created, not through the manifest.
APP_TOKEN_SCOPE = "connections:write"

# app_uninstalled and tokens_revoked need no scope, and Slack sends them only to an app
# subscribed to them: they are what runs Bolt's revocation listeners, which delete an
# uninstalled workspace's install (and its token) from the state (adapters/slack/transport.py).
# channel_shared and channel_unshared (with channels:read / groups:read) say a channel the
# bot is in was shared with another organisation, or no longer is: what it quotes there
# changes at once, not when its cached visibility expires (adapters/slack/events.py)
BOT_EVENTS: tuple[str, ...] = (
    "app_mention",
    "message.channels",
    "message.groups",
    "message.im",
    "app_uninstalled",
    "tokens_revoked",
    "channel_shared",
    "channel_unshared",
)


def usage_hint() -> str:
    """`help | ask <question> | ...`: every registered command, from the registry."""
    return " | ".join(spec.usage("").strip() for spec in REGISTRY)


def build_manifest(
    settings: Settings, *, request_url: str | None = None, name: str = APP_NAME
) -> dict[str, Any]:
    """The manifest as a dict. With `request_url` (HTTP mode, e.g.
    https://bot.example.com/slack/events) Socket Mode is off and Slack posts there instead."""
    command: dict[str, Any] = {
        "command": settings.slack.slash_command,
        "description": "Ask the support bot a question or run a support command",
        "usage_hint": usage_hint()[:1000],
        # Slack then sends "@ann" as <@U123|ann>: commands like `assign` need the user id
        "should_escape": True,
    }
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if request_url:
        command["url"] = request_url
        events["request_url"] = request_url
        interactivity["request_url"] = request_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Answers questions from your documentation, with sources, "
            "and hands the rest to your team.",
            "background_color": "#2c2d30",
        },
        "features": {
            # the Messages tab must accept messages or people cannot DM the bot
            "app_home": {
                "home_tab_enabled": False,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": request_url is None,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(settings: Settings, *, request_url: str | None = None) -> str:
    """The manifest as YAML, ready for Slack's "Create app from manifest"."""
    text: str = yaml.safe_dump(
        build_manifest(settings, request_url=request_url),
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return text


def manifest_json(settings: Settings, *, request_url: str | None = None) -> str:
    """The same manifest as JSON (Slack accepts either)."""
    return json.dumps(build_manifest(settings, request_url=request_url), indent=2)
