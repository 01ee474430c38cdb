"""A read-back owed in a workspace and channel the bot never talked in (adapters/slack/heard.py
`HeldIn`): with installs, a start reads back the workspaces it talked in within 30 days,
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
import pytest

from adapters.slack.heard import TEAMS, HeldIn
from bot import faults
from bot.app import Runtime
from tests.adapters.test_slack_oauth import MEMBER, fake, finish_install, mention, serving, start_install
from tests.adapters.test_slack_workspaces import org_install, org_mention, reminder, state_of, tokens_used
from tests.fakes.slack_server import FakeSlack, post_signed

ALWAYS = "[slack]\nread_back_after_seconds = 0\n"  # read back at every start, whatever the gap

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
        owed = await adapter.bot.owed_read_backs(TEAMS)
        held = HeldIn("T222", "C222").place
        assert list(owed) == [held] and float(owed[held]) < float(ts)
    # every worker down past Slack's retries; then one starts
    async with serving(make_runtime, fake) as (adapter, _):
        assert await adapter.drain(30)
        answers = [c for c in fake.calls("chat.postMessage") if c.ok and c.params.get("thread_ts") == ts]
        assert len(answers) == 1 and answers[0].params["channel"] == "C222"
        assert await adapter.bot.owed_read_backs(TEAMS) == {}  # read: settled
        assert await adapter.bot.owed_read_back("slack") is None


async def test_a_first_dm_held_in_a_new_workspace_is_read_back_after_a_restart(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """A DM is in no channel a read-back knows of (listing DMs needs a scope the app does not
    ask for): the held message's channel is owed with its workspace."""
    async with serving(make_runtime, fake) as (adapter, base):
        async with aiohttp.ClientSession() as http:
            redirect, cookie = await start_install(http, base, "T222")
            assert await finish_install(http, redirect, cookie) == 200
        dm = fake.add_im(MEMBER)
        fake.members[dm["id"]].add("U0BOT2")  # the DM is with T222's bot
        body = fake.user_message(dm["id"], "How long does a refund take?", user=MEMBER)
        body["team_id"] = body["event"]["team"] = "T222"
        body["authorizations"][0].update(team_id="T222", user_id="U0BOT2")
        fake.add_message(dm["id"], "How long does a refund take?", user=MEMBER, ts=body["event"]["ts"])
        with faults.crash_at("installations.find", error=OSError("database unavailable")):
            status, _ = await post_signed(
                f"{base}/slack/events", json.dumps(body).encode(), fake.signing_secret
            )
        assert status == 503
        assert await adapter.drain(10)
        assert list(await adapter.bot.owed_read_backs(TEAMS)) == [HeldIn("T222", dm["id"]).place]
    async with serving(make_runtime, fake) as (adapter, _):
        assert await adapter.drain(30)
        answers = [c for c in fake.calls("chat.postMessage") if c.ok and c.params.get("channel") == dm["id"]]
        assert len(answers) == 1
        assert await adapter.bot.owed_read_backs(TEAMS) == {}


async def test_a_question_held_in_a_workspace_of_an_org_wide_install_is_read_back_after_a_restart(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """The organisation's install is found by the organisation's id, which a restarted
    process learns only from an event: the hold keeps it."""
    async with serving(make_runtime, fake) as (adapter, base):
        org_install(fake)
        async with aiohttp.ClientSession() as http:
            redirect, cookie = await start_install(http, base, "T222")
            assert await finish_install(http, redirect, cookie) == 200
        body = org_mention(fake, "How long does a refund take?")
        ts = body["event"]["ts"]
        fake.add_message("C222", "<@U0BOT2> How long does a refund take?", user="W222", ts=ts)
        with faults.crash_at("installations.find", error=OSError("database unavailable")):
            status, _ = await post_signed(
                f"{base}/slack/events", json.dumps(body).encode(), fake.signing_secret
            )
        assert status == 503
        assert await adapter.drain(10)
        assert list(await adapter.bot.owed_read_backs(TEAMS)) == [HeldIn("T222", "C222", "E111").place]
    async with serving(make_runtime, fake) as (adapter, _):
        assert await adapter.drain(30)
        answers = [c for c in fake.calls("chat.postMessage") if c.ok and c.params.get("thread_ts") == ts]
        assert len(answers) == 1
        assert await adapter.bot.owed_read_backs(TEAMS) == {}


async def test_a_question_said_while_down_in_a_workspace_of_an_org_wide_install_is_read_back(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """Nothing was held: the bot talked in T222, every worker went down, a member asked, and
    Slack's retries found no worker. A restarted process reads back the workspaces it talked
    in; T222 has no install of its own, and the organisation its events named is in the state
    (a process knew it only from an event, so the read-back counted T222 as not installed and
    settled: the question was lost)."""
    async with serving(make_runtime, fake) as (adapter, base):
        org_install(fake)
        async with aiohttp.ClientSession() as http:
            redirect, cookie = await start_install(http, base, "T222")
            assert await finish_install(http, redirect, cookie) == 200
        body = org_mention(fake, "How do I reset my password?")
        status, _ = await post_signed(f"{base}/slack/events", json.dumps(body).encode(), fake.signing_secret)
        assert status == 200 and await adapter.drain(15)
        fake.add_message("C222", "<@U0BOT2> How do I reset my password?", user="W222", ts=body["event"]["ts"])
    asked = org_mention(fake, "How long does a refund take?")["event"]["ts"]  # said while down
    fake.add_message("C222", "<@U0BOT2> How long does a refund take?", user="W222", ts=asked)
    async with serving(make_runtime, fake, ALWAYS) as (adapter, _):
        assert await adapter.drain(30)
        answers = [c for c in fake.calls("chat.postMessage") if c.ok and c.params.get("thread_ts") == asked]
        assert len(answers) == 1 and answers[0].params["channel"] == "C222"
        # and work the core starts, naming the team alone, finds the organisation's install too
        mark = len(fake.calls("chat.postMessage"))
        await adapter.channel.send(reminder())
        assert tokens_used(fake, mark) == [fake.workspaces["T222"]["bot_token"]]


async def test_an_event_is_answered_when_its_organisation_cannot_be_kept(
    fake: FakeSlack, make_runtime: Callable[..., Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    """Keeping the organisation is for later work; the event naming it is served whatever
    happens to that write, and the next event keeps it."""
    async with serving(make_runtime, fake) as (adapter, base):
        org_install(fake)
        async with aiohttp.ClientSession() as http:
            redirect, cookie = await start_install(http, base, "T222")
            assert await finish_install(http, redirect, cookie) == 200
        first = org_mention(fake, "How do I reset my password?")
        with faults.crash_at("installations.note", error=OSError("disk full")):
            status, _ = await post_signed(
                f"{base}/slack/events", json.dumps(first).encode(), fake.signing_secret
            )
            assert status == 200 and await adapter.drain(15)
        asked = [
            c
            for c in fake.calls("chat.postMessage")
            if c.ok and c.params.get("thread_ts") == first["event"]["ts"]
        ]
        assert len(asked) == 1
        assert "could not keep Slack workspace T222's organisation (OSError)" in caplog.text
        assert "Traceback" not in caplog.text
        assert state_of(adapter).slack_organisation("T222") == ""
        second = org_mention(fake, "How long does a refund take?")
        status, _ = await post_signed(
            f"{base}/slack/events", json.dumps(second).encode(), fake.signing_secret
        )
        assert status == 200 and await adapter.drain(15)
        assert state_of(adapter).slack_organisation("T222") == "E111"
