"""The running bots sharing this state: one `workers` row per process, with its heartbeat.

It owns the rows themselves: written when `supportbot run` starts (`register_worker`),
touched on every clock tick (`beat`, which writes it again if it is gone), deleted on an
orderly shutdown (`unregister_worker`), and read by `supportbot doctor` and
`/support status` (`live_workers`). A process killed
with `kill -9` leaves its row behind; it simply stops beating, so "live" is always a
question of how recent the heartbeat is, and rows silent for a day are forgotten.

The store remembers its own worker id once registered (`worker_id`): the inbox writes it on
each delivery it claims, so on PostgreSQL a delivery is only taken over from a worker that
stopped beating (bot/store/inbox.py). Worker rows exist on SQLite too (one per data dir).

"Stopped beating" is judged here (`live_workers_now`), by each process on its own clock, so
neither an outage nor hosts whose clocks disagree can make a live worker look dead:
* a heartbeat this process has watched stay the same for a whole lease of its own clock is
  a dead worker's, however its stamp reads (that host's clock may run ahead); one stamped more
  than the lease and MAX_SKEW before this clock is dead at first sight (a worker long gone);
  any other is live (that host's clock may run behind);
* silence only counts while this process could itself reach the database: a heartbeat of its
  own that failed means an outage, in which no worker could beat, so none is judged dead
  until each has had a whole lease to beat again.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

from bot.store.heartbeats import MAX_SKEW, WORKER_LEASE, WorkerRecord, beating_since
from bot.store.rows import transaction
from bot.store.store import Repository, iso

# the records and the rule for a heartbeat not yet watched live in heartbeats.py, which the
# store's migrations import too; the names are read from here as before
__all__ = ["FORGET_AFTER", "MAX_SKEW", "WORKER_LEASE", "WorkerRecord", "WorkerRepository"]

log = logging.getLogger(__name__)

FORGET_AFTER = timedelta(days=1)  # rows of workers that died without saying so


class WorkerRepository(Repository):
    worker_id: str | None = None  # this process's row, once registered
    worker_lease: timedelta = WORKER_LEASE  # StateStore.open sets the configured one
    # whether this process's last heartbeat failed, and when silence counts again after one
    _beat_lost = False
    _silence_counts_from: datetime | None = None
    # each worker's heartbeat as this process last read it, and since when (its own clock)
    _watched: dict[str, tuple[str, datetime]] | None = None

    _worker: WorkerRecord | None = None  # what this process registered, to register it again

    def register_worker(self, worker: WorkerRecord) -> None:
        """This process is a worker from now on: its row, and its id on what it claims."""
        with transaction(self.db):
            self._insert(worker)
            self.db.execute(
                "delete from workers where heartbeat_at < ?", [iso(worker.started_at - FORGET_AFTER)]
            )
        self.worker_id, self._worker = worker.id, worker

    def _insert(self, worker: WorkerRecord) -> None:
        self.db.execute(
            "insert into workers (id, host, pid, started_at, heartbeat_at, version, platforms) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            [
                worker.id,
                worker.host,
                worker.pid,
                iso(worker.started_at),
                iso(worker.heartbeat_at),
                worker.version,
                ",".join(worker.platforms),
            ],
        )

    def beat(self, now: datetime) -> None:
        """The heartbeat: this process is alive at `now`. A row gone meanwhile (forgotten by
        a worker that started while this one was paused for over a day, or deleted by hand) is
        written again: without it, the others would take each delivery this worker claims for
        a dead worker's, and answer it too (bot/store/inbox.py)."""
        if self.worker_id is None:
            return
        try:
            with transaction(self.db):
                beaten = self.db.execute(
                    "update workers set heartbeat_at = ? where id = ?", [iso(now), self.worker_id]
                )
                if beaten.rowcount == 0 and self._worker is not None:
                    self._insert(dataclasses.replace(self._worker, heartbeat_at=now))
                    log.warning("this worker's row was gone (a long pause?): registered again")
        except Exception:
            self._beat_lost = True  # the database was out of reach: every worker's beats were
            self._watched = None  # and what was watched before it says nothing after
            raise
        if self._beat_lost:
            self._beat_lost = False
            self._silence_counts_from = now + self.worker_lease

    def live_workers_now(self, now: datetime) -> list[str]:
        """The ids of the workers this process takes for live at `now` (its own clock): see
        the module's docstring. Each call reads the heartbeats and watches them change."""
        rows = self.db.execute("select id, heartbeat_at from workers").fetchall()
        blind = self._beat_lost or (self._silence_counts_from is not None and now < self._silence_counts_from)
        skewed = iso(now - self.worker_lease - MAX_SKEW)
        watched = self._watched or {}
        live: list[str] = []
        seen: dict[str, tuple[str, datetime]] = {}
        for worker_id, beat in ((str(row[0]), str(row[1])) for row in rows):
            before = watched.get(worker_id)
            since = before[1] if before is not None and before[0] == beat else now
            seen[worker_id] = (beat, since)
            silent = now - since >= self.worker_lease
            if blind or worker_id == self.worker_id or (beat >= skewed and not silent):
                live.append(worker_id)
        self._watched = seen
        return live

    def unregister_worker(self) -> None:
        """An orderly shutdown: the row goes at once, and what this worker still held in the
        inbox is free for the others without waiting for its heartbeat to age."""
        if self.worker_id is None:
            return
        with transaction(self.db):
            self.db.execute("delete from workers where id = ?", [self.worker_id])
        self.worker_id = None

    def live_workers(self, since: datetime) -> list[WorkerRecord]:
        """Workers whose last heartbeat is at or after `since`, by host and start."""
        return beating_since(self.db, since)

    def live_worker_records(self, now: datetime) -> list[WorkerRecord]:
        """The workers live at `now` by the rule the inbox takes deliveries over by
        (`live_workers_now`), by host and start: what `supportbot doctor` and `/support status`
        list, so a worker whose host's clock runs behind is listed while it beats, as it keeps
        its deliveries. A one-shot look (doctor) has watched nothing yet: it lists a worker
        dead for less than a lease and MAX_SKEW too, as the inbox would at first sight."""
        live = set(self.live_workers_now(now))
        return [w for w in beating_since(self.db, now - FORGET_AFTER) if w.id in live]
