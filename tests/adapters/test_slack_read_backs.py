"""A read-back that could not read everything is read again while the worker runs, in every
workspace it was asked to read (adapters/slack/read_backs.py `ReadBacks.read`).

HTTP mode with installs, the real adapter on a real port against the fake Slack: a silence's
read-back (a retry showed Slack could not reach the endpoint) reads the retried event's
workspace whatever the bot talked in lately; one Slack refuses is read again, there too, and
one a restart cut short is read by the next start, there too.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from adapters.slack import SlackAdapter
from adapters.slack.http_events import DELIVERY_LAG
from bot.app import Runtime
from tests.adapters.test_discord_shards import until
from tests.adapters.test_slack_oauth import MEMBER, fake, finish_install, serving, start_install  # noqa: F401
from tests.fakes.slack_server import FakeSlack, post_signed

pytestmark = pytest.mark.timeout(60)

TOML = "[slack]\nread_back_after_seconds = 1\n"  # a silence of a second or more is one


@pytest.mark.parametrize("history_refused", [False, True])
async def test_a_silence_read_back_slack_refused_is_read_again_in_the_retried_events_workspace(
    history_refused: bool,
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """T222, just installed, where the bot never talked: Slack cannot reach the endpoint while
    a question is asked there, and chatter of the same channel comes only as Slack's retry
    afterwards. The silence's read-back reads T222 for it; when Slack refuses its history,
    the worker reads T222 again (not only the workspaces it talked in) and answers, once."""
    import adapters.slack.missed_reading as reading
    import adapters.slack.read_backs as read_backs

    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.3)
    monkeypatch.setattr(reading, "RETRY_PAUSES", ())
    caplog.set_level(logging.INFO, logger="adapters.slack")

    def refused() -> int:
        return sum("could not read back everything" in r.getMessage() for r in caplog.records)

    async with serving(make_runtime, fake, TOML) as (adapter, base):
        lost = await _asked_in_t222_in_a_silence(fake, adapter, base, history_refused=history_refused)
        if history_refused:
            await until(lambda: refused() >= 1, "the silence's read-back, refused by Slack")
            fake.heal("conversations.history")
        await _answered_once_and_nothing_owed(fake, adapter, str(lost["ts"]))


async def test_a_silence_read_back_cut_short_by_a_restart_is_read_at_the_next_start_in_its_workspace(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As above, but the process stops while the silence's read-back waits out Slack's refusal
    (a deploy right after an outage): the next start reads T222 too, though the bot never
    talked there, because the read-back owed it in the state from its first step."""
    import adapters.slack.missed_reading as reading

    monkeypatch.setattr(reading, "RETRY_PAUSES", (60.0,))  # the read waits out a refusal
    async with serving(make_runtime, fake, TOML) as (adapter, base):
        lost = await _asked_in_t222_in_a_silence(fake, adapter, base, history_refused=True)
        await until(
            lambda: len(fake.calls("conversations.history")) >= 1, "the silence's read-back asking Slack"
        )
    fake.heal("conversations.history")
    async with serving(make_runtime, fake, TOML) as (adapter, _):
        await _answered_once_and_nothing_owed(fake, adapter, str(lost["ts"]))


async def _asked_in_t222_in_a_silence(
    fake: FakeSlack,  # noqa: F811  (the fixture's name)
    adapter: SlackAdapter,
    base: str,
    *,
    history_refused: bool,
) -> dict[str, Any]:
    """T222 installs the app; Slack cannot reach the endpoint while a member asks its bot in
    #C222 (the question, as the history holds it, returned); chatter of the same channel comes
    afterwards as Slack's retry, which shows the silence. With `history_refused`, Slack answers
    every history read with a 500 from before that retry (until the test heals it)."""
    async with aiohttp.ClientSession() as http:
        redirect, cookie = await start_install(http, base, "T222")
        assert await finish_install(http, redirect, cookie) == 200
    assert await adapter.drain(15)
    chatter = fake.user_message("C222", "lunch anyone?", user=MEMBER)
    chatter["team_id"] = chatter["event"]["team"] = "T222"
    chatter["authorizations"][0].update(team_id="T222", user_id="U0BOT2")
    lost = fake.add_message("C222", "<@U0BOT2> How long does a refund take?", user=MEMBER)
    await asyncio.sleep(DELIVERY_LAG + 1.5)  # the silence
    if history_refused:
        fake.http_error("conversations.history", 500, times=10**6)
    body = json.dumps(chatter).encode()
    status, _ = await post_signed(
        f"{base}/slack/events", body, fake.signing_secret, retry_num=1, retry_reason="http_error"
    )
    assert status == 200
    return lost


async def _answered_once_and_nothing_owed(
    fake: FakeSlack,  # noqa: F811  (the fixture's name)
    adapter: SlackAdapter,
    ts: str,
) -> None:
    await fake.wait_for_call("chat.postMessage", lambda c: c.params.get("thread_ts") == ts, timeout=15)
    assert await adapter.drain(15)
    assert await adapter.bot.owed_read_back("slack") is None
    assert len([c for c in fake.calls("chat.postMessage") if c.ok and c.params.get("thread_ts") == ts]) == 1
