"""The messages that show a ticket: staff's card is claimed before it is posted, so two
workers finishing one ticket's opening post one card."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from bot.store import StateStore
from bot.types import Author, ConversationRef, EscalationReason, Posted

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REF = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.0")
TRIAGE = ConversationRef(platform="slack", workspace="T1", channel="C-TRIAGE")


def test_two_workers_claiming_a_tickets_card_have_one_winner(state: Path | str) -> None:
    store = StateStore(state)
    ticket, _ = store.create_ticket(
        ref=REF, asker=Author(id="U1"), question="q?", reason=EscalationReason.ASKED_FOR_HUMAN, at=NOW
    )
    claims: list[int | None] = []
    barrier = threading.Barrier(2)

    def claim() -> None:
        mine = StateStore(state)  # separate connections, as two workers would have
        barrier.wait()
        claims.append(mine.claim_ticket_post(ticket.id, "card", TRIAGE))

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [won] = [c for c in claims if c is not None]
    assert claims.count(None) == 1
    assert store.ticket_posts(ticket.id) == []  # claimed is not posted: nothing to edit yet
    card = Posted(message_id="c1", conversation=TRIAGE)
    store.ticket_post_made(won, card)
    assert store.ticket_posts(ticket.id) == [("card", card, "")]
    assert store.claim_ticket_post(ticket.id, "card", TRIAGE) is None


def test_a_claim_whose_post_failed_is_given_back(state: Path | str) -> None:
    store = StateStore(state)
    ticket, _ = store.create_ticket(
        ref=REF, asker=Author(id="U1"), question="q?", reason=EscalationReason.ASKED_FOR_HUMAN, at=NOW
    )
    claim = store.claim_ticket_post(ticket.id, "card", TRIAGE)
    assert claim is not None
    store.drop_ticket_post_claim(claim)
    assert store.claim_ticket_post(ticket.id, "card", TRIAGE) is not None
