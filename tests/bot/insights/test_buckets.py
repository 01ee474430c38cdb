"""A period and its buckets from one read (bot/insights/buckets.py): every bucket's report is
exactly `collect`'s for that bucket, and the period's exactly `collect`'s for the period, on a
seeded month of support with rows placed on the edges that "as of a bucket's end" is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from bench.report import fill
from bot.dashboard.trends import buckets, collect_trend
from bot.insights.buckets import collect_buckets
from bot.insights.collect import collect
from bot.insights.metrics import Period, Scope
from bot.store import StateStore
from bot.store.store import iso
from bot.types import Author, EscalationReason, TicketStatus
from tests.bot.insights.week import DEFINITIONS, ask, escalate, say, thread

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
STAFF = Author(id="S1", name="Sam")


def edges(store: StateStore, period: Period) -> None:
    """Rows exactly on and just across the edges of the period's first two days."""
    start = period.since
    cut = start + timedelta(days=1)  # the end of the first bucket, the start of the second
    # a question exactly at a bucket's start, its thank-you in the next bucket
    ref = thread(channel="CEDGE")
    ask(store, ref, "UE1", cut)
    say(store, ref, "UE1", "thanks!", cut + timedelta(days=1, minutes=1))
    # asked just before the cut: Not helpful given after it, a follow-up just before it
    ref = thread(channel="CEDGE")
    q = ask(store, ref, "UE2", cut - timedelta(minutes=10))
    say(store, ref, "UE2", "that did not work, the page says 404", cut - timedelta(milliseconds=1))
    store.add_feedback(q, "UE2", "not_helpful", cut + timedelta(minutes=5))
    # a question in the second bucket whose own message falls in the hour before it (the lead)
    ref = thread("discord", "CEDGE")
    ask(store, ref, "UE3", cut + timedelta(seconds=1))
    # a ticket of the first bucket: first staff reply, resolution and two ratings on both sides
    ref = thread(channel="CEDGE")
    a = ask(store, ref, "UE4", start + timedelta(hours=20), answered=False)
    ticket = escalate(store, ref, "UE4", start + timedelta(hours=20), EscalationReason.LOW_CONFIDENCE, a)
    store.add_message(ref, role="staff", text="on it", at=cut + timedelta(hours=1), author=STAFF)
    store.set_ticket_fields(ticket, last_staff_reply_at=cut + timedelta(hours=1))
    store.transition_ticket(
        ticket,
        to=TicketStatus.RESOLVED,
        allowed_from=(TicketStatus.OPEN, TicketStatus.CLAIMED),
        actor=STAFF,
        at=start + timedelta(hours=23),
        fields={"resolved_at": start + timedelta(hours=23)},
    )
    # rated bad, then (changed after the cut) good: as the events of a re-rated ticket read
    store.db.execute(
        "insert into ticket_events (ticket_id, at, actor_id, event, detail) values (?, ?, ?, 'rated', 'bad')",
        [ticket, iso(start + timedelta(hours=23, minutes=30)), "UE4"],
    )
    store.rate_ticket(ticket, "good", "UE4", cut + timedelta(minutes=30))
    # a ticket whose staff messages are gone (retention): the last reply stands in, before the cut
    ref = thread(channel="CEDGE")
    a = ask(store, ref, "UE5", start + timedelta(hours=2), answered=False)
    ticket = escalate(store, ref, "UE5", start + timedelta(hours=2), EscalationReason.LOW_CONFIDENCE, a)
    store.set_ticket_fields(ticket, last_staff_reply_at=start + timedelta(hours=3))
    # a direct hand-off exactly at the cut
    ref = thread(channel="CEDGE")
    say(store, ref, "UE6", "I need to talk to a human", cut - timedelta(seconds=1))
    escalate(store, ref, "UE6", cut, EscalationReason.ASKED_FOR_HUMAN)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> StateStore:
    path: Path = tmp_path_factory.mktemp("buckets") / "state.db"
    fill(path, 3000, 300, NOW)  # a month of support as bench/report.py writes it
    store = StateStore(path)
    for days in (7, 30):
        edges(store, Period(since=NOW - timedelta(days=days), until=NOW))
    # answered two minutes ago, asked fifty minutes ago: the message is in the lead hour of
    # several short buckets at once
    ref = thread(channel="CSLOW")
    store.record_message(
        ref,
        role="user",
        text="Where is the audit log?",
        at=NOW - timedelta(minutes=50),
        now=NOW - timedelta(minutes=50),
        author=Author(id="US1"),
        platform_id="m-slow",
        asker_id="US1",
    )
    store.record_answer(
        ref=ref,
        message_id="m-slow",
        asker_id="US1",
        question="Where is the audit log?",
        answer="Settings, then Audit.",
        confidence=0.9,
        language="en",
        answerer="extractive",
        abstained=False,
        sources=[],
        top_path=None,
        at=NOW - timedelta(minutes=2),
    )
    return store


