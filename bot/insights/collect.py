"""A period's report: `collect` reads one period from a store and computes its figures.

It owns the reading: the store's rows of one period (in one snapshot), narrowed to the
scope's channel and workspace, the open knowledge gaps beside them, and the `Report` that
holds them with the figures bot/insights/metrics.py defines. `supportbot report` and
`/support stats` both call `collect`, so they always agree.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bot.insights.metrics import (
    Breakdown,
    Definitions,
    Dimension,
    Metrics,
    Period,
    Scope,
    channel_of,
    compute,
)
from bot.ports import Store
from bot.store.gaps import GapStatus
from bot.store.metrics import AskerMessageRow, QuestionRow


class _Conversational(Protocol):
    @property
    def conversation(self) -> str: ...


_T = TypeVar("_T", bound=_Conversational)  # a ticket row, as of an end or with its moments


@dataclass(frozen=True, kw_only=True)
class Report:
    period: Period
    scope: Scope
    definitions: Definitions
    metrics: Metrics
    breakdowns: dict[Dimension, tuple[Breakdown, ...]]
    top_questions: tuple[tuple[str, int], ...]
    gaps: tuple[GapLine, ...]


def in_workspace(channel_key: str, wanted: str) -> bool:
    """Whether `channel_key` (platform:workspace:channel) is in workspace `wanted` ("T1" or "slack:T1")."""
    platform, workspace = channel_key.split(":", 2)[:2]
    return wanted in (workspace, f"{platform}:{workspace}")


def in_channel(channel_key: str, wanted: str) -> bool:
    if wanted.count(":") >= 2:
        return channel_key == wanted
    return channel_key.rsplit(":", 1)[-1] == wanted


@dataclass(frozen=True, kw_only=True)
class GapLine:
    """One open knowledge gap as reports show it."""

    id: int
    question: str  # the cluster's representative
    count: int  # how often it was asked
    kind: str  # hard: not answered; soft: answered and it did not help


def gaps(store: Store, scope: Scope, limit: int = 10) -> tuple[GapLine, ...]:
    """The open knowledge gaps (bot/insights/gaps.py), most asked first: each cluster's
    representative question and how often it was asked. Clusters are placed by the running
    bot's clock, so a report read beside it is at most one tick behind. With a workspace in
    the scope: its gaps alone."""
    workspace = scope.workspace.rsplit(":", 1)[-1] if scope.workspace else None
    return tuple(
        GapLine(id=g.id, question=g.representative, count=g.asks, kind=str(g.kind))
        for g in store.gaps(
            scope.platform, (GapStatus.OPEN,), limit, None if workspace is None else frozenset({workspace})
        )
    )


@contextmanager
def no_gc_pauses() -> Iterator[None]:
    """A report builds a few hundred thousand small tuples, none in a cycle; the cyclic
    collector would walk them again and again (40% of the time at 100,000 questions)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def collect(store: Store, period: Period, scope: Scope, definitions: Definitions, *, top: int = 10) -> Report:
    """The report of one period, read in one snapshot of the store."""
    with no_gc_pauses():
        return _collect(store, period, scope, definitions, top)


def narrowed(
    scope: Scope, questions: list[QuestionRow], messages: list[AskerMessageRow], tickets: list[_T]
) -> tuple[list[QuestionRow], list[AskerMessageRow], list[_T]]:
    """The rows of `scope`'s channel and workspace: SQL matched the channel by a pattern, and
    knows nothing of workspaces (several on one install: Slack OAuth, several guilds)."""
    if scope.channel:
        wanted = scope.channel
        questions = [q for q in questions if in_channel(q.channel or channel_of(q.conversation), wanted)]
        messages = [m for m in messages if in_channel(channel_of(m.conversation), wanted)]
        tickets = [t for t in tickets if in_channel(channel_of(t.conversation), wanted)]
    if scope.workspace:
        ws = scope.workspace
        questions = [q for q in questions if in_workspace(q.channel or channel_of(q.conversation), ws)]
        messages = [m for m in messages if in_workspace(channel_of(m.conversation), ws)]
        tickets = [t for t in tickets if in_workspace(channel_of(t.conversation), ws)]
    return questions, messages, tickets


def _collect(store: Store, period: Period, asked: Scope, definitions: Definitions, top: int) -> Report:
    scope = asked.pinned()
    args = (period.since, period.until, scope.platform, scope.channel)
    with store.metrics_snapshot():
        questions = store.metric_questions(*args)
        messages = store.metric_asker_messages(*args)
        tickets = store.metric_tickets(*args)
        top_questions = store.top_questions(*args, limit=top, workspace=scope.workspace)
        unanswered = gaps(store, scope, top)
        drafts = store.draft_counts(*args, workspace=scope.workspace)
    questions, messages, tickets = narrowed(scope, questions, messages, tickets)
    metrics, breakdowns = compute(
        questions, messages, tickets, end=period.until, definitions=definitions, drafts=drafts
    )
    return Report(
        period=period,
        scope=asked,
        definitions=definitions,
        metrics=metrics,
        breakdowns=breakdowns,
        top_questions=tuple(top_questions),
        gaps=unanswered,
    )
