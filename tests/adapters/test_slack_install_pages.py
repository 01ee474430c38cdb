"""The OAuth pages of multi-workspace HTTP mode against what anyone on the internet may send.

`/slack/install` and `/slack/oauth_redirect` take unsigned GET requests: a body that is not
text is ignored rather than a 500. Requests aiohttp's own parser rejects are a counted
WARNING line, not an ERROR traceback each.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.rate_limited_log import MALFORMED
from adapters.slack import SlackAdapter
from tests.adapters.test_slack_oauth import fake, oauth_slack

__all__ = ["fake", "oauth_slack"]  # the fixtures, imported from test_slack_oauth

OauthSlack = tuple[SlackAdapter, str]


async def raw(port: int, request: bytes) -> bytes:
    """What the server answers to `request` sent as is (aiohttp's client would not send it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


def status_line(answer: bytes) -> str:
    return answer.split(b"\r\n", 1)[0].decode()


async def test_a_body_that_is_not_text_is_ignored_by_both_pages(
    oauth_slack: OauthSlack, caplog: pytest.LogCaptureFixture
) -> None:
    adapter, _ = oauth_slack
    assert adapter.http_port is not None
    caplog.set_level(logging.DEBUG)
    bodies = (
        b"Content-Length: 2\r\n\r\n\xff\xfe",
        b"Content-Type: text/plain; charset=nope\r\nContent-Length: 2\r\n\r\nab",
    )
    statuses = set()
    for path in (b"/slack/install", b"/slack/oauth_redirect?code=x&state=y"):
        for body in bodies:
            request = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + body
            statuses.add((path, status_line(await raw(adapter.http_port, request))))
    assert statuses == {
        (b"/slack/install", "HTTP/1.1 200 OK"),  # the page, as without a body
        (b"/slack/oauth_redirect?code=x&state=y", "HTTP/1.1 400 Bad Request"),  # no state cookie
    }
    assert [r.name for r in caplog.records if r.exc_info] == []


async def test_a_flood_of_requests_aiohttp_cannot_parse_is_a_counted_line_not_a_traceback_each(
    oauth_slack: OauthSlack, caplog: pytest.LogCaptureFixture
) -> None:
    adapter, _ = oauth_slack
    assert adapter.http_port is not None
    caplog.set_level(logging.DEBUG)
    statuses = set()
    for n in range(200):
        request = (
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Slack-Signature: v0=\x01secret-"
            + str(n).encode()
            + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        statuses.add(status_line(await raw(adapter.http_port, request)))
    MALFORMED.lines.flush()  # the count of the lines held back, now rather than a second later
    assert {s.split(" ", 1)[1] for s in statuses} == {"400 Bad Request"}
    lines = [r for r in caplog.records if r.name.startswith(("aiohttp", "adapters.rate_limited_log"))]
    assert [r for r in lines if r.exc_info or r.levelno >= logging.ERROR] == []
    assert 1 <= len(lines) <= 5
    assert all("secret-" not in r.getMessage() for r in lines)  # the raw header is not echoed
    assert "BadHttpMessage" in lines[0].getMessage() or "InvalidHeader" in lines[0].getMessage()
