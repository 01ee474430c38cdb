"""Retention: message text older than `[privacy] retention_days` is emptied on the clock's tick.

What this module owns: `Retention`, the clock job (`tick`) and the one-off purge the CLI runs
(`purge`, with `dry_run` for `supportbot privacy purge --dry-run`). What counts as message
text, and what is kept so reports keep their numbers, is the SQL's business:
bot/store/retention.py (`PURGES`) lists it.

The purge runs at the first tick and then at most once an hour: text lives at most an hour
past its window, and the full scans of the message and answer tables are not repeated every
half minute. The hour is claimed in the store (`claim_every`), so with several processes on
one PostgreSQL database one of them purges and the others skip; a failed purge gives its
claim back and the next tick retries, and a claim not marked done within STALE_CLAIM (its
process died) is taken over. `retention_days = 0` keeps everything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.config_privacy import PrivacySettings
from bot.ports import Clock, Store
from bot.store import AsyncStore, StateStore

log = logging.getLogger(__name__)

EVERY = timedelta(hours=1)
STALE_CLAIM = timedelta(minutes=5)  # a purge claimed this long ago and not done: its process died
JOB = "retention"  # its key in job_runs


@dataclass(frozen=True, kw_only=True)
class PurgeResult:
    """What a purge emptied (or would empty): rows per kind, and the cutoff it used."""

    before: datetime
    counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def cutoff(privacy: PrivacySettings, now: datetime) -> datetime | None:
    """Text written before this is purged; None when retention is off (0 days). A window
    reaching back before the year 1 (999999 days: "keep it practically for ever") saturates
    there, so nothing is old enough, as the setting means."""
    if privacy.retention_days <= 0:
        return None
    try:
        return now - timedelta(days=privacy.retention_days)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


class Retention:
    def __init__(self, *, privacy: PrivacySettings, store: AsyncStore, clock: Clock) -> None:
        self.privacy = privacy
        self.store = store
        self.clock = clock

    async def purge(self, *, dry_run: bool = False) -> PurgeResult | None:
        """Empty (or, `dry_run`, count) the text past the window now; None when retention is off."""
        now = self.clock.now()
        before = cutoff(self.privacy, now)
        if before is None:
            return None
        counts = await self.store.run(StateStore.purge_text, before, now, dry_run=dry_run)
        return PurgeResult(before=before, counts=counts, dry_run=dry_run)

    async def tick(self) -> int:
        """The clock job: purge when due; how many rows were emptied. A boundary: a failure
        is logged and retried on a later tick, and never stops the rest of the clock."""
        now = self.clock.now()
        try:
            before = cutoff(self.privacy, now)
            if before is None:
                return 0
            counts = await self.store.run(purge_when_due, before, now)
        except Exception:
            log.exception("the retention purge failed")
            return 0
        if counts is None:
            return 0  # purged less than an hour ago, here or by another process
        result = PurgeResult(before=before, counts=counts)
        if not result.total:
            return 0
        # counts only: what was purged is exactly what must not reach the log
        log.info(
            "retention purged old message text",
            extra={"retention_days": self.privacy.retention_days, **_fields(result.counts)},
        )
        return result.total


def purge_when_due(store: Store, before: datetime, now: datetime) -> dict[str, int] | None:
    """The clock's purge, at most once per EVERY cluster-wide; None when not due. Runs on the
    store's thread: the claim and the purge are one trip."""
    if not store.claim_every(JOB, now, EVERY, STALE_CLAIM):
        return None
    try:
        counts = store.purge_text(before, now)
    except BaseException:
        store.release_claim(JOB, now)
        raise
    store.finish_job(JOB, now)
    return counts


def _fields(counts: dict[str, int]) -> dict[str, int]:
    return {"purged_" + name.replace(" ", "_"): n for name, n in counts.items() if n}
