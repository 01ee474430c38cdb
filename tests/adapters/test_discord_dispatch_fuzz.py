"""Gateway dispatches the adapter cannot read, over the real gateway (issue 10).

The real adapter (discord.py's client) runs under the real supervisor (`bot.supervisor._supervise`,
its back-off sleep recorded instead of slept) against the fake Discord, the real core behind
it. Malformed and fuzzed dispatches go out on the live gateway session; afterwards the session
is the one IDENTIFY made (no RESUME, no second IDENTIFY, no close), the supervisor never took
its restart path, the log has no traceback and at most about one line a second about skipped
dispatches, and a real question asked last is answered exactly once. A control test shows
what a restart looks like to these tests (an unreadable READY, left unguarded on purpose).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import discord
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.discord import DiscordAdapter, build_adapter
from adapters.discord.dispatch_guard import guard_parsers
from bot import supervisor
from bot.app import Runtime
from tests.adapters.test_discord_adapter import MESSAGES, answered, fake, ok_post, runtime
from tests.adapters.test_slack_http_hostile import tracebacks
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.tasks import running_until_ready

__all__ = ["fake", "runtime"]  # the fixtures, imported from test_discord_adapter

pytestmark = pytest.mark.timeout(60)

QUESTION = "How do I reset my password?"
SKIPPED = re.compile(r"skipped (?:a ([A-Z_]+) gateway dispatch|(\d+) more gateway dispatch)")


@dataclass
class Supervised:
    adapter: DiscordAdapter
    restarts: list[float] = field(default_factory=list)  # the supervisor's back-off sleeps


@asynccontextmanager
async def supervised(runtime: Runtime) -> AsyncIterator[Supervised]:
    """The adapter under `bot.supervisor._supervise`, as `supportbot run` starts it; a crash would
    be recorded in `restarts` and the adapter run again at once."""
    adapter = build_adapter(runtime.bot, runtime.settings, guild_ready_timeout=0.05, drain_timeout=5.0)
    run = Supervised(adapter)

    async def sleep(delay: float) -> None:
        run.restarts.append(delay)

    async with running_until_ready(
        supervisor._supervise(adapter, sleep=sleep), adapter.wait_until_ready(), adapter.close
    ):
        yield run


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


@contextmanager
def adapter_lines() -> Iterator[asyncio.Event]:
    """An event set whenever the adapter's logger writes a line."""
    arrived = asyncio.Event()

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            arrived.set()

    handler = Handler()
    logger = logging.getLogger("adapters.discord")
    logger.addHandler(handler)
    try:
        yield arrived
    finally:
        logger.removeHandler(handler)


def skipped_lines(logs: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in logs.records if r.name == "adapters.discord" and SKIPPED.match(r.getMessage())]


def traceback_lines(logs: pytest.LogCaptureFixture) -> list[str]:
    """Each logged traceback as its logger, line and exception (the Slack tests' `tracebacks`,
    the same stray clients of earlier tests left out)."""
    names = tracebacks(logs)
    found = [r for r in logs.records if r.exc_info or "Traceback" in r.getMessage()]
    return [
        f"{r.name}: {r.getMessage()[:120]} ({r.exc_info[1]!r})" if r.exc_info else r.name
        for r in found
        if r.name in names
    ]


def assert_one_session(fake: FakeDiscord) -> None:
    """Still the session the first IDENTIFY made, on its first connection."""
    assert len(fake.frames_matching("received", op=2)) == 1  # IDENTIFY
    assert fake.frames_matching("received", op=6) == []  # RESUME
    assert [f for f in fake.frames if f.op is None] == []  # no close, no drop
    assert [c.open for c in fake.connections] == [True]


async def answered_once(fake: FakeDiscord, adapter: DiscordAdapter, start: int) -> None:
    """Ask the real question; it is answered, and nothing since `start` was answered but it."""
    thread_id, answer = await answered(fake, adapter, QUESTION)
    assert "Forgot password" in answer.json["content"]
    threads = fake.requests_matching("POST", "/channels/{c}/messages/{m}/threads", after=start)
    assert [r.path.rsplit("/", 2)[-2] for r in threads] == [thread_id]
    posts = [r for r in fake.requests_matching("POST", MESSAGES, after=start) if ok_post(thread_id)(r)]
    assert len(posts) == 1


# -- one malformed MESSAGE_CREATE -----------------------------------------------------------


def _without_author(d: dict[str, Any]) -> None:
    del d["author"]


def _id_not_a_snowflake(d: dict[str, Any]) -> None:
    d["id"] = "not-a-snowflake"


def _channel_id_null(d: dict[str, Any]) -> None:
    d["channel_id"] = None


def _mentions_not_a_list(d: dict[str, Any]) -> None:
    d["mentions"] = 42


def _member_roles_not_a_list(d: dict[str, Any]) -> None:
    d["member"] = {"roles": 7}


def _not_an_object(d: dict[str, Any]) -> None:
    d.clear()


MALFORMED = [
    _without_author,
    _id_not_a_snowflake,
    _channel_id_null,
    _mentions_not_a_list,
    _member_roles_not_a_list,
    _not_an_object,
]


