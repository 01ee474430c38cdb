"""The fence: a worker that may have been taken for dead asks the inbox before it posts or edits.

On PostgreSQL another worker takes over a delivery whose worker's heartbeat it has watched
stay the same for a whole lease (bot/store/workers.py). A worker that is only paused (a
suspended VM, SIGSTOP, a swap storm) then resumes where it was, in the middle of answering
a question another worker has answered meanwhile, and would post a second answer, or, resumed
in the middle of its stream, write its own over the answer the other gave in the same post
(and record it). So before each post, edit or answer record for an event the worker checks
that nobody could have judged it dead since it claimed the event: `Beats` knows since when
its heartbeats have come without such a gap. Only when they have not does it ask the inbox
whether the event is still its own (one read), and stops the handling if not (`TakenOver`).
The worker that took the event over holds it, so its replay edits the post it found. What is
left is the moment between that answer and the write, which the event's finish closes: it
writes nothing for an event that is no longer this worker's (StateStore.finish_event).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.store import AsyncStore, StateStore

# a gap between beats this large (of the lease) may have let another worker judge this one
# dead: it judges by a whole lease of silence on its own clock, from the beat's commit on
SAFE_SHARE = 2 / 3


class TakenOver(BaseException):
    """This worker no longer holds the event: another took it over while this one was paused,
    or (a write that stated it held found it not) its author was forgotten meanwhile. Stop
    handling it. A BaseException, as cancellation is, so no `except Exception` on the way
    treats it as a failure to apologise for."""


class Beats:
    """This worker's successful heartbeats: since when they have come with no gap another
    worker could take for a death, and when the last one began."""

    def __init__(self, lease: timedelta, now: Callable[[], datetime]) -> None:
        self.safe = lease * SAFE_SHARE
        self.now = now
        self.since: datetime | None = None  # the start of the unbroken run of beats
        self.last: datetime | None = None  # when the last successful beat began

    def beaten(self, began: datetime) -> None:
        """A beat that began at `began` is written."""
        finished = self.now()
        if self.last is None or finished - self.last >= self.safe:
            self.since = finished  # before its commit, this worker may have looked dead
        self.last = began

    def unbroken_since(self, at: datetime) -> bool:
        """Whether no other worker can have judged this one dead at any time since `at`."""
        return (
            self.since is not None
            and self.last is not None
            and self.since <= at
            and self.now() - self.last < self.safe
        )


class Fence:
    """One event's fence (`check` before each post, edit or answer record): see the module's
    docstring."""

    def __init__(self, store: AsyncStore, beats: Beats | None, key: str, claimed: datetime) -> None:
        self.store = store
        self.beats = beats
        self.key = key
        self.checked = claimed  # the event was this worker's at this moment

    async def check(self) -> None:
        if self.beats is None or self.beats.unbroken_since(self.checked):
            return
        asked = self.beats.now()
        if not await self.store.run(StateStore.holds_event, self.key):
            raise TakenOver(self.key)
        self.checked = asked
