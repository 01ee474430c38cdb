"""discord.py's sweep of idle rate-limit buckets, paced to once a minute.

discord.py 2.x keeps one `Ratelimit` bucket per route and major parameter: every channel and
every thread the bot posts in has its own. A bucket idle for 300 s is dropped by
`HTTPClient._try_clear_expired_ratelimits`, which `get_ratelimit` calls each time it creates a
bucket, and which, once there are 256, reads the clock for every bucket there is. The bot
starts a thread for each question, so each question adds a bucket and pays a pass over all
the threads of the last five minutes: quadratic in the question rate. At 150 questions a
second (bench/event_throughput.py) that pass was 9% of the Discord adapter's event loop, and
a busy server with ten questions a second walks 3,000 buckets per question.

No bucket can become idle sooner than 300 s after its last request, so one pass a minute
drops the same buckets, at most a minute later: the table holds at most the buckets of the
last six minutes instead of five. `pace_bucket_sweeps` puts that pacing in front of the
client's own sweep, which still decides what is idle.

discord.py has no public setting for this. Checked against discord.py 2.4.0 and 2.7.1
(http.py `HTTPClient.get_ratelimit` and `_try_clear_expired_ratelimits`, the same in both).
If a later version drops the method, the client runs with discord.py's own sweep and says so.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import discord

from adapters.discord.translate import PLATFORM

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)

SWEEP_EVERY_S = 60.0
_SWEEP = "_try_clear_expired_ratelimits"


def pace_bucket_sweeps(
    http: object, every: float = SWEEP_EVERY_S, clock: Callable[[], float] = time.monotonic
) -> bool:
    """Let `http` (a discord.py `HTTPClient`) sweep its idle rate-limit buckets at most once
    every `every` seconds. Returns whether the pacing is in place."""
    sweep = getattr(http, _SWEEP, None)
    if not callable(sweep):
        log.warning(
            "discord.py %s has no HTTPClient.%s: rate-limit buckets are swept as discord.py does",
            discord.__version__,
            _SWEEP,
            extra={"platform": PLATFORM},
        )
        return False
    last = -math.inf

    def paced() -> None:
        nonlocal last
        now = clock()
        if now - last >= every:
            last = now
            sweep()

    setattr(http, _SWEEP, paced)  # on the instance: the class and other clients are untouched
    return True
