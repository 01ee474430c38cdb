"""`StateStore`, the state store the rest of the code uses, and `AsyncStore` around it.

`StateStore` is assembled from the repositories (inbox, conversations, answers, tickets,
drafts): it opens state.db (or the PostgreSQL database the settings name) once and every
repository's methods run on that one connection. Assembling by inheritance rather than holding one object per repository keeps
`StateStore.method` a plain function of the store, which is how `AsyncStore.run` is called
everywhere (`await store.run(StateStore.stats, since)`).

It implements `bot.ports.Store` on both backends: the repositories' SQL runs on SQLite and,
through bot/store/postgres.py, on PostgreSQL. `StateStore.open(settings)` picks the backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from bot.store.answers import AnswerRepository
from bot.store.conversations import ConversationRepository
from bot.store.dashboard import DashboardRepository
from bot.store.drafts import DraftRepository
from bot.store.followups import FollowupRepository
from bot.store.gaps import GapRepository
from bot.store.inbox import InboxRepository
from bot.store.incidents import IncidentRepository
from bot.store.jobs import JobRepository
from bot.store.metrics import MetricsRepository
from bot.store.migrations import STATE_MIGRATIONS, migrate
from bot.store.people import PeopleRepository
from bot.store.queue import TicketQueueRepository
from bot.store.reply_drafts import ReplyDraftRepository
from bot.store.retention import RetentionRepository
from bot.store.rows import update_row
from bot.store.slack_installs import SlackInstallRepository
from bot.store.store import DEFAULT_BUSY_TIMEOUT, open_state
from bot.store.tickets import TicketRepository
from bot.store.urls import is_database_url, redact_url
from bot.store.workers import WorkerRepository
from bot.types import Posted

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.ports import Store

P = ParamSpec("P")
R = TypeVar("R")


class StateStore(
    InboxRepository,
    ConversationRepository,
    AnswerRepository,
    TicketRepository,
    TicketQueueRepository,
    DraftRepository,
    ReplyDraftRepository,
    FollowupRepository,
    IncidentRepository,
    GapRepository,
    JobRepository,
    MetricsRepository,
    PeopleRepository,
    RetentionRepository,
    WorkerRepository,
    SlackInstallRepository,
    DashboardRepository,
):
    """State that must survive anything: one SQLite file in the data directory, or a
    PostgreSQL database when `path` is a `postgresql://` URL.

    `busy_timeout` is how many seconds a SQLite write waits for another connection's lock
    before the store reports the file as locked (by another process, most likely)."""

    def __init__(self, path: Path | str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        # where the state is, fit to show: a URL's password is never kept here
        self.path: Path | str = redact_url(path) if isinstance(path, str) and is_database_url(path) else path
        super().__init__(open_state(path, STATE_MIGRATIONS, busy_timeout=busy_timeout))

    @classmethod
    def open(cls, settings: Settings) -> StateStore:
        """The state the settings name: `SUPPORTBOT_DATABASE_URL` or `[store] url` (PostgreSQL),
        else state.db in the data directory."""
        store = cls(settings.state_target)
        store.worker_lease = timedelta(seconds=settings.worker_lease_seconds)
        return store

    @classmethod
    def migrate(cls, settings: Settings) -> list[str]:
        """`supportbot migrate`: bring the state the settings name to the current schema; the
        names of the migrations applied (none when it was up to date). Opening the store
        does the same, so this is for upgrading ahead of starting the workers."""
        target = settings.state_target
        db = open_state(target, [])  # opened (and checked), nothing applied yet
        try:
            if not is_database_url(target):
                return migrate(db, STATE_MIGRATIONS)
            from bot.store.postgres import MIGRATION_LOCK, PgDatabase

            assert isinstance(db, PgDatabase)
            with db.lock(MIGRATION_LOCK):  # workers starting now wait, then find nothing to do
                return migrate(db, STATE_MIGRATIONS)
        finally:
            db.close()

    def complete_answer(
        self, answer_id: int, posted: Posted, text: str, at: datetime, followup_due: datetime | None = None
    ) -> None:
        """An answer is up: note its post, keep it in the thread's history, mark the thread as
        one the bot takes part in and (with `followup_due`) schedule its "Did this solve it?",
        in one transaction (one trip to the store's thread)."""
        with self.db.conn:
            update_row(self.db, "answers", "id", answer_id, {"posted_message_id": posted.message_id})
            self._touch(posted.conversation, at, None)
            self._insert_message(
                posted.conversation, role="bot", text=text, at=at, author=None, platform_id=posted.message_id
            )
            if posted.conversation.thread is not None:
                update_row(self.db, "conversations", "key", posted.conversation.key, {"bot_participating": 1})
            if followup_due is not None:
                self._schedule_followup(posted.conversation.key, answer_id, followup_due)

    def close(self) -> None:
        self.db.close()


def shown_target(settings: Settings) -> str:
    """Where the settings keep state, fit to show: a URL without its password, or a path."""
    target = settings.state_target
    return redact_url(target) if isinstance(target, str) and is_database_url(target) else str(target)


class AsyncStore:
    """Runs StateStore calls on one dedicated thread, so the event loop never blocks on SQLite.

    One thread owns the connection. Calls queue up, and the thread runs whatever is queued
    before it wakes the loop once for all their results: under load a store call costs a few
    microseconds of hand-over instead of a thread-pool future, a chained asyncio future and a
    wake-up each (measured 20 against 3-6 us per call at 8-64 in flight). Results are still
    handed back every millisecond while a long queue drains. A call whose caller was cancelled
    before it started is skipped, as a thread pool would; one already running completes.
    """

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="supportbot-store", daemon=True)
        self._thread.start()

    async def run(
        self, fn: Callable[Concatenate[StateStore, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        if not self._thread.is_alive():
            raise RuntimeError("the state store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._calls.put(_Call(functools.partial(fn, self.store, *args, **kwargs), future, loop))
        return await future

    def close(self) -> None:
        """Finish every queued call, then close the store and stop the thread."""
        if self._thread.is_alive():
            self._calls.put(None)
            self._thread.join()
        self.store.close()

    def _serve(self) -> None:
        while True:
            call = self._calls.get()
            done: list[tuple[_Call, bool, Any]] = []
            flushed = time.monotonic()
            while call is not None:
                if not call.future.cancelled():  # a plain attribute read: safe from this thread
                    done.append(call.execute())
                if time.monotonic() - flushed > _FLUSH_SECONDS:
                    _hand_back(done)
                    done, flushed = [], time.monotonic()
                try:
                    call = self._calls.get_nowait()
                except queue.Empty:
                    break
            _hand_back(done)
            if call is None:
                return


_FLUSH_SECONDS = 0.001


@dataclass(frozen=True, slots=True)
class _Call:
    fn: Callable[[], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop

    def execute(self) -> tuple[_Call, bool, Any]:
        try:
            return self, True, self.fn()
        except BaseException as exc:  # the caller gets it, as from a thread pool
            return self, False, exc


def _hand_back(done: list[tuple[_Call, bool, Any]]) -> None:
    """Wake each loop once with all of its finished calls."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Call, bool, Any]]] = {}
    for item in done:
        by_loop.setdefault(item[0].loop, []).append(item)
    for loop, results in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_settle, results)


def _settle(results: list[tuple[_Call, bool, Any]]) -> None:
    for call, ok, value in results:
        if call.future.done():
            continue  # its caller was cancelled meanwhile
        if ok:
            call.future.set_result(value)
        else:
            call.future.set_exception(value)


if TYPE_CHECKING:

    def _implements_the_port(store: StateStore) -> Store:
        """Never called: mypy (run on bot/) fails here when StateStore drifts from bot.ports.Store."""
        return store
