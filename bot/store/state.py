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
import logging
import time
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from bot.errors import StoreError
from bot.store.answers import AnswerRepository
from bot.store.conversations import ConversationRepository
from bot.store.dashboard import DashboardRepository
from bot.store.drafts import DraftRepository
from bot.store.followups import FollowupRepository
from bot.store.gaps import GapRepository
from bot.store.inbox import InboxRepository
from bot.store.incidents import IncidentRepository
from bot.store.jobs import JobRepository
from bot.store.lanes import Lane, LaneClosed
from bot.store.metrics import MetricsRepository
from bot.store.migrations import STATE_MIGRATIONS
from bot.store.people import PeopleRepository
from bot.store.people_export import PersonExportRepository
from bot.store.queue import TicketQueueRepository
from bot.store.reply_drafts import ReplyDraftRepository
from bot.store.retention import RetentionRepository
from bot.store.revisions import RevisionRepository
from bot.store.rows import Condition, one_statement, one_trip
from bot.store.sla_clock import SlaClockRepository
from bot.store.slack_installs import SlackInstallRepository
from bot.store.sqlite_file import explained
from bot.store.store import DEFAULT_BUSY_TIMEOUT, connect_state, migrate_state, open_state
from bot.store.ticket_posts import TicketPostRepository
from bot.store.tickets import TicketRepository
from bot.store.urls import is_database_url, redact_url
from bot.store.workers import WorkerRepository
from bot.types import Completion, Posted

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.ports import Store

P = ParamSpec("P")
R = TypeVar("R")


