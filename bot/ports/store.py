"""All of the state store: one Protocol per concern (the modules of bot/store/ mirror them),
joined in `Store`, which SQLite's `bot.store.StateStore` implements on both backends."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.ports.store_events import AnswerStore, ConversationStore, InboxStore
from bot.ports.store_team import (
    DashboardStore,
    FollowupStore,
    GapStore,
    IncidentStore,
    JobStore,
    MetricsStore,
    PeopleStore,
    RetentionStore,
    RevisionStore,
    SlackInstallStore,
    WorkerStore,
)
from bot.ports.store_tickets import DraftStore, ReplyDraftStore, TicketStore
from bot.types import Completion


@runtime_checkable
class Store(
    InboxStore,
    ConversationStore,
    AnswerStore,
    TicketStore,
    DraftStore,
    ReplyDraftStore,
    IncidentStore,
    GapStore,
    JobStore,
    FollowupStore,
    MetricsStore,
    PeopleStore,
    RetentionStore,
    RevisionStore,
    WorkerStore,
    SlackInstallStore,
    DashboardStore,
    Protocol,
):
    """All of the state store: what a backend (SQLite today, PostgreSQL later) implements."""

    def complete_answer(self, completion: Completion) -> None: ...

    def close(self) -> None: ...
