"""The overview's charts: SVG that parses, says what it shows to assistive technology and
escapes what it is given; and over loopback, each bar equal to `supportbot report`'s figure
for its day, an empty period saying so, and the labels in Korean."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.dashboard.charts import Series, bar_chart
from bot.dashboard.trends import CHARTS
from bot.insights.collect import collect
from bot.insights.metrics import Definitions, Period, Scope
from bot.insights.report import to_json
from bot.types import Author, ConversationRef, InboundMessage, Visibility
from tests.bot.dashboard.served import Client
from tests.bot.dashboard.test_dashboard import link_token, sign_in
from tests.fakes.clock import FakeClock

SVG = "{http://www.w3.org/2000/svg}"


def svgs(page: str) -> dict[str, ET.Element]:
    """Every chart on the page, parsed: by its data-chart name."""
    charts = [ET.fromstring(s) for s in re.findall(r"<svg .*?</svg>", page, re.DOTALL)]
    return {str(c.get("data-chart")): c for c in charts}


def bars(chart: ET.Element) -> dict[tuple[str, str], float]:
    return {
        (str(r.get("data-series")), str(r.get("data-label"))): float(str(r.get("data-value")))
        for r in chart.iter(f"{SVG}rect")
        if r.get("data-value") is not None
    }


def test_a_chart_is_well_formed_accessible_svg_with_its_text_escaped() -> None:
    chart = bar_chart(
        ident="chart-x",
        title='Answers <script>alert("x")</script> & co',
        labels=("11-28", "<b>", "11-30"),
        series=[Series(label="a&b", values=(3.0, None, 7.5)), Series(label="other", values=(0.0, 1.0, 2.0))],
        empty="Nothing",
    )
    assert "<script>" not in chart and "<b>" not in chart
    root = ET.fromstring(str(chart))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert title.text == 'Answers <script>alert("x")</script> & co'
    assert desc.text == "a&b: 11-28 3, <b> n/a, 11-30 7.5; other: 11-28 0, <b> 1, 11-30 2"
    assert bars(root) == {
        ("a&b", "11-28"): 3.0,
        ("a&b", "11-30"): 7.5,
        ("other", "11-28"): 0.0,
        ("other", "<b>"): 1.0,
        ("other", "11-30"): 2.0,
    }
    tips = [t.text for r in root.iter(f"{SVG}rect") if (t := r.find(f"{SVG}title")) is not None]
    assert "a&b, 11-30: 7.5" in tips
    heights = {
        (r.get("data-series"), r.get("data-label")): float(str(r.get("height")))
        for r in root.iter(f"{SVG}rect")
        if r.get("data-value") is not None
    }
    assert heights[("a&b", "11-30")] > heights[("a&b", "11-28")] > heights[("other", "11-28")] == 0


def test_a_chart_without_any_value_says_so_and_percentages_read_as_such() -> None:
    for values in ((None, None), (0.0, 0.0)):
        root = ET.fromstring(
            str(
                bar_chart(
                    ident="e",
                    title="CSAT",
                    labels=("a", "b"),
                    series=[Series(label="CSAT", values=values)],
                    empty="Nothing here.",
                )
            )
        )
        assert not bars(root)
        desc = root.find(f"{SVG}desc")
        assert desc is not None and desc.text == "Nothing here."
        assert [t.text for t in root.iter(f"{SVG}text")] == ["Nothing here."]
    csat = ET.fromstring(
        str(
            bar_chart(
                ident="c",
                title="CSAT",
                labels=("a",),
                series=[Series(label="CSAT", values=(0.75,))],
                empty="-",
                percent=True,
            )
        )
    )
    assert "a 75%" in str(csat.findtext(f"{SVG}desc")) and "100%" in [t.text for t in csat.iter(f"{SVG}text")]


async def ask(rt: Runtime, channel: ConsoleChannel, clock: FakeClock, text: str, event: str) -> None:
    message = InboundMessage(
        id=event,
        conversation=ConversationRef(platform="slack", workspace="T1", channel=f"C-{event}"),
        author=Author(id=f"U-{event}", name=event),
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=clock.now(),
    )
    await rt.bot.on_message(message, channel)


async def test_each_bar_is_the_report_of_its_day(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    start_at = clock.now()
    # three days of support: answers each day, a hand-off on two of them
    for day, (answers, handoffs) in enumerate(((2, 1), (0, 0), (3, 1))):
        clock.current = start_at + timedelta(days=day + 1)
        for n in range(answers):
            await ask(rt, channel, clock, "How do I reset my password?", f"d{day}a{n}")
        for n in range(handoffs):
            await ask(rt, channel, clock, "I want to talk to a human please", f"d{day}h{n}")
    clock.advance(hours=2)
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    page = await (await client.get("/admin/?period=7d")).text()
    charts = svgs(page)
    assert set(charts) == {f"chart-{spec.key}" for spec in CHARTS}
    definitions = Definitions.from_settings(rt.settings)
    since = clock.now() - timedelta(days=7)
    days = [Period(since=since + timedelta(days=i), until=since + timedelta(days=i + 1)) for i in range(7)]
    expected = [to_json(collect(rt.state, d, Scope(platform="slack"), definitions))["metrics"] for d in days]
    assert sum(m["answered"] for m in expected) == 5 and sum(m["escalations"] for m in expected) == 2
    for spec in CHARTS:
        shown = bars(charts[f"chart-{spec.key}"])
        for label, metric in spec.series:
            series = [v for (s, _), v in shown.items() if s == label]
            wanted = [m[metric] for m in expected if m[metric] is not None]
            if any(wanted):
                assert series == pytest.approx(wanted), (spec.key, label)
            else:
                assert series == [], (spec.key, label)
    # the labels are the days the buckets start on, and the table is still the whole period's
    labels = {label for _, label in bars(charts["chart-answers"])}
    assert labels == {f"{d.since:%m-%d}" for d in days}
    whole = to_json(
        collect(rt.state, Period(since=since, until=clock.now()), Scope(platform="slack"), definitions)
    )
    assert f'data-metric="answered">{whole["metrics"]["answered"]}<' in page
    assert len(page.encode()) < 200_000


async def test_an_empty_period_says_so_in_every_chart(rt: Runtime, clock: FakeClock, client: Client) -> None:
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    for period in ("1d", "30d"):
        page = await (await client.get(f"/admin/?period={period}")).text()
        charts = svgs(page)
        assert len(charts) == len(CHARTS)
        for chart in charts.values():
            assert not bars(chart) and chart.findtext(f"{SVG}desc") == "Nothing to chart in this period."


async def test_the_overview_reads_in_korean(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    await ask(rt, channel, clock, "How do I reset my password?", "k1")
    clock.advance(minutes=5)
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    page = await (await client.get("/admin/?period=1d", headers={"Accept-Language": "ko-KR"})).text()
    charts = svgs(page)
    assert charts["chart-answers"].findtext(f"{SVG}title") == "답변"
    assert ("답변함", f"{clock.now() - timedelta(days=1):%m-%d}") in bars(charts["chart-answers"])
    assert charts["chart-escalations"].findtext(f"{SVG}desc") == "이 기간에는 표시할 데이터가 없습니다."
    assert "기간별 추이" in page and "지원 수치" in page
