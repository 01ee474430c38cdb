"""The optimised outcome and figure code against a straightforward reference, on random rows.

bot/insights/outcomes.py and metrics.py inline their helpers and memoise message kinds for
speed; this file keeps the plain version of those loops (one helper call per row, one
classification per message) and checks both give the same outcomes and the same figures on
random threads where the hard cases happen: several answers to one asker in a thread, equal
times, messages before, between and after answers, tickets with and without an answer id.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.hours import BusinessHours
from bot.insights.metrics import Definitions, Dimension, compute
from bot.insights.outcomes import NEGATIVE, POSITIVE, Kind, Outcome, kind_of, outcomes
from bot.store.metrics import AskerMessageRow, QuestionRow, TicketRow
from bot.store.store import iso

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
END = START + timedelta(days=3)
WINDOW = timedelta(hours=24)
DEFINITIONS = Definitions(
    assume_after=WINDOW, hours=BusinessHours.parse("09:00-18:00", ("mon", "tue", "wed", "thu", "fri"), "UTC")
)
THREADS = ("slack:T1:C1:1", "slack:T1:C1:2", "discord:G1:C2:", "slack:T2:C3:7")
PEOPLE = ("U1", "U2", None)
TEXTS = ("thanks!", "ok", "감사합니다", "that did not work", "got it", "x" * 250, None)
VERDICTS = (None, "helpful", "not_helpful", "solved", "still_stuck")


# the drawn rows: hours after START and the fields each row is made of
Q = tuple[int, str, str | None, bool, str | None, str | None, bool]
M = tuple[int, str, str, str | None, int]
T = tuple[int, str, str | None, int | None, bool]


def _stamp(hours: int) -> str:
    return iso(START + timedelta(hours=hours))


questions_st = st.lists(
    st.tuples(
        st.integers(0, 72),
        st.sampled_from(THREADS),
        st.sampled_from(PEOPLE),
        st.booleans(),
        st.sampled_from(VERDICTS),
        st.sampled_from(("en", "ko", None)),
        st.booleans(),
    ),
    max_size=25,
)
messages_st = st.lists(
    st.tuples(
        st.integers(-2, 72),
        st.sampled_from(THREADS),
        st.sampled_from(("U1", "U2")),
        st.sampled_from(TEXTS),
        st.integers(0, 30),
    ),
    max_size=40,
)
tickets_st = st.lists(
    st.tuples(
        st.integers(0, 72),
        st.sampled_from(THREADS),
        st.sampled_from(PEOPLE),
        st.one_of(st.none(), st.integers(1, 30)),
        st.booleans(),
    ),
    max_size=10,
)


def _rows(
    qs: list[Q], ms: list[M], ts: list[T]
) -> tuple[list[QuestionRow], list[AskerMessageRow], list[TicketRow]]:
    questions = [
        QuestionRow(
            i,
            _stamp(h),
            conv,
            None if legacy else ":".join(conv.split(":")[:3]),
            asker,
            language,
            abstained and verdict is None,
            f"p{i}",
            verdict,
        )
        for i, (h, conv, asker, abstained, verdict, language, legacy) in enumerate(qs, start=1)
    ]
    messages = [
        AskerMessageRow(conv, author, _stamp(h), f"p{pid}", text) for h, conv, author, text, pid in ms
    ]
    tickets = [
        TicketRow(
            i,
            _stamp(h),
            conv,
            asker,
            answer,
            "en",
            direct and answer is None,
            _stamp(h + 1) if i % 2 else None,
            _stamp(h + 30) if i % 3 else None,
            ("good", "bad", None)[i % 3],
        )
        for i, (h, conv, asker, answer, direct) in enumerate(ts, start=1)
    ]
    return questions, messages, tickets


def _reference_outcomes(
    questions: list[QuestionRow], messages: list[AskerMessageRow], tickets: list[TicketRow]
) -> list[Outcome]:
    """The rules of knowledge/insights.md, one helper call per row and nothing cached."""
    latest: dict[tuple[str, str | None], list[tuple[str, int]]] = {}
    for i, row in enumerate(questions):
        latest.setdefault((row.conversation, row.asker_id), []).append((row.created_at, i))
    for found in latest.values():
        found.sort()

    def owner(conversation: str, author: str | None, at: str) -> int | None:
        found = latest.get((conversation, author), [])
        before = found[: bisect_left(found, (at,))]
        return before[-1][1] if before else None

    thanked: set[int] = set()
    followed_up: set[int] = set()
    escalated: set[int] = set()
    for m in messages:
        to = owner(m.conversation, m.author_id, m.at)
        if to is None:
            continue
        if kind_of(m.text) == Kind.CONFIRMS:
            thanked.add(to)
        elif kind_of(m.text) == Kind.FOLLOW_UP and m.at < iso(
            datetime.fromisoformat(questions[to].created_at) + WINDOW
        ):
            followed_up.add(to)
    by_id = {row.id: i for i, row in enumerate(questions)}
    for t in tickets:
        to = (
            by_id.get(t.answer_id)
            if t.answer_id is not None
            else owner(t.conversation, t.asker_id, t.created_at)
        )
        if to is not None:
            escalated.add(to)
    result = []
    for i, row in enumerate(questions):
        if row.abstained:
            result.append(Outcome.ABSTAINED)
        elif i in escalated:
            result.append(Outcome.ESCALATED)
        elif row.verdict in NEGATIVE:
            result.append(Outcome.UNRESOLVED)
        elif row.verdict in POSITIVE:
            result.append(Outcome.CONFIRMED)
        elif i in followed_up:
            result.append(Outcome.UNRESOLVED)
        elif i in thanked:
            result.append(Outcome.CONFIRMED)
        elif row.created_at <= iso(END - WINDOW):
            result.append(Outcome.ASSUMED)
        else:
            result.append(Outcome.PENDING)
    return result


@settings(max_examples=300, deadline=None)
@given(questions_st, messages_st, tickets_st)
def test_outcomes_match_the_reference(qs: list[Q], ms: list[M], ts: list[T]) -> None:
    questions, messages, tickets = _rows(qs, ms, ts)
    assert outcomes(questions, messages, tickets, end=END, assume_after=WINDOW) == _reference_outcomes(
        questions, messages, tickets
    )


@settings(max_examples=150, deadline=None)
@given(questions_st, messages_st, tickets_st)
def test_figures_match_the_reference(qs: list[Q], ms: list[M], ts: list[T]) -> None:
    questions, messages, tickets = _rows(qs, ms, ts)
    metrics, breakdowns = compute(questions, messages, tickets, end=END, definitions=DEFINITIONS)
    fates = Counter(_reference_outcomes(questions, messages, tickets))
    assert (metrics.confirmed_resolutions, metrics.assumed_resolutions, metrics.pending) == (
        fates[Outcome.CONFIRMED],
        fates[Outcome.ASSUMED],
        fates[Outcome.PENDING],
    )
    assert (metrics.unresolved, metrics.answered_then_escalated, metrics.abstained) == (
        fates[Outcome.UNRESOLVED],
        fates[Outcome.ESCALATED],
        fates[Outcome.ABSTAINED],
    )
    # the asker's message by (thread, platform id), the last one read winning
    sent: dict[tuple[str, str | None], str] = {}
    for m in messages:
        sent[(m.conversation, m.platform_id)] = m.at
    bot = sorted(
        max(0.0, (datetime.fromisoformat(q.created_at) - datetime.fromisoformat(sent[key])).total_seconds())
        for q in questions
        if (key := (q.conversation, q.message_id)) in sent
    )
    expected_p50 = round(bot[max(0, -(-len(bot) // 2) - 1)], 3) if bot else None
    assert metrics.bot_first_response_p50_seconds == expected_p50
    threads: dict[str, set[str]] = {}
    for q in questions:
        if q.asker_id:
            thread = q.conversation if not q.conversation.endswith(":") else f"{q.conversation}#{q.id}"
            threads.setdefault(q.asker_id, set()).add(thread)
    for t in tickets:
        if t.direct and t.asker_id:
            thread = t.conversation if not t.conversation.endswith(":") else f"{t.conversation}#{-t.id}"
            threads.setdefault(t.asker_id, set()).add(thread)
    assert (metrics.askers, metrics.repeat_askers) == (
        len(threads),
        sum(1 for seen in threads.values() if len(seen) > 1),
    )
    by_channel = Counter(q.channel or ":".join(q.conversation.split(":")[:3]) for q in questions)
    by_channel.update(":".join(t.conversation.split(":")[:3]) for t in tickets if t.direct)
    assert {b.key: b.questions for b in breakdowns[Dimension.CHANNEL] if b.questions} == dict(by_channel)
