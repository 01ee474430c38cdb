"""Reply drafts and welcomes: the rows behind draft-mode channels and the onboarding welcome.

`reply_drafts` (migration 0006) holds an answer the bot proposed in a draft-mode channel,
waiting on a staff card. Its status moves once, pending -> posted | discarded, by one
conditional UPDATE (compare-and-set): of a double click, a retry or two processes pressing
*Post* together, exactly one caller wins and posts; the others find it decided. The text may
be edited only while it is pending.

`welcomed` holds who has been welcomed, one row per platform and user: inserting it is the
claim, so a person is welcomed once whatever runs concurrently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.store.metrics import channel_pattern, workspace_clause
from bot.store.rows import insert_row, select_row, transaction, update_row
from bot.store.store import Repository, iso, like_prefix, parse_time
from bot.types import ConversationRef, Posted


class ReplyDraftStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    DISCARDED = "discarded"


@dataclass(frozen=True, kw_only=True)
class ReplyDraft:
    id: int
    conversation: ConversationRef  # where the answer goes: the question's channel (or thread)
    message_id: str | None  # the question's platform id (the thread is opened on it)
    asker_id: str
    question: str
    answer: str
    answer_id: int | None
    status: ReplyDraftStatus
    created_at: datetime
    card: Posted | None = None  # the staff card, edited in place on every change
    posted_message_id: str | None = None
    decided_by: str | None = None  # who posted or discarded it; while pending, who last edited it
    decided_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class DraftCounts:
    """Draft-mode figures of one period (knowledge/insights.md): drafts proposed in it, and
    of those, how many staff posted or discarded before its end."""

    proposed: int = 0
    posted: int = 0
    discarded: int = 0


class ReplyDraftRepository(Repository):
    def create_reply_draft(
        self,
        *,
        conversation: ConversationRef,
        message_id: str | None,
        asker_id: str,
        question: str,
        answer: str,
        answer_id: int | None,
        at: datetime,
    ) -> ReplyDraft:
        with transaction(self.db):
            new_id = insert_row(
                self.db,
                "reply_drafts",
                {
                    "conversation": conversation.key,
                    "message_id": message_id,
                    "asker_id": asker_id,
                    "question": question,
                    "answer": answer,
                    "answer_id": answer_id,
                    "status": str(ReplyDraftStatus.PENDING),
                    "created_at": iso(at),
                },
            )
        draft = self.reply_draft(new_id)
        assert draft is not None
        return draft

    def reply_draft(self, draft_id: int) -> ReplyDraft | None:
        row = select_row(self.db, "reply_drafts", "id", draft_id)
        if row is None:
            return None
        return _reply_draft(row)

    def set_reply_draft_card(self, draft_id: int, posted: Posted) -> None:
        with transaction(self.db):
            update_row(
                self.db,
                "reply_drafts",
                "id",
                draft_id,
                {"card_message_id": posted.message_id, "card_conversation": posted.conversation.key},
            )

    def edit_reply_draft(self, draft_id: int, answer: str, by: str) -> bool:
        """Replace a pending draft's text; a decided one is left as it was posted or dropped."""
        with transaction(self.db):
            cursor = self.db.execute(
                "update reply_drafts set answer = ?, decided_by = ? where id = ? and status = 'pending'",
                [answer, by, draft_id],
            )
        return cursor.rowcount == 1

    def decide_reply_draft(self, draft_id: int, *, status: str, by: str, at: datetime) -> bool:
        """Compare-and-set pending -> `status`: True for the one caller that moved it."""
        with transaction(self.db):
            cursor = self.db.execute(
                "update reply_drafts set status = ?, decided_by = ?, decided_at = ? "
                "where id = ? and status = 'pending'",
                [str(ReplyDraftStatus(status)), by, iso(at), draft_id],
            )
        return cursor.rowcount == 1

    def reopen_reply_draft(self, draft_id: int, decided_at: datetime) -> bool:
        """Back to pending: the post its decision at `decided_at` was to make failed, and it is
        not out (no message id). Only that decision's: a later one is left alone."""
        with transaction(self.db):
            cursor = self.db.execute(
                "update reply_drafts set status = 'pending', decided_by = null, decided_at = null "
                "where id = ? and status = 'posted' and posted_message_id is null and decided_at = ?",
                [draft_id, iso(decided_at)],
            )
        return cursor.rowcount == 1

    def set_reply_draft_posted(self, draft_id: int, posted_message_id: str) -> None:
        with transaction(self.db):
            update_row(self.db, "reply_drafts", "id", draft_id, {"posted_message_id": posted_message_id})

    def claim_welcome(self, platform: str, user_id: str, at: datetime) -> bool:
        """Insert-or-ignore: True only for the first claim of this person on this platform."""
        with transaction(self.db):
            cursor = self.db.execute(
                "insert into welcomed (platform, user_id, at) values (?, ?, ?) "
                "on conflict (platform, user_id) do nothing",
                [platform, user_id, iso(at)],
            )
        return cursor.rowcount == 1

    def draft_counts(
        self,
        since: datetime,
        until: datetime,
        platform: str | None = None,
        channel: str | None = None,
        workspace: str | None = None,
    ) -> DraftCounts:
        """Drafts proposed in the period, and how many were posted or discarded by its end; of
        one `workspace` ("T1" or "slack:T1") when given."""
        where, params = "", []
        if platform:
            where += " and conversation like ? escape '\\'"
            params.append(like_prefix(platform + ":"))
        if channel:
            where += " and conversation like ? escape '\\'"
            params.append(channel_pattern(channel))
        if workspace:
            clause, more = workspace_clause(workspace, platform)
            where += clause
            params.extend(more)
        end = iso(until)
        row = self.db.execute(
            "select count(*), "
            " coalesce(sum(case when status = 'posted' and decided_at < ? then 1 else 0 end), 0), "
            " coalesce(sum(case when status = 'discarded' and decided_at < ? then 1 else 0 end), 0) "
            "from reply_drafts where created_at >= ? and created_at < ?" + where,
            [end, end, iso(since), end, *params],
        ).fetchone()
        return DraftCounts(proposed=int(row[0]), posted=int(row[1]), discarded=int(row[2]))


def _reply_draft(row: dict[str, Any]) -> ReplyDraft:
    card = (
        Posted(
            message_id=row["card_message_id"],
            conversation=ConversationRef.from_key(row["card_conversation"]),
        )
        if row["card_message_id"] and row["card_conversation"]
        else None
    )
    created = parse_time(row["created_at"])
    assert created is not None
    return ReplyDraft(
        id=row["id"],
        conversation=ConversationRef.from_key(row["conversation"]),
        message_id=row["message_id"],
        asker_id=row["asker_id"] or "",
        question=row["question"],
        answer=row["answer"],
        answer_id=row["answer_id"],
        status=ReplyDraftStatus(row["status"]),
        created_at=created,
        card=card,
        posted_message_id=row["posted_message_id"],
        decided_by=row["decided_by"],
        decided_at=parse_time(row["decided_at"]),
    )
