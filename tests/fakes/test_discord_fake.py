"""Tests that the Discord fake behaves like Discord, driven by the real discord.py 2.7.

Every test that involves discord.py runs an unmodified ``discord.Client`` (and
``discord.app_commands.CommandTree``) pointed at the fake with ``discord_py_pointed_at``; the
protocol-level tests talk to the fake with plain aiohttp, the way any other client would.
Nothing sleeps to wait: tests await discord.py events (``Client.wait_for`` registers its
listener synchronously, so it cannot miss an event dispatched afterwards) or the fake's journal.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
import yarl
from discord import app_commands

from tests.fakes.discord_server import (
    DEFAULT_API_BASE,
    DEFAULT_GATEWAY_URL,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    P_READ_MESSAGE_HISTORY,
    FakeDiscord,
    GatewayIntent,
    OpenAPISpec,
    discord_py_pointed_at,
    load_fixture,
    point_discord_py_at,
)
from tests.fakes.tasks import running_until_ready

pytestmark = pytest.mark.timeout(30)

Z_SYNC_FLUSH = b"\x00\x00\xff\xff"


def support_intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = True
    return intents


def make_client(intents: discord.Intents | None = None) -> discord.Client:
    # A short guild_ready_timeout: on_ready fires this long after the last GUILD_CREATE.
    return discord.Client(intents=intents or support_intents(), guild_ready_timeout=0.05)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with discord_py_pointed_at(server):
            yield server


@asynccontextmanager
async def running(client: discord.Client, token: str) -> AsyncIterator[discord.Client]:
    """Log in, connect, wait for on_ready; always close the client afterwards."""
    await client.login(token)
    async with running_until_ready(client.connect(), client.wait_until_ready(), client.close):
        yield client


def bot_headers(fake: FakeDiscord) -> dict[str, str]:
    return {"Authorization": f"Bot {fake.token}"}


# --------------------------------------------------------------------------------------------
# Pointing discord.py at the fake
# --------------------------------------------------------------------------------------------


async def test_point_discord_py_at_sets_both_endpoints_and_restores_them() -> None:
    # The installed discord.py hard-codes the endpoints the fake's constants name.
    assert f"BASE: ClassVar[str] = '{DEFAULT_API_BASE}'" in inspect.getsource(discord.http.Route)
    gateway_source = inspect.getsource(discord.gateway.DiscordWebSocket)
    assert f"yarl.URL('{DEFAULT_GATEWAY_URL}')" in gateway_source
    before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as server:
        with discord_py_pointed_at(server):
            assert server.api_base == discord.http.Route.BASE
            assert discord.http.Route("GET", "/users/@me").url == server.api_base + "/users/@me"
            assert yarl.URL(server.gateway_url) == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
            restore = point_discord_py_at("http://elsewhere:1/api/v10", "ws://elsewhere:1/gw")
            assert discord.http.Route.BASE == "http://elsewhere:1/api/v10"
            restore()
            assert server.api_base == discord.http.Route.BASE
    assert before == (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    with pytest.raises(ValueError, match="api/v10"):
        point_discord_py_at("http://127.0.0.1:1", "ws://127.0.0.1:1/gateway")
    with pytest.raises(ValueError, match="query"):
        point_discord_py_at("http://127.0.0.1:1/api/v10", "ws://127.0.0.1:1/?v=10")


def test_every_route_with_a_body_is_in_the_vendored_openapi_spec() -> None:
    spec = OpenAPISpec.load()
    fake = FakeDiscord()
    missing = [
        (method, template)
        for method, template in fake.route_templates
        if method.lower() not in spec.paths.get(template, {})
    ]
    assert missing == []


# --------------------------------------------------------------------------------------------
# Login, READY, messages
# --------------------------------------------------------------------------------------------


async def test_client_logs_in_receives_ready_and_replies_to_a_message(fake: FakeDiscord) -> None:
    client = make_client()
    async with running(client, fake.token):
        assert client.user is not None and client.user.id == int(fake.bot_user_id)
        assert client.user.bot
        assert client.application_id == int(fake.app_id)
        guild = client.get_guild(int(fake.guild_id))
        assert guild is not None
        forum = guild.get_channel(int(fake.forum_channel_id))
        assert isinstance(forum, discord.ForumChannel)
        assert {tag.name for tag in forum.available_tags} == {"question", "bug", "resolved"}
        assert isinstance(guild.get_channel(int(fake.text_channel_id)), discord.TextChannel)
        assert [t.id for t in guild.threads] == [int(fake.thread_id)]
        assert guild.me is not None and guild.me.id == client.user.id

        identify = await fake.wait_for_frame("received", op=2)
        assert identify.d["token"] == fake.token
        assert identify.d["intents"] == support_intents().value
        ready = await fake.wait_for_frame("sent", event="READY")
        assert ready.s == 1
        assert ready.d["resume_gateway_url"] == fake.resume_gateway_url
        # discord.py asks for zstd-stream when a zstd library is importable, else zlib-stream;
        # the fake compresses with whichever was asked for.
        asked = discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE
        assert fake.connections[0].compression == asked and fake.connections[0].compressor
        # discord.py heartbeats immediately on HELLO; the fake acknowledges.
        await fake.wait_for_frame("received", op=1)
        await fake.wait_for_frame("sent", op=11)

        incoming = client.wait_for("message", check=lambda m: m.author.id == int(fake.user_id), timeout=5)
        payload = fake.build_message_create("How do I reset my password?", mention_bot=True)
        assert await fake.dispatch("MESSAGE_CREATE", payload) == 1
        message: discord.Message = await incoming
        assert message.content == f"<@{fake.bot_user_id}> How do I reset my password?"
        assert message.guild is not None and message.guild.id == int(fake.guild_id)
        assert client.user in message.mentions

        # Discord echoes the bot's own message on the gateway; the bot must ignore it.
        echo = client.wait_for("message", check=lambda m: m.author == client.user, timeout=5)
        reply = await message.reply("Use the *Forgot password* link.")
        call = await fake.wait_for_request("POST", "/channels/{id}/messages")
        assert call.status == 200
        assert call.path == f"/channels/{fake.text_channel_id}/messages"
        assert call.json["content"] == "Use the *Forgot password* link."
        assert int(call.json["message_reference"]["message_id"]) == message.id
        assert call.headers["Authorization"] == f"Bot {fake.token}"
        assert reply.reference is not None and reply.reference.message_id == message.id
        assert reply.type is discord.MessageType.reply
        assert (await echo).id == reply.id
        assert fake.channel_messages(fake.text_channel_id)[-1]["content"] == reply.content


async def test_dm_and_thread_messages_arrive_with_the_right_channel_types(
    fake: FakeDiscord,
) -> None:
    client = make_client()
    async with running(client, fake.token):
        incoming = client.wait_for("message", timeout=5)
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("hi in DM", dm=True))
        dm = await incoming
        assert isinstance(dm.channel, discord.DMChannel)
        assert dm.guild is None and dm.content == "hi in DM"

        incoming = client.wait_for("message", timeout=5)
        await fake.dispatch(
            "MESSAGE_CREATE", fake.build_message_create("follow-up", channel_id=fake.thread_id)
        )
        in_thread = await incoming
        assert isinstance(in_thread.channel, discord.Thread)
        assert in_thread.channel.parent_id == int(fake.text_channel_id)

        # The bot answers in the DM: the fake knows the DM channel.
        await dm.channel.send("Hello!")
        call = await fake.wait_for_request("POST", f"/channels/{dm.channel.id}/messages")
        assert call.status == 200
        await dm.add_reaction("👍")
        reaction = await fake.wait_for_request("PUT", "/channels/{c}/messages/{m}/reactions/{e}/@me")
        assert reaction.status == 204
        assert fake.get_message(dm.channel.id, dm.id)["reactions"][0]["emoji"]["name"] == "👍"

        # Handing off to staff: DM a user the bot has not talked to yet.
        staff = await client.fetch_user(int(fake.staff_user_id))
        await staff.send("New ticket in #support")
        opened = await fake.wait_for_request("POST", "/users/@me/channels")
        assert opened.json == {"recipient_id": staff.id} and opened.response["type"] == 1
        staff_dm = opened.response["id"]
        assert fake.channel_messages(staff_dm)[-1]["content"] == "New ticket in #support"

        history = [m.content async for m in in_thread.channel.history(limit=10)]
        assert history == ["follow-up"]  # newest first; the thread had no other messages


async def test_message_content_is_blanked_without_the_intent_unless_the_bot_is_mentioned(
    fake: FakeDiscord,
) -> None:
    intents = support_intents()
    intents.message_content = False
    client = make_client(intents)
    async with running(client, fake.token):
        incoming = client.wait_for("message", timeout=5)
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("secret question"))
        assert (await incoming).content == ""

        incoming = client.wait_for("message", timeout=5)
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("question", mention_bot=True))
        assert (await incoming).content.endswith("question")


async def test_sessions_only_get_the_events_their_intents_cover() -> None:
    async with FakeDiscord() as server:
        with discord_py_pointed_at(server):
            intents = discord.Intents.none()
            intents.guilds = True  # no GUILD_MESSAGES
            async with running(make_client(intents), server.token):
                session = await server.wait_until_connected()
                assert await server.dispatch("MESSAGE_CREATE", server.build_message_create("hi")) == 0
                thread = server.build_thread_create("New post", starter_content="help")
                assert await server.dispatch("THREAD_CREATE", thread) == 1
                assert [p["t"] for p in session.buffer][-1] == "THREAD_CREATE"
                assert "MESSAGE_CREATE" not in [p["t"] for p in session.buffer]


async def test_auto_sharded_client_finds_the_gateway_through_rest(fake: FakeDiscord) -> None:
    client = discord.AutoShardedClient(intents=support_intents(), guild_ready_timeout=0.05)
    async with running(client, fake.token):
        gateway_bot = await fake.wait_for_request("GET", "/gateway/bot")
        assert gateway_bot.response["url"] == fake.gateway_url
        assert gateway_bot.response["shards"] == 1
        identify = await fake.wait_for_frame("received", op=2)
        assert identify.d["shard"] == [0, 1]
        ready = await fake.wait_for_frame("sent", event="READY")
        assert ready.d["shard"] == [0, 1]
        assert [g.id for g in client.guilds] == [int(fake.guild_id)]


# --------------------------------------------------------------------------------------------
# Threads and forum posts
# --------------------------------------------------------------------------------------------


async def test_threads_from_messages_and_forum_posts(fake: FakeDiscord) -> None:
    client = make_client()
    async with running(client, fake.token):
        incoming = client.wait_for("message", timeout=5)
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("printer is on fire"))
        message = await incoming

        created = client.wait_for("thread_create", timeout=5)
        thread = await message.create_thread(name="Ticket: printer", auto_archive_duration=1440)
        call = await fake.wait_for_request("POST", "/channels/{c}/messages/{m}/threads")
        assert call.status == 201 and call.json["name"] == "Ticket: printer"
        assert thread.id == message.id  # Discord gives the thread the message's id
        assert (await created).id == thread.id
        assert fake.get_channel(thread.id)["owner_id"] == fake.bot_user_id

        with pytest.raises(discord.HTTPException) as again:
            await message.create_thread(name="second")
        assert again.value.code == 160004
        await thread.add_user(discord.Object(id=int(fake.staff_user_id)))
        assert fake.thread_members[str(thread.id)].keys() == {fake.bot_user_id, fake.staff_user_id}

        second = await client.get_channel(int(fake.text_channel_id)).send("another")  # type: ignore[union-attr]
        with pytest.raises(discord.HTTPException) as too_long:
            await second.create_thread(name="x" * 101)
        assert too_long.value.status == 400 and too_long.value.code == 50035
        assert "name" in too_long.value.text

        forum = client.get_channel(int(fake.forum_channel_id))
        assert isinstance(forum, discord.ForumChannel)
        question = forum.get_tag(int(fake.forum_tag_ids["question"]))
        resolved = forum.get_tag(int(fake.forum_tag_ids["resolved"]))
        assert question is not None and resolved is not None
        post = await forum.create_thread(name="VPN drops", content="Every hour", applied_tags=[question])
        call = await fake.wait_for_request("POST", f"/channels/{fake.forum_channel_id}/threads")
        assert call.status == 201 and call.json["message"]["content"] == "Every hour"
        assert post.message.id == post.thread.id and post.message.content == "Every hour"
        assert [t.id for t in post.thread.applied_tags] == [question.id]

        renamed = await post.thread.edit(name="[solved] VPN drops", applied_tags=[resolved])
        call = await fake.wait_for_request("PATCH", f"/channels/{post.thread.id}")
        assert call.json["name"] == "[solved] VPN drops"
        assert call.json["applied_tags"] == [str(resolved.id)]
        assert renamed.name == "[solved] VPN drops"
        assert fake.get_channel(post.thread.id)["applied_tags"] == [str(resolved.id)]

        with pytest.raises(discord.HTTPException) as bad_tag:
            await post.thread.edit(applied_tags=[discord.Object(id=12345)])  # type: ignore[list-item]
        assert bad_tag.value.code == 50035 and "applied_tags" in bad_tag.value.text

        with pytest.raises(discord.HTTPException) as empty:
            await forum.create_thread(name="empty post")
        assert empty.value.code == 50006


# --------------------------------------------------------------------------------------------
# REST validation and errors
# --------------------------------------------------------------------------------------------


async def test_discord_py_sees_discords_validation_errors(fake: FakeDiscord) -> None:
    client = make_client()
    async with running(client, fake.token):
        channel = client.get_channel(int(fake.text_channel_id))
        assert isinstance(channel, discord.TextChannel)

        with pytest.raises(discord.HTTPException) as long_content:
            await channel.send("x" * 2001)
        assert long_content.value.status == 400 and long_content.value.code == 50035
        assert "Must be 2000 or fewer in length." in long_content.value.text

        with pytest.raises(discord.HTTPException) as total:
            await channel.send(embeds=[discord.Embed(description="d" * 4000) for _ in range(2)])
        assert "Embed size exceeds maximum size of 6000" in total.value.text

        with pytest.raises(discord.HTTPException) as title:
            await channel.send(embed=discord.Embed(title="t" * 257))
        assert title.value.code == 50035
        errors = fake.requests[-1].response["errors"]
        assert errors["embeds"]["0"]["title"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"

        ok = await channel.send(content="x" * 2000, embed=discord.Embed(title="t" * 256))
        assert len(ok.content) == 2000


async def test_rest_errors_have_discords_shape(fake: FakeDiscord) -> None:
    api = fake.api_base
    channel = f"{api}/channels/{fake.text_channel_id}/messages"
    auth = bot_headers(fake)
    async with aiohttp.ClientSession() as http:

        async def call(method: str, url: str, **kwargs: Any) -> tuple[int, Any, Any]:
            async with http.request(method, url, **kwargs) as response:
                text = await response.text()
                return response.status, (json.loads(text) if text else None), response.headers

        status, body, headers = await call("GET", f"{api}/users/@me")
        assert (status, body) == (401, {"message": "401: Unauthorized", "code": 0})
        assert headers["Content-Type"] == "application/json" and headers["Via"] == "1.1 google"
        status, body, _ = await call("GET", f"{api}/users/@me", headers={"Authorization": fake.token})
        assert status == 401  # the "Bot " prefix is required
        status, body, _ = await call("GET", f"{api}/nope", headers=auth)
        assert (status, body) == (404, {"message": "404: Not Found", "code": 0})
        status, body, _ = await call("PUT", f"{api}/users/@me", headers=auth)
        assert (status, body) == (405, {"message": "405: Method Not Allowed", "code": 0})
        status, body, _ = await call("GET", f"{api}/channels/1234", headers=auth)
        assert (status, body) == (404, {"message": "Unknown Channel", "code": 10003})
        status, body, _ = await call("GET", f"{api}/channels/abc", headers=auth)
        assert status == 400 and body["errors"]["channel_id"]["_errors"][0]["code"] == "NUMBER_TYPE_COERCE"
        status, body, _ = await call(
            "POST", channel, headers={**auth, "Content-Type": "application/json"}, data="{"
        )
        assert (status, body["code"]) == (400, 50109)
        status, body, _ = await call("POST", channel, headers=auth, json={})
        assert (status, body) == (400, {"message": "Cannot send an empty message", "code": 50006})
        status, body, _ = await call("POST", channel, headers=auth, json={"content": 123})
        assert body["errors"]["content"]["_errors"][0]["code"] == "STRING_TYPE_CONVERT"
        status, body, _ = await call("POST", channel, headers=auth, json={"embeds": [{"title": "a"}] * 11})
        assert status == 400 and body["message"] == "Invalid Form Body"
        assert body["errors"]["embeds"]["_errors"][0]["message"] == "Must be 10 or fewer in length."
        status, body, _ = await call(
            "POST",
            channel,
            headers=auth,
            json={"content": "hi", "message_reference": {"message_id": "1"}},
        )
        assert (
            body["errors"]["message_reference"]["_errors"][0]["code"] == "MESSAGE_REFERENCE_UNKNOWN_MESSAGE"
        )
        button = {"type": 1, "components": [{"type": 2, "style": 1, "label": "no id"}]}
        status, body, _ = await call(
            "POST", channel, headers=auth, json={"content": "x", "components": [button]}
        )
        assert body["errors"]["components"]["0"]["components"]["0"]["custom_id"]["_errors"][0]["code"] == (
            "BASE_TYPE_REQUIRED"
        )
        bad_duration = {"name": "t", "auto_archive_duration": 42}
        status, body, _ = await call(
            "POST",
            f"{api}/channels/{fake.text_channel_id}/threads",
            headers=auth,
            json=bad_duration,
        )
        assert body["errors"]["auto_archive_duration"]["_errors"][0]["message"] == (
            "Value must be one of (60, 1440, 4320, 10080)."
        )
        status, body, _ = await call(
            "POST",
            f"{api}/channels/{fake.forum_channel_id}/messages",
            headers=auth,
            json={"content": "x"},
        )
        assert (status, body["code"]) == (400, 50008)  # a forum takes posts, not messages

        # The docs' allowed_mentions examples, with this guild's ids.
        alice, role = fake.user_id, fake.staff_role_id
        exclusive = load_fixture("docs_examples/resources-message__allowed-mentions-examples__5.json")
        exclusive["allowed_mentions"]["users"] = [alice]
        status, body, _ = await call("POST", channel, headers=auth, json=exclusive)
        assert (
            body["errors"]["allowed_mentions"]["_errors"][0]["code"]
            == "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"
        )
        suppress = load_fixture("docs_examples/resources-message__allowed-mentions-examples__2.json")
        suppress["content"] = f"@here Hello <@&{role}> and <@{alice}> 👋"
        status, body, _ = await call("POST", channel, headers=auth, json=suppress)
        assert status == 200
        assert (body["mentions"], body["mention_roles"], body["mention_everyone"]) == (
            [],
            [],
            False,
        )
        default = load_fixture("docs_examples/resources-message__allowed-mentions-examples.json")
        default["content"] = f"@here Hello <@&{role}> and <@{alice}> 👋"
        status, body, _ = await call("POST", channel, headers=auth, json=default)
        assert [u["id"] for u in body["mentions"]] == [alice]
        assert body["mention_roles"] == [role] and body["mention_everyone"] is True

    assert all("X-RateLimit-Bucket" in r.response_headers for r in fake.requests if r.template)


async def test_rate_limited_requests_are_retried_by_discord_py(fake: FakeDiscord) -> None:
    client = make_client()
    async with running(client, fake.token):
        channel = client.get_channel(int(fake.text_channel_id))
        assert isinstance(channel, discord.TextChannel)
        start = len(fake.requests)
        fake.rate_limit("POST", "/channels/{id}/messages", times=1, retry_after=0.25)
        began = time.monotonic()
        sent = await channel.send("after a 429")
        assert time.monotonic() - began >= 0.25
        first, second = fake.requests_matching("POST", "/channels/{id}/messages", after=start)
        assert first.status == 429
        assert first.response == {
            "message": "You are being rate limited.",
            "retry_after": 0.25,
            "global": False,
            "code": 0,
        }
        assert first.response_headers["X-RateLimit-Remaining"] == "0"
        assert first.response_headers["X-RateLimit-Reset-After"] == "0.250"
        assert first.response_headers["X-RateLimit-Scope"] == "user"
        assert first.response_headers["Retry-After"] == "1"
        assert {"X-RateLimit-Limit", "X-RateLimit-Reset", "X-RateLimit-Bucket"} <= set(first.response_headers)
        assert second.status == 200 and second.response["id"] == str(sent.id)

        fake.rate_limit("*", "/channels/{id}", retry_after=0.1, global_=True)
        fetched = await client.fetch_channel(int(fake.general_channel_id))
        assert fetched.id == int(fake.general_channel_id)
        limited = fake.requests_matching("GET", "/channels/{id}", after=start)
        assert [r.status for r in limited] == [429, 200]
        assert limited[0].response["global"] is True
        assert limited[0].response_headers["X-RateLimit-Global"] == "true"


async def test_scripted_failures_surface_as_discord_py_exceptions(fake: FakeDiscord) -> None:
    client = make_client()
    async with running(client, fake.token):
        channel = client.get_channel(int(fake.text_channel_id))
        assert isinstance(channel, discord.TextChannel)
        fake.fail("POST", "/channels/{id}/messages", 403, 50013, "Missing Permissions")
        with pytest.raises(discord.Forbidden) as forbidden:
            await channel.send("nope")
        assert (forbidden.value.code, forbidden.value.text) == (50013, "Missing Permissions")

        fake.fail("GET", f"/channels/{fake.general_channel_id}", 404, 10003, "Unknown Channel")
        with pytest.raises(discord.NotFound) as missing:
            await client.fetch_channel(int(fake.general_channel_id))
        assert missing.value.code == 10003

        # discord.py retries a 500 once after 1 s; the second attempt succeeds.
        fake.fail("POST", "/channels/{id}/typing", 500)
        await channel.typing()  # awaiting Typing sends one POST /typing
        typing = fake.requests_matching("POST", "/channels/{id}/typing")
        assert [r.status for r in typing] == [500, 204]
        assert typing[0].response == {"message": "500: Internal Server Error", "code": 0}


async def test_a_reply_needs_read_message_history_where_it_is_posted(fake: FakeDiscord) -> None:
    """Discord's rule: a message with a `message_reference` (a reply) is refused, 403 160002,
    where the bot may not read the history; a thread takes its parent's overwrites, a role's
    allow beats @everyone's deny, and a plain message is not a reply."""
    deny_history = {"allow": "0", "deny": str(P_READ_MESSAGE_HISTORY)}
    fake.get_channel(fake.text_channel_id)["permission_overwrites"] = [
        {"id": fake.bot_role_id, "type": 0, **deny_history}
    ]
    fake.get_channel(fake.general_channel_id)["permission_overwrites"] = [
        {"id": fake.guild_id, "type": 0, **deny_history},
        {"id": fake.bot_role_id, "type": 0, "allow": str(P_READ_MESSAGE_HISTORY), "deny": "0"},
    ]
    client = make_client()
    async with running(client, fake.token):
        support = client.get_channel(int(fake.text_channel_id))
        general = client.get_channel(int(fake.general_channel_id))
        assert isinstance(support, discord.TextChannel) and isinstance(general, discord.TextChannel)
        question = await support.send("a question")  # not a reply: posted
        with pytest.raises(discord.Forbidden) as refused:
            await support.send("an answer", reference=question)
        assert refused.value.code == 160002
        thread = await question.create_thread(name="Question")
        first = await thread.send("in the thread")
        with pytest.raises(discord.Forbidden) as in_thread:
            await thread.send("a reply in the thread", reference=first)
        assert in_thread.value.code == 160002
        other = await general.send("elsewhere")
        assert (await general.send("a reply", reference=other)).reference is not None


