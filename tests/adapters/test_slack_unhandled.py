"""HTTP mode against signed requests no listener handles: the real adapter on a real port.

Slack signs what it sends for any command, shortcut or modal configured in the app, whether
the bot listens for it or not. Such a request gets Bolt's 404, never a 5xx (a submitted view
without a `type` was a 500 inside Bolt), and Bolt's "Unhandled request" warning, several lines
each, is held to about one line a second with the rest counted (`UNHANDLED` in
adapters/slack/bolt_log.py). The bot still answers afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

import aiohttp
import pytest

from adapters.slack import SlackAdapter
from adapters.slack.bolt_log import BOLT_LOGGER, UNHANDLED
from adapters.slack.bolt_log import log as bolt_lines_log
from bot.app import Runtime
from tests.adapters.test_slack import MEMBER, fake, http_slack, posts, section_text
from tests.adapters.test_slack_http_hostile import (
    accounted,
    all_counted,
    guard_lines,
    http,
    logs,
    send,
    signed_headers,
    tracebacks,
)
from tests.fakes.slack_server import FakeSlack, post_signed

__all__ = ["fake", "http", "http_slack", "logs"]  # the fixtures, imported from the Slack tests

HttpSlack = tuple[SlackAdapter, str, Runtime]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
BOLT_LINES = bolt_lines_log.name
COUNTED = re.compile(r"(\d+) more signed request|(\d+) similar line\(s\) suppressed")


def unhandled_bodies() -> list[tuple[bytes, dict[str, str]]]:
    """Signed-looking requests for things the app does not listen for."""
    team, user = {"id": "T111"}, {"id": MEMBER}
    return [
        (b"command=%2Fnot-ours&text=hi&team_id=T111&user_id=W222&channel_id=C111&trigger_id=1.2", FORM),
        (
            json.dumps({"type": "shortcut", "callback_id": "not_ours", "team": team, "user": user}).encode(),
            {},
        ),
        (
            json.dumps(
                {
                    "type": "view_submission",
                    "team": team,
                    "user": user,
                    "view": {"id": "V1", "type": "modal", "callback_id": "not_ours", "state": {"values": {}}},
                }
            ).encode(),
            {},
        ),
    ]


async def test_views_and_workflow_steps_bolt_cannot_read_are_refused_not_a_500(
    fake: FakeSlack, http_slack: HttpSlack, http: aiohttp.ClientSession, logs: pytest.LogCaptureFixture
) -> None:
    adapter, base, _ = http_slack
    url = f"{base}/slack/events"
    team, user = {"id": "T111"}, {"id": MEMBER}
    for body in [
        {"type": "view_submission", "team": team, "user": user, "view": {"id": "V1", "callback_id": "x"}},
        {"type": "view_submission", "team": team, "user": user, "view": {"callback_id": "x", "type": 5}},
        {"type": "view_submission", "team": team, "view": {"callback_id": "x", "type": "workflow_step"}},
        {"type": "workflow_step_edit", "callback_id": "x", "team": team, "user": user},
    ]:
        raw = json.dumps(body).encode()
        assert await send(http, url, raw, signed_headers(raw, fake.signing_secret)) == 400, body
    for raw, headers in unhandled_bodies():  # the same, well formed: Bolt's 404
        assert await send(http, url, raw, {**signed_headers(raw, fake.signing_secret), **headers}) == 404
    assert await adapter.drain(timeout=15)
    assert tracebacks(logs) == []


async def test_a_flood_of_unhandled_signed_requests_logs_about_a_line_a_second_and_still_answers(
    fake: FakeSlack, http_slack: HttpSlack, http: aiohttp.ClientSession, logs: pytest.LogCaptureFixture
) -> None:
    adapter, base, _ = http_slack
    url = f"{base}/slack/events"
    assert UNHANDLED in logging.getLogger(BOLT_LOGGER).filters
    UNHANDLED.lines.flush()  # what earlier tests left to count is theirs
    kinds = unhandled_bodies()
    total = 2000
    with guard_lines(BOLT_LINES) as lines:
        started = time.monotonic()
        for first in range(0, total, 100):
            batch = [kinds[i % len(kinds)] for i in range(first, first + 100)]
            statuses = await asyncio.gather(
                *(
                    send(http, url, raw, {**signed_headers(raw, fake.signing_secret), **headers})
                    for raw, headers in batch
                )
            )
            assert set(statuses) == {404}
        await all_counted(lines, UNHANDLED.lines)
        elapsed = time.monotonic() - started

        warnings = lines.warnings()
        assert lines.records == warnings
        assert 1 <= len(warnings) <= elapsed + 2
        for record in warnings:  # no suggested listener's code
            assert "\n" not in record.getMessage() and record.exc_info is None
        assert accounted(warnings, COUNTED) == total  # every unhandled request is a line or counted in one

    assert not [r for r in logs.records if r.name == BOLT_LOGGER and "Unhandled request" in r.getMessage()]
    assert tracebacks(logs) == []
    body = json.dumps(fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True))
    status, _ = await post_signed(url, body.encode(), fake.signing_secret)
    assert status == 200
    assert await adapter.drain(timeout=15)
    [answer] = posts(fake)
    assert "Forgot password" in section_text(answer)
