"""Support metrics with published definitions: knowledge/insights.md is the contract.

It owns the definitions, as pure functions from the store's rows (bot/store/metrics.py) and
the settings to figures: what became of each question (confirmed, assumed, pending,
unresolved, escalated), response and resolution times in business minutes, percentiles, and
the same counts per platform, channel and language. Reading one period from a store and
computing them is `collect`'s (bot/insights/collect.py). Row by row, what became of each
question is bot/insights/outcomes.py's.

Every figure is computed "as of" the end of the period (never later than now): feedback,
messages and tickets after it are not seen, so a past week's report is stable.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from operator import itemgetter

from bot.config import Settings
from bot.hours import BusinessHours
from bot.insights.outcomes import Outcome, outcomes
from bot.store.metrics import AskerMessageRow, QuestionRow, TicketRow
from bot.store.reply_drafts import DraftCounts


class Rating(StrEnum):
    GOOD = "good"
    BAD = "bad"


class Dimension(StrEnum):
    PLATFORM = "platform"
    WORKSPACE = "workspace"  # a Slack team or a Discord guild: platform:workspace
    CHANNEL = "channel"
    LANGUAGE = "language"


@dataclass(frozen=True, kw_only=True)
class Period:
    """[since, until): a question belongs to the period its `created_at` falls in."""

    since: datetime
    until: datetime


@dataclass(frozen=True, kw_only=True)
class Scope:
    platform: str | None = None
    channel: str | None = None  # a channel id ("C0123") or a full key ("slack:T1:C0123")
    workspace: str | None = None  # a Slack team or Discord guild id ("T1") or "slack:T1"

    def pinned(self) -> Scope:
        """A bare channel id made the workspace's own channel key when the workspace (and so
        its platform) is given: `--workspace T1 --channel C1` is T1's C1, never another
        workspace's channel of that id, and SQL matches that key exactly."""
        if not self.channel or ":" in self.channel or not self.workspace:
            return self
        if ":" in self.workspace:
            return replace(self, channel=f"{self.workspace}:{self.channel}")
        if self.platform:
            return replace(self, channel=f"{self.platform}:{self.workspace}:{self.channel}")
        return self  # "T1" on any platform: the rows are narrowed to it after reading


@dataclass(frozen=True, kw_only=True)
class Definitions:
    """The settings that shape the figures, shown with every report."""

    assume_after: timedelta
    hours: BusinessHours

    @classmethod
    def from_settings(cls, settings: Settings) -> Definitions:
        e = settings.escalation
        return cls(
            assume_after=timedelta(hours=settings.insights.assume_after_hours),
            hours=BusinessHours.parse(e.business_hours, e.business_days, e.timezone),
        )


@dataclass(frozen=True, kw_only=True)
class Metrics:
    """The figures of knowledge/insights.md; field names are the JSON names."""

    questions: int
    answered: int
    abstained: int
    direct_handoffs: int
    confirmed_resolutions: int
    assumed_resolutions: int
    pending: int
    unresolved: int
    answered_then_escalated: int
    confirmed_resolution_rate: float | None
    assumed_resolution_rate: float | None
    escalations: int
    escalation_rate: float | None
    bot_first_response_p50_seconds: float | None
    bot_first_response_p90_seconds: float | None
    human_first_responses: int
    human_first_response_p50_minutes: float | None
    human_first_response_p90_minutes: float | None
    tickets_resolved: int
    time_to_resolution_p50_minutes: float | None
    time_to_resolution_p90_minutes: float | None
    ratings_good: int
    ratings_bad: int
    csat: float | None
    askers: int
    repeat_askers: int
    # draft-mode channels (bot/privacy/drafts.py): proposals on staff cards and what staff did
    drafts_proposed: int = 0
    drafts_posted: int = 0
    drafts_discarded: int = 0
    draft_acceptance_rate: float | None = None  # posted / (posted + discarded)


@dataclass(frozen=True, kw_only=True)
class Breakdown:
    """The counts of one platform, channel or language."""

    key: str
    questions: int
    answered: int
    confirmed_resolutions: int
    assumed_resolutions: int
    escalations: int
    escalation_rate: float | None


