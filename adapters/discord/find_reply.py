"""Finding what the bot already posted in answer to a message (`bot.ports.FindsReplies`).

A process killed after its answer went out but before the inbox noted it leaves a replay
with no post to resume; this module reads Discord's message history to find that post, so
the replay edits it instead of posting a second answer.

It looks where `DiscordChannel` posts an answer: for a question in a text channel, in the
thread started from it (the thread has the question's id); for a question inside a thread or
forum post, in a DM, or in a channel where no thread could be started, in place, after the
question. In place, the answer is the bot's message that replies to the question (`send`
references the question everywhere but in the thread started from it, the "thinking" post
of a streamed answer too): that names the question exactly, whoever spoke in between, and
never takes the bot's answer to an earlier question asked in the same place; of several such,
the last (an answer said anew below a message Discord would not edit). In the
question's own thread, which holds nothing else, it is also the bot's first message that
replies to nothing, before any person spoke (after a person spoke, the bot's next message
may be answering them, as the port says); the same in a forum post the question starts.
A reply too long for one message goes on in the bot's messages right after its first, which
reply to nothing (`render_reply`): those are its parts, up to the first message that is not
one (adapters/discord/post_ids.py), so the replay's edit reaches them all.

It only reads (`GET /channels/{id}/messages?after=...`), never raises: a refusal, a rate
limit or a network failure is one log line and None (the replay then answers anew).
"""

from __future__ import annotations

import logging

import aiohttp
import discord

from adapters.discord.post_ids import post_id
from adapters.discord.translate import PLATFORM
from bot.channel_types import DM_WORKSPACE
from bot.types import ConversationRef, InboundMessage, Posted

log = logging.getLogger("adapters.discord")

# How far past the question to look. A thread holds few messages before the bot's answer; a
# busy channel may hold more between a question and its reply.
LOOKAHEAD = 100  # Discord's largest page: one request, however busy the channel
UNKNOWN_CHANNEL = 10003  # no thread was started from the question
# People writing: joins, pins and thread notices are not someone speaking.
_SPOKEN = frozenset({discord.MessageType.default, discord.MessageType.reply})


class _NoThread(Exception):
    """The question has no thread of its own: its answer, if any, is in place."""


async def find_reply(client: discord.Client, message: InboundMessage) -> Posted | None:
    """`bot.ports.FindsReplies.find_reply` on Discord (see the module docstring)."""
    me = client.user
    # an edit's event (`<id>:edit:<ms>`) is answered where the message as first sent was
    asked = message.edit_of or message.id
    if me is None or not asked.isdigit():
        return None  # not signed in, or not a Discord message id: cannot tell
    ref = message.conversation
    question = int(asked)
    try:
        if ref.thread is None and _may_have_thread(client, ref):
            try:
                where = ref.in_thread(asked)
                return await _first_reply(client, where, question, me.id, own_thread=True, starter=True)
            except _NoThread:
                pass  # answered in place, if at all
        # a forum post's first message has its thread's id: in place, it is the thread's starter
        return await _first_reply(client, ref, question, me.id, starter=ref.thread == asked)
    except (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, TimeoutError) as exc:
        status = getattr(exc, "status", None)
        code = getattr(exc, "code", None)
        log.warning(
            "could not read the history for an earlier reply (%s %s): %s",
            status,
            code,
            type(exc).__name__,
            extra={
                "platform": PLATFORM,
                "channel": ref.channel,
                "thread_id": ref.thread,
                "message_id": message.id,
                "status": status,
                "code": code,
            },
        )
        return None


def _may_have_thread(client: discord.Client, ref: ConversationRef) -> bool:
    """DiscordChannel.open_thread starts threads only from messages in text channels; when
    the channel is cached and is something else (a voice channel's chat), skip the request."""
    if ref.workspace == DM_WORKSPACE:
        return False
    cached = client.get_channel(int(ref.channel))
    return cached is None or isinstance(cached, discord.TextChannel)


def _messageable(client: discord.Client, ref: ConversationRef, channel_id: int) -> discord.PartialMessageable:
    guild_id = None if ref.workspace == DM_WORKSPACE else int(ref.workspace)
    return client.get_partial_messageable(channel_id, guild_id=guild_id)


async def _first_reply(
    client: discord.Client,
    where: ConversationRef,
    question: int,
    me: int,
    *,
    own_thread: bool = False,
    starter: bool = False,
) -> Posted | None:
    """The bot's reply to `question` among the messages after it in `where` (module docstring).
    `own_thread`: `where` is the thread started from the question, which may not exist.
    `starter`: the question starts `where` (that thread, or a forum post): replies there do not
    reference it, so the bot's first post before anyone spoke is the answer."""
    channel_id = int(where.thread or where.channel)
    history = _messageable(client, where, channel_id).history(
        after=discord.Object(id=question), limit=LOOKAHEAD, oldest_first=True
    )
    spoke = False
    parts: list[int] = []  # the reply's messages, once its first is found
    whole = False  # its parts are over: only a later post naming the question replaces it
    try:
        async for found in history:
            replied_to = found.reference.message_id if found.reference is not None else None
            mine = found.author.id == me
            if mine and replied_to == question:
                # a post naming the question; the last one is the answer, as an answer said anew
                # below a message Discord would not edit names it too (Slack's find_reply alike)
                parts, whole = [found.id], False
            elif parts and not whole:
                if mine and replied_to is None:
                    parts.append(found.id)  # the next part of a reply too long for one message
                else:
                    whole = True  # the reply's messages are over
            elif not parts and mine and starter and replied_to is None and not spoke:
                parts.append(found.id)
            if not mine and found.type in _SPOKEN and not found.author.bot:
                spoke = True
    except discord.NotFound as exc:
        if own_thread and exc.code == UNKNOWN_CHANNEL:
            raise _NoThread from exc
        raise
    return Posted(message_id=post_id(parts), conversation=where) if parts else None
