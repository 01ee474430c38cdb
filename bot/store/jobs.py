"""Jobs that must run once per period, however many processes tick: the weekly digest,
the hourly retention purge, and the cluster-wide lock other jobs take (`exclusive`).

A run is claimed by inserting its key; only the caller whose insert (or takeover of a stale
claim) succeeds runs it, and marks it done afterwards. A claim left unfinished for longer
than `stale_after` (its process died mid-run) can be taken over, so a crash delays a
digest rather than losing it; a crash after posting but before marking done can post it
twice, which is the price of never losing one.

A job that runs at most once per interval (retention) claims the interval instead
(`claim_every`): one conditional upsert, so of several processes ticking together one wins;
it too marks its run done, and a claim left unfinished for `stale_after` is taken over, so
a worker that dies holding the hour delays the run by minutes, not by the hour.
A post the clock must make once (a burst's alert, a thread told its incident is over) is
claimed on its own row (`claim_post`) for POST_LEASE, and marked posted there after: nothing
of it is left behind once it is done. Marking a claimed post made (these, an SLA reminder's
step) is tried again a few times if the store refuses it (`settle`): left unmarked, the post
is made again once its lease runs out, though no worker died.
Work that must not run in two processes at once (placing knowledge-gap questions, deciding
whether a burst is new) runs inside `exclusive(name)`: on PostgreSQL a transaction holding
the advisory lock `name` of its schema (`pg_advisory_xact_lock`), released by its commit or
rollback, so a worker that dies mid-way never leaves it held; on SQLite nothing, as one
process owns the file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from bot.store.incidents import PostKind
from bot.store.postgres_session import lock_keys
from bot.store.rows import one_statement, transaction
from bot.store.store import Repository, iso

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)

# how long a claim on posting one message holds (a burst alert, a thread told an incident is
# over, a ticket's card, an SLA reminder): a post takes seconds, but at worst each of
# slack_sdk's tries on a 5xx or a rate limit has its own 30 s timeout or Retry-After wait, so
# far beyond that; a claim older than this, its worker died, and another posts it (twice, if
# the first post had gone through: better than never). At 90 s a slow post was said twice.
POST_LEASE = timedelta(minutes=10)
# a post that failed (a 5xx, a rate limit past the client's retries, a timeout) is tried again
# this soon rather than after the whole lease: it may have gone out, so the next try may show
# it twice, as when the lease lapsed after 90 s before
POST_RETRY = timedelta(seconds=60)


# each kind's table, and the column its post sets once made (bot/store/incidents.py)
_POSTS = {
    PostKind.BURST_ALERT: ("bursts", "message_id"),
    PostKind.INCIDENT_CLOSED: ("incident_notices", "closed_reply_at"),
}


class JobRepository(Repository):
    def claim_job(self, key: str, now: datetime, stale_after: timedelta) -> bool:
        with transaction(self.db):
            cursor = self.db.execute(
                "insert into job_runs (key, claimed_at) values (?, ?) on conflict(key) do update set "
                "claimed_at = excluded.claimed_at where job_runs.done_at is null and job_runs.claimed_at < ?",
                [key, iso(now), iso(now - stale_after)],
            )
        return cursor.rowcount == 1

    def finish_job(self, key: str, now: datetime) -> None:
        with transaction(self.db):
            self.db.execute("update job_runs set done_at = ? where key = ?", [iso(now), key])

    def job_done(self, key: str) -> bool:
        row = self.db.execute("select done_at from job_runs where key = ?", [key]).fetchone()
        return row is not None and row[0] is not None

    def claim_every(self, key: str, now: datetime, every: timedelta, stale_after: timedelta) -> bool:
        """Claim the run of `key` due once per `every`: True for the one caller whose claim is
        the first since `now - every`, however many processes ask at once, or who takes over
        a claim not marked done (`finish_job`) within `stale_after`: its process died."""
        with transaction(self.db):
            cursor = self.db.execute(
                "insert into job_runs (key, claimed_at) values (?, ?) on conflict(key) do update set "
                "claimed_at = excluded.claimed_at, done_at = null where job_runs.claimed_at <= ? "
                "or (job_runs.done_at is null and job_runs.claimed_at <= ?)",
                [key, iso(now), iso(now - every), iso(now - stale_after)],
            )
        return cursor.rowcount == 1

    def claim_post(self, post: PostKind, row_id: int, now: datetime) -> bool:
        """Claim making the post of the row `row_id` of `post`'s table for POST_LEASE: True for
        the one caller that finds it not made yet and unclaimed, or claimed by a worker that
        did not mark it made within the lease (it died: the post may have gone out)."""
        table, made = _POSTS[post]
        with transaction(self.db):
            cursor = self.db.execute(
                f"update {table} set claimed_until = ? where id = ? and {made} is null "
                "and (claimed_until is null or claimed_until <= ?)",
                [iso(now + POST_LEASE), row_id, iso(now)],
            )
        return cursor.rowcount == 1

    def retry_post(self, post: PostKind, row_id: int, now: datetime) -> None:
        """This worker's post of `row_id` failed: its claim lapses POST_RETRY from `now`, for
        the clock to try again, instead of at the end of the lease."""
        table, made = _POSTS[post]
        with one_statement(self.db):
            self.db.execute(
                f"update {table} set claimed_until = ? where id = ? and {made} is null",
                [iso(now + POST_RETRY), row_id],
            )

    def drop_job(self, key: str) -> None:
        """Forget `key`'s claim, whoever made it: what it guarded is done for good (a dead
        claimer's claim, outlived by the work done again by another)."""
        with one_statement(self.db):
            self.db.execute("delete from job_runs where key = ? and done_at is null", [key])

    def release_claim(self, key: str, claimed_at: datetime) -> None:
        """Give back a claim whose run failed, so the next tick retries it (only our own claim:
        a later one by another process is left alone)."""
        with transaction(self.db):
            self.db.execute("delete from job_runs where key = ? and claimed_at = ?", [key, iso(claimed_at)])

    @contextmanager
    def exclusive(self, name: str, *, wait: bool = True) -> Iterator[bool]:
        """Run the block alone cluster-wide. On PostgreSQL it is one transaction holding the
        advisory lock `name` (the repositories' own transactions inside become savepoints);
        with `wait=False` it yields False at once when another process holds it. On SQLite
        it yields True and adds nothing: the data dir's lock already makes one process."""
        if not self.shared:
            yield True
            return
        with transaction(self.db):
            if wait:
                self._lock_until_commit(name)
                yield True
            else:
                row = self.db.execute(
                    f"select pg_try_advisory_xact_lock({lock_keys('?')})", [name]
                ).fetchone()
                yield bool(row[0])
