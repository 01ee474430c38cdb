"""Slack's last retry of an event the store could not take is acknowledged, and the question
is still answered once (adapters/slack/retries.py).

Slack disables an app's event subscriptions when fewer than 5% of its deliveries in an hour
were acknowledged; every message event of an hour-long store outage refused for Slack to
retry would do that. Slack sends an event no more after its third retry whatever the answer,
so that one is acknowledged; the read-back its hold owes answers it once the store is back.
Real slack-bolt and slack_sdk against the fake Slack (HTTP and Socket Mode), real core and
store; the outage through bot/faults.py's claim point or another writer holding the inbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from adapters.slack.retries import LAST_RETRY, last_try, retry_number, retry_reason
from bot import faults
from bot.app import Runtime
from tests.adapters.test_discord_shards import until
from tests.adapters.test_slack import MEMBER, fake, posts, running  # noqa: F401  (fixture)
from tests.adapters.test_slack_unrecorded import database_url, inbox_locked, make_rt  # noqa: F401
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401  (fixtures)
from tests.fakes.slack_server import FakeSlack, post_signed

pytestmark = pytest.mark.timeout(60)

QUESTION = "How long does a refund take to arrive?"
DOWN = OSError("database unavailable")  # every claim, while the block lasts


@pytest.fixture(autouse=True)
def owed_read_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a hold owes is read back within a second, and again as often while it fails."""
    import adapters.slack.read_backs as read_backs

    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.2)
    monkeypatch.setattr(read_backs, "RETRY_OWED_AT_MOST", 0.4)


def _answers(server: FakeSlack, ts: str) -> int:
    return len([c for c in posts(server, "C111") if c.params.get("thread_ts") == ts])


@pytest.mark.parametrize(
    ("headers", "number", "last"),
    [
        ({}, 0, False),
        ({"x-slack-retry-num": ["1"]}, 1, False),
        ({"x-slack-retry-num": ["2"]}, 2, False),
        ({"x-slack-retry-num": [str(LAST_RETRY)]}, LAST_RETRY, True),
        ({"x-slack-retry-num": ["4"]}, 4, True),  # more than Slack documents: none after it either
        ({"x-slack-retry-num": ["three"]}, 0, False),
        ({"x-slack-retry-num": ["-3"]}, 0, False),
        ({"x-slack-retry-num": ["9" * 400]}, 0, False),  # no huge-int parse of a stranger's text
        ({"x-slack-retry-num": []}, 0, False),
    ],
)
def test_which_try_a_delivery_is(headers: dict[str, list[str]], number: int, last: bool) -> None:
    assert retry_number(headers) == number
    assert last_try(headers) is last


def test_a_retrys_reason_and_a_first_sending() -> None:
    assert retry_reason({}) is None
    assert retry_reason({"x-slack-retry-num": ["0"], "x-slack-retry-reason": [""]}) is None  # Bolt's first
    assert retry_reason({"x-slack-retry-num": ["1"], "x-slack-retry-reason": ["http_error"]}) == "http_error"
    assert retry_reason({"x-slack-retry-num": ["2"]}) == ""


async def test_the_last_retry_of_an_http_event_the_store_refused_gets_a_200_and_is_answered_once_read_back(
    make_runtime: Callable[..., Runtime],
    fake: FakeSlack,  # noqa: F811
) -> None:
    runtime = make_rt(make_runtime, fake, None, http=True)
    event = fake.user_message("C111", QUESTION, user=MEMBER, mention=True)
    body, ts = json.dumps(event).encode(), str(event["event"]["ts"])
    async with running(runtime) as adapter:
        url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
        with faults.crash_at("event.claiming", error=DOWN, times=10**6):
            statuses = [(await post_signed(url, body, fake.signing_secret))[0]]
            for retry in range(1, LAST_RETRY + 1):
                status, _ = await post_signed(
                    url, body, fake.signing_secret, retry_num=retry, retry_reason="http_error"
                )
                statuses.append(status)
            # refused for Slack to try again, but not the try after which it never does
            assert [s >= 500 for s in statuses] == [True] * LAST_RETRY + [False]
            assert statuses[-1] == 200
            assert _answers(fake, ts) == 0
            # held: a read-back is owed (written in the background)
            await until(lambda: runtime.state.owed_read_back("slack") is not None, "the owed read-back")
            assert float(runtime.state.owed_read_back("slack") or 0) < float(ts)
        # the store is back: the read-back the hold owes answers it, once
        await fake.wait_for_call("chat.postMessage", lambda c: c.params.get("thread_ts") == ts, timeout=15)
        assert await adapter.drain(15)
    assert _answers(fake, ts) == 1


async def test_the_last_retry_of_a_socket_mode_event_the_store_refused_is_acked_and_answered_once(
    make_runtime: Callable[..., Runtime],
    fake: FakeSlack,  # noqa: F811
) -> None:
    runtime = make_rt(make_runtime, fake, None)
    event = fake.user_message("C111", QUESTION, user=MEMBER, mention=True)
    ts = str(event["event"]["ts"])
    async with running(runtime) as adapter:
        await fake.wait_for_connection(1)
        with faults.crash_at("event.claiming", error=DOWN, times=10**6):
            with pytest.raises(TimeoutError):  # no ack: Slack sends it again
                await fake.socket_send("events_api", event, timeout=3.0)
            with pytest.raises(TimeoutError):
                await fake.socket_send(
                    "events_api", event, timeout=3.0, retry_attempt=LAST_RETRY - 1, retry_reason="timeout"
                )
            ack: dict[str, Any] = await fake.socket_send(
                "events_api", event, timeout=3.0, retry_attempt=LAST_RETRY, retry_reason="timeout"
            )
            assert ack.get("envelope_id")  # acknowledged: the last try
            assert _answers(fake, ts) == 0
        await fake.wait_for_call("chat.postMessage", lambda c: c.params.get("thread_ts") == ts, timeout=15)
        assert await adapter.drain(15)
    assert _answers(fake, ts) == 1


async def test_the_last_retry_of_an_event_whose_claim_waits_on_a_locked_store_gets_a_200_and_is_answered_once(
    make_runtime: Callable[..., Runtime],
    fake: FakeSlack,  # noqa: F811
    database_url: str | None,  # noqa: F811
) -> None:
    """Not refused but slow (another writer holds the inbox past the ack's bound): the claim
    that waited lands once the lock goes, the read-back finds it handled; one answer."""
    runtime = make_rt(make_runtime, fake, database_url, http=True)
    event = fake.user_message("C111", QUESTION, user=MEMBER, mention=True)
    body, ts = json.dumps(event).encode(), str(event["event"]["ts"])
    async with running(runtime) as adapter:
        url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
        with inbox_locked(runtime, database_url) as inbox:
            status, _ = await post_signed(
                url, body, fake.signing_secret, retry_num=LAST_RETRY, retry_reason="http_timeout"
            )
            assert status == 200
            assert inbox() == []  # acknowledged though not in the inbox yet: held instead
        await fake.wait_for_call("chat.postMessage", lambda c: c.params.get("thread_ts") == ts, timeout=15)
        assert await adapter.drain(15)
    assert _answers(fake, ts) == 1
