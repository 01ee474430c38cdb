"""HTTP mode against hostile requests: the real adapter on a real port, the real core behind it.

Whatever arrives at `/slack/events` unsigned, stale, oversized or malformed is refused with
413, 401 or 400 (never a 5xx), writes no traceback, at most about one log line a second, and
never reaches the core. Signed requests (from the fake Slack's signing secret) still work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.rate_limited_log import AIOHTTP_SERVER, MALFORMED, RateLimitedLog, quiet_malformed_http
from adapters.slack import SlackAdapter
from adapters.slack.http_guard import MAX_BODY
from bot.app import Runtime
from tests.adapters.test_slack import MEMBER, fake, http_slack, posts, section_text
from tests.fakes.slack_server import FakeSlack, post_signed, sign

__all__ = ["fake", "http_slack"]  # the fixtures, imported from test_slack

GUARD_LOGGER = "adapters.slack.http_guard"
HttpSlack = tuple[SlackAdapter, str, Runtime]
FAKE_SIGNATURE = "v0=" + "0" * 64


class GuardLines(logging.Handler):
    """The guard's log records, with an event set on each one."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.arrived.set()

    def warnings(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno == logging.WARNING]


@contextmanager
def guard_lines(name: str = GUARD_LOGGER) -> Iterator[GuardLines]:
    """The lines logger `name` (the door's, by default) writes while the block runs."""
    handler = GuardLines()
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def all_counted(lines: GuardLines, limiter: RateLimitedLog) -> None:
    """Wait for `limiter`'s count of the lines it held back (it comes at most a second later)."""
    while sum(limiter.suppressed.values()):
        lines.arrived.clear()
        await asyncio.wait_for(lines.arrived.wait(), 5)


def accounted(records: list[logging.LogRecord], counted: re.Pattern[str]) -> int:
    """How many lines `records` stand for: each one itself (unless it is only a count) and the
    lines it says were held back (`counted`'s first group that matched)."""
    total = 0
    for record in records:
        text = record.getMessage()
        count = counted.search(text)
        total += (0 if text.startswith(tuple("0123456789")) else 1) + (
            int(next(g for g in count.groups() if g)) if count else 0
        )
    return total


def tracebacks(logs: pytest.LogCaptureFixture) -> list[str]:
    """Tracebacks logged while the test ran, leaving out the HTTP clients of earlier tests that
    the garbage collector closes now, after their event loop has gone ("Event loop is closed",
    from httpcore or asyncio): they say nothing about how the adapter met this test's requests."""

    def stray(record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return record.name.startswith(("httpcore", "httpx")) or (
            isinstance(error, RuntimeError) and "Event loop is closed" in str(error)
        )

    return [r.name for r in logs.records if (r.exc_info or "Traceback" in r.getMessage()) and not stray(r)]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        yield session


async def send(
    session: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str] | None = None
) -> int:
    async with session.post(url, data=body, headers=headers or {}) as resp:
        await resp.read()
        return resp.status


def signed_headers(body: bytes, secret: str, **more: str) -> dict[str, str]:
    return {"Content-Type": "application/json", **sign(body, secret), **more}


def assert_untouched(fake: FakeSlack, runtime: Runtime, mark: int, logs: pytest.LogCaptureFixture) -> None:
    assert fake.api_calls[mark:] == []  # no post, no reaction, no lookup
    assert runtime.state.db["inbox"].count == 0  # nothing was even recorded
    assert fake.response_posts == []
    assert tracebacks(logs) == []
    assert not [r for r in logs.records if r.levelno >= logging.ERROR and not _foreign_garbage(r)]


def _foreign_garbage(record: logging.LogRecord) -> bool:
    """asyncio reporting a client another test left unclosed, collected during this one: its
    close was scheduled on this loop for a connection of a loop that no longer runs."""
    text = record.getMessage()
    return record.name == "asyncio" and "Event loop is closed" in text and "aclose" in text


