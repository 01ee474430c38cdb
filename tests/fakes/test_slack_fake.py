"""The Slack fake must behave like Slack to the real slack_sdk / slack_bolt code.

Every test drives the real client libraries over real HTTP / websockets against
:class:`tests.fakes.slack_server.FakeSlack`; nothing in slack_sdk or Bolt is patched.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_server import (
    DEFAULT_BOT_SCOPES,
    FakeSlack,
    event_callback_body,
    interactive_form,
    load_form,
    load_payload,
    post_signed,
    sign,
    slash_command_form,
)

# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)


async def slack_error(call: Any) -> SlackApiError:
    """Await ``call`` and return the SlackApiError slack_sdk raised (fails if none)."""
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


class SocketRecorder:
    """A raw slack_sdk SocketModeClient listener: records frames, acks every request."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.requests: list[SocketModeRequest] = []
        self.ack_payload: dict[str, Any] | None = None

    async def on_message(self, _client: Any, message: dict[str, Any], _raw: str | None) -> None:
        self.messages.append(message)

    async def on_request(self, client: SocketModeClient, req: SocketModeRequest) -> None:
        self.requests.append(req)
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=self.ack_payload)
        )


@pytest.fixture
async def socket_client(fake: FakeSlack) -> AsyncIterator[tuple[SocketModeClient, SocketRecorder]]:
    recorder = SocketRecorder()
    # A short ping interval lets the client notice a dropped TCP link quickly.
    sm = SocketModeClient(
        app_token=fake.app_token,
        web_client=AsyncWebClient(base_url=fake.api_url),
        ping_interval=0.25,
    )
    sm.message_listeners.append(recorder.on_message)
    sm.socket_mode_request_listeners.append(recorder.on_request)
    await sm.connect()
    await fake.wait_for_connection(1)
    try:
        yield sm, recorder
    finally:
        await sm.close()


@pytest.fixture
async def bolt(fake: FakeSlack) -> AsyncIterator[AsyncApp]:
    """A Bolt app in Socket Mode talking to the fake; listeners are added by each test."""
    app = AsyncApp(
        client=AsyncWebClient(token=fake.bot_token, base_url=fake.api_url),
        signing_secret=fake.signing_secret,
    )
    handler = AsyncSocketModeHandler(app, fake.app_token, ping_interval=5)
    await handler.connect_async()
    await fake.wait_for_connection(1)
    try:
        yield app
    finally:
        await handler.close_async()


# --------------------------------------------------------------------------------------------
# Web API: identity, auth, scopes, method validation
# --------------------------------------------------------------------------------------------