class StateStore(
    InboxRepository,
    ConversationRepository,
    AnswerRepository,
    SlaClockRepository,  # a TicketRepository: tickets' SLA clock
    TicketRepository,
    TicketPostRepository,
    TicketQueueRepository,
    DraftRepository,
    ReplyDraftRepository,
    FollowupRepository,
    IncidentRepository,
    GapRepository,
    JobRepository,
    MetricsRepository,
    PeopleRepository,
    PersonExportRepository,
    RetentionRepository,
    RevisionRepository,
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
    def open_recorded(cls, settings: Settings) -> StateStore:
        """`open`, for a command that reads or changes what a bot recorded (`report`, `privacy
        forget|export|purge`): run from the wrong folder or with a mistyped --data, it must not
        confirm an erasure or hand out an empty record against a state.db made up on the spot
        while the bot's own stays as it was. A PostgreSQL URL names an existing database."""
        target = settings.state_target
        if isinstance(target, Path) and not target.is_file():
            raise StoreError(
                f"there is no state database at {target}: nothing has been recorded there yet. "
                "Nothing was created. Point --data (or --config) at the data directory of the bot "
                "whose records you mean."
            )
        return cls.open(settings)

    @classmethod
    def migrate(cls, settings: Settings) -> list[str]:
        """`supportbot migrate`: bring the state the settings name to the current schema; the
        names of the migrations applied (none when it was up to date). Opening the store
        does the same, so this is for upgrading ahead of starting the workers."""
        target = settings.state_target
        db = connect_state(target)  # opened, nothing applied yet
        try:
            # on PostgreSQL under the lock of migrating: workers starting now wait, then find
            # nothing left to do
            return migrate_state(db, target, STATE_MIGRATIONS)
        finally:
            db.close()

    def complete_answer(self, completion: Completion) -> None:
        """An answer is up: note its post, keep it in the thread's history, mark the thread as
        one the bot takes part in and (with `followup_due`) schedule its "Did this solve it?",
        in one transaction (one trip to the store's thread, and one to PostgreSQL)."""
        with one_trip(self.db):
            self._complete(completion)

    def finish_event(
        self,
        key: str,
        now: datetime,
        status: str = "done",
        completion: Completion | None = None,
        post: Posted | None = None,
        again: bool = False,
    ) -> bool:
        """Mark an event handled; with `completion`, the answer it posted is recorded in the
        same transaction (bot/inbox.py, rule 3), sent to PostgreSQL in one trip. `post`: the
        event's first post, when its note was left to the finish (bot/noting.py `NotingChannel`).
        `again`: a finish written once more after an error (bot/delivery.py `_write_unwritten`),
        which may have been committed all the same (a connection lost after the commit): the
        bot's message is then not kept a second time.

        Each of its writes states that the event is still this worker's (`held_here`): False,
        and nothing written, when it is not (finished already, or taken over by another worker
        while this one was paused: the answer recorded is that worker's)."""
        held = self.held_here(key)
        if completion is None:
            with one_statement(self.db):
                finished = self._finish(key, now, status, post, held=held)
            return finished()
        with one_trip(self.db):
            self._complete(completion, once=again, only_if=held)
            finished = self._finish(key, now, status, post, held=held)
        return finished()

    def _complete(self, done: Completion, *, once: bool = False, only_if: Condition | None = None) -> None:
        """Writes only (inside one_trip nothing can be read back): the answer's post, the
        conversation's activity, flag and follow-up in its one upsert, the bot's message (with
        `once`, not if it is kept already); each only if `only_if` holds."""
        posted = done.posted
        held = "" if only_if is None else f" and {only_if.sql}"
        self.db.execute(
            f"update answers set posted_message_id = ? where id = ?{held}",
            [posted.message_id, done.answer_id, *(only_if.params if only_if is not None else ())],
        )
        # a thread the bot answered in: follow-ups there need no mention
        participating = True if posted.conversation.thread is not None else None
        followup = (done.answer_id, done.followup_due) if done.followup_due is not None else None
        self._touch(posted.conversation, done.at, None, participating, followup=followup, only_if=only_if)
        self._insert_message(
            posted.conversation,
            role="bot",
            text=done.text,
            at=done.at,
            author=None,
            platform_id=posted.message_id,
            once=once,
            only_if=only_if,
        )

    def close(self) -> None:
        self.db.close()


def shown_target(settings: Settings) -> str:
    """Where the settings keep state, fit to show: a URL without its password, or a path."""
    target = settings.state_target
    return redact_url(target) if isinstance(target, str) and is_database_url(target) else str(target)


def _explainer(store: StateStore) -> Callable[[BaseException], BaseException] | None:
    """What a lane's failed call raises to its caller: on SQLite, the file locked by another
    process past the busy timeout as the advice opening it gives (a StoreError), not sqlite3's
    bare "database is locked". On PostgreSQL, errors go back as raised."""
    return None if store.shared else functools.partial(explained, Path(store.path))


class AsyncStore:
    """Runs StateStore calls off the event loop, so it never blocks on the database.

    `run` is the bot's lane: one thread owns the store's connection and runs every call in
    order (bot/store/lanes.py says how calls are handed over). `report` is for long reads
    (a month's figures for the dashboard or `/support stats`): with `reports` (how to open a
    second connection to the same state), they run on a lane of their own, so a report of a
    second or more never holds up the answers queued behind it. Without it, they share `run`'s.
    """

    def __init__(self, store: StateStore, reports: Callable[[], StateStore] | None = None) -> None:
        self.store = store
        self._lane = Lane(store, "supportbot-store", _explainer(store))
        self._open_reports = reports
        self._reports: Lane[StateStore] | None = None

    async def run(
        self, fn: Callable[Concatenate[StateStore, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        return await self._lane.call(functools.partial(fn, self.store, *args, **kwargs))

    async def report(
        self, fn: Callable[Concatenate[StateStore, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """`run` for a long read-only call: on the reports lane when there is one."""
        if self._open_reports is None:
            return await self.run(fn, *args, **kwargs)
        if self._reports is None:
            # opened on first use: a bot nobody asks for a report never holds a second connection
            opened = await asyncio.to_thread(self._open_reports)
            if self._reports is not None or self._lane.closed:
                opened.close()  # another report opened it meanwhile, or the store closed
            else:
                self._reports = Lane(opened, "supportbot-reports", _explainer(opened))
        lane = self._reports
        if lane is None:
            raise LaneClosed("the state store is closed")
        return await lane.call(
            functools.partial(_long_read, lane.store, functools.partial(fn, lane.store, *args, **kwargs))
        )

    def close(self) -> None:
        """Finish every queued call, then close the stores and stop their threads."""
        if self._reports is not None:
            self._reports.close()
        self._lane.close()


# a report reads a period's rows on a connection of its own: on a big install that may take a
# minute, where the bot's own statements are cut off after seconds (bot/store/postgres_session.py)
REPORT_SECONDS = 300.0


def long_reads(store: StateStore) -> AbstractContextManager[None]:
    """A block of report reads (AsyncStore.report, `supportbot report`): its statements are
    allowed REPORT_SECONDS on PostgreSQL. Opened outside a transaction."""
    if not store.shared:
        return nullcontext()
    from bot.store.postgres import PgDatabase

    assert isinstance(store.db, PgDatabase)
    return store.db.unhurried(REPORT_SECONDS)


def _long_read(store: StateStore, read: Callable[[], R]) -> R:
    with long_reads(store):
        return read()


if TYPE_CHECKING:

    def _implements_the_port(store: StateStore) -> Store:
        """Never called: mypy (run on bot/) fails here when StateStore drifts from bot.ports.Store."""
        return store


# the pauses before each new try of marking a claimed post made (`settle`): a statement the
# store refused (a row locked past its lock_timeout, a connection lost and opened again) is
# likely to go through a moment later
SETTLE_PAUSES = (0.5, 1.0, 2.0, 4.0)


async def settle(
    store: AsyncStore,
    lease: timedelta,
    fn: Callable[Concatenate[StateStore, P], R],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> R:
    """`store.run(fn, ...)` for the call that marks a post made under a claim of `lease`: tried
    again after each of SETTLE_PAUSES while the store refuses it, until a third of the lease
    has passed (a slow store's tries must end well before the claim lapses and another worker
    makes the post again). `fn` must be safe to run twice: a try whose answer was lost may
    have been committed. Raises the last refusal. A shutdown cancelling the caller lets the
    try under way finish first (the post is out: dropped, it would be made again)."""
    give_up = time.monotonic() + lease.total_seconds() / 3
    for pause in SETTLE_PAUSES:
        try:
            return await _finished(store.run(fn, *args, **kwargs))
        except LaneClosed:
            raise  # shutting down: nothing more runs on this store
        except Exception as exc:
            if time.monotonic() + pause >= give_up:
                raise
            log.warning("marking a post made failed (%s); trying again in %g s", type(exc).__name__, pause)
        try:
            await asyncio.sleep(pause)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # one last try: the post is out
                await _finished(store.run(fn, *args, **kwargs))
            raise
    return await _finished(store.run(fn, *args, **kwargs))


async def _finished(call: Coroutine[Any, Any, R]) -> R:
    """`call`'s result; cancelled meanwhile, `call` still runs to its end before the
    cancellation goes on (a store lane drops a call cancelled before it started)."""
    running = asyncio.ensure_future(call)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await running
        raise
