"""The Channels for one event: what the core talks to while it handles one message, slash
command or button press.

This module owns what differs from plain posting (`DiscordChannel`) during one event:

* `MessageChannel`: the typing indicator, from the moment the core decides to answer (it
  opens the thread) until its first reply is posted;
* `InteractionChannel`: interaction follow-ups (ephemeral replies can only go that way),
  the "thinking..." message a deferred interaction shows and what replaces or removes it,
  and the last-resort apology when the core failed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord

from adapters.discord.channel import DiscordChannel, http_ctx, message_kwargs
from adapters.discord.render import render_reply
from adapters.inflight import last_resort
from bot.errors import PlatformError
from bot.messages import say
from bot.types import ConversationRef, InboundMessage, Posted, Reply

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)


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
                    extra=http_ctx(reply.conversation, exc, interaction=self.interaction.id),
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
        """Tell the person (only them) that it failed; the core could not say anything."""
        sent = await last_resort(
            lambda: self.interaction.followup.send(
                say("error_no_ticket", self.interaction.locale.value.split("-")[0]),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            ),
            what="apologise for a failed interaction",
            log=log,
        )
        if sent:
            self._thinking = False  # the apology took the "thinking..." message's place

    async def finish(self) -> None:
        """A "thinking..." message nothing replaced would spin forever: remove it."""
        if self._thinking:
            await self._drop_thinking()
