"""The Discord adapter, in two layers.

(a) Translation and the Channel on small recording fakes of the objects the adapter touches,
    built from the vendored gateway payloads in tests/fixtures/discord/.
(b) The wire: the real `discord.Client` (through `adapters.discord`) against FakeDiscord, with
    the real core from tests/conftest.py (SupportBot, SQLite store, retrieval) behind it. Every
    assertion is on what crossed the wire: REST bodies, gateway frames, interaction callbacks.

Nothing sleeps: tests wait on the fake's journal (`wait_for_request`) or on the adapter having
finished its in-flight events (`adapter.drain()`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest
import yarl

from adapters.discord import (
    ADMIN_COMMAND_GROUP,
    COMMAND_GROUP,
    DiscordAdapter,
    DiscordChannel,
    Events,
    InteractionChannel,
    MessageTranslator,
    WebhookMessages,
    api_base,
    build_adapter,
    build_command_groups,
    command_args,
    point_discord_py,
    support_intents,
)
from adapters.discord.render import ZWSP
from bot.app import Runtime
from bot.commands import REGISTRY
from bot.config import Settings
from bot.errors import ConversationGone, FatalAdapterError, PlatformError, PostRefused
from bot.types import (
    ActionKind,
    Author,
    Button,
    ConversationRef,
    InboundMessage,
    Mention,
    MentionKind,
    Reply,
    ReplyKind,
    Visibility,
)
from tests.fakes.answerers import ConfidentExtractive, GatedExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.discord_server import (
    DEFAULT_API_BASE,
    DEFAULT_GATEWAY_URL,
    FLAG_EPHEMERAL,
    FakeDiscord,
    RecordedRequest,
    load_fixture,
)
from tests.fakes.tasks import running_until_ready

pytestmark = pytest.mark.timeout(30)

MESSAGES = "/channels/{id}/messages"


# =============================================================================================
# (a) translation and the Channel, on recording fakes
# =============================================================================================

BOT_ID = 900000000000000001
BOT_ROLE = 900000000000000002
GUILD_ID = 197038439483310086  # the fixture's guild


def fake_role(role_id: int, *, default: bool = False) -> Any:
    return SimpleNamespace(id=role_id, is_default=lambda: default)


def fake_guild(*, everyone_can_view: bool = True) -> Any:
    everyone = fake_role(GUILD_ID, default=True)
    guild = SimpleNamespace(id=GUILD_ID, self_role=fake_role(BOT_ROLE), default_role=everyone)
    guild.view = everyone_can_view
    return guild


def fake_text_channel(channel_id: int, guild: Any) -> Any:
    return SimpleNamespace(
        id=channel_id,
        type=discord.ChannelType.text,
        guild=guild,
        permissions_for=lambda role: SimpleNamespace(view_channel=guild.view),
    )


def fake_message(
    payload: dict[str, Any],
    *,
    channel: Any,
    guild: Any | None,
    manage_guild: bool = False,
    kind: discord.MessageType = discord.MessageType.default,
) -> Any:
    """A discord.Message look-alike with what the translator reads, from a gateway payload."""
    author = payload["author"]
    member = payload.get("member")
    user = SimpleNamespace(
        id=int(author["id"]),
        display_name=(member or {}).get("nick") or author.get("global_name") or author["username"],
        bot=bool(author.get("bot")),
    )
    if guild is not None and member is not None:
        user.roles = [fake_role(GUILD_ID, default=True)] + [fake_role(int(r)) for r in member["roles"]]
        user.guild_permissions = SimpleNamespace(manage_guild=manage_guild)
    content = payload["content"]
    return SimpleNamespace(
        id=int(payload["id"]),
        type=kind,
        channel=channel,
        guild=guild,
        author=user,
        content=content,
        mentions=[SimpleNamespace(id=int(u["id"])) for u in payload.get("mentions", [])],
        raw_role_mentions=[int(r) for r in payload.get("mention_roles", [])],
        created_at=datetime.fromisoformat(payload["timestamp"]),
        edited_at=None,
    )


@pytest.fixture
def translator(make_settings: Callable[..., Settings]) -> MessageTranslator:
    return MessageTranslator(make_settings('[discord]\nforum_channels = ["555"]\n'), BOT_ID)


def gateway_message(content: str, **changes: Any) -> dict[str, Any]:
    """The documented MESSAGE_CREATE, in a guild (the docs' example carries no member)."""
    payload = load_fixture("gateway/MESSAGE_CREATE.json")["d"]
    payload.update(content=content, guild_id=str(GUILD_ID), member={"roles": ["41771983423143936"]})
    payload.update(changes)
    return payload


def test_a_mention_becomes_an_addressed_public_question_without_the_mention(
    translator: MessageTranslator,
) -> None:
    guild = fake_guild()
    payload = gateway_message(f"<@{BOT_ID}> How do I reset my password?", mentions=[{"id": str(BOT_ID)}])
    channel = fake_text_channel(int(payload["channel_id"]), guild)
    inbound = translator.translate(fake_message(payload, channel=channel, guild=guild, manage_guild=True))
    assert inbound is not None
    assert inbound.id == payload["id"] and inbound.text == "How do I reset my password?"
    assert inbound.addressed and inbound.visibility == Visibility.PUBLIC and not inbound.edited
    assert inbound.conversation == ConversationRef(
        platform="discord", workspace=str(GUILD_ID), channel=payload["channel_id"]
    )
    author = inbound.author
    assert author.id == payload["author"]["id"] and not author.is_bot and author.platform_admin
    assert author.roles == frozenset(payload["member"]["roles"])  # @everyone left out
    assert inbound.sent_at == datetime.fromisoformat(payload["timestamp"])


def test_the_bots_managed_role_addresses_it_and_other_text_does_not(translator: MessageTranslator) -> None:
    guild = fake_guild()
    channel = fake_text_channel(1, guild)
    by_role = fake_message(
        gateway_message(f"<@&{BOT_ROLE}> hi", mention_roles=[str(BOT_ROLE)]), channel=channel, guild=guild
    )
    plain = fake_message(gateway_message("just chatting"), channel=channel, guild=guild)
    assert translator.translate(by_role).addressed  # type: ignore[union-attr]
    assert translator.translate(by_role).text == "hi"  # type: ignore[union-attr]
    unaddressed = translator.translate(plain)
    assert unaddressed is not None and not unaddressed.addressed and not unaddressed.author.platform_admin


def test_a_thread_message_is_addressed_to_its_parent_and_thread(translator: MessageTranslator) -> None:
    guild = fake_guild()
    thread = SimpleNamespace(
        id=77,
        type=discord.ChannelType.public_thread,
        parent_id=66,
        name="t",
        parent=fake_text_channel(66, guild),
        guild=guild,
    )
    inbound = translator.translate(fake_message(gateway_message("and then?"), channel=thread, guild=guild))
    assert inbound is not None
    assert (inbound.conversation.channel, inbound.conversation.thread) == ("66", "77")
    assert not inbound.addressed  # a follow-up: the core decides from the thread's state


def test_a_dm_is_direct_and_addressed(translator: MessageTranslator) -> None:
    payload = gateway_message("hello?")
    del payload["member"], payload["guild_id"]
    dm = SimpleNamespace(id=5, type=discord.ChannelType.private)
    inbound = translator.translate(fake_message(payload, channel=dm, guild=None))
    assert inbound is not None and inbound.addressed and inbound.visibility == Visibility.DIRECT
    assert inbound.conversation == ConversationRef(platform="discord", workspace="dm", channel="5")
    assert inbound.author.roles == frozenset() and not inbound.author.platform_admin


def test_the_first_message_of_a_configured_forum_post_is_a_question(translator: MessageTranslator) -> None:
    guild = fake_guild()
    post = SimpleNamespace(
        id=4242,
        type=discord.ChannelType.public_thread,
        parent_id=555,
        name="VPN drops",
        parent=None,
        guild=guild,
    )
    payload = gateway_message("every hour since Monday", id="4242")
    inbound = translator.translate(fake_message(payload, channel=post, guild=guild))
    assert inbound is not None and inbound.addressed
    assert inbound.text == "VPN drops\n\nevery hour since Monday"
    assert (inbound.conversation.channel, inbound.conversation.thread) == ("555", "4242")
    later = translator.translate(
        fake_message(gateway_message("any news?", id="4243"), channel=post, guild=guild)
    )
    assert later is not None and not later.addressed and later.text == "any news?"


def test_system_messages_and_hidden_channels(translator: MessageTranslator) -> None:
    guild = fake_guild(everyone_can_view=False)
    channel = fake_text_channel(1, guild)
    pinned = fake_message(
        gateway_message(""), channel=channel, guild=guild, kind=discord.MessageType.pins_add
    )
    assert translator.translate(pinned) is None
    staff_room = translator.translate(fake_message(gateway_message("hi"), channel=channel, guild=guild))
    assert staff_room is not None and staff_room.visibility == Visibility.INTERNAL


def test_an_edit_gets_its_own_id_and_is_marked(translator: MessageTranslator) -> None:
    guild = fake_guild()
    message = fake_message(gateway_message("fixed typo"), channel=fake_text_channel(1, guild), guild=guild)
    message.edited_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    inbound = translator.translate(message, edited=True)
    assert inbound is not None and inbound.edited
    assert inbound.id == f"{message.id}:edit:{int(message.edited_at.timestamp() * 1000)}"


class RecordingTarget:
    """A messageable that records what the Channel sends, failing on request."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail_with = fail_with

    async def send(self, **kwargs: Any) -> Any:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(kwargs)
        return SimpleNamespace(id=1000 + len(self.sent))


class RecordingClient:
    def __init__(self, targets: dict[int, RecordingTarget]) -> None:
        self.targets = targets

    def get_channel(self, channel_id: int) -> Any:
        return self.targets.get(channel_id)


def http_error(status: int, code: int, message: str) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason=message)
    error_type = discord.Forbidden if status == 403 else discord.HTTPException
    return error_type(response, {"code": code, "message": message})  # type: ignore[arg-type]


THREAD = ConversationRef(platform="discord", workspace="1", channel="10", thread="20")


async def test_the_channel_pings_only_the_escalation_roles() -> None:
    thread = RecordingTarget()
    channel = DiscordChannel(RecordingClient({20: thread}))  # type: ignore[arg-type]
    posted = await channel.send(
        Reply(
            conversation=THREAD,
            text="@everyone needs a human",
            kind=ReplyKind.ESCALATION,
            mentions=(Mention(kind=MentionKind.ROLE, id="31"),),
            buttons=(Button(action=ActionKind.CLAIM, label="Claim", value="1"),),
        )
    )
    assert posted.message_id == "1001" and posted.conversation == THREAD
    [sent] = thread.sent
    assert sent["content"] == f"<@&31>\n@{ZWSP}everyone needs a human"
    assert sent["allowed_mentions"].to_dict() == {"parse": [], "roles": [31]}
    [button] = sent["view"].children
    assert button.custom_id == "supportbot:claim:1"


async def test_the_channel_splits_long_answers_and_puts_the_view_last() -> None:
    thread = RecordingTarget()
    channel = DiscordChannel(RecordingClient({20: thread}))  # type: ignore[arg-type]
    await channel.send(
        Reply(
            conversation=THREAD,
            text="\n\n".join("A paragraph of the answer. " * 20 for _ in range(12)),
            kind=ReplyKind.ANSWER,
            buttons=(Button(action=ActionKind.HELPFUL, label="Helpful", value="3"),),
        )
    )
    # 12 paragraphs of 540 characters: three fit in 2000, so four messages
    assert ["view" in s for s in thread.sent] == [False, False, False, True]
    assert all(len(s["content"]) <= 2000 for s in thread.sent)
    assert all(s["allowed_mentions"].to_dict() == {"parse": []} for s in thread.sent)


async def test_a_refused_post_raises_and_an_apology_falls_back_to_the_parent_channel() -> None:
    thread = RecordingTarget(fail_with=http_error(403, 50013, "Missing Permissions"))
    parent = RecordingTarget()
    channel = DiscordChannel(RecordingClient({20: thread, 10: parent}))  # type: ignore[arg-type]
    with pytest.raises(ConversationGone, match="403"):  # retrying will not help (bot/errors.py)
        await channel.send(Reply(conversation=THREAD, text="an answer", kind=ReplyKind.ANSWER))
    posted = await channel.send(
        Reply(conversation=THREAD, text="Sorry, something went wrong", kind=ReplyKind.ERROR)
    )
    assert posted.conversation == THREAD.in_thread(None)
    assert [s["content"] for s in parent.sent] == ["Sorry, something went wrong"]


@pytest.mark.parametrize(("status", "code", "refused"), [(400, 50035, True), (503, 0, False)])
async def test_a_post_refused_outright_is_told_from_one_that_may_be_out(
    status: int, code: int, refused: bool
) -> None:
    """A 4xx says Discord made no message (posting again cannot show it twice: PostRefused);
    a 5xx may have been applied."""
    thread = RecordingTarget(fail_with=http_error(status, code, "refused"))
    channel = DiscordChannel(RecordingClient({20: thread, 10: RecordingTarget()}))  # type: ignore[arg-type]
    with pytest.raises(PlatformError) as caught:
        await channel.send(Reply(conversation=THREAD, text="an answer", kind=ReplyKind.ANSWER))
    assert isinstance(caught.value, PostRefused) is refused


class RecordingFollowup:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, **kwargs: Any) -> Any:
        self.sent.append(kwargs)
        return SimpleNamespace(id=5000 + len(self.sent))


class RecordingInteraction:
    def __init__(self) -> None:
        self.id = 1
        self.type = discord.InteractionType.application_command
        self.followup = RecordingFollowup()
        self.deleted = 0

    async def delete_original_response(self) -> None:
        self.deleted += 1


async def test_interaction_replies_go_where_they_can_be_seen_by_the_right_people() -> None:
    here = ConversationRef(platform="discord", workspace="1", channel="10")
    channel_target = RecordingTarget()
    base = DiscordChannel(RecordingClient({10: channel_target}))  # type: ignore[arg-type]
    interaction = RecordingInteraction()
    public = InteractionChannel(base, interaction, here, thinking=True, ephemeral_thinking=False)  # type: ignore[arg-type]
    await public.send(Reply(conversation=here, text="the answer", kind=ReplyKind.ANSWER))
    assert interaction.followup.sent[0]["ephemeral"] is False  # replaced the thinking message
    await public.send(
        Reply(conversation=here, text="pinging", mentions=(Mention(kind=MentionKind.ROLE, id="3"),))
    )
    # a fresh follow-up message notifies (an edit would not), and needs no channel permission
    assert interaction.followup.sent[1]["content"].startswith("<@&3>") and channel_target.sent == []
    await public.send(Reply(conversation=here, text="just you", ephemeral_to="9"))
    assert interaction.followup.sent[-1]["ephemeral"] is True
    await public.finish()
    assert interaction.deleted == 0  # the thinking message was replaced, nothing to remove

    quiet = RecordingInteraction()
    nothing_said = InteractionChannel(base, quiet, here, thinking=True, ephemeral_thinking=True)  # type: ignore[arg-type]
    await nothing_said.finish()
    assert quiet.deleted == 1  # never leave "thinking..." spinning


def test_command_args_follow_the_spec_order() -> None:
    resolve = REGISTRY.get("resolve")
    assert resolve is not None
    assert command_args(resolve, {"note": "restarted the VPN", "ticket": "#4"}) == "#4 restarted the VPN"
    assert command_args(resolve, {"ticket": "4", "note": None}) == "4"


async def test_slash_command_options_are_read_by_name_not_split_again(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    """`resolve ticket:"12 oops" note:fixed` was joined into "12 oops fixed" and split again:
    ticket 12 with the note "oops fixed". Each option is now read as given."""
    _, reply = await slash(
        fake, "resolve", {"ticket": "12 oops", "note": "fixed"}, user_id=fake.staff_user_id
    )
    assert "not a ticket number" in reply.json["content"], reply.json["content"]


def test_the_command_groups_cover_the_registry_with_admin_commands_apart() -> None:
    handler = Events.__new__(Events)  # only the schema is built: nothing is invoked
    support, admin = build_command_groups(handler)
    tree = discord.app_commands.CommandTree(discord.Client(intents=support_intents()))
    public, restricted = support.to_dict(tree), admin.to_dict(tree)
    assert (public["name"], restricted["name"]) == (COMMAND_GROUP, ADMIN_COMMAND_GROUP)
    assert public["default_member_permissions"] is None
    assert restricted["default_member_permissions"] == discord.Permissions(manage_guild=True).value
    by_name = {o["name"]: o for o in public["options"] + restricted["options"]}
    assert set(by_name) == {spec.name for spec in REGISTRY}
    for spec in REGISTRY:
        option = by_name[spec.name]
        assert (option in restricted["options"]) == spec.admin_only
        assert option["description"] == spec.help[:100] or option["description"].endswith("…")
        assert [(o["name"], o["required"]) for o in option["options"]] == [
            (p.name, p.required) for p in sorted(spec.params, key=lambda p: not p.required)
        ]
    which = by_name["tickets"]["options"][0]
    assert [c["value"] for c in which["choices"]] == ["open", "mine", "all"]


def test_endpoints_are_set_and_restored() -> None:
    before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    restore = point_discord_py("http://proxy:8080", "wss://gw.example/?v=9")
    try:
        assert discord.http.Route.BASE == "http://proxy:8080/api/v10"
        assert yarl.URL("wss://gw.example/") == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    finally:
        restore()
    assert before == (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    assert api_base("http://p/api") == "http://p/api/v10"
    assert api_base("http://p/api/v9/") == "http://p/api/v9"
    assert api_base(None) == DEFAULT_API_BASE


def test_webhook_messages_are_forgotten_when_their_token_expires() -> None:
    hooks = WebhookMessages(ttl=0.0)
    hooks.remember("1", object())  # type: ignore[arg-type]
    assert hooks.get("1") is None
    fresh = WebhookMessages()
    webhook = object()
    fresh.remember("2", webhook)  # type: ignore[arg-type]
    assert fresh.get("2") is webhook


# =============================================================================================
# (b) the real discord.py client against the fake Discord, the real core behind it
# =============================================================================================


def discord_toml(fake: FakeDiscord, extra: str = "") -> str:
    return (
        "[discord]\n"
        f'staff_roles = ["{fake.staff_role_id}"]\n'
        f'forum_channels = ["{fake.forum_channel_id}"]\n'
        f'command_guilds = ["{fake.guild_id}"]\n'
        f'triage_channel = "{fake.general_channel_id}"\n' + extra
    )


def discord_env(fake: FakeDiscord, **more: str) -> dict[str, str]:
    # Only the API URL: the adapter must find the gateway through GET /gateway/bot.
    return {"DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.api_base, **more}


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
def runtime(fake: FakeDiscord, make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(discord_toml(fake), env=discord_env(fake), answerer=ConfidentExtractive())


@asynccontextmanager
async def running(runtime: Runtime, *, typing_after: float = 0.0) -> AsyncIterator[DiscordAdapter]:
    """The adapter's real entry point; typing shows at once unless a test says otherwise, so
    tests can see it beside a quick answer."""
    adapter = build_adapter(
        runtime.bot, runtime.settings, guild_ready_timeout=0.05, drain_timeout=5.0, typing_after=typing_after
    )
    async with running_until_ready(adapter.run(), adapter.wait_until_ready(), adapter.close):
        yield adapter


@pytest.fixture
async def adapter(runtime: Runtime) -> AsyncIterator[DiscordAdapter]:
    async with running(runtime) as started:
        yield started


def ok_post(channel_id: str | int, contains: str = "") -> Callable[[RecordedRequest], bool]:
    def check(request: RecordedRequest) -> bool:
        return (
            request.status == 200
            and request.path == f"/channels/{channel_id}/messages"
            and contains in (request.json or {}).get("content", "")
        )

    return check


async def mention(fake: FakeDiscord, text: str, **options: Any) -> dict[str, Any]:
    payload = fake.build_message_create(text, mention_bot=True, **options)
    await fake.dispatch("MESSAGE_CREATE", payload)
    return payload


async def answered(fake: FakeDiscord, adapter: DiscordAdapter, text: str) -> tuple[str, RecordedRequest]:
    """Mention the bot in #support; return the new thread's id and the answer's request."""
    start = len(fake.requests)
    question = await mention(fake, text)
    thread_id = question["id"]  # a thread started from a message has the message's id
    answer = await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id), after=start)
    await adapter.drain(5)
    return thread_id, answer


