"""Retention: the SQL that empties message text older than `[privacy] retention_days`.

It owns one list, `PURGES`: for each place state.db keeps words people wrote (or text made
from them), which rows are past the window and how their text is emptied. Rows are never
deleted: ids, times, statuses, confidences, verdicts and the links between rows stay, so
`supportbot report`, `/support stats` and every count keep their numbers; only the words go
(`''` where the column must not be null, NULL where it may be). Each statement skips rows
already emptied, so a purge run twice changes nothing the second time and the counts it
returns are what was (or, with `dry_run`, would be) emptied.

What is left alone, on purpose:
* work still in progress: messages and answers of a thread with an open or claimed ticket
  (where there is no thread, those of its asker),
  the ticket itself, pending knowledge drafts and pending reply drafts (staff act on them),
  and open knowledge gaps (one representative question, so admins can act on the gap);
* text people did not write: incident notices (staff announcements), the knowledge folder;
* derived word lists (gap, burst and incident signatures: the terms clusters are matched by)
  and opt-in memory (capped, and erased by forget-me; bot/privacy/).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.store.rows import transaction
from bot.store.store import Repository, iso

# threads whose ticket is still being worked: their history is still needed. A conversation
# without a thread (its key ends in ':': a channel the bot answers in place, a direct message)
# holds every asker's questions there: only the ticket's asker's rows are its history (`_ASKER`)
_ACTIVE = (
    "(select conversation from tickets where status in ('open', 'claimed') and conversation not like '%:')"
)
_ASKER = (
    "not exists (select 1 from tickets t where t.status in ('open', 'claimed') "
    "and t.conversation = {table}.conversation and t.asker_id = {table}.{asker})"
)
# tickets that are over, and were last touched before the window
_DONE_TICKETS = "(select id from tickets where status in ('resolved', 'closed') and updated_at < :before)"


@dataclass(frozen=True, kw_only=True)
class Purge:
    """One table's text past the window: `where` picks the rows (not yet emptied), `empty` is
    the SET clause. Parameters: `:before` (the cutoff) and `:now`."""

    name: str  # what a report calls it
    table: str
    empty: str
    where: str
    key: str = "id"  # the table's primary key: a purge goes through the rows a batch at a time


PURGES: tuple[Purge, ...] = (
    Purge(
        name="messages",
        table="messages",
        empty="text = ''",
        where=(
            f"at < :before and coalesce(text, '') != '' and conversation not in {_ACTIVE} "
            f"and {_ASKER.format(table='messages', asker='author_id')}"
        ),
    ),
    Purge(
        name="answers",
        table="answers",
        empty="question = '', answer = ''",
        where=(
            "created_at < :before and (question != '' or coalesce(answer, '') != '') "
            f"and conversation not in {_ACTIVE} and {_ASKER.format(table='answers', asker='asker_id')}"
        ),
    ),
    Purge(
        name="tickets",
        table="tickets",
        # the question, the bot's answer and sources shown on the card, the resolution note
        empty="question = '', context = null, note = null",
        where=f"id in {_DONE_TICKETS} and (question != '' or context is not null or note is not null)",
    ),
    Purge(
        name="ticket events",
        table="ticket_events",
        # what the asker wrote to reopen, the note staff resolved with; ids and ratings stay
        empty="detail = ''",
        where=f"event in ('reopened', 'resolved') and coalesce(detail, '') != '' and ticket_id in {_DONE_TICKETS}",
    ),
    Purge(
        name="ticket cards",
        table="ticket_posts",
        empty="text = null",
        where=f"text is not null and ticket_id in {_DONE_TICKETS}",
    ),
    Purge(
        name="knowledge drafts",
        table="drafts",
        # an approved draft lives on as a file in the knowledge folder (its `path` stays)
        empty="title = '', question = '', answer = ''",
        where=(
            "status != 'pending' and coalesce(decided_at, created_at) < :before "
            "and (title != '' or question != '' or answer != '')"
        ),
    ),
    Purge(
        name="reply drafts",
        table="reply_drafts",
        empty="question = '', answer = ''",
        where=(
            "status != 'pending' and coalesce(decided_at, created_at) < :before "
            "and (question != '' or answer != '')"
        ),
    ),
    Purge(
        name="gap questions",
        table="gap_questions",
        empty="question = ''",
        where="at < :before and question != ''",
        key="answer_id",
    ),
    Purge(
        name="gaps",
        table="gaps",
        empty="representative = ''",
        where="status != 'open' and updated_at < :before and representative != ''",
    ),
    Purge(
        name="bursts",
        table="bursts",
        empty="representative = ''",
        where="alerted_at < :before and representative != ''",
    ),
    Purge(
        name="inbox",
        table="inbox",
        # a message received but never handled, for longer than the window: nobody is waiting
        # for it any more. Marked done (so the clock never replays it, and prune_inbox forgets
        # it a week later) and its payload, the message itself, dropped.
        empty="payload = null, status = 'expired', done_at = :now",
        where="status in ('pending', 'replaying') and received_at < :before",
        key="key",
    ),
)


# rows emptied per statement: the first purge after retention is turned on may meet a year of
# text, and one statement over all of it would outlast the store's statement limit on
# PostgreSQL (bot/store/postgres_session.py) and fail at every tick, never purging
BATCH = 2000


class RetentionRepository(Repository):
    def purge_text(self, before: datetime, now: datetime, *, dry_run: bool = False) -> dict[str, int]:
        """Empty the text of every row past `before` (see PURGES), BATCH rows a transaction;
        how many rows of each kind were emptied (or, with `dry_run`, would be: nothing is
        changed). Cut short, it has kept what it emptied, and the next run goes on from there."""
        params: dict[str, object] = {"before": iso(before), "now": iso(now), "batch": BATCH}
        counts: dict[str, int] = {}
        for purge in PURGES:
            if dry_run:  # only reads: no write lock
                row = self.db.execute(
                    f"select count(*) from {purge.table} where {purge.where}", params
                ).fetchone()
                counts[purge.name] = int(row[0])
                continue
            counts[purge.name] = 0
            while True:
                with transaction(self.db):
                    cursor = self.db.execute(
                        f"update {purge.table} set {purge.empty} where {purge.key} in "
                        f"(select {purge.key} from {purge.table} where {purge.where} limit :batch)",
                        params,
                    )
                emptied = int(cursor.rowcount)
                counts[purge.name] += emptied
                if emptied < BATCH:
                    break
        return counts
