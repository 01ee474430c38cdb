"""Multi-workspace Slack: installs through OAuth, then each workspace answered with its own token.

The real slack-bolt OAuth flow (`/slack/install` -> Slack's authorize page -> `/slack/oauth_redirect`
-> `oauth.v2.access`) runs against the fake Slack (tests/fakes/slack_oauth.py), with the
installs and states in the real state store (adapters/slack/installations.py). The test
plays the browser: it keeps the state cookie the install page sets and follows Slack's redirect.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from adapters.slack import SlackAdapter
from adapters.slack.installations import REDIRECT_PATH
from adapters.slack.manifest import BOT_SCOPES
from adapters.slack.workspaces import NotInstalled
from bot.app import Runtime
from bot.messages import say
from bot.ports import FindsReplies
from bot.supervisor import enabled_adapters, load_adapter
from bot.types import Author, ConversationRef, InboundMessage, Visibility
from tests.adapters.test_discord_shards import until
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.slack_server import FakeSlack, post_signed

MEMBER = "W222"
CLIENT_ID = "111.222"
CLIENT_SECRET = "fake-client-secret"
SECOND = ("T222", "Second Team", "U0BOT2", "B0BOT2")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        team, name, bot_user, bot_id = SECOND
        server.add_workspace(team, name, bot_user_id=bot_user, bot_id=bot_id)
        server.oauth.configure(CLIENT_ID, CLIENT_SECRET)
        yield server


@asynccontextmanager
async def serving(
    make_runtime: Callable[..., Runtime], fake: FakeSlack, toml: str = ""
) -> AsyncIterator[tuple[SlackAdapter, str]]:
    env = {
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_SIGNING_SECRET": fake.signing_secret,
        "SLACK_API_URL": fake.api_url,
    }
    runtime = make_runtime(toml, env=env, answerer=ConfidentExtractive())
    assert runtime.settings.slack_oauth and enabled_adapters(runtime.settings) == ["slack"]
    # as `supportbot run` loads it: bot.supervisor hands the adapter the state store
    adapter = load_adapter(
        "slack", runtime.bot, runtime.settings, host="127.0.0.1", port=0, retry_interval=0.01
    )
    assert isinstance(adapter, SlackAdapter) and adapter.mode == "http"
    task = asyncio.create_task(adapter.run())
    await asyncio.wait_for(adapter.ready.wait(), 10)
    base = f"http://127.0.0.1:{adapter.http_port}"
    fake.oauth.redirect_uri = base + REDIRECT_PATH  # registered with the app, as on api.slack.com
    try:
        yield adapter, base
    finally:
        await adapter.close()
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def oauth_slack(
    make_runtime: Callable[..., Runtime], fake: FakeSlack
) -> AsyncIterator[tuple[SlackAdapter, str]]:
    async with serving(make_runtime, fake) as served:
        yield served


async def start_install(http: aiohttp.ClientSession, base: str, team: str) -> tuple[str, str]:
    """The person opens /slack/install and clicks "Add to Slack", then "Allow" in `team`:
    Slack's redirect back to the bot and the state cookie the browser holds."""
    async with http.get(f"{base}/slack/install") as page:
        assert page.status == 200
        cookie = page.headers["Set-Cookie"].split(";", 1)[0]
        [link] = re.findall(r'href="([^"]*oauth/v2/authorize[^"]*)"', await page.text())
    async with http.get(html.unescape(link) + f"&team={team}", allow_redirects=False) as allowed:
        assert allowed.status == 302
        return allowed.headers["Location"], cookie


async def finish_install(http: aiohttp.ClientSession, redirect: str, cookie: str | None) -> int:
    headers = {"Cookie": cookie} if cookie else {}
    async with http.get(redirect, headers=headers, allow_redirects=False) as done:
        return done.status


