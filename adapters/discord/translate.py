"""Translation: discord.py objects into the core's types, and nothing the other way.

This module owns how Discord's shapes read as the core's vocabulary:

* places: guild (or "dm"), channel and thread as a `ConversationRef` (`conversation_for`),
  and what Discord says about who can see them (`observed_visibility`);
* people: a user or member as an `Author`, with roles and Manage Server for members;
* messages: mentions, DMs, threads and forum posts into `InboundMessage`
  (`MessageTranslator`, which knows the bot's own user id);
* interactions: where a slash command or button was used (`interaction_place`) and a slash
  command's options as the core's argument text (`command_args`).

No I/O: everything here reads objects discord.py already built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord

from adapters.discord.render import forum_question, strip_bot_mention
from bot.channel_types import DM_WORKSPACE, Platform, Visibility
from bot.commands import CommandSpec
from bot.config import Settings
from bot.types import Author, ConversationRef, InboundMessage

PLATFORM = str(Platform.DISCORD)

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


# Channels are read duck-typed (`Any`): discord.py hands the adapter text channels, threads,
# DM channels, partial messageables and bare `discord.Object`s, and the tests use look-alikes.


def is_thread(channel: Any) -> bool:
    return getattr(channel, "type", None) in _THREAD_TYPES


def is_dm(channel: Any) -> bool:
    return getattr(channel, "type", None) in _DM_TYPES


def guild_of(message: Any, channel: Any) -> int | None:
    """The guild a message was written in, None for a DM (told by the channel's type). A
    guild this client has not cached gives the message no `guild`: its channel is then a
    partial one that still carries the dispatch's `guild_id`, so the message is no DM."""
    if is_dm(channel):
        return None
    if message.guild is not None:
        return int(message.guild.id)
    guild_id = getattr(channel, "guild_id", None)
    return guild_id if isinstance(guild_id, int) else None


def conversation_for(channel: Any, guild_id: int | None) -> ConversationRef:
    """Where something happened: guild (or "dm"), the channel, and the thread if any."""
    if guild_id is None:
        return ConversationRef(platform=PLATFORM, workspace=DM_WORKSPACE, channel=str(channel.id))
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


def interaction_place(interaction: discord.Interaction) -> tuple[ConversationRef, Visibility]:
    """Where a slash command or button was used, and who can see it there."""
    channel: Any = interaction.channel
    if channel is None:
        channel = discord.Object(id=interaction.channel_id or 0)
    if interaction.guild_id is None:  # a DM, whatever shape discord.py gave its channel
        return conversation_for(channel, None), Visibility.DIRECT
    return conversation_for(channel, interaction.guild_id), observed_visibility(channel)


def command_args(spec: CommandSpec, values: Mapping[str, Any]) -> str:
    """The options of a slash command as the core's typed-argument text, in spec order (what
    the command reads as, in logs and the audit trail)."""
    return " ".join(value for _, value in command_options(spec, values))


def command_options(spec: CommandSpec, values: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The options given, by name, in spec order: the core reads them as they are (a value
    with a space, or an optional one left out, shifts no other)."""
    given = ((p.name, str(values[p.name]).strip()) for p in spec.params if values.get(p.name))
    return tuple((name, value) for name, value in given if value)


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
        guild_id = guild_of(message, channel)
        forum_post = self.is_forum_post(message, channel)
        text = strip_bot_mention(message.content, self.bot_user_id, self._bot_role_id(message.guild))
        if forum_post:
            text = forum_question(channel.name, text)
        message_id = str(message.id)
        stamp = message.edited_at or message.created_at
        if edited:
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
            edit_of=str(message.id) if edited else None,
            edited_at=stamp if edited else None,
        )
