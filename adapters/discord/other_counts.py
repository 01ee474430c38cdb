"""What a first start at a new shard count takes over from the counts before it.

Each shard's marks are kept under a place naming the count (adapters/discord/heard.py
`place`), since a shard of another count held other guilds. When the count changes (an
`"auto"` count that moved), nothing is noted at the new one yet: its first start read back
from the newest message recorded, which the bot's own answers, recorded while a channel it
could not read was unread, could move past a question; and a read-back owed at the old count
(a question the store refused just before the restart) was owed under places no start read
again. So a start at a count nothing was ever noted at reads from the last count's marks (the
earliest of them: every guild was on one of its shards), and every start reads from the
points still owed at other counts, within the read-back window (nothing older is read). A
process holding every shard settles those once all of them have read from before them; in a
cluster no worker can tell, and each start reads from them until they leave the window.

Only while nothing is noted at the new count: a shard never noted there once another is (no
guilds, quiet ones, or a first read-back that failed) falls back to its newest recorded
message, as before. Taking the old count's mark for it too, or the marks of the counts before
that, made every start read the client's channels from an old point and judge again the
chatter the current count had let pass (reviewed: each rule that read more for such a shard
re-judged chatter somewhere; reading per shard from its own point would settle it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import discord

from adapters.discord.missed import heard_snowflake
from adapters.discord.translate import PLATFORM
from adapters.read_back import MISSED_WINDOW


def count_of(where: str) -> int | None:
    """The shard count a place (`discord/<count>/<shard>`) was noted under; None for another."""
    parts = where.split("/")
    if len(parts) != 3 or parts[0] != PLATFORM or not parts[1].isdigit():
        return None
    return int(parts[1])


def last_count_mark(noted: Mapping[str, str], count: int) -> str | None:
    """Where a start at `count` reads from when nothing was ever noted at it (`noted`: every
    place's mark): the earliest mark of the count whose marks are newest, the count that ran
    last. None when something was noted at `count` (its own marks count) or at no other."""
    earliest: dict[int, tuple[int, str]] = {}
    for where, mark in noted.items():
        other, at = count_of(where), heard_snowflake(mark)
        if other == count:
            return None
        if other is None or at is None:
            continue
        if other not in earliest or at < earliest[other][0]:
            earliest[other] = (at, mark)
    if not earliest:
        return None
    return max(earliest.values())[1]


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