async def test_history_after_a_message_and_a_nonce_the_bot_already_used(fake: FakeDiscord) -> None:
    client = make_client()
    async with running(client, fake.token):
        channel = client.get_channel(int(fake.general_channel_id))
        assert isinstance(channel, discord.TextChannel)
        sent = [await channel.send(f"m{i}") for i in range(5)]
        start = len(fake.requests)
        later = [m.content async for m in channel.history(after=sent[1], limit=2, oldest_first=True)]
        assert later == ["m2", "m3"]  # the oldest `limit` after it, not the newest
        [page] = fake.requests_matching("GET", "/channels/{id}/messages", after=start)
        assert page.query == {"after": str(sent[1].id), "limit": "2"}
        assert [m["content"] for m in page.response] == ["m3", "m2"]  # newest first, as Discord

        # enforce_nonce (discord.py always sends it): the same author's nonce returns the message
        # it created, unchanged, and no second MESSAGE_CREATE goes out
        frames = len(fake.frames)
        first = await channel.send("once", nonce="q1")
        again = await channel.send("once more", nonce="q1")
        other = await channel.send("twice", nonce="q2")
        assert again.id == first.id and again.content == "once" and other.id != first.id
        await fake.wait_for_frame(
            "sent", event="MESSAGE_CREATE", after=frames, predicate=lambda f: f.d["id"] == str(other.id)
        )
        created = fake.frames_matching("sent", event="MESSAGE_CREATE", after=frames)
        assert [f.d["content"] for f in created] == ["once", "twice"]
        fake.nonce_window_seconds = 0.0  # "within the past few minutes" only
        assert (await channel.send("once", nonce="q1")).id != first.id


