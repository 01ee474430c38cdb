"""Questions asked in Slack while no worker took events, past Slack's retries
(adapters/slack/missed.py): read back and answered once the bot is back; a message handled
before, or delivered again by Slack afterwards, is not answered twice; chatter, own posts and
channels that are off are not handed over; nothing is read on a fresh install.

The real slack-bolt and slack_sdk against the fake Slack (Socket Mode), the real core and
store behind them. "While stopped" means the fake holds the message and delivers no event:
what Slack does once its retries are spent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.read_back import MARGIN, MISSED_WINDOW, since
from adapters.slack.missed import heard_ts
from adapters.slack.socket_mode import Outages
from bot.app import Runtime
from tests.adapters.test_slack import (  # noqa: F401  (fixture)
    MEMBER,
    TOML,
    deliver,
    fake,
    posts,
    running,
    slack_env,
)
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.slack_server import ApiCall, FakeSlack

pytestmark = pytest.mark.timeout(60)


# the tests restart at once; Slack's own retries would cover so short a gap, the fake's do not
ALWAYS = TOML.replace("[slack]\n", "[slack]\nread_back_after_seconds = 0\n", 1)


def _process(server: FakeSlack, make_runtime: Callable[..., Runtime], toml: str = ALWAYS) -> Runtime:
    """One `supportbot run` on the test's data directory (a second one is the restart)."""
    return make_runtime(toml, env=slack_env(server), answerer=ConfidentExtractive())


def _answers_to(server: FakeSlack, channel: str, ts: str, since: int = 0) -> list[ApiCall]:
    """The bot's posts in the thread of the message `ts` (its answers to it)."""
    return [c for c in posts(server, channel)[since:] if c.params.get("thread_ts") == ts]


def _inbox_status(runtime: Runtime, channel: str, ts: str) -> str | None:
    row = runtime.state.db.execute(
        "select status from inbox where key = ?", [f"slack:msg:{channel}:{ts}"]
    ).fetchone()
    return None if row is None else str(row[0])


async def _asked_before(server: FakeSlack, make_runtime: Callable[..., Runtime], toml: str = ALWAYS) -> str:
    """A first process answers a mention in #C111 and stops; the question's ts."""
    first = _process(server, make_runtime, toml)
    async with running(first) as adapter:
        await server.wait_for_connection(1)
        body = server.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
        await deliver(server, adapter, body)
    first.close()
    return str(body["event"]["ts"])


def test_reading_starts_a_margin_before_what_was_heard_and_not_past_a_day() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    heard = now.timestamp() - 600
    assert since(heard, now) == pytest.approx(heard - MARGIN.total_seconds())
    long_ago = now.timestamp() - 3 * MISSED_WINDOW.total_seconds()
    assert since(long_ago, now) == pytest.approx((now - MISSED_WINDOW).timestamp())
    # an edit's id carries a suffix; the ts before it counts
    assert heard_ts(f"C111:{heard:.6f}:edited:1.2") == pytest.approx(heard)
    # a slash command's question is kept under its trigger id: no time can be read from it
    assert heard_ts("3.1796.fbdc1234") is None
    assert heard_ts("C111:abc") is None


