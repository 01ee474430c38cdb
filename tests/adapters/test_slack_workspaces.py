"""Several Slack workspaces: which token each is served with after it changes, and org-wide installs.

The real adapter in multi-workspace HTTP mode (test_slack_oauth's fixtures: the Bolt OAuth
flow, the fake Slack, the state store). An uninstall or reinstall this process handles is
seen at once; one handled by another worker is a change of the store this process did not
make, written here straight to the state store, and seen when Slack refuses the old token
or when the token kept has aged past the cache's bound.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from adapters.slack import SlackAdapter
from adapters.slack.installations import StoreInstallations
from adapters.slack.routed_listeners import request_team
from adapters.slack.workspaces import TOKEN_TTL, NotInstalled, WorkspacesChannel
from bot.store import StateStore
from bot.store.slack_installs import SlackInstallRecord
from bot.types import ConversationRef, Reply, ReplyKind
from tests.adapters.test_slack_oauth import fake, finish_install, mention, oauth_slack, start_install
from tests.fakes.slack_server import DEFAULT_BOT_SCOPES, FakeSlack, post_signed

__all__ = ["fake", "oauth_slack"]  # the fixtures, imported from test_slack_oauth

OauthSlack = tuple[SlackAdapter, str]
IN_T222 = ConversationRef(platform="slack", workspace="T222", channel="C222")


def reminder() -> Reply:
    """Work the core starts on its own (an SLA reminder, a replay): no Slack event, no token."""
    return Reply(conversation=IN_T222, text="A reminder", kind=ReplyKind.INFO)


def state_of(adapter: SlackAdapter) -> StateStore:
    store: StateStore = adapter.bot.store.store  # type: ignore[attr-defined]
    return store


def tokens_used(fake: FakeSlack, since: int) -> list[str]:
    return [
        c.headers["Authorization"].removeprefix("Bearer ") for c in fake.calls("chat.postMessage")[since:]
    ]


async def install_and_answer(fake: FakeSlack, adapter: SlackAdapter, base: str) -> str:
    """T222 installs the app and one question is answered there: this worker keeps its token."""
    async with aiohttp.ClientSession() as http:
        redirect, cookie = await start_install(http, base, "T222")
        assert await finish_install(http, redirect, cookie) == 200
    body = mention(fake, "T222", "U0BOT2", "C222", "How do I reset my password?")
    assert (await post_signed(f"{base}/slack/events", body, fake.signing_secret))[0] == 200
    assert await adapter.drain(timeout=15)
    assert [c.ok for c in fake.calls("chat.postMessage")] == [True]
    return str(fake.workspaces["T222"]["bot_token"])


async def uninstall(fake: FakeSlack, base: str, adapter: SlackAdapter, enterprise: str = "") -> None:
    """Slack revokes T222's token and sends app_uninstalled to this worker, naming the
    organisation T222 is in now (`enterprise`)."""
    fake.revoke_token(str(fake.workspaces["T222"]["bot_token"]))
    body = json.loads(mention(fake, "T222", "U0BOT2", "C222", "bye"))
    if enterprise:
        body["enterprise_id"] = body["authorizations"][0]["enterprise_id"] = enterprise
    body["event"] = {"type": "app_uninstalled", "event_ts": body["event"]["event_ts"]}
    body["event_id"] = "Ev-uninstalled"
    assert (await post_signed(f"{base}/slack/events", json.dumps(body).encode(), fake.signing_secret))[
        0
    ] == 200
    assert await adapter.drain(timeout=15)


def new_token(fake: FakeSlack) -> str:
    """Slack's token for T222 from its next install."""
    token = "xoxb-T222-" + "reinstalled"
    fake.workspaces["T222"]["bot_token"] = token
    fake.add_token(token, "bot", DEFAULT_BOT_SCOPES, user_id="U0BOT2", team_id="T222")
    return token


async def test_after_an_uninstall_here_work_the_core_starts_is_not_sent_with_the_dead_token(
    fake: FakeSlack, oauth_slack: OauthSlack
) -> None:
    adapter, base = oauth_slack
    await install_and_answer(fake, adapter, base)
    await uninstall(fake, base, adapter)
    assert state_of(adapter).slack_installation("", "T222") is None
    mark = len(fake.calls("chat.postMessage"))
    with pytest.raises(NotInstalled):
        await adapter.channel.send(reminder())
    assert fake.calls("chat.postMessage")[mark:] == []  # Slack was not even asked


