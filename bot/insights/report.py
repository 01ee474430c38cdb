"""`supportbot report` and the figures of `/support stats`: periods, formats, the command.

It owns how a report is asked for (`--since 7d`, dates in the team's time zone), how it is
written out (a table for people, JSON for tools, CSV for spreadsheets, Markdown for a wiki
page, a few lines for chat) and how the command reads the data directory: only if a state
database is there, and without creating anything. The figures come from
bot/insights/metrics.py; the names of the JSON fields are those of knowledge/insights.md.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.errors import SupportBotError
from bot.insights.collect import Report, collect
from bot.insights.metrics import Breakdown, Definitions, Dimension, Metrics, Period, Scope
from bot.privacy.redaction import quoted, quoted_plain


class ReportFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"


class PeriodError(SupportBotError):
    """--since or --until cannot be read."""


_RELATIVE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def _moment(text: str, zone: ZoneInfo, *, end_of_day: bool) -> datetime:
    """A date (the start of that day, or with `end_of_day` the start of the next one, so
    `--until 2026-12-06` includes the 6th) or a date and time, in the team's time zone."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), time(0), tzinfo=zone)
            return day + timedelta(days=1) if end_of_day else day
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PeriodError(
            f"{value!r} is not a period: use 1d, 7d, 30d (or 12h, 2w), a date like 2026-11-30, "
            "or a date and time like 2026-11-30T09:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def parse_period(since: str, until: str | None, *, now: datetime, zone: ZoneInfo) -> Period:
    """`--since` is 1d / 7d / 30d (counted back from the end) or a date; `--until` a date or
    nothing (now). A period never ends after now: what has not happened is not counted."""
    end = min(_moment(until, zone, end_of_day=True), now) if until else now
    relative = _RELATIVE.match(since)
    if relative:
        start = end - int(relative.group(1)) * _UNITS[relative.group(2).lower()]
    else:
        start = _moment(since, zone, end_of_day=False)
    if start >= end:
        raise PeriodError(
            f"the period is empty: it starts {start:%Y-%m-%d %H:%M} and ends {end:%Y-%m-%d %H:%M}"
        )
    return Period(since=start, until=end)


# -- writing it out -------------------------------------------------------------------------

_BREAKDOWN_FIELDS = (
    "questions",
    "answered",
    "confirmed_resolutions",
    "assumed_resolutions",
    "escalations",
    "escalation_rate",
)


def to_json(report: Report) -> dict[str, Any]:
    """The JSON document: `metrics` holds the figures of knowledge/insights.md as plain numbers
    (null where a figure has nothing to be computed from, e.g. a rate of zero questions)."""
    report = shown(report)
    defs = report.definitions
    return {
        "period": {"since": report.period.since.isoformat(), "until": report.period.until.isoformat()},
        "scope": {
            "platform": report.scope.platform,
            "workspace": report.scope.workspace,
            "channel": report.scope.channel,
            "matched_channels": list(matched_channels(report)),
        },
        "definitions": {
            "assume_after_hours": defs.assume_after.total_seconds() / 3600,
            "business_hours": defs.hours.describe(),
        },
        "metrics": asdict(report.metrics),
        **{
            f"by_{dimension}": [_breakdown_dict(dimension, b) for b in rows]
            for dimension, rows in report.breakdowns.items()
        },
        "top_questions": [{"question": q, "count": n} for q, n in report.top_questions],
        "gaps": [{"id": g.id, "question": g.question, "count": g.count, "kind": g.kind} for g in report.gaps],
    }


def _breakdown_dict(dimension: Dimension, row: Breakdown) -> dict[str, Any]:
    return {str(dimension): row.key, **{name: getattr(row, name) for name in _BREAKDOWN_FIELDS}}


def _cell(name: str, value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and (name.endswith("_rate") or name == "csat"):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _grid(headers: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        # the first column is a name (left), the others are figures (right)
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _title(report: Report) -> str:
    zone = report.definitions.hours.zone
    since, until = report.period.since.astimezone(zone), report.period.until.astimezone(zone)
    where = report.scope.platform or "all platforms"
    if report.scope.workspace:
        where += f", workspace {report.scope.workspace}"
    if report.scope.channel:
        where += f", channel {_channel_line(report)}"
    return f"Support report {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} ({zone.key}), {where}"


def matched_channels(report: Report) -> tuple[str, ...]:
    """The channels (platform:workspace:channel) a channel scope counted questions or tickets
    in: a bare channel id found in several workspaces is counted in each, and said so."""
    if not report.scope.channel:
        return ()
    return tuple(sorted(b.key for b in report.breakdowns.get(Dimension.CHANNEL, ())))


def _channel_line(report: Report) -> str:
    """The channel asked for; a bare id found in several workspaces is counted in each (a
    Slack Connect or Enterprise Grid channel is one channel seen from several), and the
    title names them, with how to keep one."""
    channel, matched = report.scope.channel or "", matched_channels(report)
    workspaces = sorted({key.rsplit(":", 1)[0] for key in matched})
    if ":" in channel or len(workspaces) < 2:
        return matched[0] if len(matched) == 1 else channel
    return (
        f"{channel} in {len(workspaces)} workspaces ({', '.join(workspaces)}), counted together: "
        "add --workspace W, or give platform:workspace:channel, for one"
    )


def shown(report: Report, quote: Callable[[str], str] = quoted_plain) -> Report:
    """The report as it is written out, in any format: the questions people wrote (the top
    questions, the gaps') through `quoted_plain` (`quoted` in Markdown), as every copy the bot
    makes of them, since a report is pasted into wikis, tickets and chat."""
    return replace(
        report,
        top_questions=tuple((quote(q), n) for q, n in report.top_questions),
        gaps=tuple(replace(g, question=quote(g.question)) for g in report.gaps),
    )


def to_text(report: Report, markdown: bool = False) -> str:
    report = shown(report, quoted if markdown else quoted_plain)
    defs = report.definitions
    heading = "## " if markdown else ""
    parts = [
        ("# " if markdown else "") + _title(report),
        f"Assumed resolutions: no follow-up, escalation or Not helpful within "
        f"{defs.assume_after.total_seconds() / 3600:g} h. Business hours: {defs.hours.describe()}. "
        "Definitions: knowledge/insights.md.",
        "",
        _grid(
            ["figure", "value"],
            [[name, _cell(name, value)] for name, value in asdict(report.metrics).items()],
            markdown,
        ),
    ]
    for dimension, rows in report.breakdowns.items():
        parts += [
            "",
            f"{heading}By {dimension}",
            _grid(
                [str(dimension), *_BREAKDOWN_FIELDS],
                [[b.key, *(_cell(n, getattr(b, n)) for n in _BREAKDOWN_FIELDS)] for b in rows],
                markdown,
            ),
        ]
    parts += [
        "",
        f"{heading}Top questions",
        _grid(["question", "count"], [[q, str(n)] for q, n in report.top_questions], markdown),
        "",
        f"{heading}Knowledge gaps (hard: not answered; soft: answered, did not help)",
        _grid(
            ["gap", "kind", "question", "count"],
            [[f"#{g.id}", g.kind, g.question, str(g.count)] for g in report.gaps],
            markdown,
        ),
    ]
    return "\n".join(parts)


def to_csv(report: Report) -> str:
    """Long format, one figure a row: section, key, figure, value (easy to pivot)."""
    report = shown(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "key", "figure", "value"])
    for key in matched_channels(report):
        writer.writerow(["matched_channels", key, "workspace", key.rsplit(":", 1)[0]])
    for name, value in asdict(report.metrics).items():
        writer.writerow(["metrics", "", name, "" if value is None else value])
    for dimension, rows in report.breakdowns.items():
        for b in rows:
            for name in _BREAKDOWN_FIELDS:
                value = getattr(b, name)
                writer.writerow([f"by_{dimension}", b.key, name, "" if value is None else value])
    for question, count in report.top_questions:
        writer.writerow(["top_questions", question, "count", count])
    for gap in report.gaps:
        writer.writerow(["gaps", f"#{gap.id} {gap.question}", "count", gap.count])
        writer.writerow(["gaps", f"#{gap.id} {gap.question}", "kind", gap.kind])
    return out.getvalue().rstrip("\n")


def render(report: Report, fmt: ReportFormat) -> str:
    if fmt == ReportFormat.JSON:
        return json.dumps(to_json(report), ensure_ascii=False, indent=2)
    if fmt == ReportFormat.CSV:
        return to_csv(report)
    return to_text(report, markdown=fmt == ReportFormat.MARKDOWN)


def _duration(minutes: float | None) -> str:
    if minutes is None:
        return "n/a"
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def chat_summary(report: Report, label: str) -> str:
    """A few lines for `/support stats`: the same figures as the report, readable in chat."""
    m: Metrics = report.metrics
    hours = report.definitions.assume_after.total_seconds() / 3600
    bot = m.bot_first_response_p50_seconds
    lines = [
        f"{label}: {m.questions} questions, {m.answered} answered by the bot ({_share(_of(m.answered, m.questions))}), "
        f"{m.escalations} escalations ({_share(m.escalation_rate)}).",
        f"Resolutions: {m.confirmed_resolutions} confirmed, {m.assumed_resolutions} assumed "
        f"(no complaint within {hours:g} h; counted apart), {m.pending} pending, {m.unresolved} unresolved.",
        f"First response: bot {'n/a' if bot is None else f'{bot:g} s'}; staff "
        f"{_duration(m.human_first_response_p50_minutes)} (p90 {_duration(m.human_first_response_p90_minutes)}, "
        f"business time). Resolution {_duration(m.time_to_resolution_p50_minutes)}. "
        f"CSAT {_share(m.csat)} of {m.ratings_good + m.ratings_bad} ratings. Repeat askers: {m.repeat_askers}.",
    ]
    if report.gaps:
        lines.append("Most asked questions the documentation does not answer:")
        lines += [f"- #{g.id} ({g.count}x, {g.kind}) {quoted(g.question, 100)}" for g in report.gaps]
    return "\n".join(lines)


def _of(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# -- the command ------------------------------------------------------------------------------


def run_report(
    settings: Settings,
    *,
    since: str,
    until: str | None,
    platform: str | None,
    channel: str | None,
    fmt: ReportFormat,
    now: datetime,
    workspace: str | None = None,
) -> str:
    """`supportbot report`: read the state (state.db in the data directory, also while the bot
    runs: SQLite in WAL mode lets a reader in beside the writer; or the PostgreSQL database the
    settings name) and write the report out."""
    from bot.store import StateStore
    from bot.store.state import long_reads

    definitions = Definitions.from_settings(settings)
    period = parse_period(since, until, now=now, zone=definitions.hours.zone)
    store = StateStore.open_recorded(settings)
    try:
        scope = Scope(platform=platform, channel=channel, workspace=workspace)
        with long_reads(store):  # a month of a big install: longer than the bot's own statements
            report = collect(store, period, scope, definitions)
    finally:
        store.close()
    return render(report, fmt)
