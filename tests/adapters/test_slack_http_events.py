"""Slack's HTTP endpoint while Slack could not reach it (adapters/slack/http_events.py).

`Silences` alone, on a clock the test moves; then the real adapter in HTTP mode (slack-bolt and
slack_sdk against the fake Slack, the real core and store): a question said while Slack could
not reach the endpoint, whose retries ran out (the fake never delivers it), is read back once
a retried event shows the silence was an outage; a silence that was only quiet, or a retry
because the bot was slow, reads nothing.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable

import pytest

import adapters.slack.read_backs as read_backs
from adapters.slack.http_events import DELIVERY_LAG, RETRY_SPAN, Silences
from adapters.slack.transport import build_adapter
from bot.app import Runtime
from tests.adapters.test_slack import MEMBER, TOML, fake, posts, running, slack_env  # noqa: F401
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.slack_server import FakeSlack, post_signed

pytestmark = pytest.mark.timeout(60)

UNREACHABLE = "connection_failed"


def _silences(
    now: list[float], read_back_after: float = 60.0
) -> tuple[Silences, list[tuple[float, str | None]]]:
    backs: list[tuple[float, str | None]] = []
    silences = Silences(
        lambda start, team: backs.append((start, team)), read_back_after=read_back_after, clock=lambda: now[0]
    )
    return silences, backs


def test_a_retry_of_an_event_sent_in_a_silence_reads_back_from_its_start_once() -> None:
    now = [1000.0]
    silences, backs = _silences(now)
    now[0] = 1010.0
    silences.arrived(None, 1010.0)  # heard: the endpoint was reachable then
    now[0] = 1400.0  # nothing for 390 s; then Slack's retry of an event first sent at 1100
    silences.arrived(UNREACHABLE, 1100.0, "T1")
    assert backs == [(1010.0, "T1")]
    now[0] = 1401.0
    silences.arrived(UNREACHABLE, 1200.0, "T1")  # another retry of the same outage: read once
    assert backs == [(1010.0, "T1")]


def test_quiet_is_not_an_outage_and_slowness_is_no_evidence() -> None:
    now = [1000.0]
    silences, backs = _silences(now)
    now[0] = 1900.4
    silences.arrived(None, 1900.0)  # a new event after a quiet quarter of an hour
    now[0] = 1904.0
    silences.arrived("http_error", 1900.0)  # the same event again: it reached us (and failed)
    silences.arrived("http_timeout", 1100.0)  # Slack reached us and the bot was slow
    silences.arrived(None, None)  # a command or a press: an arrival, no event
    assert backs == []
    now[0] = 1930.0
    silences.arrived(UNREACHABLE, 1880.0)  # first sent during the quiet: it was an outage after all
    assert backs == [(1000.0, None)]


def test_a_short_gap_is_covered_by_slacks_retries_and_old_silences_are_forgotten() -> None:
    now = [1000.0]
    silences, backs = _silences(now)
    now[0] = 1030.0
    silences.arrived(UNREACHABLE, 1010.0)  # 30 s of nothing: Slack's retries cover it
    now[0] = 1200.0
    silences.arrived(None, 1200.0)  # a silence 1030-1200
    now[0] = 1200.0 + RETRY_SPAN + 1
    silences.arrived(None, now[0])  # long after it: no retry can still come from it
    silences.arrived(UNREACHABLE, 1100.0)
    assert backs == []


def test_busy_traffic_with_read_back_after_zero_keeps_no_silences() -> None:
    """`read_back_after_seconds = 0` ("always read back") is for starts: gaps between requests
    shorter than a second are never silences, so a busy endpoint keeps none and a retry reads
    nothing."""
    now = [1000.0]
    silences, backs = _silences(now, read_back_after=0.0)
    for i in range(20_000):
        now[0] = 1000.0 + i * 0.01
        silences.arrived(None, now[0])
    assert len(silences._silences) == 0  # nothing kept: memory does not grow with traffic
    for i in range(50):
        silences.arrived(UNREACHABLE, 1000.0 + i)
    assert backs == []


@pytest.mark.parametrize("sent", [10**400, math.inf, math.nan, "1100", True])
def test_an_event_time_that_is_no_time_is_no_evidence(sent: object) -> None:
    from adapters.slack.http_events import _sent_at

    assert _sent_at({"event_time": sent}) is None


def _answered(server: FakeSlack, channel: str, ts: str) -> int:
    return sum(1 for c in posts(server, channel) if c.params.get("thread_ts") == ts)


SHORT = TOML.replace("[slack]\n", "[slack]\nread_back_after_seconds = 1\n", 1)


async def _outage(
    server: FakeSlack, make_runtime: Callable[..., Runtime], *, retry: str | None
) -> tuple[str, str, int]:
    """The bot serves over HTTP; Slack cannot reach it while one question is said (its
    retries run out: the fake never delivers it) and another is said; then Slack gets through
    with the second, as a retry for `retry` (None: a first sending). The two questions' ts,
    and the fake's mark from when the first was said."""
    runtime = make_runtime(SHORT, env=slack_env(server, http=True), answerer=ConfidentExtractive())
    async with running(runtime) as adapter:
        url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
        assert await adapter.drain(15)  # the start's read-back, on a fresh install: nothing
        mark = server.mark()
        lost = server.add_message(
            "C111", f"<@{server.bot_user_id}> How long does a refund take?", user=MEMBER
        )
        later = server.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
        await asyncio.sleep(DELIVERY_LAG + 1.5)  # a silence longer than read_back_after_seconds
        retried = {"retry_num": 2, "retry_reason": retry} if retry else {}
        status, _ = await post_signed(url, json.dumps(later).encode(), server.signing_secret, **retried)
        assert status == 200
        assert await adapter.drain(15)
        # what is owed is read once Slack's retries are spent (shortened here)
        await asyncio.sleep(0.5)
        assert await adapter.drain(15)
    return str(lost["ts"]), str(later["event"]["ts"]), mark