async def test_auth_test_reports_identity_and_granted_scopes(fake: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.auth_test()
    assert resp["team_id"] == "T111"
    assert resp["user_id"] == fake.bot_user_id
    assert resp["bot_id"] == fake.bot_id
    assert resp["url"] == "https://test-domain.slack.com/"
    assert resp.headers["x-oauth-scopes"].split(",") == list(DEFAULT_BOT_SCOPES)


async def test_granted_scopes_are_configurable() -> None:
    async with FakeSlack(bot_scopes=["chat:write", "commands"]) as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
        resp = await client.auth_test()
        assert resp.headers["x-oauth-scopes"] == "chat:write,commands"


async def test_unknown_method_is_http_200_unknown_method(fake: FakeSlack) -> None:
    # Slack answers unknown methods before checking auth, so no token is needed.
    err = await slack_error(AsyncWebClient(base_url=fake.api_url).api_call("chat.postMesage"))
    assert err.response.status_code == 200
    assert err.response["error"] == "unknown_method"
    assert err.response["req_method"] == "chat.postMesage"


async def test_auth_failures_match_slack(fake: FakeSlack) -> None:
    no_token = AsyncWebClient(base_url=fake.api_url)
    assert (await slack_error(no_token.auth_test())).response["error"] == "not_authed"
    bad = AsyncWebClient(token="xoxb-" + "not-a-real-token", base_url=fake.api_url)
    assert (await slack_error(bad.auth_test())).response["error"] == "invalid_auth"
    fake.revoke_token(fake.bot_token)
    revoked = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    assert (await slack_error(revoked.auth_test())).response["error"] == "token_revoked"


async def test_missing_scope_reports_needed_and_provided(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.set_scopes(fake.bot_token, ["chat:write", "channels:history"])
    posted = await client.chat_postMessage(channel="C111", text="hi")

    err = await slack_error(client.reactions_add(channel="C111", timestamp=posted["ts"], name="eyes"))
    assert err.response["error"] == "missing_scope"
    assert err.response["needed"] == "reactions:write"
    assert err.response["provided"] == "chat:write,channels:history"

    # conversations.* need the scope of the channel's type: a private channel needs groups:*.
    fake.add_channel("C333", "private-help", is_private=True)
    err = await slack_error(client.conversations_history(channel="C333"))
    assert err.response["error"] == "missing_scope"
    assert err.response["needed"] == "groups:history"
    assert (await client.conversations_history(channel="C111"))["ok"]


async def test_token_types_are_enforced(fake: FakeSlack, client: AsyncWebClient) -> None:
    err = await slack_error(client.apps_connections_open(app_token=fake.bot_token))
    assert err.response["error"] == "not_allowed_token_type"

    app_client = AsyncWebClient(token=fake.app_token, base_url=fake.api_url)
    err = await slack_error(app_client.chat_postMessage(channel="C111", text="hi"))
    assert err.response["error"] == "not_allowed_token_type"

    opened = await client.apps_connections_open(app_token=fake.app_token)
    assert opened["url"].startswith(f"ws://127.0.0.1:{fake.port}/link/?ticket=")


async def test_missing_required_arguments_get_slacks_errors(fake: FakeSlack, client: AsyncWebClient) -> None:
    async def error_of(method: str, **params: Any) -> str:
        err = await slack_error(client.api_call(method, params=params))
        return str(err.response["error"])

    assert await error_of("chat.postMessage", text="no channel") == "channel_not_found"
    assert await error_of("chat.postMessage", channel="C111") == "no_text"
    assert await error_of("users.info") == "user_not_found"
    assert await error_of("reactions.add", channel="C111", name="eyes") == "no_item_specified"

    # Where Slack has no specific error it answers invalid_arguments naming the field.
    err = await slack_error(
        client.api_call("conversations.replies", http_verb="GET", params={"channel": "C111"})
    )
    assert err.response["error"] == "invalid_arguments"
    assert err.response["response_metadata"]["messages"] == ["[ERROR] missing required field: ts"]


async def test_json_body_token_and_json_to_read_methods_are_ignored_like_slack(
    fake: FakeSlack,
) -> None:
    async with aiohttp.ClientSession() as http:
        # A token inside a JSON body does not authenticate: Slack wants a Bearer header.
        async with http.post(
            f"{fake.api_url}chat.postMessage",
            json={"token": fake.bot_token, "channel": "C111", "text": "hi"},
        ) as resp:
            assert resp.status == 200
            assert (await resp.json())["error"] == "not_authed"
        # A form token does authenticate.
        async with http.post(
            f"{fake.api_url}chat.postMessage",
            data={"token": fake.bot_token, "channel": "C111", "text": "hi"},
        ) as resp:
            assert (await resp.json())["ok"] is True
        # Read methods do not take JSON bodies: the args are lost, so the channel is missing.
        async with http.post(
            f"{fake.api_url}conversations.history",
            json={"channel": "C111"},
            headers={"Authorization": f"Bearer {fake.bot_token}"},
        ) as resp:
            assert (await resp.json())["error"] == "channel_not_found"
        async with http.post(
            f"{fake.api_url}chat.postMessage",
            data="{not json",
            headers={
                "Authorization": f"Bearer {fake.bot_token}",
                "Content-Type": "application/json",
            },
        ) as resp:
            assert (await resp.json())["error"] == "invalid_json"

    form_call = fake.calls("chat.postMessage")[1]
    assert "token" not in form_call.params
    assert form_call.token == fake.bot_token


# --------------------------------------------------------------------------------------------
# Web API: messages, threads, blocks
# --------------------------------------------------------------------------------------------


async def test_post_message_returns_slack_message_with_increasing_unique_ts(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}]
    first = await client.chat_postMessage(channel="C111", text="hello", blocks=blocks)
    assert first["channel"] == "C111"
    assert first["ts"] == first["message"]["ts"]
    message = first["message"]
    assert message["type"] == "message"
    assert message["user"] == fake.bot_user_id
    assert message["bot_id"] == fake.bot_id
    assert message["text"] == "hello"
    assert message["blocks"] == blocks

    stamps = [first["ts"]]
    for i in range(5):
        stamps.append((await client.chat_postMessage(channel="C111", text=f"m{i}"))["ts"])
    as_numbers = [(int(s.split(".")[0]), int(s.split(".")[1])) for s in stamps]
    assert as_numbers == sorted(as_numbers)
    assert len(set(stamps)) == len(stamps)
    assert all(len(s.split(".")[1]) == 6 for s in stamps)
    assert [m["text"] for m in fake.messages("C111")] == ["hello", "m0", "m1", "m2", "m3", "m4"]


async def test_form_and_json_bodies_store_the_same_message(fake: FakeSlack, client: AsyncWebClient) -> None:
    blocks = [{"type": "divider"}, {"type": "section", "text": {"type": "plain_text", "text": "x"}}]
    via_json = await client.chat_postMessage(channel="C111", text="json", blocks=blocks)
    via_form = await client.api_call(
        "chat.postMessage",
        data={"channel": "C111", "text": "form", "blocks": json.dumps(blocks)},
    )
    assert via_json["message"]["blocks"] == via_form["message"]["blocks"] == blocks

    json_call, form_call = fake.calls("chat.postMessage")
    assert json_call.headers["Content-Type"].startswith("application/json")
    assert form_call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert isinstance(json_call.params["blocks"], list)
    assert isinstance(form_call.params["blocks"], str)  # recorded as sent
    assert json_call.json_param("blocks") == form_call.json_param("blocks")


async def test_posting_rules_archived_membership_and_length(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel("C400", "old", is_archived=True)
    fake.add_channel("C401", "not-invited", bot_is_member=False)
    err = await slack_error(client.chat_postMessage(channel="C400", text="x"))
    assert err.response["error"] == "is_archived"
    err = await slack_error(client.chat_postMessage(channel="C401", text="x"))
    assert err.response["error"] == "not_in_channel"
    err = await slack_error(client.chat_postMessage(channel="C404", text="x"))
    assert err.response["error"] == "channel_not_found"
    err = await slack_error(client.chat_postMessage(channel="C111", text="x" * 40_001))
    assert err.response["error"] == "msg_too_long"
    assert (await client.chat_postMessage(channel="C111", text="x" * 40_000))["ok"]
    # Posting to a user ID lands in the bot's DM with that user.
    dm = await client.chat_postMessage(channel="W222", text="psst")
    assert dm["channel"].startswith("D")
    assert fake.channels[dm["channel"]]["user"] == "W222"


@pytest.mark.parametrize(
    ("blocks", "error", "message_part"),
    [
        ([{"type": "carousel"}], "invalid_blocks", "unsupported type: carousel"),
        ([{"type": "divider"}] * 51, "invalid_blocks", "no more than 50 items"),
        (
            [{"type": "section", "text": {"type": "mrkdwn", "text": "a" * 3001}}],
            "invalid_blocks",
            "[json-pointer:/blocks/0/text/text]",
        ),
        ([{"type": "section"}], "invalid_blocks", "must provide text or fields"),
        (
            [{"type": "header", "text": {"type": "mrkdwn", "text": "hdr"}}],
            "invalid_blocks",
            "must be one of plain_text",
        ),
        (
            [{"type": "divider", "block_id": "x"}, {"type": "divider", "block_id": "x"}],
            "invalid_blocks",
            "duplicate block_id",
        ),
        (["not an object"], "invalid_blocks", "must be an object"),
        ("{not json", "invalid_blocks_format", None),
        ('{"type": "divider"}', "invalid_blocks_format", None),
    ],
)
async def test_invalid_blocks_are_rejected(
    client: AsyncWebClient, blocks: Any, error: str, message_part: str | None
) -> None:
    payload = blocks if isinstance(blocks, str) else json.dumps(blocks)
    err = await slack_error(
        client.api_call("chat.postMessage", data={"channel": "C111", "text": "t", "blocks": payload})
    )
    assert err.response["error"] == error
    if message_part is not None:
        assert any(message_part in m for m in err.response["response_metadata"]["messages"])


async def test_fifty_valid_blocks_and_a_3000_char_section_are_accepted(
    client: AsyncWebClient,
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "a" * 3000}}]
    blocks += [{"type": "divider"}] * 49
    resp = await client.chat_postMessage(channel="C111", text="t", blocks=blocks)
    assert len(resp["message"]["blocks"]) == 50


