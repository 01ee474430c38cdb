"""This process as one worker among several: its row in the store, its heartbeat, its peers.

On PostgreSQL any number of `supportbot run` processes share one database, each with its
own data dir (the search index is a local cache; bot/instance.py keeps one process per data
dir). `Presence` registers the process when it starts running, beats on every clock tick
and leaves on an orderly shutdown; the inbox uses the heartbeat to tell a slow worker from
a dead one (bot/store/inbox.py). `supportbot doctor` and `/support status` describe the
live workers with `describe_workers`. On SQLite there is one worker, listed the same way.

Each worker's search index is its own, so a change to the knowledge folder made through one
worker (an approved draft, `/support reindex`, from a chat or the dashboard) is read at once
by that worker alone. `SharedKnowledge` counts it in the store (bot/store/drafts.py's knowledge
generation), and every worker's clock reads the count once per tick and, when it moved, syncs
its own index in the background: the others answer from the change within a tick or two, with
or without a folder watcher. On SQLite the one worker made every change itself: the count it
reads has never moved past the one it synced at.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import timedelta
from importlib import metadata

from bot.delivery import Deliveries
from bot.fence import Beats
from bot.ports import Clock
from bot.retrieval.knowledge_report import SyncReport
from bot.retrieval.service import KnowledgeService
from bot.store import AsyncStore, StateStore
from bot.store.workers import WORKER_LEASE, WorkerRecord

log = logging.getLogger(__name__)

SHOWN_HOSTS = 5  # the status line names this many hosts, then "..."


def version() -> str:
    try:
        return metadata.version("supportbot")
    except metadata.PackageNotFoundError:
        return "unknown"


class Presence:
    def __init__(
        self,
        *,
        store: AsyncStore,
        clock: Clock,
        platforms: Sequence[str],
        lease: timedelta = WORKER_LEASE,
    ) -> None:
        self.store = store
        self.clock = clock
        self.platforms = tuple(platforms)
        self.id = uuid.uuid4().hex
        # what the fence before each post asks of the heartbeats (bot/fence.py)
        self.beats = Beats(lease, clock.now)

    async def join(self) -> None:
        now = self.clock.now()
        worker = WorkerRecord(
            id=self.id,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=now,
            heartbeat_at=now,
            version=version(),
            platforms=self.platforms,
        )
        await self.store.run(StateStore.register_worker, worker)
        self.beats.beaten(now)
        log.info("worker registered", extra={"worker": self.id, "platforms": ",".join(self.platforms)})

    async def beat(self) -> None:
        began = self.clock.now()
        await self.store.run(StateStore.beat, began)
        self.beats.beaten(began)

    async def leave(self) -> None:
        await self.store.run(StateStore.unregister_worker)
        log.info("worker left", extra={"worker": self.id})


async def join(
    *, store: AsyncStore, clock: Clock, platforms: Sequence[str], lease: timedelta, deliveries: Deliveries
) -> Presence:
    """This process as a worker from now on (`supportbot run`): listed, beating once the
    caller's clock beats it, and each new post for an event fenced against a takeover while it
    was paused (bot/fence.py)."""
    presence = Presence(store=store, clock=clock, platforms=platforms, lease=lease)
    await presence.join()
    deliveries.beats = presence.beats
    return presence


def describe_workers(workers: Sequence[WorkerRecord]) -> str:
    """One line: "Workers: 3 live (host-a, host-b, ...)"; hosts named once each."""
    if not workers:
        return "Workers: none live (no `supportbot run` is beating)"
    hosts = list(dict.fromkeys(w.host for w in workers))
    shown = ", ".join(hosts[:SHOWN_HOSTS]) + (", ..." if len(hosts) > SHOWN_HOSTS else "")
    return f"Workers: {len(workers)} live ({shown})"


class SharedKnowledge:
    """This worker's share of the knowledge generation: counting its own changes to the
    folder, and syncing at a tick the ones other workers counted (the module docstring)."""

    def __init__(
        self, *, store: AsyncStore, knowledge: KnowledgeService, synced_at: int | None = None
    ) -> None:
        self.store = store
        self.knowledge = knowledge
        # the knowledge generation this worker's index is in step with (build_runtime reads it
        # before the sync at start); None: not read yet, the first tick takes the store's
        self.synced_at = synced_at
        self._catching_up: asyncio.Task[None] | None = None

    @property
    def others(self) -> bool:
        """Whether other workers may serve from indexes of their own (they follow at a tick)."""
        return self.store.store.shared

    async def reindex(self, *, counted: bool = False) -> SyncReport:
        """Sync this worker's index with the folder now, and every other worker's at its next
        tick. `counted`: the store counted the change already (an approval does, as it records
        the draft approved); otherwise this counts it. The count is taken before the sync, so
        whatever was written before it is in what this sync reads."""
        count = StateStore.knowledge_generation if counted else StateStore.count_knowledge_change
        generation = await self.store.run(count)
        report = await self.knowledge.reindex()
        self.synced_at = generation
        return report

    async def tick(self) -> None:
        """The clock's share: one read of the count; when another worker moved it, this
        worker's index is synced in the background (the clock's other work never waits for a
        folder read, and searches wait on the knowledge thread as they do for the watcher's)."""
        if self._catching_up is not None and not self._catching_up.done():
            return
        generation = await self.store.run(StateStore.knowledge_generation)
        if self.synced_at is None:
            self.synced_at = generation
        elif generation != self.synced_at:
            self._catching_up = asyncio.ensure_future(self._catch_up(generation))

    async def _catch_up(self, generation: int) -> None:
        try:
            report = await self.knowledge.reindex()
        except Exception:  # a boundary: `synced_at` stays behind, so the next tick tries again
            log.exception("re-reading the knowledge folder another worker changed failed")
            return
        self.synced_at = generation
        if report.changed:
            log.info("knowledge folder changed on another worker: %s", report.describe().splitlines()[0])

    async def settle(self) -> None:
        """Wait for the sync the clock started (tests, and an orderly shutdown)."""
        if self._catching_up is not None:
            await asyncio.gather(self._catching_up, return_exceptions=True)

    async def aclose(self) -> None:
        if self._catching_up is not None:
            self._catching_up.cancel()
            await asyncio.gather(self._catching_up, return_exceptions=True)
