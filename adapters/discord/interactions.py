"""Interactions: a slash command, a button press or a submitted form, up to handing it to the core.

This module owns what each interaction needs before the core sees it: acknowledging it first
thing (Discord forgets one not acknowledged within 3 seconds), except a press that may open
a form (a modal must be its first answer: `InteractionChannel` acknowledges it later),
reading it into the core's `Command` or `ActionEvent` (a malformed one is logged and
skipped), and calling the core with the `InteractionChannel` for it, which apologises when
the core fails. adapters/discord/events.py starts each as its own task in the adapter's
`InFlight`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import discord

from adapters.discord.channel import DiscordChannel
from adapters.discord.event_channels import FORM_INPUT_ID, InteractionChannel
from adapters.discord.render import parse_custom_id
from adapters.discord.translate import PLATFORM, author_from, command_args, command_options, interaction_place
from bot.commands import CommandSpec
from bot.ports import FORM_ACTIONS, Core
from bot.types import ActionEvent, ActionKind, Command

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)


class Interactions:
    """Slash commands, button presses and submitted forms, each handled in the task that
    `Events` (adapters/discord/events.py) starts for it."""

    def __init__(self, core: Core, channel: DiscordChannel) -> None:
        self.core = core
        self.channel = channel

    async def run_command(
        self, interaction: discord.Interaction, spec: CommandSpec, values: Mapping[str, Any]
    ) -> None:
        try:
            # First thing: Discord forgets an interaction not acknowledged within 3 s.
            await interaction.response.defer(ephemeral=spec.ephemeral, thinking=True)
        except discord.HTTPException as exc:
            log.error(
                "could not acknowledge a slash command (%s %s)",
                exc.status,
                exc.code,
                extra={"platform": PLATFORM, "command": spec.name, "interaction": interaction.id},
            )
            return
        try:
            conversation, visibility = interaction_place(interaction)
            command = Command(
                id=str(interaction.id),
                name=spec.name,
                args=command_args(spec, values),
                invoker=author_from(interaction.user),
                conversation=conversation,
                visibility=visibility,
                options=command_options(spec, values),
                locale=interaction.locale.value,
            )
        except Exception:
            # A malformed interaction is this one event's problem: skip it, keep serving.
            log.exception(
                "could not read a slash command",
                extra={"platform": PLATFORM, "command": spec.name, "interaction": interaction.id},
            )
            return
        channel = InteractionChannel(
            self.channel, interaction, conversation, thinking=True, ephemeral_thinking=spec.ephemeral
        )
        try:
            await self.core.on_command(command, channel)
        except Exception:
            log.exception(
                "slash command failed",
                extra={"platform": PLATFORM, "channel": conversation.channel, "command": spec.name},
            )
            await channel.apologise()
        finally:
            await channel.finish()

    async def press_button(self, interaction: discord.Interaction, custom_id: str) -> None:
        parsed = parse_custom_id(custom_id)
        # a button that may open a form is answered by the form itself (a modal must be the
        # first answer): acknowledged later, by the channel (see event_channels.py)
        may_open_form = parsed is not None and parsed[0] in FORM_ACTIONS
        # a button: acknowledge, leave the message as is
        if not may_open_form and not await _deferred(interaction, "button"):
            return
        if parsed is None:
            log.warning("unknown button", extra={"platform": PLATFORM, "custom_id": custom_id})
            return
        action, value = parsed
        await self._act(interaction, action, value, None, open_for_form=may_open_form)

    async def submit_form(self, interaction: discord.Interaction) -> None:
        data: Any = interaction.data or {}
        parsed = parse_custom_id(str(data.get("custom_id") or ""))
        if parsed is None:
            return  # not a form of ours
        if not await _deferred(interaction, "form"):  # the form closes; the card is edited by the core
            return
        action, value = parsed
        await self._act(interaction, action, value, _submitted_text(data.get("components")))

    async def _act(
        self,
        interaction: discord.Interaction,
        action: ActionKind,
        value: str,
        text: str | None,
        *,
        open_for_form: bool = False,
    ) -> None:
        """Hand a press (or a submitted form, with its text) to the core."""
        try:
            conversation, visibility = interaction_place(interaction)
            event = ActionEvent(
                id=str(interaction.id),
                conversation=conversation,
                actor=author_from(interaction.user),
                action=action,
                value=value,
                visibility=visibility,
                message_id=str(interaction.message.id) if interaction.message else None,
                text=text,
                locale=interaction.locale.value,
            )
        except Exception:
            log.exception(
                "could not read a button press", extra={"platform": PLATFORM, "interaction": interaction.id}
            )
            return
        channel = InteractionChannel(
            self.channel, interaction, conversation, thinking=False, open_for_form=open_for_form
        )
        deadline = asyncio.create_task(channel.acknowledge_by_deadline())
        try:
            await self.core.on_action(event, channel)
        except Exception:
            log.exception(
                "button failed",
                extra={"platform": PLATFORM, "channel": conversation.channel, "action": str(action)},
            )
            await channel.acknowledge()
            await channel.apologise()
        finally:
            deadline.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deadline
            await channel.finish()


def _submitted_text(components: object) -> str:
    """The value of the form's text input in a MODAL_SUBMIT's rows (or labels); anything not
    shaped as Discord documents them is passed over (an empty text, never a crash)."""
    for row in _objects(components):
        inner = row.get("components")
        for component in _objects(inner if inner else [row.get("component")]):
            if component.get("custom_id") == FORM_INPUT_ID:
                return str(component.get("value") or "")
    return ""


def _objects(value: object) -> list[Mapping[str, Any]]:
    """The objects in `value` if it is a list; nothing for anything else."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


async def _deferred(interaction: discord.Interaction, what: str) -> bool:
    """Acknowledge `interaction` (a button or a form: `what`) without a reply; whether Discord
    took it (if not, it is logged and the press is dropped: Discord shows the person it failed)."""
    try:
        await interaction.response.defer()
    except discord.HTTPException as exc:
        log.error(
            "could not acknowledge a %s (%s %s)",
            what,
            exc.status,
            exc.code,
            extra={"platform": PLATFORM, "interaction": interaction.id},
        )
        return False
    return True