@pytest.mark.parametrize("spoil", MALFORMED, ids=lambda f: f.__name__.strip("_"))
async def test_a_malformed_message_create_is_logged_once_and_skipped_on_the_same_session(
    fake: FakeDiscord,
    runtime: Runtime,
    logs: pytest.LogCaptureFixture,
    spoil: Callable[[dict[str, Any]], None],
) -> None:
    async with supervised(runtime) as run:
        start = len(fake.requests)
        broken = fake.build_message_create(QUESTION, mention_bot=True)
        spoil(broken)
        assert await fake.dispatch_raw("MESSAGE_CREATE", broken) == 1
        await answered_once(fake, run.adapter, start)  # dispatched after it: it was read first

        [line] = skipped_lines(logs)
        assert line.levelno == logging.WARNING and line.exc_info is None
        assert SKIPPED.match(line.getMessage()).group(1) == "MESSAGE_CREATE"  # type: ignore[union-attr]
        assert "Traceback" not in line.getMessage() and QUESTION not in line.getMessage()
        assert_one_session(fake)
        assert run.restarts == []
    assert traceback_lines(logs) == []


async def test_a_message_discord_py_reads_but_we_cannot_is_one_line_and_no_traceback(
    fake: FakeDiscord, runtime: Runtime, logs: pytest.LogCaptureFixture
) -> None:
    async with supervised(runtime) as run:
        start = len(fake.requests)
        odd = fake.build_message_create(QUESTION, mention_bot=True)
        odd["content"] = {"sent": "text"}  # discord.py keeps it as it is; our translator cannot
        assert await fake.dispatch_raw("MESSAGE_CREATE", odd) == 1
        await answered_once(fake, run.adapter, start)
        [line] = [r for r in logs.records if r.getMessage().startswith("could not read a Discord message")]
        assert line.levelno == logging.WARNING and line.exc_info is None
        assert "'text'" not in line.getMessage()  # what was sent is not repeated
        assert_one_session(fake)
        assert run.restarts == []
    assert traceback_lines(logs) == []


COUNTED = re.compile(r"skipped (\d+) more gateway dispatch|(\d+) similar line\(s\) suppressed")


async def test_a_flood_of_malformed_dispatches_logs_about_a_line_a_second_and_counts_the_rest(
    fake: FakeDiscord, runtime: Runtime, logs: pytest.LogCaptureFixture
) -> None:
    total = 1000
    async with supervised(runtime) as run:
        client = run.adapter.client
        assert client is not None
        start = len(fake.requests)
        began = time.monotonic()
        for i in range(total):
            broken = fake.build_message_create(f"question {i}", mention_bot=True)
            MALFORMED[i % len(MALFORMED)](broken)
            await fake.dispatch_raw("MESSAGE_CREATE", broken)
        await answered_once(fake, run.adapter, start)  # every one of them was read before it
        with adapter_lines() as arrived:
            while sum(client.skipped_dispatches.suppressed.values()):  # the count, a second later
                arrived.clear()
                await asyncio.wait_for(arrived.wait(), 5)
        elapsed = time.monotonic() - began

        lines = skipped_lines(logs)
        assert 1 <= len(lines) <= elapsed + 2
        accounted = 0
        for line in lines:
            text = line.getMessage()
            counted = COUNTED.search(text)
            accounted += ("more gateway dispatch" not in text) + (
                int(counted.group(1) or counted.group(2)) if counted else 0
            )
        assert accounted == total  # every skipped dispatch is a line or counted in one
        assert all(line.exc_info is None and "question" not in line.getMessage() for line in lines)
        assert_one_session(fake)
        assert run.restarts == []
    assert traceback_lines(logs) == []


def test_every_parser_but_ready_is_guarded_once() -> None:
    client = discord.Client(intents=discord.Intents.none())
    parsers = client._connection.parsers
    before = dict(parsers)
    first = guard_parsers(client)
    wrapped = dict(parsers)
    assert guard_parsers(client, first) is first and parsers == wrapped  # never wrapped twice
    assert parsers["READY"] == before["READY"]  # see the control test below
    assert [e for e in parsers if e != "READY" and parsers[e] == before[e]] == []
    assert parsers["MESSAGE_CREATE"].__wrapped__ == before["MESSAGE_CREATE"]  # type: ignore[attr-defined]


# -- the control: what a restart looks like to these tests ----------------------------------


async def test_an_unreadable_ready_still_restarts_the_adapter_and_these_tests_would_see_it(
    fake: FakeDiscord, runtime: Runtime, logs: pytest.LogCaptureFixture
) -> None:
    """READY is left unguarded on purpose (a session without one is no session): the
    supervisor starts over, which is what the other tests show does not happen for the rest."""
    async with supervised(runtime) as run:
        mark = len(fake.frames)
        await fake.dispatch_raw("READY", {"session_id": "x", "resume_gateway_url": fake.gateway_url})
        await fake.wait_for_frame("received", op=2, after=mark, timeout=10)  # IDENTIFY again
        assert run.restarts == [supervisor.RESTART_DELAY]
        assert any("adapter crashed" in r.getMessage() for r in logs.records)
        await fake.wait_until_connected()
        await run.adapter.wait_until_ready()
        await answered_once(fake, run.adapter, len(fake.requests))
    assert skipped_lines(logs) == []


