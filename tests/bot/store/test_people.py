"""Forget-me in the store, on both backends: what the person wrote goes whatever its length,
others' text that names them keeps its words with the id replaced (every such column), and
nothing of theirs is acted on afterwards (a follow-up due, a gap question placed again)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

from bot.insights.gaps import place
from bot.store import StateStore
from bot.store.gaps import GapStatus
from bot.types import Author, EscalationReason
from tests.bot.insights.week import NOW, ask, at, thread

GONE = "U-FORGETME1"


def _cells_with(store: StateStore, needle: str) -> list[tuple[str, object]]:
    return [
        (table, cell)
        for table in store.db.table_names()
        for row in store.db.execute(f"select * from {table}").fetchall()
        for cell in row
        if isinstance(cell, str) and needle in cell
    ]


def test_a_person_who_asked_a_long_question_is_forgotten(state: Path | str) -> None:
    """A question near the longest one taken (4,000 characters) is longer than PostgreSQL
    lets an index entry be: forget-me must not depend on indexing it."""
    store = StateStore(state)
    try:
        # words that do not repeat: PostgreSQL compresses an index entry before it measures it
        question = "quokka " + " ".join(hashlib.sha256(str(n).encode()).hexdigest()[:8] for n in range(430))
        assert 3_500 < len(question) <= 4_000
        ask(store, thread(), GONE, at(30, 10), question=question)
        assert store.forget("slack", GONE, NOW)["tombstones"] == 1
        assert _cells_with(store, "quokka") == [] and _cells_with(store, GONE) == []
    finally:
        store.close()


def test_a_mention_in_a_draft_title_or_an_incidents_closing_text_is_replaced(state: Path | str) -> None:
    store = StateStore(state)
    try:
        question = f"Can someone add <@{GONE}> to our billing account?"
        ticket, _ = store.create_ticket(
            ref=thread(),
            asker=Author(id="U-KEEPME22"),
            question=question,
            reason=EscalationReason.ASKED_FOR_HUMAN,
            at=at(30, 10),
        )
        # a learning-loop draft is titled with the asker's first line (bot/escalation/learning.py)
        store.create_draft(
            ticket_id=ticket.id,
            title=question,
            question=question,
            answer="Done by an admin.",
            visibility="public",
            at=at(30, 11),
        )
        incident, _ = store.open_incident(
            platform="slack", text="Logins fail", signatures="[]", by="U-STAFF", at=at(30, 10), workspace="T1"
        )
        store.close_incident(incident.id, by="U-STAFF", at=at(30, 12), text=f"Fixed, thanks <@{GONE}>!")
        store.forget("slack", GONE, NOW)
        assert _cells_with(store, GONE) == []
        [draft] = store.drafts()
        assert draft.title.startswith("Can someone add <@forgotten:") and draft.title.endswith(" account?")
        assert "thanks <@forgotten:" in str(_cells_with(store, "thanks"))
    finally:
        store.close()


def test_no_follow_up_stays_due_for_a_forgotten_asker(state: Path | str) -> None:
    store = StateStore(state)
    try:
        ref = thread()
        answer = ask(store, ref, GONE, at(30, 10))
        assert store.schedule_followup(ref.key, answer, at(31, 10))
        store.forget("slack", GONE, at(30, 11))
        assert store.due_followups(at(31, 11), ["slack"]) == []
    finally:
        store.close()


def test_a_forgotten_gap_question_is_not_placed_again(state: Path | str) -> None:
    """The gap keeps its ask count; their blanked answer is no new, empty gap."""
    store = StateStore(state)
    try:
        when = at(30, 10)
        ask(store, thread(), "U1", when, answered=False, question="How do I configure SAML single sign-on?")
        ask(
            store,
            thread(),
            GONE,
            when,
            answered=False,
            question="How do I configure SAML sign-on for my team?",
        )
        assert place(store, 3, when + timedelta(minutes=10)) == 2
        before = [(g.representative, g.asks) for g in store.gaps("slack", (GapStatus.OPEN,), 50)]
        store.forget("slack", GONE, when + timedelta(minutes=20))
        assert place(store, 3, when + timedelta(minutes=30)) == 0
        assert [(g.representative, g.asks) for g in store.gaps("slack", (GapStatus.OPEN,), 50)] == before
    finally:
        store.close()
