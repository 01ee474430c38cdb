"""The Slack read-back's harder cases (adapters/slack/missed_reading.py): staff who answered
while the bot was down keep the thread, a store that fails once and a Slack that throttles do
not lose a question, the newest replies of a long thread are the ones read, mention forms
and odd messages, what a quiet bot heard, and a shutdown that does not wait for a read-back.

The real slack-bolt and slack_sdk against the fake Slack (Socket Mode), the real core and
store behind them; see tests/adapters/test_slack_missed.py for the plain cases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

import adapters.slack.missed_reading as reading
from bot import faults
from bot.app import Runtime
from tests.adapters.test_slack import MEMBER, STAFF, deliver, fake, posts, running  # noqa: F401  (fixture)
from tests.adapters.test_slack_missed import _asked_before, _inbox_status, _process
from tests.fakes.slack_server import ApiCall, FakeSlack, _Ctx

pytestmark = pytest.mark.timeout(60)


def _in_thread(server: FakeSlack, channel: str, ts: str, since: int = 0) -> list[ApiCall]:
    return [c for c in posts(server, channel)[since:] if c.params.get("thread_ts") == ts]


async def _back(server: FakeSlack, make_runtime: Callable[..., Runtime], **options: Any) -> Runtime:
    """The restart: a second process, run until everything it read back is handled."""
    second = _process(server, make_runtime)
    async with running(second, **options) as adapter:
        await server.wait_for_connection(1)
        assert await adapter.drain(30)
    return second


async def _answered_thread(server: FakeSlack, make_runtime: Callable[..., Runtime]) -> str:
    """A first process answers a mention in #C111 in a thread, then stops; the thread's ts."""
    first = _process(server, make_runtime)
    async with running(first) as adapter:
        await server.wait_for_connection(1)
        asked = server.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
        await deliver(server, adapter, asked)
    first.close()
    return str(asked["event"]["ts"])


async def _heard_chatter(server: FakeSlack, make_runtime: Callable[..., Runtime]) -> None:
    """A first process hears only chatter (nothing it records), then stops."""
    first = _process(server, make_runtime)
    async with running(first) as adapter:
        await server.wait_for_connection(1)
        await deliver(server, adapter, server.user_message("C111", "morning all", user=MEMBER))
    assert first.state.last_recorded("slack") is None
    first.close()


