"""Forget-me in the store, on both backends: what the person wrote goes whatever its length,
others' text that names them keeps its words with the id replaced (every such column), and
nothing of theirs is acted on afterwards (a follow-up due, a gap question placed again)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from bot.insights.gaps import place
from bot.store import StateStore
from bot.store.gaps import GapStatus
from bot.types import Author, ConversationRef, EscalationReason
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


def test_a_staff_members_export_holds_the_incidents_and_drafts_forget_me_anonymises(
    state: Path | str,
) -> None:
    """A staff member's export left out the incidents they opened or closed and the drafts they
    decided, which forget-me anonymises: now it holds them, with only their own words."""
    store = StateStore(state)
    try:
        ticket, _ = store.create_ticket(
            ref=thread(), asker=Author(id="U-KEEPME22"), question="Is billing down for the quokka-team?",
            reason=EscalationReason.ASKED_FOR_HUMAN, at=at(30, 10),
        )  # fmt: skip
        draft = store.create_draft(
            ticket_id=ticket.id, title="Billing", question=ticket.question, answer="It was.",
            visibility="public", at=at(30, 11),
        )  # fmt: skip
        assert store.decide_draft(draft.id, status="rejected", by=GONE, at=at(30, 12))
        incident, _ = store.open_incident(
            platform="slack",
            text="Billing is down",
            signatures="[]",
            by="U-OTHER01",
            at=at(30, 10),
            workspace="T1",
        )
        store.close_incident(incident.id, by=GONE, at=at(30, 12), text="Billing works again")
        exported = store.export_person("slack", GONE)
        assert [(i["text"], i["close_text"]) for i in exported["incidents"]] == [
            (None, "Billing works again")
        ]
        assert [d["status"] for d in exported["drafts_decided"]] == ["rejected"]
        assert "quokka" not in str(exported) and "U-OTHER01" not in str(exported)
        counts = store.forget("slack", GONE, NOW)
        assert counts["incidents"] == 1 and counts["drafts"] == 1
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


def test_forget_me_reaches_an_open_gaps_example_after_retention_emptied_the_answer(
    state: Path | str,
) -> None:
    """Retention empties an answer's words but keeps an open gap's example (admins act on it);
    forget-me found the gaps to blank only by the words of their answers, so their question
    stayed on the gaps page for good. Now the gap is found by its first question's link."""
    store = StateStore(state)
    try:
        when = at(30, 10)
        ask(
            store,
            thread(),
            GONE,
            when,
            answered=False,
            question="How do I configure SAML for the quokka-tenant?",
        )
        assert place(store, 3, when + timedelta(minutes=10)) == 1
        store.purge_text(when + timedelta(days=1), when + timedelta(days=91))  # retention_days passes
        [gap] = store.gaps("slack", (GapStatus.OPEN,), 50)
        assert "quokka" in gap.representative
        assert store.forget("slack", GONE, when + timedelta(days=91))["gaps"] == 1
        assert _cells_with(store, "quokka") == []
    finally:
        store.close()


def _bot_posts(store: StateStore) -> list[str]:
    return sorted(
        str(row[0])
        for row in store.db.execute("select platform_id from messages where role = 'bot'").fetchall()
    )


def _posts_of(store: StateStore, asker: str) -> list[str]:
    rows = store.db.execute("select posted_message_id from answers where asker_id = ?", [asker])
    return [str(row[0]) for row in rows.fetchall()]


@pytest.mark.parametrize("threaded", [True, False])
def test_forgetting_a_conversations_first_asker_keeps_what_a_later_asker_was_told(
    state: Path | str, threaded: bool
) -> None:
    """A thread someone else asked in too, or a channel the bot answers in place: their answer
    and their "Did this solve it?" stay (the conversation's asker is only its first)."""
    store = StateStore(state)
    try:
        ref = thread() if threaded else ConversationRef(platform="slack", workspace="T1", channel="C9")
        ask(store, ref, GONE, at(30, 10))
        later = ask(store, ref, "U-KEEP", at(30, 11), question="And how do I change my email address?")
        assert store.schedule_followup(ref.key, later, at(31, 11))
        store.forget("slack", GONE, at(30, 12))
        assert _bot_posts(store) == _posts_of(store, "U-KEEP")
        [due] = store.due_followups(at(31, 12), ["slack"])
        assert due.answer_id == later
    finally:
        store.close()


def test_a_revised_answers_message_is_found_by_its_new_post(state: Path | str) -> None:
    """An edit of the question revises the answer into other messages (Discord: more, or
    fewer); the bot's message kept for it follows, so forget-me still finds it."""
    store = StateStore(state)
    try:
        ref = ConversationRef(platform="discord", workspace="G1", channel="C9")
        answer = ask(store, ref, GONE, at(30, 10))
        ask(store, ref, "U-KEEP", at(30, 11), question="And how do I change my email address?")
        [first] = _posts_of(store, GONE)
        store.set_answer_posted(answer, f"{first},99999")
        assert f"{first},99999" in _bot_posts(store)
        store.forget("discord", GONE, at(30, 12))
        assert _bot_posts(store) == _posts_of(store, "U-KEEP")
    finally:
        store.close()
