"""Signed Slack requests with fields not shaped as Slack documents them (adapters/slack/events.py,
forms.py, interactions.py): the signature passes, so only the reading can refuse them, and it
must do so with a 2xx and a line, never a 5xx (which Slack answers by sending the same
unreadable request again) or a traceback.

The real adapter in HTTP mode (slack-bolt) against the fake Slack, the real core and store.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from adapters.slack.forms import CALLBACK_ID
from tests.adapters.test_slack import MEMBER, fake, http_slack  # noqa: F401  (fixtures)
from tests.adapters.test_slack_http_hostile import HttpSlack, send, signed_headers, tracebacks
from tests.fakes.slack_server import FakeSlack, interactive_form, sign

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _edit(server: FakeSlack, **message: Any) -> bytes:
    """A signed `message_changed` of a question in #C111, its `message` updated by `message`
    (or replaced by it whole: `message=...`)."""
    body = server.user_message("C111", "How do I reset my password?", user=MEMBER)
    ts = body["event"]["ts"]
    edited = {"type": "message", "user": MEMBER, "text": "How do I reset my password now?", "ts": ts}
    body["event"] = {
        "type": "message",
        "subtype": "message_changed",
        "channel": "C111",
        "channel_type": "channel",
        "ts": f"{float(ts) + 1:.6f}",
        "event_ts": f"{float(ts) + 1:.6f}",
        "message": message.pop("message") if "message" in message else {**edited, **message},
        "previous_message": {"type": "message", "user": MEMBER, "text": "x", "ts": ts},
    }
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"edited": "yes"}, 200),
        ({"edited": ["1"]}, 200),
        ({"edited": 5}, 200),
        ({"ts": "1e400"}, 200),
        ({"message": "changed"}, 400),  # refused at the door: an event's shape is checked there
    ],
    ids=["edited-str", "edited-list", "edited-int", "ts-overflows", "message-str"],
)
async def test_a_signed_edit_with_odd_fields_is_acknowledged_without_a_traceback(
    fake: FakeSlack,  # noqa: F811
    http_slack: HttpSlack,  # noqa: F811
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    fields: dict[str, Any],
    status: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter, base, _ = http_slack
    body = _edit(fake, **fields)
    got = await send(http, f"{base}/slack/events", body, signed_headers(body, fake.signing_secret))
    assert await adapter.drain(timeout=15)
    assert got == status
    assert tracebacks(caplog) == []
    assert not [r for r in caplog.records if "not acknowledged" in r.getMessage()]


async def test_a_signed_form_whose_context_nests_deep_is_refused_without_a_traceback(
    fake: FakeSlack,  # noqa: F811
    http_slack: HttpSlack,  # noqa: F811
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter, base, _ = http_slack
    for metadata in ("[" * 1400 + "]" * 1400, "[" * 100_000 + "]" * 100_000):
        form = {
            "type": "view_submission",
            "team": {"id": fake.team_id, "domain": fake.team_domain},
            "user": {"id": MEMBER, "name": "m"},
            "api_app_id": fake.app_id,
            "token": fake.verification_token,
            "trigger_id": fake.trigger_id(),
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": CALLBACK_ID,
                "private_metadata": metadata,
                "state": {"values": {}},
            },
            "response_urls": [],
        }
        body = interactive_form(form)
        headers = {**sign(body, fake.signing_secret), "Content-Type": "application/x-www-form-urlencoded"}
        assert await send(http, f"{base}/slack/events", body, headers) == 200
    assert await adapter.drain(timeout=15)
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(
    "fields",
    [{"command": "/support", "text": "help"}, {"command": "/support", "text": "status", "user_id": MEMBER}],
    ids=["no-user-or-channel", "no-channel"],
)
async def test_a_signed_slash_command_without_its_channel_is_skipped_in_one_line(
    fake: FakeSlack,  # noqa: F811
    http_slack: HttpSlack,  # noqa: F811
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    fields: dict[str, str],
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter, base, _ = http_slack
    body = urlencode(fields).encode()
    headers = {**sign(body, fake.signing_secret), "Content-Type": "application/x-www-form-urlencoded"}
    mark = len(fake.api_calls)
    assert await send(http, f"{base}/slack/events", body, headers) == 200
    assert await adapter.drain(timeout=15)
    assert tracebacks(caplog) == []
    assert [r.getMessage() for r in caplog.records if "without its channel or user" in r.getMessage()] != []
    # nobody to answer: nothing asked of Slack (Bolt's own check of its token aside)
    assert [c.method for c in fake.api_calls[mark:] if c.method != "auth.test"] == []