def channel_of(conversation: str) -> str:
    """`platform:workspace:channel` of a conversation key (`platform:workspace:channel:thread`)."""
    return ":".join(conversation.split(":", 3)[:3])


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest rank: the smallest observed value with at least p% of the values at or below it."""
    return _ranked(sorted(values), p)


def _ranked(ordered: Sequence[float], p: float) -> float | None:
    """`percentile` of values already in order: one sort serves the median and the 90th."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _thread_of(conversation: str, question_id: int) -> str:
    """A thread counts once for repeat askers; a thread-less channel counts each question."""
    return conversation if not conversation.endswith(":") else f"{conversation}#{question_id}"


def compute(
    questions: Sequence[QuestionRow],
    messages: Sequence[AskerMessageRow],
    tickets: Sequence[TicketRow],
    *,
    end: datetime,
    definitions: Definitions,
    drafts: DraftCounts | None = None,
) -> tuple[Metrics, dict[Dimension, tuple[Breakdown, ...]]]:
    fates = outcomes(questions, messages, tickets, end=end, assume_after=definitions.assume_after)
    # the asker's message is found by its platform id within the thread (ids are per channel)
    sent: dict[tuple[str, str | None], str] = {(m[0], m[3]): m[2] for m in messages}
    found = sent.get
    fromiso = datetime.fromisoformat
    bot_seconds = []
    for row in questions:
        asked = found((row.conversation, row.message_id))
        if asked is not None:
            seconds = (fromiso(row.created_at) - fromiso(asked)).total_seconds()
            bot_seconds.append(seconds if seconds > 0.0 else 0.0)  # max(0.0, seconds) without the call
    # _thread_of inlined for the questions: one call fewer per row
    visits = {
        (
            row.asker_id,
            row.conversation if not row.conversation.endswith(":") else f"{row.conversation}#{row.id}",
        )
        for row in questions
        if row.asker_id
    }
    # count each (channel, language, outcome) once: the outcome counts and the breakdowns
    asked_in = Counter(
        zip(
            [row.channel or channel_of(row.conversation) for row in questions],
            [row.language or "unknown" for row in questions],
            fates,
            strict=True,
        )
    )
    return figures(
        asked_in, bot_seconds, visits, tickets, definitions=definitions, drafts=drafts or DraftCounts()
    )


