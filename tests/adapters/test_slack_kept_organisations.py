"""Which organisation a Slack workspace is kept as being in (adapters/slack/workspaces.py
`learned`): one payload's own team and enterprise, never Bolt's context, which for a Slack
Connect modal pairs the installing workspace with the submitter's organisation (kept, that
pair served a standalone workspace, once uninstalled, with another organisation's token);
and the state gets it though the process knew it already from the workspace's own install.

The real adapter in multi-workspace HTTP mode against the fake Slack, restarts on one data
directory (test_slack_oauth's fixtures).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from adapters.slack.forms import CALLBACK_ID
from adapters.slack.workspaces import TOKEN_TTL, NotInstalled, WorkspacesChannel
from bot import faults
from bot.app import Runtime
from bot.store.slack_installs import SlackInstallRecord
from bot.types import ConversationRef, Reply, ReplyKind
from tests.adapters.test_slack_oauth import fake, finish_install, mention, serving, start_install
from tests.adapters.test_slack_workspaces import (
    org_install,
    org_mention,
    reminder,
    saved_elsewhere,
    state_of,
    tokens_used,
    uninstall,
)
from tests.fakes.slack_server import DEFAULT_BOT_SCOPES, FakeSlack, interactive_form, post_signed

__all__ = ["fake"]  # the fixture, imported from test_slack_oauth

ORG_TOKEN = "xoxb-E999-" + "orgwide"  # assembled: no token-shaped literal in the repo
OWN = "xoxb-T222-" + "own-in-org"


def other_org_install(fake: FakeSlack) -> None:
    fake.add_token(ORG_TOKEN, "bot", DEFAULT_BOT_SCOPES, user_id="U0BOT9", team_id="T222")
    fake.stub(
        "oauth.v2.access",
        {
            "ok": True,
            "access_token": ORG_TOKEN,
            "token_type": "bot",
            "scope": "chat:write",
            "bot_user_id": "U0BOT9",
            "app_id": fake.app_id,
            "team": None,
            "enterprise": {"id": "E999", "name": "Other Org"},
            "is_enterprise_install": True,
            "authed_user": {"id": "W999"},
        },
    )


def connect_submission() -> bytes:
    # shape of tests/fixtures/slack/payloads/interactive/view_submission__view_submission__connect_channel_payload.json
    payload = {
        "type": "view_submission",
        "team": {"id": "T-other-side", "domain": "other", "enterprise_id": "E999"},
        "user": {"id": "W999", "username": "kaz", "name": "kaz", "team_id": "T-other-side"},
        "api_app_id": "A0APP",
        "token": "legacy",
        "trigger_id": "111.222.xxx",
        "view": {
            "id": "V1",
            "team_id": "T-other-side",
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": CALLBACK_ID,
            "state": {"values": {}},
            "hash": "1.a",
            "app_installed_team_id": "T222",
            "bot_id": "B0BOT2",
        },
        "enterprise": {"id": "E999", "name": "Other Org"},
        "is_enterprise_install": False,
    }
    return interactive_form(payload)


async def test_a_connect_submission_does_not_move_the_installing_workspace_into_the_submitters_org(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    async with serving(make_runtime, fake) as (adapter, base):
        other_org_install(fake)
        async with aiohttp.ClientSession() as http:  # organisation E999 installs org-wide
            redirect, cookie = await start_install(http, base, "T222")
            assert await finish_install(http, redirect, cookie) == 200
        # T222: a standalone workspace with its own install (no organisation)
        state_of(adapter).save_slack_installation(saved_elsewhere(str(fake.workspaces["T222"]["bot_token"])))
        status, _ = await post_signed(
            f"{base}/slack/events",
            connect_submission(),
            fake.signing_secret,
            content_type="application/x-www-form-urlencoded",
        )
        assert status == 200 and await adapter.drain(15)
        assert state_of(adapter).slack_organisation("T222") == ""  # the submitter's is T-other-side's
        assert state_of(adapter).slack_organisation("T-other-side") == "E999"
        await uninstall(fake, base, adapter)  # T222 removes the app
        assert state_of(adapter).slack_installation("", "T222") is None
    async with serving(make_runtime, fake) as (adapter, _):  # a restart
        mark = len(fake.calls("chat.postMessage"))
        with pytest.raises(NotInstalled):
            await adapter.channel.send(reminder())  # an SLA reminder in T222's conversation
        assert tokens_used(fake, mark) == []  # never E999's token


def connect_question(fake: FakeSlack) -> bytes:
    """A partner of organisation E999 asks in C222, shared with them: Slack names the
    channel's home workspace and organisation at the top level, T222's install (no
    organisation) in `authorizations`."""
    body = json.loads(mention(fake, "T222", "U0BOT2", "C222", "How long does a refund take?"))
    body["team_id"], body["enterprise_id"] = "T-other-side", "E999"
    body["is_ext_shared_channel"] = True
    body["event"]["team"] = "T-other-side"
    return json.dumps(body).encode()


@pytest.mark.parametrize("request_from_the_partner", ["question", "submission"])
async def test_a_connect_request_then_uninstall_never_uses_the_partners_token_in_the_same_process(
    fake: FakeSlack, make_runtime: Callable[..., Runtime], request_from_the_partner: str
) -> None:
    """T222, a standalone workspace with its own install, shares C222 with organisation
    E999, which installed the app org-wide. A partner's question there (Bolt's context names
    no organisation, the event names E999) or form (Bolt's context names the submitter's
    E999) used to teach this process that T222 is in E999: once T222 uninstalled, its SLA
    reminders, replays and read-backs in the same process went out with E999's token."""
    async with serving(make_runtime, fake) as (adapter, base):
        other_org_install(fake)
        async with aiohttp.ClientSession() as http:  # organisation E999 installs org-wide
            redirect, cookie = await start_install(http, base, "T222")
            assert await finish_install(http, redirect, cookie) == 200
        state_of(adapter).save_slack_installation(saved_elsewhere(str(fake.workspaces["T222"]["bot_token"])))
        if request_from_the_partner == "question":
            status, _ = await post_signed(f"{base}/slack/events", connect_question(fake), fake.signing_secret)
        else:
            status, _ = await post_signed(
                f"{base}/slack/events",
                connect_submission(),
                fake.signing_secret,
                content_type="application/x-www-form-urlencoded",
            )
        assert status == 200 and await adapter.drain(15)
        assert state_of(adapter).slack_organisation("T222") == ""
        await uninstall(fake, base, adapter)  # T222 removes the app
        assert state_of(adapter).slack_installation("", "T222") is None
        mark = len(fake.calls("chat.postMessage"))
        with pytest.raises(NotInstalled):
            await adapter.channel.send(reminder())  # an SLA reminder in T222's conversation
        assert tokens_used(fake, mark) == []  # never E999's token


