"""The Discord adapter: discord.py's Client and app_commands, and the Discord Channel.

This module owns the door between Discord and the core, and none of the core's decisions:

* connection: `DISCORD_TOKEN`, the four intents the bot needs (guilds, guild messages, DM
  messages, message content) and no more, endpoints from `DISCORD_API_URL` /
  `DISCORD_GATEWAY_URL` (`point_discord_py`), clear fatal errors for a rejected token or a
  Message Content Intent that is off in the developer portal; reconnects are discord.py's;
* translation: messages (mentions, DMs, threads, forum posts) into `InboundMessage`,
  `supportbot:*` button presses into `ActionEvent`, `/support` and `/support-admin`
  subcommands (built from the core's command registry) into `Command`;
* `DiscordChannel`: the core's Channel (send / edit / open_thread) over REST, with
  interaction follow-ups for slash commands and buttons (`InteractionChannel`), a typing
  indicator while an answer is being written, and forum tags on answer, escalation and
  resolution;
* `doctor_checks`: token, application, intent and configured-ids checks for `supportbot doctor`.

Rendering (content, embeds, mention neutralisation, splitting, custom ids) lives in
`adapters/discord_render.py`; the invite URL and its permissions in `adapters/discord_invite.py`.

Interactions are acknowledged first thing (Discord allows 3 seconds), then the core runs.
Nothing here lets an exception escape into discord.py's event loop unlogged: a failed
event is logged with its traceback and the person gets a short apology where possible.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

from adapters.discord_render import (
    CONTENT_LIMIT,
    FORUM_TAG_NAMES,
    ButtonSpec,
    RenderedMessage,
    forum_question,
    forum_tag_for,
    neutralise,
    normalise_tag_name,
    parse_custom_id,
    render_edit,
    render_reply,
    strip_bot_mention,
    thread_name,
    truncate,
)
from bot.checks import Check
from bot.commands import REGISTRY, CommandSpec
from bot.config import Settings
from bot.core import SupportBot
from bot.errors import FatalAdapterError, PlatformError
from bot.messages import say
from bot.policy import detect_language
from bot.types import (
    ActionEvent,
    Author,
    Command,
    ConversationRef,
    InboundMessage,
    Platform,
    Posted,
    Reply,
    ReplyKind,
    Visibility,
)

log = logging.getLogger(__name__)

PLATFORM = str(Platform.DISCORD)
DEFAULT_API_BASE = "https://discord.com/api/v10"
API_VERSION_SUFFIX = "/api/v10"
COMMAND_GROUP = "support"
ADMIN_COMMAND_GROUP = "support-admin"
DESCRIPTION_LIMIT = 100  # slash command and option descriptions
WEBHOOK_TOKEN_SECONDS = 14 * 60  # interaction tokens live 15 minutes; keep a margin

TOKEN_REJECTED = (
    "the Discord token was rejected (401 Unauthorized). Set DISCORD_TOKEN to the bot token "
    "from the developer portal (your application > Bot > Reset Token); it is not the client "
    "secret or the application id"
)
INTENT_HOW = (
    "Enable it in the developer portal: https://discord.com/developers/applications > your "
    "application > Bot > Privileged Gateway Intents > Message Content Intent, save, then start "
    "the bot again. Without it the bot cannot read the questions people ask"
)
INTENT_MISSING = f"Discord refused the Message Content Intent (gateway close 4014). {INTENT_HOW}"

_THREAD_TYPES = frozenset(
    {
        discord.ChannelType.public_thread,
        discord.ChannelType.private_thread,
        discord.ChannelType.news_thread,
    }
)
_DM_TYPES = frozenset({discord.ChannelType.private, discord.ChannelType.group})
# People writing; joins, pins, thread-created notices and the like are not questions.
_HUMAN_MESSAGE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


def support_intents() -> discord.Intents:
    """Exactly what the bot needs: guild structure (channels, threads, roles), guild and
    DM messages, and their content. No members or presences (privileged, not needed)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = True
    return intents


# -- endpoints ------------------------------------------------------------------------------


def api_base(url: str | None) -> str:
    """`DISCORD_API_URL` as discord.py needs it: ending in the API version (added when the
    URL is a bare host, as REST proxies are usually given)."""
    if not url:
        return DEFAULT_API_BASE
    url = url.rstrip("/")
    if re.search(r"/v\d+$", url):
        return url
    return url + ("/v10" if url.endswith("/api") else API_VERSION_SUFFIX)


def gateway_address(url: str) -> yarl.URL:
    """A gateway URL without a query: discord.py appends `?v=10&encoding=json&compress=...`."""
    return yarl.URL(url).with_query(None)


def point_discord_py(api_url: str | None, gateway_url: str | None) -> Callable[[], None]:
    """Point discord.py at `api_url` / `gateway_url` (either may be None: unchanged) and
    return a function that puts back what was there before.

    discord.py 2.x has no per-client setting for either endpoint; both are class
    attributes, hence process-wide:

    * `discord.http.Route.BASE` (default https://discord.com/api/v10) builds every REST
      URL, interaction callbacks and follow-up webhooks included;
    * `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` (a `yarl.URL`) is where a plain
      `Client` connects on IDENTIFY and after a non-resumable session; a plain Client never
      asks `GET /gateway/bot` (only AutoShardedClient does), so the adapter asks the API
      itself when only `DISCORD_API_URL` is set (`DiscordAdapter._discover_gateway`).
    """
    route, websocket = discord.http.Route, discord.gateway.DiscordWebSocket
    previous = (route.BASE, websocket.DEFAULT_GATEWAY)
    if api_url:
        route.BASE = api_base(api_url)
    if gateway_url:
        websocket.DEFAULT_GATEWAY = gateway_address(gateway_url)

    def restore() -> None:
        route.BASE, websocket.DEFAULT_GATEWAY = previous

    return restore


