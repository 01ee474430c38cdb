"""The language a command's reply is written in.

A command says little ("tickets mine"), so what it says decides only when it is Korean.
Otherwise the reply is in the language the person's memory holds (bot/privacy/people.py),
then the one their app is set to when the platform says it (Discord's interaction locale),
then English.
"""

from __future__ import annotations

from bot.commands.registry import CommandHost
from bot.messages import spoken
from bot.policy import detect_language
from bot.privacy.people import People
from bot.types import Command


async def reply_language(host: CommandHost, command: Command) -> str:
    """The language to answer `command`'s invoker in."""
    # Hangul is typed on purpose however short ("12 해결"); Latin letters are often the
    # command's own words ("tickets mine"), which say nothing of the reader
    if detect_language(command.args) == "ko":
        return "ko"
    people = People(settings=host.settings, store=host.store, clock=host.clock)
    facts = await people.recall(command.conversation.platform, command.invoker.id)
    return people.language_for(facts, "", spoken(command.locale) or "en")