async def test_an_uninstall_naming_the_organisation_the_workspace_joined_since_deletes_its_install(
    fake: FakeSlack, oauth_slack: OauthSlack
) -> None:
    """T222 installed on its own, then moved into Enterprise Grid organisation E111: its
    uninstall names E111, and the store deleted by exact (organisation, team), so nothing: the
    revoked token stayed in the database, and work the core started kept calling Slack with it."""
    adapter, base = oauth_slack
    await install_and_answer(fake, adapter, base)
    await uninstall(fake, base, adapter, enterprise="E111")
    assert state_of(adapter).slack_installations() == []
    mark = len(fake.calls("chat.postMessage"))
    with pytest.raises(NotInstalled):
        await adapter.channel.send(reminder())
    assert fake.calls("chat.postMessage")[mark:] == []


async def test_a_reinstall_here_is_served_with_its_new_token(
    fake: FakeSlack, oauth_slack: OauthSlack
) -> None:
    adapter, base = oauth_slack
    old = await install_and_answer(fake, adapter, base)
    await uninstall(fake, base, adapter)
    new = new_token(fake)
    async with aiohttp.ClientSession() as http:
        redirect, cookie = await start_install(http, base, "T222")
        assert await finish_install(http, redirect, cookie) == 200
    mark = len(fake.calls("chat.postMessage"))
    await adapter.channel.send(reminder())
    assert tokens_used(fake, mark) == [new] and new != old


def saved_elsewhere(token: str) -> SlackInstallRecord:
    """T222's install as another worker saves it (the JSON slack_sdk's Installation writes)."""
    data: dict[str, Any] = {
        "app_id": "A0APP",
        "team_id": "T222",
        "team_name": "Second Team",
        "bot_token": token,
        "bot_id": "B0BOT2",
        "bot_user_id": "U0BOT2",
        "bot_scopes": list(DEFAULT_BOT_SCOPES),
        "user_id": "W0ADMIN",
        "installed_at": datetime.now(UTC).timestamp(),
    }
    return SlackInstallRecord(
        team_id="T222",
        enterprise_id="",
        team_name="Second Team",
        bot_user_id="U0BOT2",
        installed_at=datetime.now(UTC),
        data=data,
    )


async def test_a_reinstall_another_worker_saw_is_used_once_slack_refuses_the_old_token(
    fake: FakeSlack, oauth_slack: OauthSlack
) -> None:
    adapter, base = oauth_slack
    old = await install_and_answer(fake, adapter, base)
    fake.revoke_token(old)
    new = new_token(fake)
    state_of(adapter).save_slack_installation(saved_elsewhere(new))  # not through this worker
    mark = len(fake.calls("chat.postMessage"))
    await adapter.channel.send(reminder())
    assert tokens_used(fake, mark) == [old, new]  # refused once, then the store read again
    [refused, sent] = fake.calls("chat.postMessage")[mark:]
    assert refused.error == "token_revoked" and sent.ok
    mark = len(fake.calls("chat.postMessage"))
    await adapter.channel.send(reminder())
    assert tokens_used(fake, mark) == [new]  # kept from then on


async def test_an_uninstall_another_worker_saw_is_noticed_within_the_cache_bound(
    fake: FakeSlack, oauth_slack: OauthSlack
) -> None:
    adapter, base = oauth_slack
    await install_and_answer(fake, adapter, base)
    assert state_of(adapter).delete_slack_installation("", "T222") == 1  # not through this worker
    channel = adapter.channel
    assert isinstance(channel, WorkspacesChannel)
    now = channel.workspaces.clock()
    channel.workspaces.clock = lambda: now + TOKEN_TTL  # the kept token has aged out
    mark = len(fake.calls("chat.postMessage"))
    with pytest.raises(NotInstalled):
        await channel.send(reminder())
    assert fake.calls("chat.postMessage")[mark:] == []


def org_install(fake: FakeSlack) -> str:
    """Slack's answer to the install code when an org admin installs the app org-wide."""
    token = str(fake.workspaces["T222"]["bot_token"])  # the org's bot token
    fake.stub(
        "oauth.v2.access",
        {
            "ok": True,
            "access_token": token,
            "token_type": "bot",
            "scope": "chat:write",
            "bot_user_id": "U0BOT2",
            "app_id": fake.app_id,
            "team": None,
            "enterprise": {"id": "E111", "name": "Org"},
            "is_enterprise_install": True,
            "authed_user": {"id": "W111"},
        },
    )
    return token


