"""Finding a post of the bot's by a button it shows (`bot.ports.FindsPosts`) on Discord.

A process killed after a ticket's card went out but before the store noted it leaves a claim
that lapses; the claim that takes it over reads the channel's history after the ticket's
opening, newest first back to it (`GET /channels/{id}/messages?after=...`), for the bot's earliest message
whose buttons include the card's (`render.custom_id`), so the card is edited instead of posted
a second time. Which buttons a sent message shows (`button_ids`) is this module's: `send`
checks it too.

A card too long for one message shows its buttons on its last part (adapters/discord/post_ids.py):
that message alone is the post found. The parts before it are not guessed at (another bot
message, a burst alert, may come just before it): the edit brings that message to the card,
and an earlier part, if any, stays as it was.
"""

from __future__ import annotations

import logging
from datetime import datetime

import aiohttp
import discord

from adapters.discord.find_reply import UNKNOWN_CHANNEL
from adapters.discord.post_ids import post_id
from adapters.discord.render import custom_id
from adapters.discord.translate import PLATFORM
from bot.channel_types import DM_WORKSPACE
from bot.errors import PlatformError
from bot.types import Button, ConversationRef, Posted

log = logging.getLogger("adapters.discord")

# messages read after `after`, newest first (five of Discord's pages of 100): the card is
# among them unless more than that were said in the triage channel since it went out
LOOK_AT = 500


def button_ids(sent: discord.Message) -> list[str]:
    """The custom ids of the buttons a message shows, in order."""
    return [
        child.custom_id
        for row in sent.components
        if isinstance(row, discord.ActionRow)
        for child in row.children
        if isinstance(child, discord.Button) and child.custom_id
    ]


async def find_post(
    client: discord.Client, where: ConversationRef, after: datetime, button: Button
) -> Posted | None:
    """`bot.ports.FindsPosts.find_post` on Discord (see the module docstring). None when there
    is none, or Discord closes the channel to the bot (403, or 404 Unknown Channel): then the
    card is posted. PlatformError when Discord gave no answer (a 5xx, a rate limit, the
    network) or refused the token: the card is tried again later."""
    me = client.user
    if me is None:
        raise PlatformError("not signed in to Discord: cannot look for an earlier post")
    wanted = custom_id(button.action, button.value)
    guild_id = None if where.workspace == DM_WORKSPACE else int(where.workspace)
    # newest first, back to `after`: a card posted late (its first tries failed for hours) is
    # among the newest; of the bot's messages showing the button, the earliest read is the card
    history = client.get_partial_messageable(int(where.channel), guild_id=guild_id).history(
        after=discord.Object(id=discord.utils.time_snowflake(after)), limit=LOOK_AT, oldest_first=False
    )
    found: int | None = None
    try:
        async for message in history:
            if message.author.id == me.id and wanted in button_ids(message):
                found = message.id
    except (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, TimeoutError) as exc:
        status = getattr(exc, "status", None)
        code = getattr(exc, "code", None)
        closed = isinstance(exc, discord.Forbidden) or (
            isinstance(exc, discord.NotFound) and code == UNKNOWN_CHANNEL
        )
        log.warning(
            "could not read the history for an earlier post (%s %s): %s",
            status,
            code,
            type(exc).__name__,
            extra={"platform": PLATFORM, "channel": where.channel, "status": status, "code": code},
        )
        if closed:  # waiting would not help: the card is posted
            return None
        raise PlatformError(f"reading the history failed: {type(exc).__name__} {status} {code}") from exc
    return None if found is None else Posted(message_id=post_id([found]), conversation=where)