def mention(fake: FakeSlack, team: str, bot_user: str, channel: str, text: str) -> bytes:
    """A member @mentions the bot of `team` in `channel`: the event_callback Slack posts."""
    body = fake.user_message(channel, f"<@{bot_user}> {text}", user=MEMBER)
    event: dict[str, Any] = body["event"]
    event.pop("channel_type", None)
    event.update(type="app_mention", team=team)
    body["team_id"] = team
    body["authorizations"][0].update(team_id=team, user_id=bot_user)
    return json.dumps(body).encode()


async def asked_in_new_workspace(
    fake: FakeSlack, adapter: SlackAdapter, base: str
) -> tuple[dict[str, Any], bytes]:
    """T222 installs the app, then a member asks the bot in its #C222: the message, as the
    channel's history holds it, and the event Slack posts for it."""
    async with aiohttp.ClientSession() as http:
        redirect, cookie = await start_install(http, base, "T222")
        assert await finish_install(http, redirect, cookie) == 200
    assert await adapter.drain(15)
    return asked_in_t222(fake, "How long does a refund take?")


def asked_in_t222(fake: FakeSlack, question: str) -> tuple[dict[str, Any], bytes]:
    """A member asks T222's bot `question` in #C222: the message, as the channel's history
    holds it (a read-back finds it), and the event Slack posts for it."""
    said = fake.add_message("C222", f"<@U0BOT2> {question}", user=MEMBER)
    event = json.loads(mention(fake, "T222", "U0BOT2", "C222", question))
    event["event"]["ts"] = said["ts"]
    return said, json.dumps(event).encode()


async def test_two_workspaces_install_and_each_is_answered_with_its_own_token(
    fake: FakeSlack, oauth_slack: tuple[SlackAdapter, str], caplog: pytest.LogCaptureFixture
) -> None:
    adapter, base = oauth_slack
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession() as http:
        for team in ("T111", "T222"):
            redirect, cookie = await start_install(http, base, team)
            assert await finish_install(http, redirect, cookie) == 200
    assert fake.oauth.installs == ["T111", "T222"]
    [exchange, _] = fake.calls("oauth.v2.access")
    assert exchange.ok and exchange.token is None  # the code is exchanged with the app's credentials

    tokens = {team: fake.workspaces[team]["bot_token"] for team in ("T111", "T222")}
    for team, channel in (("T111", "C111"), ("T222", "C222")):
        bot_user = fake.workspaces[team]["bot_user_id"]
        body = mention(fake, team, bot_user, channel, "How do I reset my password?")
        status, _ = await post_signed(f"{base}/slack/events", body, fake.signing_secret)
        assert status == 200
        assert await adapter.drain(timeout=15)

    answers = {c.params["channel"]: c for c in fake.calls("chat.postMessage") if c.ok}
    assert set(answers) == {"C111", "C222"}
    assert answers["C111"].headers["Authorization"] == f"Bearer {tokens['T111']}"
    assert answers["C222"].headers["Authorization"] == f"Bearer {tokens['T222']}"
    assert answers["C222"].response is not None
    assert answers["C222"].response["message"]["user"] == "U0BOT2"  # posted as that workspace's bot
    leaks = sorted(
        {r.name for r in caplog.records for t in tokens.values() if t in r.getMessage() + str(r.__dict__)}
    )
    assert leaks == []  # tokens are stored, never logged


async def test_a_state_is_used_once_and_a_forged_or_cookieless_one_is_refused(
    fake: FakeSlack, oauth_slack: tuple[SlackAdapter, str]
) -> None:
    _, base = oauth_slack
    async with aiohttp.ClientSession() as http:
        redirect, cookie = await start_install(http, base, "T222")
        assert await finish_install(http, redirect, None) == 400  # not the browser that started it
        assert await finish_install(http, redirect, cookie) == 200
        assert await finish_install(http, redirect, cookie) == 401  # replayed: the state is spent
        forged = f"{base}{REDIRECT_PATH}?code=T222.x&state=forged"
        assert await finish_install(http, forged, "slack-app-oauth-state=forged") == 401
    assert fake.oauth.installs == ["T222"]  # only the genuine install reached oauth.v2.access


