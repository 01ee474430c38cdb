"""The language a command's reply is written in.

A command says too little to tell its language ("tickets mine"), so the reply is in the one
the person's memory holds (bot/privacy/people.py), and English when their memory is off.
"""

from __future__ import annotations

from bot.commands.registry import CommandHost
from bot.privacy.people import People
from bot.types import Command


async def reply_language(host: CommandHost, command: Command) -> str:
    """The language to answer `command`'s invoker in."""
    people = People(settings=host.settings, store=host.store, clock=host.clock)
    facts = await people.recall(command.conversation.platform, command.invoker.id)
    return people.language_for(facts, "", "en")