async def test_threads_replies_and_history(fake: FakeSlack, client: AsyncWebClient) -> None:
    question = fake.add_message("C111", "how do I reset my password?", user="W222")
    first = await client.chat_postMessage(
        channel="C111", text="Try the reset link.", thread_ts=question["ts"]
    )
    assert first["message"]["thread_ts"] == question["ts"]
    assert first["message"]["parent_user_id"] == "W222"
    # Replying to a reply lands in the parent's thread, as on Slack.
    second = await client.chat_postMessage(channel="C111", text="Or ask an admin.", thread_ts=first["ts"])
    assert second["message"]["thread_ts"] == question["ts"]
    await client.chat_postMessage(channel="C111", text="unrelated")

    replies = await client.conversations_replies(channel="C111", ts=question["ts"])
    texts = [m["text"] for m in replies["messages"]]
    assert texts == ["how do I reset my password?", "Try the reset link.", "Or ask an admin."]
    parent = replies["messages"][0]
    assert parent["reply_count"] == 2
    assert parent["latest_reply"] == second["ts"]
    assert parent["reply_users"] == [fake.bot_user_id]
    # Asking with a reply's ts returns the same thread.
    by_reply = await client.conversations_replies(channel="C111", ts=first["ts"])
    assert [m["ts"] for m in by_reply["messages"]] == [m["ts"] for m in replies["messages"]]

    history = await client.conversations_history(channel="C111")
    assert [m["text"] for m in history["messages"]] == [
        "unrelated",
        "how do I reset my password?",
    ]
    err = await slack_error(client.conversations_replies(channel="C111", ts="1.000001"))
    assert err.response["error"] == "thread_not_found"


async def test_replies_paginate_with_the_sdk_cursor_iterator(fake: FakeSlack, client: AsyncWebClient) -> None:
    parent = fake.add_message("C111", "parent")
    for i in range(5):
        fake.add_message("C111", f"r{i}", thread_ts=parent["ts"], user="W111")
    pages = [
        [m["text"] for m in page["messages"]]
        async for page in await client.conversations_replies(channel="C111", ts=parent["ts"], limit=2)
    ]
    assert pages == [["parent", "r0"], ["r1", "r2"], ["r3", "r4"]]
    cursors = [c.params.get("cursor") for c in fake.calls("conversations.replies")]
    assert cursors[0] is None and all(cursors[1:])


