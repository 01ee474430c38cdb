"""The state store: inbox de-duplication, tickets as compare-and-set, clear errors on bad files."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store import Catalog, StateStore
from bot.types import Author, ConversationRef, EscalationReason, Posted, TicketStatus

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REF = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.0")


def test_an_event_is_claimed_once(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    assert store.claim_event("slack:1", "slack", "{}", NOW)
    assert not store.claim_event("slack:1", "slack", "{}", NOW)
    assert store.pending_events("slack") == [("slack:1", "{}")]
    store.finish_event("slack:1", NOW)
    assert store.pending_events("slack") == []


def test_inbox_survives_a_restart(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    store.claim_event("discord:9", "discord", '{"x": 1}', NOW)
    store.close()
    reopened = StateStore(tmp_path / "state.db")
    assert reopened.pending_events("discord") == [("discord:9", '{"x": 1}')]
    assert not reopened.claim_event("discord:9", "discord", "{}", NOW)


def test_concurrent_claims_on_a_ticket_have_one_winner(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    ticket, _ = store.create_ticket(
        ref=REF,
        asker=Author(id="U1", name="Ann"),
        question="q?",
        reason=EscalationReason.LOW_CONFIDENCE,
        at=NOW,
    )
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def claim(user: str) -> None:
        mine = StateStore(tmp_path / "state.db")  # separate connections, as two processes would have
        barrier.wait()
        changed, _ = mine.transition_ticket(
            ticket.id,
            to=TicketStatus.CLAIMED,
            allowed_from=(TicketStatus.OPEN,),
            actor=Author(id=user, name=user),
            at=NOW,
            assignee=Author(id=user, name=user),
        )
        results.append(changed)

    threads = [threading.Thread(target=claim, args=(u,)) for u in ("S1", "S2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]
    final = store.ticket(ticket.id)
    assert final is not None and final.status == TicketStatus.CLAIMED
    events = [e["event"] for e in store.ticket_events(ticket.id)]
    assert events == ["opened", "claimed"]


def test_ticket_posts_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    ticket, _ = store.create_ticket(
        ref=REF,
        asker=Author(id="U1"),
        question="q",
        reason=EscalationReason.ASKED_FOR_HUMAN,
        at=NOW,
        language="ko",
    )
    assert ticket.language == "ko"
    store.add_ticket_post(ticket.id, Posted(message_id="5.5", conversation=REF), "thread", "first words")
    assert store.ticket_posts(ticket.id) == [
        ("thread", Posted(message_id="5.5", conversation=REF), "first words")
    ]
    assert store.active_ticket(REF) == store.ticket(ticket.id)


def test_feedback_is_one_vote_per_person(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
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


def test_a_corrupt_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a readable SQLite database") as caught:
        StateStore(path)
    assert "Nothing was changed" in str(caught.value)
    assert path.read_bytes().startswith(b"this is not sqlite")


def test_a_locked_database_names_the_likely_cause(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore(path).close()
    holder = sqlite3.connect(path)
    holder.execute("pragma journal_mode=delete")
    holder.execute("begin exclusive")
    try:
        with pytest.raises(StoreError, match="another supportbot"):
            store = StateStore(path)
            store.claim_event("x", "slack", "", NOW)
    finally:
        holder.rollback()
        holder.close()


def test_a_corrupt_catalog_is_rebuilt_because_it_is_a_cache(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    path.write_bytes(b"garbage" * 1000)
    catalog = Catalog(path)
    assert catalog.files() == {}


def test_one_active_ticket_per_conversation_even_when_two_race(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    results = []
    barrier = threading.Barrier(2)

    def open_one(user: str) -> None:
        mine = StateStore(tmp_path / "state.db")
        barrier.wait()
        results.append(
            mine.create_ticket(
                ref=REF, asker=Author(id=user), question=user, reason=EscalationReason.ASKED_FOR_HUMAN, at=NOW
            )
        )

    threads = [threading.Thread(target=open_one, args=(u,)) for u in ("U1", "U2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0].id == results[1][0].id
    assert len(store.tickets()) == 1


def test_handled_events_keep_their_key_but_not_the_message(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    store.claim_event("slack:msg:1", "slack", '{"text": "my private question"}', NOW)
    store.finish_event("slack:msg:1", NOW)
    row = store.db.execute("select status, payload from inbox").fetchone()
    assert row == ("done", None)
    assert not store.claim_event("slack:msg:1", "slack", "{}", NOW)  # still recognised as a retry
    assert store.prune_inbox(NOW + timedelta(days=8)) == 1
    assert store.claim_event("slack:msg:1", "slack", "{}", NOW)