def custom_ids(body: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in body.get("components", []) for c in row["components"]]


async def test_an_answer_quicker_than_the_indicator_delay_shows_no_typing(
    fake: FakeDiscord, runtime: Runtime
) -> None:
    async with running(runtime, typing_after=60.0) as adapter:
        start = len(fake.requests)
        _, answer = await answered(fake, adapter, "How do I reset my password?")
    assert "Forgot password" in answer.json["content"]
    assert fake.requests_matching("POST", "/channels/{id}/typing", after=start) == []


async def test_a_slow_answer_shows_typing_until_it_is_posted(
    fake: FakeDiscord, make_runtime: Callable[..., Runtime]
) -> None:
    answerer = GatedExtractive()
    runtime = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=answerer)
    async with running(runtime, typing_after=0.01) as adapter:
        start = len(fake.requests)
        question = await mention(fake, "How do I reset my password?")
        await asyncio.wait_for(answerer.asked.wait(), 10)
        # the answer is held back, so after the delay the thread shows typing
        typing = await fake.wait_for_request("POST", "/channels/{id}/typing", after=start)
        assert typing.path == f"/channels/{question['id']}/typing"
        assert fake.requests_matching("POST", MESSAGES, ok_post(question["id"]), after=start) == []
        answerer.gate.set()
        await fake.wait_for_request("POST", MESSAGES, ok_post(question["id"]), after=start)
        assert await adapter.drain(5)


