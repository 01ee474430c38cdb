"""Log lines that outsiders can cause, at most one a second, with the rest counted.

What a stranger can send many times a second (a request refused at the Slack door, a gateway
dispatch discord.py cannot read) must not be able to fill the log or drown it. `RateLimitedLog`
writes such a line at most once per `interval` and counts the ones it holds back, by kind;
used by `adapters/slack/http_guard.py` and `adapters/discord/dispatch_guard.py`. It also
owns `quiet_malformed_http`: aiohttp's own ERROR line, traceback and all, for each request
its parser rejects, turned into such a line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping

from aiohttp.http_exceptions import BadHttpMessage


class RateLimitedLog:
    """Lines at `level` at most one per `interval` seconds; the ones held back are counted.

    A line held back is not lost: the next line says how many were suppressed (and of which
    kinds), and if no next line comes, one is written `interval` after the last one anyway
    (`more`, with the count and the last held-back line's `last`), so the log always ends with
    the true count. `flush()` writes it at once.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        more: str = "%d more similar line(s), last: %s",
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        extra: Mapping[str, object] | None = None,
        level: int = logging.WARNING,
    ) -> None:
        self.logger = logger
        self.more = more
        self.interval = interval
        self.clock = clock
        self.extra = dict(extra or {})
        self.level = level
        self.suppressed: Counter[str] = Counter()
        self._last = ""
        self._next_at = float("-inf")
        self._timer: asyncio.TimerHandle | None = None

    def write(self, kind: str, line: str, *, last: str | None = None) -> None:
        """Log `line` now, or count it under `kind` if a line went out less than `interval`
        ago. `last` is how the line is named in the count (`line` itself by default)."""
        now = self.clock()
        if now >= self._next_at:
            self._cancel_timer()
            self.logger.log(self.level, "%s%s", line, self._held_back(), extra=self.extra)
            self.suppressed.clear()
            self._next_at = now + self.interval
            return
        self.suppressed[kind] += 1
        self._last = line if last is None else last
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop to wait on: the next line or flush() reports the count
            self._timer = loop.call_later(self._next_at - now, self._timed_flush)

    def flush(self) -> None:
        """Write the count of held-back lines now, if there is one."""
        self._cancel_timer()
        total = sum(self.suppressed.values())
        if not total:
            return
        self.logger.log(self.level, self.more + "%s", total, self._last, self._held_back(), extra=self.extra)
        self.suppressed.clear()
        self._next_at = self.clock() + self.interval

    def _timed_flush(self) -> None:
        self._timer = None
        self.flush()

    def _held_back(self) -> str:
        total = sum(self.suppressed.values())
        if not total:
            return ""
        kinds = ", ".join(f"{n} x {kind}" for kind, n in sorted(self.suppressed.items()))
        return f"; {total} similar line(s) suppressed ({kinds})"

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


AIOHTTP_SERVER = "aiohttp.server"  # the logger aiohttp's servers write their errors to


class MalformedRequests(logging.Filter):
    """aiohttp's "Error handling request" for what its HTTP parser rejected (a control byte
    in a header, a bad request line) as one WARNING line a second at most.

    aiohttp answers those 400 itself, before any handler runs, and logs each at ERROR with a
    traceback whose message repeats the raw bytes received: anyone able to reach the port
    could fill the log, and write into it. This filter drops those records and writes the
    client's address and the kind of error instead; every other record (a handler's crash)
    passes unchanged."""

    def __init__(self, lines: RateLimitedLog) -> None:
        super().__init__()
        self.lines = lines

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        # BadHttpMessage is what aiohttp's parser raises about the request it reads; other
        # HttpProcessingErrors (one a handler raises, from a call it made) are real faults
        if not isinstance(error, BadHttpMessage):
            return True
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else None
        kind = type(error).__name__
        self.lines.write(
            kind, f"refused a malformed HTTP request from {remote or 'an unknown address'}: {kind}"
        )
        return False


MALFORMED = MalformedRequests(
    RateLimitedLog(logging.getLogger(__name__), more="%d more malformed HTTP request(s), last: %s")
)


def quiet_malformed_http() -> None:
    """Put `MALFORMED` on aiohttp's server logger (once per process, however many servers)."""
    server = logging.getLogger(AIOHTTP_SERVER)
    if MALFORMED not in server.filters:
        server.addFilter(MALFORMED)
