"""Reading back the questions asked in channels while no connection of ours could hear them.

Discord sends a message once, to the gateway sessions open at that moment, and never again:
what was said while the bot was down (a crash, a deploy, a restart) or while its session was
being replaced is heard by no one. `catch_up` in adapters/discord/standby.py reads back the
conversations the bot takes part in; a new question is not in one yet: it is a mention in a
channel (answered in a thread started from it). This reads those channels back.

Which channels: the parents of the threads the bot talked in within `ASKED_WINDOW` (where
people ask it) and the channels the settings name with a mode other than off (on this
holder's shards). From where: just before the newest message recorded on this holder's
shards before this session began (`Core.last_heard`: read before the gateway connects, and
again when a connection drops), or the newest heard on each shard if later (chatter the bot
heard and recorded nothing of: adapters/discord/heard.py; the earliest shard's), less
`MARGIN` for deliveries that arrive out of order across channels. Recorded messages, not the
inbox's keys: the inbox forgets handled events after a
week and does not say which guild they came from, so a quiet week, or another set of shards
hearing on while this set's holder was dead, would move the mark past what was missed.
Reading from earlier is safe: the inbox recognises a message handled before (its key, kept a
week) and hands it to nothing. At most `HISTORY_CAP` messages a channel, the newest, and
none older than `MISSED_WINDOW`: a question left that long is answered by people, not the bot.

New posts in the configured forums are threads of their own, in no channel's history: the
guilds' active threads created after the same point are handed over as new posts.

Not read back: a first DM from someone the bot never talked to (a bot cannot list DMs), a
mention in a channel neither configured nor used in the last hour, an edit made while down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import discord

from adapters.discord.events import Events
from adapters.discord.shards import ShardPlan
from adapters.discord.standby import CATCH_UP_CONCURRENCY, HISTORY_CAP
from adapters.discord.translate import PLATFORM
from adapters.read_back import ASKED_WINDOW, MARGIN, MISSED_WINDOW
from bot.channel_types import ChannelMode
from bot.config import Settings
from bot.ports import Core
from bot.types import Shards

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)


def heard_snowflake(platform_id: str | None) -> int | None:
    """`Core.last_heard`'s id as a snowflake (an edit's key is `<id>:edit:<ms>`)."""
    if platform_id is None:
        return None
    head = platform_id.split(":", 1)[0]
    return int(head) if head.isdigit() else None


def start_after(heard: str | None, now: datetime | None = None) -> int | None:
    """The snowflake to read each channel after: `MARGIN` before the newest message heard,
    but not before `MISSED_WINDOW` ago; None when nothing was ever heard (nothing missed)."""
    newest = heard_snowflake(heard)
    if newest is None:
        return None
    margin = int(MARGIN.total_seconds() * 1000) << 22  # a snowflake's time is its top bits, in ms
    oldest = discord.utils.time_snowflake((now or datetime.now(UTC)) - MISSED_WINDOW)
    return max(newest - margin, oldest, 0)


class Marks:
    """One client's marks, per shard (None: an unsharded client): the newest message recorded
    or heard on the shard before its session was lost, kept until its next fresh session reads
    back from it. A shard's own loss moves only its mark, and only the first loss after it was
    hearing (a reconnect failing again and again, or the bot's answers posted meanwhile over
    REST, must not move it past what was missed)."""

    def __init__(self) -> None:
        self._marks: dict[int | None, str | None] = {}
        self._hearing: set[int | None] = set()

    def start(self, marks: Mapping[int | None, str | None]) -> None:
        """Before the gateway: each shard's (adapters/discord/heard.py `Heard.start`)."""
        self._marks.update(marks)

    def hearing(self, shards: Collection[int | None]) -> None:
        """A session is up on `shards` (READY, RESUMED)."""
        self._hearing.update(shards)

    def lost(self, shard: int | None) -> bool:
        """Whether `shard` was hearing until now: its mark is to be taken again."""
        if shard not in self._hearing:
            return False
        self._hearing.discard(shard)
        return True

    def note(self, shard: int | None, mark: str | None) -> None:
        self._marks[shard] = mark

    def oldest(self, shards: Collection[int | None]) -> str | None:
        """The oldest of `shards`' marks (reading back from it covers them all), or None when
        none of them ever recorded a message."""
        known = [(heard_snowflake(mark), mark) for s in shards if (mark := self._marks.get(s)) is not None]
        dated = [(n, mark) for n, mark in known if n is not None]
        return min(dated)[1] if dated else None


def mark_keys(client: discord.Client, shards: Collection[int]) -> tuple[int | None, ...]:
    """The keys of `client`'s marks for `shards`: the shard ids on a sharded client, None on
    one without shards (discord.py tells it of its one session's loss without a shard)."""
    return tuple(shards) if isinstance(client, discord.AutoShardedClient) else (None,)


async def heard_on(core: Core, plan: ShardPlan | None, shards: Collection[int]) -> str | None:
    """The newest message recorded on `shards` (all, without a plan): another shard's or set's
    holder hears on, and its later messages must not move this one's mark past what it missed."""
    on = Shards(plan.count, frozenset(shards)) if plan is not None else None
    return await core.last_heard(PLATFORM, on)


