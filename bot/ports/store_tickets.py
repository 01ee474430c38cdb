"""The state store's part for work handed to people: tickets and their posts, drafts of
documentation, drafts of replies.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.types import ConversationRef, Posted

if typing.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    # from the modules, not the package: bot.store.state imports this package to check that
    # StateStore implements Store, and the package imports bot.store.state
    from bot.store.queue import QueuePage, Reach, TicketQuery
    from bot.store.reply_drafts import DraftCounts, ReplyDraft
    from bot.store.rows import Condition
    from bot.store.ticket_posts import PostClaim
    from bot.types import Author, Draft, EscalationReason, Ticket, TicketStatus


class TicketStore(Protocol):
    """Tickets moved by compare-and-set, their events and posts, and the SLA clock."""

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
        context: Mapping[str, typing.Any] | None = None,
        message_id: str | None = None,
        card_in: ConversationRef | None = None,
        only_if: Condition | None = None,
    ) -> tuple[Ticket, bool]: ...

    def ticket_context(self, ticket_id: int) -> dict[str, typing.Any]: ...

    def withdraw_ticket(self, ticket_id: int, at: datetime, why: str) -> bool: ...

    def ticket(self, ticket_id: int) -> Ticket | None: ...

    def active_ticket(self, ref: ConversationRef, asker_id: str | None = None) -> Ticket | None: ...

    def ticket_for_message(self, platform: str, message_id: str) -> Ticket | None: ...

    def tickets(
        self,
        statuses: Iterable[TicketStatus] | None = None,
        assignee_id: str | None = None,
        limit: int = 50,
        platform: str | None = None,
        workspaces: frozenset[str] | None = None,
    ) -> list[Ticket]: ...

    def ticket_queue(self, query: TicketQuery, now: datetime, limit: int = 200) -> QueuePage: ...

    # the default is bot/store/queue.py's STAFF_TICKETS
    def workspace_staff(self, platform: str, workspace: str, recent: int = 1000) -> list[tuple[str, str]]: ...

    def queue_people_and_channels(
        self, reach: Sequence[Reach], statuses: Sequence[TicketStatus] | None
    ) -> tuple[list[str], list[tuple[str, str]]]: ...

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
        fields: dict[str, typing.Any] | None = None,
        unless_held_by: str | None = None,
    ) -> tuple[bool, Ticket]: ...

    def latest_ticket(self, ref: ConversationRef, asker_id: str | None = None) -> Ticket | None: ...

    def asker_tickets(
        self,
        platform: str,
        asker_id: str,
        before_id: int,
        limit: int = 3,
        workspaces: frozenset[str] | None = None,
    ) -> list[Ticket]: ...

    def resolved_tickets(
        self, platform: str, limit: int = 500, workspaces: frozenset[str] | None = None
    ) -> list[tuple[Ticket, tuple[str, ...], tuple[float, ...]]]: ...

    def due_tickets(self, now: datetime, platforms: Iterable[str]) -> list[Ticket]: ...

    def claim_sla(
        self,
        ticket_id: int,
        *,
        stage: int,
        due_at: datetime | None,
        assignee_id: str | None,
        until: datetime,
        now: datetime,
    ) -> bool: ...

    def release_sla(self, ticket_id: int, claimed: datetime, retry_at: datetime | None = None) -> None: ...

    def advance_sla(
        self,
        ticket_id: int,
        *,
        from_stage: int,
        due_at: datetime | None,
        assignee_id: str | None,
        to_stage: int,
        next_action_at: datetime | None,
        at: datetime,
        claimed: datetime | None = None,
    ) -> bool: ...

    def set_ticket_fields(self, ticket_id: int, /, **fields: typing.Any) -> None: ...

    def claim_rating_prompt(self, ticket_id: int) -> bool: ...

    def rate_ticket(self, ticket_id: int, rating: str, actor_id: str, at: datetime) -> bool: ...

    def add_ticket_post(self, ticket_id: int, posted: Posted, kind: str, text: str = "") -> None: ...

    def ticket_posts(self, ticket_id: int) -> list[tuple[str, Posted, str]]: ...

    def claim_ticket_post(
        self, ticket_id: int, kind: str, where: ConversationRef, now: datetime, *, take_over: bool = False
    ) -> PostClaim | None: ...

    def ticket_post_made(self, claim: int, posted: Posted) -> None: ...

    def ticket_post_claim(self, ticket_id: int, kind: str) -> int | None: ...

    def release_ticket_post(self, claim: int, retry_at: datetime) -> None: ...

    def drop_ticket_post_claim(self, claim: int) -> None: ...

    def owed_ticket_posts(self, kind: str, now: datetime, platforms: list[str]) -> list[tuple[int, int]]: ...

    def ticket_post_shown(self, ticket_id: int, was: Posted, now: Posted) -> None: ...

    def ticket_events(self, ticket_id: int) -> list[dict[str, typing.Any]]: ...

    def reopened_at(self, ticket_id: int) -> datetime | None: ...


class DraftStore(Protocol):
    """Drafts of the learning loop: made from tickets, each decided once."""

    def create_draft(
        self, *, ticket_id: int, title: str, question: str, answer: str, visibility: str, at: datetime
    ) -> Draft: ...

    def draft(self, draft_id: int) -> Draft | None: ...

    def drafts(self, status: str | None = "pending", limit: int = 20) -> list[Draft]: ...

    def ticket_drafts(self, ticket_id: int, limit: int = 2) -> list[Draft]: ...

    def resolve_notes(self, ticket_id: int) -> list[tuple[str, datetime]]: ...

    def refresh_draft(self, draft_id: int, answer: str, at: datetime) -> bool: ...

    def edit_draft(self, draft_id: int, title: str, answer: str, at: datetime) -> bool: ...

    def drafts_in(
        self, reach: Sequence[Reach], status: str | None = "pending", limit: int = 20
    ) -> list[Draft]: ...

    def retitle_draft(self, draft_id: int, title: str) -> bool: ...

    def decide_draft(
        self,
        draft_id: int,
        *,
        status: str,
        by: str,
        at: datetime,
        path: str | None = None,
        unchanged: tuple[str, str] | None = None,
    ) -> bool: ...

    # the knowledge generation: changes to the folder made through any worker (bot/cluster.py)
    def count_knowledge_change(self) -> int: ...

    def knowledge_generation(self) -> int: ...


class ReplyDraftStore(Protocol):
    """Answers proposed in draft-mode channels, waiting on a staff card, each decided once
    (pending -> posted | discarded) by compare-and-set; and the once-per-person welcome."""

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
    ) -> ReplyDraft: ...

    def reply_draft(self, draft_id: int) -> ReplyDraft | None: ...

    def set_reply_draft_card(self, draft_id: int, posted: Posted) -> None: ...

    def edit_reply_draft(self, draft_id: int, answer: str, by: str) -> bool: ...

    def decide_reply_draft(self, draft_id: int, *, status: str, by: str, at: datetime) -> bool: ...

    def reopen_reply_draft(self, draft_id: int, decided_at: datetime) -> bool: ...

    def set_reply_draft_posted(self, draft_id: int, posted_message_id: str) -> None: ...

    def claim_welcome(self, platform: str, user_id: str, at: datetime) -> bool: ...

    def draft_counts(
        self,
        since: datetime,
        until: datetime,
        platform: str | None = None,
        channel: str | None = None,
        workspace: str | None = None,
    ) -> DraftCounts: ...
