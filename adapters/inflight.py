"""What both chat adapters share about work they start in the background.

`InFlight` owns the set of tasks an adapter spawned for incoming events (so the event
loop keeps a strong reference to them and shutdown can wait for them); `last_resort`
owns the final "sorry, that failed" attempt an adapter makes when the core itself could
not tell the person anything. Nothing here knows about Slack or Discord.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

__all__ = ["INDICATOR_AFTER_S", "InFlight", "last_resort"]

# A "working on it" indicator (Slack's thinking reaction, Discord's typing) shows only once an
# answer has taken this long: an answer that arrives sooner is its own acknowledgement, and an
# indicator that flickers on and off costs two rate-limited platform calls per question for
# nothing anyone sees. Interfaces commonly hold progress indicators back for about a second.
INDICATOR_AFTER_S = 1.0

log = logging.getLogger(__name__)


class InFlight:
    """Background tasks an adapter started for events; drained on shutdown."""

    def __init__(self) -> None:
        # Strong references: asyncio only keeps weak ones, and a task nobody holds can be
        # garbage-collected mid-answer.
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, coro: Coroutine[Any, Any, None], *, name: str | None = None) -> asyncio.Task[None]:
        """Run `coro` as a tracked task; it is forgotten as soon as it finishes."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # retrieving it also silences "exception was never retrieved"
        if exc is not None:
            # Adapters guard their own work; this only catches what slipped past that guard.
            log.error("background task %s failed", task.get_name(), exc_info=exc)

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait for every task (not the calling one); True if all finished, False if the
        timeout passed (the rest are then cancelled and awaited)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        current = asyncio.current_task()
        # Loop: a task that is finishing may start another (a retry, a follow-up), and
        # that one counts as in flight too.
        while True:
            pending = {task for task in self._tasks if task is not current}
            if not pending:
                return True
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            await asyncio.wait(pending, timeout=remaining)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return False


async def last_resort(send: Callable[[], Awaitable[object]], *, what: str, log: logging.Logger) -> bool:
    """Try one apology/notice; log (with the traceback) and return False if even that fails."""
    # `what` finishes the sentence "could not ...", e.g. "tell the user about the failure".
    try:
        await send()
    except Exception:
        # Nothing is left to tell the person with: the log is the only record.
        log.exception("could not %s", what)
        return False
    return True
