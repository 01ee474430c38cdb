"""The overview's figures over time: the selected period cut into buckets (days, or weeks for
a month or more), each bucket's figures, and which of them the overview charts.

Each bucket's figures are exactly what `bot.insights.collect.collect` (and so `supportbot
report --since START --until END`) gives for it: "as of" its end, so a bucket's numbers are
the report's for that bucket, not a share of the whole period's. All of them, and the whole
period's, come from one read of the store in one snapshot (bot/insights/buckets.py), so the
table and the charts never disagree about what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup

from bot.dashboard.charts import Series, bar_chart
from bot.insights.buckets import collect_buckets
from bot.insights.collect import Report, collect
from bot.insights.metrics import Definitions, Period, Scope
from bot.ports import Store

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
WEEKLY_FROM = timedelta(days=30)  # a month or more is charted per week: a few bars, not thirty


@dataclass(frozen=True, kw_only=True)
class Trend:
    """The whole period's report (the table) and one per bucket (the charts), oldest first."""

    report: Report
    buckets: tuple[Report, ...]


@dataclass(frozen=True, kw_only=True)
class ChartSpec:
    """One chart of the overview: its title and, per series, its label and metric name."""

    key: str
    title: str
    series: tuple[tuple[str, str], ...]
    percent: bool = False


# what the overview charts: English titles and labels, the keys of their Korean (i18n.py)
CHARTS = (
    ChartSpec(key="answers", title="Answers", series=(("answered", "answered"),)),
    ChartSpec(
        key="resolutions",
        title="Resolutions: confirmed and assumed",
        series=(("confirmed", "confirmed_resolutions"), ("assumed", "assumed_resolutions")),
    ),
    ChartSpec(key="escalations", title="Escalations", series=(("escalations", "escalations"),)),
    ChartSpec(
        key="first-response",
        title="First response by the team, median (business minutes)",
        series=(("median minutes", "human_first_response_p50_minutes"),),
    ),
    ChartSpec(key="csat", title="CSAT", series=(("CSAT", "csat"),), percent=True),
)


def buckets(period: Period) -> tuple[Period, ...]:
    """`period` cut into consecutive days from its start (weeks for 30 days or more); the
    last one ends with the period, so none reaches past now."""
    step = WEEK if period.until - period.since >= WEEKLY_FROM else DAY
    cuts: list[Period] = []
    start = period.since
    while start < period.until:
        end = min(start + step, period.until)
        cuts.append(Period(since=start, until=end))
        start = end
    return tuple(cuts)


def collect_trend(store: Store, period: Period, scope: Scope, definitions: Definitions) -> Trend:
    """The whole period's report and each bucket's, from one read of the store in one
    snapshot (bot/insights/buckets.py). Run it on the store's thread."""
    spans = buckets(period)
    if spans == (period,):  # one bucket: the period itself
        report = collect(store, period, scope, definitions)
        return Trend(report=report, buckets=(report,))
    report, parts = collect_buckets(store, period, spans, scope, definitions)
    return Trend(report=report, buckets=parts)


def values(reports: tuple[Report, ...], metric: str) -> tuple[float | None, ...]:
    """One metric of each report, as `supportbot report --format json` writes it."""
    return tuple(_number(getattr(r.metrics, metric)) for r in reports)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def labels(reports: tuple[Report, ...], zone: ZoneInfo) -> tuple[str, ...]:
    """Each bucket by the day it starts on, in the team's time zone (weeks by their first day)."""
    return tuple(f"{r.period.since.astimezone(zone):%m-%d}" for r in reports)


def overview_charts(trend: Trend, zone: ZoneInfo, t: Callable[[str], str]) -> tuple[tuple[str, Markup], ...]:
    """The overview's charts with their titles, in the viewer's language (`t`)."""
    shown = labels(trend.buckets, zone)
    return tuple(
        (
            t(spec.title),
            bar_chart(
                ident=f"chart-{spec.key}",
                title=t(spec.title),
                labels=shown,
                series=[
                    Series(label=t(label), values=values(trend.buckets, metric))
                    for label, metric in spec.series
                ],
                empty=t("Nothing to chart in this period."),
                percent=spec.percent,
            ),
        )
        for spec in CHARTS
    )
