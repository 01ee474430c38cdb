"""A read-back owed in a workspace the bot never talked in (adapters/slack/heard.py
`team_place`): with installs, a start reads back the workspaces it talked in within 30 days,
and those a question was held in. A workspace just installed whose first question the state
refused is one of the latter: without its own owed place, a restart before Slack's retries
came back would read every other workspace and lose that question.

The real adapter in multi-workspace HTTP mode against the fake Slack (test_slack_oauth's
fixtures: the Bolt OAuth flow, the state store), two processes on one data directory.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import aiohttp

from adapters.slack.heard import team_place
from bot import faults
from bot.app import Runtime
from tests.adapters.test_slack_oauth import fake, finish_install, mention, serving, start_install
from tests.fakes.slack_server import FakeSlack, post_signed

__all__ = ["fake"]  # the fixture, imported from test_slack_oauth


async def test_a_first_question_held_in_a_new_workspace_is_read_back_after_a_restart(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    async with serving(make_runtime, fake) as (adapter, base):
        async with aiohttp.ClientSession() as http:
            redirect, cookie = await start_install(http, base, "T222")
            assert await finish_install(http, redirect, cookie) == 200
        body = mention(fake, "T222", "U0BOT2", "C222", "How long does a refund take?")
        ts = json.loads(body)["event"]["ts"]
        fake.add_message("C222", "<@U0BOT2> How long does a refund take?", user="W222", ts=ts)  # its history
        with faults.crash_at("installations.find", error=OSError("database unavailable")):
            status, _ = await post_signed(f"{base}/slack/events", body, fake.signing_secret)
        assert status == 503  # left to Slack's retries, which will find no worker up
        assert await adapter.drain(10)
        owed = await adapter.bot.owed_read_backs(team_place(""))
        assert list(owed) == [team_place("T222")] and float(owed[team_place("T222")]) < float(ts)
    # every worker down past Slack's retries; then one starts
    async with serving(make_runtime, fake) as (adapter, _):
        assert await adapter.drain(30)
        answers = [c for c in fake.calls("chat.postMessage") if c.ok and c.params.get("thread_ts") == ts]
        assert len(answers) == 1 and answers[0].params["channel"] == "C222"
        assert await adapter.bot.owed_read_backs(team_place("")) == {}  # read: settled
        assert await adapter.bot.owed_read_back("slack") is None