async def test_a_mention_is_answered_in_a_new_thread_with_sources_and_buttons(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    identify = await fake.wait_for_frame("received", op=2)
    assert identify.d["intents"] == support_intents().value  # guilds, messages, DMs, content
    gateway = await fake.wait_for_request("GET", "/gateway/bot")  # only DISCORD_API_URL was set
    assert gateway.status == 200
    commands = await fake.wait_for_request("PUT", "/applications/{a}/guilds/{g}/commands")
    assert {c["name"]: c["default_member_permissions"] for c in commands.response} == {
        COMMAND_GROUP: None,
        ADMIN_COMMAND_GROUP: str(1 << 5),  # Manage Server
    }

    start = len(fake.requests)
    thread_id, answer = await answered(fake, adapter, "How do I reset my password?")
    created = fake.requests_matching("POST", "/channels/{c}/messages/{m}/threads", after=start)
    assert [r.json["name"] for r in created] == ["How do I reset my password?"]
    assert created[0].path == f"/channels/{fake.text_channel_id}/messages/{thread_id}/threads"
    typing = fake.requests_matching("POST", "/channels/{id}/typing", after=start)
    assert [r.path for r in typing][:1] == [f"/channels/{thread_id}/typing"]

    body = answer.json
    assert "Forgot password" in body["content"]
    assert body["allowed_mentions"] == {"parse": []}
    [embed] = body["embeds"]
    assert embed["title"] == "Sources" and "Resetting your password" in embed["description"]
    answer_id = custom_ids(body)[0].rsplit(":", 1)[1]
    assert custom_ids(body) == [
        f"supportbot:helpful:{answer_id}",
        f"supportbot:not_helpful:{answer_id}",
        f"supportbot:talk_to_human:{answer_id}",
    ]
    stored = fake.get_message(thread_id, answer.response["id"])
    assert stored["mentions"] == [] and stored["mention_roles"] == [] and not stored["mention_everyone"]


async def test_an_answered_mention_costs_one_log_line_at_info(
    fake: FakeDiscord, adapter: DiscordAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    """The core's line says what was decided; starting the thread and posting are DEBUG."""
    caplog.set_level(logging.INFO)
    await answered(fake, adapter, "How do I reset my password?")
    await adapter.drain(5)
    ours = [
        r for r in caplog.records if r.name.startswith(("bot.", "adapters.")) and r.levelno >= logging.INFO
    ]
    assert [(r.name, r.getMessage().split()[0]) for r in ours] == [("bot.answering.responder", "answered")]


async def test_a_follow_up_in_the_thread_needs_no_mention_and_chatter_is_left_alone(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    thread_id, _ = await answered(fake, adapter, "How do I reset my password?")
    start = len(fake.requests)
    chatter = fake.build_message_create("nice weather today")  # in #support, no mention
    await fake.dispatch("MESSAGE_CREATE", chatter)
    await fake.dispatch(
        "MESSAGE_CREATE", fake.build_message_create("How long does a refund take?", channel_id=thread_id)
    )
    follow_up = await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id), after=start)
    await adapter.drain(5)
    assert "refund" in follow_up.json["content"].lower()
    assert fake.requests_matching("POST", "/channels/{c}/messages/{m}/threads", after=start) == []
    assert fake.requests_matching("POST", f"/channels/{fake.text_channel_id}/messages", after=start) == []


SCREENSHOT = {
    "id": "1100000000000000001",
    "filename": "error.png",
    "size": 48213,
    "url": "https://cdn.discordapp.com/attachments/1/2/error.png",
    "proxy_url": "https://media.discordapp.net/attachments/1/2/error.png",
    "content_type": "image/png",
    "width": 800,
    "height": 600,
}


@pytest.mark.parametrize(
    "shown",
    [
        {"attachments": [SCREENSHOT]},
        {"sticker_items": [{"id": "749054660769218631", "name": "Wumpus wave", "format_type": 3}]},
    ],
    ids=["screenshot", "sticker"],
)
async def test_a_screenshot_or_sticker_in_the_answers_thread_is_not_greeted_as_a_newcomer(
    fake: FakeDiscord, adapter: DiscordAdapter, shown: dict[str, Any]
) -> None:
    """The asker, answered in the thread, posts a screenshot of the error they still see (or a
    thumbs-up sticker): a message with no text. The bot replied "Hi! Ask me a question about
    the product ..." as if they had just arrived, every time. Now it says nothing to it."""
    thread_id, _ = await answered(fake, adapter, "How do I reset my password?")
    start = len(fake.requests)
    await fake.dispatch("MESSAGE_CREATE", {**fake.build_message_create("", channel_id=thread_id), **shown})
    marker = fake.build_message_create("How long does a refund take?", channel_id=thread_id)
    await fake.dispatch("MESSAGE_CREATE", marker)  # answered after the screenshot was handled
    await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id, "five to seven"), after=start)
    assert await adapter.drain(5)
    said = [
        r.json["content"] for r in fake.requests_matching("POST", MESSAGES, ok_post(thread_id), after=start)
    ]
    assert len(said) == 1 and "Ask me a question" not in said[0], said


