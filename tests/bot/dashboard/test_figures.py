"""The overview's figures kept a minute: fresh served as is, stale served while one refresh
runs, too old waited for, one computation per key however many ask at once."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.dashboard.figures import StaleWhileRevalidate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Source:
    """What computing the figures costs and gives: the number of computations so far."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()
        self.fail = False

    async def compute(self) -> int:
        self.calls += 1
        await self.release.wait()
        if self.fail:
            raise RuntimeError("store unavailable")
        return self.calls


@pytest.fixture
def clock() -> Clock:
    return Clock()


def kept(clock: Clock) -> StaleWhileRevalidate[int]:
    return StaleWhileRevalidate(fresh=60, stale_limit=900, clock=clock)


async def test_fresh_figures_are_served_without_computing_again(clock: Clock) -> None:
    cache, source = kept(clock), Source()
    assert await cache.get("7d", source.compute) == 1
    clock.now = 59
    assert await cache.get("7d", source.compute) == 1
    assert source.calls == 1
    assert await cache.get("30d", source.compute) == 2  # another key is its own computation


async def test_stale_figures_are_served_at_once_while_one_refresh_runs(clock: Clock) -> None:
    cache, source = kept(clock), Source()
    await cache.get("7d", source.compute)
    clock.now = 61
    source.release.clear()  # the refresh is slow
    assert await cache.get("7d", source.compute) == 1  # not kept waiting
    assert await cache.get("7d", source.compute) == 1
    await asyncio.sleep(0)
    assert source.calls == 2  # one refresh, however many views
    source.release.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert await cache.get("7d", source.compute) == 2  # the refreshed figures, fresh again
    assert source.calls == 2


async def test_figures_too_old_to_show_are_waited_for(clock: Clock) -> None:
    cache, source = kept(clock), Source()
    await cache.get("7d", source.compute)
    clock.now = 901
    assert await cache.get("7d", source.compute) == 2


async def test_many_first_views_at_once_compute_once(clock: Clock) -> None:
    cache, source = kept(clock), Source()
    source.release.clear()
    views = [asyncio.create_task(cache.get("7d", source.compute)) for _ in range(10)]
    await asyncio.sleep(0)
    source.release.set()
    assert await asyncio.gather(*views) == [1] * 10
    assert source.calls == 1


async def test_a_failed_refresh_keeps_the_figures_shown_and_is_logged(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    cache, source = kept(clock), Source()
    await cache.get("7d", source.compute)
    clock.now = 61
    source.fail = True
    with caplog.at_level(logging.WARNING, logger="bot.dashboard.figures"):
        assert await cache.get("7d", source.compute) == 1
        for _ in range(5):
            await asyncio.sleep(0)
    assert "refreshing the overview's figures failed" in caplog.text
    source.fail = False
    assert await cache.get("7d", source.compute) == 1  # still stale: the next view tries again
    for _ in range(5):
        await asyncio.sleep(0)
    assert await cache.get("7d", source.compute) == 3


async def test_a_first_view_whose_computation_fails_gets_the_error(clock: Clock) -> None:
    cache, source = kept(clock), Source()
    source.fail = True
    with pytest.raises(RuntimeError, match="store unavailable"):
        await cache.get("7d", source.compute)
    source.fail = False
    assert await cache.get("7d", source.compute) == 2  # nothing kept from the failure


async def test_closing_stops_refreshes_still_running(clock: Clock) -> None:
    cache, source = kept(clock), Source()
    await cache.get("7d", source.compute)
    clock.now = 61
    source.release.clear()
    await cache.get("7d", source.compute)
    await asyncio.sleep(0)
    await cache.aclose()
    assert source.calls == 2
    clock.now = 62
    assert await cache.get("7d", source.compute) == 1  # the cancelled refresh kept nothing
    source.release.set()
    await cache.aclose()
