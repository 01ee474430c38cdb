"""Answers the bot gave, the feedback on them, and what is counted from them.

It owns answer records (question, answer, confidence, sources), one verdict per person on
each, token usage and per-model limits (how many answers a model gave to whom), and the
reports built from them: /stats counts and the knowledge gaps (questions left unanswered).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Unpack

from bot.store.postgres_session import lock_keys
from bot.store.rows import (
    Condition,
    insert_statement,
    one_statement,
    select_row,
    together,
    transaction,
    update_row,
    values_where,
)
from bot.store.store import Repository, iso, like_prefix
from bot.types import AnswerFields, Citation, ConversationRef

# retrieval scores are kept to this many decimals: enough for similarity's weights
SCORE_DIGITS = 3


@dataclass(frozen=True, kw_only=True)
class AnswerRecord:
    id: int
    conversation: str
    asker_id: str | None
    question: str
    answer: str
    confidence: float
    abstained: bool
    sources: tuple[Citation, ...]
    # the language it was answered in, and so its buttons and follow-up are labelled in;
    # "" on a row that has none (the presses' replies then detect it from the question)
    language: str
    neighbours: tuple[str, ...] = ()  # the passages retrieval ranked first, best first
    scores: tuple[float, ...] = ()  # their retrieval scores, and the next passage's


@dataclass(frozen=True, kw_only=True)
class Stats:
    questions: int
    answered: int
    abstained: int
    helpful: int
    not_helpful: int
    tickets_open: int
    tickets_claimed: int
    tickets_resolved: int


def answer_statement(
    *, event: str | None = None, only_if: Condition | None = None, **fields: Unpack[AnswerFields]
) -> tuple[str, list[Any]]:
    """The statement recording an answer (it returns the answer's id): `record_answer`'s, or
    sent with the reads that follow it (bot/answering/trips.py). With `event`, the inbox event
    the answer is given for (bot/inbox.py): the answer is recorded before it is posted, so a
    replay after a crash records it again, over the row its dead predecessor wrote (the same
    id), and one question stays one answer in every count made from the table. With `only_if`
    (that event still held: bot/store/inbox.py `held_here`), nothing is recorded, and no id
    returned, unless it holds."""
    ref = fields["ref"]
    record = {
        "conversation": ref.key,
        "channel": ref.channel_key,
        "message_id": fields["message_id"],
        "asker_id": fields["asker_id"],
        "question": fields["question"],
        "answer": fields["answer"],
        "confidence": fields["confidence"],
        "language": fields["language"],
        "answerer": fields["answerer"],
        "abstained": int(fields["abstained"]),
        "sources": json.dumps([c.__dict__ for c in fields["sources"]], ensure_ascii=False),
        "top_path": fields["top_path"],
        "tokens_in": fields.get("tokens_in", 0),
        "tokens_out": fields.get("tokens_out", 0),
        "created_at": iso(fields["at"]),
        "neighbours": json.dumps(list(fields.get("neighbours", ()))),
        "neighbour_scores": json.dumps([round(s, SCORE_DIGITS) for s in fields.get("scores", ())]),
    }
    if event is None:
        return insert_statement("answers", record)
    columns = [*record, "event"]
    again = ", ".join(f"{column} = excluded.{column}" for column in record)
    # a select's where ends before `on conflict` (SQLite needs one there to read the upsert)
    row = values_where(", ".join("?" for _ in columns), [only_if.sql] if only_if is not None else [])
    return (
        f"insert into answers ({', '.join(columns)}) {row} on conflict (event) do update set {again} returning id",
        [*record.values(), event, *(only_if.params if only_if is not None else ())],
    )


def revised_statement(answer_id: int) -> tuple[str, list[Any]]:
    """The statement marking `answer_id` replaced by the newest answer to the same message,
    sent after that answer's record in its trip (an edit's: bot/answering/responder.py
    `revise`): one question stays one question in every count, whatever its edits. Nothing is
    marked when no newer answer is recorded."""
    return (
        "update answers set revised_by = (select max(b.id) from answers b where b.message_id = answers.message_id "
        "and b.conversation = answers.conversation and b.id > answers.id) where id = ? returning id",
        [answer_id],
    )


def release_statement(reservation: int) -> tuple[str, list[Any]]:
    """The statement releasing a model answer reserved for a question (`reserve_model_answer`),
    sent in its answer's record's trip: in one transaction with it, so no moment counts the
    answer twice or not at all."""
    return "delete from model_reservations where id = ? returning id", [reservation]


class AnswerRepository(Repository):
    def record_answer(self, **fields: Unpack[AnswerFields]) -> int:
        statement = answer_statement(**fields)
        with one_statement(self.db):
            return int(self.db.execute(*statement).fetchone()[0])

    def set_answer_posted(self, answer_id: int, posted_message_id: str) -> None:
        """The answer's post as it now is (a revision may take more messages, or fewer, or a
        new one). The bot's message kept for it follows, so whatever finds an answer's
        message by its post (forget-me) finds it after the revision too."""
        with transaction(self.db):
            self.db.execute(
                "update messages set platform_id = ? where role = 'bot' and platform_id = "
                "(select posted_message_id from answers where id = ?) "
                "and conversation = (select conversation from answers where id = ?)",
                [posted_message_id, answer_id, answer_id],
            )
            update_row(self.db, "answers", "id", answer_id, {"posted_message_id": posted_message_id})

    def answer(self, answer_id: int) -> AnswerRecord | None:
        row = select_row(self.db, "answers", "id", answer_id)
        if row is None:
            return None
        return AnswerRecord(
            id=row["id"],
            conversation=row["conversation"],
            asker_id=row["asker_id"],
            question=row["question"],
            answer=row["answer"],
            confidence=row["confidence"],
            abstained=bool(row["abstained"]),
            sources=tuple(Citation(**c) for c in json.loads(row["sources"] or "[]")),
            language=row["language"] or "",
            neighbours=tuple(json.loads(row.get("neighbours") or "[]")),
            scores=tuple(json.loads(row.get("neighbour_scores") or "[]")),
        )

    def answer_to_message(self, message_id: str) -> tuple[AnswerRecord, str] | None:
        """The latest posted answer to the platform message `message_id`, with the id of the
        post that shows it: what an edit of that message revises."""
        row = self.db.execute(
            "select id, posted_message_id from answers where message_id = ? and posted_message_id is not null "
            "order by id desc limit 1",
            [message_id],
        ).fetchone()
        if row is None:
            return None
        record = self.answer(int(row[0]))
        return (record, str(row[1])) if record is not None else None

    def answered_language(self, ref: ConversationRef) -> str | None:
        """The language the bot last answered in in `ref` (None: it has not, or the row has none
        kept): what a reply that shows none of its own is answered in."""
        row = self.db.execute(
            "select language from answers where conversation = ? and language != '' order by id desc limit 1",
            [ref.key],
        ).fetchone()
        return str(row[0]) if row is not None else None

    def add_feedback(self, answer_id: int, user_id: str, value: str, at: datetime) -> bool:
        """Record (or change) a user's verdict on an answer; True if it is new or changed."""
        with transaction(self.db):
            before = self.db.execute(
                "select value from feedback where answer_id = ? and user_id = ?", [answer_id, user_id]
            ).fetchone()
            if before and before[0] == value:
                return False
            self.db.execute(
                "insert into feedback (answer_id, user_id, value, at) values (?, ?, ?, ?) "
                "on conflict(answer_id, user_id) do update set value = excluded.value, at = excluded.at",
                [answer_id, user_id, value, iso(at)],
            )
        return True

    # -- usage and model limits ------------------------------------------------------------

    def reserve_model_answer(
        self,
        asker_id: str,
        channel_key: str,
        *,
        per_user: int,
        per_channel: int,
        since: datetime,
        now: datetime,
        until: datetime,
    ) -> int | None:
        """Reserve a model answer for a question about to be asked, within the share of this
        person (`per_user` answers since `since`) and of this channel (`per_channel`; 0: no
        limit, but one is set): its id, or None when either share is used up. A share counts
        the answers a model was asked for (Answer.tokens_in: not the questions it was never
        given, and also those where the documentation's words were posted instead of its own,
        in another language than the question's: it was asked, and spent the tokens), and the
        reservations of the questions still being answered: the answers alone, recorded once
        the model is done, let questions asked at once (on two workers, or on one) all take
        the last answer of a share. A reservation is released in its answer's record's trip
        (`release_statement`), or without one (`release_model_answer`); one whose worker died
        lapses at `until`. One transaction, serialised per person and per channel (an
        advisory lock each on PostgreSQL, taken in one order; on SQLite its one writer)."""
        limited = [("asker_id", asker_id, per_user), ("channel", channel_key, per_channel)]
        limited = [(column, key, limit) for column, key, limit in limited if limit > 0]
        if not limited:
            raise ValueError("no share to reserve from: neither limit is set")
        statements: list[tuple[str, list[Any]]] = []
        if self.shared:
            names = sorted(f"model-share:{column}:{key}" for column, key, _ in limited)
            statements += [(f"select pg_advisory_xact_lock({lock_keys('?')})", [name]) for name in names]
        # a reservation outlived by its question (its worker died) goes, under the locks that cover it
        mine = " or ".join(f"{column} = ?" for column, _, _ in limited)
        statements.append(
            (
                f"delete from model_reservations where expires_at <= ? and ({mine}) returning id",
                [iso(now), *(key for _, key, _ in limited)],
            )
        )
        within: list[str] = []
        params: list[Any] = []
        for column, key, limit in limited:  # the columns of both tables
            within.append(
                f"(select count(*) from answers where {column} = ? and created_at >= ? and tokens_in > 0) "
                f"+ (select count(*) from model_reservations where {column} = ?) < ?"
            )
            params += [key, iso(since), key, limit]
        statements.append(
            (
                "insert into model_reservations (asker_id, channel, expires_at) "
                f"select ?, ?, ? where {' and '.join(within)} returning id",
                [asker_id, channel_key, iso(until), *params],
            )
        )
        reserved = together(self.db, statements)[-1].rows
        return int(reserved[0][0]) if reserved else None

    def release_model_answer(self, reservation: int) -> None:
        """Give back a reservation whose question recorded no answer (it failed on the way)."""
        with one_statement(self.db):
            self.db.execute(*release_statement(reservation)).fetchall()

    def usage_since(self, since: datetime) -> tuple[int, int, int]:
        """Answers a model was asked for since `since`, and their tokens in and out."""
        row = self.db.execute(
            "select count(*), coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0) from answers "
            "where created_at >= ? and tokens_in > 0",
            [iso(since)],
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    # -- reporting -------------------------------------------------------------------------

    def stats(
        self, since: datetime | None = None, platform: str | None = None, workspace: str | None = None
    ) -> Stats:
        """Counts since `since`, on one platform and (with it) one workspace if given: rights,
        and so what `/support status` shows, are per workspace."""
        since_iso = iso(since) if since else ""
        prefix = like_prefix(f"{platform}:{workspace}:" if workspace else f"{platform}:") if platform else "%"
        q = self.db.execute(
            "select count(*), sum(case when abstained = 0 then 1 else 0 end), "
            "sum(case when abstained = 1 then 1 else 0 end) from answers "
            # an answer replaced when its question was edited: one question, its revision
            "where created_at >= ? and conversation like ? escape '\\' and revised_by is null",
            [since_iso, prefix],
        ).fetchone()
        f = self.db.execute(
            "select sum(case when value = 'helpful' then 1 else 0 end), "
            "sum(case when value = 'not_helpful' then 1 else 0 end) from feedback "
            "join answers on answers.id = feedback.answer_id "
            "where feedback.at >= ? and answers.conversation like ? escape '\\'",
            [since_iso, prefix],
        ).fetchone()
        # ticket counts belong to the same report; they are read here so /stats is one call
        t = dict(
            self.db.execute(
                "select status, count(*) from tickets where conversation like ? escape '\\' group by status",
                [prefix],
            ).fetchall()
        )
        return Stats(
            questions=q[0] or 0,
            answered=q[1] or 0,
            abstained=q[2] or 0,
            helpful=f[0] or 0,
            not_helpful=f[1] or 0,
            tickets_open=t.get("open", 0),
            tickets_claimed=t.get("claimed", 0),
            tickets_resolved=t.get("resolved", 0),
        )

    def knowledge_gaps(self, limit: int = 10, platform: str | None = None) -> list[tuple[str, int]]:
        """Questions the bot could not answer, most frequent first (on one platform, if given)."""
        rows = self.db.execute(
            # a question emptied by retention or forget-me has no words left to list
            # min(question): one spelling of the group (PostgreSQL wants every column grouped);
            # cast: PostgreSQL must know a parameter's type to test it for null
            "select min(question), count(*) as n from answers "
            "where abstained = 1 and question != '' and revised_by is null "
            "and (cast(? as text) is null or conversation like ?) "
            "group by lower(trim(question)) order by n desc, max(created_at) desc limit ?",
            [platform, f"{platform}:%", limit],
        ).fetchall()
        return [(row[0], row[1]) for row in rows]