async def test_update_and_delete_follow_slack_ownership_rules(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    human = fake.add_message("C111", "human text", user="W222")
    posted = await client.chat_postMessage(channel="C111", text="draft", thread_ts=human["ts"])

    updated = await client.chat_update(channel="C111", ts=posted["ts"], text="final")
    assert updated["text"] == "final"
    stored = fake.message("C111", posted["ts"])
    assert stored is not None
    assert stored["text"] == "final"
    assert stored["edited"]["user"] == fake.bot_user_id

    err = await slack_error(client.chat_update(channel="C111", ts=human["ts"], text="hijack"))
    assert err.response["error"] == "cant_update_message"
    err = await slack_error(client.chat_delete(channel="C111", ts=human["ts"]))
    assert err.response["error"] == "cant_delete_message"

    await client.chat_delete(channel="C111", ts=posted["ts"])
    assert fake.message("C111", posted["ts"]) is None
    parent = fake.message("C111", human["ts"])
    assert parent is not None and "reply_count" not in parent
    err = await slack_error(client.chat_delete(channel="C111", ts=posted["ts"]))
    assert err.response["error"] == "message_not_found"


async def test_ephemeral_messages_and_permalinks(fake: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.chat_postEphemeral(channel="C111", user="W222", text="only you")
    assert resp["message_ts"]
    assert fake.ephemerals[-1]["user"] == "W222"
    assert fake.ephemerals[-1]["message"]["text"] == "only you"
    assert fake.messages("C111") == []  # ephemeral messages are not in history

    fake.add_user("W333", "outsider", channels=[])
    err = await slack_error(client.chat_postEphemeral(channel="C111", user="W333", text="x"))
    assert err.response["error"] == "user_not_in_channel"

    parent = await client.chat_postMessage(channel="C111", text="parent")
    reply = await client.chat_postMessage(channel="C111", text="reply", thread_ts=parent["ts"])
    link = await client.chat_getPermalink(channel="C111", message_ts=reply["ts"])
    digits = reply["ts"].replace(".", "")
    assert link["permalink"] == (
        f"https://test-domain.slack.com/archives/C111/p{digits}?thread_ts={parent['ts']}&cid=C111"
    )
    err = await slack_error(client.chat_getPermalink(channel="C111", message_ts="1.000002"))
    assert err.response["error"] == "message_not_found"


async def test_reactions_add_remove_and_their_errors(fake: FakeSlack, client: AsyncWebClient) -> None:
    msg = fake.add_message("C111", "question")
    await client.reactions_add(channel="C111", timestamp=msg["ts"], name="eyes")
    err = await slack_error(client.reactions_add(channel="C111", timestamp=msg["ts"], name="eyes"))
    assert err.response["error"] == "already_reacted"

    got = await client.reactions_get(channel="C111", timestamp=msg["ts"])
    assert got["message"]["reactions"] == [{"name": "eyes", "users": [fake.bot_user_id], "count": 1}]

    await client.reactions_remove(channel="C111", timestamp=msg["ts"], name="eyes")
    stored = fake.message("C111", msg["ts"])
    assert stored is not None and "reactions" not in stored
    err = await slack_error(client.reactions_remove(channel="C111", timestamp=msg["ts"], name="eyes"))
    assert err.response["error"] == "no_reaction"
    err = await slack_error(client.reactions_add(channel="C111", timestamp="9.000009", name="x"))
    assert err.response["error"] == "message_not_found"
    err = await slack_error(client.reactions_add(channel="C111", timestamp=msg["ts"], name="Not An Emoji"))
    assert err.response["error"] == "invalid_name"


async def test_users_usergroups_and_conversation_info(fake: FakeSlack, client: AsyncWebClient) -> None:
    owner = (await client.users_info(user="W111"))["user"]
    assert (owner["is_admin"], owner["is_owner"], owner["is_primary_owner"]) == (True, True, True)
    member = (await client.users_info(user="W222"))["user"]
    assert (member["is_admin"], member["is_owner"]) == (False, False)
    fake.add_user("W500", "helper", is_admin=True)
    assert (await client.users_info(user="W500"))["user"]["is_admin"] is True
    err = await slack_error(client.users_info(user="W404"))
    assert err.response["error"] == "user_not_found"

    assert (await client.usergroups_users_list(usergroup="S111"))["users"] == ["W111"]
    err = await slack_error(client.usergroups_users_list(usergroup="S404"))
    assert err.response["error"] == "no_such_subteam"

    info = await client.conversations_info(channel="C111", include_num_members=True)
    assert info["channel"]["name"] == "random"
    assert info["channel"]["is_member"] is True
    assert info["channel"]["num_members"] == 4  # bot, W111, W222, W500
    fake.add_channel("C600", "secret", is_private=True, bot_is_member=False)
    err = await slack_error(client.conversations_info(channel="C600"))
    assert err.response["error"] == "channel_not_found"


async def test_other_methods_a_support_bot_may_use(fake: FakeSlack, client: AsyncWebClient) -> None:
    # api.test needs no token and echoes its arguments.
    anonymous = AsyncWebClient(base_url=fake.api_url)
    assert (await anonymous.api_test(foo="bar"))["args"] == {"foo": "bar"}
    assert (await slack_error(anonymous.api_test(error="boom"))).response["error"] == "boom"

    assert (await client.team_info())["team"]["domain"] == "test-domain"
    assert (await client.bots_info(bot=fake.bot_id))["bot"]["user_id"] == fake.bot_user_id
    found = await client.users_lookupByEmail(email="member@example.com")
    assert found["user"]["id"] == "W222"
    assert {u["id"] for u in (await client.users_list())["members"]} == {
        fake.bot_user_id,
        "W111",
        "W222",
    }
    members = await client.conversations_members(channel="C111")
    assert set(members["members"]) == {fake.bot_user_id, "W111", "W222"}

    dm = await client.conversations_open(users="W111")
    again = await client.conversations_open(users="W111")
    assert dm["channel"]["id"] == again["channel"]["id"] and again["already_open"] is True

    fake.add_channel("C700", "announcements", bot_is_member=False)
    err = await slack_error(client.conversations_history(channel="C700"))
    assert err.response["error"] == "not_in_channel"
    await client.conversations_join(channel="C700")
    assert (await client.chat_postMessage(channel="C700", text="hi all"))["ok"]

    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}],
    }
    published = await client.views_publish(user_id="W222", view=home)
    assert published["view"]["id"] in fake.views
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Ask"},
        "blocks": [{"type": "carousel"}],
    }
    err = await slack_error(client.views_open(trigger_id=fake.trigger_id(), view=modal))
    assert err.response["error"] == "invalid_blocks"

    question = fake.add_message("C111", "help?")
    await client.assistant_threads_setStatus(
        channel_id="C111", thread_ts=question["ts"], status="is thinking…"
    )
    assert fake.assistant_threads[("C111", question["ts"])]["status"] == "is thinking…"
    # An empty status clears it (not a missing argument).
    await client.assistant_threads_setStatus(channel_id="C111", thread_ts=question["ts"], status="")
    assert fake.assistant_threads[("C111", question["ts"])]["status"] == ""


