"""The overview's figures, kept for a minute: what makes the busiest page cheap to look at.

The overview's report and its charts are computed from every question of the period (one
read of the store, then the period and each bucket: bot/dashboard/trends.py): on a busy
community that is most of a second of work (30 days of 100,000 questions), and it would be
redone for every reload by every member of the team. So
each (platform, period) is computed once and then served as it was for FRESH seconds; after
that the page still gets the figures at once, while one refresh runs in the background
(stale-while-revalidate), until they are STALE_LIMIT old, when the page waits for new ones.
The page says which moment its figures are "as of" (the period's end), so a reader always
knows how old they are. The JSON route (/admin/api/overview) reads the same kept figures,
so the page and its JSON never disagree.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

FRESH = 60.0  # seconds: figures younger than this are served as they are
STALE_LIMIT = 900.0  # seconds: older figures are not shown; the page waits for new ones

T = TypeVar("T")


@dataclass
class _Kept(Generic[T]):
    value: T
    at: float  # the clock's reading when it was computed


class StaleWhileRevalidate(Generic[T]):
    """Values by key, each computed once however many ask at the same moment, served while
    fresh, served and refreshed in the background while stale, recomputed when too old."""

    def __init__(
        self,
        *,
        fresh: float = FRESH,
        stale_limit: float = STALE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fresh = fresh
        self.stale_limit = stale_limit
        self.clock = clock
        self._kept: dict[Hashable, _Kept[T]] = {}
        self._running: dict[Hashable, asyncio.Task[T]] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        kept = self._kept.get(key)
        age = self.clock() - kept.at if kept is not None else None
        if kept is not None and age is not None and age < self.fresh:
            return kept.value
        if kept is not None and age is not None and age < self.stale_limit:
            if key not in self._running:
                self._start(key, compute).add_done_callback(_log_failure)
            return kept.value
        # nothing to show yet (or too old to show): wait for the one computation of this key
        return await asyncio.shield(self._running.get(key) or self._start(key, compute))

    async def refresh(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """Compute `key` now (or join the computation already running), whatever is kept."""
        return await asyncio.shield(self._running.get(key) or self._start(key, compute))

    def _start(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        running = asyncio.ensure_future(self._compute(key, compute))
        self._running[key] = running
        return running

    async def _compute(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        try:
            value = await compute()
            self._kept[key] = _Kept(value=value, at=self.clock())
            return value
        finally:
            self._running.pop(key, None)

    async def aclose(self) -> None:
        """Stop the refreshes still running (the application is shutting down)."""
        running = list(self._running.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


def _log_failure(task: asyncio.Task[object]) -> None:
    # a failed background refresh keeps the figures shown; the next view tries again
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("refreshing the overview's figures failed: %s", error, exc_info=error)
