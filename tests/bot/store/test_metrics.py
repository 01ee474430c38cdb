"""The rows behind support metrics: one snapshot per report, old rows without a channel,
and which message counts as the team's first reply."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.dashboard.trends import buckets
from bot.insights.buckets import collect_buckets
from bot.insights.collect import collect
from bot.insights.metrics import Scope
from bot.store import StateStore
from bot.types import Author, ConversationRef, EscalationReason
from tests.bot.insights.week import DEFINITIONS, NOW, WEEK, ask, at, escalate, script_week, thread


def test_a_report_reads_one_snapshot_while_the_bot_writes(state: Path | str) -> None:
    reader, writer = StateStore(state), StateStore(state)
    ask(writer, thread(), "U1", at(1, 10))
    with reader.metrics_snapshot():
        before = len(reader.metric_questions(WEEK.since, WEEK.until))
        ask(writer, thread(), "U2", at(1, 11))  # the running bot answers meanwhile
        assert len(reader.metric_questions(WEEK.since, WEEK.until)) == before == 1
    assert len(reader.metric_questions(WEEK.since, WEEK.until)) == 2
    assert not reader.db.conn.in_transaction


def test_rows_from_before_the_channel_column_are_found_by_their_conversation(state: Path | str) -> None:
    store = StateStore(state)
    ask(store, thread(channel="C7"), "U1", at(1, 10))
    ask(store, thread(channel="C8"), "U2", at(1, 11))
    store.db.execute("update answers set channel = null")  # as migration 0005 left older rows
    rows = store.metric_questions(WEEK.since, WEEK.until, channel="C7")
    assert [(r.asker_id, r.channel) for r in rows] == [("U1", None)]
    assert len(store.metric_questions(WEEK.since, WEEK.until, channel="slack:T1:C8")) == 1
    assert store.metric_questions(WEEK.since, WEEK.until, platform="discord") == []


def test_the_first_human_response_is_the_first_staff_message_after_the_ticket(state: Path | str) -> None:
    store = StateStore(state)
    ref: ConversationRef = thread()
    staff = Author(id="S1")
    store.add_message(ref, role="staff", text="earlier chatter", at=at(1, 9), author=staff)
    answer = ask(store, ref, "U1", at(1, 10), answered=False)  # the bot's own post is role "bot"
    escalate(store, ref, "U1", at(1, 10), EscalationReason.LOW_CONFIDENCE, answer)
    store.add_message(ref, role="staff", text="on it", at=at(1, 10, 25), author=staff)
    store.add_message(ref, role="staff", text="fixed", at=at(1, 11), author=staff)
    [ticket] = store.metric_tickets(WEEK.since, WEEK.until)
    assert ticket.first_staff_reply_at == at(1, 10, 25).isoformat(timespec="milliseconds")
    assert not ticket.direct and ticket.resolved_at is None
    # as of before the reply, there is none yet
    [early] = store.metric_tickets(WEEK.since, at(1, 10, 20))
    assert early.first_staff_reply_at is None


def test_messages_of_the_period_are_read_with_short_texts_only(state: Path | str) -> None:
    store = StateStore(state)
    ref = thread()
    ask(store, ref, "U1", at(1, 10))
    store.add_message(ref, role="user", text="x" * 500, at=at(1, 10, 5), author=Author(id="U1"))
    store.add_message(ref, role="staff", text="staff are not askers", at=at(1, 10, 6), author=Author(id="S1"))
    late = NOW + timedelta(minutes=1)
    store.add_message(thread(), role="user", text="too late", at=late, author=Author(id="U2"))
    rows = store.metric_asker_messages(WEEK.since, NOW)
    assert [(r.author_id, r.text) for r in rows] == [("U1", "How do I reset my password?"), ("U1", None)]
    assert rows[0].platform_id is not None  # how the question's answer finds when it was asked
    assert store.metric_asker_messages(WEEK.since, NOW, platform="discord") == []


def test_one_read_of_a_week_gives_each_days_report_on_both_engines(state: Path | str) -> None:
    # the moments behind the figures (verdicts, first replies, resolutions, ratings) read the
    # same on PostgreSQL, and the one-day reads use the `at` index there and here alike
    store = StateStore(state)
    script_week(store)
    spans = buckets(WEEK)
    whole, days = collect_buckets(store, WEEK, spans, Scope(), DEFINITIONS)
    assert whole == collect(store, WEEK, Scope(), DEFINITIONS)
    assert [d.metrics for d in days] == [
        collect(store, s, Scope(), DEFINITIONS, top=0).metrics for s in spans
    ]
    assert [d.metrics.confirmed_resolutions for d in days] == [1, 2, 0, 0, 0, 0, 0, 0]
    # Friday's ticket was answered, resolved and rated on Monday: after its day ended
    assert whole.metrics.ratings_good == 1 and whole.metrics.human_first_responses == 1
    assert days[4].metrics.escalations == 1 and days[4].metrics.human_first_responses == 0
    assert sum(d.metrics.ratings_good for d in days) == 0
