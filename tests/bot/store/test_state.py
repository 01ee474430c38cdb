"""StateStore is the SQLite implementation of bot.ports.Store, and bot.store keeps its names."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from pathlib import Path

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
