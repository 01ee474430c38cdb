"""The overview's figures computed before anyone asks: the page never reads a month of questions
while a person waits.

A month of a busy community's questions takes most of a second to read and compute
(README, the dashboard's table); kept figures are served at once (figures.py). So from the
moment the dashboard is served, the figures every platform-wide overview shows (each served
platform, each period) are computed in the background, on the store's report lane (a
connection and thread of their own: answers never wait behind them), and computed again
when the store has changed (`figures_version`: a new question, message, ticket event or
rating), but no more often than once per BUDGET times what computing them took (a month of
a busy community: about once a minute; a quiet day's: every couple of seconds), and at least
every WARM_EVERY seconds (edits and deletions, and the period's end moving on). A view then
finds figures at most that far behind, "as of" their moment as the page says. Overviews of
one workspace (staff of some workspaces only) are computed on their first view and kept like
the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass

from aiohttp import web

from bot.channel_types import Platform
from bot.dashboard.context import DASHBOARD, Dashboard
from bot.dashboard.pages import PERIODS, TRENDS, trend_key, trend_of
from bot.insights.metrics import Scope
from bot.store import StateStore

log = logging.getLogger(__name__)

TICK = 1.0  # seconds between looks at the store's version
MIN_GAP = 2.0  # seconds: never recomputed sooner after a change
BUDGET = 60.0  # recomputed at most once per this many times its own computing time (1.7% of a core)
WARM_EVERY = 120.0  # seconds: recomputed at least this often, changed or not
_TASK = web.AppKey("warming", asyncio.Task[None])


@dataclass(frozen=True)
class _Computed:
    version: tuple[int, ...]  # the store's, when the computation started
    at: float  # time.monotonic() then
    took: float  # seconds


def warm_platforms(dash: Dashboard) -> list[str]:
    """The platforms the running bot serves; standalone (`supportbot dashboard`), both."""
    if dash.channels is not None:
        return [p for p in (Platform.SLACK, Platform.DISCORD) if p in dash.channels]
    return [Platform.SLACK, Platform.DISCORD]


def due(last: _Computed | None, version: tuple[int, ...], now: float) -> bool:
    if last is None:
        return True
    gap = max(MIN_GAP, BUDGET * last.took)  # the budget holds for the timer too
    return now - last.at >= max(WARM_EVERY, gap) or (last.version != version and now - last.at >= gap)


async def keep_warm(app: web.Application) -> None:
    dash, kept = app[DASHBOARD], app[TRENDS]
    computed: dict[Hashable, _Computed] = {}
    while True:
        try:
            version = await dash.store.report(StateStore.figures_version)
        except Exception:  # a boundary: the store may be back at the next look
            log.warning("reading the store's version for the overview failed", exc_info=True)
            await asyncio.sleep(TICK)
            continue
        for platform in warm_platforms(dash):
            scope = Scope(platform=platform)
            for chosen in PERIODS:
                key = trend_key(scope, chosen)
                started = time.monotonic()
                if not due(computed.get(key), version, started):
                    continue
                try:
                    await kept.refresh(key, trend_of(dash, scope, chosen))
                except Exception:  # a boundary: the page computes them itself if it must
                    log.warning(
                        "computing the overview's figures in the background failed",
                        extra={"platform": platform, "period": chosen},
                        exc_info=True,
                    )
                computed[key] = _Computed(version, started, time.monotonic() - started)
        await asyncio.sleep(TICK)


async def _start(app: web.Application) -> None:
    app[_TASK] = asyncio.ensure_future(keep_warm(app))


async def _stop(app: web.Application) -> None:
    task = app[_TASK]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def add_warming(app: web.Application) -> None:
    app.on_startup.append(_start)
    # before the kept figures' own clean-up, which cancels what is still computing
    app.on_cleanup.insert(0, _stop)
