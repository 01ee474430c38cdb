"""Support metrics: exact figures from a scripted week in a real store, and the edge cases
knowledge/insights.md defines (pending, escalated, as of the end of the period)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.insights.collect import collect
from bot.insights.metrics import Dimension, Period, Scope, percentile
from bot.insights.outcomes import Outcome, outcomes
from bot.store import StateStore
from bot.store.metrics import AskerMessageRow, QuestionRow
from tests.bot.insights.week import DEFINITIONS, NOW, WEEK, at, script_week


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    state = StateStore(tmp_path / "state.db")
    script_week(state)
    return state


def test_a_scripted_week_gives_exact_figures(store: StateStore) -> None:
    m = collect(store, WEEK, Scope(), DEFINITIONS).metrics
    assert (m.confirmed_resolutions, m.assumed_resolutions) == (4, 1)
    assert (m.human_first_responses, m.human_first_response_p50_minutes) == (
        1,
        30.0,
    )  # Fri 17:50 -> Mon 09:20
    assert m.human_first_response_p90_minutes == 30.0
    assert (m.questions, m.answered, m.abstained, m.direct_handoffs) == (11, 9, 1, 1)
    assert (m.pending, m.unresolved, m.answered_then_escalated) == (1, 2, 1)
    # every answered question ends in exactly one of the five
    assert (
        m.confirmed_resolutions + m.assumed_resolutions + m.pending + m.unresolved + m.answered_then_escalated
        == (m.answered)
    )
    assert (m.escalations, m.escalation_rate) == (3, round(3 / 11, 4))
    assert (m.confirmed_resolution_rate, m.assumed_resolution_rate) == (round(4 / 9, 4), round(1 / 9, 4))
    assert m.bot_first_response_p50_seconds == m.bot_first_response_p90_seconds == 2.0
    assert (m.tickets_resolved, m.time_to_resolution_p50_minutes) == (1, 70.0)
    assert (m.ratings_good, m.ratings_bad, m.csat) == (1, 0, 1.0)
    assert (m.askers, m.repeat_askers) == (9, 2)  # U1 and U3 came back in new threads


def test_breakdowns_per_platform_channel_and_language(store: StateStore) -> None:
    report = collect(store, WEEK, Scope(), DEFINITIONS)
    by = {d.value: {b.key: b for b in rows} for d, rows in report.breakdowns.items()}
    assert set(by["platform"]) == {"slack", "discord"}
    slack, discord = by["platform"]["slack"], by["platform"]["discord"]
    assert (slack.questions, slack.answered, slack.confirmed_resolutions, slack.escalations) == (10, 8, 3, 3)
    assert (discord.questions, discord.confirmed_resolutions, discord.escalation_rate) == (1, 1, 0.0)
    assert set(by["channel"]) == {"slack:T1:C1", "discord:G1:D1"}
    assert by["language"]["ko"].confirmed_resolutions == 1 and by["language"]["en"].assumed_resolutions == 1


def test_platform_and_channel_scopes_count_only_theirs(store: StateStore) -> None:
    discord = collect(store, WEEK, Scope(platform="discord"), DEFINITIONS).metrics
    assert (discord.questions, discord.confirmed_resolutions, discord.escalations) == (1, 1, 0)
    for channel in ("D1", "discord:G1:D1"):
        assert collect(store, WEEK, Scope(channel=channel), DEFINITIONS).metrics.questions == 1
    assert collect(store, WEEK, Scope(channel="C9"), DEFINITIONS).metrics.questions == 0


def test_a_workspace_scope_and_the_per_workspace_breakdown(store: StateStore) -> None:
    whole = collect(store, WEEK, Scope(), DEFINITIONS)
    by_workspace = {b.key: b.questions for b in whole.breakdowns[Dimension.WORKSPACE]}
    assert by_workspace == {"slack:T1": whole.metrics.questions - 1, "discord:G1": 1}
    for workspace in ("G1", "discord:G1"):
        assert collect(store, WEEK, Scope(workspace=workspace), DEFINITIONS).metrics.questions == 1
    assert collect(store, WEEK, Scope(workspace="slack:G1"), DEFINITIONS).metrics.questions == 0


def test_figures_are_as_of_the_end_of_the_period(store: StateStore) -> None:
    """On Tuesday 10:30, Monday's 11:00 answer is not a day old and its Solved is still to come:
    pending. Monday's Helpful and Tuesday 10:03's thank-you are already there: confirmed."""
    early = collect(store, Period(since=WEEK.since, until=at(1, 10, 30)), Scope(), DEFINITIONS).metrics
    assert (early.questions, early.confirmed_resolutions, early.assumed_resolutions, early.pending) == (
        3,
        2,
        0,
        1,
    )
    assert early.escalations == 0
    # the Helpful that came after the report's moment (on the pending question) is not seen
    assert collect(store, WEEK, Scope(), DEFINITIONS).metrics.pending == 1


def _question(created: datetime, *, verdict: str | None = None, abstained: bool = False) -> QuestionRow:
    stamp = created.isoformat(timespec="milliseconds")
    return QuestionRow(1, stamp, "slack:T1:C1:1", "slack:T1:C1", "U1", "en", abstained, None, verdict)


def test_an_answer_is_assumed_once_the_window_has_passed_and_pending_before() -> None:
    window = timedelta(hours=24)
    answered = NOW - window
    assert outcomes([_question(answered)], [], [], end=NOW, assume_after=window) == [Outcome.ASSUMED]
    young = answered + timedelta(milliseconds=1)
    assert outcomes([_question(young)], [], [], end=NOW, assume_after=window) == [Outcome.PENDING]


def test_follow_ups_count_within_the_window_and_negative_verdicts_always() -> None:
    window = timedelta(hours=24)
    answered = NOW - timedelta(days=3)

    def said(text: str, after: timedelta) -> AskerMessageRow:
        stamp = (answered + after).isoformat(timespec="milliseconds")
        return AskerMessageRow("slack:T1:C1:1", "U1", stamp, None, text)

    def fate(*messages: AskerMessageRow, verdict: str | None = None) -> Outcome:
        return outcomes([_question(answered, verdict=verdict)], messages, [], end=NOW, assume_after=window)[0]

    assert fate(said("still broken, any idea?", timedelta(hours=1))) == Outcome.UNRESOLVED
    assert fate(said("still broken, any idea?", timedelta(hours=30))) == Outcome.ASSUMED  # a new question
    assert fate(said("that fixed it", timedelta(minutes=5))) == Outcome.CONFIRMED
    assert fate(said("ok", timedelta(minutes=5))) == Outcome.ASSUMED
    assert fate(said("x" * 300, timedelta(minutes=5))) == Outcome.UNRESOLVED  # long: never a thank-you
    assert fate(said("thanks", timedelta(minutes=5)), verdict="still_stuck") == Outcome.UNRESOLVED
    assert fate(verdict="helpful") == Outcome.CONFIRMED
    # a message from someone else in the thread is not the asker's
    stamp = (answered + timedelta(minutes=1)).isoformat()
    other = AskerMessageRow("slack:T1:C1:1", "U2", stamp, None, "thanks")
    assert fate(other) == Outcome.ASSUMED
    assert outcomes([_question(answered, abstained=True)], [], [], end=NOW, assume_after=window) == [
        Outcome.ABSTAINED
    ]


def test_percentiles_are_nearest_rank_observed_values() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 6.0, 7.0, 8.0, 9.0]
    assert (percentile(values, 50), percentile(values, 90)) == (5.0, 9.0)
    assert percentile([7.0], 90) == 7.0 and percentile([], 50) is None


def test_an_empty_period_has_no_rates(tmp_path: Path) -> None:
    empty = StateStore(tmp_path / "empty.db")
    m = collect(empty, Period(since=NOW - timedelta(days=7), until=NOW), Scope(), DEFINITIONS).metrics
    assert (m.questions, m.escalation_rate, m.csat, m.human_first_response_p50_minutes) == (
        0,
        None,
        None,
        None,
    )
