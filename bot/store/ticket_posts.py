"""Where a ticket is shown: the escalation note in the asker's thread and staff's card, each
remembered when posted so that every later transition edits it in place.

Staff's card is claimed before it is posted (`claim_ticket_post`): two workers finishing one
ticket's opening at once (a replay, and a second escalation in the thread) post one card.
"""

from __future__ import annotations

from bot.store.rows import insert_row, transaction
from bot.store.store import Repository
from bot.types import ConversationRef, Posted

CLAIMED = ""  # the message id of a post claimed and not yet made


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
        """The messages showing a ticket: (kind, where, the text it was first posted with).
        A post only claimed is none yet."""
        rows = self.db.table("ticket_posts").rows_where(
            "ticket_id = ? and message_id != ?", [ticket_id, CLAIMED], order_by="id"
        )
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

    def claim_ticket_post(self, ticket_id: int, kind: str, where: ConversationRef) -> int | None:
        """Claim the one post of `kind` a ticket has (staff's card) before it is posted: the
        claim, or None when the ticket has that post, or another process claimed it first.
        The check and the claim are one transaction under a lock of the ticket's (on SQLite,
        transactions run one at a time already), so of two racing workers one gets it."""
        with transaction(self.db):
            self._lock_until_commit(f"ticket-post:{ticket_id}:{kind}")
            taken = self.db.execute(
                "select 1 from ticket_posts where ticket_id = ? and kind = ? limit 1", [ticket_id, kind]
            ).fetchone()
            if taken is not None:
                return None
            return insert_row(
                self.db,
                "ticket_posts",
                {
                    "ticket_id": ticket_id,
                    "conversation": where.key,
                    "message_id": CLAIMED,
                    "kind": kind,
                    "text": "",
                },
            )

    def ticket_post_made(self, claim: int, posted: Posted) -> None:
        """The claimed post is out: `posted` is it, for later transitions to edit."""
        with transaction(self.db):
            self.db.execute(
                "update ticket_posts set message_id = ?, conversation = ? where id = ?",
                [posted.message_id, posted.conversation.key, claim],
            )

    def drop_ticket_post_claim(self, claim: int) -> None:
        """The claimed post could not be made: a later escalation in the thread makes it."""
        with transaction(self.db):
            self.db.execute("delete from ticket_posts where id = ? and message_id = ?", [claim, CLAIMED])

    def ticket_post_shown(self, ticket_id: int, was: Posted, now: Posted) -> None:
        """A message showing the ticket is now shown by `now` (a card an edit grew past one
        Discord message, or shrank): later transitions edit every message of it."""
        with transaction(self.db):
            self.db.execute(
                "update ticket_posts set message_id = ?, conversation = ? "
                "where ticket_id = ? and message_id = ? and conversation = ?",
                [now.message_id, now.conversation.key, ticket_id, was.message_id, was.conversation.key],
            )
