"""The workers' rows read as records, and which of them may still be running at one look.

bot/store/workers.py owns the rows and watches heartbeats over time (`live_workers_now`);
this is the part bot/store/postgres_migrating.py needs too, which runs while the store opens
and so cannot import the repositories (they import the store): a migration that workers of
the version before must not run beside first asks which workers may still be running.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.store.values import iso, parse_time

if TYPE_CHECKING:
    from bot.store.migrations import StateDatabase

# a worker beats on every clock tick (30 s): three missed beats and it is taken for dead. The
# default: SUPPORTBOT_WORKER_LEASE_SECONDS sets `worker_lease` per store (bot/config.py), and
# the clock then ticks three times per lease (bot/supervisor.py), so "three missed beats" holds
WORKER_LEASE = timedelta(seconds=90)
# how far behind this process's clock another host's may run before its live worker could be
# taken for dead without being watched first (hosts without a time service drift by minutes)
MAX_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, kw_only=True)
class WorkerRecord:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    version: str
    platforms: tuple[str, ...]


def beating_since(db: StateDatabase, since: datetime) -> list[WorkerRecord]:
    """Workers whose last heartbeat is at or after `since`, by host and start."""
    rows = db.table("workers").rows_where("heartbeat_at >= ?", [iso(since)], order_by="host, started_at, id")
    return [_worker(row) for row in rows]


def maybe_running(db: StateDatabase, now: datetime) -> list[WorkerRecord]:
    """The workers that may still be running at `now` (this process's clock), judged at one
    look as `live_workers_now` judges a heartbeat it has not watched: one stamped more than a
    lease and MAX_SKEW before `now` is a dead worker's, any later one may be a live worker's
    on a host whose clock runs behind. The default lease, whatever a store is configured
    with: a worker beats at least every 30 s, so it is three missed beats at the slowest."""
    return beating_since(db, now - WORKER_LEASE - MAX_SKEW)


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
