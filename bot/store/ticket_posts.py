"""Where a ticket is shown: the escalation note in the asker's thread and staff's card, each
remembered when posted so that every later transition edits it in place.

Staff's card is claimed before it is posted (`claim_ticket_post`), for `CARD_LEASE`: two
workers finishing one ticket's opening at once (a replay, and a second escalation in the
thread) post one card. A claim is never forgotten until its post is made: one whose post
failed is given back for later (`release_ticket_post`), one whose process died lapses, and
either is owed (`owed_ticket_posts`) until a later claim makes it, so a card is posted late
rather than never. A claim taken over may find its post out already (its process died after
posting, before noting it): `PostClaim.again` says to look first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.store.jobs import POST_LEASE
from bot.store.rows import insert_row, transaction
from bot.store.store import Repository, iso, parse_time
from bot.types import ConversationRef, Posted

if TYPE_CHECKING:
    from bot.store.migrations import StateDatabase

CLAIMED = ""  # the message id of a post claimed and not yet made
# the message id kept for a post made whose id the platform did not give (Slack's response URL
# answers with none): made, so never posted again, and never edited (an empty id, read back)
NO_ID = "-"
# how long a claim on posting a card holds before another worker takes its process for dead
# (a card a crash cut short is posted this much later, the thread note having tagged staff)
CARD_LEASE = POST_LEASE
# the tickets one sweep takes (`owed_ticket_posts`): a backlog is worked through tick by tick
OWED_BATCH = 20


def claim_card(
    db: StateDatabase, ticket_id: int, where: ConversationRef, now: datetime, kind: str = "card"
) -> int:
    """Insert the claim row of a ticket's post of `kind` in `where`, held until `now +
    CARD_LEASE` (inside the caller's transaction); its id."""
    record: dict[str, Any] = {
        "ticket_id": ticket_id,
        "conversation": where.key,
        "message_id": CLAIMED,
        "kind": kind,
        "text": "",
        "claimed_until": iso(now + CARD_LEASE),
    }
    return insert_row(db, "ticket_posts", record)


@dataclass(frozen=True)
class PostClaim:
    """A claim on making a ticket's post: its row, and whether an earlier claim on it lapsed
    or failed (then the post may be out already, unnoted)."""

    id: int
    again: bool = False


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
                    "message_id": posted.message_id or NO_ID,
                    "kind": kind,
                    "text": text,
                },
            )

    def ticket_posts(self, ticket_id: int) -> list[tuple[str, Posted, str]]:
        """The messages showing a ticket: (kind, where, the text it was first posted with).
        A post only claimed is none yet."""
        # a note is never claimed: one with the empty id is made (the version before NO_ID kept
        # those so, and a worker of it may still, beside this one)
        rows = self.db.table("ticket_posts").rows_where(
            "ticket_id = ? and (message_id != ? or kind = ?)", [ticket_id, CLAIMED, "thread"], order_by="id"
        )
        return [
            (
                row["kind"],
                Posted(
                    message_id="" if row["message_id"] in (NO_ID, CLAIMED) else row["message_id"],
                    conversation=ConversationRef.from_key(row["conversation"]),
                ),
                row["text"] or "",
            )
            for row in rows
        ]

    def claim_ticket_post(
        self, ticket_id: int, kind: str, where: ConversationRef, now: datetime, *, take_over: bool = False
    ) -> PostClaim | None:
        """Claim the one post of `kind` a ticket has (staff's card) in `where` before it is
        posted, until `now + CARD_LEASE`: the claim, or None when the ticket has that post, or
        another claim on it holds. A claim past its lease is taken over (`again`). The check and
        the claim are one transaction under a lock of the ticket's (on SQLite, transactions run
        one at a time already), so of two racing workers one gets it. `take_over`: the claim made
        with the ticket, if no one took it since, is taken though it holds (the ticket's opening
        is being done again for the same message: whoever made that claim died, or failed,
        handling it); a claim taken since may be a live holder's, and is left to its lease."""
        until = iso(now + CARD_LEASE)
        with transaction(self.db):
            self._lock_until_commit(f"ticket-post:{ticket_id}:{kind}")
            row = self.db.execute(
                "select p.id, p.message_id, p.claimed_until, t.created_at from ticket_posts p "
                "join tickets t on t.id = p.ticket_id where p.ticket_id = ? and p.kind = ? order by p.id limit 1",
                [ticket_id, kind],
            ).fetchone()
            if row is None:
                return PostClaim(claim_card(self.db, ticket_id, where, now, kind))
            # made, or held (a claim of the version before 0020 has no time: its process is
            # gone, as 0020 waits for every worker of that version to stop)
            opened = parse_time(str(row[3]))
            first = row[2] is not None and opened is not None and str(row[2]) == iso(opened + CARD_LEASE)
            if row[1] != CLAIMED or (
                not (take_over and first) and row[2] is not None and str(row[2]) > iso(now)
            ):
                return None
            self.db.execute(
                "update ticket_posts set claimed_until = ?, conversation = ? where id = ?",
                [until, where.key, row[0]],
            )
            return PostClaim(int(row[0]), again=True)

    def ticket_post_made(self, claim: int, posted: Posted) -> None:
        """The claimed post is out: `posted` is it, for later transitions to edit. A post made
        already (by a worker that took over a claim this one held too long) is kept: the first
        noted is the one transitions edit."""
        with transaction(self.db):
            self.db.execute(
                "update ticket_posts set message_id = ?, conversation = ? where id = ? and message_id = ?",
                [posted.message_id or NO_ID, posted.conversation.key, claim, CLAIMED],
            )

    def ticket_post_claim(self, ticket_id: int, kind: str) -> int | None:
        """The claim on the ticket's post of `kind` while it is not made (the one its opening
        made with the ticket: `create_ticket`'s `card_in`), or None."""
        row = self.db.execute(
            "select id from ticket_posts where ticket_id = ? and kind = ? and message_id = ? order by id limit 1",
            [ticket_id, kind, CLAIMED],
        ).fetchone()
        return None if row is None else int(row[0])

    def release_ticket_post(self, claim: int, retry_at: datetime) -> None:
        """The claimed post could not be made: it is owed from `retry_at` on."""
        with transaction(self.db):
            self.db.execute(
                "update ticket_posts set claimed_until = ? where id = ? and message_id = ?",
                [iso(retry_at), claim, CLAIMED],
            )

    def drop_ticket_post_claim(self, claim: int) -> None:
        """The claimed post is not to be made after all (no triage channel any more)."""
        with transaction(self.db):
            self.db.execute("delete from ticket_posts where id = ? and message_id = ?", [claim, CLAIMED])

    def owed_ticket_posts(self, kind: str, now: datetime, platforms: list[str]) -> list[tuple[int, int]]:
        """(ticket id, claim) of the tickets of `platforms` whose post of `kind` is owed:
        claimed, not made, and no claim holds it at `now` (a done ticket's too: its card may be
        out, showing it open); the oldest claim first, at most `OWED_BATCH`."""
        if not platforms:
            return []
        rows = self.db.execute(
            "select p.ticket_id, p.id from ticket_posts p join tickets t on t.id = p.ticket_id "
            "where p.message_id = ? and p.kind = ? and (p.claimed_until is null or p.claimed_until <= ?) "
            f"and t.platform in ({', '.join('?' for _ in platforms)}) "
            f"order by p.id limit {OWED_BATCH}",
            [CLAIMED, kind, iso(now), *platforms],
        ).fetchall()
        return [(int(row[0]), int(row[1])) for row in rows]

    def ticket_post_shown(self, ticket_id: int, was: Posted, now: Posted) -> None:
        """A message showing the ticket is now shown by `now` (a card an edit grew past one
        Discord message, or shrank): later transitions edit every message of it."""
        with transaction(self.db):
            self.db.execute(
                "update ticket_posts set message_id = ?, conversation = ? "
                "where ticket_id = ? and message_id = ? and conversation = ?",
                [
                    now.message_id or NO_ID,
                    now.conversation.key,
                    ticket_id,
                    was.message_id or NO_ID,
                    was.conversation.key,
                ],
            )
