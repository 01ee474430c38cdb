"""Answers and feedback: one vote per person, counted in the stats."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.store import StateStore
from bot.types import ConversationRef

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REF = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.0")


def test_feedback_is_one_vote_per_person(state: Path | str) -> None:
    store = StateStore(state)
    answer_id = store.record_answer(
        ref=REF,
        message_id="1",
        asker_id="U1",
        question="q",
        answer="a",
        confidence=0.9,
        language="en",
        answerer="extractive",
        abstained=False,
        sources=[],
        top_path=None,
        at=NOW,
    )
    assert store.add_feedback(answer_id, "U1", "helpful", NOW)
    assert not store.add_feedback(answer_id, "U1", "helpful", NOW)
    assert store.add_feedback(answer_id, "U1", "not_helpful", NOW)
    stats = store.stats()
    assert (stats.questions, stats.helpful, stats.not_helpful) == (1, 0, 1)