# -- translation ----------------------------------------------------------------------------


def is_thread(channel: Any) -> bool:
    return getattr(channel, "type", None) in _THREAD_TYPES


def is_dm(channel: Any) -> bool:
    return getattr(channel, "type", None) in _DM_TYPES


def conversation_for(channel: Any, guild_id: int | None) -> ConversationRef:
    """Where something happened: guild (or "dm"), the channel, and the thread if any."""
    if guild_id is None:
        return ConversationRef(platform=PLATFORM, workspace="dm", channel=str(channel.id))
    if is_thread(channel) and getattr(channel, "parent_id", None):
        return ConversationRef(
            platform=PLATFORM,
            workspace=str(guild_id),
            channel=str(channel.parent_id),
            thread=str(channel.id),
        )
    return ConversationRef(platform=PLATFORM, workspace=str(guild_id), channel=str(channel.id))


def observed_visibility(channel: Any) -> Visibility:
    """What Discord says about a channel: DMs are direct; a guild channel everyone can view
    is public, one hidden from @everyone is internal. The configuration can narrow this,
    never widen it (the core takes the more public of the two)."""
    if is_dm(channel):
        return Visibility.DIRECT
    base = getattr(channel, "parent", None) if is_thread(channel) else channel
    guild = getattr(base, "guild", None)
    if base is None or guild is None or not hasattr(base, "permissions_for"):
        return Visibility.PUBLIC
    try:
        everyone_can_view = base.permissions_for(guild.default_role).view_channel
    except (AttributeError, TypeError):
        return Visibility.PUBLIC
    return Visibility.PUBLIC if everyone_can_view else Visibility.INTERNAL


def author_from(user: Any) -> Author:
    """A person as the core sees them; roles and Manage Server only for guild members."""
    roles = getattr(user, "roles", None) or []
    permissions = getattr(user, "guild_permissions", None)
    return Author(
        id=str(user.id),
        name=str(getattr(user, "display_name", "") or getattr(user, "name", "")),
        is_bot=bool(getattr(user, "bot", False)),
        roles=frozenset(str(role.id) for role in roles if not role.is_default()),
        platform_admin=bool(permissions is not None and permissions.manage_guild),
    )


class MessageTranslator:
    """Turns discord.py messages into the core's InboundMessage. Knows who the bot is."""

    def __init__(self, settings: Settings, bot_user_id: int) -> None:
        self.settings = settings
        self.bot_user_id = bot_user_id

    def _bot_role_id(self, guild: Any) -> int | None:
        role = getattr(guild, "self_role", None) if guild is not None else None
        return role.id if role is not None else None

    def mentions_bot(self, message: Any) -> bool:
        if any(user.id == self.bot_user_id for user in message.mentions):
            return True
        role_id = self._bot_role_id(message.guild)
        return role_id is not None and role_id in message.raw_role_mentions

    def is_forum_post(self, message: Any, channel: Any) -> bool:
        """The first message of a post in a configured forum (it has the thread's id)."""
        return (
            is_thread(channel)
            and message.id == channel.id
            and str(getattr(channel, "parent_id", "")) in self.settings.discord.forum_channels
        )

    def translate(
        self, message: Any, channel: Any | None = None, *, edited: bool = False
    ) -> InboundMessage | None:
        """The InboundMessage for a message, or None for one that is not people writing."""
        channel = channel if channel is not None else message.channel
        if message.type not in _HUMAN_MESSAGE_TYPES:
            return None
        guild_id = message.guild.id if message.guild is not None else None
        forum_post = self.is_forum_post(message, channel)
        text = strip_bot_mention(message.content, self.bot_user_id, self._bot_role_id(message.guild))
        if forum_post:
            text = forum_question(channel.name, text)
        message_id = str(message.id)
        if edited:
            stamp = message.edited_at or message.created_at
            message_id = f"{message.id}:edit:{int(stamp.timestamp() * 1000)}"
        return InboundMessage(
            id=message_id,
            conversation=conversation_for(channel, guild_id),
            author=author_from(message.author),
            text=text,
            # A post in a configured forum is a question to the bot by definition.
            addressed=is_dm(channel) or forum_post or self.mentions_bot(message),
            visibility=observed_visibility(channel),
            sent_at=message.created_at,
            edited=edited,
        )


def command_args(spec: CommandSpec, values: Mapping[str, Any]) -> str:
    """The options of a slash command as the core's typed-argument text, in spec order."""
    parts = [str(values[p.name]).strip() for p in spec.params if values.get(p.name)]
    return " ".join(part for part in parts if part)


# -- the Channel ----------------------------------------------------------------------------


