"""The client's command tree: invocations that no longer fit the commands it registers.

Discord keeps showing a person the commands it was given last (a client's cache, a guild the
last `sync_commands` missed), so after a command is renamed, removed or given other options,
invocations of the old shape still arrive; a forged or broken dispatch may carry no name or
options that are not objects. discord.py logs each with a traceback (or, for a dispatch with
no name, loses the error in its task) and never answers, so the person sees "The application
did not respond". Here each is one rate-limited line, and the person is told, privately and
in their language, that the command changed and how to see the current ones.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import discord
from discord import app_commands

from adapters.discord.translate import PLATFORM
from adapters.rate_limited_log import RateLimitedLog
from bot.messages import say, spoken

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)

# what an invocation of a command the tree no longer has in that shape raises
OUT_OF_DATE = (
    app_commands.CommandNotFound,
    app_commands.CommandSignatureMismatch,
    app_commands.TransformerError,
)
DEEPEST = 3  # a command, a group, a subcommand: Discord nests options no deeper


class SupportTree(app_commands.CommandTree[Any]):
    def __init__(self, client: discord.Client) -> None:
        super().__init__(client)
        self.odd = RateLimitedLog(log, extra={"platform": PLATFORM})

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if readable(interaction.data):
            return True
        self.odd.write("unreadable", "a slash command in a shape Discord does not send: skipped")
        await _tell_out_of_date(interaction)
        return False

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        if not isinstance(error, OUT_OF_DATE):
            await super().on_error(interaction, error)  # our own code's: its traceback is wanted
            return
        kind = type(error).__name__
        self.odd.write(kind, f"a slash command this bot no longer has in that shape ({kind}): told so")
        await _tell_out_of_date(interaction)


def readable(data: object, depth: int = 0) -> bool:
    """Whether an invocation's data is shaped as Discord documents it: a named command whose
    options are a list of named objects, themselves so shaped."""
    if not isinstance(data, Mapping) or not isinstance(data.get("name"), str) or depth > DEEPEST:
        return False
    options = data.get("options", [])
    return isinstance(options, list) and all(readable(option, depth + 1) for option in options)


async def _tell_out_of_date(interaction: discord.Interaction) -> None:
    if interaction.type is not discord.InteractionType.application_command or interaction.response.is_done():
        return  # an autocomplete takes no message; one already answered keeps its answer
    try:
        await interaction.response.send_message(
            say("command_out_of_date", spoken(interaction.locale.value) or "en"),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )
    except discord.HTTPException as exc:  # expired (3 s) or refused: nothing more to say
        log.info("could not say a command is out of date (%s %s)", exc.status, exc.code)
