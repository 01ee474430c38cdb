"""Unwritten finishes: events handled, but whose finish the store refused (the database away).

It owns those finishes from the store's refusal until it takes them: each kept with its
outcome, the answer's record and the post's note (`bot.inbox.Unwritten`), and written again
at each clock tick (bot/delivery.py `_write_unwritten`). The person already has their
outcome, so the event must neither be replayed (a second answer) nor forgotten (the answer's
record rides with the finish: until it is written, a thread the bot answered in does not hear
its follow-ups). Keeping the event's key from replays meanwhile is delivery's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.inbox import Unwritten
from bot.ports import Clock
from bot.store import AsyncStore, StateStore

log = logging.getLogger(__name__)


class UnwrittenFinishes:
    def __init__(self, *, store: AsyncStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._owed: dict[str, Unwritten] = {}  # inbox key -> a finish the store refused

    def keep(self, key: str, owed: Unwritten) -> None:
        self._owed[key] = owed

    async def write_again(self, written: Callable[[str], None]) -> None:
        """Write each kept finish again, until the store takes it; `written` is told of each
        key whose finish the store took, as soon as it took it. Each is tried on its own (one
        the store never takes holds up no other), and one line says what is left."""
        left: list[str] = []
        failure = ""
        for key, owed in list(self._owed.items()):
            try:
                await self._store.run(
                    StateStore.finish_event,
                    key,
                    self._clock.now(),
                    owed.outcome,
                    owed.completion,
                    owed.post,
                    again=True,
                )
            except Exception as exc:
                left.append(key)
                failure = type(exc).__name__
                continue
            del self._owed[key]
            written(key)
        if left:
            log.warning(
                "could not mark %d handled events as handled yet (%s); trying again at the next tick",
                len(left),
                failure,
                extra={"event": left[0]},
            )
