"""The overview in the browser shows the figures `supportbot report --format json` prints for
the same period and platform: the real CLI is run over the same data directory. The served
dashboard computes them in the background (bot/dashboard/warm.py), so a question asked just
before is on the page once they are computed again: the test reloads until it is."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from playwright.async_api import Page
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.insights.metrics import Definitions
from bot.insights.report import parse_period
from tests.bot.dashboard.browser.conftest import ADMIN, Contexts, Site

pytestmark = pytest.mark.asyncio(loop_scope="session")


def cli_report(site: Site, since: str) -> dict[str, Any]:
    """`supportbot report --format json --platform slack` over the period the dashboard shows
    for `since`: the dashboard counts back from its clock, the CLI gets that period spelled out."""
    settings = site.rt.settings
    zone = Definitions.from_settings(settings).hours.zone
    period = parse_period(since, None, now=site.clock.now(), zone=zone)
    args = ["report", "--since", period.since.isoformat(), "--until", period.until.isoformat()]
    args += ["--platform", "slack", "--format", "json"]
    args += ["--config", str(settings.config_path), "--data", str(settings.data_dir)]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.output)
    return report


async def shown(page: Page) -> dict[str, float | None]:
    """The figures in the page's `data-metric` cells; a dash is a figure with nothing to count."""
    cells = await page.locator("[data-metric]").evaluate_all(
        "cells => cells.map(c => [c.dataset.metric, c.textContent.trim()])"
    )
    return {name: None if text == "—" else float(text) for name, text in cells}


async def caught_up(page: Page, questions: int) -> None:
    """Reload until the page's figures count `questions` (a bound for a stuck refresh, not a
    speed assertion)."""
    async with asyncio.timeout(30):
        while (await shown(page)).get("questions") != questions:
            await asyncio.sleep(0.2)
            await page.reload()


async def test_the_overview_shows_the_figures_of_supportbot_report(site: Site, contexts: Contexts) -> None:
    await site.open_ticket()
    site.clock.advance(minutes=5)  # a period ends before now: the questions lie inside it
    page = await contexts.signed_in(ADMIN)
    assert page.url == site.url("/admin/")
    await caught_up(page, 1)
    expected = cli_report(site, "7d")["metrics"]
    assert await shown(page) == expected
    assert expected["questions"] == 1 and expected["escalations"] == 1

    await page.select_option("select[name=period]", "30d")  # the period selector, submitted
    async with page.expect_navigation():
        await page.locator("form", has=page.locator("select[name=period]")).locator("button").click()
    assert page.url.endswith("period=30d")
    await caught_up(page, 1)
    assert await shown(page) == cli_report(site, "30d")["metrics"]
