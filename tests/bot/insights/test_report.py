"""`supportbot report`'s periods and formats, and `/support stats` from the same figures."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.config import Settings
from bot.dashboard.trends import buckets
from bot.errors import StoreError
from bot.insights.buckets import collect_buckets
from bot.insights.collect import collect
from bot.insights.gaps import place
from bot.insights.metrics import Definitions, Metrics, Period, Scope
from bot.insights.report import (
    PeriodError,
    ReportFormat,
    chat_summary,
    parse_period,
    render,
    run_report,
)
from bot.store import StateStore
from bot.types import Author, Command, ConversationRef, Visibility
from tests.bot.insights.week import DEFINITIONS, NOW, WEEK, ask, script_week
from tests.fakes.clock import FakeClock

KNOWLEDGE = Path(__file__).resolve().parents[3] / "knowledge"
SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def week_store(tmp_path: Path) -> StateStore:
    store = StateStore(tmp_path / "state.db")
    script_week(store)
    return store


def test_periods_count_back_from_the_end_or_start_on_a_local_date() -> None:
    now = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # Monday 12:00 in Seoul
    seven = parse_period("7d", None, now=now, zone=SEOUL)
    assert (seven.since, seven.until) == (now - timedelta(days=7), now)
    dated = parse_period("2026-11-30", "2026-12-01", now=now, zone=SEOUL)
    assert dated.since == datetime(2026, 11, 30, tzinfo=SEOUL)
    assert dated.until == datetime(2026, 12, 2, tzinfo=SEOUL)  # the whole of the 1st is included
    back = parse_period("1d", "2026-12-01", now=now, zone=SEOUL)
    assert back.since == datetime(2026, 12, 1, tzinfo=SEOUL)
    assert parse_period("30d", "2027-01-01", now=now, zone=SEOUL).until == now  # never after now
    for since, until in (("yesterday", None), ("2026-12-08", None), ("7d", "2026-13-01")):
        with pytest.raises(PeriodError):
            parse_period(since, until, now=now, zone=SEOUL)


def test_json_has_the_documented_fields_as_plain_numbers(week_store: StateStore) -> None:
    place(week_store, 3, WEEK.until)  # what the running bot's clock does: gap questions into clusters
    report = collect(week_store, WEEK, Scope(), DEFINITIONS)
    doc = json.loads(render(report, ReportFormat.JSON))
    assert set(doc) == {
        "period",
        "scope",
        "definitions",
        "metrics",
        "by_platform",
        "by_workspace",
        "by_channel",
        "by_language",
        "top_questions",
        "gaps",
    }
    assert doc["metrics"]["questions"] == 11 and doc["metrics"]["escalations"] == 3
    assert doc["metrics"]["confirmed_resolutions"] == 4 and doc["metrics"]["assumed_resolutions"] == 1
    assert all(v is None or isinstance(v, int | float) for v in doc["metrics"].values())
    assert doc["by_platform"][0] == {
        "platform": "slack",
        "questions": 10,
        "answered": 8,
        "confirmed_resolutions": 3,
        "assumed_resolutions": 1,
        "escalations": 3,
        "escalation_rate": 0.3,
    }
    assert doc["top_questions"][0] == {"question": "How do I reset my password?", "count": 9}
    # the abstained question is a hard gap; the two answered and then escalated, a soft one
    assert [(g["question"], g["count"], g["kind"]) for g in doc["gaps"]] == [
        ("How do I reset my password?", 2, "soft"),
        ("How do I reset my password?", 1, "hard"),
    ]
    assert doc["definitions"]["assume_after_hours"] == 24


def test_every_metric_is_defined_in_the_guide() -> None:
    page = (KNOWLEDGE / "insights.md").read_text(encoding="utf-8")
    for field in fields(Metrics):
        assert f"`{field.name}`" in page, field.name


def test_table_markdown_and_csv_carry_the_same_figures(week_store: StateStore) -> None:
    report = collect(week_store, WEEK, Scope(), DEFINITIONS)
    table = render(report, ReportFormat.TABLE)
    assert "Support report 2026-11-30 00:00 to 2026-12-07 12:00 (UTC), all platforms" in table
    lines = {line.split()[0]: line.split()[-1] for line in table.splitlines() if line.strip()}
    assert lines["confirmed_resolutions"] == "4" and lines["escalation_rate"] == "27.3%"
    assert lines["human_first_response_p50_minutes"] == "30"
    markdown = render(report, ReportFormat.MARKDOWN)
    assert "| confirmed_resolutions | 4 |" in markdown and "## By platform" in markdown
    rows = list(csv.DictReader(io.StringIO(render(report, ReportFormat.CSV))))
    figures = {(r["section"], r["key"], r["figure"]): r["value"] for r in rows}
    assert figures[("metrics", "", "assumed_resolutions")] == "1"
    assert figures[("by_language", "ko", "confirmed_resolutions")] == "1"
    assert figures[("metrics", "", "csat")] == "1.0"


def test_chat_summary_keeps_confirmed_and_assumed_apart(week_store: StateStore) -> None:
    text = chat_summary(collect(week_store, WEEK, Scope(), DEFINITIONS), "Last 7 days")
    assert text.startswith("Last 7 days: 11 questions, 9 answered by the bot (82%), 3 escalations (27%).")
    assert "4 confirmed, 1 assumed" in text and "1 pending" in text
    assert "staff 30 min" in text and "Resolution 70 min" in text
    assert len(text.splitlines()) <= 6


def test_a_bare_channel_id_is_the_workspaces_own_or_the_report_names_every_workspace_it_matched(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    settings.data_dir.mkdir(parents=True)
    store = StateStore(settings.state_target)
    one = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1")
    two = ConversationRef(platform="slack", workspace="T2", channel="C1", thread="2")  # the same id in T2
    when = NOW - timedelta(days=1)
    for n, ref in enumerate((one, one, two)):
        ask(
            store,
            ref.in_thread(f"{ref.thread}{n}"),
            f"U{n}",
            when + timedelta(minutes=n),
            question=f"q {ref.workspace}",
        )
    for n, ref in enumerate((one, two, two)):  # draft-mode proposals: counted in SQL
        store.create_reply_draft(
            conversation=ref,
            message_id=f"d{n}",
            asker_id="U9",
            question="q",
            answer="a",
            answer_id=None,
            at=when,
        )

    def figures(**scope: str) -> tuple[int, int, list[str]]:
        report = collect(store, WEEK, Scope(**scope), DEFINITIONS)
        doc = json.loads(render(report, ReportFormat.JSON))
        return report.metrics.questions, report.metrics.drafts_proposed, doc["scope"]["matched_channels"]

    # with a workspace (as `--workspace`, or `/support stats` in it), its own C1 and no other
    assert figures(platform="slack", workspace="T1", channel="C1") == (2, 1, ["slack:T1:C1"])
    assert figures(workspace="slack:T2", channel="C1") == (1, 2, ["slack:T2:C1"])
    assert figures(workspace="T1", channel="C1") == (2, 1, ["slack:T1:C1"])  # no platform named
    # a full key is that channel exactly
    assert figures(channel="slack:T2:C1") == (1, 2, ["slack:T2:C1"])
    # a bare id alone counts every workspace's C1, and says so
    assert figures(channel="C1") == (3, 3, ["slack:T1:C1", "slack:T2:C1"])
    # a workspace alone (`/support stats` there, the overview of one workspace): its drafts only
    assert figures(workspace="T2")[:2] == (1, 2)
    assert figures(platform="slack", workspace="T1")[:2] == (2, 1)
    overall, days = collect_buckets(store, WEEK, buckets(WEEK), Scope(workspace="T2"), DEFINITIONS)
    assert overall.metrics.drafts_proposed == 2 and sum(d.metrics.drafts_proposed for d in days) == 2
    report = collect(store, WEEK, Scope(channel="C1"), DEFINITIONS)
    for fmt in (ReportFormat.TABLE, ReportFormat.MARKDOWN):
        text = render(report, fmt)
        assert "channel C1 in 2 workspaces (slack:T1, slack:T2), counted together" in text
        assert "--workspace" in text
    single = render(collect(store, WEEK, Scope(channel="slack:T1:C1"), DEFINITIONS), ReportFormat.TABLE)
    assert "channel slack:T1:C1" in single and "counted together" not in single
    rows = list(csv.DictReader(io.StringIO(render(report, ReportFormat.CSV))))
    assert [r["key"] for r in rows if r["section"] == "matched_channels"] == ["slack:T1:C1", "slack:T2:C1"]
    store.close()

    def command(**options: str | None) -> dict[str, Any]:
        text = run_report(settings, since="7d", until=None, fmt=ReportFormat.JSON, now=NOW, **options)  # type: ignore[arg-type]
        return dict(json.loads(text))

    doc = command(
        platform=None, channel="C1", workspace="T2"
    )  # `supportbot report --workspace T2 --channel C1`
    assert (doc["metrics"]["questions"], doc["metrics"]["drafts_proposed"]) == (1, 2)
    assert doc["scope"]["matched_channels"] == ["slack:T2:C1"]
    assert command(platform=None, channel="C1")["scope"]["matched_channels"] == ["slack:T1:C1", "slack:T2:C1"]


def test_report_without_a_state_database_creates_nothing(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    assert not settings.data_dir.exists()
    with pytest.raises(StoreError, match="no state database"):
        run_report(
            settings, since="7d", until=None, platform=None, channel=None, fmt=ReportFormat.JSON, now=NOW
        )
    assert not settings.data_dir.exists()


async def test_support_stats_shows_the_report_figures_for_its_workspace(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    clock.current = NOW
    rt = make_runtime('[slack]\nadmin_users = ["U-ADMIN"]\n')
    script_week(rt.state)  # Slack's questions in T1
    # another workspace's unanswered question: neither counted nor listed among T1's gaps
    elsewhere = ConversationRef(platform="slack", workspace="T2", channel="C1", thread="t2")
    ask(
        rt.state,
        elsewhere,
        "U-T2",
        NOW - timedelta(days=1),
        answered=False,
        question="Where is the T2 secret page?",
    )
    channel = ConsoleChannel(io.StringIO())
    command = Command(
        id="k1",
        name="stats",
        args="",
        invoker=Author(id="U-ADMIN"),
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C1"),
        visibility=Visibility.INTERNAL,
    )
    await rt.bot.on_command(command, channel)
    text = channel.posted[-1][1].text
    # the 7 days before Monday noon (Monday morning's two questions are older); Slack only,
    # so the Korean question on Discord is not counted here
    assert text.startswith("Last 7 days: 8 questions, 6 answered by the bot (75%), 3 escalations (38%).")
    assert "1 confirmed, 1 assumed" in text
    last_week = Period(since=NOW - timedelta(days=7), until=NOW)
    same = collect(
        rt.state,
        last_week,
        Scope(platform="slack", workspace="T1"),
        Definitions.from_settings(rt.settings),
        top=5,
    )
    assert text == chat_summary(same, "Last 7 days") and "T2 secret" not in text
    everywhere = collect(rt.state, last_week, Scope(platform="slack"), Definitions.from_settings(rt.settings))
    assert everywhere.metrics.questions == 9 and any("T2 secret" in g.question for g in everywhere.gaps)


def test_the_command_offers_every_format() -> None:
    from bot.cli import ReportFormatOption

    assert [f.value for f in ReportFormatOption] == [f.value for f in ReportFormat]