async def test_a_direct_message_is_answered_in_the_dm(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    start = len(fake.requests)
    payload = fake.build_message_create("How do I reset my password?", dm=True)
    await fake.dispatch("MESSAGE_CREATE", payload)
    answer = await fake.wait_for_request("POST", MESSAGES, ok_post(payload["channel_id"]), after=start)
    assert "Forgot password" in answer.json["content"] and answer.json["allowed_mentions"] == {"parse": []}
    assert answer.json["message_reference"]["message_id"] == int(payload["id"])
    assert fake.requests_matching("POST", "/channels/{c}/messages/{m}/threads", after=start) == []


async def test_a_direct_messages_ticket_tags_and_reminds_staff_in_the_triage_channel_not_the_asker(
    fake: FakeDiscord, runtime: Runtime, clock: FakeClock
) -> None:
    """Someone asks for a person in their DM with the bot, which no staff member is in. The
    note there tagged the staff role (shown to the asker as @unknown-role, pinging nobody) and
    said a person would reply in the thread, and each SLA reminder ("Ticket #1 still has no
    response after 20m. Can someone take it?", "Escalating ticket #1: no response after 1h.")
    was posted in the DM too: staff were never tagged. Now the triage card tags them and the
    reminders go below it; the asker is told a person will contact them directly."""
    async with running(runtime) as adapter:
        start = len(fake.requests)
        dm = fake.build_message_create("I want to talk to a person please", dm=True)
        await fake.dispatch("MESSAGE_CREATE", dm)
        await fake.wait_for_request("POST", MESSAGES, ok_post(dm["channel_id"], "ticket #1"), after=start)
        await fake.wait_for_request(
            "POST", MESSAGES, ok_post(fake.general_channel_id, "Ticket #1"), after=start
        )
        assert await adapter.drain(10)
        for minutes in (20, 70, 70):
            clock.advance(minutes=minutes)
            await runtime.bot.tick({"discord": adapter.channel})
    role = int(fake.staff_role_id)

    def posts(channel_id: str) -> list[tuple[str, list[int]]]:
        return [
            (
                (r.json or {}).get("content", ""),
                ((r.json or {}).get("allowed_mentions") or {}).get("roles", []),
            )
            for r in fake.requests_matching("POST", MESSAGES, ok_post(channel_id), after=start)
        ]

    [(note, tagged)] = posts(dm["channel_id"])
    assert tagged == [] and str(role) not in note and "will contact you directly" in note, note
    [card, again, second_tier] = posts(fake.general_channel_id)
    assert card[1] == [role] and "**Ticket #1**" in card[0] and "Open the conversation" not in card[0]
    assert again[1] == [role] and "Ticket #1 still has no response after 20m" in again[0]
    # no second tier configured: the first hears of it once more
    assert second_tier[1] == [role] and "Escalating ticket #1" in second_tier[0]


async def test_an_edited_question_gets_its_answer_edited_not_a_second_one(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    thread_id, _ = await answered(fake, adapter, "How do I reset my password?")
    question = fake.build_message_create("How long does a refund take?", channel_id=thread_id)
    start = len(fake.requests)
    await fake.dispatch("MESSAGE_CREATE", question)
    reply = await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id), after=start)
    edited = dict(
        question,
        content="How do I reset my password if the email never arrives?",
        edited_timestamp=datetime.now(UTC).isoformat(),
    )
    await fake.dispatch("MESSAGE_UPDATE", edited)
    revised = await fake.wait_for_request(
        "PATCH", f"/channels/{thread_id}/messages/{reply.response['id']}", after=start
    )
    assert "Forgot password" in revised.json["content"]  # the answer now answers the edited question
    await mention(fake, "How do I reset my password?", channel_id=thread_id)  # a marker after it
    await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id, "Forgot password"), after=start)
    await adapter.drain(5)
    posts = fake.requests_matching("POST", MESSAGES, ok_post(thread_id), after=start)
    assert len(posts) == 2  # the follow-up's answer and the marker's: the edit posted nothing new