async def test_a_question_slack_could_not_deliver_is_read_back_once_a_retry_shows_the_outage(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.2)
    lost, later, _ = await _outage(fake, make_runtime, retry=UNREACHABLE)
    assert _answered(fake, "C111", lost) == 1
    assert _answered(fake, "C111", later) == 1


@pytest.mark.parametrize("retry", [None, "http_timeout"])
async def test_after_a_silence_that_was_only_quiet_nothing_is_read_back(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
    retry: str | None,
) -> None:
    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.2)
    lost, later, mark = await _outage(fake, make_runtime, retry=retry)
    assert _answered(fake, "C111", later) == 1
    # nothing showed Slack was unable to reach the bot: no history was read (the next start
    # reads from what was heard, which this does not reach back to)
    assert not [c for c in fake.calls("conversations.history") if c.index >= mark]
    assert _answered(fake, "C111", lost) == 0


async def test_a_signed_event_with_an_impossible_time_is_handled_not_a_500(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(SHORT, env=slack_env(fake, http=True), answerer=ConfidentExtractive())
    async with running(runtime) as adapter:
        url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
        body = fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
        raw = (
            json.dumps(body)
            .encode()
            .replace(f'"event_time": {body["event_time"]}'.encode(), b'"event_time": 1' + b"0" * 400)
        )
        assert b"1" + b"0" * 400 in raw
        status, _ = await post_signed(url, raw, fake.signing_secret, retry_num=1, retry_reason=UNREACHABLE)
        assert status == 200
        assert await adapter.drain(15)
    assert _answered(fake, "C111", str(body["event"]["ts"])) == 1


async def test_a_question_held_while_the_start_replays_is_read_back_while_the_process_runs(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The endpoint serves while the start replays what a dead process left (slow here: Slack
    throttles the look for its reply); a question whose recording fails meanwhile is held,
    and Slack's redeliveries never come. It is read back while the process runs, not only at
    the next start."""
    from bot import faults

    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.2)
    first = make_runtime(TOML, env=slack_env(fake, http=True), answerer=ConfidentExtractive())
    async with running(first) as adapter:
        url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
        body = fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
        with faults.crash_at("event.claimed"):  # kill -9 once it is claimed: left unfinished
            await post_signed(url, json.dumps(body).encode(), fake.signing_secret)
    first.close()

    fake.rate_limit("conversations.replies", retry_after=2)  # the replay's look waits 2 s
    second = make_runtime(TOML, env=slack_env(fake, http=True), answerer=ConfidentExtractive())
    adapter = build_adapter(second.bot, second.settings, host="127.0.0.1", port=0, retry_interval=0.01)
    task = asyncio.create_task(adapter.run())
    try:
        async with asyncio.timeout(10):
            while adapter.http_port is None:
                await asyncio.sleep(0.01)
        assert not adapter.ready.is_set()  # still replaying
        said = fake.add_message("C111", f"<@{fake.bot_user_id}> How long does a refund take?", user=MEMBER)
        held = fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True)
        held["event"]["ts"] = said["ts"]
        url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
        with faults.crash_at("event.claiming", error=OSError("database unavailable")):
            status, _ = await post_signed(url, json.dumps(held).encode(), fake.signing_secret)
        assert status >= 500  # left to Slack, whose redeliveries never come
        async with asyncio.timeout(15):
            while not _answered(fake, "C111", str(said["ts"])):
                await asyncio.sleep(0.05)
        assert await adapter.drain(15)
    finally:
        await adapter.close()
        await asyncio.wait_for(task, 10)
    assert _answered(fake, "C111", str(said["ts"])) == 1
    assert _answered(fake, "C111", str(body["event"]["ts"])) == 1  # the replay's
