"""Where a ticket is shown: the escalation note in the asker's thread and staff's card, each
remembered when posted so that every later transition edits it in place."""

from __future__ import annotations

from bot.store.rows import insert_row, transaction
from bot.store.store import Repository
from bot.types import ConversationRef, Posted


class TicketPostRepository(Repository):
    def add_ticket_post(self, ticket_id: int, posted: Posted, kind: str, text: str = "") -> None:
        """Remember a message that shows a ticket, so later transitions can update it."""
        with transaction(self.db):
            insert_row(
                self.db,
                "ticket_posts",
                {
                    "ticket_id": ticket_id,
                    "conversation": posted.conversation.key,
                    "message_id": posted.message_id,
                    "kind": kind,
                    "text": text,
                },
            )

    def ticket_posts(self, ticket_id: int) -> list[tuple[str, Posted, str]]:
        """The messages showing a ticket: (kind, where, the text it was first posted with)."""
        rows = self.db.table("ticket_posts").rows_where("ticket_id = ?", [ticket_id], order_by="id")
        return [
            (
                row["kind"],
                Posted(
                    message_id=row["message_id"],
                    conversation=ConversationRef.from_key(row["conversation"]),
                ),
                row["text"] or "",
            )
            for row in rows
        ]
