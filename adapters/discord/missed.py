"""Reading back the questions asked in channels while no connection of ours could hear them.

Discord sends a message once, to the gateway sessions open at that moment, and never again:
what was said while the bot was down (a crash, a deploy, a restart) or while its session was
being replaced is heard by no one. `catch_up` in adapters/discord/standby.py reads back the
conversations the bot takes part in; a new question is not in one yet: it is a mention in a
channel (answered in a thread started from it). This reads those channels back.

Which channels: the parents of the threads the bot talked in within `ASKED_WINDOW` (where
people ask it) and the channels the settings name with a mode other than off (on this
holder's shards). From where: each channel (and thread) from its own shard's mark, where
that shard was last heard with nothing unread before it (adapters/discord/heard.py: read
before the gateway connects, and again when a connection drops; a shard that never heard a
message reads from the earliest of the others, `read_from`), less `MARGIN` for deliveries that arrive out
of order across channels. Per shard: another shard's later mark says nothing of what this one
missed, and its earlier one would read again (and, had a channel been switched to
auto-answer, judge again) what this one heard and let pass. Heard marks, not the inbox's keys:
the inbox forgets handled events after a week and does not say which guild they came from,
so a quiet week, or another set of shards hearing on while this set's holder was dead, would
move the mark past what was missed.
Reading from earlier is safe: the inbox recognises a message handled before (its key, kept a
week) and hands it to nothing. At most `HISTORY_CAP` messages a channel, the newest, and
none older than `MISSED_WINDOW`: a question left that long is answered by people, not the bot.

Threads are in no channel's history. The guilds' active threads are listed, once a guild
(adapters/discord/missed_threads.py): the configured forums' posts made after the same point
are handed over as new posts, and the other threads of the question channels and forums with
a message after it (a discussion someone opened from a message, an older forum post) are read
back as the channels are, with the same bound on how many at once: a mention there is
answered in the thread. Those `catch_up` reads (the bot's conversations) are left to it.

Not read back: a first DM from someone the bot never talked to (a bot cannot list DMs), a
mention in a channel (or its threads) neither configured nor asked in within `ASKED_WINDOW`,
a thread archived since, an edit made while down, a channel the bot may not read (Read Message
History taken away) or that is gone: skipped with a warning, not left to a later read-back,
which would fail the same way and hold every one after it at its point.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import discord

from adapters.discord.events import Events
from adapters.discord.missed_threads import read_threads
from adapters.discord.shards import ShardPlan
from adapters.discord.standby import ACTIVE_WINDOW, CATCH_UP_CONCURRENCY, HISTORY_CAP
from adapters.discord.translate import PLATFORM
from adapters.read_back import ASKED_WINDOW, MARGIN, MISSED_WINDOW
from bot.channel_types import ChannelMode
from bot.config import Settings
from bot.ports import Core
from bot.types import Shards

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)

# standby's `catch_up` and this read-back ask the store for the bot's conversations at one
# start, well within this of each other (`_caught_up`)
ASKS_APART = timedelta(minutes=1)


# a mark's key (`mark_keys`): a shard, or None on an unsharded client
Key = int | None


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
        self._marks: dict[Key, str | None] = {}
        self._hearing: set[Key] = set()

    def start(self, marks: Mapping[Key, str | None]) -> None:
        """Before the gateway: each shard's (adapters/discord/heard.py `Heard.start`)."""
        self._marks.update(marks)

    def hearing(self, shards: Collection[Key]) -> None:
        """A session is up on `shards` (READY, RESUMED)."""
        self._hearing.update(shards)

    def lost(self, shard: Key) -> bool:
        """Whether `shard` was hearing until now: its mark is to be taken again."""
        if shard not in self._hearing:
            return False
        self._hearing.discard(shard)
        return True

    def note(self, shard: Key, mark: str | None) -> None:
        self._marks[shard] = mark

    def of(self, shards: Collection[Key]) -> dict[Key, str | None]:
        """`shards`' marks, each read back from (`catch_up_channels`)."""
        return {s: self._marks.get(s) for s in shards}


def oldest(marks: Iterable[str | None]) -> str | None:
    """The oldest of `marks`, or None when none of them is a message's."""
    dated = [(n, mark) for mark in marks if mark is not None and (n := heard_snowflake(mark)) is not None]
    return min(dated)[1] if dated else None


def read_from(marks: Mapping[Key, str | None]) -> dict[Key, str | None]:
    """Where each shard's read-back starts: its own mark, or for a shard that never heard a
    message, the earliest of the others' (kept for every try of that read-back: a try of that
    shard alone has no other to take it from)."""
    earliest = oldest(marks.values())
    return {key: mark if heard_snowflake(mark) is not None else earliest for key, mark in marks.items()}


def mark_keys(client: discord.Client, shards: Collection[int]) -> tuple[Key, ...]:
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
    guild = _guild_of(client, channel_id)
    if guild is None:
        return False  # not in a guild this client sees: another holder's, or gone
    return (guild.id >> 22) % on.count in on.ids


def _guild_of(client: discord.Client, channel_id: int) -> discord.Guild | None:
    guild = getattr(client.get_channel(channel_id), "guild", None)
    return guild if isinstance(guild, discord.Guild) else None