# --------------------------------------------------------------------------------------------
# Login and gateway failures
# --------------------------------------------------------------------------------------------


async def test_bad_token_fails_login_with_login_failure(fake: FakeDiscord) -> None:
    client = make_client()
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("not-the-token")
    finally:
        await client.close()
    call = await fake.wait_for_request("GET", "/users/@me")
    assert call.status == 401 and call.response == {"message": "401: Unauthorized", "code": 0}


async def test_disallowed_privileged_intent_raises_privileged_intents_required() -> None:
    async with FakeDiscord(message_content_intent=False) as server:
        with discord_py_pointed_at(server):
            client = make_client()
            try:
                with pytest.raises(discord.PrivilegedIntentsRequired):
                    await asyncio.wait_for(client.start(server.token), 10)
            finally:
                await client.close()
            close = await server.wait_for_frame("sent", predicate=lambda f: f.close_code is not None)
            assert close.close_code == 4014 and close.d == {"reason": "Disallowed intent(s)."}
            info = server.requests_matching("GET", "/oauth2/applications/@me")[0].response
            assert not info["flags"] & (1 << 19)  # no GATEWAY_MESSAGE_CONTENT_LIMITED

            # Without asking for the intent the same bot connects fine.
            intents = support_intents()
            intents.message_content = False
            async with running(make_client(intents), server.token) as ok:
                assert ok.is_ready()


