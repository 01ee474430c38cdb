"""Durable state through sqlite-utils: the only module (with migrations.py) that speaks SQL.

`StateStore` keeps what must never be lost: the inbox of platform events, conversations,
messages, answers, tickets and feedback. `Catalog` describes the knowledge index, a cache
that can be rebuilt from the folder at any time; it lives in another file so that
deleting the index never touches state.

SQLite calls block, so async code goes through `AsyncStore`, which runs every call on one
dedicated thread (SQLite connections are not shared across threads).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

from bot.errors import StoreError
from bot.migrations import CATALOG_MIGRATIONS, STATE_MIGRATIONS, Migration, migrate
from bot.types import (
    Author,
    Citation,
    ConversationRef,
    DocVisibility,
    Draft,
    EscalationReason,
    Posted,
    Ticket,
    TicketStatus,
    Turn,
)

P = ParamSpec("P")
R = TypeVar("R")


REPLAY_LEASE = timedelta(minutes=10)  # a replay not finished by then was cut short: retry it


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def open_database(path: Path, migrations: list[Migration]) -> Database:
    """Open (creating if needed) and migrate a database, turning SQLite's errors into advice."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=5.0, check_same_thread=False)
        db = Database(conn)
        db.execute("pragma journal_mode=wal")
        # with WAL, NORMAL still survives a crash of the process; only an OS crash can lose
        # the last commits, and it avoids an fsync per event (about 10 ms here)
        db.execute("pragma synchronous=normal")
        db.execute("pragma foreign_keys=on")
        migrate(db, migrations)
        return db
    except sqlite3.DatabaseError as exc:
        message = str(exc)
        if "locked" in message or "busy" in message:
            raise StoreError(
                f"{path} is locked by another process. Is another supportbot running with the same "
                "data directory? Stop it, or give this one its own with --data DIR."
            ) from None
        if "not a database" in message or "malformed" in message:
            raise StoreError(
                f"{path} is not a readable SQLite database (it may be corrupt). Nothing was changed. "
                "Move the file aside to start afresh, or restore it from a backup."
            ) from None
        raise StoreError(f"{path} cannot be opened: {message}") from None
    except OSError as exc:
        raise StoreError(f"{path} cannot be created: {exc.strerror}") from None


@dataclass(frozen=True, kw_only=True)
class ConversationState:
    key: str
    asker_id: str | None
    bot_participating: bool  # the bot answered here, so follow-ups need no mention
    human_takeover: bool  # staff replied here: the bot stays quiet unless mentioned


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


