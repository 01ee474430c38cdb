"""The inbox: each event is claimed once, survives a restart, and keeps only its key once handled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.store import StateStore
from bot.types import Author, Completion, ConversationRef, Posted
from tests.bot.store.answer_fields import answer_fields

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_an_event_is_claimed_once(state: Path | str) -> None:
    store = StateStore(state)
    assert store.claim_event("slack:1", "slack", "{}", NOW)
    assert not store.claim_event("slack:1", "slack", "{}", NOW)
    assert store.pending_events("slack") == [("slack:1", "{}")]
    store.finish_event("slack:1", NOW)
    assert store.pending_events("slack") == []


def test_inbox_survives_a_restart(state: Path | str) -> None:
    store = StateStore(state)
    store.claim_event("discord:9", "discord", '{"x": 1}', NOW)
    store.close()
    reopened = StateStore(state)
    assert reopened.pending_events("discord") == [("discord:9", '{"x": 1}')]
    assert not reopened.claim_event("discord:9", "discord", "{}", NOW)


def test_handled_events_keep_their_key_but_not_the_message(state: Path | str) -> None:
    store = StateStore(state)
    store.claim_event("slack:msg:1", "slack", '{"text": "my private question"}', NOW)
    store.finish_event("slack:msg:1", NOW)
    row = store.db.execute("select status, payload from inbox").fetchone()
    assert row == ("done", None)
    assert not store.claim_event("slack:msg:1", "slack", "{}", NOW)  # still recognised as a retry
    assert store.prune_inbox(NOW + timedelta(days=8)) == 1
    assert store.claim_event("slack:msg:1", "slack", "{}", NOW)


def test_finishing_an_answered_event_records_the_answer_in_the_same_write(state: Path | str) -> None:
    store = StateStore(state)
    thread = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="100.1")
    store.claim_event("slack:msg:100.1", "slack", '{"text": "q"}', NOW)
    answer_id = store.record_answer(**answer_fields(thread, NOW))
    done = Completion(
        answer_id=answer_id,
        posted=Posted(message_id="100.2", conversation=thread),
        text="Five to seven business days.",
        at=NOW,
        followup_due=NOW + timedelta(hours=24),
    )
    store.finish_event("slack:msg:100.1", NOW, "answered", done)
    assert store.db.execute("select status, payload from inbox").fetchone() == ("answered", None)
    assert store.db.execute("select posted_message_id from answers").fetchone() == ("100.2",)
    assert [(t.role, t.text) for t in store.history(thread)] == [("bot", "Five to seven business days.")]
    conversation = store.conversation(thread.key)
    assert conversation is not None and conversation.bot_participating
    due = store.db.execute("select followup_due_at, followup_answer_id from conversations").fetchone()
    assert due[1] == answer_id and due[0] is not None


def test_a_platform_message_recorded_again_by_a_replay_is_kept_once(state: Path | str) -> None:
    store = StateStore(state)
    thread = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="200.1")
    asker = Author(id="U1", name="Ann")
    for _ in range(2):  # the first process, then the replay of its event
        store.record_message(
            thread, role="user", text="How long?", at=NOW, now=NOW, author=asker, platform_id="200.1"
        )
    store.record_message(
        thread, role="user", text="An edit", at=NOW, now=NOW, author=asker, platform_id="200.1:e"
    )
    store.record_message(thread, role="user", text="No id", at=NOW, now=NOW, author=asker)
    store.record_message(thread, role="user", text="No id", at=NOW, now=NOW, author=asker)
    assert [t.text for t in store.history(thread)] == ["How long?", "An edit", "No id", "No id"]


def test_pruning_keeps_a_replay_under_way(state: Path | str) -> None:
    store = StateStore(state)
    store.claim_event("slack:msg:1", "slack", '{"text": "q"}', NOW)
    # a replay of it is under way, or was cut short (on PostgreSQL a claim with no worker is
    # abandoned only past its lease)
    assert store.take_for_replay("slack:msg:1", NOW + timedelta(seconds=21))
    store.claim_event("slack:msg:2", "slack", "{}", NOW)
    store.finish_event("slack:msg:2", NOW)
    assert store.prune_inbox(NOW + timedelta(days=8)) == 1  # the handled one only
    assert store.pending_events("slack", NOW + timedelta(days=8)) == [("slack:msg:1", '{"text": "q"}')]


def test_a_button_press_is_never_taken_for_a_replay_and_is_forgotten_in_time(state: Path | str) -> None:
    """A button press's claim (bot/actions.py) keeps no payload: there is nothing to replay,
    and a live press must not be taken from its handler. One a dead process left is pruned."""
    store = StateStore(state)
    store.claim_event("slack:action:1", "slack", "", NOW)
    later = NOW + timedelta(minutes=5)
    assert store.pending_events("slack", later) == []
    assert not store.take_for_replay("slack:action:1", later)
    store.claim_event("slack:action:2", "slack", "", NOW + timedelta(days=9))
    assert store.prune_inbox(NOW + timedelta(days=8)) == 1  # the older one only


def test_an_event_whose_author_was_forgotten_records_nothing_more(state: Path | str) -> None:
    """Forget-me deleted a question's inbox row while it was answered: the answer's record and
    a ticket for it were then written all the same (only the finish asked whether the event was
    still held). Now the row is marked forgotten, and each write that records the asker's words
    states that it is held (on PostgreSQL too), as the finish does."""
    from bot.answering.trips import EventAnswer, record_answer
    from bot.inbox import serialise_message
    from bot.store.rows import ConditionUnmet
    from bot.types import EscalationReason, InboundMessage, Visibility
    from tests.bot.store.test_workers import worker

    store = StateStore(state)
    store.register_worker(worker("w1", "host-a", NOW))  # on PostgreSQL, held is this worker's too
    ref = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.0")
    asker = Author(id="U-FORGETME1")
    for n in (1, 2):
        asked = InboundMessage(
            id=str(n), conversation=ref, author=asker, text="a refund?", addressed=True,
            visibility=Visibility.INTERNAL, sent_at=NOW,
        )  # fmt: skip
        store.claim_event(f"slack:msg:{n}", "slack", serialise_message(asked), NOW)
    fields: Any = answer_fields(ref, NOW, asker.id)
    held = record_answer(store, EventAnswer("slack:msg:1", fields), None, None)
    assert held is not None  # an event still held records as it did
    store.forget("slack", asker.id, NOW)
    assert store.event_forgotten("slack:msg:2") and store.pending_events("slack") == []
    assert record_answer(store, EventAnswer("slack:msg:2", fields), None, None) is None
    with pytest.raises(ConditionUnmet):
        store.create_ticket(
            ref=ref, asker=asker, question="a refund?", reason=EscalationReason.LOW_CONFIDENCE, at=NOW,
            only_if=store.held_here("slack:msg:2"),
        )  # fmt: skip
    assert not store.finish_event("slack:msg:2", NOW)
    assert store.db.execute("select count(*) from tickets").fetchone()[0] == 0
    assert store.db.execute("select count(*) from answers where asker_id = ?", [asker.id]).fetchone()[0] == 0
    assert not store.claim_event("slack:msg:2", "slack", "{}", NOW)  # a retry is still a duplicate
    assert store.prune_inbox(NOW + timedelta(days=8)) == 2
