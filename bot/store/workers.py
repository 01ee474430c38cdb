"""The running bots sharing this state: one `workers` row per process, with its heartbeat.

It owns the rows themselves: written when `supportbot run` starts (`register_worker`),
touched on every clock tick (`beat`), deleted on an orderly shutdown (`unregister_worker`),
and read by `supportbot doctor` and `/support status` (`live_workers`). A process killed
with `kill -9` leaves its row behind; it simply stops beating, so "live" is always a
question of how recent the heartbeat is, and rows silent for a day are forgotten.

The store remembers its own worker id once registered (`worker_id`): the inbox writes it on
each delivery it claims, so on PostgreSQL a delivery is only taken over from a worker that
stopped beating (bot/store/inbox.py). Worker rows exist on SQLite too (one per data dir).

"Stopped beating" is judged here (`live_since`), and silence only counts while this process
could itself reach the database: a heartbeat of its own that failed means an outage, in which
no worker could beat, so none is judged dead until each has had a whole lease to beat again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.store.rows import transaction
from bot.store.store import Repository, iso, parse_time

FORGET_AFTER = timedelta(days=1)  # rows of workers that died without saying so
# a worker beats on every clock tick (30 s): three missed beats and it is taken for dead. The
# default: SUPPORTBOT_WORKER_LEASE_SECONDS sets `worker_lease` per store (bot/config.py), and
# the clock then ticks three times per lease (bot/supervisor.py), so "three missed beats" holds
WORKER_LEASE = timedelta(seconds=90)
# compares below every timestamp: with it as the bound, every worker counts as live
EVERYONE = ""


@dataclass(frozen=True, kw_only=True)
class WorkerRecord:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    version: str
    platforms: tuple[str, ...]


class WorkerRepository(Repository):
    worker_id: str | None = None  # this process's row, once registered
    worker_lease: timedelta = WORKER_LEASE  # StateStore.open sets the configured one
    # since this process's last failed heartbeat (None: none failed), and when silence counts again
    _beat_lost = False
    _silence_counts_from: datetime | None = None

    def register_worker(self, worker: WorkerRecord) -> None:
        """This process is a worker from now on: its row, and its id on what it claims."""
        with transaction(self.db):
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
            self.db.execute(
                "delete from workers where heartbeat_at < ?", [iso(worker.started_at - FORGET_AFTER)]
            )
        self.worker_id = worker.id

    def beat(self, now: datetime) -> None:
        """The heartbeat: this process is alive at `now`. A row deleted meanwhile (by hand,
        or forgotten after a long pause) is not recreated: the process is no longer listed."""
        if self.worker_id is None:
            return
        try:
            with transaction(self.db):
                self.db.execute(
                    "update workers set heartbeat_at = ? where id = ?", [iso(now), self.worker_id]
                )
        except Exception:
            self._beat_lost = True  # the database was out of reach: every worker's beats were
            raise
        if self._beat_lost:
            self._beat_lost = False
            self._silence_counts_from = now + self.worker_lease

    def live_since(self, now: datetime) -> str:
        """The heartbeat a worker must have beaten since to count as live at `now`, as stored:
        a lease ago; or any, while this process's own beats fail and for a lease after they
        work again (an outage silenced every worker, not only the dead)."""
        if self._beat_lost or (self._silence_counts_from is not None and now < self._silence_counts_from):
            return EVERYONE
        return iso(now - self.worker_lease)

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
        rows = self.db.table("workers").rows_where(
            "heartbeat_at >= ?", [iso(since)], order_by="host, started_at, id"
        )
        return [_worker(row) for row in rows]


def _worker(row: dict[str, object]) -> WorkerRecord:
    started, beat = parse_time(str(row["started_at"])), parse_time(str(row["heartbeat_at"]))
    assert started is not None and beat is not None
    return WorkerRecord(
        id=str(row["id"]),
        host=str(row["host"]),
        pid=int(str(row["pid"])),
        started_at=started,
        heartbeat_at=beat,
        version=str(row["version"] or ""),
        platforms=tuple(p for p in str(row["platforms"] or "").split(",") if p),
    )