async def catch_up_channels(
    core: Core,
    events: Events,
    client: discord.Client,
    *,
    marks: Mapping[Key, str | None],
    plan: ShardPlan | None = None,
    shards: tuple[int, ...] = (),
) -> frozenset[Key]:
    """Hand the core each question channel's messages after `start_after` of its shard's mark
    (`marks`, per shard: one shard's later mark says nothing of what another missed, and
    another's earlier one would read again what this one heard; None on an unsharded client),
    oldest first, in flight as live messages are (messages handled before included: the inbox
    answers none of them twice), and those of their threads and the forums' (adapters/discord/
    missed_threads.py), and wait until they are handled (a shard whose mark is None reads
    nothing: `read_from` gives it one). The shards whose channels, threads and forums were all
    read: until then, what a shard's session hears is not noted (adapters/discord/heard.py),
    and one shard's channel that cannot be read holds up no other shard's."""
    earliest = oldest(marks.values())
    if earliest is None:
        return frozenset(marks)
    afters = {key: start_after(mark) for key, mark in marks.items()}
    sharding = plan or ShardPlan.split(1, 0)

    def key_of(guild: discord.Guild | None) -> Key:
        return None if None in marks else sharding.shard_of(str(guild.id) if guild is not None else "")

    on = Shards(plan.count, frozenset(shards)) if plan is not None else None
    channels = await question_channels(core, core.settings, client, on)
    forums = {
        int(f)
        for f in core.settings.discord.forum_channels
        if f.isdigit() and (on is None or _on_shards(client, int(f), on))
    }
    skip = await _caught_up(core, on, heard_snowflake(earliest) or 0)
    turns = asyncio.Semaphore(CATCH_UP_CONCURRENCY)  # channels and threads alike
    handed: dict[Key, list[asyncio.Task[None]]] = {key: [] for key in marks}
    unread: set[Key] = set()

    async def one(where: int | discord.Thread) -> bool:
        key = key_of(where.guild if isinstance(where, discord.Thread) else _guild_of(client, where))
        after = afters.get(key)
        if after is None:
            return True  # a shard this read-back is not for
        async with turns:
            try:
                read = await _read_back(events, client, where, after, handed[key])
            except Exception:
                # one channel's failure is its own: the others are still read back
                log.exception(
                    "could not read back a channel",
                    extra={"platform": PLATFORM, "channel": getattr(where, "id", where)},
                )
                read = False
        if not read:
            unread.add(key)
        return read

    async def threads(key: Key, guilds: list[discord.Guild], after: int) -> None:
        try:
            read = await read_threads(
                events,
                guilds,
                parents=set(channels),
                forums=forums,
                after=after,
                skip=skip,
                read=one,
                handed=handed[key],
            )
        except Exception:  # as a channel's: the channels are still read back
            log.exception("could not read back the active threads", extra={"platform": PLATFORM})
            read = False
        if not read:
            unread.add(key)

    by_key: dict[Key, list[discord.Guild]] = {}
    for guild in {g.id: g for c in (*channels, *forums) if (g := _guild_of(client, c)) is not None}.values():
        by_key.setdefault(key_of(guild), []).append(guild)
    await asyncio.gather(
        *(one(c) for c in channels),
        *(
            threads(key, guilds, after)
            for key, guilds in by_key.items()
            if (after := afters.get(key)) is not None
        ),
    )
    tasks = [task for tasks in handed.values() for task in tasks]
    if tasks:
        log.info(
            "read back %d message(s) and post(s) said while no connection heard them",
            len(tasks),
            extra={"platform": PLATFORM},
        )
        await asyncio.wait(tasks)
    # a handling that ended in an exception (not a failure of the core's, which is logged and
    # answered) never got to the inbox: as if that channel were unread
    unread.update(key for key, tasks in handed.items() if any(t.cancelled() or t.exception() for t in tasks))
    return frozenset(marks) - unread


async def _caught_up(core: Core, on: Shards | None, before: int) -> frozenset[int]:
    """The threads standby's `catch_up` reads at this start: those of the conversations it asks
    the store for (`ACTIVE_WINDOW`). Asked a little narrower, and only those whose last message
    was recorded by `before` (before this session): the two asks are not made at one instant,
    and a thread a live message made active in between was not read by `catch_up`."""
    points = await core.active_conversations(PLATFORM, ACTIVE_WINDOW - ASKS_APART, on)
    caught_up = set()
    for ref, last in points:
        recorded = heard_snowflake(last)
        if ref.thread is not None and ref.thread.isdigit() and recorded is not None and recorded <= before:
            caught_up.add(int(ref.thread))
    return frozenset(caught_up)


async def _read_back(
    events: Events,
    client: discord.Client,
    where: int | discord.Thread,
    after: int,
    handed: list[asyncio.Task[None]],
) -> bool:
    """Hand over what `where` (a channel's id, or a thread listed) holds after `after` (its
    tasks into `handed`); whether it could be read."""
    channel_id = where.id if isinstance(where, discord.Thread) else where
    try:
        channel = (
            where
            if isinstance(where, discord.Thread)
            else client.get_channel(where) or await client.fetch_channel(where)
        )
        if not isinstance(channel, discord.abc.Messageable):
            return True  # not a channel with messages: nothing to read
        # newest first, so a cap leaves out the oldest, never the question just asked
        messages = [
            m
            async for m in channel.history(
                limit=HISTORY_CAP, after=discord.Object(id=after), oldest_first=False
            )
        ]
    except (discord.Forbidden, discord.NotFound) as exc:
        # refused for good (Read Message History taken away) or gone: reading again would fail
        # the same way, and a read-back left unfinished would hold every later one at this point
        log.warning(
            "cannot read back a channel (no access, or gone): what was said there while no "
            "connection heard it is not answered",
            extra={"platform": PLATFORM, "channel": channel_id, "status": exc.status},
        )
        return True
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