def figures(
    asked: Counter[tuple[str, str, Outcome]],
    bot_seconds: list[float],
    visits: set[tuple[str, str]],
    tickets: Sequence[TicketRow],
    *,
    definitions: Definitions,
    drafts: DraftCounts,
    minutes: dict[tuple[str, str], float] | None = None,
) -> tuple[Metrics, dict[Dimension, tuple[Breakdown, ...]]]:
    """The figures of one period from what its rows came to: its questions counted by
    (channel, language, outcome), the bot's response seconds, the (asker, thread) visits of
    its questions (extended here with its direct hand-offs), and its tickets as of its end.
    `compute` and the buckets (bot/insights/windows.py) both end here, so they cannot
    disagree on what a figure is. `minutes` keeps business minutes by (from, to) across
    calls: the buckets of a period see most tickets as the period does. `bot_seconds` is
    sorted in place (one sort for both percentiles)."""
    count: Counter[Outcome] = Counter()
    for (_, _, fate), n in asked.items():
        count[fate] += n
    questions = sum(count.values())
    direct = [t for t in tickets if t.direct]
    hours = definitions.hours
    kept = {} if minutes is None else minutes

    def working(start: str, end: str) -> float:
        found = kept.get((start, end))
        if found is None:
            found = kept[(start, end)] = hours.working_minutes(_time(start), _time(end))
        return found

    human = sorted(working(t.created_at, t.first_staff_reply_at) for t in tickets if t.first_staff_reply_at)
    resolution = sorted(working(t.created_at, t.resolved_at) for t in tickets if t.resolved_at)
    bot_seconds.sort()  # in place: the callers hand it over
    ratings = Counter(t.rating for t in tickets if t.rating)
    visits.update((t.asker_id, _thread_of(t.conversation, -t.id)) for t in direct if t.asker_id)
    threads_per_asker = Counter(map(itemgetter(0), visits))
    total = questions + len(direct)
    answered = questions - count[Outcome.ABSTAINED]
    good, bad = ratings[Rating.GOOD], ratings[Rating.BAD]
    metrics = Metrics(
        questions=total,
        answered=answered,
        abstained=count[Outcome.ABSTAINED],
        direct_handoffs=len(direct),
        confirmed_resolutions=count[Outcome.CONFIRMED],
        assumed_resolutions=count[Outcome.ASSUMED],
        pending=count[Outcome.PENDING],
        unresolved=count[Outcome.UNRESOLVED],
        answered_then_escalated=count[Outcome.ESCALATED],
        confirmed_resolution_rate=_rounded(_ratio(count[Outcome.CONFIRMED], answered), 4),
        assumed_resolution_rate=_rounded(_ratio(count[Outcome.ASSUMED], answered), 4),
        escalations=len(tickets),
        escalation_rate=_rounded(_ratio(len(tickets), total), 4),
        bot_first_response_p50_seconds=_rounded(_ranked(bot_seconds, 50), 3),
        bot_first_response_p90_seconds=_rounded(_ranked(bot_seconds, 90), 3),
        human_first_responses=len(human),
        human_first_response_p50_minutes=_rounded(_ranked(human, 50)),
        human_first_response_p90_minutes=_rounded(_ranked(human, 90)),
        tickets_resolved=len(resolution),
        time_to_resolution_p50_minutes=_rounded(_ranked(resolution, 50)),
        time_to_resolution_p90_minutes=_rounded(_ranked(resolution, 90)),
        ratings_good=good,
        ratings_bad=bad,
        csat=_rounded(_ratio(good, good + bad), 4),
        askers=len(threads_per_asker),
        repeat_askers=sum(1 for n in threads_per_asker.values() if n > 1),
        drafts_proposed=drafts.proposed,
        drafts_posted=drafts.posted,
        drafts_discarded=drafts.discarded,
        draft_acceptance_rate=_rounded(_ratio(drafts.posted, drafts.posted + drafts.discarded), 4),
    )
    return metrics, _breakdowns(asked, tickets)


def _breakdowns(
    asked: Counter[tuple[str, str, Outcome]], tickets: Sequence[TicketRow]
) -> dict[Dimension, tuple[Breakdown, ...]]:
    # each (channel, language, outcome) counted once, then rolled up: a few hundred
    # combinations instead of three dictionary updates for each of 100,000 questions
    opened = Counter((channel_of(t.conversation), t.language or "unknown", bool(t.direct)) for t in tickets)
    # per key: questions, answered, confirmed, assumed, escalations
    tallies: dict[Dimension, dict[str, list[int]]] = {
        d: defaultdict(lambda: [0, 0, 0, 0, 0]) for d in Dimension
    }

    def keys(channel: str, language: str) -> tuple[tuple[Dimension, str], ...]:
        platform, workspace = channel.split(":", 2)[:2]
        return (
            (Dimension.PLATFORM, platform),
            (Dimension.WORKSPACE, f"{platform}:{workspace}"),
            (Dimension.CHANNEL, channel),
            (Dimension.LANGUAGE, language),
        )

    for (channel, language, fate), n in asked.items():
        for dimension, key in keys(channel, language):
            tally = tallies[dimension][key]
            tally[0] += n
            tally[1] += n if fate != Outcome.ABSTAINED else 0
            tally[2] += n if fate == Outcome.CONFIRMED else 0
            tally[3] += n if fate == Outcome.ASSUMED else 0
    for (channel, language, direct), n in opened.items():
        for dimension, key in keys(channel, language):
            tally = tallies[dimension][key]
            tally[0] += n if direct else 0
            tally[4] += n
    return {
        dimension: tuple(
            Breakdown(
                key=key,
                questions=q,
                answered=a,
                confirmed_resolutions=c,
                assumed_resolutions=s,
                escalations=e,
                escalation_rate=_rounded(_ratio(e, q), 4),
            )
            for key, (q, a, c, s, e) in sorted(by_key.items(), key=lambda item: (-item[1][0], item[0]))
        )
        for dimension, by_key in tallies.items()
    }
