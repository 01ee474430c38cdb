"""This process as one worker among several: its row in the store, its heartbeat, its peers.

On PostgreSQL any number of `supportbot run` processes share one database, each with its
own data dir (the search index is a local cache; bot/instance.py keeps one process per data
dir). `Presence` registers the process when it starts running, beats on every clock tick
and leaves on an orderly shutdown; the inbox uses the heartbeat to tell a slow worker from
a dead one (bot/store/inbox.py). `supportbot doctor` and `/support status` describe the
live workers with `describe_workers`. On SQLite there is one worker, listed the same way.
"""

from __future__ import annotations

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
