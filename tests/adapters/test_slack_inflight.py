"""adapters/inflight.py, which the Slack and Discord adapters share: draining and the last resort."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.inflight import InFlight, last_resort


async def test_drain_waits_for_every_task_and_forgets_finished_ones() -> None:
    tasks = InFlight()
    release = asyncio.Event()
    done: list[int] = []

    async def work(n: int) -> None:
        await release.wait()
        done.append(n)

    for n in range(3):
        tasks.start(work(n), name=f"work-{n}")
    assert len(tasks) == 3
    asyncio.get_running_loop().call_soon(release.set)
    assert await tasks.drain(timeout=5) is True
    assert sorted(done) == [0, 1, 2]
    await asyncio.sleep(0)  # done callbacks run on the next loop turn
    assert len(tasks) == 0


async def test_drain_returns_false_and_cancels_what_is_left_after_the_timeout() -> None:
    tasks = InFlight()
    stuck = tasks.start(asyncio.Event().wait())
    assert await tasks.drain(timeout=0.05) is False
    assert stuck.cancelled()


async def test_drain_from_inside_a_task_does_not_wait_for_itself() -> None:
    tasks = InFlight()

    async def drains() -> None:
        assert await tasks.drain(timeout=1) is True

    await asyncio.wait_for(tasks.start(drains()), 5)


async def test_a_task_that_escapes_its_guard_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    tasks = InFlight()

    async def fails() -> None:
        raise RuntimeError("boom")

    tasks.start(fails(), name="failing")
    assert await tasks.drain(timeout=5) is True
    await asyncio.sleep(0)
    assert "background task failing failed" in caplog.text and "boom" in caplog.text


async def test_last_resort_reports_whether_the_notice_went_out(caplog: pytest.LogCaptureFixture) -> None:
    sent: list[str] = []

    async def ok() -> None:
        sent.append("sorry")

    async def broken() -> None:
        raise ConnectionError("down")

    log = logging.getLogger("tests.inflight")
    assert await last_resort(ok, what="say sorry", log=log) is True
    assert await last_resort(broken, what="say sorry", log=log) is False
    assert sent == ["sorry"]
    assert "could not say sorry" in caplog.text and "ConnectionError" in caplog.text


async def test_waiters_on_a_failed_directory_lookup_see_the_failure_not_a_cancellation() -> None:
    import asyncio

    from adapters.slack.directory import TtlCache

    cache: TtlCache[str] = TtlCache()
    started = asyncio.Event()

    async def broken() -> tuple[str, float]:
        started.set()
        await asyncio.sleep(0)
        raise RuntimeError("lookup bug")

    first = asyncio.create_task(cache.get("U1", broken))
    await started.wait()
    second = asyncio.create_task(cache.get("U1", broken))  # shares the lookup in progress
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]


async def test_a_directory_lookup_under_way_when_its_key_is_dropped_is_not_kept() -> None:
    """A channel shared with another organisation while its visibility is being read: what
    that read brings may be from before the share, so the next use reads it again."""
    import asyncio

    from adapters.slack.directory import TtlCache

    cache: TtlCache[str] = TtlCache()
    reads: list[str] = []
    release = asyncio.Event()

    async def read(value: str) -> tuple[str, float]:
        reads.append(value)
        await release.wait()
        return value, 600.0

    before = asyncio.create_task(cache.get("C1", lambda: read("internal")))
    await asyncio.sleep(0)
    cache.drop("C1")  # channel_shared arrives meanwhile
    release.set()
    assert await before == "internal"  # the question already being answered
    assert await cache.get("C1", lambda: read("public")) == "public"
    assert reads == ["internal", "public"]
