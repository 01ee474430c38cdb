"""Whose turn it is to revise an answer after its question was edited, across workers.

An edit of a question the bot answered revises that answer in place (bot/answering/
responder.py `revise`). On one worker its edits take turns in memory (bot/slots.py `Edits`);
with several workers on one database, two edits of one message can reach two workers (Slack
over HTTP behind a load balancer, a replay taken over from a dead worker), and a retry of an
older edit can come after a newer one was applied. So each edited message has a row here:
when the newest edit applied to it was made (`made_at`), and the edit revising it now
(`holder`, until `held_until`). An edit takes the turn only if nothing newer was applied and
no other edit holds it (a dead holder's turn lapses; the same edit replayed takes its own turn
again); an older edit is left, and one that finds another revising waits for a later pass.
The rows hold ids and times only, and are forgotten with the inbox's handled events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from bot.store.rows import one_statement, transaction
from bot.store.store import Repository, iso

# how long a turn holds while its holder revises (a model's answer, streamed): past this, its
# worker is taken for dead and another edit of the message may revise it
REVISION_LEASE = timedelta(minutes=5)


def edited_message(platform: str, message_id: str) -> str:
    """The row of a message whose edits take turns: "platform:message id" (as first sent)."""
    return f"{platform}:{message_id}"


class RevisionTurn(StrEnum):
    TAKEN = "taken"  # this edit revises the answer now
    OUTDATED = "outdated"  # a newer edit of the message was applied: this one revises nothing
    BUSY = "busy"  # another edit of the message is revising it: try again later


class RevisionRepository(Repository):
    def take_revision(self, message: str, holder: str, made: datetime, now: datetime) -> RevisionTurn:
        """The turn of the edit `holder` (made at `made`) to revise the answer to `message`
        ("platform:message id"): see the module docstring."""
        with transaction(self.db):
            self.db.execute(
                "insert into revisions (message, made_at) values (?, ?) on conflict (message) do nothing",
                [message, iso(made)],
            )
            taken = self.db.execute(
                "update revisions set made_at = ?, holder = ?, held_until = ? where message = ? "
                "and made_at <= ? and (holder is null or holder = ? or held_until <= ?)",
                [iso(made), holder, iso(now + REVISION_LEASE), message, iso(made), holder, iso(now)],
            )
            if taken.rowcount == 1:
                return RevisionTurn.TAKEN
            row = self.db.execute("select made_at from revisions where message = ?", [message]).fetchone()
        return RevisionTurn.OUTDATED if row is not None and str(row[0]) > iso(made) else RevisionTurn.BUSY

    def end_revision(self, message: str, holder: str) -> None:
        """The edit `holder` is done revising (or gave up): the next edit may take its turn."""
        with one_statement(self.db):
            self.db.execute(
                "update revisions set holder = null, held_until = null where message = ? and holder = ?",
                [message, holder],
            )

    def prune_revisions(self, before: datetime) -> int:
        """Forget the turns of messages last edited before `before` (as the inbox forgets events)."""
        with one_statement(self.db):
            cursor = self.db.execute(
                "delete from revisions where made_at < ? and (holder is null or held_until < ?)",
                [iso(before), iso(before)],
            )
        return int(cursor.rowcount)