SCOPES = [
    Scope(),
    Scope(platform="slack"),
    Scope(platform="discord"),
    Scope(platform="slack", channel="CEDGE"),
    Scope(channel="slack:W1:C7"),
    Scope(workspace="slack:W1"),
]


@pytest.mark.parametrize("days", [1, 7, 30])
@pytest.mark.parametrize("scope", SCOPES, ids=lambda s: f"{s.platform}-{s.channel}-{s.workspace}")
def test_each_bucket_is_the_report_of_that_bucket(seeded: StateStore, days: int, scope: Scope) -> None:
    period = Period(since=NOW - timedelta(days=days), until=NOW)
    spans = buckets(period)
    whole, parts = collect_buckets(seeded, period, spans, scope, DEFINITIONS)
    assert whole == collect(seeded, period, scope, DEFINITIONS)
    assert [p.period for p in parts] == list(spans)
    for span, part in zip(spans, parts, strict=True):
        assert part == collect(seeded, span, scope, DEFINITIONS, top=0), span
    if scope.platform is None and scope.channel is None and scope.workspace is None:
        # not vacuous: the buckets have questions, outcomes of every kind, and tickets
        assert sum(p.metrics.questions for p in parts) == whole.metrics.questions > 0
        assert sum(p.metrics.confirmed_resolutions for p in parts) > 0
        assert sum(p.metrics.ratings_good + p.metrics.ratings_bad for p in parts) > 0
        assert any(p.metrics.human_first_response_p50_minutes is not None for p in parts)


def test_as_of_each_end_the_edges_count_where_collect_counts_them(seeded: StateStore) -> None:
    period = Period(since=NOW - timedelta(days=7), until=NOW)
    scope = Scope(platform="slack", channel="CEDGE")
    _, (first, second, *_) = collect_buckets(seeded, period, buckets(period), scope, DEFINITIONS)
    # the first day: UE2's follow-up counts (Not helpful comes later), UE4 rated bad (good comes
    # later) and resolved but not yet replied to; UE5's last reply stands in for its first
    assert first.metrics.unresolved == 1 and (first.metrics.ratings_good, first.metrics.ratings_bad) == (0, 1)
    assert first.metrics.human_first_responses == 1 and first.metrics.tickets_resolved == 1
    # the second day: UE1 asked exactly at its start, the hand-off exactly at its start
    assert second.metrics.answered == 1 and second.metrics.direct_handoffs == 1
    # the whole week sees the later rating
    assert collect(seeded, period, scope, DEFINITIONS).metrics.ratings_good == 1


def test_the_overview_trend_is_one_read_with_the_reports_figures(seeded: StateStore) -> None:
    period = Period(since=NOW - timedelta(days=30), until=NOW)
    trend = collect_trend(seeded, period, Scope(platform="slack"), DEFINITIONS)
    assert trend.report == collect(seeded, period, Scope(platform="slack"), DEFINITIONS)
    assert len(trend.buckets) == 5  # weeks for a month: four and a remainder
    assert trend.buckets[-1] == collect(
        seeded, trend.buckets[-1].period, Scope(platform="slack"), DEFINITIONS, top=0
    )


def test_buckets_shorter_than_the_question_lead_and_spans_that_do_not_cover(seeded: StateStore) -> None:
    # a period of a day and forty minutes cut into a day, then minutes: a message can be in
    # the lead hour of two later buckets at once
    since = NOW - timedelta(days=1, minutes=40)
    cuts = [since, NOW - timedelta(minutes=40), NOW - timedelta(minutes=30), NOW - timedelta(minutes=5), NOW]
    spans = [Period(since=a, until=b) for a, b in pairwise(cuts)]
    period = Period(since=since, until=NOW)
    whole, parts = collect_buckets(seeded, period, spans, Scope(), DEFINITIONS)
    assert whole == collect(seeded, period, Scope(), DEFINITIONS)
    assert list(parts) == [collect(seeded, s, Scope(), DEFINITIONS, top=0) for s in spans]
    assert parts[-1].metrics.bot_first_response_p90_seconds == 48 * 60  # the slow answer
    with pytest.raises(ValueError, match="consecutive"):
        collect_buckets(seeded, period, spans[1:], Scope(), DEFINITIONS)