class StateStore:
    """State that must survive anything: one SQLite file in the data directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = open_database(path, STATE_MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    # -- inbox: each platform event is handled once, and none is lost ------------------

    def claim_event(self, key: str, platform: str, payload: str, now: datetime) -> bool:
        """Record an event as received; False when it was seen before (a retry or replay)."""
        with self.db.conn:
            cursor = self.db.execute(
                "insert or ignore into inbox (key, platform, received_at, status, payload) "
                "values (?, ?, ?, 'pending', ?)",
                [key, platform, _iso(now), payload],
            )
        return cursor.rowcount == 1

    def finish_event(self, key: str, now: datetime, status: str = "done") -> None:
        """Mark an event handled. Its payload (the message, kept only so a crash cannot lose
        it) is dropped: the key alone is enough to recognise a retry."""
        with self.db.conn:
            self.db.execute(
                "update inbox set status = ?, done_at = ?, payload = null where key = ?",
                [status, _iso(now), key],
            )

    def prune_inbox(self, before: datetime) -> int:
        """Forget handled events older than `before` (platforms stop retrying within minutes)."""
        with self.db.conn:
            cursor = self.db.execute(
                "delete from inbox where status != 'pending' and done_at < ?", [_iso(before)]
            )
        return int(cursor.rowcount)

    def pending_events(self, platform: str, now: datetime | None = None) -> list[tuple[str, str]]:
        """Events received but never finished, and replays that were themselves cut short
        (their lease has run out)."""
        stale = _iso((now or datetime.now(UTC)) - REPLAY_LEASE)
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
                [_iso(now), key, _iso(now - REPLAY_LEASE)],
            )
        return cursor.rowcount == 1

    # -- conversations and messages --------------------------------------------------

    def conversation(self, key: str) -> ConversationState | None:
        try:
            row = self.db.table("conversations").get(key)
        except NotFoundError:
            return None
        return ConversationState(
            key=key,
            asker_id=row["asker_id"],
            bot_participating=bool(row["bot_participating"]),
            human_takeover=bool(row["human_takeover"]),
        )

    def touch_conversation(self, ref: ConversationRef, now: datetime, asker_id: str | None = None) -> None:
        with self.db.conn:
            self.db.execute(
                "insert into conversations (key, platform, workspace, channel, thread, started_at, "
                "last_activity, asker_id) values (?, ?, ?, ?, ?, ?, ?, ?) "
                "on conflict(key) do update set last_activity = excluded.last_activity, "
                "asker_id = coalesce(conversations.asker_id, excluded.asker_id)",
                [
                    ref.key,
                    ref.platform,
                    ref.workspace,
                    ref.channel,
                    ref.thread,
                    _iso(now),
                    _iso(now),
                    asker_id,
                ],
            )

    def set_conversation_flags(
        self,
        ref: ConversationRef,
        now: datetime,
        *,
        bot_participating: bool | None = None,
        human_takeover: bool | None = None,
    ) -> None:
        self.touch_conversation(ref, now)
        updates: dict[str, Any] = {}
        if bot_participating is not None:
            updates["bot_participating"] = int(bot_participating)
        if human_takeover is not None:
            updates["human_takeover"] = int(human_takeover)
        if updates:
            with self.db.conn:
                self.db.table("conversations").update(ref.key, updates)

    def add_message(
        self,
        ref: ConversationRef,
        *,
        role: str,
        text: str,
        at: datetime,
        author: Author | None = None,
        platform_id: str | None = None,
    ) -> None:
        with self.db.conn:
            self.db.table("messages").insert(
                {
                    "conversation": ref.key,
                    "platform_id": platform_id,
                    "author_id": author.id if author else None,
                    "author_name": author.display if author else None,
                    "role": role,
                    "text": text,
                    "at": _iso(at),
                }
            )

    def history(self, ref: ConversationRef, limit: int = 20) -> list[Turn]:
        rows = self.db.execute(
            "select role, text from messages where conversation = ? order by id desc limit ?",
            [ref.key, limit],
        ).fetchall()
        return [Turn(role=role, text=text) for role, text in reversed(rows)]

    # -- answers and feedback ----------------------------------------------------------

    def record_answer(
        self,
        *,
        ref: ConversationRef,
        message_id: str | None,
        asker_id: str | None,
        question: str,
        answer: str,
        confidence: float,
        language: str,
        answerer: str,
        abstained: bool,
        sources: Iterable[Citation],
        top_path: str | None,
        at: datetime,
        tokens_in: int = 0,
        tokens_out: int = 0,
    ) -> int:
        with self.db.conn:
            table = self.db.table("answers").insert(
                {
                    "conversation": ref.key,
                    "message_id": message_id,
                    "asker_id": asker_id,
                    "question": question,
                    "answer": answer,
                    "confidence": confidence,
                    "language": language,
                    "answerer": answerer,
                    "abstained": int(abstained),
                    "sources": json.dumps([c.__dict__ for c in sources], ensure_ascii=False),
                    "top_path": top_path,
                    "tokens_in": tokens_in,
                    "tokens_out": tokens_out,
                    "created_at": _iso(at),
                }
            )
        return int(table.last_pk or 0)

    def set_answer_posted(self, answer_id: int, posted_message_id: str) -> None:
        with self.db.conn:
            self.db.table("answers").update(answer_id, {"posted_message_id": posted_message_id})

    def answer(self, answer_id: int) -> AnswerRecord | None:
        try:
            row = self.db.table("answers").get(answer_id)
        except NotFoundError:
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
        )

    def add_feedback(self, answer_id: int, user_id: str, value: str, at: datetime) -> bool:
        """Record (or change) a user's verdict on an answer; True if it is new or changed."""
        with self.db.conn:
            before = self.db.execute(
                "select value from feedback where answer_id = ? and user_id = ?", [answer_id, user_id]
            ).fetchone()
            if before and before[0] == value:
                return False
            self.db.execute(
                "insert into feedback (answer_id, user_id, value, at) values (?, ?, ?, ?) "
                "on conflict(answer_id, user_id) do update set value = excluded.value, at = excluded.at",
                [answer_id, user_id, value, _iso(at)],
            )
        return True

    # -- tickets -----------------------------------------------------------------------

    def create_ticket(
        self,
        *,
        ref: ConversationRef,
        asker: Author,
        question: str,
        reason: EscalationReason,
        at: datetime,
        answer_id: int | None = None,
        language: str = "en",
        visibility: str = "public",
        tags: Iterable[str] = (),
        sla_stage: int = 0,
        next_action_at: datetime | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> tuple[Ticket, bool]:
        """Open a ticket; if the conversation already has an active one (another escalation
        won the race), return that instead. Returns (ticket, created)."""
        try:
            ticket_id = self._insert_ticket(
                ref,
                asker,
                question,
                reason,
                at,
                answer_id,
                language,
                visibility,
                tags,
                sla_stage,
                next_action_at,
                context,
            )
        except sqlite3.IntegrityError:
            existing = self.active_ticket(ref, asker.id)
            if existing is None:
                raise
            return existing, False
        ticket = self.ticket(ticket_id)
        assert ticket is not None
        return ticket, True

    def _insert_ticket(
        self,
        ref: ConversationRef,
        asker: Author,
        question: str,
        reason: EscalationReason,
        at: datetime,
        answer_id: int | None,
        language: str,
        visibility: str,
        tags: Iterable[str],
        sla_stage: int,
        next_action_at: datetime | None,
        context: Mapping[str, Any] | None,
    ) -> int:
        with self.db.conn:
            table = self.db.table("tickets").insert(
                {
                    "conversation": ref.key,
                    "platform": ref.platform,
                    "asker_id": asker.id,
                    "asker_name": asker.display,
                    "question": question,
                    "reason": str(reason),
                    "status": str(TicketStatus.OPEN),
                    "answer_id": answer_id,
                    "language": language,
                    "visibility": visibility,
                    "tags": json.dumps(list(tags), ensure_ascii=False),
                    "sla_stage": sla_stage,
                    "next_action_at": _iso(next_action_at) if next_action_at else None,
                    "rating_asked": 0,
                    "context": json.dumps(dict(context or {}), ensure_ascii=False),
                    "created_at": _iso(at),
                    "updated_at": _iso(at),
                }
            )
            ticket_id = int(table.last_pk or 0)
            self._log_ticket(ticket_id, at, asker.id, "opened", str(reason))
        return ticket_id

    def ticket_context(self, ticket_id: int) -> dict[str, Any]:
        row = self.db.execute("select context from tickets where id = ?", [ticket_id]).fetchone()
        return dict(json.loads(row[0])) if row and row[0] else {}

    def _log_ticket(
        self, ticket_id: int, at: datetime, actor: str | None, event: str, detail: str = ""
    ) -> None:
        self.db.table("ticket_events").insert(
            {"ticket_id": ticket_id, "at": _iso(at), "actor_id": actor, "event": event, "detail": detail}
        )

    def ticket(self, ticket_id: int) -> Ticket | None:
        try:
            row = self.db.table("tickets").get(ticket_id)
        except NotFoundError:
            return None
        return _ticket(row)

    def active_ticket(self, ref: ConversationRef, asker_id: str | None = None) -> Ticket | None:
        """The open or claimed ticket of a thread. A conversation without a thread (a channel
        where threads could not be made) is shared by many askers: there, only `asker_id`'s."""
        mine = ref.thread is None and asker_id is not None
        row = self.db.execute(
            "select * from tickets where conversation = ? and status in ('open', 'claimed') "
            f"{'and asker_id = ? ' if mine else ''}order by id desc limit 1",
            [ref.key, asker_id] if mine else [ref.key],
        ).fetchone()
        return _ticket(_row_dict(self.db, "tickets", row)) if row else None

    def tickets(
        self,
        statuses: Iterable[TicketStatus] | None = None,
        assignee_id: str | None = None,
        limit: int = 50,
        platform: str | None = None,
    ) -> list[Ticket]:
        where, params = [], []
        if platform is not None:
            where.append("platform = ?")
            params.append(platform)
        if statuses is not None:
            wanted = [str(s) for s in statuses]
            where.append(f"status in ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
        if assignee_id is not None:
            where.append("assignee_id = ?")
            params.append(assignee_id)
        rows = self.db.table("tickets").rows_where(
            " and ".join(where) or None, params, order_by="id desc", limit=limit
        )
        return [_ticket(row) for row in rows]

    def transition_ticket(
        self,
        ticket_id: int,
        *,
        to: TicketStatus,
        allowed_from: Iterable[TicketStatus],
        actor: Author,
        at: datetime,
        detail: str = "",
        assignee: Author | None = None,
        event: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> tuple[bool, Ticket]:
        """Move a ticket if it is in an allowed state: compare-and-set, so concurrent
        presses cannot both win. `fields` are set in the same update (SLA clock, notes).
        Returns (changed, ticket as it now stands)."""
        allowed = [str(s) for s in allowed_from]
        updates = ["status = ?", "updated_at = ?"]
        params: list[Any] = [str(to), _iso(at)]
        if assignee is not None:
            updates += ["assignee_id = ?", "assignee_name = ?"]
            params += [assignee.id, assignee.display]
        for column, value in (fields or {}).items():
            updates.append(f"{column} = ?")
            params.append(_iso(value) if isinstance(value, datetime) else value)
        with self.db.conn:
            cursor = self.db.execute(
                f"update tickets set {', '.join(updates)} where id = ? "
                f"and status in ({', '.join('?' for _ in allowed)})",
                [*params, ticket_id, *allowed],
            )
            changed = cursor.rowcount == 1
            if changed:
                self._log_ticket(ticket_id, at, actor.id, event or str(to), detail)
        ticket = self.ticket(ticket_id)
        if ticket is None:
            raise StoreError(f"ticket #{ticket_id} does not exist")
        return changed, ticket

    def latest_ticket(self, ref: ConversationRef) -> Ticket | None:
        row = self.db.execute(
            "select * from tickets where conversation = ? order by id desc limit 1", [ref.key]
        ).fetchone()
        return _ticket(_row_dict(self.db, "tickets", row)) if row else None

    def due_tickets(self, now: datetime, platforms: Iterable[str]) -> list[Ticket]:
        wanted = list(platforms)
        if not wanted:
            return []
        rows = self.db.table("tickets").rows_where(
            f"status in ('open', 'claimed') and next_action_at is not null and next_action_at <= ? "
            f"and platform in ({', '.join('?' for _ in wanted)})",
            [_iso(now), *wanted],
            order_by="next_action_at",
        )
        return [_ticket(row) for row in rows]

    def advance_sla(
        self, ticket_id: int, *, from_stage: int, to_stage: int, next_action_at: datetime | None, at: datetime
    ) -> bool:
        """Move the SLA clock one step, once: only the caller that sees `from_stage` wins."""
        with self.db.conn:
            cursor = self.db.execute(
                "update tickets set sla_stage = ?, next_action_at = ?, updated_at = ? "
                "where id = ? and sla_stage = ? and status in ('open', 'claimed')",
                [to_stage, _iso(next_action_at) if next_action_at else None, _iso(at), ticket_id, from_stage],
            )
            if cursor.rowcount == 1:
                self._log_ticket(ticket_id, at, None, "sla", f"stage {from_stage} -> {to_stage}")
        return cursor.rowcount == 1

    def set_ticket_fields(self, ticket_id: int, /, **fields: Any) -> None:
        values = {k: _iso(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        with self.db.conn:
            self.db.table("tickets").update(ticket_id, values)

    def claim_rating_prompt(self, ticket_id: int) -> bool:
        """True once per ticket: whoever gets True asks the asker for a rating."""
        with self.db.conn:
            cursor = self.db.execute(
                "update tickets set rating_asked = 1 where id = ? and coalesce(rating_asked, 0) = 0",
                [ticket_id],
            )
        return cursor.rowcount == 1

    def rate_ticket(self, ticket_id: int, rating: str, actor_id: str, at: datetime) -> bool:
        with self.db.conn:
            cursor = self.db.execute(
                "update tickets set rating = ? where id = ? and asker_id = ? and rating is null",
                [rating, ticket_id, actor_id],
            )
            if cursor.rowcount == 1:
                self._log_ticket(ticket_id, at, actor_id, "rated", rating)
        return cursor.rowcount == 1

    def messages_since(self, ref: ConversationRef, since: datetime, role: str) -> list[str]:
        rows = self.db.execute(
            "select text from messages where conversation = ? and role = ? and at >= ? order by id",
            [ref.key, role, _iso(since)],
        ).fetchall()
        return [row[0] for row in rows]

    # -- drafts: the learning loop -------------------------------------------------------

    def create_draft(
        self, *, ticket_id: int, title: str, question: str, answer: str, visibility: str, at: datetime
    ) -> Draft:
        with self.db.conn:
            table = self.db.table("drafts").insert(
                {
                    "ticket_id": ticket_id,
                    "title": title,
                    "question": question,
                    "answer": answer,
                    "visibility": visibility,
                    "status": "pending",
                    "created_at": _iso(at),
                }
            )
        draft = self.draft(int(table.last_pk or 0))
        assert draft is not None
        return draft

    def draft(self, draft_id: int) -> Draft | None:
        try:
            row = self.db.table("drafts").get(draft_id)
        except NotFoundError:
            return None
        return _draft(row)

    def drafts(self, status: str | None = "pending", limit: int = 20) -> list[Draft]:
        rows = self.db.table("drafts").rows_where(
            "status = ?" if status else None, [status] if status else [], order_by="id desc", limit=limit
        )
        return [_draft(row) for row in rows]

    def latest_draft_for(self, ticket_id: int) -> Draft | None:
        rows = list(
            self.db.table("drafts").rows_where("ticket_id = ?", [ticket_id], order_by="id desc", limit=1)
        )
        return _draft(rows[0]) if rows else None

    def draft_platform(self, draft_id: int) -> str | None:
        row = self.db.execute(
            "select tickets.platform from drafts join tickets on tickets.id = drafts.ticket_id where drafts.id = ?",
            [draft_id],
        ).fetchone()
        return str(row[0]) if row else None

    def refresh_draft(self, draft_id: int, answer: str, at: datetime) -> bool:
        """Replace a pending draft's answer (staff wrote more after a reopen)."""
        with self.db.conn:
            cursor = self.db.execute(
                "update drafts set answer = ?, updated_at = ? where id = ? and status = 'pending'",
                [answer, _iso(at), draft_id],
            )
        return cursor.rowcount == 1

    def drafts_for_platform(
        self, platform: str, status: str | None = "pending", limit: int = 20
    ) -> list[Draft]:
        """Drafts made from this platform's tickets: an admin elsewhere does not see them."""
        rows = self.db.execute(
            "select drafts.* from drafts join tickets on tickets.id = drafts.ticket_id "
            "where tickets.platform = ? and (? is null or drafts.status = ?) order by drafts.id desc limit ?",
            [platform, status, status, limit],
        ).fetchall()
        return [_draft(_row_dict(self.db, "drafts", row)) for row in rows]

    def retitle_draft(self, draft_id: int, title: str) -> bool:
        with self.db.conn:
            cursor = self.db.execute(
                "update drafts set title = ? where id = ? and status = 'pending'", [title, draft_id]
            )
        return cursor.rowcount == 1

    def decide_draft(
        self, draft_id: int, *, status: str, by: str, at: datetime, path: str | None = None
    ) -> bool:
        """Approve or reject a pending draft, once."""
        with self.db.conn:
            cursor = self.db.execute(
                "update drafts set status = ?, decided_by = ?, decided_at = ?, path = ? "
                "where id = ? and status = 'pending'",
                [status, by, _iso(at), path, draft_id],
            )
        return cursor.rowcount == 1

    def add_ticket_post(self, ticket_id: int, posted: Posted, kind: str, text: str = "") -> None:
        """Remember a message that shows a ticket, so later transitions can update it."""
        with self.db.conn:
            self.db.table("ticket_posts").insert(
                {
                    "ticket_id": ticket_id,
                    "conversation": posted.conversation.key,
                    "message_id": posted.message_id,
                    "kind": kind,
                    "text": text,
                }
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

    def ticket_events(self, ticket_id: int) -> list[dict[str, Any]]:
        return list(self.db.table("ticket_events").rows_where("ticket_id = ?", [ticket_id], order_by="id"))

    # -- reporting ---------------------------------------------------------------------

    def stats(self, since: datetime | None = None, platform: str | None = None) -> Stats:
        """Counts since `since`, on one platform if given (rights, and so reports, are per platform)."""
        since_iso = _iso(since) if since else ""
        prefix = f"{platform}:%" if platform else "%"
        q = self.db.execute(
            "select count(*), sum(abstained = 0), sum(abstained = 1) from answers "
            "where created_at >= ? and conversation like ?",
            [since_iso, prefix],
        ).fetchone()
        f = self.db.execute(
            "select sum(value = 'helpful'), sum(value = 'not_helpful') from feedback "
            "join answers on answers.id = feedback.answer_id where feedback.at >= ? and answers.conversation like ?",
            [since_iso, prefix],
        ).fetchone()
        t = dict(
            self.db.execute(
                "select status, count(*) from tickets where platform like ? group by status",
                [platform or "%"],
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

    def model_answers_since(
        self, since: datetime, asker_id: str, channel_key: str, answerer: str
    ) -> tuple[int, int]:
        """How many answers `answerer` gave since `since` to this person, and in this channel."""
        row = self.db.execute(
            "select sum(asker_id = ?), sum(conversation like ? escape '\\') from answers "
            "where created_at >= ? and answerer = ?",
            [asker_id, _like_prefix(channel_key + ":"), _iso(since), answerer],
        ).fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    def usage_since(self, since: datetime, answerer: str) -> tuple[int, int, int]:
        row = self.db.execute(
            "select count(*), coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0) from answers "
            "where created_at >= ? and answerer = ?",
            [_iso(since), answerer],
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def knowledge_gaps(self, limit: int = 10, platform: str | None = None) -> list[tuple[str, int]]:
        """Questions the bot could not answer, most frequent first (on one platform, if given)."""
        rows = self.db.execute(
            "select question, count(*) as n from answers where abstained = 1 and (? is null or conversation like ?) "
            "group by lower(trim(question)) order by n desc, max(created_at) desc limit ?",
            [platform, f"{platform}:%", limit],
        ).fetchall()
        return [(row[0], row[1]) for row in rows]


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _row_dict(db: Database, table: str, row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(db[table].columns_dict.keys(), row, strict=True))


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
        created_at=_parse(row["created_at"]),
    )


def _ticket(row: dict[str, Any]) -> Ticket:
    created = _parse(row["created_at"])
    updated = _parse(row["updated_at"])
    assert created is not None and updated is not None
    return Ticket(
        id=row["id"],
        conversation=ConversationRef.from_key(row["conversation"]),
        asker_id=row["asker_id"] or "",
        asker_name=row["asker_name"] or "",
        question=row["question"],
        reason=EscalationReason(row["reason"]),
        status=TicketStatus(row["status"]),
        created_at=created,
        updated_at=updated,
        assignee_id=row["assignee_id"],
        assignee_name=row["assignee_name"],
        answer_id=row["answer_id"],
        language=row["language"] or "en",
        visibility=DocVisibility(row["visibility"] or "public"),
        tags=tuple(json.loads(row["tags"] or "[]")),
        sla_stage=row["sla_stage"] or 0,
        next_action_at=_parse(row["next_action_at"]),
        last_staff_reply_at=_parse(row["last_staff_reply_at"]),
        resolved_at=_parse(row["resolved_at"]),
        note=row["note"],
        rating=row["rating"],
    )


@dataclass(frozen=True, kw_only=True)
class FileRecord:
    path: str
    sha256: str
    size: int
    mtime_ns: int
    chunks: int
    error: str | None = None


class Catalog:
    """What the knowledge index holds, file by file: a rebuildable cache."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = open_database(path, CATALOG_MIGRATIONS)
        except StoreError as exc:
            if "locked" in str(exc):
                raise  # another process is using it: never delete a cache someone is writing
            # a damaged cache may be thrown away: start it afresh rather than refuse to run
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            self.db = open_database(path, CATALOG_MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def files(self) -> dict[str, FileRecord]:
        return {
            row["path"]: FileRecord(
                path=row["path"],
                sha256=row["sha256"],
                size=row["size"],
                mtime_ns=row["mtime_ns"],
                chunks=row["chunks"] or 0,
                error=row["error"],
            )
            for row in self.db.table("files").rows
        }

    def put_file(
        self,
        record: FileRecord,
        *,
        title: str = "",
        url: str | None = None,
        visibility: str = "public",
        tags: Iterable[str] = (),
        at: datetime,
    ) -> None:
        self.db.table("files").upsert(
            {
                "path": record.path,
                "sha256": record.sha256,
                "size": record.size,
                "mtime_ns": record.mtime_ns,
                "title": title,
                "url": url,
                "visibility": visibility,
                "tags": json.dumps(list(tags), ensure_ascii=False),
                "chunks": record.chunks,
                "error": record.error,
                "indexed_at": _iso(at),
            },
            pk="path",
        )

    def touch_file(self, path: str, mtime_ns: int) -> None:
        self.db.table("files").update(path, {"mtime_ns": mtime_ns})

    def remove_files(self, paths: Iterable[str]) -> None:
        for path in paths:
            self.db.table("files").delete_where("path = ?", [path])
            self.db.execute("delete from chunks where path = ?", [path])

    def commit(self) -> None:
        self.db.conn.commit()

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.table("meta").upsert({"key": key, "value": value}, pk="key")

    def delete_meta(self, key: str) -> None:
        with self.db.conn:
            self.db.execute("delete from meta where key = ?", [key])

    def clear(self) -> None:
        """Forget what the index holds. Cached vectors stay: they are keyed by text, so a
        rebuild finds them again for every passage whose text did not change."""
        with self.db.conn:
            self.db.execute("delete from files")
            self.db.execute("delete from meta")
            self.db.execute("delete from chunks")

    def summary(self) -> tuple[int, int, int]:
        row = self.db.execute(
            "select count(*), coalesce(sum(chunks), 0), sum(error is not null) from files"
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2] or 0)

    def errors(self) -> Iterator[tuple[str, str]]:
        for row in self.db.execute("select path, error from files where error is not null order by path"):
            yield row[0], row[1]

    # -- embeddings: chunk text hashes and cached vectors (see bot/retrieval/embeddings.py) ----

    def put_chunks(self, path: str, chunks: Iterable[tuple[str, str]]) -> None:
        """Record the (chunk id, text hash) of every chunk of `path`, replacing the old ones."""
        self.db.execute("delete from chunks where path = ?", [path])
        self.db.conn.executemany(
            "insert or replace into chunks (chunk_id, path, text_hash) values (?, ?, ?)",
            [(chunk_id, path, digest) for chunk_id, digest in chunks],
        )

    def clear_chunks(self) -> None:
        with self.db.conn:
            self.db.execute("delete from chunks")

    def prune_embeddings(self, keep_model: str | None = None) -> int:
        """Delete vectors no chunk refers to any more (and, given `keep_model`, every other
        model's); return how many went."""
        with self.db.conn:
            cursor = self.db.execute(
                "delete from embeddings where text_hash not in (select text_hash from chunks)"
                + (" or model != ?" if keep_model is not None else ""),
                [keep_model] if keep_model is not None else [],
            )
        return int(cursor.rowcount)

    def missing_vectors(self, model: str, after: str, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` (text hash, one chunk id with that text) with no vector for `model`,
        in hash order after `after`: a cursor that moves on even past texts that fail."""
        rows = self.db.execute(
            "select c.text_hash, min(c.chunk_id) from chunks c where c.text_hash > ? and not exists "
            "(select 1 from embeddings e where e.model = ? and e.text_hash = c.text_hash) "
            "group by c.text_hash order by c.text_hash limit ?",
            [after, model, limit],
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def put_vectors(self, model: str, vectors: Iterable[tuple[str, int, bytes]]) -> int:
        """Store (text hash, dimensions, float32 bytes) for `model`, skipping texts that no chunk
        holds any more (the folder changed while they were being embedded)."""
        with self.db.conn:
            cursor = self.db.conn.executemany(
                "insert or replace into embeddings (model, text_hash, dim, vector) select ?, ?, ?, ? "
                "where exists (select 1 from chunks where text_hash = ?)",
                [(model, digest, dim, blob, digest) for digest, dim, blob in vectors],
            )
        return int(cursor.rowcount)

    def vectors_for_chunks(self, model: str, chunk_ids: Sequence[str]) -> dict[str, bytes]:
        """The cached vector of each of `chunk_ids` that has one."""
        if not chunk_ids:
            return {}
        marks = ", ".join("?" * len(chunk_ids))
        # CROSS JOIN fixes the loop order (chunk ids first): without statistics SQLite would
        # otherwise walk every vector of the model, 3 ms at 5,000 chunks instead of 0.2 ms
        rows = self.db.execute(
            "select c.chunk_id, e.vector from chunks c cross join embeddings e "
            f"on e.text_hash = c.text_hash and e.model = ? where c.chunk_id in ({marks})",
            [model, *chunk_ids],
        ).fetchall()
        return {row[0]: row[1] for row in rows}

    def embedding_counts(self, model: str) -> tuple[int, int]:
        """(distinct chunk texts, how many of them have a vector for `model`)."""
        row = self.db.execute(
            "select count(distinct c.text_hash), count(distinct e.text_hash) from chunks c "
            "left join embeddings e on e.text_hash = c.text_hash and e.model = ?",
            [model],
        ).fetchone()
        return int(row[0]), int(row[1])


class AsyncStore:
    """Runs StateStore calls on one dedicated thread, so the event loop never blocks on SQLite."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supportbot-store")

    async def run(
        self, fn: Callable[Concatenate[StateStore, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(self.store, *args, **kwargs))

    def close(self) -> None:
        self._executor.submit(self.store.close).result()
        self._executor.shutdown(wait=True)
