"""Group commit (bot/store/flushes.py): on PostgreSQL the store's lane lets the calls queued
behind a running one share one log flush, made before any of their results is handed back;
a call that finds the lane idle flushes in its own trip, as before. Counted from libpq's
protocol trace (tests/bot/store/round_trips.py)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store import AsyncStore, StateStore
from bot.store.flushes import BARRIER, group_commit
from tests.bot.store.round_trips import RoundTrips

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
OFF, ON = "set synchronous_commit to off", "set synchronous_commit to on"


def _setting(store: StateStore) -> str:
    return str(store.db.execute("show synchronous_commit").fetchone()[0])


async def _backlog(
    store: AsyncStore, claims: int, first: object = None, prefix: str = "slack"
) -> list[object]:
    """`claims` claims queued behind a call held on the store's thread, then let go."""
    started, gate = threading.Event(), threading.Event()

    def hold(s: StateStore) -> None:
        if callable(first):
            first(s)
        started.set()
        gate.wait(10)

    holding = asyncio.ensure_future(store.run(hold))
    await asyncio.to_thread(started.wait, 10)
    queued = [
        asyncio.ensure_future(store.run(StateStore.claim_event, f"{prefix}:{n}", "slack", "{}", NOW))
        for n in range(claims)
    ]
    await asyncio.sleep(0)
    gate.set()
    return list(await asyncio.gather(holding, *queued, return_exceptions=True))[1:]


async def test_calls_queued_together_share_one_flush_before_their_results(pg_url: str) -> None:
    store = AsyncStore(StateStore(pg_url))
    with RoundTrips(store.store.db.connection) as trace:
        assert await _backlog(store, 20) == [True] * 20
        assert await store.run(_setting) == "on"
    # the session waits for no flush while calls are queued, then once for all of them before
    # handing any back, and again for each commit once the lane is idle
    assert trace.statements[OFF] == 1 and trace.statements[ON] == 1
    assert 1 <= trace.statements[BARRIER] < 20
    store.close()
    reopened = StateStore(pg_url)
    assert reopened.db.execute("select count(*) from inbox").fetchone() == (20,)
    reopened.close()


async def test_a_lone_call_flushes_in_its_own_trip(pg_url: str) -> None:
    store = AsyncStore(StateStore(pg_url))
    await store.run(StateStore.claim_event, "slack:warm", "slack", "{}", NOW)
    with RoundTrips(store.store.db.connection) as trace:
        assert await store.run(StateStore.claim_event, "slack:1", "slack", "{}", NOW)
    assert trace.trips == 1 and trace.total == 1  # no barrier, no switching
    store.close()


async def test_writes_whose_flush_cannot_be_known_are_reported_failed(pg_url: str) -> None:
    """A connection replaced while writes waited for their flush (a server restart): their
    callers are told of a failure, never of a success that may not have been kept."""
    store = AsyncStore(StateStore(pg_url))

    def lose(s: StateStore) -> None:
        s.db.lost_unflushed = True  # as PgDatabase.live() notes it

    results = await _backlog(store, 5, lose)
    failed = [r for r in results if isinstance(r, StoreError)]
    assert failed and all(r is True or isinstance(r, StoreError) for r in results)
    assert "before its last writes were flushed" in str(failed[0])
    assert await store.run(StateStore.claim_event, "slack:after", "slack", "{}", NOW)  # and it serves on
    store.close()


def test_sqlite_has_no_group_commit(tmp_path: Path) -> None:
    """state.db's commits never wait for a flush (synchronous=normal): nothing to group."""
    store = StateStore(tmp_path / "state.db")
    assert group_commit(store) is None
    store.close()


async def test_a_flush_that_fails_fails_its_batch_and_only_that(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = AsyncStore(StateStore(pg_url))
    db = store.store.db
    session = db.session
    calls: list[str] = []

    def fail_once(sql: str) -> None:
        calls.append(sql)
        if sql == BARRIER and calls.count(BARRIER) == 1:
            db.connection.close()  # as a server restart leaves it: the next call takes a new one
            raise StoreError("the server went away")
        session(sql)

    monkeypatch.setattr(db, "session", fail_once)
    first = await _backlog(store, 5)
    assert any(isinstance(r, StoreError) for r in first)  # told of the failure, not of a success
    assert await _backlog(store, 5, prefix="next") == [True] * 5  # the next batch is not failed with it
    store.close()
