"""Tickets as compare-and-set: concurrent claims and escalations have one winner."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import StateStore
from bot.types import Author, ConversationRef, EscalationReason, Posted, SlaStage, TicketStatus

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REF = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.0")

# the racing connections below wait on each other's write lock: they keep the default
# busy timeout, since a short one would turn the lost race into a "locked" error


def test_concurrent_claims_on_a_ticket_have_one_winner(state: Path | str) -> None:
    store = StateStore(state)
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
        mine = StateStore(state)  # separate connections, as two processes would have
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


def test_ticket_posts_round_trip(state: Path | str) -> None:
    store = StateStore(state)
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


def test_one_active_ticket_per_conversation_even_when_two_race(state: Path | str) -> None:
    store = StateStore(state)
    results = []
    barrier = threading.Barrier(2)

    def open_one(user: str) -> None:
        mine = StateStore(state)
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


def test_the_ticket_opened_for_a_message_is_found_whatever_its_status(state: Path | str) -> None:
    store = StateStore(state)
    ann = Author(id="U1", name="Ann")
    ticket, _ = store.create_ticket(
        ref=REF, asker=ann, question="q?", reason=EscalationReason.ASKED_FOR_HUMAN, at=NOW, message_id="m1"
    )
    store.transition_ticket(
        ticket.id, to=TicketStatus.RESOLVED, allowed_from=(TicketStatus.OPEN,), actor=ann, at=NOW
    )
    found = store.ticket_for_message("slack", "m1")
    assert found is not None and found.id == ticket.id and found.status == TicketStatus.RESOLVED
    assert store.ticket_for_message("slack", "m2") is None
    assert store.ticket_for_message("discord", "m1") is None


def test_the_sla_clock_moves_only_for_a_ticket_as_it_fell_due(state: Path | str) -> None:
    """A staff reply or a reassignment keeps the stage and sets a new deadline: a step read
    before it is refused, and leaves the new deadline alone."""
    store = StateStore(state)
    due = NOW - timedelta(minutes=1)
    ticket, _ = store.create_ticket(
        ref=REF,
        asker=Author(id="U1"),
        question="q",
        reason=EscalationReason.ASKED_FOR_HUMAN,
        at=NOW,
        sla_stage=SlaStage.CLAIMED,
        next_action_at=due,
    )
    store.set_ticket_fields(ticket.id, status="claimed", assignee_id="U-SAM")
    step = {"from_stage": SlaStage.CLAIMED, "to_stage": SlaStage.ASSIGNEE_REMINDED, "next_action_at": None}
    replied = NOW + timedelta(hours=1)
    store.set_ticket_fields(ticket.id, next_action_at=replied)  # Sam replied: his clock restarts
    assert not store.advance_sla(ticket.id, due_at=due, assignee_id="U-SAM", at=NOW, **step)
    store.set_ticket_fields(ticket.id, assignee_id="U-OLU")  # reassigned, the deadline kept
    assert not store.advance_sla(ticket.id, due_at=replied, assignee_id="U-SAM", at=NOW, **step)
    after = store.ticket(ticket.id)
    assert after is not None and after.sla_stage == SlaStage.CLAIMED and after.next_action_at == replied
    assert store.advance_sla(ticket.id, due_at=replied, assignee_id="U-OLU", at=NOW, **step)
    assert not store.advance_sla(ticket.id, due_at=replied, assignee_id="U-OLU", at=NOW, **step)  # once


def test_a_reminders_claim_hides_its_ticket_from_the_clock_not_its_deadline(state: Path | str) -> None:
    """Claimed, the ticket is not due (another process is saying its reminder) but keeps its
    deadline, which cards and lists read; given back, or lapsed, it is due again."""
    store = StateStore(state)
    due = NOW - timedelta(minutes=1)
    ticket, _ = store.create_ticket(
        ref=REF,
        asker=Author(id="U1"),
        question="q",
        reason=EscalationReason.ASKED_FOR_HUMAN,
        at=NOW,
        sla_stage=SlaStage.FIRST_RESPONSE,
        next_action_at=due,
    )
    until = NOW + timedelta(minutes=10)
    claim = {"stage": SlaStage.FIRST_RESPONSE, "due_at": due, "assignee_id": None}
    assert store.claim_sla(ticket.id, until=until, now=NOW, **claim)
    assert not store.claim_sla(ticket.id, until=until + timedelta(seconds=1), now=NOW, **claim)  # held
    assert store.due_tickets(NOW, ["slack"]) == []
    held = store.ticket(ticket.id)
    assert held is not None and held.next_action_at == due
    store.release_sla(ticket.id, until)
    assert [t.id for t in store.due_tickets(NOW, ["slack"])] == [ticket.id]
    assert store.claim_sla(ticket.id, until=until, now=NOW, **claim)
    assert [t.id for t in store.due_tickets(until, ["slack"])] == [ticket.id]  # lapsed: its process died
    later = until + timedelta(minutes=10)
    assert store.claim_sla(ticket.id, until=later, now=until, **claim)  # taken over
    store.release_sla(ticket.id, until)  # the dead one's, late: not the claim now held
    assert store.due_tickets(until, ["slack"]) == []
    step = {"from_stage": SlaStage.FIRST_RESPONSE, "to_stage": SlaStage.REANNOUNCED, "next_action_at": later}
    assert store.advance_sla(ticket.id, due_at=due, assignee_id=None, at=until, claimed=later, **step)
    assert [t.id for t in store.due_tickets(later, ["slack"])] == [ticket.id]  # the next deadline, unclaimed


def test_a_reassign_to_whoever_has_the_ticket_is_no_change(state: Path | str) -> None:
    store = StateStore(state)
    ann, olu, ada = (Author(id=u, name=u) for u in ("U1", "U-OLU", "U-ADA"))
    ticket, _ = store.create_ticket(
        ref=REF, asker=ann, question="q?", reason=EscalationReason.ASKED_FOR_HUMAN, at=NOW
    )

    def reassign(to: Author) -> bool:
        changed, _ = store.transition_ticket(
            ticket.id,
            to=TicketStatus.CLAIMED,
            allowed_from=(TicketStatus.OPEN, TicketStatus.CLAIMED),
            actor=ada,
            at=NOW,
            assignee=to,
            event="reassigned",
            unless_held_by=to.id,
        )
        return changed

    assert [reassign(olu), reassign(olu), reassign(ada), reassign(olu)] == [True, False, True, True]
    assert [e["event"] for e in store.ticket_events(ticket.id)].count("reassigned") == 3
