"""Several Slack workspaces: org-wide (Enterprise Grid) installs.

The real adapter in multi-workspace HTTP mode (test_slack_oauth's fixtures: the Bolt OAuth
flow, the fake Slack, the state store).
"""

from __future__ import annotations

import json

import aiohttp

from adapters.slack import SlackAdapter
from adapters.slack.installations import StoreInstallations
from adapters.slack.workspaces import WorkspacesChannel
from bot.store import StateStore
from bot.types import ConversationRef, Reply, ReplyKind
from tests.adapters.test_slack_oauth import fake, finish_install, mention, oauth_slack, start_install
from tests.fakes.slack_server import FakeSlack, post_signed

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
    body = json.loads(mention(fake, "T222", "U0BOT2", "C222", "How do I reset my password?"))
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
    status, _ = await post_signed(f"{base}/slack/events", json.dumps(body).encode(), fake.signing_secret)
    assert status == 200 and await adapter.drain(timeout=15)
    assert tokens_used(fake, 0) == [token] and fake.calls("chat.postMessage")[0].ok
    # after a restart nothing is kept: a reminder names the workspace alone
    installs = StoreInstallations(adapter.store)  # type: ignore[arg-type]
    bot = await installs.async_find_team_bot("T222")
    assert bot is not None and bot.bot_token == token and bot.is_enterprise_install
    channel = adapter.channel
    assert isinstance(channel, WorkspacesChannel)
    mark = len(fake.calls("chat.postMessage"))
    await channel.send(reminder())
    assert tokens_used(fake, mark) == [token]