async def test_an_edit_of_a_question_asked_before_a_restart_revises_its_answer_once(
    fake: FakeDiscord, runtime: Runtime
) -> None:
    """A question answered, the bot restarted (a deploy, a crash, a standby taking over), then
    the asker fixes the question. discord.py's new message cache holds no copy of it (nor of
    any question its 1,000 latest messages pushed out), so it dispatches only
    `raw_message_edit`, which the adapter never listened to: the edit was dropped and the
    answer kept answering the old question. The same update sent again (Discord does, for a
    link preview) revises nothing more."""
    async with running(runtime) as bot:
        start = len(fake.requests)
        question = await mention(fake, "How long does a refund take?")
        thread = question["id"]
        answer = await fake.wait_for_request("POST", MESSAGES, ok_post(thread, "five to seven"), after=start)
        assert await bot.drain(5)
    edited = dict(
        question,
        content=f"<@{fake.bot_user_id}> How do I reset my password?",
        edited_timestamp=datetime.now(UTC).isoformat(),
    )
    on_answer = f"/channels/{thread}/messages/{answer.response['id']}"
    async with running(runtime) as bot:  # the next process: an empty message cache
        start = len(fake.requests)
        await fake.dispatch("MESSAGE_UPDATE", edited)
        await fake.wait_for_request("PATCH", on_answer, after=start)
        assert await bot.drain(10)
        revisions = len(fake.requests_matching("PATCH", on_answer, after=start))
        await fake.dispatch("MESSAGE_UPDATE", edited)
        await asyncio.sleep(0.5)
        assert await bot.drain(10)
    assert "Forgot password" in fake.get_message(thread, answer.response["id"])["content"]
    assert len(fake.requests_matching("PATCH", on_answer, after=start)) == revisions
    assert fake.requests_matching("POST", MESSAGES, ok_post(thread), after=start) == []