async def test_a_question_asked_while_the_bot_was_stopped_is_answered_once_it_is_back(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    answered_ts = await _asked_before(fake, make_runtime)
    fake.add_channel("C444", "random")  # the bot is a member; nobody asked it here before
    missed = fake.add_message("C444", f"<@{fake.bot_user_id}> How long does a refund take?", user=MEMBER)
    chatter = fake.add_message("C444", "lunch anyone?", user=MEMBER)

    start = len(posts(fake))
    second = _process(fake, make_runtime)
    async with running(second) as adapter:
        await fake.wait_for_connection(1)
        answer = await fake.wait_for_call(
            "chat.postMessage", lambda c: c.params.get("thread_ts") == missed["ts"]
        )
        assert await adapter.drain(15)
        assert (
            "refund"
            in str(answer.params.get("text", "")).lower() + str(answer.params.get("blocks", "")).lower()
        )
        # Slack's own retry of the same message arrives late: still one answer
        retry = fake.event_callback(
            {
                "type": "app_mention",
                "text": missed["text"],
                "user": MEMBER,
                "ts": missed["ts"],
                "channel": "C444",
                "event_ts": missed["ts"],
            }
        )
        await deliver(fake, adapter, retry)
    assert len(_answers_to(fake, "C444", missed["ts"])) == 1
    # the question answered before the stop was read back too (within the margin), and
    # recognised: not answered again
    assert not _answers_to(fake, "C111", answered_ts, since=start)
    assert _inbox_status(second, "C444", missed["ts"]) == "answered"
    assert _inbox_status(second, "C444", chatter["ts"]) is None  # chatter is not handed over
    assert fake.calls("users.conversations")


async def test_a_dm_and_a_follow_up_in_the_bots_thread_sent_while_stopped_are_answered(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    first = _process(fake, make_runtime)
    dm = fake.add_im(MEMBER)
    async with running(first) as adapter:
        await fake.wait_for_connection(1)
        asked = fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
        await deliver(fake, adapter, asked)
        await deliver(fake, adapter, fake.user_message(dm["id"], "How do I reset my password?", user=MEMBER))
    first.close()
    thread_ts = str(asked["event"]["ts"])
    follow_up = fake.add_message("C111", "And how long does a refund take?", user=MEMBER, thread_ts=thread_ts)
    in_dm = fake.add_message(dm["id"], "How long does a refund take?", user=MEMBER)

    second = _process(fake, make_runtime)
    async with running(second) as adapter:
        await fake.wait_for_connection(1)
        await fake.wait_for_call(
            "chat.postMessage", lambda c: c.params.get("channel") == dm["id"] and c.ok, count=2
        )
        await fake.wait_for_call(
            "chat.postMessage",
            lambda c: c.params.get("thread_ts") == thread_ts and "refund" in str(c.params).lower(),
        )
        assert await adapter.drain(15)
    assert _inbox_status(second, "C111", follow_up["ts"]) == "answered"
    assert _inbox_status(second, dm["id"], in_dm["ts"]) == "answered"
    assert len([c for c in posts(fake, dm["id"]) if "refund" in str(c.params).lower()]) == 1


async def test_auto_answer_channels_are_read_whole_and_channels_that_are_off_not_at_all(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    fake.add_channel("C333", "help")
    fake.add_channel("C555", "staff-only")
    toml = ALWAYS + '[slack.channels.C333]\nmode = "auto-answer"\n[slack.channels.C555]\nmode = "off"\n'
    await _asked_before(fake, make_runtime, toml)
    unprompted = fake.add_message("C333", "How long does a refund take?", user=MEMBER)
    silenced = fake.add_message("C555", f"<@{fake.bot_user_id}> How long does a refund take?", user=MEMBER)

    second = _process(fake, make_runtime, toml)
    async with running(second) as adapter:
        await fake.wait_for_connection(1)
        await fake.wait_for_call("chat.postMessage", lambda c: c.params.get("thread_ts") == unprompted["ts"])
        assert await adapter.drain(15)
    assert _inbox_status(second, "C555", silenced["ts"]) is None
    assert not [c for c in fake.calls("conversations.history") if c.params.get("channel") == "C555"]
    assert not posts(fake, "C555")


async def test_a_fresh_install_reads_nothing_back(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    fake.add_message("C111", f"<@{fake.bot_user_id}> said before the bot ever ran", user=MEMBER)
    runtime = _process(fake, make_runtime)
    async with running(runtime) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(15)
    assert not fake.calls("users.conversations")
    assert not fake.calls("conversations.history")
    assert not posts(fake)


async def test_when_slack_will_not_list_the_bots_channels_the_ones_it_talked_in_are_still_read(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _asked_before(fake, make_runtime)
    missed = fake.add_message("C111", f"<@{fake.bot_user_id}> How long does a refund take?", user=MEMBER)
    fake.fail("users.conversations", "enterprise_is_restricted")

    second = _process(fake, make_runtime)
    with caplog.at_level(logging.WARNING, logger="adapters.slack.missed"):
        async with running(second) as adapter:
            await fake.wait_for_connection(1)
            await fake.wait_for_call("chat.postMessage", lambda c: c.params.get("thread_ts") == missed["ts"])
            assert await adapter.drain(15)
    warnings = [
        r for r in caplog.records if r.name == "adapters.slack.missed" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1 and "users.conversations enterprise_is_restricted" in warnings[0].getMessage()
    assert not any(r.exc_info for r in warnings)


# -- a Socket Mode connection that stays down while the process runs ------------------------


def test_an_outage_is_read_back_from_when_the_lost_connection_was_last_alive() -> None:
    now = [1000.0]
    backs: list[float] = []
    outages = Outages(backs.append, 10.0, read_back_after=60.0, clock=lambda: now[0])
    outages.greeted()  # the first connection's hello: no outage
    outages.lost(stale=True)  # no pong for 4 intervals: alive up to 5 intervals before
    now[0] += 30
    outages.lost(stale=False)  # a failed reconnect asks again: the same outage
    now[0] += 30
    outages.greeted()
    assert backs == [1000.0 - 5 * 10.0]
    # Slack asked for a fresh connection (a refresh): back within seconds, Slack's retries cover it
    outages.lost(stale=False)
    now[0] += 2
    outages.greeted()
    assert backs == [950.0]


async def test_a_question_said_while_the_connection_was_down_is_read_back_when_it_returns(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = _process(fake, make_runtime)
    async with running(runtime) as adapter:
        await fake.wait_for_connection(1)
        # said once the network had already failed: Slack never got it to a connection of ours
        missed = fake.add_message("C111", f"<@{fake.bot_user_id}> How long does a refund take?", user=MEMBER)
        await fake.socket_drop()
        await fake.wait_for_connection(2, timeout=15)
        await fake.wait_for_call(
            "chat.postMessage", lambda c: c.params.get("thread_ts") == missed["ts"], timeout=15
        )
        assert await adapter.drain(15)
    assert _inbox_status(runtime, "C111", missed["ts"]) == "answered"


async def test_a_quick_restart_and_a_refreshed_connection_read_nothing_back(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """A restart within `read_back_after_seconds` (60 by default) of the last thing heard, and
    the fresh connection Slack asks for every few hours: its own retries cover what it sent
    meanwhile, so no channel is read for either."""
    await _asked_before(fake, make_runtime, TOML)
    since = fake.mark()
    runtime = _process(fake, make_runtime, TOML)
    async with running(runtime) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(15)
        await fake.socket_disconnect("refresh_requested")
        await fake.wait_for_connection(2, timeout=15)
        # an event on the new connection: its hello was handled before it (listeners run in turn)
        await deliver(fake, adapter, fake.user_message("C111", "thanks, all sorted", user=MEMBER))
    assert not [
        c for c in fake.api_calls[since:] if c.method in ("users.conversations", "conversations.history")
    ]