def org_mention(fake: FakeSlack, text: str, team: str = "T222", channel: str = "C222") -> dict[str, Any]:
    """A mention in `team`, a workspace of organisation E111, as E111's org-wide install
    receives it (`authorizations` name the install: E111, no team)."""
    body: dict[str, Any] = json.loads(mention(fake, team, "U0BOT2", channel, text))
    body["enterprise_id"] = "E111"
    body["authorizations"] = [
        {
            "enterprise_id": "E111",
            "team_id": None,
            "user_id": "U0BOT2",
            "is_bot": True,
            "is_enterprise_install": True,
        }
    ]
    return body


async def test_an_org_wide_install_answers_in_every_workspace_of_the_organisation(
    fake: FakeSlack, oauth_slack: OauthSlack
) -> None:
    adapter, base = oauth_slack
    token = org_install(fake)
    async with aiohttp.ClientSession() as http:
        redirect, cookie = await start_install(http, base, "T222")
        assert await finish_install(http, redirect, cookie) == 200
    org = state_of(adapter).slack_installation("E111", "")
    assert org is not None and (org.enterprise_id, org.team_id) == ("E111", "")
    body = org_mention(fake, "How do I reset my password?")
    status, _ = await post_signed(f"{base}/slack/events", json.dumps(body).encode(), fake.signing_secret)
    assert status == 200 and await adapter.drain(timeout=15)
    assert tokens_used(fake, 0) == [token] and fake.calls("chat.postMessage")[0].ok
    # a reminder names the workspace alone: the organisation its events named is remembered,
    # even once the org's token is dropped (a reinstall of the org through this worker)
    channel = adapter.channel
    assert isinstance(channel, WorkspacesChannel)
    channel.workspaces.forget("E111", "")
    mark = len(fake.calls("chat.postMessage"))
    await channel.send(reminder())
    assert tokens_used(fake, mark) == [token]
    # the store finds the org's install for the workspace only with its organisation named
    installs = StoreInstallations(adapter.store)  # type: ignore[arg-type]
    bot = await installs.async_find_bot(enterprise_id="E111", team_id="T222")
    assert bot is not None and bot.bot_token == token and bot.is_enterprise_install
    assert await installs.async_find_bot(enterprise_id=None, team_id="T222") is None


async def test_a_channel_shared_with_another_organisation_stops_quoting_internal_docs_at_once(
    fake: FakeSlack, oauth_slack: OauthSlack
) -> None:
    """T222's #C222, internal, is shared with another organisation: its visibility stayed
    cached in T222's directory for ten minutes, and the next answer quoted the internal
    runbook to the other organisation. Slack's channel_shared drops it from every
    workspace's directory at once."""
    adapter, base = oauth_slack
    fake.users["W222"]["team_id"] = "T222"  # the asker is T222's own member
    await install_and_answer(fake, adapter, base)
    question = "When does the database failover password rotation happen?"  # internal runbook
    answers = []
    for shared in (False, True):
        if shared:
            fake.channels["C222"].update(is_shared=True, is_ext_shared=True)
            body = json.loads(mention(fake, "T222", "U0BOT2", "C222", "shared"))
            body["event"] = {"type": "channel_shared", "connected_team_id": "T-ACME", "channel": "C222"}
            body["event"]["event_ts"] = fake.next_ts()
            status, _ = await post_signed(
                f"{base}/slack/events", json.dumps(body).encode(), fake.signing_secret
            )
            assert status == 200 and await adapter.drain(15)
        mark = len(fake.calls("chat.postMessage"))
        body = mention(fake, "T222", "U0BOT2", "C222", question)
        status, _ = await post_signed(f"{base}/slack/events", body, fake.signing_secret)
        assert status == 200 and await adapter.drain(15)
        [answer] = fake.calls("chat.postMessage")[mark:]
        answers.append(json.dumps(answer.json_param("blocks")))
    assert "every Tuesday" in answers[0] and "every Tuesday" not in answers[1]


def test_an_interaction_naming_its_team_by_bare_id_is_routed_to_that_team() -> None:
    # interactive payloads carry no team_id: the team is an object, or in some payloads its id
    assert request_team({"team": "T222", "enterprise": "E111"}) == ("T222", "E111")
    assert request_team({"team": {"id": "T222"}, "enterprise": None}) == ("T222", None)
    assert request_team({"team_id": "T222", "team": 5}) == ("T222", None)
    # interactions name the organisation on the team
    assert request_team({"team": {"id": "T222", "enterprise_id": "E111"}}) == ("T222", "E111")