async def test_a_workspace_that_never_installed_is_not_answered(
    fake: FakeSlack, oauth_slack: tuple[SlackAdapter, str]
) -> None:
    adapter, base = oauth_slack
    body = mention(fake, "T222", "U0BOT2", "C222", "How do I reset my password?")
    status, _ = await post_signed(f"{base}/slack/events", body, fake.signing_secret)
    assert status == 200  # Bolt acknowledges, and answers nothing without an install
    assert await adapter.drain(timeout=15)
    assert [c for c in fake.calls("chat.postMessage") if c.ok] == []


async def installed_then_uninstalled(fake: FakeSlack, base: str) -> bytes:
    """T222 installs the app: the app_uninstalled event Slack posts when it is removed again."""
    async with aiohttp.ClientSession() as http:
        redirect, cookie = await start_install(http, base, "T222")
        assert await finish_install(http, redirect, cookie) == 200
    uninstalled = json.loads(mention(fake, "T222", "U0BOT2", "C222", "bye"))
    uninstalled["event"] = {"type": "app_uninstalled", "event_ts": uninstalled["event"]["event_ts"]}
    uninstalled["event_id"] = "Ev-uninstalled"
    return json.dumps(uninstalled).encode()


async def test_an_uninstalled_workspace_is_forgotten_and_no_longer_answered(
    fake: FakeSlack, oauth_slack: tuple[SlackAdapter, str]
) -> None:
    adapter, base = oauth_slack
    uninstalled = await installed_then_uninstalled(fake, base)
    status, _ = await post_signed(f"{base}/slack/events", uninstalled, fake.signing_secret)
    assert status == 200
    assert await adapter.drain(timeout=15)
    store = adapter.bot.store.store  # type: ignore[attr-defined]
    assert store.slack_installation("", "T222") is None  # the token is gone from state
    body = mention(fake, "T222", "U0BOT2", "C222", "How do I reset my password?")
    status, _ = await post_signed(f"{base}/slack/events", body, fake.signing_secret)
    assert status == 200
    assert await adapter.drain(timeout=15)
    assert [c for c in fake.calls("chat.postMessage") if c.ok] == []


async def test_a_workspaces_token_is_checked_with_slack_once_not_per_event_and_an_uninstall_still_ends_it(
    fake: FakeSlack, oauth_slack: tuple[SlackAdapter, str]
) -> None:
    """Bolt's authorize asks auth.test who an install's token is; with its cache on, once per
    token, not once per event (each event waited on that call). The cache is consulted only
    for a token the installs still give: after an uninstall, nothing is answered."""
    adapter, base = oauth_slack
    uninstalled = await installed_then_uninstalled(fake, base)
    token = fake.workspaces["T222"]["bot_token"]
    checked = len([c for c in fake.calls("auth.test") if c.token == token])  # by the install
    url = f"{base}/slack/events"
    questions = ["How do I reset my password?", "How long does a refund take?", "Where is my invoice?"]
    for question in questions:
        status, _ = await post_signed(
            url, mention(fake, "T222", "U0BOT2", "C222", question), fake.signing_secret
        )
        assert status == 200
    assert await adapter.drain(timeout=15)
    answers = [c for c in fake.calls("chat.postMessage") if c.ok and c.token == token]
    assert len(answers) == len(questions)
    assert len([c for c in fake.calls("auth.test") if c.token == token]) - checked <= 1
    status, _ = await post_signed(url, uninstalled, fake.signing_secret)
    assert status == 200
    assert await adapter.drain(timeout=15)
    body = mention(fake, "T222", "U0BOT2", "C222", "And how do I change my email?")
    status, _ = await post_signed(url, body, fake.signing_secret)
    assert await adapter.drain(timeout=15)
    assert [c for c in fake.calls("chat.postMessage") if c.ok and c.token == token] == answers


