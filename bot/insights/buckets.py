"""A period's report and the reports of its buckets (consecutive parts of it), from one read.

The overview charts a period day by day (or week by week), and each bucket's figures must be
exactly `collect`'s for that bucket, "as of" the bucket's end: feedback, messages, replies,
resolutions and ratings after it are not seen. Collecting each bucket on its own reads the
store once per bucket, a scan of the answers and messages every time; here the period is
read once, with the moments behind its figures (when a verdict was given, when a ticket got
its first staff reply, was resolved, was rated). Each question's fate is then worked out once
from those rows and seen as of the period's end and of its bucket's end
(bot/insights/windows.py), and every window's figures come from the same `figures` as
`compute`'s: the same definitions, so the same figures, from one pass over the rows instead
of one for the period and another for its buckets.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence

from bot.insights.collect import Report, gaps, narrowed, no_gc_pauses
from bot.insights.metrics import Definitions, Period, Scope
from bot.insights.windows import Window, compute_windows
from bot.ports import Store
from bot.store.metrics import RatingRow, TicketMoments, TicketRow
from bot.store.store import iso


def collect_buckets(
    store: Store,
    period: Period,
    spans: Sequence[Period],
    scope: Scope,
    definitions: Definitions,
    *,
    top: int = 10,
) -> tuple[Report, tuple[Report, ...]]:
    """`collect(period)` and `collect(span, top=0)` for each of `spans` (consecutive, covering
    the period), read in one snapshot. Run it on the store's thread."""
    with no_gc_pauses():
        return _collect_buckets(store, period, tuple(spans), scope, definitions, top)


def _collect_buckets(
    store: Store,
    period: Period,
    spans: tuple[Period, ...],
    asked: Scope,
    definitions: Definitions,
    top: int,
) -> tuple[Report, tuple[Report, ...]]:
    ends = [period.since] + [s.until for s in spans]
    if not spans or [s.since for s in spans] != ends[:-1] or ends[-1] != period.until:
        raise ValueError("the spans must be consecutive and cover the period")
    scope = asked.pinned()  # as collect reads it: a bare channel of a workspace is its own
    args = (period.since, period.until, scope.platform, scope.channel)
    with store.metrics_snapshot():
        questions, given = store.metric_question_moments(*args)
        messages = store.metric_asker_messages(*args)
        moments, ratings = store.metric_ticket_moments(*args)
        top_questions = store.top_questions(*args, limit=top, workspace=scope.workspace)
        unanswered = gaps(store, scope, top)
        drafts = [store.draft_counts(*args, workspace=scope.workspace)] + [
            store.draft_counts(s.since, s.until, scope.platform, scope.channel, workspace=scope.workspace)
            for s in spans
        ]
    questions, messages, moments = narrowed(scope, questions, messages, moments)
    rated = _by_ticket(ratings)
    starts = [iso(s.since) for s in spans]
    ticket_starts = [bisect_right(starts, t.created_at) - 1 for t in moments]

    def window(span: Period, n: int) -> Window:
        end = iso(span.until)
        tickets = tuple(
            _as_of(t, rated.get(t.id, ()), end)
            for t, b in zip(moments, ticket_starts, strict=True)
            if n == 0 or b == n - 1
        )
        return Window(since=span.since, until=span.until, tickets=tickets, drafts=drafts[n])

    computed_whole, computed_parts = compute_windows(
        questions,
        given,
        messages,
        moments,
        window(period, 0),
        [window(span, i + 1) for i, span in enumerate(spans)],
        definitions,
    )
    computed = [computed_whole, *computed_parts]

    def report(n: int, span: Period) -> Report:
        metrics, breakdowns = computed[n]
        return Report(
            period=span,
            scope=asked,
            definitions=definitions,
            metrics=metrics,
            breakdowns=breakdowns,
            top_questions=tuple(top_questions) if n == 0 else (),
            gaps=unanswered if n == 0 else (),
        )

    return report(0, period), tuple(report(i + 1, span) for i, span in enumerate(spans))


def _by_ticket(ratings: list[RatingRow]) -> dict[int, list[RatingRow]]:
    found: dict[int, list[RatingRow]] = defaultdict(list)
    for rating in ratings:
        found[rating.ticket_id].append(rating)
    return found


def _as_of(t: TicketMoments, ratings: Sequence[RatingRow], end: str) -> TicketRow:
    """The ticket as `metric_tickets` reads it for a period ending at `end` (ISO text)."""
    if t.staff_reply_at is not None and t.staff_reply_at < end:
        first: str | None = t.staff_reply_at
    else:  # no staff message before the end: the last reply stands in if it was before it
        first = (
            t.last_staff_reply_at
            if t.last_staff_reply_at is not None and t.last_staff_reply_at < end
            else None
        )
    resolved = t.resolved_at if t.resolved_at is not None and t.resolved_at < end else None
    rating = None
    for r in ratings:  # oldest first: the last one before the end is the rating then
        if r.at < end:
            rating = r.rating
    return TicketRow(
        id=t.id,
        created_at=t.created_at,
        conversation=t.conversation,
        asker_id=t.asker_id,
        answer_id=t.answer_id,
        language=t.language,
        direct=t.direct,
        first_staff_reply_at=first,
        resolved_at=resolved,
        rating=rating,
    )
