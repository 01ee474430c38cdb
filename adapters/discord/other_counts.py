"""What a first start at a new shard count takes over from the counts before it.

Each shard's marks are kept under a place naming the count (adapters/discord/heard.py
`place`), since a shard of another count held other guilds. When the count changes (an
`"auto"` count that moved), nothing is noted at the new one yet: its first start read back
from the newest message recorded, which the bot's own answers, recorded while a channel it
could not read was unread, could move past a question; and a read-back owed at the old count
(a question the store refused just before the restart) was owed under places no start read
again. So a shard never noted at its count (a new count, or its first start at a count other
shards ran at) reads from the earliest of: the last other count's marks (the earliest of them:
its guilds were on one of its shards, though one that was never noted, its set never held,
says nothing), the earliest mark of its own count (another shard's, which may have moved on
past what this one missed while no one held it) and its newest recorded message (past a
question only if answers were recorded on it since its first start here). No one of them is
safe alone; the earliest reads more, never less. That start point is noted for it at once, so
a start after a read-back that could not read everything reads it from there again, not from
what its own answers recorded meanwhile. Every start also reads from the points still owed at other
counts, within the read-back window (nothing older is read). A process holding every shard settles those
once all of them have read from before them; in a cluster no worker can tell, and each start
reads from them until they leave the window.

Each shard reads its own channels from its own point (adapters/discord/missed.py), so an old
point taken over for one shard reads again only that shard's channels, the others from their
own marks (what they heard and let pass is not judged again). One with no guilds reads
nothing. A quiet one (it heard nothing at this count yet) reads its guilds, at each start
until it hears something, from that point (at most a day back): chatter the old count heard
and let pass there is judged again, and answered if its channel now answers everything, as
at a start back at a count that ran before.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import discord

from adapters.discord.missed import heard_snowflake, oldest
from adapters.discord.translate import PLATFORM
from adapters.read_back import MISSED_WINDOW


def count_of(where: str) -> int | None:
    """The shard count a place (`discord/<count>/<shard>`) was noted under; None for another."""
    parts = where.split("/")
    if len(parts) != 3 or parts[0] != PLATFORM or not parts[1].isdigit():
        return None
    return int(parts[1])


def last_count_mark(noted: Mapping[str, str], count: int) -> str | None:
    """Where a shard never noted at `count` reads from (`noted`: every place's mark): the
    earliest mark of the other count whose marks are newest, the count that ran last (every
    guild was on one of its shards). None when no other count noted anything."""
    earliest: dict[int, tuple[int, str]] = {}
    for where, mark in noted.items():
        other, at = count_of(where), heard_snowflake(mark)
        if other is None or other == count or at is None:
            continue
        if other not in earliest or at < earliest[other][0]:
            earliest[other] = (at, mark)
    if not earliest:
        return None
    return max(earliest.values())[1]


def at_this_count(noted: Mapping[str, str], count: int) -> str | None:
    """The earliest mark noted at `count` on any shard (`noted`: every place's mark)."""
    return oldest(mark for where, mark in noted.items() if count_of(where) == count)


def owed_at_other_counts(owed: Mapping[str, str], count: int, now: datetime | None = None) -> dict[str, str]:
    """The places of other counts a read-back is still owed on (`owed`: every place's earliest
    point), with their points, those within the read-back window only."""
    oldest = discord.utils.time_snowflake((now or datetime.now(UTC)) - MISSED_WINDOW)
    return {
        where: point
        for where, point in owed.items()
        if (other := count_of(where)) is not None
        and other != count
        and (at := heard_snowflake(point)) is not None
        and at >= oldest
    }