class WebhookMessages:
    """Messages sent as interaction follow-ups: the bot cannot edit those through the
    channel, only through the interaction's webhook while its token lives (15 minutes)."""

    def __init__(self, ttl: float = WEBHOOK_TOKEN_SECONDS, limit: int = 2000) -> None:
        self.ttl = ttl
        self.limit = limit
        self._messages: dict[str, tuple[discord.Webhook, float]] = {}

    def remember(self, message_id: str, webhook: discord.Webhook) -> None:
        now = time.monotonic()
        if len(self._messages) >= self.limit:
            self._messages = {k: v for k, v in self._messages.items() if v[1] > now}
        while len(self._messages) >= self.limit:  # still full: forget the oldest
            del self._messages[next(iter(self._messages))]
        self._messages[message_id] = (webhook, now + self.ttl)

    def get(self, message_id: str) -> discord.Webhook | None:
        found = self._messages.get(message_id)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]


def build_view(buttons: tuple[ButtonSpec, ...]) -> discord.ui.View | None:
    """Buttons as a view of persistent dynamic items: dispatched by custom id, so they work
    on any message, after any restart, and discord.py keeps no per-message state."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for spec in buttons:
        view.add_item(SupportButton(spec.custom_id, label=spec.label, style=discord.ButtonStyle(spec.style)))
    return view


def allowed_mentions(message: RenderedMessage) -> discord.AllowedMentions:
    """Nothing but the users and roles the core asked to ping."""
    return discord.AllowedMentions(
        everyone=False,
        users=[discord.Object(id=u) for u in message.allowed_users] or False,
        roles=[discord.Object(id=r) for r in message.allowed_roles] or False,
        replied_user=False,
    )


def message_kwargs(message: RenderedMessage) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "content": message.content,
        "allowed_mentions": allowed_mentions(message),
    }
    if message.embeds:
        kwargs["embeds"] = [discord.Embed.from_dict(e) for e in message.embeds]
    view = build_view(message.buttons)
    if view is not None:
        kwargs["view"] = view
    return kwargs


def _http_ctx(ref: ConversationRef, exc: discord.HTTPException, **more: object) -> dict[str, object]:
    return {
        "platform": PLATFORM,
        "channel": ref.channel,
        "thread_id": ref.thread,
        "status": exc.status,
        "code": exc.code,
        **more,
    }


class DiscordChannel:
    """The core's Channel on Discord, posting over REST with the bot token."""

    def __init__(self, client: discord.Client, webhooks: WebhookMessages | None = None) -> None:
        self.client = client
        self.webhooks = webhooks or WebhookMessages()

    def messageable(self, ref: ConversationRef) -> Any:
        """Where a conversation's messages go, without a REST lookup: the cached channel or
        thread, else a partial messageable that only needs the id."""
        channel_id = int(ref.thread or ref.channel)
        found = self.client.get_channel(channel_id)
        if found is not None and hasattr(found, "send"):
            return found
        guild_id = None if ref.workspace == "dm" else int(ref.workspace)
        return self.client.get_partial_messageable(channel_id, guild_id=guild_id)

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        ref = message.conversation
        if ref.thread is not None or ref.workspace == "dm" or not message.id.isdigit():
            return ref
        channel = self.client.get_channel(int(ref.channel))
        if not isinstance(channel, discord.TextChannel):
            return ref  # voice-channel chat and the like have no threads: answer in place
        try:
            thread = await channel.get_partial_message(int(message.id)).create_thread(name=thread_name(title))
        except discord.HTTPException as exc:
            if exc.code == 160004:
                # Someone (or an earlier attempt) already started it; it has the message's id.
                return ref.in_thread(message.id)
            log.warning(
                "could not start a thread; answering in the channel",
                extra=_http_ctx(ref, exc, message_id=message.id),
            )
            return ref
        log.info(
            "thread started", extra={"platform": PLATFORM, "channel": ref.channel, "thread_id": thread.id}
        )
        return ref.in_thread(str(thread.id))

    async def send(self, reply: Reply) -> Posted:
        rendered = render_reply(reply)
        target = self.messageable(reply.conversation)
        last: discord.Message | None = None
        try:
            for message in rendered:
                kwargs = message_kwargs(message)
                if message.reference is not None:
                    kwargs["reference"] = discord.MessageReference(
                        message_id=message.reference,
                        channel_id=int(reply.conversation.channel),
                        fail_if_not_exists=False,
                    )
                last = await target.send(**kwargs)
        except discord.HTTPException as exc:
            log.error(
                "Discord refused a message (%s %s): %s",
                exc.status,
                exc.code,
                exc.text,
                extra=_http_ctx(reply.conversation, exc, kind=str(reply.kind)),
            )
            if reply.kind == ReplyKind.ERROR:
                fallback = await self._apology_fallback(reply)
                if fallback is not None:
                    return fallback
            raise PlatformError(f"Discord refused the message ({exc.status}, code {exc.code})") from exc
        assert last is not None  # render_reply always returns at least one message
        posted = Posted(message_id=str(last.id), conversation=reply.conversation)
        log.info(
            "posted %d message(s)",
            len(rendered),
            extra={
                "platform": PLATFORM,
                "channel": reply.conversation.channel,
                "thread_id": reply.conversation.thread,
                "message_id": posted.message_id,
                "kind": str(reply.kind),
            },
        )
        await self.after_post(reply, posted)
        return posted

    async def _apology_fallback(self, reply: Reply) -> Posted | None:
        """An apology that could not be posted in a thread goes to its parent channel."""
        ref = reply.conversation
        if ref.thread is None:
            return None
        parent = ref.in_thread(None)
        try:
            sent = await self.messageable(parent).send(
                content=neutralise(truncate(reply.text, CONTENT_LIMIT)),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as exc:
            log.error("could not post the apology anywhere", extra=_http_ctx(parent, exc))
            return None
        return Posted(message_id=str(sent.id), conversation=parent)

    async def edit(self, posted: Posted, reply: Reply) -> None:
        if not posted.message_id.isdigit():
            return  # never posted on Discord (a muted announcement)
        message = render_edit(reply)
        kwargs = message_kwargs(message)
        # An edit replaces everything: no buttons means remove them, no sources likewise.
        kwargs.setdefault("view", None)
        kwargs.setdefault("embeds", [])
        webhook = self.webhooks.get(posted.message_id)
        try:
            if webhook is not None:
                await webhook.edit_message(int(posted.message_id), **kwargs)
            else:
                partial = self.messageable(posted.conversation).get_partial_message(int(posted.message_id))
                await partial.edit(**kwargs)
        except discord.HTTPException as exc:
            log.error(
                "could not update a message (%s %s)",
                exc.status,
                exc.code,
                extra=_http_ctx(posted.conversation, exc, message_id=posted.message_id),
            )
            raise PlatformError(f"Discord refused the edit ({exc.status}, code {exc.code})") from exc
        await self.after_post(reply, posted, edited=True)

    async def after_post(self, reply: Reply, posted: Posted, *, edited: bool = False) -> None:
        """Forum posts wear a tag saying where they stand, when the forum has such tags."""
        wanted = forum_tag_for(reply, edited=edited)
        if wanted is not None and posted.conversation.thread is not None:
            await self._apply_forum_tag(posted.conversation, wanted)

    async def _apply_forum_tag(self, ref: ConversationRef, wanted: str) -> None:
        thread = self.client.get_channel(int(ref.thread or 0))
        if not isinstance(thread, discord.Thread) or not isinstance(thread.parent, discord.ForumChannel):
            return
        tags = {normalise_tag_name(tag.name): tag for tag in thread.parent.available_tags}
        target = tags.get(wanted)
        if target is None:
            return  # this forum has no such tag: nothing to show
        ours = {tag.id for name, tag in tags.items() if name in FORUM_TAG_NAMES}
        current = list(thread.applied_tags)
        keep = [tag for tag in current if tag.id not in ours]
        if [t.id for t in current] == [t.id for t in keep] + [target.id]:
            return
        try:
            await thread.edit(applied_tags=[*keep[:4], target])  # Discord allows 5 tags
        except discord.HTTPException as exc:
            log.warning("could not tag the forum post %r", wanted, extra=_http_ctx(ref, exc))


class _Typing:
    """The typing indicator in one place, from `start` until `stop` (re-sent by discord.py
    every few seconds in between). Runs beside the work: the answer never waits for it."""

    def __init__(self) -> None:
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, messageable: Any) -> None:
        if self._task is None and not self._stopped.is_set():
            self._task = asyncio.create_task(self._run(messageable), name="supportbot-discord-typing")

    async def _run(self, messageable: Any) -> None:
        try:
            async with messageable.typing():
                await self._stopped.wait()
        except discord.HTTPException as exc:
            log.debug("typing indicator refused (%s %s)", exc.status, exc.code)

    def stop(self) -> None:
        self._stopped.set()

    async def close(self) -> None:
        self.stop()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


