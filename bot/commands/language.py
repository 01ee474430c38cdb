"""The language a command's reply is written in.

A command says too little to tell its language ("tickets mine", a person's name in any
script), so the reply is in the one the person's memory holds (bot/privacy/people.py), then
the one their app is set to when the platform says it (Discord's interaction locale), then
English.
"""

from __future__ import annotations

from bot.commands.registry import CommandHost
from bot.messages import spoken
from bot.privacy.people import People
from bot.types import Command


async def reply_language(host: CommandHost, command: Command) -> str:
    """The language to answer `command`'s invoker in."""
    people = People(settings=host.settings, store=host.store, clock=host.clock)
    facts = await people.recall(command.conversation.platform, command.invoker.id)
    return people.language_for(facts, "", spoken(command.locale) or "en")
