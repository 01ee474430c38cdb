"""The Slack read-back in threads the bot is not in (adapters/slack/missed_reading.py): a
member who mentions the bot in a discussion thread while it is down is answered there once it
is back; chatter there is not, nor a mention staff answered; a thread nobody replied to since
the outage costs no read.

The real slack-bolt and slack_sdk against the fake Slack (Socket Mode), the real core and
store behind them; see tests/adapters/test_slack_missed.py for the plain cases.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.slack.missed_reading import THREAD_LOOK_BACK
from bot.app import Runtime
from tests.adapters.test_slack import MEMBER, STAFF, fake  # noqa: F401  (fixture)
from tests.adapters.test_slack_missed import _asked_before, _inbox_status
from tests.adapters.test_slack_missed_cases import _back, _in_thread
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