class MessageChannel:
    """The Channel for one inbound message: typing shows from the moment the core decides
    to answer (it opens the thread) until its first reply is posted."""

    def __init__(self, base: DiscordChannel) -> None:
        self.base = base
        self._typing = _Typing()

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        ref = await self.base.open_thread(message, title)
        self._typing.start(self.base.messageable(ref))
        return ref

    async def send(self, reply: Reply) -> Posted:
        self._typing.stop()
        return await self.base.send(reply)

    async def edit(self, posted: Posted, reply: Reply) -> None:
        await self.base.edit(posted, reply)

    async def finish(self) -> None:
        await self._typing.close()


class InteractionChannel:
    """The Channel for one slash command or button press.

    Ephemeral replies can only go through the interaction (follow-ups). The command's own
    public answer replaces the "thinking..." message. Everything else, and anything that
    pings (an edited message never notifies), is posted through the channel as usual.
    """

    def __init__(
        self,
        base: DiscordChannel,
        interaction: discord.Interaction,
        conversation: ConversationRef,
        *,
        thinking: bool,
        ephemeral_thinking: bool = True,
    ) -> None:
        self.base = base
        self.interaction = interaction
        self.conversation = conversation
        self._thinking = thinking  # a deferred "thinking..." message is still showing
        self._ephemeral_thinking = ephemeral_thinking

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        return await self.base.open_thread(message, title)

    async def edit(self, posted: Posted, reply: Reply) -> None:
        await self.base.edit(posted, reply)

    async def send(self, reply: Reply) -> Posted:
        if reply.ephemeral_to:
            if self._thinking and not self._ephemeral_thinking:
                # The first follow-up would take the public "thinking" message's place.
                await self._drop_thinking()
            return await self._followup(reply, ephemeral=True)
        replaces_thinking = (
            self._thinking
            and not self._ephemeral_thinking
            and not reply.mentions
            and reply.conversation.key == self.conversation.key
        )
        if replaces_thinking:
            return await self._followup(reply, ephemeral=False)
        if (
            self.interaction.type == discord.InteractionType.application_command
            and reply.conversation.key == self.conversation.key
            and not self._thinking
        ):
            # more messages where a slash command was used: follow-ups ride on the interaction's
            # token, so they work even where the bot may not post or start threads itself
            return await self._followup(reply, ephemeral=False)
        return await self.base.send(reply)

    async def _followup(self, reply: Reply, *, ephemeral: bool) -> Posted:
        last: discord.WebhookMessage | None = None
        for message in render_reply(reply):
            try:
                last = await self.interaction.followup.send(
                    **message_kwargs(message), ephemeral=ephemeral, wait=True
                )
            except discord.HTTPException as exc:
                log.error(
                    "could not send an interaction follow-up (%s %s)",
                    exc.status,
                    exc.code,
                    extra=_http_ctx(reply.conversation, exc, interaction=self.interaction.id),
                )
                raise PlatformError(f"Discord refused the follow-up ({exc.status}, code {exc.code})") from exc
            self._thinking = False
            self.base.webhooks.remember(str(last.id), self.interaction.followup)
        assert last is not None
        posted = Posted(message_id=str(last.id), conversation=reply.conversation)
        if not ephemeral:
            await self.base.after_post(reply, posted)
        return posted

    async def _drop_thinking(self) -> None:
        self._thinking = False
        try:
            await self.interaction.delete_original_response()
        except discord.HTTPException as exc:
            log.debug("could not remove the thinking message (%s %s)", exc.status, exc.code)

    async def apologise(self) -> None:
        try:
            await self.interaction.followup.send(
                say("error_no_ticket", self.interaction.locale.value.split("-")[0]),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            self._thinking = False
        except discord.HTTPException as exc:
            log.error("could not apologise for a failed interaction (%s %s)", exc.status, exc.code)

    async def finish(self) -> None:
        """A "thinking..." message nothing replaced would spin forever: remove it."""
        if self._thinking:
            await self._drop_thinking()


# -- buttons and slash commands -------------------------------------------------------------

CUSTOM_ID_TEMPLATE = r"supportbot:(?P<action>[a-z_]+):(?P<value>\S+)"


class SupportButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=CUSTOM_ID_TEMPLATE):
    """Every `supportbot:<action>:<value>` button, whichever message carries it: registered
    once per client (`add_dynamic_items`), so presses work after restarts."""

    def __init__(
        self,
        custom_id: str,
        *,
        label: str | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        super().__init__(discord.ui.Button(custom_id=custom_id, label=label, style=style))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SupportButton:
        button: Any = item
        return cls(button.custom_id, label=button.label, style=button.style)

    async def callback(self, interaction: discord.Interaction) -> None:
        adapter = getattr(interaction.client, "adapter", None)
        if isinstance(adapter, DiscordAdapter):
            await adapter.handle_button(interaction, str(self.item.custom_id))


def _command_callback(adapter: DiscordAdapter, spec: CommandSpec) -> Callable[..., Any]:
    """A callback whose signature discord.py reads as the spec's string options."""

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await adapter.handle_command(interaction, spec, values)

    parameters = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    for param in spec.params:
        parameters.append(
            inspect.Parameter(
                param.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str if param.required else str | None,
                default=inspect.Parameter.empty if param.required else None,
            )
        )
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        p.name: truncate(p.help, DESCRIPTION_LIMIT) for p in spec.params
    }
    choices = {
        p.name: [app_commands.Choice(name=c, value=c) for c in p.choices] for p in spec.params if p.choices
    }
    if choices:
        callback.__discord_app_commands_param_choices__ = choices  # type: ignore[attr-defined]
    return callback


