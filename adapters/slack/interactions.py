"""Slack slash commands, button presses and submitted forms, translated into the core's types.

This module owns what a person does to the bot other than write to it: the slash command as
`Command`, `block_actions` on `supportbot:*` buttons and a submitted form as `ActionEvent`,
each handed to the core, and the last-resort apology (the message path in
adapters/slack/events.py uses it too) when the core failed to tell the person anything itself.
The listeners that ack these and schedule the work are adapters/slack/events.py's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from adapters.inflight import last_resort
from adapters.slack.channel import SlackChannel
from adapters.slack.client import PLATFORM, ctx, message_id
from adapters.slack.directory import SlackDirectory
from adapters.slack.forms import read_submission
from adapters.slack.mrkdwn import plain_from_slack
from adapters.slack.render import action_from_id
from bot.commands import REGISTRY
from bot.messages import say
from bot.policy import detect_language
from bot.ports import Core
from bot.types import ActionEvent, Command, ConversationRef, Reply, ReplyKind

log = logging.getLogger(__name__)


class SlackInteractions:
    """Slash commands, buttons and forms as the core's types, for one connected workspace."""

    def __init__(self, core: Core, directory: SlackDirectory, channel: SlackChannel) -> None:
        self.core = core
        self.directory = directory
        self.channel = channel

    # slash commands --------------------------------------------------------------------

    async def handle_command(self, body: Mapping[str, Any]) -> None:
        channel_id = str(body.get("channel_id") or "")
        user_id = str(body.get("user_id") or "")
        if not channel_id or not user_id:
            # Slack always says who typed it where: without that there is nobody to answer
            log.warning("a slash command without its channel or user: skipped", extra=ctx())
            return
        typed, bot_user_id = str(body.get("text") or ""), self.directory.identity.bot_user_id
        text = plain_from_slack(typed, bot_user_id)
        words = text.split(None, 1)
        name = words[0].lower() if words else "help"  # a bare /support is a request for help
        spec = REGISTRY.get(name)
        if spec is not None and spec.names_people:
            # a person is read from the id (`assign 4 <@U1>`); anywhere else a mention is the
            # name people read, as in a message: a question echoed in the channel shows "@ann"
            words = plain_from_slack(typed, bot_user_id, keep_user_mentions=True).split(None, 1)
        conversation = ConversationRef(
            platform=PLATFORM,
            workspace=str(body.get("team_id") or self.directory.identity.team_id),
            channel=channel_id,
        )
        command = Command(
            id=str(body.get("trigger_id") or f"{channel_id}:{user_id}:{time.time()}"),
            name=name,
            args=words[1].strip() if len(words) > 1 else "",
            invoker=await self.directory.author(user_id, name_hint=str(body.get("user_name") or "")),
            conversation=conversation,
            visibility=await self.directory.visibility(channel_id),
        )
        channel = self.channel.for_command(
            command_id=command.id,
            response_url=body.get("response_url"),
            user_id=user_id,
            channel_id=channel_id,
        )
        # what was typed as the name is logged only when it is a command: `/support <an email>`
        # would otherwise put personal data in the log, which keeps secrets out but not that
        logged = name if spec is not None else "(not a command)"
        try:
            outcome = await self.core.on_command(command, channel)
            log.info("command %s: %s", logged, outcome, extra=ctx(channel_id, command=logged))
        except Exception:
            log.exception("slash command failed", extra=ctx(channel_id, command=logged))
            await apologise(sorry(conversation, user_id, detect_language(text)), channel)

    # buttons -----------------------------------------------------------------------------

    async def handle_action(self, body: Mapping[str, Any]) -> None:
        user_id = id_of(body.get("user"))
        container = as_object(body.get("container"))
        message = as_object(body.get("message"))
        channel_id = id_of(body.get("channel")) or str(container.get("channel_id") or "")
        message_ts = container.get("message_ts") or message.get("ts")
        thread = message.get("thread_ts") or container.get("thread_ts")
        conversation = ConversationRef(
            platform=PLATFORM,
            workspace=installed_team(body) or self.directory.identity.team_id,
            channel=channel_id,
            thread=str(thread) if thread else None,
        )
        actor = await self.directory.author(
            user_id, name_hint=str(as_object(body.get("user")).get("name") or "")
        )
        visibility = await self.directory.visibility(channel_id)
        actions = body.get("actions")
        for action in map(as_object, actions if isinstance(actions, list) else []):
            action_id = str(action.get("action_id") or "")
            kind = action_from_id(action_id)
            if kind is None:
                continue
            event = ActionEvent(
                # one id per press: Slack never resends a block action, a user may press twice
                id=f"{action.get('action_ts') or body.get('trigger_id')}:{user_id}:{action_id}",
                conversation=conversation,
                actor=actor,
                action=kind,
                value=str(action.get("value") or ""),
                visibility=visibility,
                message_id=message_id(channel_id, str(message_ts)) if message_ts else None,
            )
            # the press's trigger id lets the core open a form (Edit on a draft card); its
            # response URL reaches the one who pressed where the bot may not post
            channel = self.channel.for_action(
                trigger_id=body.get("trigger_id"),
                response_url=body.get("response_url"),
                user_id=user_id,
                channel_id=channel_id,
            )
            try:
                outcome = await self.core.on_action(event, channel)
                log.info("button %s: %s", kind, outcome, extra=ctx(channel_id, action=str(kind)))
            except Exception:
                log.exception("button press failed", extra=ctx(channel_id, action=str(kind)))
                # in the language of the message pressed: the core could not say whose it is
                language = detect_language(str(message.get("text") or ""))
                await apologise(sorry(conversation, user_id, language), self.channel)

    async def handle_view(self, body: Mapping[str, Any]) -> None:
        """A submitted form: the press that asked for it again, now with the text typed."""
        view = as_object(body.get("view"))
        submission = read_submission(view)
        if submission is None:
            log.warning("unreadable form submission", extra=ctx())
            return
        user_id = id_of(body.get("user"))
        conversation = ConversationRef(
            platform=PLATFORM,
            workspace=installed_team(body) or self.directory.identity.team_id,
            channel=submission.channel,
            thread=submission.thread,
        )
        event = ActionEvent(
            # a modal is submitted once (it closes): its view id is the submission's identity
            id=f"view:{view.get('id')}:{user_id}",
            conversation=conversation,
            actor=await self.directory.author(
                user_id, name_hint=str(as_object(body.get("user")).get("name") or "")
            ),
            action=submission.action,
            value=submission.value,
            visibility=await self.directory.visibility(submission.channel),
            message_id=submission.message_id,
            text=submission.text,
        )
        try:
            outcome = await self.core.on_action(event, self.channel)
            log.info("form %s: %s", submission.action, outcome, extra=ctx(submission.channel))
        except Exception:
            log.exception("form submission failed", extra=ctx(submission.channel))
            await apologise(sorry(conversation, user_id), self.channel)


