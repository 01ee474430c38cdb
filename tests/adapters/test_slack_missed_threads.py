"""The Slack read-back in threads (adapters/slack/missed_reading.py): a member who mentions the
bot in a discussion thread while it is down is answered there once it is back; chatter there
is not, nor a mention staff answered; a thread nobody replied to since the outage costs no
read; a reply in a DM thread or the bot's older thread needs no mention, as live; a question
asked while down is answered before the mentions in its thread.

The real slack-bolt and slack_sdk against the fake Slack (Socket Mode), the real core and
store behind them; see tests/adapters/test_slack_missed.py for the plain cases.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from adapters.read_back import MARGIN
from adapters.slack.missed_reading import THREAD_LOOK_BACK
from bot.app import Runtime
from bot.store.rows import transaction
from tests.adapters.test_slack import MEMBER, STAFF, deliver, fake, running, slack_env  # noqa: F401  (fixture)
from tests.adapters.test_slack_missed import ALWAYS, _asked_before, _inbox_status, _process
from tests.adapters.test_slack_missed_cases import _back, _in_thread
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.timeout(60)


def _before(ts: str, seconds: float) -> str:
    return f"{float(ts) - seconds:.6f}"


def _replies_read(server: FakeSlack, thread: str) -> int:
    return len([c for c in server.calls("conversations.replies") if c.params.get("ts") == thread])


async def test_a_mention_in_a_thread_the_bot_is_not_in_said_while_down_is_answered_there_once(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    asked = await _asked_before(fake, make_runtime)
    # a discussion an hour old, and one started while the bot was down
    older = fake.add_message(
        "C111", "Deploy went out, anyone seeing errors?", user=STAFF, ts=_before(asked, 3600)
    )
    fake.add_message("C111", "yes, on login", user=MEMBER, thread_ts=older["ts"], ts=_before(asked, 3000))
    mention = fake.add_message(
        "C111", f"<@{fake.bot_user_id}> how do I reset my password?", user=MEMBER, thread_ts=older["ts"]
    )
    newer = fake.add_message("C111", "lunch plans?", user=MEMBER)
    fake.add_message("C111", "pizza", user=STAFF, thread_ts=newer["ts"])
    also = fake.add_message(
        "C111", f"<@{fake.bot_user_id}> how long does a refund take?", user=STAFF, thread_ts=newer["ts"]
    )
    second = await _back(fake, make_runtime)
    assert _inbox_status(second, "C111", mention["ts"]) == "answered"
    assert _inbox_status(second, "C111", also["ts"]) == "answered"
    assert len(_in_thread(fake, "C111", older["ts"])) == 1  # the mention's answer, in its thread
    assert len(_in_thread(fake, "C111", newer["ts"])) == 1
    # a second start reads them again and answers neither twice
    await _back(fake, make_runtime)
    assert len(_in_thread(fake, "C111", older["ts"])) == 1
    assert len(_in_thread(fake, "C111", newer["ts"])) == 1


async def test_chatter_and_mentions_staff_answered_in_other_threads_are_left_to_people(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    asked = await _asked_before(fake, make_runtime)
    chat = fake.add_message("C111", "Anyone around?", user=MEMBER, ts=_before(asked, 600))
    fake.add_message("C111", "what's the refund policy?", user=MEMBER, thread_ts=chat["ts"])  # no mention
    answered = fake.add_message("C111", "Billing question", user=MEMBER, ts=_before(asked, 500))
    fake.add_message(
        "C111", f"<@{fake.bot_user_id}> how long does a refund take?", user=MEMBER, thread_ts=answered["ts"]
    )
    fake.add_message("C111", "Five to seven business days.", user=STAFF, thread_ts=answered["ts"])
    await _back(fake, make_runtime)
    assert _in_thread(fake, "C111", chat["ts"]) == []
    assert _in_thread(fake, "C111", answered["ts"]) == []
    assert _replies_read(fake, chat["ts"]) == 1 and _replies_read(fake, answered["ts"]) == 1


async def test_threads_with_no_reply_since_the_outage_or_too_old_are_not_read(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    asked = await _asked_before(fake, make_runtime)
    quiet = fake.add_message("C111", "Old discussion", user=MEMBER, ts=_before(asked, 1800))
    fake.add_message("C111", "agreed", user=STAFF, thread_ts=quiet["ts"], ts=_before(asked, 1700))
    stale = fake.add_message(
        "C111", "Last week's thread", user=MEMBER, ts=_before(asked, THREAD_LOOK_BACK.total_seconds() + 3600)
    )
    fake.add_message("C111", f"<@{fake.bot_user_id}> still broken?", user=MEMBER, thread_ts=stale["ts"])
    await _back(fake, make_runtime)
    assert _replies_read(fake, quiet["ts"]) == 0  # its last reply came before the outage
    assert _replies_read(fake, stale["ts"]) == 0  # started a day before it: the documented limit
    assert _in_thread(fake, "C111", stale["ts"]) == []


async def test_a_reply_also_sent_to_the_channel_is_handed_over_once(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broadcast reply shows in the channel's history and in its thread: the channel part
    hands it over, the thread part leaves it."""
    asked = await _asked_before(fake, make_runtime)
    root = fake.add_message("C111", "anyone know about refunds?", user=STAFF, ts=_before(asked, 600))
    broadcast = fake.add_message(
        "C111",
        f"<@{fake.bot_user_id}> How long does a refund take?",
        user=MEMBER,
        thread_ts=root["ts"],
        subtype="thread_broadcast",
    )
    with caplog.at_level(logging.INFO, logger="adapters.slack.missed"):
        second = await _back(fake, make_runtime)
    assert _inbox_status(second, "C111", broadcast["ts"]) == "answered"
    assert len(_in_thread(fake, "C111", root["ts"])) == 1
    # the broadcast, and the question asked just before the stop (within the margin), once each
    counts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("read back ")]
    assert counts and counts[0].startswith("read back 2 message(s)")


