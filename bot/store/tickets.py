"""Tickets: escalations to people, their history and the SLA clock.

It owns tickets (one active per thread, moved between states by compare-and-set so that
concurrent presses cannot both win), the events that record every transition, the
messages that show a ticket (so later transitions can edit them), and the SLA deadlines
(`next_action_at`, `sla_stage`) that the escalation loop polls (bot/store/sla_clock.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bot.errors import StoreError
from bot.store.rows import (
    Condition,
    ConditionUnmet,
    insert_row,
    select_row,
    select_rows,
    transaction,
    update_row,
    values_where,
)
from bot.store.store import IntegrityError, NotFoundError, Repository, iso, like_prefix, parse_time
from bot.store.ticket_posts import CLAIMED, claim_card
from bot.store.values import LIKE_PREFIX
from bot.types import (
    Author,
    ConversationRef,
    DocVisibility,
    EscalationReason,
    Ticket,
    TicketStatus,
)


class TicketRepository(Repository):
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
        message_id: str | None = None,
        card_in: ConversationRef | None = None,
        only_if: Condition | None = None,
    ) -> tuple[Ticket, bool]:
        """Open a ticket; if the conversation already has an active one (another escalation
        won the race), return that instead. Returns (ticket, created). `message_id` is the
        platform message it is opened for (`ticket_for_message`). `card_in`: the triage
        channel, where its card is claimed in the same transaction (bot/store/ticket_posts.py):
        a process that dies before posting it leaves a claim that lapses, and is owed. With
        `only_if` (the inbox event it is opened for still held: bot/store/inbox.py
        `held_here`), ConditionUnmet, and nothing written, unless it holds."""
        try:
            ticket_id = self._insert_ticket(
                card_in,
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
                message_id,
                only_if,
            )
        except IntegrityError:
            existing = self.active_ticket(ref, asker.id)
            if existing is None:
                raise
            return existing, False
        ticket = self.ticket(ticket_id)
        assert ticket is not None
        return ticket, True

    def _insert_ticket(
        self,
        card_in: ConversationRef | None,
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
        message_id: str | None,
        only_if: Condition | None,
    ) -> int:
        with transaction(self.db):
            record = {
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
                "next_action_at": iso(next_action_at) if next_action_at else None,
                "rating_asked": 0,
                "context": json.dumps(dict(context or {}), ensure_ascii=False),
                "message_id": message_id,
                "created_at": iso(at),
                "updated_at": iso(at),
            }
            held = [only_if.sql] if only_if is not None else []
            row = self.db.execute(
                f"insert into tickets ({', '.join(record)}) "
                f"{values_where(', '.join('?' for _ in record), held)} returning id",
                [*record.values(), *(only_if.params if only_if is not None else ())],
            ).fetchone()
            if row is None:
                raise ConditionUnmet("the event the ticket was for is no longer held")
            ticket_id = int(row[0])
            self._log_ticket(ticket_id, at, asker.id, "opened", str(reason))
            if card_in is not None:
                claim_card(self.db, ticket_id, card_in, at)
        return ticket_id

    def withdraw_ticket(self, ticket_id: int, at: datetime, why: str) -> bool:
        """Close a ticket just opened whose note nobody could be told (its conversation was
        deleted), and drop its posts' claims: no card for staff linking nowhere, no SLA
        reminders. Kept, closed, with `why` in its timeline; whether it was still open."""
        with transaction(self.db):
            closed = self.db.execute(
                "update tickets set status = ?, next_action_at = null, updated_at = ? "
                "where id = ? and status = ?",
                [str(TicketStatus.CLOSED), iso(at), ticket_id, str(TicketStatus.OPEN)],
            ).rowcount
            if closed:
                self.db.execute(
                    "delete from ticket_posts where ticket_id = ? and message_id = ?", [ticket_id, CLAIMED]
                )
                self._log_ticket(ticket_id, at, None, "closed", why)
        return bool(closed)

    def ticket_context(self, ticket_id: int) -> dict[str, Any]:
        row = self.db.execute("select context from tickets where id = ?", [ticket_id]).fetchone()
        return dict(json.loads(row[0])) if row and row[0] else {}

    def _log_ticket(
        self, ticket_id: int, at: datetime, actor: str | None, event: str, detail: str = ""
    ) -> None:
        insert_row(
            self.db,
            "ticket_events",
            {"ticket_id": ticket_id, "at": iso(at), "actor_id": actor, "event": event, "detail": detail},
        )

    def ticket(self, ticket_id: int) -> Ticket | None:
        row = select_row(self.db, "tickets", "id", ticket_id)
        return None if row is None else _ticket(row)

    def active_ticket(self, ref: ConversationRef, asker_id: str | None = None) -> Ticket | None:
        """The open or claimed ticket of a thread. A conversation without a thread (a channel
        where threads could not be made) is shared by many askers: there, only `asker_id`'s."""
        mine = ref.thread is None and asker_id is not None
        rows = select_rows(
            self.db,
            "select * from tickets where conversation = ? and status in ('open', 'claimed') "
            f"{'and asker_id = ? ' if mine else ''}order by id desc limit 1",
            [ref.key, asker_id] if mine else [ref.key],
        )
        return _ticket(rows[0]) if rows else None

    def ticket_for_message(self, platform: str, message_id: str) -> Ticket | None:
        """The ticket opened for a platform message (the inbox's key for it: platform and id),
        whatever its status: a replay of the message finishes that ticket's opening."""
        rows = select_rows(
            self.db,
            "select * from tickets where platform = ? and message_id = ? order by id desc limit 1",
            [platform, message_id],
        )
        return _ticket(rows[0]) if rows else None

    def tickets(
        self,
        statuses: Iterable[TicketStatus] | None = None,
        assignee_id: str | None = None,
        limit: int = 50,
        platform: str | None = None,
        workspaces: frozenset[str] | None = None,
    ) -> list[Ticket]:
        """Tickets newest first, of a platform and (with it) of some of its workspaces."""
        where, params = [], []
        if platform is not None:
            where.append("platform = ?")
            params.append(platform)
            if workspaces is not None:
                clause, more = _in_workspaces(platform, workspaces)
                where.append(clause)
                params.extend(more)
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
        unless_held_by: str | None = None,
    ) -> tuple[bool, Ticket]:
        """Move a ticket if it is in an allowed state: compare-and-set, so concurrent
        presses cannot both win. `fields` are set in the same update (SLA clock, notes).
        With `unless_held_by`, a ticket already `to` with that assignee is not moved: giving
        it to whoever has it is no change, however many presses race to do it.
        Returns (changed, ticket as it now stands)."""
        allowed = [str(s) for s in allowed_from]
        condition = f"id = ? and status in ({', '.join('?' for _ in allowed)})"
        where: list[Any] = [ticket_id, *allowed]
        if unless_held_by is not None:
            condition += " and not (status = ? and coalesce(assignee_id, '') = ?)"
            where += [str(to), unless_held_by]
        updates = ["status = ?", "updated_at = ?"]
        params: list[Any] = [str(to), iso(at)]
        if assignee is not None:
            updates += ["assignee_id = ?", "assignee_name = ?"]
            params += [assignee.id, assignee.display]
        for column, value in _with_deadline_claim(fields or {}).items():
            updates.append(f"{column} = ?")
            params.append(iso(value) if isinstance(value, datetime) else value)
        with transaction(self.db):
            cursor = self.db.execute(
                f"update tickets set {', '.join(updates)} where {condition}", [*params, *where]
            )
            changed = cursor.rowcount == 1
            if changed:
                self._log_ticket(ticket_id, at, actor.id, event or str(to), detail)
        if changed:
            self.ticket_changes += 1  # once committed: a read that follows sees the change
        ticket = self.ticket(ticket_id)
        if ticket is None:
            raise StoreError(f"ticket #{ticket_id} does not exist")
        return changed, ticket

    def asker_tickets(
        self,
        platform: str,
        asker_id: str,
        before_id: int,
        limit: int = 3,
        workspaces: frozenset[str] | None = None,
    ) -> list[Ticket]:
        """The asker's earlier tickets on a platform (in some of its `workspaces`), newest
        first: what staff should know. One person in two Discord servers is two communities'
        business: each server's staff see that server's tickets."""
        clause, more = _in_workspaces(platform, workspaces) if workspaces is not None else ("1 = 1", [])
        rows = self.db.table("tickets").rows_where(
            f"platform = ? and asker_id = ? and id < ? and {clause}",
            [platform, asker_id, before_id, *more],
            order_by="id desc",
            limit=limit,
        )
        return [_ticket(row) for row in rows]

    def resolved_tickets(
        self, platform: str, limit: int = 500, workspaces: frozenset[str] | None = None
    ) -> list[tuple[Ticket, tuple[str, ...], tuple[float, ...]]]:
        """Recently resolved tickets (of some of the platform's `workspaces`) with the retrieval
        neighbours of the question they began with (from its answer record): what a new
        question is compared with."""
        cursor = self.db.execute(*resolved_statement(platform, limit, workspaces))
        columns = [c[0] for c in cursor.description]
        return resolved_of(dict(zip(columns, raw, strict=True)) for raw in cursor.fetchall())

    def latest_ticket(self, ref: ConversationRef, asker_id: str | None = None) -> Ticket | None:
        """The newest ticket of a thread, whatever its status; in a conversation without a
        thread, `asker_id`'s only (as `active_ticket`)."""
        mine = ref.thread is None and asker_id is not None
        rows = select_rows(
            self.db,
            f"select * from tickets where conversation = ? {'and asker_id = ? ' if mine else ''}"
            "order by id desc limit 1",
            [ref.key, asker_id] if mine else [ref.key],
        )
        return _ticket(rows[0]) if rows else None

    def set_ticket_fields(self, ticket_id: int, /, **fields: Any) -> None:
        values = {
            k: iso(v) if isinstance(v, datetime) else v for k, v in _with_deadline_claim(fields).items()
        }
        with transaction(self.db):
            if not update_row(self.db, "tickets", "id", ticket_id, values) and values:
                raise NotFoundError(f"no ticket {ticket_id}")
        self.ticket_changes += 1

    def claim_rating_prompt(self, ticket_id: int) -> bool:
        """True once per ticket: whoever gets True asks the asker for a rating."""
        with transaction(self.db):
            cursor = self.db.execute(
                "update tickets set rating_asked = 1 where id = ? and coalesce(rating_asked, 0) = 0",
                [ticket_id],
            )
        return cursor.rowcount == 1

    def rate_ticket(self, ticket_id: int, rating: str, actor_id: str, at: datetime) -> bool:
        with transaction(self.db):
            cursor = self.db.execute(
                "update tickets set rating = ? where id = ? and asker_id = ? and rating is null",
                [rating, ticket_id, actor_id],
            )
            if cursor.rowcount == 1:
                self._log_ticket(ticket_id, at, actor_id, "rated", rating)
        return cursor.rowcount == 1

    # -- what happened to a ticket (where it is shown: bot/store/ticket_posts.py) --------

    def ticket_events(self, ticket_id: int) -> list[dict[str, Any]]:
        return list(self.db.table("ticket_events").rows_where("ticket_id = ?", [ticket_id], order_by="id"))

    def reopened_at(self, ticket_id: int) -> datetime | None:
        """When the ticket was last reopened (the asker wrote after its resolution), if ever."""
        row = self.db.execute(
            "select max(at) from ticket_events where ticket_id = ? and event = 'reopened'", [ticket_id]
        ).fetchone()
        return parse_time(row[0]) if row and row[0] else None


