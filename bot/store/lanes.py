"""A lane: one thread that owns one store connection and runs calls on it in order.

The thread runs whatever is queued and hands the results back to each caller's event loop in
one wake-up (through an outbox per loop, which a later batch joins while the loop has not
picked up the last): under load a store call costs a few microseconds of hand-over instead of
a thread-pool future, a chained asyncio future and a wake-up each (measured 20 against 3-6 us
per call at 8-64 in flight). Results already finished are handed back before a call that took
more than SLOW_SECONDS last time (a clock job, a long page), and at least every FLUSH_SECONDS,
so a fast answer is not held back behind a slow call queued after it. A call whose caller was
cancelled before it started is skipped, as a thread pool would; one already running
completes. Calls made once the lane is closing are refused, and any still queued behind the
close fail instead of waiting forever. A close waits a bounded time for the calls queued
before it (a database that stopped answering must not hold the process's shutdown up): past
that it leaves the thread to end its call, fail the rest and close the store on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

R = TypeVar("R")

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.001  # finished results wait at most about this long for the batch to end
SLOW_SECONDS = 0.002  # a call that took this long last time does not hold back finished results
# how long a close waits for the calls queued before it: the store gives a silent database
# up after bot/store/postgres_session.py's DEADLINE, so a healthy lane is done well within
CLOSE_SECONDS = 10.0


class Closable(Protocol):
    def close(self) -> None: ...


S = TypeVar("S", bound=Closable)


class LaneClosed(RuntimeError):
    """The state store is closed: nothing more runs on it."""


class Lane(Generic[S]):
    """One thread running calls on `store` (a StateStore: it closes the store at the end)."""

    def __init__(
        self, store: S, name: str, explain: Callable[[BaseException], BaseException] | None = None
    ) -> None:
        self.store = store
        # what a failed call raises to its caller: the store's error as advice (StateStore.explain)
        self._explain = explain or _as_raised
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # `closed` and the queue's last item change together
        self._closed = False
        self._given_up = False  # a close stopped waiting: calls not yet started fail
        self._outboxes: dict[asyncio.AbstractEventLoop, _Outbox] = {}
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self._closed

    async def call(self, fn: Callable[[], R]) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        with self._lock:
            if self._closed:
                raise LaneClosed("the state store is closed")
            outbox = self._outboxes.get(loop)
            if outbox is None:
                outbox = self._outboxes[loop] = _Outbox(loop)
            self._calls.put(_Call(fn, future, outbox))
        return await future

    def close(self, wait: float = CLOSE_SECONDS) -> None:
        """Finish every call queued so far, then close the store and stop the thread; after
        `wait` seconds, return anyway (logged), leaving the thread to end the call it is in,
        fail the others and close the store."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._calls.put(None)
        self._thread.join(wait)
        if self._thread.is_alive():
            self._given_up = True
            log.warning(
                "the %s thread is still in a call after %g s: closing without it", self._thread.name, wait
            )

    def _serve(self) -> None:
        took: dict[object, float] = {}  # how long each store function took its last time
        done: list[tuple[_Call, bool, Any]] = []
        since = 0.0  # when the oldest result in `done` finished
        call = self._calls.get()
        while call is not None:
            kind = getattr(call.fn, "func", call.fn)  # the StateStore method of a partial
            if done and took.get(kind, 0.0) > SLOW_SECONDS:
                done = _hand_back(done)
            if self._given_up:
                done.append((call, False, LaneClosed("the state store was closed before this call ran")))
            elif not call.future.cancelled():  # a plain attribute read: safe from this thread
                started = time.monotonic()
                done.append(call.execute(self._explain))
                finished = time.monotonic()
                took[kind] = finished - started
                if len(done) == 1:
                    since = finished
                if finished - since > FLUSH_SECONDS:
                    done = _hand_back(done)
            try:
                call = self._calls.get_nowait()
            except queue.Empty:
                done = _hand_back(done)
                call = self._calls.get()
        _hand_back(done)
        # nothing is queued after the stop marker (calls are refused once it is in), but fail
        # anything that is rather than leave its caller waiting
        with contextlib.suppress(queue.Empty):
            while (late := self._calls.get_nowait()) is not None:
                late.outbox.put([(late, False, LaneClosed("the state store is closed"))])
        try:
            self.store.close()
        except Exception:  # a boundary: the close may have returned already, nobody to tell
            log.warning("closing the state store failed", exc_info=True)


def _hand_back(done: list[tuple[_Call, bool, Any]]) -> list[tuple[_Call, bool, Any]]:
    """Give each loop its finished calls (one wake-up each); the new, empty batch."""
    by_outbox: dict[_Outbox, list[tuple[_Call, bool, Any]]] = {}
    for item in done:
        by_outbox.setdefault(item[0].outbox, []).append(item)
    for outbox, items in by_outbox.items():
        outbox.put(items)
    return []


@dataclass(frozen=True, slots=True)
class _Call:
    fn: Callable[[], Any]
    future: asyncio.Future[Any]
    outbox: _Outbox

    def execute(self, explain: Callable[[BaseException], BaseException]) -> tuple[_Call, bool, Any]:
        try:
            return self, True, self.fn()
        except StopIteration as exc:  # a future cannot carry it: asyncio would raise TypeError
            return self, False, RuntimeError(f"a store call raised StopIteration: {exc!r}")
        except BaseException as exc:  # the caller gets it, as from a thread pool
            return self, False, explain(exc)


def _as_raised(exc: BaseException) -> BaseException:
    return exc


class _Outbox:
    """Results waiting for one event loop; the loop is woken once for however many arrive
    before it runs."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._items: list[tuple[_Call, bool, Any]] = []
        self._lock = threading.Lock()
        self._woken = False

    def put(self, items: list[tuple[_Call, bool, Any]]) -> None:
        with self._lock:
            self._items.extend(items)
            if self._woken:
                return  # the loop will take this one with the others
            self._woken = True
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
            self.loop.call_soon_threadsafe(self._settle)

    def _settle(self) -> None:
        with self._lock:
            items, self._items = self._items, []
            self._woken = False
        for call, ok, value in items:
            if call.future.done():
                continue  # its caller was cancelled meanwhile
            if ok:
                call.future.set_result(value)
            else:
                call.future.set_exception(value)
