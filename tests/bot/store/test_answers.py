"""Answers and feedback: one vote per person, counted in the stats."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.store import StateStore
from bot.store.answers import answer_statement
from bot.store.rows import together
from bot.types import ConversationRef
from tests.bot.store.answer_fields import answer_fields

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


def test_an_answer_recorded_again_for_its_event_keeps_its_one_row(state: Path | str) -> None:
    """A replay after a crash records the answer again (it is recorded before it is posted):
    keyed by its inbox event, it lands on the row the dead attempt wrote, so the question is
    counted once; answers without an event (a slash command's) are rows of their own."""
    store = StateStore(state)
    fields = answer_fields(REF, NOW)
    first = together(store.db, [answer_statement(event="slack:msg:1", **fields)])[0].rows[0][0]
    again = together(store.db, [answer_statement(event="slack:msg:1", **{**fields, "answer": "Five days."})])
    assert again[0].rows[0][0] == first
    record = store.answer(int(first))
    assert record is not None and record.answer == "Five days."
    store.record_answer(**fields)
    store.record_answer(**fields)
    assert store.stats().questions == 3