async def test_an_uninstall_the_state_cannot_take_is_refused_for_slack_to_retry_but_its_last_try_gets_a_200(
    fake: FakeSlack, oauth_slack: tuple[SlackAdapter, str]
) -> None:
    """Bolt's uninstall listener fails while the state refuses writes: a 5xx, so Slack tries
    again, but not on its last try, after which it sends the event no more (a 5xx then only
    counts toward Slack turning the app's events off: adapters/slack/retries.py)."""
    from adapters.slack.retries import LAST_RETRY
    from bot import faults

    adapter, base = oauth_slack
    body, url = await installed_then_uninstalled(fake, base), f"{base}/slack/events"
    with faults.crash_at("installations.delete", error=OSError("database unavailable"), times=10**6):
        first, _ = await post_signed(url, body, fake.signing_secret)
        last, _ = await post_signed(url, body, fake.signing_secret, retry_num=LAST_RETRY)
    assert (first >= 500, last) == (True, 200)
    assert await adapter.drain(timeout=15)


async def test_an_uninstall_whose_last_try_outlasts_slacks_wait_is_answered_in_time_and_still_done(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """Another writer holds the state, a question's claim waits on it, and Slack's last try
    of app_uninstalled comes: its delete waits behind the claim. It is answered 200 within
    Slack's 3 s, and its handling goes on, so the install is deleted once the state is free
    (cut off with it, the delete was never run: Slack sends the event no more)."""
    import sqlite3

    from adapters.slack.retries import LAST_RETRY, LAST_TRY_WITHIN

    async with serving(make_runtime, fake) as (adapter, base):
        uninstalled = await installed_then_uninstalled(fake, base)
        _, question = asked_in_t222(fake, "How do I reset my password?")
        url = f"{base}/slack/events"
        holder = sqlite3.connect(adapter.settings.data_dir / "state.db", isolation_level=None, timeout=0)
        holder.execute("begin immediate")
        try:
            asked = asyncio.create_task(post_signed(url, question, fake.signing_secret))
            await asyncio.sleep(0.3)  # its claim waits on the state
            status, _ = await post_signed(
                url, uninstalled, fake.signing_secret, retry_num=LAST_RETRY, timeout=3.0
            )
            assert status == 200
            await asyncio.sleep(3.0 - LAST_TRY_WITHIN)  # let go well inside the store's busy timeout
        finally:
            holder.execute("rollback")
            holder.close()
        await asked
        assert await adapter.drain(timeout=15)
        store = adapter.bot.store.store  # type: ignore[attr-defined]
        assert store.slack_installation("", "T222") is None


async def test_a_replay_in_any_installed_workspace_finds_the_answer_already_posted(
    fake: FakeSlack, oauth_slack: tuple[SlackAdapter, str]
) -> None:
    """A process killed between its post and the inbox's note of it: the replay asks the
    question's workspace for the bot's reply (bot.ports.FindsReplies) and finishes that one,
    so no workspace is left with the one gap a single-workspace bot does not have."""
    adapter, base = oauth_slack
    async with aiohttp.ClientSession() as http:
        redirect, cookie = await start_install(http, base, "T222")
        assert await finish_install(http, redirect, cookie) == 200
    body = mention(fake, "T222", "U0BOT2", "C222", "How do I reset my password?")
    status, _ = await post_signed(f"{base}/slack/events", body, fake.signing_secret)
    assert status == 200 and await adapter.drain(timeout=15)
    [answer] = [c for c in fake.calls("chat.postMessage") if c.ok]
    ts = json.loads(body)["event"]["ts"]

    def asked(team: str, channel: str) -> InboundMessage:
        return InboundMessage(
            id=f"{channel}:{ts}",
            conversation=ConversationRef(platform="slack", workspace=team, channel=channel),
            author=Author(id=MEMBER, name="member"),
            text="How do I reset my password?",
            addressed=True,
            visibility=Visibility.INTERNAL,
            sent_at=datetime.now(UTC),
        )

    assert isinstance(adapter.channel, FindsReplies)
    found = await adapter.channel.find_reply(asked("T222", "C222"))
    assert found is not None and answer.response is not None
    assert found.message_id == f"C222:{answer.response['ts']}"
    # never installed (or not yet known to this worker): the replay waits and tries again,
    # never taking it for "no reply" (bot/replays.py REPLAY_ATTEMPTS)
    with pytest.raises(NotInstalled):
        await adapter.channel.find_reply(asked("T999", "C999"))


async def test_opening_the_install_page_cancels_no_install_under_way(
    fake: FakeSlack, oauth_slack: tuple[SlackAdapter, str]
) -> None:
    _, base = oauth_slack
    async with aiohttp.ClientSession() as first, aiohttp.ClientSession() as other:
        redirect, cookie = await start_install(first, base, "T111")
        await asyncio.sleep(0.01)  # later, by more than the stored times' millisecond
        for _ in range(3):  # anyone else opens the page meanwhile
            async with other.get(f"{base}/slack/install") as page:
                assert page.status == 200
        assert await finish_install(first, redirect, cookie) == 200
    assert fake.oauth.installs == ["T111"]


async def test_a_reaction_in_an_installed_workspace_counts_as_heard(
    fake: FakeSlack, oauth_slack: tuple[SlackAdapter, str]
) -> None:
    """What a read-back starts from (adapters/slack/heard.py) moves with every event heard,
    those no listener answers included, with installs as with one token."""
    adapter, base = oauth_slack
    async with aiohttp.ClientSession() as http:
        redirect, cookie = await start_install(http, base, "T222")
        assert await finish_install(http, redirect, cookie) == 200
    ts = f"{time.time():.6f}"
    body = fake.event_callback(
        {
            "type": "reaction_added",
            "user": MEMBER,
            "reaction": "eyes",
            "event_ts": ts,
            "item": {"type": "message", "channel": "C222", "ts": ts},
        }
    )
    body["team_id"] = "T222"
    body["authorizations"][0].update(team_id="T222", user_id="U0BOT2")
    status, _ = await post_signed(f"{base}/slack/events", json.dumps(body).encode(), fake.signing_secret)
    assert status == 200
    assert await adapter.drain(10)
    assert await adapter.bot.noted_heard("slack") == ts


async def test_a_question_whose_install_could_not_be_read_is_left_to_slack_and_owed_a_read_back(
    fake: FakeSlack, oauth_slack: tuple[SlackAdapter, str]
) -> None:
    """The state store fails as a question comes: Bolt cannot read the workspace's install
    (before any listener runs) and would take that for "not installed" and answer 200, so
    Slack would count it delivered. It is answered 503 instead, and a read-back from before it
    is owed (every worker might stay down past Slack's retries); Slack's retry is answered."""
    from bot import faults

    adapter, base = oauth_slack
    async with aiohttp.ClientSession() as http:
        redirect, cookie = await start_install(http, base, "T222")
        assert await finish_install(http, redirect, cookie) == 200
    body = mention(fake, "T222", "U0BOT2", "C222", "How long does a refund take?")
    url = f"{base}/slack/events"
    with faults.crash_at("installations.find", error=OSError("database unavailable")):
        status, _ = await post_signed(url, body, fake.signing_secret)
    assert status == 503
    assert await adapter.drain(10)
    ts = json.loads(body)["event"]["ts"]
    owed = await adapter.bot.owed_read_back("slack")
    assert owed is not None and float(owed) < float(ts)
    assert not [c for c in fake.calls("chat.postMessage") if c.ok]

    status, _ = await post_signed(url, body, fake.signing_secret, retry_num=1, retry_reason="http_error")
    assert status == 200
    assert await adapter.drain(15)
    [answer] = [c for c in fake.calls("chat.postMessage") if c.ok]
    assert answer.params["channel"] == "C222"


async def test_slacks_last_try_of_a_question_whose_install_could_not_be_read_gets_a_200_and_is_read_back(
    fake: FakeSlack,
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Slack sends an event no more after its last retry: a 503 then would only count toward
    Slack turning the app's events off after a long outage (adapters/slack/retries.py). It is
    acknowledged, held as the first tries were, and read back once the store is back: the
    read-backs that found no install to read with asked Slack nothing, so they came at a
    steady pace, not each twice as late (here 0.2 s apart, not 6.4 s after the fifth)."""
    import adapters.slack.read_backs as read_backs
    from adapters.slack.retries import LAST_RETRY
    from bot import faults

    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.2)
    caplog.set_level(logging.INFO, logger="adapters.slack")
    async with serving(make_runtime, fake) as (adapter, base):
        said, body = await asked_in_new_workspace(fake, adapter, base)
        url = f"{base}/slack/events"
        with faults.crash_at("installations.find", error=OSError("database unavailable"), times=10**6):
            first, _ = await post_signed(url, body, fake.signing_secret)
            last, _ = await post_signed(
                url, body, fake.signing_secret, retry_num=LAST_RETRY, retry_reason="http_error"
            )
            assert (first, last) == (503, 200)
            store = adapter.bot.store.store  # type: ignore[attr-defined]
            await until(lambda: store.owed_read_back("slack") is not None, "the owed read-back")
            assert float(store.owed_read_back("slack")) < float(said["ts"])
            without = "could not read back workspace T222"
            await until(
                lambda: sum(without in r.getMessage() for r in caplog.records) >= 5,
                "five read-backs without T222's install",
            )
        await fake.wait_for_call(
            "chat.postMessage", lambda c: c.params.get("thread_ts") == said["ts"], timeout=4
        )
        assert await adapter.drain(15)
    answered = [c.params.get("thread_ts") for c in fake.calls("chat.postMessage") if c.ok]
    assert answered.count(str(said["ts"])) == 1


async def test_slacks_last_try_is_answered_in_time_while_the_store_is_too_slow_to_give_the_install(
    fake: FakeSlack, make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer holds the state (a backup, a long migration): a first question's claim
    waits on it, and the install lookup of the next event waits behind that, past Slack's
    3 s. Slack's last try of that event is answered 200 within them all the same (Slack would
    count a late 200 as failed: adapters/slack/retries.py), held, and read back once the state
    is free; the first question, left to Slack, is answered at its retry. Each once."""
    import sqlite3

    import adapters.slack.read_backs as read_backs
    from adapters.slack.retries import LAST_RETRY

    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.2)
    monkeypatch.setattr(read_backs, "RETRY_OWED_AT_MOST", 0.4)
    async with serving(make_runtime, fake) as (adapter, base):
        first, first_body = await asked_in_new_workspace(fake, adapter, base)
        last, last_body = asked_in_t222(fake, "How do I reset my password?")
        url = f"{base}/slack/events"
        holder = sqlite3.connect(adapter.settings.data_dir / "state.db", isolation_level=None, timeout=0)
        holder.execute("begin immediate")
        try:
            asked = asyncio.create_task(post_signed(url, first_body, fake.signing_secret, timeout=3.0))
            await asyncio.sleep(0.3)  # its claim waits on the state
            status, _ = await post_signed(
                url,
                last_body,
                fake.signing_secret,
                retry_num=LAST_RETRY,
                retry_reason="http_timeout",
                timeout=3.0,
            )
            assert status == 200
            assert (await asked)[0] >= 500  # not the last try: left to Slack
        finally:
            holder.execute("rollback")
            holder.close()
        assert (await post_signed(url, first_body, fake.signing_secret, retry_num=1))[0] == 200
        await fake.wait_for_call(
            "chat.postMessage", lambda c: c.params.get("thread_ts") == last["ts"], timeout=15
        )
        assert await adapter.drain(15)
    answered = [c.params.get("thread_ts") for c in fake.calls("chat.postMessage") if c.ok]
    assert answered.count(str(first["ts"])) == 1 and answered.count(str(last["ts"])) == 1


async def test_a_command_whose_install_could_not_be_read_is_told_to_try_again(
    fake: FakeSlack, oauth_slack: tuple[SlackAdapter, str]
) -> None:
    """Slack sends a command once: the person is told to try again (Bolt's own note would say
    only to install the app)."""
    from bot import faults
    from tests.fakes.slack_server import slash_command_form

    adapter, base = oauth_slack
    async with aiohttp.ClientSession() as http:
        redirect, cookie = await start_install(http, base, "T222")
        assert await finish_install(http, redirect, cookie) == 200
    fields = fake.slash_command("/support", "help", user_id=MEMBER, channel_id="C222")
    fields.update(team_id="T222")
    with faults.crash_at("installations.find", error=OSError("database unavailable")):
        status, _ = await post_signed(
            f"{base}/slack/events",
            slash_command_form(fields),
            fake.signing_secret,
            content_type="application/x-www-form-urlencoded",
        )
    assert status == 200
    told = (await fake.wait_for_response()).text or ""
    assert told == say("install_unread")  # not only "install the app": it is installed
    assert "try again" in told
    assert await adapter.bot.owed_read_back("slack") is None  # a command is not read back


async def test_an_outage_read_back_covers_the_workspace_whose_retry_showed_it(
    fake: FakeSlack, make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack could not reach the bot while a workspace installed minutes before had its first
    question said (a read-back of the workspaces the bot talked in would not know it): the
    retry that shows the outage names the workspace, and it is read back too."""
    import adapters.slack.read_backs as read_backs
    from adapters.slack.http_events import DELIVERY_LAG

    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.2)
    async with serving(make_runtime, fake, "[slack]\nread_back_after_seconds = 1\n") as (adapter, base):
        async with aiohttp.ClientSession() as http:
            redirect, cookie = await start_install(http, base, "T222")
            assert await finish_install(http, redirect, cookie) == 200
        assert await adapter.drain(15)
        lost = fake.add_message("C222", "<@U0BOT2> How long does a refund take?", user=MEMBER)
        later = mention(fake, "T222", "U0BOT2", "C222", "How do I reset my password?")
        await asyncio.sleep(DELIVERY_LAG + 1.5)  # Slack cannot reach the bot meanwhile
        status, _ = await post_signed(
            f"{base}/slack/events", later, fake.signing_secret, retry_num=2, retry_reason="connection_failed"
        )
        assert status == 200
        assert await adapter.drain(15)
        await asyncio.sleep(0.5)  # the read-back owed, once Slack's retries are spent (shortened)
        assert await adapter.drain(15)
    answered = [c.params.get("thread_ts") for c in fake.calls("chat.postMessage") if c.ok]
    assert answered.count(str(lost["ts"])) == 1
    assert answered.count(json.loads(later)["event"]["ts"]) == 1


async def test_a_new_workspaces_question_whose_install_could_not_be_read_is_read_back_if_never_redelivered(
    fake: FakeSlack, make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store fails as the first question of a workspace installed minutes before comes,
    and Slack's redeliveries all fail too: once they are spent, the read-back owed covers that
    workspace, which no recorded conversation would have named."""
    import adapters.slack.read_backs as read_backs
    from bot import faults

    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.2)
    async with serving(make_runtime, fake) as (adapter, base):
        said, body = await asked_in_new_workspace(fake, adapter, base)
        with faults.crash_at("installations.find", error=OSError("database unavailable")):
            status, _ = await post_signed(f"{base}/slack/events", body, fake.signing_secret)
        assert status == 503
        await asyncio.sleep(0.5)  # Slack's retries spent (shortened), none delivered
        assert await adapter.drain(15)
    answered = [c.params.get("thread_ts") for c in fake.calls("chat.postMessage") if c.ok]
    assert answered.count(str(said["ts"])) == 1
