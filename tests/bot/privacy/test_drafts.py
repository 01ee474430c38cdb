"""Reply drafts in the store and in the report: each draft is decided once (compare-and-set),
its text changes only while pending, a person is welcomed once, and the report counts what
staff did with the drafts (knowledge/insights.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.channel_types import ChannelMode, Visibility
from bot.insights.collect import collect
from bot.insights.metrics import Period, Scope
from bot.policy import Act, should_respond
from bot.store import StateStore
from bot.store.reply_drafts import ReplyDraftStatus
from bot.types import Author, ConversationRef, InboundMessage
from tests.bot.insights.week import DEFINITIONS

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)
HERE = ConversationRef(platform="slack", workspace="T1", channel="C1")


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    state = StateStore(tmp_path / "state.db")
    yield state
    state.close()


def propose(store: StateStore, n: int = 1, *, at: datetime = AT) -> int:
    draft = store.create_reply_draft(
        conversation=HERE,
        message_id=f"C1:{n}.0",
        asker_id="U1",
        question="How long does a refund take?",
        answer="Within 30 days.",
        answer_id=None,
        at=at,
    )
    return draft.id


def test_a_draft_is_decided_once_and_edited_only_while_pending(store: StateStore) -> None:
    draft_id = propose(store)
    assert store.edit_reply_draft(draft_id, "Within 5 business days.", "ann")
    assert store.decide_reply_draft(draft_id, status="posted", by="ann", at=AT)
    assert not store.decide_reply_draft(draft_id, status="posted", by="bob", at=AT)  # the double click
    assert not store.decide_reply_draft(draft_id, status="discarded", by="bob", at=AT)
    assert not store.edit_reply_draft(draft_id, "too late", "bob")
    draft = store.reply_draft(draft_id)
    assert draft is not None and draft.status == ReplyDraftStatus.POSTED
    assert draft.answer == "Within 5 business days." and draft.decided_by == "ann"


def test_a_person_is_welcomed_once_per_platform(store: StateStore) -> None:
    assert store.claim_welcome("slack", "U1", AT)
    assert not store.claim_welcome("slack", "U1", AT)
    assert store.claim_welcome("discord", "U1", AT)


def test_the_report_counts_drafts_and_their_acceptance(store: StateStore) -> None:
    posted, discarded, pending = propose(store, 1), propose(store, 2), propose(store, 3)
    store.decide_reply_draft(posted, status="posted", by="ann", at=AT + timedelta(minutes=5))
    store.decide_reply_draft(discarded, status="discarded", by="ann", at=AT + timedelta(minutes=5))
    propose(store, 4, at=AT - timedelta(days=30))  # before the period
    period = Period(since=AT - timedelta(days=1), until=AT + timedelta(days=1))
    metrics = collect(store, period, Scope(), DEFINITIONS).metrics
    assert (metrics.drafts_proposed, metrics.drafts_posted, metrics.drafts_discarded) == (3, 1, 1)
    assert metrics.draft_acceptance_rate == 0.5  # posted / decided: the pending one waits
    assert pending
    other = collect(store, period, Scope(platform="discord"), DEFINITIONS).metrics
    assert other.drafts_proposed == 0 and other.draft_acceptance_rate is None


def question(text: str, *, addressed: bool = False) -> InboundMessage:
    return InboundMessage(
        id="C1:1.0",
        conversation=HERE,
        author=Author(id="U1"),
        text=text,
        addressed=addressed,
        visibility=Visibility.PUBLIC,
        sent_at=AT,
    )


def test_a_draft_channel_takes_up_questions_but_not_chatter() -> None:
    decide = should_respond
    assert (
        decide(question("How do refunds work?"), mode=ChannelMode.DRAFT, state=None, staff=False).act
        == Act.RESPOND
    )
    assert decide(question("lunch anyone"), mode=ChannelMode.DRAFT, state=None, staff=False).act == Act.IGNORE