def forum_tag(tag_id: str, name: str) -> dict[str, Any]:
    return {"id": tag_id, "name": name, "moderated": False, "emoji_id": None, "emoji_name": None}


async def test_a_new_forum_post_is_answered_inside_it_and_tagged(fake: FakeDiscord, runtime: Runtime) -> None:
    answered_tag, staff_tag = "1234567890123", "1234567890124"
    forum = fake.get_channel(fake.forum_channel_id)
    forum["available_tags"] += [forum_tag(answered_tag, "Answered"), forum_tag(staff_tag, "Needs-Staff")]
    question, resolved = fake.forum_tag_ids["question"], fake.forum_tag_ids["resolved"]
    async with running(runtime) as adapter:
        start = len(fake.requests)
        post = fake.build_thread_create(
            "Password reset", starter_content="How do I reset my password?", applied_tags=[question]
        )
        await fake.dispatch("THREAD_CREATE", post)
        answer = await fake.wait_for_request("POST", MESSAGES, ok_post(post["id"]), after=start)
        tagged = await fake.wait_for_request("PATCH", f"/channels/{post['id']}", after=start)
        await adapter.drain(5)
        assert "Forgot password" in answer.json["content"] and answer.json["embeds"]
        assert fake.requests_matching("POST", "/channels/{c}/messages/{m}/threads", after=start) == []
        assert tagged.json["applied_tags"] == [question, answered_tag]  # the asker's tag kept

        start = len(fake.requests)
        human = custom_ids(answer.json)[2]
        await press(fake, human, message_id=answer.response["id"], channel_id=post["id"])
        ping = await fake.wait_for_request("POST", MESSAGES, ok_post(post["id"], "ticket #1"), after=start)
        tagged = await fake.wait_for_request("PATCH", f"/channels/{post['id']}", after=start)
        assert tagged.json["applied_tags"] == [question, staff_tag]
        await adapter.drain(5)

        start = len(fake.requests)
        resolve = "supportbot:resolve:1"
        await press(
            fake, resolve, message_id=ping.response["id"], channel_id=post["id"], user_id=fake.staff_user_id
        )
        tagged = await fake.wait_for_request("PATCH", f"/channels/{post['id']}", after=start)
        assert tagged.json["applied_tags"] == [question, resolved]
        await adapter.drain(5)
    assert fake.get_channel(post["id"])["applied_tags"] == [question, resolved]


async def test_messages_left_unfinished_are_answered_when_the_bot_is_back(
    fake: FakeDiscord, runtime: Runtime
) -> None:
    from bot.inbox import serialise_message

    payload = fake.build_message_create("How do I reset my password?", mention_bot=True)  # never dispatched
    inbound = InboundMessage(
        id=payload["id"],
        conversation=ConversationRef(
            platform="discord", workspace=fake.guild_id, channel=fake.text_channel_id
        ),
        author=Author(id=fake.user_id, name="Alice"),
        text="How do I reset my password?",
        addressed=True,
        visibility=Visibility.PUBLIC,
        sent_at=datetime.now(UTC),
    )
    # received by an earlier process that died before answering
    runtime.state.claim_event(
        f"discord:msg:{inbound.id}", "discord", serialise_message(inbound), datetime.now(UTC)
    )
    async with running(runtime) as adapter:
        answer = await fake.wait_for_request("POST", MESSAGES, ok_post(payload["id"]))
        await adapter.drain(5)
    assert "Forgot password" in answer.json["content"]
    assert runtime.state.pending_events("discord") == []


async def slash(
    fake: FakeDiscord,
    subcommand: str,
    options: dict[str, Any] | None = None,
    *,
    command: str = COMMAND_GROUP,
    user_id: str | None = None,
    locale: str = "en-US",
) -> tuple[dict[str, Any], RecordedRequest]:
    """Run a slash command (from an app set to `locale`); return the interaction and its first
    follow-up (after the defer)."""
    interaction = fake.build_slash_command(command, subcommand, options, user_id=user_id)
    interaction["locale"] = locale
    await fake.dispatch("INTERACTION_CREATE", interaction)
    followup = await fake.wait_for_request(
        "POST",
        f"/webhooks/{fake.app_id}/{{token}}",
        lambda r: r.path.endswith(interaction["token"]),
    )
    return interaction, followup