# --------------------------------------------------------------------------------------------
# Gateway protocol, spoken directly
# --------------------------------------------------------------------------------------------


class RawGateway:
    """A minimal gateway client: zlib-stream with one shared inflater, like discord.py."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.inflater = zlib.decompressobj()
        self.buffer = bytearray()

    async def receive(self) -> dict[str, Any]:
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), 5)
            if msg.type is not aiohttp.WSMsgType.BINARY:
                raise AssertionError(f"expected a binary frame, got {msg.type} {msg.data!r} {msg.extra!r}")
            self.buffer.extend(msg.data)
            if bytes(self.buffer[-4:]) != Z_SYNC_FLUSH:
                continue
            text = self.inflater.decompress(bytes(self.buffer)).decode()
            self.buffer.clear()
            payload: dict[str, Any] = json.loads(text)
            return payload

    async def send(self, payload: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(payload))

    async def close_code(self) -> tuple[int, str]:
        msg = await asyncio.wait_for(self.ws.receive(), 5)
        assert msg.type is aiohttp.WSMsgType.CLOSE, msg
        return int(msg.data), str(msg.extra)


@asynccontextmanager
async def raw_gateway(url: str) -> AsyncIterator[RawGateway]:
    query = "?v=10&encoding=json&compress=zlib-stream"
    async with aiohttp.ClientSession() as http, http.ws_connect(url + query, max_msg_size=0) as ws:
        yield RawGateway(ws)


def identify(token: str, intents: int) -> dict[str, Any]:
    payload = load_fixture("gateway/IDENTIFY.json")
    payload["d"].update(token=token, intents=intents)
    return payload


async def test_gateway_handshake_heartbeat_and_identify_checks(fake: FakeDiscord) -> None:
    async with raw_gateway(fake.gateway_url) as gw:
        hello = await gw.receive()
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] == fake.heartbeat_interval_ms
        await gw.send(identify("wrong-token", 513))
        assert await gw.close_code() == (4004, "Authentication failed.")

    async with raw_gateway(fake.gateway_url) as gw:
        await gw.receive()
        await gw.send({"op": 3, "d": {"status": "online", "since": None, "activities": [], "afk": False}})
        assert await gw.close_code() == (4003, "Not authenticated.")

    async with raw_gateway(fake.gateway_url) as gw:
        await gw.receive()
        await gw.send(identify(fake.token, 1 << 30))
        assert await gw.close_code() == (4013, "Invalid intent(s).")

    intents = GatewayIntent.GUILDS | GatewayIntent.GUILD_MESSAGES
    async with raw_gateway(fake.gateway_url) as gw:
        await gw.receive()
        await gw.send(identify(fake.token, intents))
        ready = await gw.receive()
        assert (ready["op"], ready["t"], ready["s"]) == (0, "READY", 1)
        assert ready["d"]["v"] == 10 and ready["d"]["user"]["id"] == fake.bot_user_id
        assert ready["d"]["guilds"] == [{"id": fake.guild_id, "unavailable": True}]
        assert ready["d"]["application"] == {"id": fake.app_id, "flags": fake.application_flags}
        guild = await gw.receive()
        assert (guild["t"], guild["s"]) == ("GUILD_CREATE", 2)
        types = {c["type"] for c in guild["d"]["channels"]}
        assert {0, 4, 15} <= types
        assert [t["id"] for t in guild["d"]["threads"]] == [fake.thread_id]

        await gw.send({"op": 1, "d": 2})
        assert await gw.receive() == {"op": 11}
        await fake.request_heartbeat()
        assert (await gw.receive())["op"] == 1

        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("seq check"))
        message = await gw.receive()
        assert (message["t"], message["s"]) == ("MESSAGE_CREATE", 3)
        assert message["d"]["guild_id"] == fake.guild_id and "member" in message["d"]
        assert message["d"]["content"] == ""  # this session did not ask for MESSAGE_CONTENT

        await gw.send({"op": 99, "d": None})
        assert await gw.close_code() == (4001, "Unknown opcode.")


async def test_gateway_resume_replays_missed_dispatches(fake: FakeDiscord) -> None:
    async with raw_gateway(fake.gateway_url) as gw:
        await gw.receive()
        await gw.send(identify(fake.token, GatewayIntent.GUILDS | GatewayIntent.GUILD_MESSAGES))
        ready = await gw.receive()
        await gw.receive()  # GUILD_CREATE, s=2
        session_id = ready["d"]["session_id"]
        await gw.ws.close(code=4000)  # not 1000/1001, which would end the session

    first = fake.build_message_create("missed one")
    second = fake.build_message_create("missed two")
    assert await fake.dispatch("MESSAGE_CREATE", first) == 1  # buffered for the session
    await fake.dispatch("MESSAGE_CREATE", second)

    async with raw_gateway(fake.resume_gateway_url) as gw:
        await gw.receive()
        resume = load_fixture("gateway/RESUME.json")
        resume["d"].update(token=fake.token, session_id=session_id, seq=2)
        await gw.send(resume)
        replayed = [await gw.receive() for _ in range(3)]
        assert [(p["t"], p["s"]) for p in replayed] == [
            ("MESSAGE_CREATE", 3),
            ("MESSAGE_CREATE", 4),
            ("RESUMED", 5),
        ]
        assert [p["d"]["id"] for p in replayed[:2]] == [first["id"], second["id"]]

        await fake.close_connection(4000, "Unknown error.")
        assert await gw.close_code() == (4000, "Unknown error.")

    async with raw_gateway(fake.resume_gateway_url) as gw:
        await gw.receive()
        await gw.send(resume)  # a 4000 close leaves the session resumable
        assert (await gw.receive())["t"] == "MESSAGE_CREATE"
        await fake.invalidate_session(resumable=False)
        while (frame := await gw.receive())["op"] != 9:
            pass  # the rest of the replay
        assert frame == {"op": 9, "d": False}

    async with raw_gateway(fake.resume_gateway_url) as gw:
        await gw.receive()
        await gw.send({"op": 6, "d": {"token": fake.token, "session_id": "unknown", "seq": 1}})
        assert await gw.receive() == load_fixture("gateway/INVALID_SESSION.json")


# --------------------------------------------------------------------------------------------
# Reconnects with discord.py
# --------------------------------------------------------------------------------------------


async def test_discord_py_resumes_after_reconnect_opcode(fake: FakeDiscord) -> None:
    client = make_client()
    async with running(client, fake.token):
        session = await fake.wait_until_connected()
        resumed = client.wait_for("resumed", timeout=10)
        await fake.send_reconnect()
        await resumed
        resume = await fake.wait_for_frame("received", op=6)
        assert resume.d["session_id"] == session.id and resume.d["token"] == fake.token
        conn = next(c for c in fake.connections if c.id == resume.connection_id)
        assert conn.path == "/resume"  # discord.py used READY's resume_gateway_url
        assert len([c for c in fake.connections if c.open]) == 1

        incoming = client.wait_for("message", timeout=5)
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("still there?"))
        assert (await incoming).content == "still there?"


async def test_discord_py_resumes_after_an_abrupt_drop_and_gets_missed_events(
    fake: FakeDiscord,
) -> None:
    client = make_client()
    async with running(client, fake.token):
        await fake.wait_until_connected()
        incoming = client.wait_for("message", timeout=10)
        await fake.drop_connection()
        # Dispatched while the client has no connection: replayed on RESUME.
        payload = fake.build_message_create("sent during the outage")
        await fake.dispatch("MESSAGE_CREATE", payload)
        message = await incoming
        assert message.id == int(payload["id"])
        resumed = await fake.wait_for_frame("sent", event="RESUMED")
        replay = await fake.wait_for_frame("sent", event="MESSAGE_CREATE")
        assert replay.s is not None and resumed.s == replay.s + 1


# --------------------------------------------------------------------------------------------
# Application commands and interactions
# --------------------------------------------------------------------------------------------


async def test_support_command_group_syncs_and_slash_command_defers_and_follows_up(
    fake: FakeDiscord,
) -> None:
    client = make_client()
    tree = app_commands.CommandTree(client)
    asked: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    support = app_commands.Group(name="support", description="Ask the support bot")

    @support.command(name="ask", description="Ask a question")
    @app_commands.describe(question="What do you want to know?")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await interaction.response.defer(thinking=True)
        asked.set_result(question)
        await interaction.followup.send(f"Answer to: {question}")

    @support.command(name="status", description="Show ticket status")
    async def status(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("open", ephemeral=True)

    guild = discord.Object(id=int(fake.guild_id))
    tree.add_command(support, guild=guild)
    async with running(client, fake.token):
        synced = await tree.sync(guild=guild)
        put = await fake.wait_for_request("PUT", "/applications/{app}/guilds/{guild}/commands")
        assert (
            put.status == 200 and put.path == f"/applications/{fake.app_id}/guilds/{fake.guild_id}/commands"
        )
        [command] = put.json
        assert (command["name"], command["type"], command["description"]) == (
            "support",
            1,
            "Ask the support bot",
        )
        ask_option = next(o for o in command["options"] if o["name"] == "ask")
        assert ask_option["type"] == 1
        assert ask_option["options"] == [
            {
                "type": 3,
                "name": "question",
                "description": "What do you want to know?",
                "required": True,
            }
        ]
        assert [c.name for c in synced] == ["support"]
        assert synced[0].id == int(fake.guild_commands(fake.guild_id)[0]["id"])

        interaction = fake.build_slash_command("support", "ask", {"question": "How do I reset MFA?"})
        assert interaction["data"]["id"] == str(synced[0].id)
        assert interaction["data"]["guild_id"] == fake.guild_id
        await fake.dispatch("INTERACTION_CREATE", interaction)
        assert await asyncio.wait_for(asked, 5) == "How do I reset MFA?"

        callback = await fake.wait_for_request(
            "POST", f"/interactions/{interaction['id']}/{{token}}/callback"
        )
        assert callback.status == 200 and callback.json["type"] == 5
        assert callback.query.get("with_response") == "1"
        assert "Authorization" not in callback.headers  # interaction endpoints use the token
        followup = await fake.wait_for_request("POST", f"/webhooks/{fake.app_id}/{{token}}")
        assert followup.status == 200 and followup.json["content"] == "Answer to: How do I reset MFA?"

        record = fake.interactions[interaction["id"]]
        assert record.callback_type == 5
        original = fake.get_message(fake.text_channel_id, record.original_message_id or "")
        # The first follow-up after a "thinking" defer replaces the loading message.
        assert original["content"] == "Answer to: How do I reset MFA?"
        assert not original["flags"] & FLAG_LOADING
        assert original["interaction_metadata"]["user"]["id"] == fake.user_id

        status_interaction = fake.build_slash_command("support", "status")
        await fake.dispatch("INTERACTION_CREATE", status_interaction)
        reply = await fake.wait_for_request(
            "POST", f"/interactions/{status_interaction['id']}/{{token}}/callback"
        )
        assert reply.status == 200 and reply.json["type"] == 4
        assert reply.json["data"]["content"] == "open" and reply.json["data"]["flags"] == FLAG_EPHEMERAL
        # with_response=1: discord.py gets the created message back and parses it.
        assert reply.response["resource"]["message"]["flags"] == FLAG_EPHEMERAL
        assert reply.response["interaction"]["response_message_ephemeral"] is True


async def test_interaction_callback_rules(fake: FakeDiscord) -> None:
    client = make_client()  # no CommandTree: discord.py leaves slash commands unanswered
    async with running(client, fake.token), aiohttp.ClientSession() as http:

        async def post(path: str, body: Any) -> tuple[int, Any]:
            async with http.post(fake.api_base + path, json=body) as response:
                text = await response.text()
                return response.status, json.loads(text) if text else None

        async def new_interaction() -> dict[str, Any]:
            payload = fake.build_slash_command("support", "ask", {"question": "q"})
            seen = client.wait_for("interaction", timeout=5)
            await fake.dispatch("INTERACTION_CREATE", payload)
            await seen
            return payload

        late = await new_interaction()
        fake.interaction_ack_seconds = 0.0  # every callback is now past Discord's 3 s window
        status, body = await post(f"/interactions/{late['id']}/{late['token']}/callback", {"type": 5})
        assert (status, body) == (404, {"message": "Unknown interaction", "code": 10062})
        fake.interaction_ack_seconds = 3.0

        payload = await new_interaction()
        base = f"/interactions/{payload['id']}/{payload['token']}/callback"
        hook = f"/webhooks/{fake.app_id}/{payload['token']}"
        status, body = await post(hook, {"content": "too early"})
        assert (status, body) == (404, {"message": "Unknown Webhook", "code": 10015})
        status, body = await post(f"/interactions/{payload['id']}/wrong-token/callback", {"type": 5})
        assert (status, body["code"]) == (401, 50027)
        status, body = await post(base, {"type": 7})  # UPDATE_MESSAGE is for components only
        assert body["errors"]["type"]["_errors"][0]["message"] == "Value must be one of (4, 5, 9)."
        status, body = await post(base, {"type": 4, "data": {"content": "x" * 2001}})
        assert status == 400 and "content" in body["errors"]["data"]
        status, body = await post(base, {"type": 4, "data": {"content": "Here you go"}})
        assert (status, body) == (204, None)
        status, body = await post(base, {"type": 4, "data": {"content": "again"}})
        assert (status, body) == (
            400,
            {"message": "Interaction has already been acknowledged.", "code": 40060},
        )

        status, followup = await post(hook + "?wait=true", {"content": "More details", "flags": 64})
        assert status == 200 and followup["flags"] & FLAG_EPHEMERAL
        async with http.get(fake.api_base + hook + "/messages/@original") as response:
            assert (await response.json())["content"] == "Here you go"
        async with http.patch(
            fake.api_base + hook + "/messages/@original", json={"content": "Edited"}
        ) as response:
            edited = await response.json()
            assert edited["content"] == "Edited" and edited["edited_timestamp"] is not None
        async with http.delete(fake.api_base + hook + f"/messages/{followup['id']}") as response:
            assert response.status == 204
        async with http.get(fake.api_base + hook + f"/messages/{followup['id']}") as response:
            assert (await response.json())["code"] == 10008


async def test_command_bulk_overwrite_validation(fake: FakeDiscord) -> None:
    url = f"{fake.api_base}/applications/{fake.app_id}/guilds/{fake.guild_id}/commands"
    good = {
        "name": "support",
        "description": "Support",
        "options": [
            {
                "type": 2,
                "name": "ticket",
                "description": "Tickets",
                "options": [
                    {
                        "type": 1,
                        "name": "open",
                        "description": "Open one",
                        "options": [
                            {"type": 3, "name": "title", "description": "Title", "required": True},
                            {"type": 3, "name": "body", "description": "Body"},
                        ],
                    },
                ],
            },
        ],
    }
    async with aiohttp.ClientSession(headers=bot_headers(fake)) as http:

        async def put(body: Any, target: str = url) -> tuple[int, Any]:
            async with http.put(target, json=body) as response:
                return response.status, await response.json()

        status, first = await put([good])
        assert status == 200 and first[0]["guild_id"] == fake.guild_id
        status, again = await put([good])
        assert again[0]["id"] == first[0]["id"]  # ids survive overwrites, versions change
        assert again[0]["version"] != first[0]["version"]

        status, body = await put([{"name": "Bad Name", "description": "x"}])
        assert body["errors"]["0"]["name"]["_errors"][0]["code"] == "APPLICATION_COMMAND_INVALID_NAME"
        status, body = await put([{"name": "ok", "description": "d" * 101}])
        assert body["errors"]["0"]["description"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
        status, body = await put([{"name": "ok", "description": ""}])
        assert body["errors"]["0"]["description"]["_errors"][0]["code"] == "BASE_TYPE_BAD_LENGTH"
        status, body = await put([{"name": "x" * 33, "description": "x"}])
        assert body["errors"]["0"]["name"]["_errors"][0]["message"] == "Must be between 1 and 32 in length."
        status, body = await put([good, good])
        assert body["errors"]["1"]["_errors"][0]["code"] == "APPLICATION_COMMANDS_DUPLICATE_NAME"
        optional_first = {
            "name": "ask",
            "description": "Ask",
            "options": [
                {"type": 3, "name": "topic", "description": "Topic"},
                {"type": 3, "name": "question", "description": "Question", "required": True},
            ],
        }
        status, body = await put([optional_first])
        assert body["errors"]["0"]["options"]["1"]["required"]["_errors"][0]["code"] == (
            "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"
        )
        nested = {
            "name": "deep",
            "description": "x",
            "options": [
                {
                    "type": 1,
                    "name": "sub",
                    "description": "x",
                    "options": [
                        {"type": 2, "name": "group", "description": "x"},
                    ],
                },
            ],
        }
        status, body = await put([nested])
        assert status == 400 and "type" in body["errors"]["0"]["options"]["0"]["options"]["0"]
        status, body = await put([{"name": "ok", "description": "x", "options": [{"type": 3, "name": "o"}]}])
        assert (
            body["errors"]["0"]["options"]["0"]["description"]["_errors"][0]["code"] == "BASE_TYPE_REQUIRED"
        )
        status, body = await put([good], url.replace(fake.guild_id, "1234"))
        assert (status, body) == (403, {"message": "Missing Access", "code": 50001})
    assert fake.guild_commands(fake.guild_id)[0]["name"] == "support"  # failed PUTs changed nothing


async def test_button_press_reaches_a_persistent_view(fake: FakeDiscord) -> None:
    pressed: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Escalate(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(
            label="Talk to a human", custom_id="support:escalate", style=discord.ButtonStyle.danger
        )
        async def escalate(
            self, interaction: discord.Interaction, button: discord.ui.Button[Escalate]
        ) -> None:
            await interaction.response.send_message("A human will take over.", ephemeral=True)
            pressed.set_result(interaction.user.id)

    client = make_client()
    async with running(client, fake.token):
        client.add_view(Escalate())  # persistent: survives restarts, matched by custom_id
        channel = client.get_channel(int(fake.text_channel_id))
        assert isinstance(channel, discord.TextChannel)
        prompt = await channel.send("Did that help?", view=Escalate())
        post = await fake.wait_for_request("POST", f"/channels/{channel.id}/messages")
        button = post.json["components"][0]["components"][0]
        assert (button["custom_id"], button["style"], button["type"]) == ("support:escalate", 4, 2)

        press = fake.build_button_press("support:escalate", message_id=prompt.id)
        await fake.dispatch("INTERACTION_CREATE", press)
        assert await asyncio.wait_for(pressed, 5) == int(fake.user_id)
        callback = await fake.wait_for_request("POST", f"/interactions/{press['id']}/{{token}}/callback")
        assert callback.status == 200
        assert callback.json["type"] == 4 and callback.json["data"]["flags"] & FLAG_EPHEMERAL
        # Ephemeral replies exist for their recipient only, not in the channel's history.
        everything = fake.channel_messages(channel.id, include_ephemeral=True)
        assert [m["content"] for m in everything][-1] == "A human will take over."
        assert all(m["content"] != "A human will take over." for m in fake.channel_messages(channel.id))
        record = fake.interactions[press["id"]]
        assert record.component_message_id == str(prompt.id) and record.ephemeral

        with pytest.raises(KeyError):
            fake.build_button_press("not-on-that-message", message_id=prompt.id)
