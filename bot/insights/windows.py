"""What became of each question of one read, worked out once, then seen as of several ends.

The overview shows a period and its buckets (days or weeks), each "as of" its own end exactly
as `collect` gives it (bot/insights/buckets.py reads the rows). Running `compute` on the
period and again on every bucket walks every row twice and classifies every message twice.
Here each question's fate is reduced, in one pass over the rows, to the moments it depends
on: when its verdict was given, its first thank-you, its first follow-up within the
assume-after window, whether a ticket of its own window escalated it, and when its own
message was sent. As of an end, the fate is then a few comparisons, in the order
bot/insights/outcomes.py decides it, and the figures come from `figures`, as `compute`'s do.

Why the moments are enough: a later message of the asker's belongs to their latest answer in
the thread before it (`outcomes`); within a window, that is the same answer when it is in the
window, and no answer otherwise, since a window's questions are every question of its time
span. So ownership is found once over the whole read and only checked per window; a
message or ticket after a window's end is not in that window's read, which is "its moment is
before the end". The one exception is an edited question whose first answer is in an earlier
bucket (it takes its thread from that answer, which its bucket does not read): the buckets of
its thread are worked out again as they have it (`_refate_buckets`). tests/bot/insights/test_buckets.py and test_windows.py compare every
window with `collect`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.insights.metrics import Breakdown, Definitions, Dimension, Metrics, channel_of, figures
from bot.insights.outcomes import (
    NEGATIVE,
    POSITIVE,
    Kind,
    Outcome,
    answers_by_thread,
    owned_messages,
    owner,
    owns_from,
)
from bot.store.metrics import QUESTION_LEAD, AskerMessageRow, QuestionRow, TicketMoments, TicketRow
from bot.store.reply_drafts import DraftCounts
from bot.store.store import iso

NEVER = "\uffff"  # after every ISO moment: "no such moment" compares as later than any end
FATES = tuple(Outcome)
ABSTAINED, ESCALATED, UNRESOLVED, CONFIRMED, ASSUMED, PENDING = (
    FATES.index(o)
    for o in (
        Outcome.ABSTAINED,
        Outcome.ESCALATED,
        Outcome.UNRESOLVED,
        Outcome.CONFIRMED,
        Outcome.ASSUMED,
        Outcome.PENDING,
    )
)


@dataclass(frozen=True, kw_only=True)
class Window:
    """A span of the read, [since, until), seen as of `until`: the whole read or a bucket."""

    since: datetime
    until: datetime
    tickets: tuple[TicketRow, ...]  # its tickets, as of its end
    drafts: DraftCounts


Figures = tuple[Metrics, dict[Dimension, tuple[Breakdown, ...]]]


def compute_windows(
    questions: Sequence[QuestionRow],
    given: dict[int, str],
    messages: Sequence[AskerMessageRow],
    tickets: Sequence[TicketMoments],
    whole: Window,
    buckets: Sequence[Window],
    definitions: Definitions,
) -> tuple[Figures, list[Figures]]:
    """`compute` for each window, from the rows of the whole read: `questions` with the
    verdict as of the read's end and when each was `given`, the asker messages, the tickets
    (each window brings its own, as of its end); `buckets` are consecutive and cover
    `whole`."""
    n = len(questions)
    starts = [iso(w.since) for w in buckets]
    created = [q.created_at for q in questions]
    bucket_of = [bisect_right(starts, at) - 1 for at in created]

    latest = answers_by_thread(questions)
    assume_after = definitions.assume_after
    thanked, followed = _first_moments(owned_messages(latest, messages), created, assume_after)
    # the asker's own message by (thread, platform id): the last one read wins, as in compute()
    sent: dict[tuple[str, str | None], str] = {(m[0], m[3]): m[2] for m in messages}
    # a platform id read more than once (rare): each window wants the last one it reads
    repeated: dict[tuple[str, str | None], list[str]] = {}
    if len(sent) < len(messages):
        every: dict[tuple[str, str | None], list[str]] = {}
        for m in messages:
            every.setdefault((m[0], m[3]), []).append(m[2])
        repeated = {key: ats for key, ats in every.items() if len(ats) > 1}

    # escalated by a ticket of the whole read, and by one of the question's own bucket
    by_id = {row.id: i for i, row in enumerate(questions)}
    escalated_whole = [False] * n
    escalated_bucket = [False] * n
    for ticket in tickets:
        if ticket.answer_id is not None:
            to = by_id.get(ticket.answer_id)
        else:
            to = owner(latest, ticket.conversation, ticket.asker_id, ticket.created_at)
        if to is not None:
            escalated_whole[to] = True
            if bisect_right(starts, ticket.created_at) - 1 == bucket_of[to]:
                escalated_bucket[to] = True

    # each question as of the read's end and as of its own bucket's end, in one pass
    ends = [iso(w.until) for w in buckets]
    settled = [iso(w.until - assume_after) for w in buckets]
    leads = [iso(w.since - QUESTION_LEAD) for w in buckets]
    end = iso(whole.until)
    settled_whole = iso(whole.until - assume_after)
    # fates as their index in FATES: tuples of ints hash in C, enum members through Python
    fates_whole: list[int] = []
    fates_bucket: list[int] = []
    seconds_whole: list[float] = []
    seconds_bucket: list[list[float]] = [[] for _ in buckets]
    visits_bucket: list[set[tuple[str, str]]] = [set() for _ in buckets]
    fromiso = datetime.fromisoformat
    for i, (qid, created_at, conversation, _, asker, _, abstained, message_id, verdict, _) in enumerate(
        questions
    ):
        b = bucket_of[i]
        bucket_end = ends[b]
        first_follow_up, first_thanks = followed[i], thanked[i]
        if abstained:
            fates_whole.append(ABSTAINED)
            fates_bucket.append(ABSTAINED)
        elif (
            verdict is None and first_follow_up is NEVER and first_thanks is NEVER and not escalated_whole[i]
        ):  # most questions: nothing came of them but time (escalated_bucket implies _whole)
            fates_whole.append(ASSUMED if created_at <= settled_whole else PENDING)
            fates_bucket.append(ASSUMED if created_at <= settled[b] else PENDING)
        else:
            fates_whole.append(
                ESCALATED
                if escalated_whole[i]
                else _fate(verdict, first_follow_up, first_thanks, created_at, end, settled_whole)
            )
            if verdict is not None and given[qid] >= bucket_end:
                verdict = None  # given after the bucket's end: not seen in it yet
            fates_bucket.append(
                ESCALATED
                if escalated_bucket[i]
                else _fate(verdict, first_follow_up, first_thanks, created_at, bucket_end, settled[b])
            )
        if asker:  # _thread_of inlined, as in compute()
            thread = conversation if not conversation.endswith(":") else f"{conversation}#{qid}"
            visits_bucket[b].add((asker, thread))
        sent_key = (conversation, message_id)
        message_at = sent.get(sent_key)
        if message_at is None:
            continue
        seconds = (fromiso(created_at) - fromiso(message_at)).total_seconds()
        seconds = seconds if seconds > 0.0 else 0.0  # max(0.0, seconds) without the call
        seconds_whole.append(seconds)
        # the bucket reads the messages of [its start - lead, its end): the last one of those
        if sent_key in repeated:
            read = next((at for at in reversed(repeated[sent_key]) if leads[b] <= at < bucket_end), None)
            if read is not None:
                seconds = (fromiso(created_at) - fromiso(read)).total_seconds()
                seconds_bucket[b].append(seconds if seconds > 0.0 else 0.0)
        elif leads[b] <= message_at < bucket_end:
            seconds_bucket[b].append(seconds)

    taken = _taken_in_buckets(questions, bucket_of, starts)
    if taken is not None:
        _refate_buckets(
            questions,
            given,
            messages,
            tickets,
            taken=taken,
            bucket_of=bucket_of,
            starts=starts,
            ends=ends,
            settled=settled,
            assume_after=assume_after,
            fates_bucket=fates_bucket,
        )

    channels = [row.channel or channel_of(row.conversation) for row in questions]
    languages = [row.language or "unknown" for row in questions]
    asked_bucket: list[Counter[tuple[str, str, Outcome]]] = [Counter() for _ in buckets]
    for (b, channel, language, fate), count in Counter(
        zip(bucket_of, channels, languages, fates_bucket, strict=True)
    ).items():
        asked_bucket[b][(channel, language, FATES[fate])] = count
    asked_whole: Counter[tuple[str, str, Outcome]] = Counter()
    for (channel, language, fate), count in Counter(
        zip(channels, languages, fates_whole, strict=True)
    ).items():
        asked_whole[(channel, language, FATES[fate])] = count
    minutes: dict[tuple[str, str], float] = {}  # business minutes, shared by the windows
    # the period's visits before figures() adds each bucket's hand-offs to the bucket's set
    visits_whole: set[tuple[str, str]] = set().union(*visits_bucket)  # a question is in one bucket
    period = figures(
        asked_whole,
        seconds_whole,
        visits_whole,
        whole.tickets,
        definitions=definitions,
        drafts=whole.drafts,
        minutes=minutes,
    )
    parts = [
        figures(
            asked_bucket[b],
            seconds_bucket[b],
            visits_bucket[b],
            window.tickets,
            definitions=definitions,
            drafts=window.drafts,
            minutes=minutes,
        )
        for b, window in enumerate(buckets)
    ]
    return period, parts


def _first_moments(
    owned: Iterable[tuple[int, str, Kind]], created: Sequence[str], assume_after: timedelta
) -> tuple[list[str], list[str]]:
    """The first thank-you and the first follow-up within the assume-after window of each
    answer, from the asker messages each owns (`owned_messages`)."""
    thanked = [NEVER] * len(created)
    followed = [NEVER] * len(created)
    window_end: dict[int, str] = {}
    for answer, at, kind in owned:
        if kind == Kind.CONFIRMS:
            if at < thanked[answer]:
                thanked[answer] = at
        elif kind == Kind.FOLLOW_UP and at < followed[answer]:
            limit = window_end.get(answer)
            if limit is None:
                limit = window_end[answer] = iso(datetime.fromisoformat(created[answer]) + assume_after)
            if at < limit:
                followed[answer] = at
    return thanked, followed


def _taken_in_buckets(
    questions: Sequence[QuestionRow], bucket_of: Sequence[int], starts: Sequence[str]
) -> list[str] | None:
    """When each question takes its thread as its own bucket reads it, where that is not when
    the whole read has it take it (`owns_from`), else None. Only an edited question's can
    differ: its first answer in an earlier bucket is not in its bucket's read (nor in its
    `collect`), where it takes the thread from its first answer in the bucket."""
    if not any(q.revised_at for q in questions):
        return None
    taken = [
        next((at for at in q.revised_at if at >= starts[b]), q.created_at) if q.revised_at else q.created_at
        for q, b in zip(questions, bucket_of, strict=True)
    ]
    return None if all(t == owns_from(q) for t, q in zip(taken, questions, strict=True)) else taken


def _refate_buckets(
    questions: Sequence[QuestionRow],
    given: dict[int, str],
    messages: Sequence[AskerMessageRow],
    tickets: Sequence[TicketMoments],
    *,
    taken: Sequence[str],
    bucket_of: Sequence[int],
    starts: Sequence[str],
    ends: Sequence[str],
    settled: Sequence[str],
    assume_after: timedelta,
    fates_bucket: list[int],
) -> None:
    """The bucket fates of the questions in a thread where one is taken later in its bucket
    than in the whole read (`_taken_in_buckets`), worked out again with the thread as the
    buckets have it: the rare edit across a bucket's start. `fates_bucket` is changed."""
    moved = {(q.conversation, q.asker_id) for q, t in zip(questions, taken, strict=True) if t != owns_from(q)}
    created = [q.created_at for q in questions]
    by_bucket = answers_by_thread(questions, taken)
    thanked, followed = _first_moments(owned_messages(by_bucket, messages), created, assume_after)
    by_id = {row.id: i for i, row in enumerate(questions)}
    escalated = [False] * len(questions)
    for ticket in tickets:
        if ticket.answer_id is not None:
            to = by_id.get(ticket.answer_id)
        else:
            to = owner(by_bucket, ticket.conversation, ticket.asker_id, ticket.created_at)
        if to is not None and bisect_right(starts, ticket.created_at) - 1 == bucket_of[to]:
            escalated[to] = True
    for i, q in enumerate(questions):
        if q.abstained or (q.conversation, q.asker_id) not in moved:
            continue
        b = bucket_of[i]
        verdict = q.verdict if q.verdict is None or given[q.id] < ends[b] else None
        fates_bucket[i] = (
            ESCALATED
            if escalated[i]
            else _fate(verdict, followed[i], thanked[i], q.created_at, ends[b], settled[b])
        )


def _fate(
    verdict: str | None, followed: str, thanked: str, created: str, end: str, settled_before: str
) -> int:
    """What became of an answered question that no ticket of its window escalated, as of
    `end`: the rest of `outcomes`' order, from the moments worked out once."""
    if verdict in NEGATIVE:
        return UNRESOLVED
    if verdict in POSITIVE:
        return CONFIRMED
    if followed < end:
        return UNRESOLVED
    if thanked < end:
        return CONFIRMED
    if created <= settled_before:
        return ASSUMED
    return PENDING