async def test_a_slash_command_is_deferred_then_followed_up(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    interaction, followup = await slash(fake, "status")
    callback = await fake.wait_for_request("POST", f"/interactions/{interaction['id']}/{{t}}/callback")
    assert callback.status in (200, 204) and callback.json == {"type": 5, "data": {"flags": FLAG_EPHEMERAL}}
    record = fake.interactions[interaction["id"]]
    assert record.acknowledged_at is not None and record.acknowledged_at - record.dispatched_at < 3
    assert followup.status == 200 and followup.json["content"].startswith("Knowledge:")
    assert record.ephemeral

    start = len(fake.requests)
    asked, root = await slash(fake, "ask", {"question": "How do I reset my password?"})
    callback = await fake.wait_for_request("POST", f"/interactions/{asked['id']}/{{t}}/callback")
    assert callback.json["type"] == 5 and not callback.json.get("data", {}).get("flags")  # public
    # the question is shown to everyone (in place of "thinking..."), then answered in a thread on it
    assert root.json["content"] == "Alice asked: How do I reset my password?"
    original_id = fake.interactions[asked["id"]].original_message_id or ""
    thread = await fake.wait_for_request(
        "POST", f"/channels/{fake.text_channel_id}/messages/{original_id}/threads", after=start
    )
    answer = await fake.wait_for_request(
        "POST", MESSAGES, ok_post(thread.response["id"], "Forgot password"), after=start
    )
    assert answer.json["embeds"] and custom_ids(answer.json)[0].startswith("supportbot:helpful:")


async def test_an_ask_handed_to_people_pings_with_a_fresh_message_and_refusals_stay_private(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    start = len(fake.requests)
    asked = fake.build_slash_command(COMMAND_GROUP, "ask", {"question": "xyzzy plugh frobnicate"})
    await fake.dispatch("INTERACTION_CREATE", asked)
    # the question replaces "thinking...", and the hand-off pings staff in a new message in
    # its thread (an edited message would not notify anyone)
    thread = await fake.wait_for_request("POST", "/channels/{c}/messages/{m}/threads", after=start)
    ping = await fake.wait_for_request(
        "POST", MESSAGES, ok_post(thread.response["id"], "ticket #1"), after=start
    )
    assert ping.json["allowed_mentions"] == {"parse": [], "roles": [int(fake.staff_role_id)]}
    await adapter.drain(5)

    refused, too_long = await slash(fake, "ask", {"question": "why " * 1100})
    assert "characters long" in too_long.json["content"] and too_long.json["flags"] == FLAG_EPHEMERAL
    # the public "thinking..." message went first, so the refusal is a new, private message
    [private] = fake.interactions[refused["id"]].followup_ids
    assert fake.get_message(fake.text_channel_id, private)["flags"] & FLAG_EPHEMERAL


async def test_admin_commands_are_for_admins_and_staff_commands_for_staff(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    _, refused = await slash(fake, "stats", command=ADMIN_COMMAND_GROUP)  # alice, no roles
    assert "admin only" in refused.json["content"] and refused.json["flags"] == FLAG_EPHEMERAL
    # bob owns the server: Manage Server, hence an admin by default
    _, allowed = await slash(fake, "stats", command=ADMIN_COMMAND_GROUP, user_id=fake.staff_user_id)
    assert allowed.json["content"].startswith("Last 7 days")

    carol = fake.add_user("carol", global_name="Carol")["id"]
    fake.add_member(fake.guild_id, carol, roles=[fake.staff_role_id])
    _, staff = await slash(fake, "tickets", user_id=carol)
    assert staff.json["content"].startswith("No open tickets")
    _, not_admin = await slash(fake, "reindex", command=ADMIN_COMMAND_GROUP, user_id=carol)
    assert "admin only" in not_admin.json["content"]


async def test_a_failure_after_deferral_still_gets_a_follow_up(
    fake: FakeDiscord, adapter: DiscordAdapter, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> None:
        raise RuntimeError("the core fell over")

    monkeypatch.setattr(runtime.bot, "on_command", broken)
    interaction, followup = await slash(fake, "status")
    assert "something went wrong" in followup.json["content"]
    assert followup.json["flags"] == FLAG_EPHEMERAL
    assert fake.interactions[interaction["id"]].callback_type == 5


async def press(
    fake: FakeDiscord,
    custom_id: str,
    *,
    message_id: str,
    channel_id: str,
    user_id: str | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    payload = fake.build_button_press(
        custom_id, message_id=message_id, channel_id=channel_id, user_id=user_id
    )
    payload["locale"] = locale
    await fake.dispatch("INTERACTION_CREATE", payload)
    callback = await fake.wait_for_request("POST", f"/interactions/{payload['id']}/{{t}}/callback")
    assert callback.json == {"type": 6}  # acknowledged: the message stays as it is
    return payload


async def test_talk_to_a_person_pings_only_the_staff_role_and_claim_resolve_work(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    thread_id, answer = await answered(fake, adapter, "How do I reset my password?")
    human = custom_ids(answer.json)[2]
    start = len(fake.requests)
    await press(fake, human, message_id=answer.response["id"], channel_id=thread_id)
    ping = await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id, "ticket #1"), after=start)
    card = await fake.wait_for_request("POST", MESSAGES, ok_post(fake.general_channel_id), after=start)
    await adapter.drain(5)

    assert ping.json["content"].startswith(f"<@&{fake.staff_role_id}>\n")
    assert ping.json["allowed_mentions"] == {"parse": [], "roles": [int(fake.staff_role_id)]}
    assert fake.get_message(thread_id, ping.response["id"])["mention_roles"] == [fake.staff_role_id]
    assert custom_ids(ping.json) == ["supportbot:claim:1", "supportbot:resolve:1"]
    assert card.json["allowed_mentions"] == {"parse": []}
    assert f"(https://discord.com/channels/{fake.guild_id}/{thread_id})" in card.json["content"]

    # alice is not staff: she is told so, only her
    start = len(fake.requests)
    denied = await press(fake, "supportbot:claim:1", message_id=ping.response["id"], channel_id=thread_id)
    refusal = await fake.wait_for_request("POST", f"/webhooks/{fake.app_id}/{denied['token']}", after=start)
    assert "support team" in refusal.json["content"] and refusal.json["flags"] == FLAG_EPHEMERAL

    start = len(fake.requests)
    await press(
        fake,
        "supportbot:claim:1",
        message_id=ping.response["id"],
        channel_id=thread_id,
        user_id=fake.staff_user_id,
    )
    await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id, "is looking at this now"), after=start)
    update = await fake.wait_for_request(
        "PATCH", f"/channels/{thread_id}/messages/{ping.response['id']}", after=start
    )
    assert custom_ids(update.json) == ["supportbot:resolve:1"]
    await adapter.drain(5)

    start = len(fake.requests)
    await press(
        fake,
        "supportbot:resolve:1",
        message_id=ping.response["id"],
        channel_id=thread_id,
        user_id=fake.staff_user_id,
    )
    await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id, "marked this resolved"), after=start)
    update = await fake.wait_for_request(
        "PATCH", f"/channels/{thread_id}/messages/{ping.response['id']}", after=start
    )
    assert update.json["components"] == [] and "resolved by Bob" in update.json["content"]
    await adapter.drain(5)


PING_DOC = """\
# Announcements

Moderators announce maintenance windows with @everyone or @here, and ping the
<@&123456789012345678> role or <@234567890123456789> directly for maintenance windows.
"""


