"""StateStore is the SQLite implementation of bot.ports.Store, and bot.store keeps its names."""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.ports import Store
from bot.store import (
    REPLAY_LEASE,
    AnswerRecord,
    AsyncStore,
    Catalog,
    ConversationState,
    FileRecord,
    StateStore,
    Stats,
    open_database,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _public_methods(cls: type) -> set[str]:
    return {name for name, value in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}


def test_state_store_implements_the_store_port(tmp_path: Path) -> None:
    store: Store = StateStore(tmp_path / "state.db")  # mypy checks the signatures here
    assert isinstance(store, Store)
    store.close()


def test_the_port_and_the_store_have_the_same_methods_and_parameters() -> None:
    """A method added to one and not the other, or a parameter renamed, is caught here at run time."""
    assert _public_methods(StateStore) == _public_methods(Store)
    for name in _public_methods(Store):
        ours = inspect.signature(getattr(StateStore, name)).parameters.values()
        port = inspect.signature(getattr(Store, name)).parameters.values()
        assert [(p.name, p.kind, p.default) for p in ours] == [(p.name, p.kind, p.default) for p in port], (
            name
        )


def test_the_dead_draft_platform_method_is_gone() -> None:
    assert not hasattr(StateStore, "draft_platform")


def test_the_names_other_modules_import_are_still_there() -> None:
    for value in (AnswerRecord, AsyncStore, Catalog, ConversationState, FileRecord, StateStore, Stats):
        assert value.__module__.startswith("bot.store.")
    assert callable(open_database) and REPLAY_LEASE.total_seconds() > 0


async def test_async_store_runs_unbound_store_methods_on_its_thread(tmp_path: Path) -> None:
    store = AsyncStore(StateStore(tmp_path / "state.db"))
    assert await store.run(StateStore.claim_event, "slack:1", "slack", "{}", NOW)
    assert await store.run(StateStore.pending_events, "slack", now=NOW) == [("slack:1", "{}")]
    stats = await store.run(StateStore.stats)
    assert stats.questions == 0
    store.close()


async def test_async_store_calls_run_in_order_on_one_thread_off_the_loop(tmp_path: Path) -> None:
    store = AsyncStore(StateStore(tmp_path / "state.db"))
    seen: list[tuple[int, str]] = []

    def note(_: StateStore, n: int) -> int:
        seen.append((n, threading.current_thread().name))
        return n * n

    results = await asyncio.gather(*(store.run(note, n) for n in range(200)))
    assert results == [n * n for n in range(200)]
    assert [n for n, _ in seen] == list(range(200))  # queued order is run order
    assert {name for _, name in seen} == {"supportbot-store"} != {threading.current_thread().name}
    store.close()


async def test_async_store_hands_back_errors_and_keeps_serving(tmp_path: Path) -> None:
    store = AsyncStore(StateStore(tmp_path / "state.db"))

    def fail(_: StateStore) -> None:
        raise ValueError("no such thing")

    with pytest.raises(ValueError, match="no such thing"):
        await store.run(fail)
    assert await store.run(StateStore.claim_event, "slack:1", "slack", "{}", NOW)
    store.close()


async def test_a_write_another_process_holds_the_lock_for_is_the_store_s_advice(tmp_path: Path) -> None:
    """A call on a state.db whose write lock another process held past the busy timeout used to
    reach the caller as sqlite3's bare "database is locked" (`supportbot chat` printed its
    traceback and ended); now it is the advice opening the file gives, a StoreError. Other
    errors reach the caller as they were raised."""
    path = tmp_path / "state.db"
    store = AsyncStore(StateStore(path, busy_timeout=0.05))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("begin exclusive")
    try:
        with pytest.raises(StoreError, match="is locked by another process"):
            await store.run(StateStore.claim_event, "slack:1", "slack", "{}", NOW)
    finally:
        holder.rollback()
        holder.close()
    assert await store.run(StateStore.claim_event, "slack:1", "slack", "{}", NOW)

    def duplicate(state: StateStore) -> None:
        state.db.execute(
            "insert into inbox (key, platform, received_at, status, payload) values ('slack:1', 's', '', 'done', '')"
        )

    with pytest.raises(sqlite3.IntegrityError):
        await store.run(duplicate)
    store.close()


async def test_async_store_skips_a_call_cancelled_before_it_started(tmp_path: Path) -> None:
    store = AsyncStore(StateStore(tmp_path / "state.db"))
    started, gate = threading.Event(), threading.Event()

    def hold(_: StateStore) -> None:
        started.set()
        gate.wait(10)

    holding = asyncio.ensure_future(store.run(hold))
    await asyncio.to_thread(started.wait, 10)  # the store's thread is busy: the next call queues
    queued = asyncio.ensure_future(store.run(StateStore.claim_event, "slack:1", "slack", "{}", NOW))
    await asyncio.sleep(0)
    queued.cancel()
    gate.set()
    await holding
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert await store.run(StateStore.pending_events, "slack", now=NOW) == []  # it never ran
    store.close()


async def test_async_store_close_finishes_queued_calls_and_refuses_new_ones(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = AsyncStore(StateStore(path))
    claims = [
        asyncio.ensure_future(store.run(StateStore.claim_event, f"slack:{n}", "slack", "{}", NOW))
        for n in range(20)
    ]
    await asyncio.sleep(0)  # queued, not awaited
    await asyncio.to_thread(store.close)
    assert all(await asyncio.gather(*claims))
    with pytest.raises(RuntimeError, match="closed"):
        await store.run(StateStore.stats)
    reopened = StateStore(path)
    assert len(reopened.pending_events("slack", now=NOW)) == 20
    reopened.close()


async def test_a_long_report_never_holds_up_the_bot_s_own_store_calls(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = AsyncStore(StateStore(path), reports=lambda: StateStore(path))
    started, gate = threading.Event(), threading.Event()

    def slow_report(s: StateStore) -> tuple[str, int]:
        started.set()
        gate.wait(10)  # a month of figures, say
        return threading.current_thread().name, s.stats().questions

    report = asyncio.ensure_future(store.report(slow_report))
    await asyncio.to_thread(started.wait, 10)
    # while the report runs, the bot's own calls go through (on one lane they would wait)
    assert await asyncio.wait_for(store.run(StateStore.claim_event, "slack:1", "slack", "{}", NOW), 10)
    assert not report.done()
    gate.set()
    lane, questions = await report
    assert lane == "supportbot-reports" and questions == 0
    # what the bot's lane committed, the reports lane reads
    assert await store.report(StateStore.pending_events, "slack", now=NOW) == [("slack:1", "{}")]
    store.close()


async def test_without_a_second_connection_reports_share_the_bot_s_lane(tmp_path: Path) -> None:
    store = AsyncStore(StateStore(tmp_path / "state.db"))

    def lane(_: StateStore) -> str:
        return threading.current_thread().name

    assert await store.report(lane) == await store.run(lane) == "supportbot-store"
    store.close()


async def test_a_finished_call_is_not_held_back_by_a_slow_one_queued_after_it(tmp_path: Path) -> None:
    store = AsyncStore(StateStore(tmp_path / "state.db"))
    gate = threading.Event()

    def slow(_: StateStore) -> str:
        gate.wait(10)
        threading.Event().wait(0.01)  # a clock job, a long page: never under 10 ms
        return "slow"

    gate.set()
    assert await store.run(slow) == "slow"  # once: now the lane knows it for a slow call
    gate.clear()
    fast = asyncio.ensure_future(store.run(StateStore.claim_event, "slack:1", "slack", "{}", NOW))
    held = asyncio.ensure_future(store.run(slow))
    assert await asyncio.wait_for(fast, 10)  # back while the slow call still runs
    assert not held.done()
    gate.set()
    assert await held == "slow"
    store.close()


async def test_a_call_raising_stop_iteration_fails_alone(tmp_path: Path) -> None:
    store = AsyncStore(StateStore(tmp_path / "state.db"))

    def odd(_: StateStore) -> None:
        raise StopIteration

    results = await asyncio.gather(
        store.run(odd),
        store.run(StateStore.claim_event, "slack:1", "slack", "{}", NOW),
        return_exceptions=True,
    )
    assert isinstance(results[0], RuntimeError) and results[1] is True
    store.close()