def _with_deadline_claim(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields`, and when they set a new SLA deadline, the end of the claim on saying the old
    one's reminder (bot/store/sla_clock.py): a failed reminder's wait, or a dead process's
    claim, must not hold up the new deadline's. A reminder still being said finds the ticket
    moved, and its release leaves a later claim alone."""
    return {**fields, "sla_claimed_until": None} if "next_action_at" in fields else fields


def _ticket(row: dict[str, Any]) -> Ticket:
    created = parse_time(row["created_at"])
    updated = parse_time(row["updated_at"])
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
        next_action_at=parse_time(row["next_action_at"]),
        last_staff_reply_at=parse_time(row["last_staff_reply_at"]),
        resolved_at=parse_time(row["resolved_at"]),
        note=row["note"],
        rating=row["rating"],
    )


def resolved_statement(
    platform: str, limit: int = 500, workspaces: frozenset[str] | None = None
) -> tuple[str, list[Any]]:
    """`TicketRepository.resolved_tickets`' read, to send with others (bot/answering/trips.py);
    `resolved_of` reads its rows (as dicts)."""
    clause, more = (
        _in_workspaces(platform, workspaces, "t.conversation") if workspaces is not None else ("1 = 1", [])
    )
    return (
        "select t.*, a.neighbours as _neighbours, a.neighbour_scores as _scores from tickets t left join answers a on a.id = t.answer_id "
        # a question emptied by retention or forget-me is nothing to compare with, or to show
        f"where t.platform = ? and t.status = 'resolved' and t.question != '' and {clause} "
        "order by t.resolved_at desc limit ?",
        [platform, *more, limit],
    )


def resolved_of(rows: Iterable[dict[str, Any]]) -> list[tuple[Ticket, tuple[str, ...], tuple[float, ...]]]:
    found = []
    for row in rows:
        near = tuple(json.loads(row.pop("_neighbours") or "[]"))
        scores = tuple(json.loads(row.pop("_scores") or "[]"))
        found.append((_ticket(row), near, scores))
    return found


def _in_workspaces(
    platform: str, workspaces: frozenset[str], column: str = "conversation"
) -> tuple[str, list[Any]]:
    """Tickets of `platform` in one of `workspaces` (by the conversation key's workspace part)."""
    likes = " or ".join(f"{column} {LIKE_PREFIX}" for _ in workspaces) or "0 = 1"
    return f"({likes})", [like_prefix(f"{platform}:{w}:") for w in sorted(workspaces)]
