"""The threads a read-back reads (adapters/discord/missed.py), besides its channels' histories.

A thread's messages are in no channel's history: a mention of the bot in a discussion someone
opened from a message, or in an older forum post, said while the bot was down, would be read
by nothing. Discord lists a guild's threads that are not archived in one request (List Active
Guild Threads), each with the id of its last message. One listing a guild serves twice:

- the configured forums' posts made after the mark are new questions, handed over as new
  posts (their first message is the question), and a post with more said in it has its
  history read once that question is handled (a follow-up comes after its answer, as live);
- every other thread of a question channel or a configured forum whose last message is after
  the mark has its history read as a channel's is; the core then judges each message as it
  would live (a mention is for the bot, chatter is not). A thread whose last message is older
  costs no request.

Threads that standby's `catch_up` reads (the conversations the bot took part in within its
`ACTIVE_WINDOW`: the caller's `skip`) are left to it: reading one again answers nothing twice
(the inbox) but costs a request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable

import discord

from adapters.discord.events import Events
from adapters.discord.translate import PLATFORM

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)


async def read_threads(
    events: Events,
    guilds: Iterable[discord.Guild],
    *,
    parents: Collection[int],
    forums: Collection[int],
    after: int,
    skip: Collection[int],
    read: Callable[[discord.Thread], Awaitable[bool]],
    handed: list[asyncio.Task[None]],
) -> bool:
    """List each of `guilds`' active threads once; hand over the new posts of `forums` (their
    tasks into `handed`) and `read` each other thread of `parents` or `forums` with a message
    after `after`, but not those in `skip`. Whether every guild and thread could be read."""
    own = events.client.user.id if events.client.user is not None else None
    listed, found = await _active(guilds)
    posts = [t for t in found if t.parent_id in forums and t.id > after and t.owner_id != own]
    followed: list[Awaitable[bool]] = []
    for post in sorted(posts, key=lambda t: t.id):  # oldest first, as they were posted
        task = events.on_thread_create(post)
        if task is not None:
            handed.append(task)
        followed.append(_after(events, task, read, post))
    news = {t.id for t in posts}
    threads = [
        t
        for t in found
        if t.id not in news
        and (t.parent_id in parents or t.parent_id in forums)
        and (t.last_message_id or 0) > after
        and t.id not in skip
    ]
    read_all = await asyncio.gather(*(read(t) for t in threads), *followed)
    return listed and all(read_all)


async def _after(
    events: Events,
    post: asyncio.Task[None] | None,
    read: Callable[[discord.Thread], Awaitable[bool]],
    thread: discord.Thread,
) -> bool:
    """Whether a new post handed over (`post`, its task) was read: its first message fetched,
    and, once that is handled, what was said after it (`read`: it follows the answer, as live;
    the first message, read again, is the inbox's to recognise)."""
    if post is not None:
        await asyncio.wait({post})  # not awaited: stopping the read-back must not cancel it
    if thread.id in events.unread_posts:  # its first message could not be fetched (for now)
        del events.unread_posts[thread.id]
        return False
    return await read(thread) if (thread.last_message_id or 0) > thread.id else True


async def _active(guilds: Iterable[discord.Guild]) -> tuple[bool, list[discord.Thread]]:
    """Whether every guild's active threads could be listed, and those that were."""
    listed, found = True, []
    for guild in guilds:
        try:
            found.extend(await guild.active_threads())
        except discord.HTTPException as exc:
            log.warning(
                "could not list a guild's active threads",
                extra={"platform": PLATFORM, "guild": guild.id, "status": exc.status},
            )
            listed = False
    return listed, found