async def test_broadcast_replies_and_deleted_thread_parents(fake: FakeSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="C111", text="parent")
    await client.chat_postMessage(
        channel="C111", text="also for everyone", thread_ts=parent["ts"], reply_broadcast=True
    )
    await client.chat_postMessage(channel="C111", text="thread only", thread_ts=parent["ts"])
    history = await client.conversations_history(channel="C111")
    assert [m["text"] for m in history["messages"]] == ["also for everyone", "parent"]

    # Deleting a parent with replies leaves Slack's tombstone so the thread stays readable.
    await client.chat_delete(channel="C111", ts=parent["ts"])
    thread = await client.conversations_replies(channel="C111", ts=parent["ts"])
    root = thread["messages"][0]
    assert (root["subtype"], root["text"]) == ("tombstone", "This message was deleted.")
    assert [m["text"] for m in thread["messages"][1:]] == ["also for everyone", "thread only"]


async def test_a_crash_inside_the_fake_fails_the_test() -> None:
    def broken(_call: Any) -> dict[str, Any]:
        raise RuntimeError("bug in a stub")

    with pytest.raises(AssertionError, match="internal errors"):
        async with FakeSlack() as fake:
            fake.stub("chat.scheduleMessage", broken)
            client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
            err = await slack_error(client.chat_scheduleMessage(channel="C111", post_at=1, text="x"))
            assert err.response.status_code == 500
            assert err.response["error"] == "fake_internal_error"


# --------------------------------------------------------------------------------------------
# Journal and scripted failures
# --------------------------------------------------------------------------------------------


async def test_calls_are_recorded_with_token_removed(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="C111", text="recorded")
    call = fake.last_call("chat.postMessage")
    assert call.params == {"channel": "C111", "text": "recorded"}
    assert call.headers["Authorization"] == f"Bearer {fake.bot_token}"
    assert call.http_method == "POST"
    assert call.status == 200 and call.ok
    assert call.response is not None and call.response["message"]["text"] == "recorded"
    assert [c.method for c in fake.api_calls] == ["chat.postMessage"]


async def test_wait_for_call_resolves_when_the_call_arrives(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="C111", text="earlier")
    since = fake.mark()
    waiter = asyncio.create_task(
        fake.wait_for_call("chat.postMessage", lambda c: c.params["text"] == "later", since=since)
    )
    await asyncio.sleep(0)  # let the waiter subscribe before the call exists
    assert not waiter.done()
    await client.chat_postMessage(channel="C111", text="later")
    call = await waiter
    assert call.params["text"] == "later"
    assert call.index == since

    second = await fake.wait_for_call("chat.postMessage", count=2)
    assert second.params["text"] == "later"
    with pytest.raises(TimeoutError, match=r"chat\.update"):
        await fake.wait_for_call("chat.update", timeout=0.05)