def build_command_groups(adapter: DiscordAdapter) -> tuple[app_commands.Group, app_commands.Group]:
    """`/support` (everyone's and staff commands) and `/support-admin` (admin commands).

    Discord applies default permissions to a whole top-level command, never to one
    subcommand, so admin commands live in their own group, hidden by default from members
    without Manage Server (a server can widen that in Server Settings > Integrations).
    The core checks every invocation again (admin roles and users from the configuration
    count too); staff commands are checked at run time only.
    """
    support = app_commands.Group(name=COMMAND_GROUP, description="Ask the support bot and work with tickets")
    admin = app_commands.Group(
        name=ADMIN_COMMAND_GROUP,
        description="Support bot administration",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )
    for spec in REGISTRY:
        group = admin if spec.admin_only else support
        command: app_commands.Command[Any, ..., None] = app_commands.Command(
            name=spec.name,
            description=truncate(spec.help, DESCRIPTION_LIMIT),
            callback=_command_callback(adapter, spec),
            parent=group,
        )
        group.add_command(command)
    return support, admin


# -- the adapter ----------------------------------------------------------------------------


class SupportClient(discord.Client):
    """discord.Client with the bot's intents, no default pings, and its command tree."""

    def __init__(self, adapter: DiscordAdapter, *, guild_ready_timeout: float = 2.0) -> None:
        super().__init__(
            intents=support_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=guild_ready_timeout,
        )
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await self.adapter.setup(self)

    async def on_ready(self) -> None:
        await self.adapter.on_ready()

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.handle_message(message)

    async def on_message_edit(self, before: discord.Message, after: discord.Message) -> None:
        await self.adapter.handle_edit(before, after)

    async def on_thread_create(self, thread: discord.Thread) -> None:
        await self.adapter.handle_thread_create(thread)