async def test_mentions_in_questions_and_documents_never_ping(
    fake: FakeDiscord, make_runtime: Callable[..., Runtime], knowledge_dir: Path
) -> None:
    (knowledge_dir / "announcements.md").write_text(PING_DOC, encoding="utf-8")
    runtime = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=ConfidentExtractive())
    async with running(runtime) as adapter:
        start = len(fake.requests)
        loud = (
            f"@everyone @here <@&{fake.staff_role_id}> <@{fake.user_id}> "
            "how are maintenance windows announced?"
        )
        thread_id, answer = await answered(fake, adapter, loud)
        escalate = f"talk to a person @everyone <@&{fake.staff_role_id}> <@{fake.user_id}>"
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create(escalate, channel_id=thread_id))
        ping = await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id, "ticket #"), after=start)
        card = await fake.wait_for_request("POST", MESSAGES, ok_post(fake.general_channel_id), after=start)
        await adapter.drain(5)

    assert (
        f"@{ZWSP}everyone" in answer.json["content"]
        and f"<@{ZWSP}&123456789012345678>" in answer.json["content"]
    )
    thread_name = fake.requests_matching("POST", "/channels/{c}/messages/{m}/threads", after=start)[0].json[
        "name"
    ]
    assert "<@" not in thread_name and "@everyone" not in thread_name
    assert (
        f"@{ZWSP}everyone" in card.json["content"]
        and f"<@{ZWSP}&{fake.staff_role_id}>" in card.json["content"]
    )
    for request in fake.requests_matching("POST", MESSAGES, lambda r: r.status == 200, after=start):
        if request is ping:
            continue
        stored = request.response
        assert request.json["allowed_mentions"] == {"parse": []}, request.json["content"]
        assert stored["mentions"] == [] and stored["mention_roles"] == [] and not stored["mention_everyone"]
    # the escalation pings the staff role it names, and nothing else
    assert ping.response["mention_roles"] == [fake.staff_role_id] and ping.response["mentions"] == []
    assert not ping.response["mention_everyone"]


async def test_a_rate_limited_answer_is_retried_and_posted(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    start = len(fake.requests)
    fake.rate_limit("POST", MESSAGES, times=1, retry_after=0.2)
    thread_id, answer = await answered(fake, adapter, "How do I reset my password?")
    attempts = fake.requests_matching("POST", f"/channels/{thread_id}/messages", after=start)
    assert [r.status for r in attempts] == [429, 200]
    assert "Forgot password" in answer.json["content"]


async def test_a_refused_answer_is_logged_and_apologised_for_and_the_bot_carries_on(
    fake: FakeDiscord, adapter: DiscordAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="adapters.discord")
    thread_id, _ = await answered(fake, adapter, "How do I reset my password?")
    start = len(fake.requests)
    # a follow-up in the thread (a refusal in a thread started from the question itself would
    # send the answer under the question in the channel instead)
    fake.fail("POST", f"/channels/{thread_id}/messages", 403, 50013, "Missing Permissions")
    question = fake.build_message_create("How long does a refund take?", channel_id=thread_id)
    await fake.dispatch("MESSAGE_CREATE", question)
    # the answer could not be posted: the question goes to people, in its thread, with an apology
    apology = await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id, "Sorry"), after=start)
    await adapter.drain(5)
    assert "ticket #1" in apology.json["content"]
    refused = [
        r for r in caplog.records if r.name == "adapters.discord" and getattr(r, "status", None) == 403
    ]
    assert refused and refused[0].levelno == logging.ERROR and refused[0].code == 50013  # type: ignore[attr-defined]
    assert fake.token not in caplog.text

    _, answer = await answered(fake, adapter, "How long does a refund take?")  # still serving
    assert "refund" in answer.json["content"].lower()


async def test_a_rejected_token_stops_the_adapter_with_a_clear_error(
    fake: FakeDiscord, make_runtime: Callable[..., Runtime]
) -> None:
    runtime = make_runtime(discord_toml(fake), env=discord_env(fake, DISCORD_TOKEN="not-the-token"))
    adapter = build_adapter(runtime.bot, runtime.settings, guild_ready_timeout=0.05)
    with pytest.raises(FatalAdapterError, match="token was rejected"):
        await asyncio.wait_for(adapter.run(), 10)
    assert discord.http.Route.BASE == DEFAULT_API_BASE  # endpoints put back


async def test_a_missing_message_content_intent_stops_the_adapter_with_the_portal_hint(
    make_runtime: Callable[..., Runtime],
) -> None:
    async with FakeDiscord(message_content_intent=False) as fake:
        runtime = make_runtime(discord_toml(fake), env=discord_env(fake))
        adapter = build_adapter(runtime.bot, runtime.settings, guild_ready_timeout=0.05)
        with pytest.raises(FatalAdapterError) as error:
            await asyncio.wait_for(adapter.run(), 10)
        await adapter.close()
        close = await fake.wait_for_frame("sent", predicate=lambda f: f.close_code is not None)
        assert close.close_code == 4014
    assert "Message Content Intent" in str(error.value) and "developer portal" in str(error.value)


async def test_endpoints_come_from_the_environment_and_are_restored_after_close(
    fake: FakeDiscord, runtime: Runtime
) -> None:
    async with running(runtime):
        assert fake.api_base == discord.http.Route.BASE
        assert yarl.URL(fake.gateway_url) == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        assert fake.connections[0].path == "/gateway"  # where GET /gateway/bot pointed
    assert discord.http.Route.BASE == DEFAULT_API_BASE
    assert yarl.URL(DEFAULT_GATEWAY_URL) == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


async def test_buttons_still_work_after_the_adapter_restarts(
    fake: FakeDiscord, make_runtime: Callable[..., Runtime]
) -> None:
    first = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=ConfidentExtractive())
    async with running(first) as adapter:
        thread_id, answer = await answered(fake, adapter, "How do I reset my password?")
    helpful = custom_ids(answer.json)[0]

    second = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=ConfidentExtractive())
    assert second.settings.data_dir == first.settings.data_dir
    async with running(second) as restarted:
        start = len(fake.requests)
        pressed = await press(fake, helpful, message_id=answer.response["id"], channel_id=thread_id)
        thanks = await fake.wait_for_request(
            "POST", f"/webhooks/{fake.app_id}/{pressed['token']}", after=start
        )
        await restarted.drain(5)
    assert thanks.json["content"] == "Thanks for the feedback!" and thanks.json["flags"] == FLAG_EPHEMERAL
    assert second.state.stats().helpful == 1


def test_a_message_translated_for_the_core_survives_its_inbox(translator: MessageTranslator) -> None:
    """The inbox stores what the adapter hands over: every field must round-trip."""
    from bot.inbox import deserialise_message, serialise_message

    guild = fake_guild()
    payload = gateway_message(f"<@{BOT_ID}> question", mentions=[{"id": str(BOT_ID)}])
    inbound = translator.translate(fake_message(payload, channel=fake_text_channel(1, guild), guild=guild))
    assert isinstance(inbound, InboundMessage)
    assert deserialise_message(serialise_message(inbound)) == inbound


@pytest.fixture(autouse=True)
def _discord_py_defaults() -> Iterator[None]:
    """Every test leaves discord.py pointed at Discord, as it found it."""
    yield
    assert discord.http.Route.BASE == DEFAULT_API_BASE
    assert yarl.URL(DEFAULT_GATEWAY_URL) == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
