"""Follow-ups: the "Did this solve it?" due on a thread, kept on its conversation row.

Three columns of `conversations` (migration 0005) hold it: `followup_due_at` (when it is due;
NULL: nothing due), `followup_answer_id` (the answer it asks about) and `followup_sent_at`
(when it went; never cleared, so a thread is asked once). Every change is one conditional
UPDATE, and sending is claimed by compare-and-set, so two processes or two ticks never send
two. The rules that decide *whether* it may still be sent (staff, tickets, the asker's own
verdict) are in the claim's WHERE clause, so they hold at the moment of sending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.store.rows import transaction
from bot.store.store import Repository, iso, parse_time
from bot.types import ConversationRef


class FollowupClaim(StrEnum):
    """What claiming a due follow-up found."""

    CLAIMED = "claimed"  # this caller sends it
    BLOCKED = "blocked"  # no longer wanted (staff, a ticket, the asker's verdict): dropped
    GONE = "gone"  # someone else sent it, or a newer answer moved it


@dataclass(frozen=True, kw_only=True)
class DueFollowup:
    conversation: ConversationRef
    answer_id: int
    asker_id: str | None
    language: str
    due_at: datetime


# Whether a due follow-up is still wanted, as SQL over the conversation row `c`. Kept in the
# claim itself (not checked beforehand) so a ticket or a staff reply that lands between the
# tick's query and the send still stops it.
_STILL_WANTED = """
    c.human_takeover = 0
    and not exists (select 1 from tickets t where t.conversation = c.key)
    and not exists (
        select 1 from feedback f join answers a on a.id = f.answer_id
        where f.answer_id = c.followup_answer_id and f.user_id = a.asker_id
    )
    and not exists (
        select 1 from messages m
        where m.conversation = c.key and m.role = 'staff' and m.id > coalesce((
            select max(b.id) from messages b join answers a on a.id = c.followup_answer_id
            where b.conversation = c.key and b.role = 'bot' and b.platform_id = a.posted_message_id
        ), 0)
    )
"""


class FollowupRepository(Repository):
    def schedule_followup(self, key: str, answer_id: int, due: datetime) -> bool:
        """Due at `due` about `answer_id`, replacing an earlier due time; never once sent."""
        with transaction(self.db):
            return self._schedule_followup(key, answer_id, due)

    def _schedule_followup(self, key: str, answer_id: int, due: datetime) -> bool:
        """schedule_followup inside a transaction the caller holds (complete_answer's)."""
        cursor = self.db.execute(
            "update conversations set followup_due_at = ?, followup_answer_id = ? "
            "where key = ? and followup_sent_at is null",
            [iso(due), answer_id, key],
        )
        return cursor.rowcount == 1

    def postpone_followup(self, key: str, due: datetime) -> bool:
        """Move a pending follow-up to `due` (the asker is still talking); none pending: no-op."""
        with transaction(self.db):
            cursor = self.db.execute(
                "update conversations set followup_due_at = ? "
                "where key = ? and followup_sent_at is null and followup_due_at is not null",
                [iso(due), key],
            )
        return cursor.rowcount == 1

    def cancel_followup(self, key: str) -> bool:
        """Nothing is due any more on this thread (until a new answer schedules one)."""
        with transaction(self.db):
            cursor = self.db.execute(
                "update conversations set followup_due_at = null where key = ? and followup_due_at is not null",
                [key],
            )
        return cursor.rowcount == 1

    def due_followups(self, now: datetime, platforms: Iterable[str], limit: int = 100) -> list[DueFollowup]:
        wanted = list(platforms)
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        rows = self.db.execute(
            "select c.key, c.followup_answer_id, a.asker_id, a.language, c.followup_due_at "
            "from conversations c left join answers a on a.id = c.followup_answer_id "
            "where c.followup_due_at is not null and c.followup_due_at <= ? "
            f"and c.followup_sent_at is null and c.platform in ({marks}) "
            "order by c.followup_due_at limit ?",
            [iso(now), *wanted, limit],
        ).fetchall()
        return [
            DueFollowup(
                conversation=ConversationRef.from_key(key),
                answer_id=answer_id,
                asker_id=asker_id,
                language=language or "en",
                due_at=parse_time(due) or now,
            )
            for key, answer_id, asker_id, language, due in rows
        ]

    def claim_followup(self, key: str, answer_id: int, now: datetime) -> FollowupClaim:
        """Compare-and-set: mark the follow-up about `answer_id` sent, if it is due, unsent and
        still wanted. One transaction, so of any number of callers exactly one gets CLAIMED."""
        with transaction(self.db):
            claimed = self.db.execute(
                "update conversations as c set followup_sent_at = ?, followup_due_at = null "
                "where c.key = ? and c.followup_answer_id = ? and c.followup_sent_at is null "
                f"and c.followup_due_at is not null and c.followup_due_at <= ? and {_STILL_WANTED}",
                [iso(now), key, answer_id, iso(now)],
            )
            if claimed.rowcount == 1:
                return FollowupClaim.CLAIMED
            # due but not wanted: drop it, so the clock does not look at it again
            dropped = self.db.execute(
                "update conversations set followup_due_at = null where key = ? and followup_answer_id = ? "
                "and followup_sent_at is null and followup_due_at is not null and followup_due_at <= ?",
                [key, answer_id, iso(now)],
            )
        return FollowupClaim.BLOCKED if dropped.rowcount == 1 else FollowupClaim.GONE

    def followup_state(self, key: str) -> tuple[datetime | None, int | None, datetime | None] | None:
        """(due at, answer id, sent at) of a conversation, for reports and tests."""
        row = self.db.execute(
            "select followup_due_at, followup_answer_id, followup_sent_at from conversations where key = ?",
            [key],
        ).fetchone()
        if row is None:
            return None
        return parse_time(row[0]), row[1], parse_time(row[2])