class DiscordAdapter:
    name = PLATFORM

    def __init__(
        self,
        bot: SupportBot,
        settings: Settings,
        *,
        guild_ready_timeout: float = 2.0,
        drain_timeout: float = 30.0,
    ) -> None:
        self.bot = bot
        self.settings = settings
        self.guild_ready_timeout = guild_ready_timeout
        self.drain_timeout = drain_timeout
        self.webhooks = WebhookMessages()
        self.client: SupportClient | None = None
        self._channel: DiscordChannel | None = None
        self._translator: MessageTranslator | None = None
        self._ready = asyncio.Event()
        self._replayed = False
        self._inflight: set[asyncio.Task[Any]] = set()

    # -- lifecycle

    @property
    def channel(self) -> DiscordChannel:
        if self._channel is None:
            raise RuntimeError("the Discord adapter is not running")
        return self._channel

    async def wait_until_ready(self) -> None:
        await self._ready.wait()

    async def run(self) -> None:
        """Connect and serve until closed. Raises FatalAdapterError when restarting cannot help."""
        token = self.settings.secrets.discord_token
        if token is None:
            raise FatalAdapterError("DISCORD_TOKEN is not set")
        secrets = self.settings.secrets
        restore = point_discord_py(secrets.discord_api_url, secrets.discord_gateway_url)
        client = SupportClient(self, guild_ready_timeout=self.guild_ready_timeout)
        self.client = client
        self._channel = DiscordChannel(client, self.webhooks)
        self._ready.clear()
        try:
            async with client:
                await self._login(client, token.get_secret_value())
                await self._discover_gateway(client)
                await self._connect(client)
        finally:
            restore()

    async def _login(self, client: SupportClient, token: str) -> None:
        try:
            await client.login(token)
        except discord.LoginFailure:
            raise FatalAdapterError(TOKEN_REJECTED) from None
        assert client.user is not None
        self._translator = MessageTranslator(self.settings, client.user.id)
        log.info("logged in to Discord", extra={"platform": PLATFORM, "user_id": client.user.id})

    async def _discover_gateway(self, client: SupportClient) -> None:
        """With only DISCORD_API_URL set, ask that API where its gateway is."""
        secrets = self.settings.secrets
        if secrets.discord_gateway_url or not secrets.discord_api_url:
            return
        try:
            _, url, _ = await client.http.get_bot_gateway()
        except discord.GatewayNotFound as exc:
            raise PlatformError(
                f"{api_base(secrets.discord_api_url)} did not answer GET /gateway/bot; "
                "set DISCORD_GATEWAY_URL to the gateway's address"
            ) from exc
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway_address(url)
        log.info("gateway from the API", extra={"platform": PLATFORM, "gateway": str(gateway_address(url))})

    async def _connect(self, client: SupportClient) -> None:
        try:
            await client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            raise FatalAdapterError(INTENT_MISSING) from None
        except discord.ConnectionClosed as exc:
            if exc.code == 4004:
                raise FatalAdapterError(TOKEN_REJECTED) from None
            raise

    async def setup(self, client: SupportClient) -> None:
        """After login, before the gateway: buttons and slash commands."""
        client.add_dynamic_items(SupportButton)
        support, admin = build_command_groups(self)
        client.tree.add_command(support)
        client.tree.add_command(admin)
        try:
            await self._sync_commands(client)
        except discord.HTTPException as exc:
            # The bot still answers mentions and DMs; `supportbot doctor` says what is wrong.
            log.error(
                "could not register the slash commands (%s %s): %s",
                exc.status,
                exc.code,
                exc.text,
                extra={"platform": PLATFORM},
            )

    async def _sync_commands(self, client: SupportClient) -> None:
        guilds = self.settings.discord.command_guilds
        if not guilds:
            synced = await client.tree.sync()
            log.info(
                "slash commands registered globally", extra={"platform": PLATFORM, "commands": len(synced)}
            )
            return
        for guild_id in guilds:
            guild = discord.Object(id=int(guild_id))
            client.tree.copy_global_to(guild=guild)
            synced = await client.tree.sync(guild=guild)
            log.info(
                "slash commands registered",
                extra={"platform": PLATFORM, "guild": guild_id, "commands": len(synced)},
            )

    async def on_ready(self) -> None:
        client = self.client
        assert client is not None
        log.info("connected to Discord", extra={"platform": PLATFORM, "guilds": len(client.guilds)})
        if not self._replayed:
            self._replayed = True  # READY comes again after a full reconnect; replay once
            with self._tracked():
                try:
                    replayed = await self.bot.replay_pending(PLATFORM, self.channel)
                    if replayed:
                        log.info("replayed %d unfinished message(s)", replayed, extra={"platform": PLATFORM})
                except Exception:
                    log.exception("replaying unfinished messages failed", extra={"platform": PLATFORM})
        self._ready.set()

    async def close(self) -> None:
        """Let in-flight answers finish (up to drain_timeout), then disconnect."""
        await self.drain(self.drain_timeout)
        if self.client is not None and not self.client.is_closed():
            await self.client.close()

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until no event is being handled; False if `timeout` ran out first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            pending = {task for task in self._inflight if task is not asyncio.current_task()}
            if not pending:
                return True
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await asyncio.wait(pending, timeout=remaining)

    @contextlib.contextmanager
    def _tracked(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._inflight.discard(task)

    # -- messages

    async def _resolve_channel(self, message: discord.Message) -> Any:
        """The message's channel; fetched when the gateway sent a message before its thread
        (Discord does not order MESSAGE_CREATE and THREAD_CREATE for new forum posts)."""
        channel = message.channel
        if isinstance(channel, discord.PartialMessageable) and message.guild is not None and self.client:
            try:
                return await self.client.fetch_channel(channel.id)
            except discord.HTTPException as exc:
                log.warning(
                    "could not look up a channel",
                    extra={"platform": PLATFORM, "channel": channel.id, "status": exc.status},
                )
        return channel

    async def handle_message(self, message: discord.Message, *, edited: bool = False) -> None:
        if self._translator is None:
            return
        with self._tracked():
            channel = await self._resolve_channel(message)
            try:
                inbound = self._translator.translate(message, channel, edited=edited)
            except Exception:
                log.exception(
                    "could not read a Discord message", extra={"platform": PLATFORM, "message_id": message.id}
                )
                return
            if inbound is not None:
                await self.deliver(inbound)

    async def handle_edit(self, before: discord.Message, after: discord.Message) -> None:
        # Discord also sends updates for link previews and pins: only a changed text is an edit.
        if after.edited_at is None or before.content == after.content:
            return
        await self.handle_message(after, edited=True)

    async def handle_thread_create(self, thread: discord.Thread) -> None:
        """A new post in a configured forum: its first message is the question."""
        if self._translator is None or self.client is None or self.client.user is None:
            return
        if str(thread.parent_id) not in self.settings.discord.forum_channels:
            return
        if thread.owner_id == self.client.user.id:
            return
        with self._tracked():
            try:
                starter = thread.starter_message or await thread.fetch_message(thread.id)
            except discord.HTTPException as exc:
                log.warning(
                    "could not read a new forum post",
                    extra={"platform": PLATFORM, "thread_id": thread.id, "status": exc.status},
                )
                return
            try:
                inbound = self._translator.translate(starter, thread)
            except Exception:
                log.exception(
                    "could not read a new forum post", extra={"platform": PLATFORM, "thread_id": thread.id}
                )
                return
            if inbound is not None:
                await self.deliver(inbound)

    async def deliver(self, inbound: InboundMessage) -> None:
        """Hand a message to the core; a failure is logged, never raised into discord.py."""
        channel = MessageChannel(self.channel)
        try:
            await self.bot.on_message(inbound, channel)
        except Exception:
            # the core could not even record the message (its store failed): say so, if it was ours
            log.exception(
                "failed to handle a Discord message",
                extra={
                    "platform": PLATFORM,
                    "channel": inbound.conversation.channel,
                    "message_id": inbound.id,
                },
            )
            if inbound.addressed:
                sorry = Reply(
                    conversation=inbound.conversation,
                    text=say("error_no_ticket", detect_language(inbound.text)),
                    kind=ReplyKind.ERROR,
                )
                with contextlib.suppress(Exception):
                    await self.channel.send(sorry)
        finally:
            await channel.finish()

    # -- interactions

    def _interaction_place(self, interaction: discord.Interaction) -> tuple[ConversationRef, Visibility]:
        channel: Any = interaction.channel
        if channel is None:
            channel = discord.Object(id=interaction.channel_id or 0)
        if interaction.guild_id is None:  # a DM, whatever shape discord.py gave its channel
            return conversation_for(channel, None), Visibility.DIRECT
        return conversation_for(channel, interaction.guild_id), observed_visibility(channel)

    async def handle_command(
        self, interaction: discord.Interaction, spec: CommandSpec, values: Mapping[str, Any]
    ) -> None:
        with self._tracked():
            try:
                # First thing: Discord forgets an interaction not acknowledged within 3 s.
                await interaction.response.defer(ephemeral=spec.ephemeral, thinking=True)
            except discord.HTTPException as exc:
                log.error(
                    "could not acknowledge a slash command (%s %s)",
                    exc.status,
                    exc.code,
                    extra={"platform": PLATFORM, "command": spec.name, "interaction": interaction.id},
                )
                return
            conversation, visibility = self._interaction_place(interaction)
            command = Command(
                id=str(interaction.id),
                name=spec.name,
                args=command_args(spec, values),
                invoker=author_from(interaction.user),
                conversation=conversation,
                visibility=visibility,
            )
            channel = InteractionChannel(
                self.channel, interaction, conversation, thinking=True, ephemeral_thinking=spec.ephemeral
            )
            try:
                await self.bot.on_command(command, channel)
            except Exception:
                log.exception(
                    "slash command failed",
                    extra={"platform": PLATFORM, "channel": conversation.channel, "command": spec.name},
                )
                await channel.apologise()
            finally:
                await channel.finish()

    async def handle_button(self, interaction: discord.Interaction, custom_id: str) -> None:
        with self._tracked():
            try:
                await interaction.response.defer()  # a button: acknowledge, leave the message as is
            except discord.HTTPException as exc:
                log.error(
                    "could not acknowledge a button (%s %s)",
                    exc.status,
                    exc.code,
                    extra={"platform": PLATFORM, "interaction": interaction.id},
                )
                return
            parsed = parse_custom_id(custom_id)
            if parsed is None:
                log.warning("unknown button", extra={"platform": PLATFORM, "custom_id": custom_id})
                return
            action, value = parsed
            conversation, visibility = self._interaction_place(interaction)
            event = ActionEvent(
                id=str(interaction.id),
                conversation=conversation,
                actor=author_from(interaction.user),
                action=action,
                value=value,
                visibility=visibility,
                message_id=str(interaction.message.id) if interaction.message else None,
            )
            channel = InteractionChannel(self.channel, interaction, conversation, thinking=False)
            try:
                await self.bot.on_action(event, channel)
            except Exception:
                log.exception(
                    "button failed",
                    extra={"platform": PLATFORM, "channel": conversation.channel, "action": str(action)},
                )
                await channel.apologise()


def build_adapter(
    bot: SupportBot,
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    **options: Any,
) -> DiscordAdapter:
    """The entry point `bot.app` loads. `host`/`port` (for HTTP adapters) are ignored: the
    bot connects out to Discord. Options: `guild_ready_timeout`, `drain_timeout`."""
    del host, port
    return DiscordAdapter(bot, settings, **options)


# -- supportbot doctor ----------------------------------------------------------------------


_UNREACHABLE = (aiohttp.ClientError, TimeoutError, OSError)


def _intent_check(flags: discord.ApplicationFlags) -> Check:
    if flags.gateway_message_content:
        return Check(name="discord intent", status="ok", detail="Message Content Intent approved")
    if flags.gateway_message_content_limited:
        return Check(name="discord intent", status="ok", detail="Message Content Intent enabled")
    return Check(name="discord intent", status="fail", detail=f"Message Content Intent is off. {INTENT_HOW}")


async def doctor_checks(settings: Settings) -> list[Check]:
    token = settings.secrets.discord_token
    if token is None:
        return [Check(name="discord token", status="fail", detail="DISCORD_TOKEN is not set")]
    secrets = settings.secrets
    restore = point_discord_py(secrets.discord_api_url, secrets.discord_gateway_url)
    client = discord.Client(intents=support_intents())
    try:
        async with client:
            try:
                await client.login(token.get_secret_value())
            except discord.LoginFailure:
                return [Check(name="discord token", status="fail", detail=TOKEN_REJECTED)]
            except (discord.HTTPException, *_UNREACHABLE) as exc:
                where = api_base(secrets.discord_api_url)
                return [
                    Check(
                        name="discord token", status="fail", detail=f"cannot reach Discord at {where}: {exc}"
                    )
                ]
            return await _doctor(settings, client)
    finally:
        restore()


async def _doctor(settings: Settings, client: discord.Client) -> list[Check]:
    user, app = client.user, client.application
    assert user is not None and app is not None
    checks = [Check(name="discord token", status="ok", detail=f"logged in as {user} (id {user.id})")]
    if app.interactions_endpoint_url:
        checks.append(
            Check(
                name="discord application",
                status="warn",
                detail=f"{app.name} (id {app.id}) has an Interactions Endpoint URL set, so slash "
                "commands and buttons go there instead of to the bot; clear it on the developer "
                "portal's General Information page",
            )
        )
    else:
        checks.append(Check(name="discord application", status="ok", detail=f"{app.name} (id {app.id})"))
    checks.append(_intent_check(app.flags))
    discord_settings = settings.discord
    for guild_id in discord_settings.command_guilds:
        checks.append(await _guild_check(client, guild_id))
    for channel_id in discord_settings.forum_channels:
        checks.append(await _channel_check(client, channel_id, "forum channel", forum=True))
    if discord_settings.triage_channel:
        checks.append(await _channel_check(client, discord_settings.triage_channel, "triage channel"))
    return checks


async def _guild_check(client: discord.Client, guild_id: str) -> Check:
    try:
        guild = await client.fetch_guild(int(guild_id))
    except (discord.HTTPException, ValueError):
        return Check(
            name="discord server",
            status="fail",
            detail=f"the bot is not in server {guild_id} (command_guilds); invite it with the URL "
            "`supportbot discord invite` prints",
        )
    return Check(
        name="discord server", status="ok", detail=f"slash commands register instantly in {guild.name}"
    )


async def _channel_check(client: discord.Client, channel_id: str, what: str, *, forum: bool = False) -> Check:
    try:
        channel = await client.fetch_channel(int(channel_id))
    except (discord.HTTPException, ValueError):
        return Check(
            name=f"discord {what}",
            status="fail",
            detail=f"the bot cannot see channel {channel_id}; check the id and the bot's "
            "View Channels permission",
        )
    if forum and not isinstance(channel, discord.ForumChannel):
        return Check(
            name=f"discord {what}", status="warn", detail=f"#{channel} ({channel_id}) is not a forum channel"
        )
    return Check(name=f"discord {what}", status="ok", detail=f"#{channel} ({channel_id})")
