"""How far back an adapter reads what was said while no connection of ours heard it.

Both platforms lose what is said while the bot is down for long enough: Discord sends a
message once, to the sessions open then; Slack tries an unacknowledged event again for about
five minutes, then drops it. Each adapter reads the channels back when it starts
(adapters/discord/missed.py, adapters/slack/missed.py); the windows are one policy, here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# read back from this long before the newest message heard: events of different channels
# may arrive a little out of order, and reading earlier costs only duplicates (the inbox
# recognises a message handled before and answers it once)
MARGIN = timedelta(seconds=30)
# a question asked longer ago than this, while the bot was down, is not answered late: by
# then it is people's to answer
MISSED_WINDOW = timedelta(hours=24)
# a channel where the bot talked this recently is one where people ask it (a quiet week must
# not make the channel of the last question unknown)
ASKED_WINDOW = timedelta(days=30)


def since(alive: float, now: datetime | None = None) -> float:
    """The epoch time to read after when everything said until `alive` (epoch seconds) was
    heard: `MARGIN` before it, but not before `MISSED_WINDOW` ago."""
    oldest = ((now or datetime.now(UTC)) - MISSED_WINDOW).timestamp()
    return max(alive - MARGIN.total_seconds(), oldest)
