"""The durable inbox: each platform event is handled once, and none is lost.

An event is claimed (recorded with its payload) before it is handled and finished after;
the post that shows its answer is noted as soon as it exists. What a dead process left
pending is replayed (at start-up and on every clock tick) under a short lease, so two
replays never handle the same event, a replay cut short is retried within seconds, and a
replay edits the noted post instead of posting a second answer. The invariant itself is
written down in bot/inbox.py.

On PostgreSQL the inbox is a queue several processes may share, so these rules change there
(SQLite, one process per data dir, keeps the ones above):
* a replay claims its row with `SELECT ... FOR UPDATE SKIP LOCKED`: a row another worker is
  claiming right now is skipped, not waited for;
* `started` is not taken as proof that a replay's owner died: a replay begun before this
  process started may be another live worker's;
* a running bot is a worker (bot/store/workers.py) and notes its id on each delivery it claims
  or replays: such a delivery is abandoned only once that worker stopped beating for
  WORKER_LEASE, as the judging process sees it on its own clock (workers.py: an outage or a
  host whose clock runs behind is not a death), or left in an orderly way, however long its
  answer takes. A delivery
  claimed outside a running bot (no worker id) is judged by REPLAY_LEASE alone;
* a worker's own deliveries are judged by it as SQLite's are (pending, or a replay past its
  lease), its live handlers left out by the caller (bot/delivery.py `_in_flight`): a replay
  cut short inside a live worker is its own to retry, since no other worker may take it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.inbox import payload_author
from bot.store.rows import Condition, one_statement
from bot.store.store import iso
from bot.store.workers import WorkerRepository
from bot.types import Posted

if TYPE_CHECKING:
    from bot.store.migrations import StateDatabase

# a replay not finished by then was cut short (its process died): retry it. Seconds, not
# minutes: one process per data dir (bot/instance.py), and within it a live handler is never
# replayed, so the lease only has to outlast a replay's own start.
REPLAY_LEASE = timedelta(seconds=20)
# the status of an unfinished event whose author was forgotten (forget-me): never handled again
FORGOTTEN = "forgotten"


# a claim with an empty payload is a button press's (bot/actions.py): a record that it was
# seen, with nothing a replay could handle again, so it is never taken for one. The claim
# (a replay's): one conditional UPDATE. On PostgreSQL the row is locked first, skipping it if
# another worker holds it; on SQLite the file's write lock already serialises claims.
_TAKE_SQLITE = (
    "update inbox set status = 'replaying', done_at = ? where key = ? and payload <> '' and "
    "(status = 'pending' or (status = 'replaying' and done_at < ?))"
)
# on PostgreSQL: what no live worker holds. A row with a worker id is its worker's while that
# worker beats; one without is judged by its age; this worker's own (`me`) as on SQLite.
# Parameters: leased, live (the workers this process takes for live: workers.py), me.
_ABANDONED = (
    "payload <> '' and ((worker is null and ((status = 'pending' and received_at < :leased) or "
    "(status = 'replaying' and done_at < :leased))) or (worker is not null and "
    "status in ('pending', 'replaying') and worker <> all(:live)) or "
    "(worker = :me and (status = 'pending' or (status = 'replaying' and done_at < :leased))))"
)
_TAKE_SHARED = (
    "update inbox set status = 'replaying', done_at = :now, worker = :worker where key = ("
    f"select key from inbox where key = :key and {_ABANDONED} for update skip locked)"
)


class InboxRepository(WorkerRepository):
    """The inbox judges whose deliveries are abandoned by their workers' heartbeats: it is a
    workers repository too (`live_workers_now`, `worker_id`)."""

    def claim_event(self, key: str, platform: str, payload: str, now: datetime) -> bool:
        """Record an event as received; False when it was seen before (a retry or replay)."""
        with one_statement(self.db):
            cursor = self.db.execute(
                "insert into inbox (key, platform, received_at, status, payload, worker) "
                "values (?, ?, ?, 'pending', ?, ?) on conflict do nothing",
                [key, platform, iso(now), payload, self._holder()],
            )
        return cursor.rowcount == 1

    def _holder(self) -> str | None:
        """The worker id to note on a claim: only where other processes could take it over."""
        return self.worker_id if self.shared else None

    def finish_event(self, key: str, now: datetime, status: str = "done") -> bool:
        """Mark an event handled. Its payload (the message, kept only so a crash cannot lose
        it) is dropped: the key alone is enough to recognise a retry. False, and nothing
        written, when it was not this worker's to finish (`held_here`)."""
        with one_statement(self.db):
            finished = self._finish(key, now, status)
        return finished()

    def _finish(
        self,
        key: str,
        now: datetime,
        status: str,
        post: Posted | None = None,
        *,
        held: Condition | None = None,
    ) -> Callable[[], bool]:
        """finish_event inside a transaction the caller holds (StateStore.finish_event's); with
        `post`, the event's first post is noted in the same statement (`note_post`); only if
        `held` holds (`held_here`, unless the caller states it for its other writes too).
        Returned: whether it did, to ask once the transaction is over (one_trip reads nothing)."""
        held = held or self.held_here(key)
        cursor = self.db.execute(
            "update inbox set status = ?, done_at = ?, payload = null, "
            "post_id = coalesce(?, post_id), post_conversation = coalesce(?, post_conversation) "
            f"where key = ? and {held.sql}",
            [status, iso(now), post and post.message_id, post and post.conversation.key, key, *held.params],
        )
        return lambda: bool(cursor.rowcount == 1)

    def held_here(self, key: str) -> Condition:
        """What each write of an event's finish states, and each write before it that records
        the asker's words (the answer's record, a ticket opened for the message): the event is
        unfinished (not forgotten meanwhile: `forget_deliveries`) and, where another worker
        could have taken it over (a shared PostgreSQL, this process a worker), still this
        worker's, as `holds_event` asks. A worker paused past its lease between its last fence
        (bot/fence.py) and its finish so writes nothing over the answer of the worker that took
        the event. On PostgreSQL the first of those writes locks the row (`for update`): no
        takeover can come between them."""
        if self.shared and self.worker_id is not None:
            return Condition(
                "exists (select 1 from inbox where key = ? and worker = ? "
                "and status in ('pending', 'replaying') for update)",
                (key, self.worker_id),
            )
        return Condition(
            "exists (select 1 from inbox where key = ? and status in ('pending', 'replaying'))", (key,)
        )

    def prune_inbox(self, before: datetime) -> int:
        """Forget handled events older than `before` (platforms stop retrying within minutes),
        and button presses a dead process left unfinished (nothing to replay in them)."""
        with one_statement(self.db):
            cursor = self.db.execute(
                # a replay under way ('replaying') is not handled yet: its payload is still needed
                "delete from inbox where (status not in ('pending', 'replaying') and done_at < ?) "
                "or (payload = '' and received_at < ?)",
                [iso(before), iso(before)],
            )
        return int(cursor.rowcount)

    def pending_events(
        self,
        platform: str,
        now: datetime | None = None,
        started: datetime | None = None,
        limit: int | None = None,
    ) -> list[tuple[str, str]]:
        """Events received but never finished, and replays that were themselves cut short
        (their lease has run out, or they began before `started`: the caller holds the data
        dir's lock since then, so whoever began them is dead); the oldest first, at most
        `limit` of them. Events this process is handling right now are among them (a pending
        claim): the caller leaves those out."""
        now = now or datetime.now(UTC)
        bound = "" if limit is None else f" limit {int(limit)}"
        if self.shared:
            rows = self.db.execute(
                f"select key, payload from inbox where platform = :platform and {_ABANDONED} "
                f"order by received_at{bound}",
                {"platform": platform, **self._shared_times(now)},
            ).fetchall()
            return [(row[0], row[1]) for row in rows]
        stale = iso(_stale_before(now, started))
        rows = self.db.execute(
            "select key, payload from inbox where platform = ? and payload <> '' and "
            f"(status = 'pending' or (status = 'replaying' and done_at < ?)) order by received_at{bound}",
            [platform, stale],
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def note_post(self, key: str, message_id: str, conversation_key: str) -> None:
        """The post that shows (or will show) this event's answer: a replay edits it."""
        with one_statement(self.db):
            self.db.execute(
                "update inbox set post_id = ?, post_conversation = ? where key = ?",
                [message_id, conversation_key, key],
            )

    def holds_event(self, key: str) -> bool:
        """Whether this worker still holds `key` (unfinished, its worker id on it): a worker
        that was paused past its lease asks before it posts, since another may have taken the
        event over meanwhile (bot/delivery.py `Fence`). True where nobody else could take it."""
        if not self.shared or self.worker_id is None:
            return True
        row = self.db.execute(
            "select 1 from inbox where key = ? and worker = ? and status in ('pending', 'replaying')",
            [key, self.worker_id],
        ).fetchone()
        return row is not None

    def give_back_events(self, platform: str) -> int:
        """This worker's unfinished events of `platform`, unclaimed for another worker's replay
        to take once their lease (REPLAY_LEASE) has passed, as a dead worker's are: this one no
        longer serves the platform. How many."""
        if not self.shared or self.worker_id is None:
            return 0
        with one_statement(self.db):
            cursor = self.db.execute(
                "update inbox set worker = null where worker = ? and platform = ? "
                "and status in ('pending', 'replaying') and payload <> ''",
                [self.worker_id, platform],
            )
        return int(cursor.rowcount)

    def event_unfinished(self, key: str) -> bool:
        """Whether the event `key` is kept and not yet handled (by any worker)."""
        row = self.db.execute(
            "select 1 from inbox where key = ? and status in ('pending', 'replaying')", [key]
        ).fetchone()
        return row is not None

    def event_forgotten(self, key: str) -> bool:
        """Whether the event `key` was let go unfinished because its author was forgotten."""
        row = self.db.execute("select 1 from inbox where key = ? and status = ?", [key, FORGOTTEN]).fetchone()
        return row is not None

    def event_post(self, key: str) -> tuple[str, str] | None:
        """(message id, conversation key) of the post noted for an event, if any."""
        row = self.db.execute("select post_id, post_conversation from inbox where key = ?", [key]).fetchone()
        return (str(row[0]), str(row[1])) if row is not None and row[0] else None

    def take_for_replay(self, key: str, now: datetime, started: datetime | None = None) -> bool:
        """Claim one unfinished event for replay; False if another replay already has it."""
        with one_statement(self.db):
            if self.shared:
                cursor = self.db.execute(
                    _TAKE_SHARED,
                    {
                        "now": iso(now),
                        "key": key,
                        "worker": self._holder(),
                        **self._shared_times(now),
                    },
                )
            else:
                cursor = self.db.execute(_TAKE_SQLITE, [iso(now), key, iso(_stale_before(now, started))])
        return cursor.rowcount == 1

    def _shared_times(self, now: datetime) -> dict[str, str | list[str] | None]:
        return {
            "leased": iso(now - REPLAY_LEASE),
            "live": self.live_workers_now(now),
            "me": self._holder(),
        }


def _stale_before(now: datetime, started: datetime | None) -> datetime:
    """Replays marked before this are abandoned: past their lease, or older than the process
    that holds the data dir now (a restart takes over its predecessor's replays at once)."""
    leased = now - REPLAY_LEASE
    return max(leased, started) if started is not None else leased


def forget_deliveries(
    db: StateDatabase, platform: str, user_id: str, marker: str | None, at: datetime
) -> int:
    """Forget-me's part of the inbox, inside its transaction (bot/store/people.py `forget`); the
    rows touched. A message of theirs not yet finished is let go: marked FORGOTTEN, its payload
    (the message, raw) dropped, its key kept so a platform's retry is still a duplicate. One
    being answered right now thus records nothing more of them: the writes that would
    (`held_here`) find it no longer held, and its handler stops. Another person's waiting
    message that names them is still theirs to have answered: its words stay, the id replaced
    by `marker` (None: an id too short to look for in text). A finished event or a button press
    whose key holds the id (Slack's action ids do) is deleted: a retry of that old event would
    only be handled again."""
    waiting = db.execute(
        "select key, payload from inbox where platform = ? and payload <> '' and instr(payload, ?) > 0",
        [platform, user_id],
    ).fetchall()
    touched = 0
    for key, payload in waiting:
        # a payload whose author cannot be read is not known to be anyone else's
        if payload_author(payload) in (user_id, None):
            sql = "update inbox set status = ?, payload = null, done_at = ? where key = ?"
            params: list[Any] = [FORGOTTEN, iso(at), key]
        elif marker is not None:
            sql, params = (
                "update inbox set payload = replace(payload, ?, ?) where key = ?",
                [user_id, marker, key],
            )
        else:
            continue
        touched += db.execute(sql, params).rowcount
    touched += db.execute(
        "delete from inbox where platform = ? and instr(key, ?) > 0 and coalesce(payload, '') = '' "
        "and status <> ?",
        [platform, user_id, FORGOTTEN],
    ).rowcount
    return touched
