"""Which answers are knowledge-gap questions waiting for a cluster (`unassigned_gap_questions`),
on both backends: abstentions, answers rated not helpful or still stuck, and answers a ticket
was opened about; never one already placed, one rated helpful, or one nobody complained of.
And gaps per workspace: placed apart, and the workspace of gaps kept before (migration 0012)."""

from __future__ import annotations

from pathlib import Path

from bot.insights.gaps import place
from bot.store import StateStore
from bot.store.gaps import GapKind, GapStatus
from bot.store.migrations_later import backfill_gap_workspaces
from bot.store.queue import Reach
from bot.types import Author, ConversationRef, EscalationReason
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


def test_a_gap_is_public_when_a_ticket_in_one_of_its_threads_was(state: Path | str) -> None:
    """What `Gaps` searches a gap's question with: public documents only if any of its askers
    saw no more (a ticket in one of its questions' threads was opened with that scope)."""
    store = StateStore(state)
    try:
        asked = {"internal": "Where are the audit logs?", "public": "How do I export invoices to CSV?"}
        for n, (visibility, question) in enumerate(asked.items()):
            ref = thread()
            answer = ask(store, ref, f"U{n}", at(1, 9 + n), answered=False, question=question)
            store.create_ticket(
                ref=ref,
                asker=Author(id=f"U{n}"),
                question="help",
                reason=EscalationReason.LOW_CONFIDENCE,
                at=at(1, 9 + n),
                answer_id=answer,
                visibility=visibility,
            )
        ask(store, thread(), "U9", at(1, 11), answered=False, question="Where is the SSO page?")  # no ticket
        place(store, 3, at(1, 12))
        gaps = {g.representative: g.id for g in store.gaps("slack", (GapStatus.OPEN,))}
        assert len(gaps) == 3
        assert store.public_gaps(list(gaps.values())) == {gaps[asked["public"]]}
        assert store.public_gaps([]) == set()
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


def test_a_placement_another_worker_is_doing_is_skipped_not_waited_for(pg_url: str) -> None:
    """Another worker is placing (or stuck inside: its network went silent there, and the
    server keeps its transaction until keepalives end it): this one's clock skips its turn
    instead of waiting on its store's one thread, which its heartbeat and questions need."""
    store, other = StateStore(pg_url), StateStore(pg_url)
    try:
        ask(store, thread(), "U1", at(1, 9, 10), answered=False, question="Where is the SSO page?")
        with other.exclusive("gaps"):
            assert place(store, 3, at(1, 9, 30)) == 0
            assert store.gaps_placed_at() is None  # not a placement: nothing was looked at
        assert place(store, 3, at(1, 9, 40)) == 1  # the next tick does it
    finally:
        store.close()
        other.close()


def _in(workspace: str) -> ConversationRef:
    ref = thread()
    return ConversationRef(platform=ref.platform, workspace=workspace, channel=ref.channel, thread=ref.thread)


def test_the_same_question_in_two_workspaces_makes_two_gaps(state: Path | str) -> None:
    store = StateStore(state)
    try:
        for n, workspace in enumerate(("T1", "T2", "T1")):
            ask(
                store, _in(workspace), f"U{n}", at(1, 9, n), answered=False, question="Where is the SSO page?"
            )
        assert place(store, 3, at(1, 10)) == 3
        one, two = (
            store.gaps("slack", ALL_STATUSES, 10, frozenset({"T1"})),
            store.gaps("slack", ALL_STATUSES, 10, frozenset({"T2"})),
        )
        assert [(g.workspace, g.asks) for g in one] == [("T1", 2)]
        assert [(g.workspace, g.asks) for g in two] == [("T2", 1)]
        assert len(store.gaps("slack", ALL_STATUSES, 10)) == 2  # the platform: both
        only_two = store.visible_gaps((Reach(platform="slack", only=frozenset({"T2"})),), ALL_STATUSES)
        assert [g.id for g in only_two] == [two[0].id]
        but_two = store.visible_gaps((Reach(platform="slack", excluded=frozenset({"T2"})),), ALL_STATUSES)
        assert [g.id for g in but_two] == [one[0].id]
        assert store.visible_gaps((), ALL_STATUSES) == []
    finally:
        store.close()


def test_gaps_kept_before_get_their_questions_workspace_unless_they_mixed(state: Path | str) -> None:
    store = StateStore(state)
    try:
        ask(store, _in("T1"), "U1", at(1, 9), answered=False, question="Where is the SSO page?")
        ask(store, _in("T1"), "U2", at(1, 9, 1), answered=False, question="Where is the SSO page?")
        ask(store, _in("T1"), "U3", at(1, 9, 2), answered=False, question="How do I rotate the API key?")
        ask(store, _in("T2"), "U4", at(1, 9, 3), answered=False, question="How do I rotate the API key?")
        place(store, 3, at(1, 10))
        sso, key, key_t2 = sorted(store.gaps("slack", ALL_STATUSES, 10), key=lambda g: g.id)
        # as gaps were before 0012: no workspace, and one cluster per question across workspaces
        with store.db.conn:
            store.db.execute("update gap_questions set gap_id = ? where gap_id = ?", [key.id, key_t2.id])
            store.db.execute("delete from gaps where id = ?", [key_t2.id])
            store.db.execute("update gaps set workspace = null")
        with store.db.conn:
            backfill_gap_workspaces(store.db)
        after = {g.id: g.workspace for g in store.gaps("slack", ALL_STATUSES, 10)}
        assert after == {sso.id: "T1", key.id: None}  # T1's alone; T1 and T2 mixed: no one's
        assert store.gaps("slack", ALL_STATUSES, 10, frozenset({"T2"})) == []  # listed in no workspace
        assert [g.id for g in store.gaps("slack", ALL_STATUSES, 10, frozenset({"T1"}))] == [sso.id]
        everywhere = store.visible_gaps((Reach(platform="slack"),), ALL_STATUSES)
        assert {g.id for g in everywhere} == {sso.id, key.id}  # seeing every workspace: both
        but_t2 = store.visible_gaps((Reach(platform="slack", excluded=frozenset({"T2"})),), ALL_STATUSES)
        assert [g.id for g in but_t2] == [sso.id]  # it holds T2's question
        # a new question like the mixed one's goes to a gap of its own workspace
        ask(store, _in("T2"), "U5", at(1, 11), answered=False, question="How do I rotate the API key?")
        place(store, 3, at(1, 12))
        [fresh] = store.gaps("slack", ALL_STATUSES, 10, frozenset({"T2"}))
        assert fresh.id != key.id and fresh.asks == 1
    finally:
        store.close()


ALL_STATUSES = (GapStatus.OPEN, GapStatus.ADDRESSED, GapStatus.DISMISSED)
