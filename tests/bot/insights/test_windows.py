"""Each question's fate worked out once and seen as of every bucket's end
(bot/insights/windows.py): on the cases where the period and a bucket see a question
differently, every bucket's figures are still exactly `collect`'s for that bucket, and the
period's exactly `collect`'s for the period."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bench.report import fill
from bot.dashboard.trends import buckets
from bot.hours import BusinessHours
from bot.insights.buckets import collect_buckets
from bot.insights.collect import Report, collect
from bot.insights.metrics import Definitions, Period, Scope
from bot.store import StateStore
from bot.types import Author, EscalationReason
from tests.bot.insights.week import DEFINITIONS, NOW, ask, escalate, say, thread

PERIOD = Period(since=NOW - timedelta(days=7), until=NOW)
CUT = PERIOD.since + timedelta(days=1)  # the end of the first day, the start of the second


def _answer(store: StateStore, channel: str, asker: str, message_id: str, when: timedelta) -> None:
    """A question answered at PERIOD.since + `when`, its message already recorded."""
    ref = thread(channel=channel)
    store.record_answer(
        ref=ref,
        message_id=message_id,
        asker_id=asker,
        question="Where is the audit log?",
        answer="Settings, then Audit.",
        confidence=0.9,
        language="en",
        answerer="extractive",
        abstained=False,
        sources=[],
        top_path=None,
        at=PERIOD.since + when,
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> StateStore:
    path: Path = tmp_path_factory.mktemp("windows") / "state.db"
    fill(path, 1500, 150, NOW)  # a month of support around the cases below
    store = StateStore(path)
    # CDUP: two messages with the same platform id in one thread (what a replay recorded before
    # platform messages were kept once: stores hold such pairs); the one read last (the
    # earlier in time) is outside the second day's lead hour, so that day finds the other
    ref = thread(channel="CDUP")
    store.record_message(
        ref,
        role="user",
        text="Where is the audit log?",
        at=CUT + timedelta(minutes=-10 + 30),  # inserted later in time first: rowid order is not time order
        now=CUT,
        author=Author(id="UD1"),
        platform_id="dup",
        asker_id="UD1",
    )
    store.add_message(
        ref,
        role="user",
        text="Where is the audit log?",
        at=CUT + timedelta(minutes=-200 + 30),
        author=Author(id="UD1"),
        platform_id="dup",
    )
    store.record_answer(
        ref=ref,
        message_id="dup",
        asker_id="UD1",
        question="Where is the audit log?",
        answer="Settings, then Audit.",
        confidence=0.9,
        language="en",
        answerer="extractive",
        abstained=False,
        sources=[],
        top_path=None,
        at=CUT + timedelta(minutes=30),
    )
    # CESC: answered on the first day, escalated on the second: by answer id, and by thread
    ref = thread(channel="CESC")
    a = ask(store, ref, "UC1", PERIOD.since + timedelta(hours=5))
    escalate(store, ref, "UC1", CUT + timedelta(hours=1), EscalationReason.NOT_HELPFUL, a)
    ref = thread(channel="CESC")
    ask(store, ref, "UC2", PERIOD.since + timedelta(hours=6))
    escalate(store, ref, "UC2", CUT + timedelta(hours=2), EscalationReason.ASKED_FOR_HUMAN)
    # CLATE: a follow-up after the assume-after window (not one), then thanks two days later;
    # a follow-up within the window but after the first day's end
    ref = thread(channel="CLATE")
    ask(store, ref, "UL1", PERIOD.since + timedelta(hours=2))
    say(store, ref, "UL1", "that did not work, the page says 404", PERIOD.since + timedelta(hours=27))
    say(store, ref, "UL1", "thanks!", CUT + timedelta(days=1, hours=1))
    ref = thread(channel="CLATE")
    ask(store, ref, "UL2", PERIOD.since + timedelta(hours=20))
    say(store, ref, "UL2", "that did not work either", CUT + timedelta(hours=3))
    # CTWO: two answers to one asker in one thread, a few hours apart: asking again is a
    # follow-up of the first (on the next day), the thank-you after the second is the second's
    ref = thread(channel="CTWO")
    ask(store, ref, "UT1", PERIOD.since + timedelta(hours=22))
    ask(store, ref, "UT1", CUT + timedelta(hours=2))
    say(store, ref, "UT1", "thank you so much", CUT + timedelta(hours=4))
    # CVERD: Not helpful given exactly at the first day's end: the next moment, not that day's
    ref = thread(channel="CVERD")
    a = ask(store, ref, "UV1", PERIOD.since + timedelta(hours=3))
    store.add_feedback(a, "UV1", "not_helpful", CUT)
    return store


def _each_is_collects(
    store: StateStore, scope: Scope, definitions: Definitions = DEFINITIONS
) -> tuple[Report, tuple[Report, ...]]:
    spans = buckets(PERIOD)
    whole, parts = collect_buckets(store, PERIOD, spans, scope, definitions)
    assert whole == collect(store, PERIOD, scope, definitions)
    for span, part in zip(spans, parts, strict=True):
        assert part == collect(store, span, scope, definitions, top=0), span
    return whole, parts


def test_the_asker_message_read_last_in_each_window(store: StateStore) -> None:
    whole, (first, second, *_) = _each_is_collects(store, Scope(channel="CDUP"))
    # the period reads both messages and keeps the last one read: 200 minutes before
    assert whole.metrics.bot_first_response_p50_seconds == 200 * 60
    # the second day reads only the one in its lead hour: 10 minutes before
    assert second.metrics.bot_first_response_p50_seconds == 10 * 60
    assert first.metrics.questions == 0


def test_a_ticket_escalates_only_in_a_window_holding_both(store: StateStore) -> None:
    whole, (first, second, *_) = _each_is_collects(store, Scope(channel="CESC"))
    assert whole.metrics.answered_then_escalated == 2
    assert (first.metrics.answered_then_escalated, first.metrics.escalations) == (0, 0)
    assert first.metrics.pending == 2  # as of the first day's end: neither old enough yet
    # the second day has the tickets but not the questions they escalate
    assert (second.metrics.escalations, second.metrics.answered_then_escalated) == (2, 0)


def test_follow_ups_and_thanks_as_of_each_end(store: StateStore) -> None:
    whole, (first, second, third, *_) = _each_is_collects(store, Scope(channel="CLATE"))
    # the period: UL1 thanked (its follow-up came after the window), UL2 followed up in time
    assert (whole.metrics.confirmed_resolutions, whole.metrics.unresolved) == (1, 1)
    # the first day's end saw neither message: both too young to assume anything
    assert (first.metrics.pending, first.metrics.unresolved, first.metrics.confirmed_resolutions) == (2, 0, 0)
    assert second.metrics.questions == third.metrics.questions == 0


def test_a_later_answer_in_the_thread_owns_what_follows_it(store: StateStore) -> None:
    whole, (first, second, *_) = _each_is_collects(store, Scope(channel="CTWO"))
    assert (whole.metrics.confirmed_resolutions, whole.metrics.unresolved) == (1, 1)
    # the first day's end saw neither the question asked again nor the thanks
    assert first.metrics.pending == 1 and first.metrics.unresolved == 0
    assert second.metrics.confirmed_resolutions == 1
    assert whole.metrics.askers == 1 and whole.metrics.repeat_askers == 0  # one thread


def test_other_settings_are_other_figures_and_still_collects(store: StateStore) -> None:
    # an hour to assume a resolution, and a team in Seoul on weekdays: what the settings change
    other = Definitions(
        assume_after=timedelta(hours=1),
        hours=BusinessHours.parse("10:00-19:00", ("mon", "tue", "wed", "thu", "fri"), "Asia/Seoul"),
    )
    whole, parts = _each_is_collects(store, Scope(platform="slack"), other)
    default, default_parts = collect_buckets(
        store, PERIOD, buckets(PERIOD), Scope(platform="slack"), DEFINITIONS
    )
    assert whole.metrics.assumed_resolutions > default.metrics.assumed_resolutions
    assert whole.metrics.human_first_response_p50_minutes != default.metrics.human_first_response_p50_minutes
    assert [p.metrics.pending for p in parts] != [p.metrics.pending for p in default_parts]


def test_a_verdict_given_at_a_bucket_end_is_the_next_moment(store: StateStore) -> None:
    whole, (first, *_) = _each_is_collects(store, Scope(channel="CVERD"))
    assert whole.metrics.unresolved == 1
    assert (first.metrics.unresolved, first.metrics.pending) == (0, 1)
