"""Jobs that must run once per period, however many processes tick: the weekly digest.

A run is claimed by inserting its key; only the caller whose insert (or takeover of a stale
claim) succeeds runs it, and marks it done afterwards. A claim left unfinished for longer
than `stale_after` (its process died mid-run) can be taken over, so a crash delays a
digest rather than losing it; a crash after posting but before marking done can post it
twice, which is the price of never losing one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.store.store import Repository, iso


class JobRepository(Repository):
    def claim_job(self, key: str, now: datetime, stale_after: timedelta) -> bool:
        with self.db.conn:
            cursor = self.db.execute(
                "insert into job_runs (key, claimed_at) values (?, ?) on conflict(key) do update set "
                "claimed_at = excluded.claimed_at where job_runs.done_at is null and job_runs.claimed_at < ?",
                [key, iso(now), iso(now - stale_after)],
            )
        return cursor.rowcount == 1

    def finish_job(self, key: str, now: datetime) -> None:
        with self.db.conn:
            self.db.execute("update job_runs set done_at = ? where key = ?", [iso(now), key])

    def job_done(self, key: str) -> bool:
        row = self.db.execute("select done_at from job_runs where key = ?", [key]).fetchone()
        return row is not None and row[0] is not None