def own_in_org() -> SlackInstallRecord:
    data = {
        "app_id": "A0APP",
        "enterprise_id": "E111",
        "team_id": "T222",
        "team_name": "Second Team",
        "bot_token": OWN,
        "bot_id": "B0BOT2",
        "bot_user_id": "U0BOT2",
        "bot_scopes": list(DEFAULT_BOT_SCOPES),
        "user_id": "W0ADMIN",
        "installed_at": datetime.now(UTC).timestamp(),
        "is_enterprise_install": False,
    }
    return SlackInstallRecord(
        team_id="T222",
        enterprise_id="E111",
        team_name="Second Team",
        bot_user_id="U0BOT2",
        installed_at=datetime.now(UTC),
        data=data,
    )


async def test_an_organisation_known_from_a_workspaces_own_install_is_kept_when_an_event_names_it(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    fake.add_token(OWN, "bot", DEFAULT_BOT_SCOPES, user_id="U0BOT2", team_id="T222")
    async with serving(make_runtime, fake) as (adapter, base):
        org = org_install(fake)
        async with aiohttp.ClientSession() as http:
            redirect, cookie = await start_install(http, base, "T222")
            assert await finish_install(http, redirect, cookie) == 200
        state_of(adapter).save_slack_installation(own_in_org())
    async with serving(make_runtime, fake) as (adapter, base):  # a start
        await adapter.channel.send(reminder())  # an SLA reminder first: T222's own install
        body = json.loads(mention(fake, "T222", "U0BOT2", "C222", "How do I reset my password?"))
        body["enterprise_id"] = "E111"
        body["authorizations"][0]["enterprise_id"] = "E111"
        status, _ = await post_signed(f"{base}/slack/events", json.dumps(body).encode(), fake.signing_secret)
        assert status == 200 and await adapter.drain(15)
        assert state_of(adapter).slack_organisation("T222") == "E111"
        assert state_of(adapter).delete_slack_installation("E111", "T222") == 1  # its own install goes
    async with serving(make_runtime, fake) as (adapter, _):  # a restart
        mark = len(fake.calls("chat.postMessage"))
        await adapter.channel.send(reminder())
        assert tokens_used(fake, mark) == [org]  # the organisation's install serves it now


async def test_an_interaction_naming_its_organisation_on_its_team_teaches_it(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """Interactions (block_actions, view_submission, shortcuts) name the organisation only as
    `team.enterprise_id` (Bolt's fixtures): a click in a workspace of an org-wide install
    teaches it as an event does, so a reminder made once the kept token aged out finds it."""
    async with serving(make_runtime, fake) as (adapter, base):
        token = org_install(fake)
        async with aiohttp.ClientSession() as http:
            redirect, cookie = await start_install(http, base, "T222")
            assert await finish_install(http, redirect, cookie) == 200
        click = {
            "type": "block_actions",
            "user": {"id": "W111", "username": "u", "name": "u", "team_id": "T222"},
            "api_app_id": "A0APP",
            "token": "legacy",
            "container": {
                "type": "message",
                "message_ts": "1.2",
                "channel_id": "C222",
                "is_ephemeral": False,
            },
            "trigger_id": "111.222.xxx",
            "team": {"id": "T222", "domain": "x", "enterprise_id": "E111", "enterprise_name": "Org"},
            "channel": {"id": "C222", "name": "general"},
            "is_enterprise_install": True,
            "actions": [
                {
                    "action_id": "supportbot:nothing",
                    "block_id": "b",
                    "type": "button",
                    "value": "x",
                    "action_ts": "1.3",
                }
            ],
        }
        status, _ = await post_signed(
            f"{base}/slack/events",
            interactive_form(click),
            fake.signing_secret,
            content_type="application/x-www-form-urlencoded",
        )
        assert status == 200 and await adapter.drain(15)
        assert state_of(adapter).slack_organisation("T222") == "E111"
        channel = adapter.channel
        assert isinstance(channel, WorkspacesChannel)
        now = channel.workspaces.clock()
        channel.workspaces.clock = lambda: now + TOKEN_TTL  # the kept token ages out
        mark = len(fake.calls("chat.postMessage"))
        await channel.send(reminder())
        assert tokens_used(fake, mark) == [token]


async def test_two_workspaces_of_an_org_wide_install_are_each_read_back_under_their_own_team(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """E111's one org-wide token serves T111 and T222. A question asked in T222 while every
    worker was down is read once, under T222 (the token's channel listing names no team: read
    under T111 it was filed there, and a follow-up from T222 in its thread was ignored)."""
    async with serving(make_runtime, fake) as (adapter, base):
        org_install(fake)
        async with aiohttp.ClientSession() as http:
            redirect, cookie = await start_install(http, base, "T222")
            assert await finish_install(http, redirect, cookie) == 200
        for team, channel in (("T111", "C111"), ("T222", "C222")):
            fake.channels[channel]["context_team_id"] = team  # each workspace's own channel
            body = org_mention(
                fake, team=team, channel=channel, text=f"How do I reset my password in {team}?"
            )
            status, _ = await post_signed(
                f"{base}/slack/events", json.dumps(body).encode(), fake.signing_secret
            )
            assert status == 200 and await adapter.drain(15)
            fake.add_message(channel, body["event"]["text"], user="W222", ts=body["event"]["ts"], team=team)
    asked = org_mention(fake, team="T222", channel="C222", text="How long does a refund take?")["event"]["ts"]
    fake.add_message("C222", "<@U0BOT2> How long does a refund take?", user="W222", ts=asked, team="T222")
    mark = len(fake.calls("conversations.history"))
    async with serving(make_runtime, fake, "[slack]\nread_back_after_seconds = 0\n") as (adapter, base):
        assert await adapter.drain(30)
        reads = [c.params.get("channel") for c in fake.calls("conversations.history")[mark:]]
        assert reads.count("C222") == 1
        answers = [c for c in fake.calls("chat.postMessage") if c.ok and c.params.get("thread_ts") == asked]
        assert len(answers) == 1
        convs = await adapter.bot.active_conversations("slack", timedelta(days=1))
        assert {ref.workspace for ref, _ in convs if ref.thread == asked} == {"T222"}
        follow = org_mention(fake, team="T222", channel="C222", text="And for a partial refund?")
        follow["event"].update(
            type="message", text="And for a partial refund?", thread_ts=asked, channel_type="channel"
        )
        before = len([c for c in fake.calls("chat.postMessage") if c.ok])
        status, _ = await post_signed(
            f"{base}/slack/events", json.dumps(follow).encode(), fake.signing_secret
        )
        assert status == 200 and await adapter.drain(15)
        assert len([c for c in fake.calls("chat.postMessage") if c.ok]) > before  # the follow-up answered


@pytest.mark.parametrize("their_organisation", ["E-EXT", None])
async def test_a_slack_connect_customers_conversation_is_served_by_the_install_that_took_it(
    fake: FakeSlack, make_runtime: Callable[..., Runtime], their_organisation: str | None
) -> None:
    """A customer of another workspace (T-EXT) asks in a channel shared with E111, which
    installed org-wide: the envelope names T-EXT (and its own organisation, if any), Bolt's
    context E111's install. Work the process starts in that conversation later (an SLA
    reminder once the kept token aged out) is served as the question was, with E111's token."""
    async with serving(make_runtime, fake) as (adapter, base):
        token = org_install(fake)
        async with aiohttp.ClientSession() as http:
            redirect, cookie = await start_install(http, base, "T222")
            assert await finish_install(http, redirect, cookie) == 200
        body = org_mention(fake, team="T-EXT", channel="C222", text="How do I reset my password?")
        body.pop("enterprise_id")
        if their_organisation:
            body["enterprise_id"] = their_organisation
        status, _ = await post_signed(f"{base}/slack/events", json.dumps(body).encode(), fake.signing_secret)
        assert status == 200 and await adapter.drain(15)
        assert tokens_used(fake, 0) == [token]
        channel = adapter.channel
        assert isinstance(channel, WorkspacesChannel)
        now = channel.workspaces.clock()
        channel.workspaces.clock = lambda: now + TOKEN_TTL + 1
        mark = len(fake.calls("chat.postMessage"))
        await channel.send(
            Reply(
                conversation=ConversationRef(platform="slack", workspace="T-EXT", channel="C222"),
                text="A reminder",
                kind=ReplyKind.INFO,
            )
        )
        assert tokens_used(fake, mark) == [token]


async def test_an_org_wide_workspace_read_back_lists_its_own_channels(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """A question held in T222's C222 owes the read-back; meanwhile a member asks in C333,
    a channel of T222 the bot is in but never talked in. The restart lists T222's channels
    with the organisation's token, naming the team, and answers both."""
    async with serving(make_runtime, fake) as (adapter, base):
        org_install(fake)
        async with aiohttp.ClientSession() as http:
            redirect, cookie = await start_install(http, base, "T222")
            assert await finish_install(http, redirect, cookie) == 200
        fake.add_channel("C333", "billing", members=["U0BOT2", "W222"])
        fake.channels["C333"]["context_team_id"] = "T222"
        body = org_mention(fake, "How long does a refund take?")
        held = body["event"]["ts"]
        fake.add_message("C222", "<@U0BOT2> How long does a refund take?", user="W222", ts=held)
        with faults.crash_at("installations.find", error=OSError("database unavailable")):
            status, _ = await post_signed(
                f"{base}/slack/events", json.dumps(body).encode(), fake.signing_secret
            )
        assert status == 503 and await adapter.drain(10)
    other = org_mention(fake, "Where is my invoice?", channel="C333")["event"]["ts"]
    fake.add_message("C333", "<@U0BOT2> Where is my invoice?", user="W222", ts=other, team="T222")
    async with serving(make_runtime, fake) as (adapter, _):
        assert await adapter.drain(30)
        assert [c.params.get("team_id") for c in fake.calls("users.conversations")] == ["T222"]
        for asked in (held, other):
            assert (
                len(
                    [c for c in fake.calls("chat.postMessage") if c.ok and c.params.get("thread_ts") == asked]
                )
                == 1
            )


async def test_a_connect_customer_of_another_organisation_is_never_served_with_that_organisations_token(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """E111 and E999 both installed org-wide; a customer of T-EXT (in E999) asks in a channel
    shared with E111, whose install takes it. Their pair is not kept (the install that took
    it is not their organisation's): after a restart a reminder there waits for an install
    that serves it, never posting with E999's token."""
    async with serving(make_runtime, fake) as (adapter, base):
        token = org_install(fake)
        for _ in range(2):  # E111's install, then E999's
            async with aiohttp.ClientSession() as http:
                redirect, cookie = await start_install(http, base, "T222")
                assert await finish_install(http, redirect, cookie) == 200
            other_org_install(fake)
        body = org_mention(fake, team="T-EXT", channel="C222", text="How do I reset my password?")
        body["enterprise_id"] = "E999"
        status, _ = await post_signed(f"{base}/slack/events", json.dumps(body).encode(), fake.signing_secret)
        assert status == 200 and await adapter.drain(15)
        assert tokens_used(fake, 0) == [token]
        assert state_of(adapter).slack_organisation("T-EXT") == ""
    async with serving(make_runtime, fake) as (adapter, _):
        mark = len(fake.calls("chat.postMessage"))
        with pytest.raises(NotInstalled):
            await adapter.channel.send(
                Reply(
                    conversation=ConversationRef(platform="slack", workspace="T-EXT", channel="C222"),
                    text="A reminder",
                    kind=ReplyKind.INFO,
                )
            )
        assert ORG_TOKEN not in tokens_used(fake, mark)
