"""The state store's part that keeps each event and conversation: the inbox (each event
once, none lost), conversation state and turns, answers and their records.

Calls block: async code reaches a Store through AsyncStore's thread.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, Unpack

from bot.types import AnswerFields, Completion, ConversationRef, Posted, Shards, Turn

if typing.TYPE_CHECKING:
    # from the modules, not the package: bot.store.state imports this package to check that
    # StateStore implements Store, and the package imports bot.store.state
    from bot.store.answers import AnswerRecord, Stats
    from bot.store.conversations import ConversationState
    from bot.store.rows import Condition
    from bot.types import Author


class InboxStore(Protocol):
    """Each platform event handled once and none lost: claim, finish, replay what was left."""

    def claim_event(self, key: str, platform: str, payload: str, now: datetime) -> bool: ...

    def finish_event(
        self,
        key: str,
        now: datetime,
        status: str = "done",
        completion: Completion | None = None,
        post: Posted | None = None,
        again: bool = False,
    ) -> bool: ...

    def prune_inbox(self, before: datetime) -> int: ...

    def pending_events(
        self,
        platform: str,
        now: datetime | None = None,
        started: datetime | None = None,
        limit: int | None = None,
    ) -> list[tuple[str, str]]: ...

    def take_for_replay(self, key: str, now: datetime, started: datetime | None = None) -> bool: ...

    def note_post(self, key: str, message_id: str, conversation_key: str) -> None: ...

    def event_post(self, key: str) -> tuple[str, str] | None: ...

    def held_here(self, key: str) -> Condition: ...

    def event_forgotten(self, key: str) -> bool: ...

    def holds_event(self, key: str) -> bool: ...

    def event_unfinished(self, key: str) -> bool: ...

    def give_back_events(self, platform: str) -> int: ...


class ConversationStore(Protocol):
    """Conversations (who asked, who is talking) and their messages."""

    def conversation(self, key: str) -> ConversationState | None: ...

    def touch_conversation(
        self, ref: ConversationRef, now: datetime, asker_id: str | None = None
    ) -> None: ...

    def set_conversation_flags(
        self,
        ref: ConversationRef,
        now: datetime,
        *,
        bot_participating: bool | None = None,
        human_takeover: bool | None = None,
    ) -> None: ...

    def add_message(
        self,
        ref: ConversationRef,
        *,
        role: str,
        text: str,
        at: datetime,
        author: Author | None = None,
        platform_id: str | None = None,
    ) -> None: ...

    def record_message(
        self,
        ref: ConversationRef,
        *,
        role: str,
        text: str,
        at: datetime,
        now: datetime,
        author: Author | None = None,
        platform_id: str | None = None,
        asker_id: str | None = None,
        bot_participating: bool | None = None,
        then_read: Sequence[tuple[str, Sequence[Any]]] = (),
    ) -> list[list[Any]]: ...

    def history(
        self, ref: ConversationRef, limit: int = 20, *, answers_to: str | None = None
    ) -> list[Turn]: ...

    def messages_since(
        self, ref: ConversationRef, since: datetime, role: str
    ) -> list[tuple[str, datetime]]: ...

    def said_by(self, ref: ConversationRef, author_id: str, limit: int = 20) -> list[str]: ...

    def bot_conversations_since(
        # the limit's default is bot/store/conversations.py's CATCH_UP_CONVERSATIONS
        self,
        platform: str,
        since: datetime,
        limit: int = 2000,
        *,
        shards: Shards | None = None,
    ) -> list[tuple[ConversationRef, str | None]]: ...

    def last_recorded(self, platform: str, *, shards: Shards | None = None) -> str | None: ...

    def channels_since(self, platform: str, since: datetime) -> list[tuple[str, str]]: ...

    def note_heard(self, platform: str, mark: str) -> None: ...

    def noted_heard(self, platform: str) -> str | None: ...

    def noted_heards(self, prefix: str) -> dict[str, str]: ...

    def owe_read_back(self, platform: str, after: str) -> None: ...

    def owed_read_back(self, platform: str) -> str | None: ...

    def owed_read_backs(self, prefix: str) -> dict[str, str]: ...

    def settle_read_back(self, platform: str, covered_from: str, covered_until: str) -> None: ...


class AnswerStore(Protocol):
    """Answers given, feedback on them, usage and model limits, and the reports from them."""

    def record_answer(self, **fields: Unpack[AnswerFields]) -> int: ...

    def set_answer_posted(self, answer_id: int, posted_message_id: str) -> None: ...

    def answer(self, answer_id: int) -> AnswerRecord | None: ...

    def answer_to_message(self, message_id: str) -> tuple[AnswerRecord, str] | None: ...

    def answered_language(self, ref: ConversationRef) -> str | None: ...

    def add_feedback(self, answer_id: int, user_id: str, value: str, at: datetime) -> bool: ...

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
    ) -> int | None: ...

    def release_model_answer(self, reservation: int) -> None: ...

    def usage_since(self, since: datetime) -> tuple[int, int, int]: ...

    def stats(
        self, since: datetime | None = None, platform: str | None = None, workspace: str | None = None
    ) -> Stats: ...

    def knowledge_gaps(self, limit: int = 10, platform: str | None = None) -> list[tuple[str, int]]: ...
