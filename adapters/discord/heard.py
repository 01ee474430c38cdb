"""How far each shard has heard Discord: the newest message the gateway sent on it, in the state.

A fresh session reads back (adapters/discord/missed.py) from just before where its shards
were last heard. So every message the gateway delivers is noted here, by its shard (another
shard's later messages say nothing of what this one missed), and each shard's newest is
written to the state (`Core.note_heard`, under `place`) at most once every `NOTE_EVERY`
seconds, and at shutdown. That mark, not the newest message recorded, is where a start reads
back from: chatter the bot heard and judged not for it leaves no record, so a recorded mark
would lag hours behind what was heard (and a restart would read, and after a switch to
auto-answer answer, chatter rightly let pass); and the bot's own answers are recorded while
what it missed may be unread still, so a recorded mark would pass it. A shard never noted at
this shard count starts from the earliest of the last count's marks, its own count's and its
newest recorded message, and that start is noted at once; every start also reads what other
counts owe (adapters/discord/other_counts.py).

What a fresh session hears on a shard is written only once the read-back of what came before
it has read every channel of that shard and their messages are handled (another shard's
channel it could not read holds that shard alone): a mark written earlier, and a crash, would
pass the questions not yet in the inbox (and a channel it could not read would never be read
again). A resumed session goes on noting: Discord sent it what it missed.

A message the core could not record holds its shard's mark before it until the core takes it
(adapters/discord/holes.py hands it over again while the process runs), and a read-back from
just before it is owed in the state (`Core.owe_read_back`), so a restart before then reads it
back. A start's read-back that read everything with no refusal while it ran settles what was
owed when it began.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime

import discord

from adapters.discord.events import Events
from adapters.discord.holes import Holes
from adapters.discord.missed import Key, heard_on, heard_snowflake, mark_keys, read_from
from adapters.discord.other_counts import at_this_count, last_count_mark, owed_at_other_counts
from adapters.discord.shards import ShardPlan
from adapters.discord.translate import PLATFORM
from bot import faults
from bot.channel_types import DM_WORKSPACE
from bot.types import InboundMessage

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)

NOTE_EVERY = 10.0  # seconds; well inside adapters/read_back.py's MARGIN


def place(count: int, key: Key) -> str:
    """Where a shard's mark is noted (`Core.note_heard`'s platform): the count is in it, so a
    new count (an "auto" one that changed) never reads a shard that held other guilds."""
    return f"{PLATFORM}/{count}/{key or 0}"


def earlier(one: str | None, other: str | None) -> str | None:
    """The earlier of two marks; either when the other is None (nothing to read from)."""
    first, second = heard_snowflake(one), heard_snowflake(other)
    if first is None or second is None:
        return other if first is None else one
    return one if first <= second else other


class Heard:
    """One client's newest message heard per shard, noted in the state once it is safe to."""

    def __init__(self, client: discord.Client, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._events: Events | None = None  # set by `start`, before the gateway
        self._plan: ShardPlan | None = None
        self._newest: dict[Key, int] = {}
        self._safe: dict[Key, int] = {}  # the newest heard before a session whose read-back is owed
        self._noted: dict[Key, int] = {}
        self._sessions: dict[Key, int] = {}  # fresh sessions (READY) so far
        self._read: dict[Key, int] = {}  # the latest session whose read-back has ended
        self._noted_at: float | None = None
        self._writing = False
        # the messages the core could not record: no mark passes the oldest until it is taken
        self.holes = Holes()
        self.holes.on_filled = self._filled
        self._owed_at_start: dict[Key, str] = {}  # settled by the first read-back that reads all
        self._started: dict[Key, str | None] = {}  # where each mark's first session read back from
        # what a read-back that read all but met a refusal covered: settled once all is taken
        self._covered: dict[Key, tuple[str, str]] = {}
        self._elsewhere: dict[str, str] = {}  # points owed at other counts, settled with the last key
        self._rewrite = False  # asked to write while writing: once more after
        self._store_away = False  # the last write failed: the next that succeeds says it is back

    async def start(
        self, events: Events, plan: ShardPlan | None, shards: Collection[int]
    ) -> dict[Key, str | None]:
        """Before the gateway, on the client's `shards` (`events`: its handler, whose core
        keeps the marks): where each mark's first session reads back from, the newest noted
        as heard on the mark's shard (all of `shards` on an unsharded client: another shard's
        later messages say nothing of what this one missed), else the earliest of the last
        count's earliest mark, its count's earliest and the newest message recorded on it;
        earlier where a read-back is owed."""
        self._events, self._plan = events, plan
        events.on_refused = self.refused
        events.on_taken = lambda message: self.holes.taken(self._key_of_message(message), message)
        self.holes.start(
            lambda message: events.deliver(message, again=True),
            lambda work: events.inflight.start(work, name="supportbot-discord-holes"),
            events.core,
            lambda key: place(self._count, key),
        )
        marks: dict[Key, str | None] = {}
        keys = mark_keys(self.client, shards)
        noted = await events.core.noted_heards(f"{PLATFORM}/")
        # for a shard never noted at this count (an "auto" count that moved, its first start
        # at this count): adapters/discord/other_counts.py
        before = last_count_mark(noted, self._count)
        at_count = at_this_count(noted, self._count)
        elsewhere = owed_at_other_counts(await events.core.owed_read_backs(f"{PLATFORM}/"), self._count)
        owed_elsewhere: str | None = None
        for point in elsewhere.values():
            owed_elsewhere = earlier(owed_elsewhere, point)
        # settled once every shard of this count read from before them: only a client that
        # holds them all knows (in a cluster they age out of the window instead)
        self._elsewhere = elsewhere if len(keys) == self._count or keys == (None,) else {}
        own: dict[Key, str | None] = {}
        for key in keys:
            self._sessions[key] = self._read[key] = 0
            own[key] = noted.get(place(self._count, key))
            if own[key] is None:  # never noted at this count: the earliest of what may say where
                recorded = await heard_on(events.core, plan, shards if key is None else (key,))
                own[key] = earlier(before, earlier(at_count, recorded))
        starts = read_from(own)  # one with nothing at all: the earliest of the others
        for key in keys:
            owed = earlier(await events.core.owed_read_back(place(self._count, key)), owed_elsewhere)
            if owed is not None:
                self._owed_at_start[key] = owed
            marks[key] = self._started[key] = earlier(starts[key], owed)
        await self._note_starts({key: starts[key] for key in keys if place(self._count, key) not in noted})
        return marks

    async def _note_starts(self, starts: Mapping[Key, str | None]) -> None:
        """Note where this start reads each shard never noted at this count from: until its
        read-back has read everything nothing else is noted of it, and a later start must not
        read it from later (the newest message recorded on it, which its own answers can move
        past a question it could not read). A failed write is logged, and the next start works
        the point out again."""
        assert self._events is not None
        for key, start in starts.items():
            at = heard_snowflake(start)
            if at is None:
                continue
            try:
                await self._events.core.note_heard(place(self._count, key), f"{at:020d}")
            except Exception as exc:
                log.warning(
                    "could not note where a shard is read back from: %s",
                    type(exc).__name__,
                    extra={"platform": PLATFORM},
                )
                return
            self._noted[key] = max(self._noted.get(key, 0), at)

    @property
    def _count(self) -> int:
        return self._plan.count if self._plan is not None else 1

    def connected(self, key: Key) -> None:
        """READY on `key`: a fresh session, whose messages wait for its read-back (what the
        sessions before it heard, read back before them, may still be written)."""
        if key not in self._sessions:
            return
        if self._open(key) and key in self._newest:
            self._safe[key] = self._newest[key]
        self._sessions[key] += 1

    def sessions(self, keys: Collection[Key]) -> dict[Key, int]:
        """How many sessions each of `keys` has had (a later one's read-back reads its own)."""
        return {key: self._sessions.get(key, 0) for key in keys}

    async def after(self, keys: Collection[Key], reading: Awaitable[Collection[Key]]) -> frozenset[Key]:
        """Await `reading`, the read-back of what `keys` missed before their sessions so far
        began, which says the keys it read everything of; once it has, and what it handed
        over is handled, what their sessions hear is noted. A key it could not read everything
        of keeps its mark where it was (tried again: adapters/discord/read_backs.py; else the
        next start reads it again). The keys left unread."""
        sessions = self.sessions(keys)
        refusals = dict(self.holes.refusals)
        began = f"{discord.utils.time_snowflake(datetime.now(UTC)):020d}"
        done = set(await reading) & set(sessions)
        if not done:
            return frozenset(sessions)
        for key in done:
            self._read[key] = max(self._read.get(key, 0), sessions[key])
        self._noted_at = self.clock()
        self._write()
        for key in done:
            if self._sessions.get(key, 0) != sessions[key]:
                continue  # a later session's read-back reads from the same point or earlier: its to settle
            owed = self._owed_at_start.pop(key, None)
            if owed is None:
                continue
            # one refused meanwhile, and kept still, may be before `began`: settled once taken
            if self.holes.refusals.get(key, 0) != refusals.get(key, 0) and self.holes.oldest(key) is not None:
                self._covered[key] = (owed, began)
                continue
            await self._settle(key, owed, began)
        return frozenset(sessions) - done

    def saw(self, message: discord.Message) -> None:
        """The gateway sent `message` (anyone's, in any channel): it is heard on its shard."""
        key = self._key(message)
        if key not in self._sessions or message.id <= self._newest.get(key, 0):
            return
        self._newest[key] = message.id
        now = self.clock()
        if self._noted_at is None or now - self._noted_at >= NOTE_EVERY:
            self._noted_at = now
            self._write()

    def refused(self, message: InboundMessage) -> None:
        """The core could not record `message` (live or read back): Discord will not send it
        again, so no mark of its shard goes past it until it is read back."""
        key = self._key_of_message(message)
        if key in self._sessions:
            self.holes.refused(key, message)
            self._write()  # the point owed, as soon as the store takes it

    def mark(self, key: Key) -> str | None:
        """Where a fresh session after a loss of `key`'s reads back from: the newest heard on
        `key` with nothing unread before it, or where its first session read back from."""
        newest = self._writable(key)
        mark = str(newest) if newest is not None else self._started.get(key)
        if mark is None and self._sessions.get(key, 0) > 0:
            # nothing heard nor ever noted (a new install), yet a session was hearing until now
            mark = str(discord.utils.time_snowflake(datetime.now(UTC)))
        # a point owed at start and not settled yet: a read-back from later would settle it
        return earlier(mark, self._owed_at_start.get(key))

    def holds(self, message: InboundMessage) -> bool:
        """Whether `message` is on one of this client's shards (since `start`)."""
        return self._key_of_message(message) in self._sessions

    def keep(self, messages: list[InboundMessage]) -> list[InboundMessage]:
        """Messages an earlier client on this adapter could not hand over (it was closed: a
        lease lost, a failing set): those on this client's shards are refused here as if it had
        heard them; the others are returned (another client's to keep)."""
        for message in messages:
            if self.holds(message):
                self.refused(message)
        return [m for m in messages if not self.holds(m)]

    async def flush(self) -> None:
        """Write what was heard since the last write (at shutdown, once in-flight work ended)."""
        if self._events is not None and not self._writing:
            self._writing = True
            await self._note()

    def _key(self, message: discord.Message) -> Key:
        guild = message.guild.id if message.guild is not None else getattr(message.channel, "guild_id", None)
        return self._key_of(None if guild is None else str(guild))

    def _key_of_message(self, message: InboundMessage) -> Key:
        workspace = message.conversation.workspace
        return self._key_of(None if workspace == DM_WORKSPACE else workspace)

    def _key_of(self, guild: str | None) -> Key:
        if None in self._sessions:
            return None  # an unsharded client: one mark
        return (self._plan or ShardPlan.split(1, 0)).shard_of(guild or "")  # a DM: shard 0

    def _writable(self, key: Key) -> int | None:
        """The newest heard on `key` with nothing unread before it: all it heard, unless a
        session's read-back is owed (then what the sessions before it heard), and never past
        a message the core could not record."""
        newest = self._newest.get(key) if self._open(key) else self._safe.get(key)
        hole = self.holes.oldest(key)
        return newest if hole is None or newest is None else min(newest, hole - 1)

    def _open(self, key: Key) -> bool:
        return self._sessions.get(key, 0) <= self._read.get(key, 0)

    def _write(self) -> None:
        # one at a time, in flight as the client's events are: a drain waits for it; asked
        # meanwhile (a point owed since it began), it writes once more
        if self._events is not None and self._writing:
            self._rewrite = True
        elif self._events is not None:
            self._writing = True
            self._events.inflight.start(self._note(), name="supportbot-discord-heard")

    async def _note(self) -> None:
        try:
            while True:
                self._rewrite = False
                faults.point("heard.noting")
                await self.holes.write_owed()  # before any mark
                for key in list(self._newest):
                    newest = self._writable(key)
                    if self._events is None or newest is None or self._noted.get(key, 0) >= newest:
                        continue  # not started, nothing safe to write yet, or written already
                    await self._events.core.note_heard(
                        place(self._count, key), f"{newest:020d}"
                    )  # sorts as text
                    self._noted[key] = newest
                if self._store_away:  # back after an outage: what it refused, again now
                    self._store_away = False
                    self.holes.store_back()
                if not self._rewrite:
                    return
        except Exception as exc:  # the next write tries again; meanwhile the older mark stands
            self._store_away = True
            log.warning("could not note what was heard: %s", type(exc).__name__, extra={"platform": PLATFORM})
        finally:
            self._writing = False

    def _filled(self, key: Key) -> None:
        """The core took all `key`'s refused messages: the marks move on, and what a read-back
        that met one of them covered is settled."""
        self._write()
        covered = self._covered.pop(key, None)
        if covered is not None and self._events is not None:
            self._events.inflight.start(self._settle(key, *covered), name="supportbot-discord-settle")

    async def _settle(self, key: Key, owed: str, until: str) -> None:
        assert self._events is not None
        try:
            await self._events.core.settle_read_back(place(self._count, key), owed, until)
            if self._elsewhere and not self._owed_at_start and not self._covered:
                # every shard read from before what other counts owed: settled too
                elsewhere, self._elsewhere = self._elsewhere, {}
                for where, point in elsewhere.items():
                    await self._events.core.settle_read_back(where, point, until)
        except Exception as exc:  # the next start reads back from it again
            log.warning(
                "could not settle what was owed: %s", type(exc).__name__, extra={"platform": PLATFORM}
            )
