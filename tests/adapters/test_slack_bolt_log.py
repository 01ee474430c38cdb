"""Bolt's own per-request log lines held to about one a second (adapters/slack/bolt_log.py).

With installs, every request of a workspace whose install the state cannot give writes Bolt's
ERROR "... AuthorizeResult ... was not found": through a store outage, one per delivery. The real adapter in HTTP mode with
installs, on a real port, the state's install lookup failing through bot/faults.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

import pytest

from adapters.rate_limited_log import RateLimitedLog
from adapters.slack.bolt_log import INSTALLS, BoltLines
from adapters.slack.bolt_log import log as bolt_lines_log
from bot import faults
from bot.app import Runtime
from tests.adapters.test_slack_http_hostile import accounted, all_counted, guard_lines
from tests.adapters.test_slack_oauth import asked_in_new_workspace, fake, serving  # noqa: F401  (fixture)
from tests.fakes.slack_server import FakeSlack, post_signed

pytestmark = pytest.mark.timeout(60)

COUNTED = re.compile(r"(\d+) more request\(s\) whose install|(\d+) similar line\(s\) suppressed")
BOLT_SAYS = "Although the app should be installed"


async def test_a_store_outage_costs_about_a_line_a_second_of_bolts_install_lines_not_one_per_delivery(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    deliveries = 60
    async with serving(make_runtime, fake) as (adapter, base):
        _, body = await asked_in_new_workspace(fake, adapter, base)
        url = f"{base}/slack/events"
        INSTALLS.lines.flush()  # what earlier tests left to count is theirs
        with (
            guard_lines(bolt_lines_log.name) as lines,
            faults.crash_at("installations.find", error=OSError("database unavailable"), times=10**6),
        ):
            started = time.monotonic()
            for _ in range(deliveries // 10):
                sent = [post_signed(url, body, fake.signing_secret, retry_num=1) for _ in range(10)]
                assert {status for status, _ in await asyncio.gather(*sent)} == {503}  # Slack tries again
            await all_counted(lines, INSTALLS.lines)
            elapsed = time.monotonic() - started
        warnings = lines.warnings()
        assert lines.records == warnings
        assert 1 <= len(warnings) <= elapsed + 2
        assert accounted(warnings, COUNTED) == deliveries  # each delivery's line: written or counted
    from_bolt = [
        r for r in caplog.records if r.name.startswith("slack_bolt") and r.getMessage().startswith(BOLT_SAYS)
    ]
    assert from_bolt == []


def test_bolts_other_lines_pass_and_each_kind_is_written_once_a_second() -> None:
    now = [0.0]
    written: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            written.append(record.getMessage())

    logger = logging.getLogger("tests.bolt_lines")
    logger.addHandler(handler := Capture())
    try:
        lines = BoltLines(
            RateLimitedLog(logger, clock=lambda: now[0], more="%d more, last: %s"),
            {"Bolt says": lambda first: f"ours: {first}"},
        )

        def record(msg: object) -> logging.LogRecord:
            return logging.LogRecord("slack_bolt.x", logging.ERROR, __file__, 1, msg, None, None)

        assert lines.filter(record("something else entirely"))  # passed on, untouched
        assert lines.filter(record(ValueError("Bolt says, but not as text")))
        assert not lines.filter(record("Bolt says this\nand a listener's code"))
        assert not lines.filter(record("Bolt says that"))  # within the second: counted
        now[0] = 1.5
        assert not lines.filter(record("Bolt says more"))
        assert written == [
            "ours: Bolt says this",
            "ours: Bolt says more; 1 similar line(s) suppressed (1 x Bolt says)",
        ]
    finally:
        logger.removeHandler(handler)