async def test_a_reply_in_a_dm_thread_and_a_follow_up_in_an_older_bot_thread_need_no_mention(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """As live: in a direct message every message is for the bot, and so is a follow-up in a
    thread the bot answered in (here two hours before the outage, past the window in which its
    threads are read whole anyway)."""
    first = _process(fake, make_runtime)
    dm = fake.add_im(MEMBER)
    async with running(first) as adapter:
        await fake.wait_for_connection(1)
        asked = fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
        await deliver(fake, adapter, asked)
        await deliver(fake, adapter, fake.user_message(dm["id"], "Where do I change my email?", user=MEMBER))
        await deliver(fake, adapter, fake.user_message("C111", "morning all", user=MEMBER))
    thread = str(asked["event"]["ts"])
    # the state as if the bot last spoke in its thread two hours before it stopped
    with transaction(first.state.db):
        for row_id, pid in first.state.db.execute("select id, platform_id from messages").fetchall():
            if pid and pid.startswith("C111:"):
                moved = float(pid.split(":")[1]) - 7200
                first.state.db.execute(
                    "update messages set platform_id = ? where id = ?", [f"C111:{moved:.6f}", row_id]
                )
    first.close()
    root = fake.add_message(
        dm["id"],
        "Your ticket was resolved.",
        user=fake.bot_user_id,
        bot_id=fake.bot_id,
        ts=_before(thread, 3600),
    )
    in_dm = fake.add_message(dm["id"], "How long does a refund take?", user=MEMBER, thread_ts=root["ts"])
    follow_up = fake.add_message("C111", "And how long does a refund take?", user=MEMBER, thread_ts=thread)
    second = await _back(fake, make_runtime)
    assert _inbox_status(second, dm["id"], in_dm["ts"]) == "answered"
    assert _inbox_status(second, "C111", follow_up["ts"]) == "answered"


class HeldOn(ConfidentExtractive):
    """Answers a question with `word` in it only once `gate` is set."""

    def __init__(self, word: str) -> None:
        super().__init__()
        self.word = word
        self.gate = asyncio.Event()

    async def answer(self, question: str, *args: Any, **kwargs: Any) -> Any:
        if self.word in question.lower():
            await self.gate.wait()
        return await super().answer(question, *args, **kwargs)


async def test_a_question_asked_while_down_is_answered_before_the_mentions_in_its_thread(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    await _asked_before(fake, make_runtime)
    root = fake.add_message("C111", f"<@{fake.bot_user_id}> Where do I change my email?", user=MEMBER)
    fake.add_message(
        "C111", f"<@{fake.bot_user_id}> and how long does a refund take?", user=MEMBER, thread_ts=root["ts"]
    )
    answerer = HeldOn("email")
    second = make_runtime(ALWAYS, env=slack_env(fake), answerer=answerer)
    async with running(second) as adapter:
        await fake.wait_for_connection(1)
        with pytest.raises(TimeoutError):  # nothing in the thread while the root's answer is held
            await fake.wait_for_call(
                "chat.postMessage", lambda c: c.params.get("thread_ts") == root["ts"], timeout=2
            )
        answerer.gate.set()
        assert await adapter.drain(30)
    first, second_post = _in_thread(fake, "C111", root["ts"])
    assert "refund" not in str(first.params.get("text")).lower()
    assert "refund" in str(second_post.params.get("text")).lower()


async def test_a_busy_channel_costs_one_history_page_and_its_look_back_stops_there(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """450 messages in the day before the outage: one page holds the new message and the
    newest 199 of those before it, whose threads are looked at; a thread started before them
    is the documented limit."""
    asked = await _asked_before(fake, make_runtime)
    old_root = fake.add_message("C111", "Yesterday's thread", user=STAFF, ts=_before(asked, 85000))
    for n in range(450):
        fake.add_message("C111", f"chatter {n}", user=MEMBER, ts=_before(asked, 80000 - n * 100))
    fake.add_message("C111", f"<@{fake.bot_user_id}> still broken?", user=MEMBER, thread_ts=old_root["ts"])
    new = fake.add_message("C111", f"<@{fake.bot_user_id}> How long does a refund take?", user=MEMBER)
    second = await _back(fake, make_runtime)
    assert _inbox_status(second, "C111", new["ts"]) == "answered"
    assert len([c for c in fake.calls("conversations.history") if c.params.get("channel") == "C111"]) == 1
    assert _replies_read(fake, old_root["ts"]) == 0


async def test_a_follow_up_in_the_thread_of_a_question_asked_while_down_needs_no_mention(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The question is answered in its thread first, as live: a reply there after it is a
    follow-up in the bot's thread."""
    await _asked_before(fake, make_runtime)
    root = fake.add_message("C111", f"<@{fake.bot_user_id}> Where do I change my email?", user=MEMBER)
    follow_up = fake.add_message(
        "C111", "And how long does a refund take?", user=MEMBER, thread_ts=root["ts"]
    )
    second = await _back(fake, make_runtime)
    assert _inbox_status(second, "C111", root["ts"]) == "answered"
    assert _inbox_status(second, "C111", follow_up["ts"]) == "answered"


async def test_a_thread_whose_root_was_said_at_the_mark_itself_is_read(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    first = _process(fake, make_runtime)
    heard = f"{time.time() - 600:.6f}"
    first.state.note_heard("slack", heard)  # Slack last heard ten minutes ago, then every worker down
    first.close()
    root = fake.add_message(
        "C111", "Deploy went out", user=STAFF, ts=f"{float(heard) - MARGIN.total_seconds():.6f}"
    )
    mention = fake.add_message(
        "C111", f"<@{fake.bot_user_id}> how do I reset my password?", user=MEMBER, thread_ts=root["ts"]
    )
    second = await _back(fake, make_runtime)
    assert _inbox_status(second, "C111", mention["ts"]) == "answered"
