"""Group commit on PostgreSQL: under a backlog, the store's lane makes its calls' writes
durable together, with one log flush per batch of results instead of one per commit.

A commit normally waits for the server to flush its log to disk (a few hundred microseconds
to milliseconds), and the lane runs one call at a time on one connection: under load every
write call held the lane for its own flush. So while calls are queued behind the one running,
the lane's session stops waiting (`synchronous_commit` off) and, before it hands any result
back (bot/store/lanes.py), commits one transaction that does wait (`durable`): the log is
flushed in order, so everything committed or seen before is on disk by then. No caller learns
of a write, or of anything read after it, before it is durable: every promise made on a
result (an event acknowledged to the platform once claimed, a post streamed into once noted:
bot/inbox.py) stands as it did with a flush per commit. A call that finds the lane idle commits
as before (one trip, its own flush): a lone question pays no extra trip.

What changes is only what other sessions see: a write is visible to another worker a moment
before it is durable (as with any `synchronous_commit` off). Whatever that worker then does
is acknowledged only after its own lane's flush, which covers this write too (it precedes it
in the log).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import StoreError

if TYPE_CHECKING:
    from bot.store.postgres import PgDatabase

# a transaction with an id, so its commit has a log record to flush up to, and waits for it
# (txid_current: every PostgreSQL version has it; pg_current_xact_id only 13 and later)
BARRIER = "select set_config('synchronous_commit', 'on', true), txid_current()"


class GroupCommit:
    """The lane's hooks for one PgDatabase: `defer` when a backlog forms, `durable` before
    results are handed back, `settle` once the lane is idle."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db

    def defer(self) -> None:
        db = self.db
        if not db.deferred:
            # the flag first: if the statement fails, a flag that says deferred while the
            # session is not costs a needless flush, never a missing one
            db.deferred = True
            db.session("set synchronous_commit to off")

    def durable(self) -> None:
        """Every write committed so far is on disk (raises if that cannot be known)."""
        db = self.db
        if db.lost_unflushed:
            db.lost_unflushed = False
            raise StoreError(f"the connection to {db.url} was lost before its last writes were flushed")
        if db.unflushed:
            db.unflushed = False  # a barrier that fails fails this batch, not the next one too
            db.session(BARRIER)

    def settle(self) -> None:
        """Idle again: commits wait for their own flush (call after `durable`)."""
        db = self.db
        if db.deferred and not db.unflushed:
            db.session("set synchronous_commit to on")
            db.deferred = False


def group_commit(store: object) -> GroupCommit | None:
    """The hooks for `store` (a StateStore) on PostgreSQL; None on SQLite, whose commits never
    wait for a flush (`synchronous=normal`)."""
    db = getattr(store, "db", None)
    if db is None or not getattr(db, "defers_flushes", False):
        return None
    return GroupCommit(db)
