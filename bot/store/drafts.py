"""Drafts: the learning loop, turning what staff answered on a ticket into a knowledge page.

A draft is made from a resolved ticket and waits, pending, until an admin approves it
(it is then written into the knowledge folder) or rejects it; each decision is taken once.

Also the knowledge generation (`state_meta`'s KNOWLEDGE_KEY), a count of the changes to the
folder made through a worker: an approval counts its page in the transaction that records
it, `/support reindex` counts itself. Each worker syncs its own index when the count moves
(bot/cluster.py's SharedKnowledge): on PostgreSQL the other workers learn of the change here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.store.queue import Reach, reach_sql
from bot.store.rows import insert_row, one_statement, select_row, select_rows, transaction
from bot.store.store import Repository, iso, parse_time
from bot.types import DocVisibility, Draft

KNOWLEDGE_KEY = "knowledge_generation"  # in state_meta: changes to the folder made through a worker


class DraftRepository(Repository):
    def create_draft(
        self, *, ticket_id: int, title: str, question: str, answer: str, visibility: str, at: datetime
    ) -> Draft:
        with transaction(self.db):
            new_id = insert_row(
                self.db,
                "drafts",
                {
                    "ticket_id": ticket_id,
                    "title": title,
                    "question": question,
                    "answer": answer,
                    "visibility": visibility,
                    "status": "pending",
                    "created_at": iso(at),
                },
            )
        draft = self.draft(new_id)
        assert draft is not None
        return draft

    def draft(self, draft_id: int) -> Draft | None:
        row = select_row(self.db, "drafts", "id", draft_id)
        if row is None:
            return None
        return _draft(row)

    def drafts(self, status: str | None = "pending", limit: int = 20) -> list[Draft]:
        rows = self.db.table("drafts").rows_where(
            "status = ?" if status else None, [status] if status else [], order_by="id desc", limit=limit
        )
        return [_draft(row) for row in rows]

    def ticket_drafts(self, ticket_id: int, limit: int = 2) -> list[Draft]:
        """The ticket's newest drafts, newest first."""
        rows = self.db.table("drafts").rows_where(
            "ticket_id = ?", [ticket_id], order_by="id desc", limit=limit
        )
        return [_draft(row) for row in rows]

    def resolve_notes(self, ticket_id: int) -> list[tuple[str, datetime]]:
        """What staff wrote when they resolved the ticket (`/support resolve N <note>`), each
        with when, oldest first: in its timeline, every resolution's, where the ticket keeps
        only its last."""
        rows = self.db.execute(
            "select detail, at from ticket_events where ticket_id = ? and event = 'resolved' "
            "and detail <> '' order by id",
            [ticket_id],
        ).fetchall()
        return [(str(detail), datetime.fromisoformat(at)) for detail, at in rows]

    def refresh_draft(self, draft_id: int, answer: str, at: datetime) -> bool:
        """Replace a pending draft's answer with what staff wrote (the learning loop, after a
        reopen), unless a person has saved it by hand: their text is never written over."""
        with transaction(self.db):
            cursor = self.db.execute(
                "update drafts set answer = ?, updated_at = ? "
                "where id = ? and status = 'pending' and edited_at is null",
                [answer, iso(at), draft_id],
            )
        return cursor.rowcount == 1

    def edit_draft(self, draft_id: int, title: str, answer: str, at: datetime) -> bool:
        """A person's save of a pending draft (the dashboard's editor): both in one statement,
        so another save cannot leave its title on this one's answer. A changed answer is
        theirs from then on (`edited_at`): the learning loop no longer rewrites it."""
        with transaction(self.db):
            cursor = self.db.execute(
                "update drafts set title = ?, answer = ?, "
                "edited_at = case when answer = ? then edited_at else ? end "
                "where id = ? and status = 'pending'",
                [title, answer, answer, iso(at), draft_id],
            )
        return cursor.rowcount == 1

    def drafts_in(
        self, reach: Sequence[Reach], status: str | None = "pending", limit: int = 20
    ) -> list[Draft]:
        """Drafts made from tickets of the workspaces `reach` covers: an admin elsewhere does
        not see them (a draft holds the asker's question and staff's answer)."""
        where, params = reach_sql(reach)  # tickets' columns: drafts has neither
        rows = select_rows(
            self.db,
            "select drafts.* from drafts join tickets on tickets.id = drafts.ticket_id "
            f"where {where} and (cast(? as text) is null or drafts.status = ?) order by drafts.id desc limit ?",
            [*params, status, status, limit],
        )
        return [_draft(row) for row in rows]

    def retitle_draft(self, draft_id: int, title: str) -> bool:
        with transaction(self.db):
            cursor = self.db.execute(
                "update drafts set title = ? where id = ? and status = 'pending'", [title, draft_id]
            )
        return cursor.rowcount == 1

    def decide_draft(
        self,
        draft_id: int,
        *,
        status: str,
        by: str,
        at: datetime,
        path: str | None = None,
        unchanged: tuple[str, str] | None = None,
    ) -> bool:
        """Approve or reject a pending draft, once. With `unchanged` (its title and answer as
        the decision saw them), only if they are still what the draft holds: an approval
        publishes the text it wrote, never an edit saved meanwhile."""
        same, params = ("", []) if unchanged is None else (" and title = ? and answer = ?", [*unchanged])
        with transaction(self.db):
            cursor = self.db.execute(
                "update drafts set status = ?, decided_by = ?, decided_at = ?, path = ? "
                f"where id = ? and status = 'pending'{same}",
                [status, by, iso(at), path, draft_id, *params],
            )
            decided = cursor.rowcount == 1
            if decided and status == "approved":
                # with the approval, never after it: a worker that dies in between would leave
                # the page it wrote unknown to the others until they restart
                self._count_knowledge_change()
        return decided

    def count_knowledge_change(self) -> int:
        """Count a change to the knowledge folder (`/support reindex`); the new generation."""
        with one_statement(self.db):
            return self._count_knowledge_change()

    def knowledge_generation(self) -> int:
        """How many changes to the knowledge folder have been counted (0: none yet)."""
        row = self.db.execute("select value from state_meta where key = ?", [KNOWLEDGE_KEY]).fetchone()
        return int(row[0]) if row else 0

    def _count_knowledge_change(self) -> int:
        row = self.db.execute(
            "insert into state_meta (key, value) values (?, '1') on conflict (key) do update "
            "set value = cast(cast(state_meta.value as integer) + 1 as text) returning value",
            [KNOWLEDGE_KEY],
        ).fetchone()
        return int(row[0])


def _draft(row: dict[str, Any]) -> Draft:
    return Draft(
        id=row["id"],
        ticket_id=row["ticket_id"],
        title=row["title"],
        question=row["question"],
        answer=row["answer"],
        visibility=DocVisibility(row["visibility"] or "public"),
        status=row["status"],
        path=row["path"],
        created_at=parse_time(row["created_at"]),
        updated_at=parse_time(row["updated_at"]),
        edited_at=parse_time(row["edited_at"]),
    )
