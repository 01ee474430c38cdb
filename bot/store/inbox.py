"""The durable inbox: each platform event is handled once, and none is lost.

An event is claimed (recorded with its payload) before it is handled and finished after;
what a dead process left pending is replayed at start-up, under a lease so that two
replays never handle the same event and a replay cut short is retried.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store.store import Repository, iso

REPLAY_LEASE = timedelta(minutes=10)  # a replay not finished by then was cut short: retry it


class InboxRepository(Repository):
    def claim_event(self, key: str, platform: str, payload: str, now: datetime) -> bool:
        """Record an event as received; False when it was seen before (a retry or replay)."""
        with self.db.conn:
            cursor = self.db.execute(
                "insert or ignore into inbox (key, platform, received_at, status, payload) "
                "values (?, ?, ?, 'pending', ?)",
                [key, platform, iso(now), payload],
            )
        return cursor.rowcount == 1

    def finish_event(self, key: str, now: datetime, status: str = "done") -> None:
        """Mark an event handled. Its payload (the message, kept only so a crash cannot lose
        it) is dropped: the key alone is enough to recognise a retry."""
        with self.db.conn:
            self.db.execute(
                "update inbox set status = ?, done_at = ?, payload = null where key = ?",
                [status, iso(now), key],
            )

    def prune_inbox(self, before: datetime) -> int:
        """Forget handled events older than `before` (platforms stop retrying within minutes)."""
        with self.db.conn:
            cursor = self.db.execute(
                "delete from inbox where status != 'pending' and done_at < ?", [iso(before)]
            )
        return int(cursor.rowcount)

    def pending_events(self, platform: str, now: datetime | None = None) -> list[tuple[str, str]]:
        """Events received but never finished, and replays that were themselves cut short
        (their lease has run out)."""
        stale = iso((now or datetime.now(UTC)) - REPLAY_LEASE)
        rows = self.db.execute(
            "select key, payload from inbox where platform = ? and "
            "(status = 'pending' or (status = 'replaying' and done_at < ?)) order by received_at",
            [platform, stale],
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def take_for_replay(self, key: str, now: datetime) -> bool:
        """Claim one unfinished event for replay; False if another replay already has it."""
        with self.db.conn:
            cursor = self.db.execute(
                "update inbox set status = 'replaying', done_at = ? where key = ? and "
                "(status = 'pending' or (status = 'replaying' and done_at < ?))",
                [iso(now), key, iso(now - REPLAY_LEASE)],
            )
        return cursor.rowcount == 1