async def test_rate_limit_is_429_with_retry_after(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.rate_limit("chat.postMessage", times=1, retry_after=7)
    err = await slack_error(client.chat_postMessage(channel="C111", text="x"))
    assert err.response.status_code == 429
    assert err.response.headers["Retry-After"] == "7"
    assert err.response["error"] == "ratelimited"
    # The fault was used up.
    assert (await client.chat_postMessage(channel="C111", text="x"))["ok"]


async def test_rate_limit_retry_handler_retries_and_succeeds(fake: FakeSlack) -> None:
    fake.rate_limit("chat.postMessage", times=1, retry_after=0)
    client = AsyncWebClient(
        token=fake.bot_token,
        base_url=fake.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    resp = await client.chat_postMessage(channel="C111", text="eventually")
    assert resp["ok"]
    calls = fake.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].response_headers["Retry-After"] == "0"
    assert len(fake.messages("C111")) == 1  # the rate-limited attempt stored nothing


async def test_scripted_errors_then_recovery(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("chat.postMessage", error="channel_not_found", times=2)
    for _ in range(2):
        err = await slack_error(client.chat_postMessage(channel="C111", text="x"))
        assert err.response["error"] == "channel_not_found"
    assert (await client.chat_postMessage(channel="C111", text="x"))["ok"]
    with pytest.raises(ValueError, match="unknown Slack method"):
        fake.fail("chat.postMesage", error="x")


async def test_http_5xx_and_server_error_retry_handler(fake: FakeSlack) -> None:
    fake.http_error("conversations.history", status=503, times=1)
    plain = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    err = await slack_error(plain.conversations_history(channel="C111"))
    assert err.response.status_code == 503

    fake.http_error("conversations.history", status=500, times=1)
    retrying = AsyncWebClient(
        token=fake.bot_token,
        base_url=fake.api_url,
        retry_handlers=[
            AsyncServerErrorRetryHandler(
                max_retry_count=1,
                interval_calculator=FixedValueRetryIntervalCalculator(fixed_internal=0.01),
            )
        ],
    )
    assert (await retrying.conversations_history(channel="C111"))["ok"]
    assert [c.status for c in fake.calls("conversations.history")] == [503, 500, 200]


async def test_unmodelled_methods_fail_loudly_until_stubbed(fake: FakeSlack, client: AsyncWebClient) -> None:
    post_at = int(time.time()) + 3600
    err = await slack_error(client.chat_scheduleMessage(channel="C111", post_at=post_at, text="x"))
    assert err.response["error"] == "fake_not_implemented"
    fake.stub("chat.scheduleMessage", lambda call: {"scheduled_message_id": "Q1", "post_at": post_at})
    scheduled = await client.chat_scheduleMessage(channel="C111", post_at=post_at, text="x")
    assert scheduled["scheduled_message_id"] == "Q1"
    # Auth, scope and argument checks still run before a stub.
    fake.stub("files.info", {"file": {"id": "F1"}})
    err = await slack_error(client.files_info(file="F1"))
    assert (err.response["error"], err.response["needed"]) == ("missing_scope", "files:read")


# --------------------------------------------------------------------------------------------
# Socket Mode with slack_sdk's aiohttp SocketModeClient
# --------------------------------------------------------------------------------------------


async def test_socket_hello_and_events_api_envelope_are_framed_like_slack(
    fake: FakeSlack, socket_client: tuple[SocketModeClient, SocketRecorder]
) -> None:
    _, recorder = socket_client
    body = fake.user_message("C111", "is the VPN down?")
    ack = await fake.socket_send("events_api", body, retry_attempt=1, retry_reason="timeout")

    hello = recorder.messages[0]
    assert hello["type"] == "hello"
    assert hello["num_connections"] == 1
    assert set(hello["debug_info"]) == {"host", "build_number", "approximate_connection_time"}
    assert hello["connection_info"] == {"app_id": "A111"}

    sent = fake.connections[0].sent[-1]
    assert set(sent) == {
        "envelope_id",
        "payload",
        "type",
        "accepts_response_payload",
        "retry_attempt",
        "retry_reason",
    }
    assert sent["accepts_response_payload"] is False
    request = recorder.requests[-1]
    assert request.type == "events_api"
    assert request.retry_attempt == 1 and request.retry_reason == "timeout"
    assert request.payload["event"]["text"] == "is the VPN down?"
    assert ack == {"envelope_id": sent["envelope_id"]}
    assert fake.acks[-1]["envelope_id"] == sent["envelope_id"]


async def test_slash_command_envelope_accepts_a_response_payload(
    fake: FakeSlack, socket_client: tuple[SocketModeClient, SocketRecorder]
) -> None:
    _, recorder = socket_client
    recorder.ack_payload = {"text": "on it"}
    ack = await fake.socket_send("slash_commands", fake.slash_command("/ask", "vpn"))
    sent = fake.connections[0].sent[-1]
    assert sent["accepts_response_payload"] is True
    assert "retry_attempt" not in sent
    assert ack["payload"] == {"text": "on it"}
    assert recorder.requests[-1].payload["command"] == "/ask"


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
async def test_disconnect_message_makes_the_client_reconnect(
    fake: FakeSlack, socket_client: tuple[SocketModeClient, SocketRecorder], reason: str
) -> None:
    _, recorder = socket_client
    first = fake.connections[0]
    await fake.socket_disconnect(reason)
    second = await fake.wait_for_connection(2)
    assert len(fake.calls("apps.connections.open")) == 2
    assert second.ticket != first.ticket
    await first.closed.wait()  # the client abandons the old socket itself
    ack = await fake.socket_send("events_api", fake.user_message("C111", "after refresh"))
    assert recorder.requests[-1].envelope_id == ack["envelope_id"]
    assert fake.acks[-1]["_connection"] == 2


@pytest.mark.parametrize("how", ["drop", "close"])
async def test_lost_connection_makes_the_client_reconnect(
    fake: FakeSlack, socket_client: tuple[SocketModeClient, SocketRecorder], how: str
) -> None:
    _, recorder = socket_client
    if how == "drop":
        await fake.socket_drop()  # TCP reset, no close frame
    else:
        await fake.socket_close()  # close frame from the server
    await fake.wait_for_connection(2)
    assert len(fake.calls("apps.connections.open")) == 2
    ack = await fake.socket_send("events_api", fake.user_message("C111", "still there?"))
    assert recorder.requests[-1].envelope_id == ack["envelope_id"]


async def test_socket_urls_are_single_use_and_unacked_envelopes_time_out(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    url = (await client.apps_connections_open(app_token=fake.app_token))["url"]
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url) as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["type"] == "hello"
            with pytest.raises(TimeoutError, match="no ack"):
                await fake.socket_send("events_api", fake.user_message("C111", "x"), timeout=0.1)
            envelope = await ws.receive_json(timeout=5)
            assert envelope["type"] == "events_api"
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(url)
        assert info.value.status == 401


# --------------------------------------------------------------------------------------------
# Bolt over Socket Mode: say / ack / respond against the fake
# --------------------------------------------------------------------------------------------


async def test_bolt_app_mention_reply_lands_in_the_thread(fake: FakeSlack, bolt: AsyncApp) -> None:
    @bolt.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(text=f"echo: {event['text']}", thread_ts=event["ts"])

    body = fake.user_message("C111", "where are the docs?", mention=True)
    ack = await fake.socket_send("events_api", body)
    assert "envelope_id" in ack

    call = await fake.wait_for_call("chat.postMessage")
    question_ts = body["event"]["ts"]
    assert call.params["thread_ts"] == question_ts
    thread = fake.thread("C111", question_ts)
    assert [m["text"] for m in thread] == [
        f"<@{fake.bot_user_id}> where are the docs?",
        f"echo: <@{fake.bot_user_id}> where are the docs?",
    ]
    assert thread[0]["reply_count"] == 1
    assert fake.calls("auth.test")  # Bolt authorised itself against the fake


async def test_bolt_slash_command_ack_payload_and_respond(fake: FakeSlack, bolt: AsyncApp) -> None:
    @bolt.command("/ask")
    async def on_ask(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        await ack(text="Looking it up…")
        await respond(text=f"Answer for {command['text']}", response_type="in_channel")

    ack = await fake.socket_send("slash_commands", fake.slash_command("/ask", "vpn", user_id="W111"))
    assert ack["payload"]["text"] == "Looking it up…"
    posted = await fake.wait_for_response()
    assert posted.status == 200
    assert posted.response_type == "in_channel"
    assert posted.text == "Answer for vpn"
    assert posted.context["user"] == "W111"
    assert [m["text"] for m in fake.messages("C111")] == ["Answer for vpn"]


async def test_bolt_block_action_respond_replaces_the_original(
    fake: FakeSlack, bolt: AsyncApp, client: AsyncWebClient
) -> None:
    buttons = [
        {
            "type": "actions",
            "block_id": "b",
            "elements": [
                {
                    "type": "button",
                    "action_id": "a",
                    "text": {"type": "plain_text", "text": "Resolved"},
                }
            ],
        }
    ]
    original = await client.chat_postMessage(channel="C111", text="Did that help?", blocks=buttons)

    @bolt.action("a")
    async def on_click(ack: Any, respond: Any) -> None:
        await ack()
        await respond(text="Thanks for the feedback!", replace_original=True)

    payload = fake.with_response_url(
        load_payload("block_actions__block_actions__body"),
        channel="C111",
        message_ts=original["ts"],
    )
    assert payload["response_url"].startswith(fake.base_url)
    await fake.socket_send("interactive", payload)
    posted = await fake.wait_for_response()
    assert posted.replace_original is True
    stored = fake.message("C111", original["ts"])
    assert stored is not None
    assert stored["text"] == "Thanks for the feedback!"
    assert "blocks" not in stored


# --------------------------------------------------------------------------------------------
# HTTP mode: signing and body builders accepted by slack_sdk / Bolt
# --------------------------------------------------------------------------------------------

# Slack's published example from "Verifying requests from Slack".
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = 1531420618
DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
    b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_sign_reproduces_slacks_published_example() -> None:
    assert sign(DOC_BODY, DOC_SECRET, DOC_TIMESTAMP) == {
        "X-Slack-Request-Timestamp": str(DOC_TIMESTAMP),
        "X-Slack-Signature": DOC_SIGNATURE,
    }


def test_signature_verifier_accepts_fresh_and_rejects_stale_or_mismatched() -> None:
    body = json.dumps(event_callback_body({"type": "app_mention", "text": "hi", "ts": "1.2"}))
    verifier = SignatureVerifier("s3cret")
    assert verifier.is_valid_request(body, sign(body, "s3cret"))
    stale = sign(body, "s3cret", int(time.time()) - 6 * 60)
    assert not verifier.is_valid_request(body, stale)
    assert not verifier.is_valid_request(body, sign(body, "other-secret"))
    assert not verifier.is_valid_request(body + " ", sign(body, "s3cret"))


def test_fixture_loaders_find_payloads_by_file_name() -> None:
    assert load_payload("app_mention__app__app_mention_event_body")["event"]["type"] == ("app_mention")
    assert load_payload("block_actions__block_actions__body.json")["type"] == "block_actions"
    assert load_form("slash_command__slash_command__slash_command_body").startswith(b"token=")
    with pytest.raises(FileNotFoundError, match="close matches"):
        load_payload("app_mention_body_that_does_not_exist")


async def test_bolt_http_mode_accepts_the_fakes_requests(fake: FakeSlack) -> None:
    """The builders + signing produce requests Bolt's own aiohttp server accepts."""
    app = AsyncApp(
        client=AsyncWebClient(token=fake.bot_token, base_url=fake.api_url),
        signing_secret=fake.signing_secret,
    )

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(text="heard you", thread_ts=event["ts"])

    @app.command("/hello-world")
    async def on_command(ack: Any, command: dict[str, Any]) -> None:
        await ack(text=f"hello {command['user_name']}")

    @app.action("a")
    async def on_action(ack: Any, respond: Any) -> None:
        await ack()
        await respond(text="clicked")

    server = TestServer(app.web_app(), host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url("/slack/events"))
        secret = fake.signing_secret

        status, text = await post_signed(
            url, json.dumps({"type": "url_verification", "challenge": "c-123"}).encode(), secret
        )
        assert (status, json.loads(text)) == (200, {"challenge": "c-123"})

        event_body = json.dumps(fake.event_from_fixture("app_mention__app__app_mention_event_body"))
        status, _ = await post_signed(url, event_body.encode(), secret)
        assert status == 200
        reply = await fake.wait_for_call("chat.postMessage")
        assert reply.params["thread_ts"] == "1595926230.009600"

        # The verbatim real slash-command body from the fixtures, and one built by the fake.
        form = "application/x-www-form-urlencoded"
        status, text = await post_signed(
            url,
            load_form("slash_command__slash_command__slash_command_body"),
            secret,
            content_type=form,
        )
        # Bolt answers a text-only ack() as a plain-text body.
        assert (status, text) == (200, "hello primary-owner")
        built = slash_command_form(fake.slash_command("/hello-world", user_id="W222"))
        status, text = await post_signed(url, built, secret, content_type=form)
        assert (status, text) == (200, "hello member")

        action = fake.with_response_url(load_payload("block_actions__block_actions__body"))
        status, _ = await post_signed(url, interactive_form(action), secret, content_type=form)
        assert status == 200
        assert (await fake.wait_for_response()).text == "clicked"

        stale = int(time.time()) - 10 * 60
        status, _ = await post_signed(url, event_body.encode(), secret, timestamp=stale)
        assert status == 401
        status, _ = await post_signed(url, event_body.encode(), "wrong-secret")
        assert status == 401
    finally:
        await server.close()


async def test_users_conversations_lists_the_bots_channels_of_the_types_asked_and_checks_each_scope(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.add_channel("C900", "elsewhere", bot_is_member=False)
    fake.add_channel("C901", "old", is_archived=True)
    fake.add_channel("G900", "secret", is_private=True)
    dm = fake.add_im("W222")

    def ids(response: Any) -> list[str]:
        return [c["id"] for c in response["channels"]]

    listed = await client.users_conversations(types="public_channel,private_channel", exclude_archived=True)
    assert "G900" in ids(listed) and "C111" in ids(listed)
    assert not {"C900", "C901", dm["id"]} & set(ids(listed))  # not a member, archived, not asked
    assert "C901" in ids(await client.users_conversations(types="public_channel"))

    # paged by cursor: every channel once
    seen: list[str] = []
    cursor = None
    while True:
        page = await client.users_conversations(
            types="public_channel,private_channel", limit=1, cursor=cursor
        )
        seen += ids(page)
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(
        ids(await client.users_conversations(types="public_channel,private_channel"))
    )

    async with FakeSlack(bot_scopes=["channels:read", "chat:write"]) as narrow:
        narrow_client = AsyncWebClient(token=narrow.bot_token, base_url=narrow.api_url)
        err = await slack_error(narrow_client.users_conversations(types="public_channel,private_channel"))
        assert err.response["error"] == "missing_scope"
        assert err.response["needed"] == "groups:read"