def id_of(value: object) -> str:
    """The id in a payload's `user`, `channel`, `team` or `enterprise`: Slack sends an object
    with an `id` in most payloads and the bare id in some (Bolt reads both, and the HTTP guard
    lets both through), so a listener must too."""
    if isinstance(value, str):
        return value
    return str(as_object(value).get("id") or "")


def installed_team(body: Mapping[str, Any]) -> str:
    """The workspace whose install a request came to ("" when it does not say). In a Slack
    Connect channel the top-level `team_id` of an event names the channel's home workspace,
    and the `team` of a form submitted there the submitter's: the install is
    `authorizations[0]` and `view.app_installed_team_id` (Bolt routes by them too). An
    org-wide install names no team there; the request's own is the workspace then."""
    installed = as_object(body.get("view")).get("app_installed_team_id")
    return str(
        installed or _installation(body).get("team_id") or body.get("team_id") or id_of(body.get("team"))
    )


def installed_enterprise(body: Mapping[str, Any]) -> str:
    """The organisation of the install a request came to ("" for a standalone workspace):
    `authorizations[0]`'s when Slack lists it (a shared channel's top-level `enterprise_id`
    is its home organisation's), else the request's own."""
    authorization = _installation(body)
    found = authorization.get("enterprise_id") if authorization else body.get("enterprise_id")
    return str(found or "")


def _installation(body: Mapping[str, Any]) -> Mapping[str, Any]:
    authorizations = body.get("authorizations")
    return as_object(authorizations[0]) if isinstance(authorizations, list) and authorizations else {}


def as_object(value: object) -> Mapping[str, Any]:
    """`value` if it is an object; an empty one for anything else a payload may hold there."""
    return value if isinstance(value, Mapping) else {}


def sorry(conversation: ConversationRef, user_id: str, language: str = "en") -> Reply:
    """The apology for a failed command, press or form, shown to the one who did it."""
    return Reply(
        conversation=conversation,
        text=say("error_no_ticket", language),
        kind=ReplyKind.ERROR,
        ephemeral_to=user_id,
    )


async def apologise(reply: Reply, channel: SlackChannel) -> None:
    """Post `reply` as a last resort: a failure to post it is logged, never raised."""
    # the channel goes in the sentence: last_resort logs without our `extra` context
    await last_resort(
        lambda: channel.send(reply),
        what=f"tell the user about the failure in {reply.conversation.channel}",
        log=log,
    )
