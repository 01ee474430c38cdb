"""Slash commands and buttons: the `/support` and `/support-admin` app command trees, built
from the core's command registry, and the one persistent button item.

This module owns the command schema Discord sees (names, descriptions, options, choices,
default permissions), registering it with Discord (`sync_commands`), and routing an
invocation or a press to an `InteractionHandler` (the adapter's event handling,
`adapters/discord/events.py`). It decides nothing about what a
command does: the core runs it.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol, runtime_checkable

import discord
from discord import app_commands

from adapters.discord.render import truncate
from adapters.discord.translate import PLATFORM
from bot.commands import REGISTRY, CommandSpec

COMMAND_GROUP = "support"
ADMIN_COMMAND_GROUP = "support-admin"
DESCRIPTION_LIMIT = 100  # slash command and option descriptions
CUSTOM_ID_TEMPLATE = r"supportbot:(?P<action>[a-z_]+):(?P<value>\S+)"

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)


@runtime_checkable
class InteractionHandler(Protocol):
    """Who slash commands and button presses go to (the adapter's event handling)."""

    async def handle_command(
        self, interaction: discord.Interaction, spec: CommandSpec, values: Mapping[str, Any]
    ) -> None: ...

    async def handle_button(self, interaction: discord.Interaction, custom_id: str) -> None: ...


class SupportButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=CUSTOM_ID_TEMPLATE):
    """Every `supportbot:<action>:<value>` button, whichever message carries it: registered
    once per client (`add_dynamic_items`), so presses work after restarts. The press goes to
    the client's `handler` (`SupportClient` provides it)."""

    def __init__(
        self,
        custom_id: str,
        *,
        label: str | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        super().__init__(discord.ui.Button(custom_id=custom_id, label=label, style=style))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SupportButton:
        button: Any = item  # the template only matches buttons' custom ids
        return cls(button.custom_id, label=button.label, style=button.style)

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = getattr(interaction.client, "handler", None)
        if isinstance(handler, InteractionHandler):
            await handler.handle_button(interaction, str(self.item.custom_id))


CommandCallback = Callable[..., Coroutine[Any, Any, None]]


def _command_callback(handler: InteractionHandler, spec: CommandSpec) -> CommandCallback:
    """A callback whose signature discord.py reads as the spec's string options, described
    and (where the spec lists them) restricted to choices through discord.py's decorators."""

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await handler.handle_command(interaction, spec, values)

    parameters = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    for param in spec.params:
        parameters.append(
            inspect.Parameter(
                param.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str if param.required else str | None,
                default=inspect.Parameter.empty if param.required else None,
            )
        )
    # The options come from the registry at run time, so the signature cannot be written
    # out; `inspect.signature` (which discord.py reads) honours `__signature__` (PEP 362).
    # mypy does not know functions take arbitrary attributes.
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    described: CommandCallback = app_commands.describe(
        **{p.name: truncate(p.help, DESCRIPTION_LIMIT) for p in spec.params}
    )(callback)
    choices = {
        p.name: [app_commands.Choice(name=c, value=c) for c in p.choices] for p in spec.params if p.choices
    }
    if choices:
        described = app_commands.choices(**choices)(described)
    return described


def build_command_groups(handler: InteractionHandler) -> tuple[app_commands.Group, app_commands.Group]:
    """`/support` (everyone's and staff commands) and `/support-admin` (admin commands).

    Discord applies default permissions to a whole top-level command, never to one
    subcommand, so admin commands live in their own group, hidden by default from members
    without Manage Server (a server can widen that in Server Settings > Integrations).
    The core checks every invocation again (admin roles and users from the configuration
    count too); staff commands are checked at run time only.
    """
    support = app_commands.Group(name=COMMAND_GROUP, description="Ask the support bot and work with tickets")
    admin = app_commands.Group(
        name=ADMIN_COMMAND_GROUP,
        description="Support bot administration",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )
    for spec in REGISTRY:
        group = admin if spec.admin_only else support
        command: app_commands.Command[Any, ..., None] = app_commands.Command(
            name=spec.name,
            description=truncate(spec.help, DESCRIPTION_LIMIT),
            callback=_command_callback(handler, spec),
            parent=group,
        )
        group.add_command(command)
    return support, admin


async def sync_commands(tree: app_commands.CommandTree, guilds: tuple[str, ...]) -> None:
    """Register the trees with Discord: in each of `guilds` (instant), or globally when none.
    A failure is logged, not raised: the bot still answers mentions and DMs, and
    `supportbot doctor` says what is wrong."""
    try:
        if not guilds:
            synced = await tree.sync()
            log.info(
                "slash commands registered globally", extra={"platform": PLATFORM, "commands": len(synced)}
            )
            return
        for guild_id in guilds:
            guild = discord.Object(id=int(guild_id))
            tree.copy_global_to(guild=guild)
            synced = await tree.sync(guild=guild)
            log.info(
                "slash commands registered",
                extra={"platform": PLATFORM, "guild": guild_id, "commands": len(synced)},
            )
    except discord.HTTPException as exc:
        log.error(
            "could not register the slash commands (%s %s): %s",
            exc.status,
            exc.code,
            exc.text,
            extra={"platform": PLATFORM},
        )
