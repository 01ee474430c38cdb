"""Which answers are knowledge-gap questions waiting for a cluster (`unassigned_gap_questions`),
on both backends: abstentions, answers rated not helpful or still stuck, and answers a ticket
was opened about; never one already placed, one rated helpful, or one nobody complained of."""

from __future__ import annotations

from pathlib import Path

from bot.insights.gaps import place
from bot.store import StateStore
from bot.store.gaps import GapKind
from bot.types import EscalationReason
from tests.bot.insights.week import ask, at, escalate, thread


def test_gap_questions_are_abstentions_complaints_and_tickets_in_asking_order(state: Path | str) -> None:
    store = StateStore(state)
    try:
        placed = ask(store, thread(), "U0", at(1, 9), answered=False, question="Where are the audit logs?")
        assert place(store, 3, at(1, 9, 30)) == 1
        abstained = ask(store, thread(), "U1", at(1, 10), answered=False, question="Where is the SSO page?")
        fine = ask(store, thread(), "U2", at(1, 10, 1))
        liked = ask(store, thread(), "U3", at(1, 10, 2))
        store.add_feedback(liked, "U3", "helpful", at(1, 10, 5))
        disliked = ask(store, thread(), "U4", at(1, 10, 3))
        store.add_feedback(disliked, "U4", "not_helpful", at(1, 10, 6))
        stuck = ask(store, thread(), "U5", at(1, 10, 4))
        store.add_feedback(stuck, "U5", "still_stuck", at(1, 10, 7))
        ref = thread()
        escalated = ask(store, ref, "U6", at(1, 10, 8))
        escalate(store, ref, "U6", at(1, 10, 9), EscalationReason.ASKED_FOR_HUMAN, escalated)
        escalate(store, thread(), "U7", at(1, 10, 10), EscalationReason.ASKED_FOR_HUMAN)  # about no answer

        found = store.unassigned_gap_questions()
        assert [c.answer_id for c in found] == [abstained, disliked, stuck, escalated]
        assert [c.kind for c in found] == [GapKind.HARD, GapKind.SOFT, GapKind.SOFT, GapKind.SOFT]
        assert {placed, fine, liked}.isdisjoint(c.answer_id for c in found)
        assert [c.answer_id for c in store.unassigned_gap_questions(2)] == [abstained, disliked]
    finally:
        store.close()


def test_each_placement_is_remembered_never_back_in_time(state: Path | str) -> None:
    store = StateStore(state)
    try:
        assert store.gaps_placed_at() is None
        assert place(store, 3, at(1, 9)) == 0  # nothing to place is still a placement "as of" then
        assert store.gaps_placed_at() == at(1, 9)
        ask(store, thread(), "U1", at(1, 9, 10), answered=False, question="Where is the SSO page?")
        assert place(store, 3, at(1, 9, 30)) == 1
        assert store.gaps_placed_at() == at(1, 9, 30)
        place(store, 3, at(1, 9, 20))  # another worker, its clock a little behind
        assert store.gaps_placed_at() == at(1, 9, 30)
    finally:
        store.close()
