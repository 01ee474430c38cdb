"""Bolt's listeners when several workspaces share the app (OAuth installs): each request is
handed to its team's `SlackEvents` (adapters/slack/workspaces.py builds them), which acks and
answers it exactly as a one-workspace app does; and each request's own team and organisation,
which teach `Workspaces` what a workspace's organisation is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack.events import SHARING_EVENTS, Ack, SlackEvents, log_bolt_error
from adapters.slack.forms import CALLBACK_ID
from adapters.slack.interactions import id_of
from adapters.slack.workspaces import Workspaces


def request_team(body: Mapping[str, Any]) -> tuple[str, str | None]:
    """The team and organisation a request comes from (events, commands and interactions
    spell them differently)."""
    team = body.get("team_id") or id_of(body.get("team"))
    enterprise = body.get("enterprise_id") or id_of(body.get("enterprise"))
    named = body.get("team")
    if not enterprise and not body.get("team_id") and isinstance(named, Mapping):
        enterprise = named.get("enterprise_id")  # interactions name it on the team alone
    return str(team), str(enterprise) if enterprise else None


class RoutedListeners:
    """Bolt's listeners when several workspaces share the app: each request is handled by
    its team's `SlackEvents`, exactly as a one-workspace app handles it (same acks)."""

    def __init__(self, workspaces: Workspaces) -> None:
        self.workspaces = workspaces

    async def _events(self, body: Mapping[str, Any], context: AsyncBoltContext) -> SlackEvents:
        team, enterprise = request_team(body)
        # kept only when the install that took it is its organisation's: a Slack Connect
        # customer of another organisation is served by this one's install, never theirs
        if team and enterprise and enterprise == context.enterprise_id:
            await self.workspaces.learned(team, enterprise)
        # the organisation Bolt authorised with, never the payload's: for a standalone
        # install in a shared channel that is the channel's home organisation
        return await self.workspaces.get(
            context.team_id or team,
            context.enterprise_id,
            context.bot_token,
            is_enterprise_install=bool(context.is_enterprise_install),
        )

    def register(self, app: AsyncApp, slash_command: str) -> None:
        # the same listeners as SlackEvents.register, routed by team
        app.event("app_mention")(self._on_event)
        app.event("message")(self._on_event)
        app.command(slash_command)(self._on_command)
        app.action(re.compile(r"^supportbot:"))(self._on_action)
        app.view(CALLBACK_ID)(self._on_view)
        for shared in SHARING_EVENTS:
            app.event(shared)(self._on_sharing)
        app.event(re.compile(r".*"))(self._on_other)
        app.action(re.compile(r".*"))(self._on_other)
        app.error(self._on_bolt_error)

    async def _on_event(
        self, body: dict[str, Any], context: AsyncBoltContext, request: AsyncBoltRequest
    ) -> None:
        await (await self._events(body, context))._on_event(body, request)

    async def _on_command(self, ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await (await self._events(body, context))._on_command(ack, body)

    async def _on_action(self, ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await (await self._events(body, context))._on_action(ack, body)

    async def _on_view(self, ack: Ack, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await (await self._events(body, context))._on_view(ack, body)

    async def _on_sharing(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        event = body.get("event") or {}
        if self.workspaces.heard is not None:
            self.workspaces.heard.saw(event)
        # not routed: every workspace in the channel (each installed one) has it cached
        self.workspaces.forget_channel(str(event.get("channel") or ""))

    async def _on_other(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        if self.workspaces.heard is not None:  # a reaction, a join: heard, though not recorded
            self.workspaces.heard.saw(body.get("event") or {})

    async def _on_bolt_error(self, error: Exception, body: dict[str, Any]) -> None:
        log_bolt_error(error)