# -- fuzzing --------------------------------------------------------------------------------

EVENTS = ["MESSAGE_CREATE", "MESSAGE_UPDATE", "INTERACTION_CREATE", "GUILD_CREATE", "THREAD_CREATE"]
UNKNOWN_EVENTS = ["SUPPORTBOT_NOT_AN_EVENT", "message_create", ""]
# examples per event name: a few seconds in all; set SUPPORTBOT_FUZZ_EXAMPLES=300 for a longer run
EXAMPLES = int(os.environ.get("SUPPORTBOT_FUZZ_EXAMPLES", "12"))
KEYS = [
    *("id", "type", "channel_id", "guild_id", "author", "member", "user", "content", "mentions"),
    *("mention_roles", "timestamp", "edited_timestamp", "data", "name", "token", "application_id"),
    *("parent_id", "owner_id", "thread_metadata", "channels", "roles", "threads", "unavailable"),
]
SNOWFLAKES = st.integers(min_value=0, max_value=2**64).map(str)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | SNOWFLAKES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=20,
)
DELETE = object()  # a mutation that removes the field


def paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 3) -> list[tuple[Any, ...]]:
    """Every field of a payload, nested ones too (to `depth`), as a path of keys/indexes."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, inner in items:
        found.append((*prefix, key))
        if depth > 1:
            found.extend(paths(inner, (*prefix, key), depth - 1))
    return found


def _child(value: Any, key: Any) -> Any:
    if isinstance(value, dict) and isinstance(key, str):
        return value.get(key)
    if isinstance(value, list) and isinstance(key, int) and key < len(value):
        return value[key]
    return None


def mutate(payload: Any, changes: list[tuple[tuple[Any, ...], Any]]) -> Any:
    """`payload` with each path replaced by a value (or removed), where the path still exists
    (an earlier change may have replaced what it went through)."""
    payload = copy.deepcopy(payload)
    for path, value in changes:
        parent = payload
        for key in path[:-1]:
            parent = _child(parent, key)
        last = path[-1]
        if isinstance(parent, dict) and isinstance(last, str):
            if value is DELETE:
                parent.pop(last, None)
            else:
                parent[last] = value
        elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
            if value is DELETE:
                del parent[last]
            else:
                parent[last] = value
    return payload


async def test_fuzzed_gateway_dispatches_never_reconnect_restart_or_log_a_traceback(
    fake: FakeDiscord, runtime: Runtime, logs: pytest.LogCaptureFixture
) -> None:
    async with supervised(runtime) as run:
        start = len(fake.requests)
        # the well-formed payloads mutations start from: people chatting (no mention, so a
        # mutation that still reads is left alone), a thread outside the forums, an edit
        chatter = fake.build_message_create("nice weather today")
        edit = {**chatter, "content": "nicer weather today", "edited_timestamp": "2026-01-02T03:04:05+00:00"}
        thread = fake.build_thread_create("a side thread", parent_id=fake.text_channel_id)
        bases = {"MESSAGE_CREATE": chatter, "MESSAGE_UPDATE": edit, "THREAD_CREATE": thread}
        shapes = {event: paths(base) for event, base in bases.items()}
        loop = asyncio.get_running_loop()
        sent: list[str] = []

        @st.composite
        def payloads(draw: st.DrawFn, event: str) -> Any:
            if event in bases and draw(st.booleans()):
                change = st.tuples(st.sampled_from(shapes[event]), st.just(DELETE) | json_values)
                return mutate(bases[event], draw(st.lists(change, min_size=1, max_size=4)))
            return draw(json_values | st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8))

        def fuzz(event: str, examples: int) -> None:
            @settings(
                max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
            )
            @given(data=payloads(event))
            def one(data: Any) -> None:
                delivered = asyncio.run_coroutine_threadsafe(fake.dispatch_raw(event, data), loop).result(30)
                assert delivered == 1, "the gateway session is gone"
                sent.append(event)

            one()

        began = time.monotonic()
        for event in EVENTS:
            await asyncio.to_thread(fuzz, event, EXAMPLES)
        for event in UNKNOWN_EVENTS:
            await asyncio.to_thread(fuzz, event, 5)
        await answered_once(fake, run.adapter, start)  # every fuzzed dispatch was read before it
        elapsed = time.monotonic() - began

        assert [e for e in EVENTS if sent.count(e) < EXAMPLES // 2] == []
        assert_one_session(fake)
        assert run.restarts == []
        assert not [r for r in logs.records if "adapter crashed" in r.getMessage()]
        client = run.adapter.client
        assert client is not None
    assert sum(client.skipped_dispatches.suppressed.values()) == 0  # closing wrote the count
    assert traceback_lines(logs) == []  # not even for messages our translator cannot read
    lines = skipped_lines(logs)
    assert lines and all(line.levelno == logging.WARNING and line.exc_info is None for line in lines)
    assert len(lines) <= elapsed + 2  # about one a second, however many could not be read