async def test_staff_who_took_over_the_bots_thread_while_it_was_down_keep_it(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    thread_ts = await _answered_thread(fake, make_runtime)
    # while down: staff step in, then the member asks on in the bot's thread (no mention)
    took_over = fake.add_message("C111", "I'll take this one.", user=STAFF, thread_ts=thread_ts)
    fake.add_message("C111", "And how long does a refund take?", user=MEMBER, thread_ts=thread_ts)
    second = await _back(fake, make_runtime)
    assert len(_in_thread(fake, "C111", thread_ts)) == 1  # the first answer only: as live, staff keep it
    assert _inbox_status(second, "C111", took_over["ts"]) is not None  # the takeover is recorded
    assert second.state.conversation(f"slack:{fake.team_id}:C111:{thread_ts}").human_takeover


async def test_questions_staff_already_answered_while_the_bot_was_down_are_left_to_them(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    thread_ts = await _answered_thread(fake, make_runtime)
    # a follow-up in the bot's thread, answered by staff before the bot was back
    fake.add_message("C111", "And how long does a refund take?", user=MEMBER, thread_ts=thread_ts)
    fake.add_message("C111", "Five to seven business days.", user=STAFF, thread_ts=thread_ts)
    # a new mention staff answered in its own thread (the history shows reply_users)
    asked = fake.add_message("C111", f"<@{fake.bot_user_id}> Where do I change my email?", user=MEMBER)
    fake.add_message("C111", "Under Settings, Profile.", user=STAFF, thread_ts=asked["ts"])
    # and one nobody answered
    open_q = fake.add_message("C111", f"<@{fake.bot_user_id}> How long does a refund take?", user=MEMBER)
    await _back(fake, make_runtime)
    assert len(_in_thread(fake, "C111", thread_ts)) == 1
    assert not _in_thread(fake, "C111", asked["ts"])
    assert len(_in_thread(fake, "C111", open_q["ts"])) == 1


async def test_a_question_the_store_failed_to_record_is_handed_over_again(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _heard_chatter(fake, make_runtime)  # so the question below is the only one read back
    fake.add_channel("C444", "random")
    asked = fake.add_message("C444", f"<@{fake.bot_user_id}> How long does a refund take?", user=MEMBER)
    # its first claim fails: a store that blips once
    with caplog.at_level(logging.WARNING), faults.crash_at("event.claiming", error=OSError("disk full")):
        second = await _back(fake, make_runtime)
    assert _inbox_status(second, "C444", asked["ts"]) == "answered"
    assert len(_in_thread(fake, "C444", asked["ts"])) == 1
    lines = [r.getMessage() for r in caplog.records if "could not record" in r.getMessage()]
    assert lines and all("read back, to be tried again" in line for line in lines)


async def test_a_throttled_read_is_tried_again(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _asked_before(fake, make_runtime)
    asked = fake.add_message("C111", f"<@{fake.bot_user_id}> How long does a refund take?", user=MEMBER)
    # more 429s than slack_sdk's own three retries, for every channel's first reads
    fake.rate_limit("conversations.history", times=16, retry_after=0)
    monkeypatch.setattr(reading, "RETRY_PAUSES", (0.05,) * 8)
    await _back(fake, make_runtime)
    assert len(_in_thread(fake, "C111", asked["ts"])) == 1
    assert [c for c in fake.calls("conversations.history") if c.status == 429]


async def test_a_long_thread_is_read_to_its_newest_replies(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    thread_ts = await _answered_thread(fake, make_runtime)
    for n in range(5):
        fake.add_message("C111", f"chatter {n}", user=MEMBER, thread_ts=thread_ts)
    last = fake.add_message("C111", "And how long does a refund take?", user=MEMBER, thread_ts=thread_ts)
    monkeypatch.setattr(reading, "HISTORY_CAP", 3)
    monkeypatch.setattr(reading, "PAGE", 2)
    second = await _back(fake, make_runtime)
    assert _inbox_status(second, "C111", last["ts"]) == "answered"


async def test_mention_forms_broadcast_replies_and_a_malformed_ts(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    await _asked_before(fake, make_runtime)
    fake.add_channel("C444", "random")
    labelled = fake.add_message(
        "C444", f"<@{fake.bot_user_id}|supportbot> How long does a refund take?", user=MEMBER
    )
    root = fake.add_message("C444", "anyone know about refunds?", user="W333")
    broadcast = fake.add_message(
        "C444",
        f"<@{fake.bot_user_id}> How do I reset my password?",
        user=MEMBER,
        thread_ts=root["ts"],
        subtype="thread_broadcast",
    )
    fake.add_channel("C0AA", "odd")
    fake.add_message("C0AA", f"<@{fake.bot_user_id}> odd", user=MEMBER)
    history = fake._m_conversations_history

    async def with_a_bad_ts(call: ApiCall) -> dict[str, Any]:
        out = await history(_Ctx(call.method, call.params, fake._tokens[fake.bot_token], call))
        if call.params.get("channel") == "C0AA":
            out["messages"] = [dict(m, ts="abc") for m in out["messages"]]
        out.pop("ok", None)
        return out

    fake.stub("conversations.history", with_a_bad_ts)
    second = await _back(fake, make_runtime)
    assert _inbox_status(second, "C444", labelled["ts"]) == "answered"
    assert _inbox_status(second, "C444", broadcast["ts"]) == "answered"
    assert _inbox_status(second, "C444", root["ts"]) is None  # chatter in a mention-only channel
    assert not posts(fake, "C0AA")


async def test_a_bot_that_heard_only_chatter_still_reads_back_after_an_outage(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """Chatter leaves no message recorded; what was heard is noted all the same, so the first
    question asked while the bot was down is not taken for a fresh install's."""
    await _heard_chatter(fake, make_runtime)
    asked = fake.add_message("C111", f"<@{fake.bot_user_id}> How long does a refund take?", user=MEMBER)
    await _back(fake, make_runtime)
    assert len(_in_thread(fake, "C111", asked["ts"])) == 1


async def test_shutting_down_stops_a_read_back_instead_of_waiting_for_it(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _asked_before(fake, make_runtime)
    fake.rate_limit("users.conversations", times=10, retry_after=30)  # Slack holds the read-back
    second = _process(fake, make_runtime)
    with caplog.at_level(logging.WARNING):
        async with running(second, drain_timeout=2.0):
            await fake.wait_for_connection(1)
            await fake.wait_for_call("users.conversations")
    assert not [r for r in caplog.records if "still running" in r.getMessage()]
