"""Slack's HTTP endpoint while Slack could not reach it (adapters/slack/http_events.py).

`Silences` alone, on a clock the test moves; then the real adapter in HTTP mode (slack-bolt and
slack_sdk against the fake Slack, the real core and store): a question said while Slack could
not reach the endpoint, whose retries ran out (the fake never delivers it), is read back once
a retried event shows the silence was an outage; a silence that was only quiet reads nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from adapters.slack.http_events import RETRY_SPAN, Silences
from bot.app import Runtime
from tests.adapters.test_slack import MEMBER, TOML, fake, posts, running, slack_env  # noqa: F401
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.slack_server import FakeSlack, post_signed

pytestmark = pytest.mark.timeout(60)


def _silences(now: list[float]) -> tuple[Silences, list[float]]:
    backs: list[float] = []
    return Silences(backs.append, read_back_after=60.0, clock=lambda: now[0]), backs


def test_a_retry_of_an_event_sent_in_a_silence_reads_back_from_its_start_once() -> None:
    now = [1000.0]
    silences, backs = _silences(now)
    now[0] = 1010.0
    silences.arrived(False, 1010.0)  # heard: the endpoint was reachable then
    now[0] = 1400.0  # nothing for 390 s; then Slack's retry of an event first sent at 1100
    silences.arrived(True, 1100.0)
    assert backs == [1010.0]
    now[0] = 1401.0
    silences.arrived(True, 1200.0)  # another retry of the same outage: read once
    assert backs == [1010.0]


def test_quiet_is_not_an_outage() -> None:
    now = [1000.0]
    silences, backs = _silences(now)
    now[0] = 1900.0
    silences.arrived(False, 1900.0)  # a new event after a quiet quarter of an hour
    now[0] = 1905.0
    silences.arrived(True, 1902.0)  # retried because the bot was slow, not unreachable
    now[0] = 1930.0
    silences.arrived(True, 1880.0)  # first sent during the quiet: it was an outage after all
    assert backs == [1000.0]
    now[0] = 1935.0
    silences.arrived(True, 1903.0)
    silences.arrived(False, None)  # a command or a press: an arrival, no event
    assert backs == [1000.0]


def test_a_short_gap_is_covered_by_slacks_retries_and_old_silences_are_forgotten() -> None:
    now = [1000.0]
    silences, backs = _silences(now)
    now[0] = 1030.0
    silences.arrived(True, 1010.0)  # 30 s of nothing: Slack's retries cover it
    assert backs == []
    now[0] = 1200.0
    silences.arrived(False, 1200.0)  # a silence 1030-1200
    now[0] = 1200.0 + RETRY_SPAN + 1
    silences.arrived(False, now[0])  # long after it: no retry can still come from it
    silences.arrived(True, 1100.0)
    assert backs == []


SHORT = TOML.replace("[slack]\n", "[slack]\nread_back_after_seconds = 0.5\n", 1)


def _answered(server: FakeSlack, channel: str, ts: str) -> int:
    return sum(1 for c in posts(server, channel) if c.params.get("thread_ts") == ts)


async def _outage(
    server: FakeSlack, make_runtime: Callable[..., Runtime], *, retried: bool
) -> tuple[str, str, int]:
    """The bot serves over HTTP; Slack cannot reach it while one question is said (its
    retries run out: the fake never delivers it) and another is said; then Slack gets through
    with the second, as a retry if `retried`. The two questions' ts, and the fake's mark from
    when the first was said."""
    runtime = make_runtime(SHORT, env=slack_env(server, http=True), answerer=ConfidentExtractive())
    async with running(runtime) as adapter:
        url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
        assert await adapter.drain(15)  # the start's read-back, on a fresh install: nothing
        mark = server.mark()
        lost = server.add_message(
            "C111", f"<@{server.bot_user_id}> How long does a refund take?", user=MEMBER
        )
        later = server.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
        await asyncio.sleep(0.6)  # a silence longer than read_back_after_seconds
        status, _ = await post_signed(
            url,
            json.dumps(later).encode(),
            server.signing_secret,
            **({"retry_num": 2, "retry_reason": "connection_failed"} if retried else {}),
        )
        assert status == 200
        assert await adapter.drain(15)
    return str(lost["ts"]), str(later["event"]["ts"]), mark


async def test_a_question_slack_could_not_deliver_is_read_back_once_a_retry_shows_the_outage(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    lost, later, _ = await _outage(fake, make_runtime, retried=True)
    assert _answered(fake, "C111", lost) == 1
    assert _answered(fake, "C111", later) == 1


async def test_after_a_silence_that_was_only_quiet_nothing_is_read_back(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    lost, later, mark = await _outage(fake, make_runtime, retried=False)
    assert _answered(fake, "C111", later) == 1
    # nothing showed Slack was unable to reach the bot: no history was read (the next start
    # reads from what was heard, which this does not reach back to)
    assert not [c for c in fake.calls("conversations.history") if c.index >= mark]
    assert _answered(fake, "C111", lost) == 0
