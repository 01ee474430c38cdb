"""The store's lane (bot/store/lanes.py): closing it does not wait for ever on a call that
does not end (a database that stopped answering)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.store.lanes import Lane, LaneClosed


class _Store:
    closed = False

    def close(self) -> None:
        self.closed = True


async def test_a_close_stops_waiting_for_a_call_that_does_not_end() -> None:
    store = _Store()
    lane = Lane(store, "test-lane")
    started, release = threading.Event(), threading.Event()

    def stuck() -> bool:
        started.set()
        return release.wait()

    running = asyncio.ensure_future(lane.call(stuck))
    queued = asyncio.ensure_future(lane.call(lambda: "never run"))
    await asyncio.to_thread(started.wait)
    await asyncio.to_thread(lane.close, 0.01)  # returns, the call still running
    assert not store.closed  # the store is its thread's until that call ends
    with pytest.raises(LaneClosed):
        await lane.call(lambda: "refused")
    release.set()
    assert await running is True
    with pytest.raises(LaneClosed):
        await queued  # queued behind the close that gave up: failed, not run
    await asyncio.to_thread(lane.close)  # the thread has ended, and closed the store
    assert store.closed