async def question_channels(
    core: Core, settings: Settings, client: discord.Client, on: Shards | None
) -> list[int]:
    """Where new questions are asked: the parents of the bot's recent threads, and the
    channels the settings name (not off), on `on`'s shards only."""
    points = await core.active_conversations(PLATFORM, ASKED_WINDOW, on)
    found = {int(ref.channel) for ref, _ in points if ref.thread is not None and ref.channel.isdigit()}
    discord_settings = settings.discord
    for workspace in (None, *discord_settings.workspaces):
        view = discord_settings.for_workspace(workspace)
        for channel_id, channel in view.channels.items():
            if channel_id.isdigit() and (channel.mode or view.default_mode) != ChannelMode.OFF:
                found.add(int(channel_id))
    if on is not None:
        found = {c for c in found if _on_shards(client, c, on)}
    return sorted(found)


def _on_shards(client: discord.Client, channel_id: int, on: Shards) -> bool:
    channel = client.get_channel(channel_id)
    guild = getattr(channel, "guild", None)
    if guild is None:
        return False  # not in a guild this client sees: another holder's, or gone
    return (guild.id >> 22) % on.count in on.ids


async def catch_up_channels(
    core: Core,
    events: Events,
    client: discord.Client,
    *,
    heard: str | None,
    plan: ShardPlan | None = None,
    shards: tuple[int, ...] = (),
) -> bool:
    """Hand the core each question channel's messages after `start_after(heard)`, oldest
    first, in flight as live messages are (messages handled before included: the inbox
    answers none of them twice), and wait until they are handled. Whether every channel and
    forum was read: until then, what the session hears is not noted (adapters/discord/heard.py)."""
    after = start_after(heard)
    if after is None:
        return True
    on = Shards(plan.count, frozenset(shards)) if plan is not None else None
    channels = await question_channels(core, core.settings, client, on)
    turns = asyncio.Semaphore(CATCH_UP_CONCURRENCY)
    handed: list[asyncio.Task[None]] = []

    async def one(channel_id: int) -> bool:
        async with turns:
            try:
                return await _read_back(events, client, channel_id, after, handed)
            except Exception:
                # one channel's failure is its own: the others are still read back
                log.exception(
                    "could not read back a channel", extra={"platform": PLATFORM, "channel": channel_id}
                )
                return False

    read = await asyncio.gather(*(one(c) for c in channels), _forum_posts(events, client, after, on, handed))
    if handed:
        log.info(
            "read back %d message(s) in %d channel(s) said while no connection heard them",
            len(handed),
            len(channels),
            extra={"platform": PLATFORM},
        )
        await asyncio.wait(handed)
    # a handling that ended in an exception (not a failure of the core's, which is logged and
    # answered) never got to the inbox: as if that channel were unread
    return all(read) and not any(task.cancelled() or task.exception() for task in handed)


async def _read_back(
    events: Events, client: discord.Client, channel_id: int, after: int, handed: list[asyncio.Task[None]]
) -> bool:
    """Hand over what `channel_id` holds after `after` (its tasks into `handed`); whether it
    could be read."""
    try:
        channel = client.get_channel(channel_id) or await client.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return True  # not a channel with messages: nothing to read
        # newest first, so a cap leaves out the oldest, never the question just asked
        messages = [
            m
            async for m in channel.history(
                limit=HISTORY_CAP, after=discord.Object(id=after), oldest_first=False
            )
        ]
    except discord.HTTPException as exc:
        log.warning(
            "could not read back a channel",
            extra={"platform": PLATFORM, "channel": channel_id, "status": exc.status},
        )
        return False
    if len(messages) >= HISTORY_CAP:
        log.warning(
            "read back only the newest %d messages of a channel; older ones are not read",
            len(messages),
            extra={"platform": PLATFORM, "channel": channel_id},
        )
    own = client.user.id if client.user is not None else None
    # oldest first, each in flight as a live message is: new questions are answered side by
    # side (the core bounds how many at once), not one after another behind the slowest
    members: dict[int, Any] = {}
    for message in reversed(messages):
        if message.author.id == own:
            continue
        task = events.on_message(await events.as_heard_live(message, members))
        if task is not None:
            handed.append(task)
    return True


async def _forum_posts(
    events: Events, client: discord.Client, after: int, on: Shards | None, handed: list[asyncio.Task[None]]
) -> bool:
    """New posts in the configured forums (each a thread of its own, not in any channel's
    history): the guilds' active threads created after `after`, handed over as new ones (their
    tasks into `handed`); whether every guild's could be listed."""
    forums = {int(f) for f in events.settings.discord.forum_channels if f.isdigit()}
    guilds: dict[int, discord.Guild] = {}
    for forum in forums:
        guild = getattr(client.get_channel(forum), "guild", None)
        if isinstance(guild, discord.Guild) and (on is None or (guild.id >> 22) % on.count in on.ids):
            guilds[guild.id] = guild
    own = client.user.id if client.user is not None else None
    listed = True
    for guild in guilds.values():
        try:
            threads = await guild.active_threads()
        except discord.HTTPException as exc:
            log.warning(
                "could not list a guild's active threads",
                extra={"platform": PLATFORM, "guild": guild.id, "status": exc.status},
            )
            listed = False
            continue
        for thread in sorted(threads, key=lambda t: t.id):  # oldest first, as they were posted
            new = thread.parent_id in forums and thread.id > after and thread.owner_id != own
            if new and (task := events.on_thread_create(thread)):
                handed.append(task)
    return listed
