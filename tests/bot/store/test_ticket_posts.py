"""The messages that show a ticket: staff's card is claimed before it is posted, so two
workers finishing one ticket's opening post one card; a claim whose post failed, or whose
process died, is owed until a later claim makes it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import StateStore
from bot.store.rows import transaction
from bot.store.ticket_posts import CARD_LEASE, PostClaim, claim_card
from bot.types import Author, ConversationRef, EscalationReason, Posted

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REF = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.0")
TRIAGE = ConversationRef(platform="slack", workspace="T1", channel="C-TRIAGE")


def test_two_workers_claiming_a_tickets_card_have_one_winner(state: Path | str) -> None:
    store = StateStore(state)
    ticket, _ = store.create_ticket(
        ref=REF, asker=Author(id="U1"), question="q?", reason=EscalationReason.ASKED_FOR_HUMAN, at=NOW
    )
    claims: list[PostClaim | None] = []
    barrier = threading.Barrier(2)

    def claim() -> None:
        mine = StateStore(state)  # separate connections, as two workers would have
        barrier.wait()
        claims.append(mine.claim_ticket_post(ticket.id, "card", TRIAGE, NOW))

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [won] = [c for c in claims if c is not None]
    assert claims.count(None) == 1
    assert store.ticket_posts(ticket.id) == []  # claimed is not posted: nothing to edit yet
    card = Posted(message_id="c1", conversation=TRIAGE)
    assert not won.again
    store.ticket_post_made(won.id, card)
    assert store.ticket_posts(ticket.id) == [("card", card, "")]
    assert store.claim_ticket_post(ticket.id, "card", TRIAGE, NOW) is None


def _ticket(store: StateStore, platform: str = "slack", thread: str = "1.0") -> int:
    ref = ConversationRef(platform=platform, workspace="T1", channel="C1", thread=thread)
    ticket, _ = store.create_ticket(
        ref=ref, asker=Author(id="U1"), question="q?", reason=EscalationReason.ASKED_FOR_HUMAN, at=NOW
    )
    return ticket.id


def test_a_claim_whose_post_failed_is_owed_from_its_retry_time(state: Path | str) -> None:
    store = StateStore(state)
    ticket = _ticket(store)
    claim = store.claim_ticket_post(ticket, "card", TRIAGE, NOW)
    assert claim is not None
    retry_at = NOW + timedelta(minutes=2)
    store.release_ticket_post(claim.id, retry_at)
    assert store.owed_ticket_posts("card", retry_at - timedelta(seconds=1), ["slack"]) == []
    assert store.claim_ticket_post(ticket, "card", TRIAGE, retry_at - timedelta(seconds=1)) is None
    assert store.owed_ticket_posts("card", retry_at, ["slack"]) == [(ticket, claim.id)]
    again = store.claim_ticket_post(ticket, "card", TRIAGE, retry_at)
    assert again == PostClaim(claim.id, again=True)  # the failed post may have gone out
    assert store.owed_ticket_posts("card", retry_at, ["slack"]) == []  # held again


def test_a_claim_whose_process_died_lapses_and_is_owed(state: Path | str) -> None:
    store = StateStore(state)
    ticket = _ticket(store)
    claim = store.claim_ticket_post(ticket, "card", TRIAGE, NOW)
    assert claim is not None
    held = NOW + CARD_LEASE - timedelta(seconds=1)
    assert store.owed_ticket_posts("card", held, ["slack"]) == []
    assert store.claim_ticket_post(ticket, "card", TRIAGE, held) is None
    lapsed = NOW + CARD_LEASE
    assert store.owed_ticket_posts("card", lapsed, ["slack"]) == [(ticket, claim.id)]
    moved = ConversationRef(platform="slack", workspace="T1", channel="C-NEW-TRIAGE")
    assert store.claim_ticket_post(ticket, "card", moved, lapsed) == PostClaim(claim.id, again=True)
    card = Posted(message_id="c1", conversation=moved)
    store.ticket_post_made(claim.id, card)
    assert store.ticket_posts(ticket) == [("card", card, "")]
    later = lapsed + 10 * CARD_LEASE
    assert store.owed_ticket_posts("card", later, ["slack"]) == []  # made: owed no more
    assert store.claim_ticket_post(ticket, "card", TRIAGE, later) is None


def test_the_lapsed_claims_of_the_platforms_asked_are_owed_a_done_tickets_too(state: Path | str) -> None:
    """A done ticket's lapsed claim is owed too: its card may be out showing it open (the
    clock looks, and brings it up to date or drops the claim)."""
    store = StateStore(state)
    slack, discord, resolved = _ticket(store), _ticket(store, "discord"), _ticket(store, thread="2.0")
    claims = {t: store.claim_ticket_post(t, "card", TRIAGE, NOW) for t in (slack, discord, resolved)}
    store.set_ticket_fields(resolved, status="resolved")
    later = NOW + CARD_LEASE
    ids = {t: c.id for t, c in claims.items() if c is not None}
    assert store.owed_ticket_posts("card", later, ["slack"]) == [
        (slack, ids[slack]),
        (resolved, ids[resolved]),
    ]
    assert [t for t, _ in store.owed_ticket_posts("card", later, ["slack", "discord"])] == [
        slack,
        discord,
        resolved,
    ]
    assert store.owed_ticket_posts("card", later, []) == []
    assert store.owed_ticket_posts("thread", later, ["slack", "discord"]) == []


def test_a_claim_of_the_version_before_0020_has_lapsed(state: Path | str) -> None:
    """A claim with no time was left by a worker of the version before, which 0020 waits for
    to stop: its card is owed at once."""
    store = StateStore(state)
    ticket = _ticket(store)
    claim = store.claim_ticket_post(ticket, "card", TRIAGE, NOW)
    assert claim is not None
    with transaction(store.db):
        store.db.execute("update ticket_posts set claimed_until = null where id = ?", [claim.id])
    assert store.owed_ticket_posts("card", NOW, ["slack"]) == [(ticket, claim.id)]
    assert store.claim_ticket_post(ticket, "card", TRIAGE, NOW) == PostClaim(claim.id, again=True)


def test_a_card_made_already_is_not_replaced_by_a_later_one(state: Path | str) -> None:
    """A worker that held its claim past the lease posts its card after the one that took the
    claim over made it: the first noted stays the card transitions edit."""
    store = StateStore(state)
    ticket = _ticket(store)
    slow = store.claim_ticket_post(ticket, "card", TRIAGE, NOW)
    assert slow is not None
    taker = store.claim_ticket_post(ticket, "card", TRIAGE, NOW + CARD_LEASE)
    assert taker is not None and taker.id == slow.id
    first = Posted(message_id="c-first", conversation=TRIAGE)
    store.ticket_post_made(taker.id, first)
    store.ticket_post_made(slow.id, Posted(message_id="c-late", conversation=TRIAGE))
    assert store.ticket_posts(ticket) == [("card", first, "")]


def test_a_post_made_without_an_id_counts_as_made_and_is_not_edited(state: Path | str) -> None:
    """Slack's response URL posts without giving the message's id: the card or note is out,
    so it is never claimed or posted again, and it reads back with the empty id that the
    adapters skip when editing."""
    store = StateStore(state)
    ticket = _ticket(store)
    claim = store.claim_ticket_post(ticket, "card", TRIAGE, NOW)
    assert claim is not None
    card = Posted(message_id="", conversation=TRIAGE)
    store.ticket_post_made(claim.id, card)
    note = Posted(message_id="", conversation=REF)
    store.add_ticket_post(ticket, note, "thread", "q?")
    assert store.ticket_posts(ticket) == [("card", card, ""), ("thread", note, "q?")]
    later = NOW + CARD_LEASE * 3
    assert store.claim_ticket_post(ticket, "card", TRIAGE, later, take_over=True) is None
    assert store.owed_ticket_posts("card", later, ["slack"]) == []
    assert store.ticket_post_claim(ticket, "card") is None


def test_a_note_kept_with_the_empty_id_by_the_version_before_reads_as_made(state: Path | str) -> None:
    """That version kept a note made without an id with the id that now means claimed (and a
    worker of it may still, beside this one): a note is never claimed, so it reads as made,
    and a second request for a person does not post it (and its ping) again. A card's claim
    stays a claim."""
    store = StateStore(state)
    ticket = _ticket(store)
    with transaction(store.db):
        store.db.execute(
            "insert into ticket_posts (ticket_id, conversation, message_id, kind, text) "
            "values (?, ?, '', 'thread', 'q?')",
            [ticket, REF.key],
        )
        claim_card(store.db, ticket, TRIAGE, NOW)
    assert store.ticket_posts(ticket) == [("thread", Posted(message_id="", conversation=REF), "q?")]
    assert store.ticket_post_claim(ticket, "card") is not None