def unsigned_cases(secret: str) -> list[tuple[str, bytes, dict[str, str], int]]:
    now = str(int(time.time()))
    json_ct = {"Content-Type": "application/json"}
    event = json.dumps({"type": "event_callback", "event": {"type": "app_mention", "text": "hi"}}).encode()
    stale = sign(event, secret, int(time.time()) - 10 * 60)
    return [
        ("bad JSON", b'{"type": "event_callback", ', json_ct, 401),
        ("null", b"null", json_ct, 401),
        ("invalid UTF-8", b'{"text": "\xff\xfe\xc3\x28"}', json_ct, 401),
        ("deep nesting", b"[" * 200_000 + b"]" * 200_000, json_ct, 401),
        ("deep objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, json_ct, 401),
        ("no headers at all", event, json_ct, 401),
        (
            "non-numeric timestamp",
            event,
            {**json_ct, "X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": FAKE_SIGNATURE},
            401,
        ),
        (
            "float timestamp",
            event,
            {**json_ct, "X-Slack-Request-Timestamp": now + ".5", "X-Slack-Signature": FAKE_SIGNATURE},
            401,
        ),
        ("stale timestamp, right signature", event, {**json_ct, **stale}, 401),
        (
            "wrong signature",
            event,
            {**json_ct, "X-Slack-Request-Timestamp": now, "X-Slack-Signature": FAKE_SIGNATURE},
            401,
        ),
        (
            "signature of another body",
            event,
            {**json_ct, **sign(event + b" ", secret)},
            401,
        ),
        (
            "non-hex signature",
            event,
            {**json_ct, "X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + "zé" * 32},
            401,
        ),
        ("oversized", b"{" + b" " * MAX_BODY + b"}", {**json_ct, **sign(b"{}", secret)}, 413),
    ]


async def test_unsigned_malformed_requests_are_refused_without_5xx_traceback_or_side_effects(
    fake: FakeSlack, http_slack: HttpSlack, http: aiohttp.ClientSession, logs: pytest.LogCaptureFixture
) -> None:
    adapter, base, runtime = http_slack
    url = f"{base}/slack/events"
    mark = fake.mark()
    for name, body, headers, expected in unsigned_cases(fake.signing_secret):
        assert await send(http, url, body, headers) == expected, name

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the guard must count
        for _ in range(MAX_BODY // 65536 + 2):
            yield b" " * 65536

    assert await send(http, url, chunks(), {"Content-Type": "application/json"}) == 413
    assert await adapter.drain(timeout=15)
    assert_untouched(fake, runtime, mark, logs)


async def test_signed_but_malformed_bodies_are_refused_with_400(
    fake: FakeSlack, http_slack: HttpSlack, http: aiohttp.ClientSession, logs: pytest.LogCaptureFixture
) -> None:
    adapter, base, runtime = http_slack
    url = f"{base}/slack/events"
    mark = fake.mark()
    form = "application/x-www-form-urlencoded"
    for body, content_type in [
        (b"\x00\xff garbage \xc3\x28 bytes", "application/json"),
        (b"{not json", "application/json"),
        (b"null", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"a string"', "application/json"),
        (b"[" * 5000 + b"]" * 5000, "application/json"),
        (b'{"a":' * 100 + b"1" + b"}" * 100, "application/json"),
        (b'{"type": "event_callback", "event": "not an object"}', "application/json"),
        (b'{"type": "event_callback", "authorizations": [1]}', "application/json"),
        (b'{"team": 5, "type": "block_actions"}', "application/json"),
        (b'{"event": null}', "application/json"),
        (b'{"type": "event_callback", "event": {"type": 7}}', "application/json"),
        (b'{"type": "block_actions", "actions": []}', "application/json"),
        (b'{"type": "block_actions", "actions": [{"block_id": "b"}]}', "application/json"),
        (b"", "application/json"),
        (b"\xff\xfe", form),
        (b"command=%2Fsupport&text=%FF%FE", form),
        (b"payload=%7Bbroken", form),
        (b"payload=null", form),
        (b"no_equals_sign", form),
    ]:
        status = await send(
            http, url, body, {**sign(body, fake.signing_secret), "Content-Type": content_type}
        )
        assert status == 400, body[:40]
    assert await adapter.drain(timeout=15)
    assert_untouched(fake, runtime, mark, logs)


# -- fuzzing --------------------------------------------------------------------------------

ENVELOPE_KEYS = [
    *("type", "subtype", "event", "team", "user", "channel", "enterprise", "authorizations", "message"),
    *("text", "actions", "action_id", "block_id", "view", "tokens", "function", "command", "callback_id"),
]
TYPES = [
    *("event_callback", "url_verification", "block_actions", "interactive_message", "app_mention"),
    *("message", "view_submission", "shortcut", "message_action", "supportbot:helpful"),
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from(TYPES)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(ENVELOPE_KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
bodies = (
    st.binary(max_size=4096)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=5).map(
        lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode("utf-8", "surrogatepass")
    )
)
header_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=80)
content_types = (
    st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"]) | header_text
)


async def test_fuzzed_bodies_and_headers_never_get_a_5xx_or_a_traceback(
    fake: FakeSlack, http_slack: HttpSlack, http: aiohttp.ClientSession, logs: pytest.LogCaptureFixture
) -> None:
    adapter, base, _ = http_slack
    url = f"{base}/slack/events"
    loop = asyncio.get_running_loop()
    statuses: list[int] = []

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        body=bodies,
        content_type=content_types,
        how=st.sampled_from(["signed", "unsigned", "stale", "fuzzed headers"]),
        timestamp=header_text,
        signature=header_text,
    )
    def one(body: bytes, content_type: str, how: str, timestamp: str, signature: str) -> None:
        headers = {"Content-Type": content_type}
        if how == "signed":
            headers |= sign(body, fake.signing_secret)
        elif how == "stale":
            headers |= sign(body, fake.signing_secret, int(time.time()) - 301)
        elif how == "fuzzed headers":
            headers |= {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
        status = asyncio.run_coroutine_threadsafe(send(http, url, body, headers), loop).result(30)
        statuses.append(status)
        assert status < 500, (how, body[:80])

    await asyncio.to_thread(one)
    assert await adapter.drain(timeout=15)
    assert len(statuses) >= 100 and 401 in statuses
    assert tracebacks(logs) == []


# -- log volume -----------------------------------------------------------------------------

COUNTED = re.compile(r"refused (\d+) more request|(\d+) similar line\(s\) suppressed")


async def test_a_flood_of_bad_requests_logs_about_a_line_a_second_then_the_count_and_still_answers(
    fake: FakeSlack, http_slack: HttpSlack, http: aiohttp.ClientSession, logs: pytest.LogCaptureFixture
) -> None:
    adapter, base, runtime = http_slack
    url = f"{base}/slack/events"
    secret = fake.signing_secret
    cases = unsigned_cases(secret)[:-1]  # the oversized one is slow to send 2,000 times
    total = 2000
    with guard_lines() as lines:
        started = time.monotonic()
        for first in range(0, total, 100):
            batch = [cases[i % len(cases)] for i in range(first, first + 100)]
            statuses = await asyncio.gather(
                *(send(http, url, body, headers) for _, body, headers, _ in batch)
            )
            assert statuses == [expected for *_, expected in batch]
        while sum(adapter.refusals.suppressed.values()):  # the count comes at most a second later
            lines.arrived.clear()
            await asyncio.wait_for(lines.arrived.wait(), 5)
        elapsed = time.monotonic() - started

        warnings = lines.warnings()
        assert lines.records == warnings  # everything at WARNING
        assert 1 <= len(warnings) <= elapsed + 2
        accounted = 0
        for record in warnings:
            text = record.getMessage()
            counted = COUNTED.search(text)
            direct = 0 if text.startswith("refused") and "more request" in text else 1
            accounted += direct + (int(counted.group(1) or counted.group(2)) if counted else 0)
        assert accounted == total  # every refusal is either a line or counted in one
        assert COUNTED.search(warnings[-1].getMessage()), warnings[-1].getMessage()
        for record in warnings:  # no body, no header value, no secret
            text = record.getMessage()
            assert secret not in text and "soon" not in text and "event_callback" not in text
            assert FAKE_SIGNATURE not in text and record.exc_info is None

    assert tracebacks(logs) == []
    assert fake.api_calls == [c for c in fake.api_calls if c.method != "chat.postMessage"]
    assert runtime.state.db["inbox"].count == 0

    # a correctly signed event is still answered, and the challenge still works
    status, text = await post_signed(
        url, json.dumps({"type": "url_verification", "challenge": "c-2"}).encode(), secret
    )
    assert (status, json.loads(text)) == (200, {"challenge": "c-2"})
    body = json.dumps(fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True))
    status, _ = await post_signed(url, body.encode(), secret)
    assert status == 200
    assert await adapter.drain(timeout=15)
    [answer] = posts(fake)
    assert "Forgot password" in section_text(answer)


async def test_requests_aiohttp_cannot_parse_are_a_counted_line_not_a_traceback_each(
    http_slack: HttpSlack, logs: pytest.LogCaptureFixture
) -> None:
    adapter, _, runtime = http_slack
    assert adapter.http_port is not None
    statuses = set()
    for n in range(100):  # a control byte in a header: aiohttp answers 400 before any handler
        reader, writer = await asyncio.open_connection("127.0.0.1", adapter.http_port)
        writer.write(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Slack-Signature: v0=\x01raw-"
            + str(n).encode()
            + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        statuses.add((await asyncio.wait_for(reader.read(), 10)).split(b" ", 2)[1])
        writer.close()
    MALFORMED.lines.flush()
    assert statuses == {b"400"}
    lines = [r for r in logs.records if r.name.startswith(("aiohttp", "adapters.rate_limited_log"))]
    assert 1 <= len(lines) <= 5 and all(r.levelno == logging.WARNING for r in lines)
    assert all("raw-" not in r.getMessage() for r in lines)  # the header's bytes are not echoed
    assert tracebacks(logs) == []
    assert runtime.state.db["inbox"].count == 0


async def test_a_handler_raising_an_http_error_is_still_logged_as_its_crash(
    logs: pytest.LogCaptureFixture,
) -> None:
    quiet_malformed_http()

    async def crashes(request: web.Request) -> web.Response:
        raise HttpProcessingError(code=502, message="upstream said no")  # the handler's own fault

    app = web.Application()
    app.router.add_get("/", crashes)
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        status = (await http.get(server.make_url("/"))).status
    assert status == 500
    [crash] = [r for r in logs.records if r.name == AIOHTTP_SERVER]
    assert crash.levelno == logging.ERROR and crash.exc_info is not None
    assert isinstance(crash.exc_info[1], HttpProcessingError)
