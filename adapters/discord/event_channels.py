"""The Channels for one event: what the core talks to while it handles one message, slash
command or button press.

This module owns what differs from plain posting (`DiscordChannel`) during one event:

* `MessageChannel`: the typing indicator, once an answer is slow to come (from the moment the
  core decides to answer, when it opens the thread, until its first reply is posted);
* `InteractionChannel`: interaction follow-ups (ephemeral replies can only go that way),
  the "thinking..." message a deferred interaction shows and what replaces or removes it,
  the last-resort apology when the core failed, and forms (`bot.ports.TextInput`) as a
  modal, which must be the press's first answer: such a press is acknowledged only once the
  core has decided, or before Discord's 3 s deadline, whichever comes first. Follow-ups ride
  on the interaction's token, which lives 15 minutes: past it (or once Discord answers 401
  50027) a public reply is posted in the conversation as any other, and a private one is
  lost (logged once; nothing else can show it to one person).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import discord

from adapters.discord.channel import DiscordChannel
from adapters.discord.outgoing import http_ctx, message_kwargs
from adapters.discord.post_ids import post_id
from adapters.discord.render import custom_id, render_reply, truncate
from adapters.inflight import INDICATOR_AFTER_S, last_resort
from bot.errors import ConversationDeleted, PlatformError, PostRefused
from bot.messages import say, spoken
from bot.ports import PostChanged
from bot.types import ActionEvent, ConversationRef, InboundMessage, Posted, Reply

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)

FORM_INPUT_ID = "text"  # the custom id of a form's one text input
MODAL_TITLE_LIMIT = 45
MODAL_LABEL_LIMIT = 45
MODAL_VALUE_LIMIT = 4000
ACK_DEADLINE_SECONDS = 2.0  # a press left open for a form is acknowledged by then (Discord: 3 s)
TOKEN_EXPIRED = (401, 50027)  # Invalid Webhook Token: the interaction's 15 minutes are over


class _Typing:
    """The typing indicator in one place, from `after` seconds past `start` until `stop`
    (re-sent by discord.py every few seconds in between). Runs beside the work: the answer
    never waits for it, and an answer posted within `after` shows no typing at all."""

    def __init__(self, after: float) -> None:
        self.after = after
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, messageable: Any) -> None:
        if self._task is None and not self._stopped.is_set():
            self._task = asyncio.create_task(self._run(messageable), name="supportbot-discord-typing")

    async def _run(self, messageable: Any) -> None:
        if self.after > 0:
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: wait_for may swallow a cancel (3.11)
                async with asyncio.timeout(self.after):
                    await self._stopped.wait()
            if self._stopped.is_set():
                return
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
    to answer (it opens the thread) until its first reply is posted, if that takes longer
    than `typing_after` seconds."""

    def __init__(self, base: DiscordChannel, *, typing_after: float = INDICATOR_AFTER_S) -> None:
        self.base = base
        self._typing = _Typing(typing_after)

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        ref = await self.base.open_thread(message, title)
        self._typing.start(self.base.messageable(ref))
        return ref

    async def send(self, reply: Reply) -> Posted:
        self._typing.stop()
        return await self.base.send(reply)

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        return await self.base.edit(posted, reply, on_change)

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
        open_for_form: bool = False,
    ) -> None:
        self.base = base
        self.interaction = interaction
        self.conversation = conversation
        self._thinking = thinking  # a deferred "thinking..." message is still showing
        self._ephemeral_thinking = ephemeral_thinking
        # a press not yet acknowledged, so that its answer may be a form (a modal)
        self._open = open_for_form
        self._ack_lock = asyncio.Lock()
        # the token follow-ups ride on expires this long after the interaction (noted when
        # its channel is made, right after the acknowledgement); Discord may say so sooner
        self._token_until = time.monotonic() + base.webhooks.ttl
        self._token_refused = False
        self._lost_private = False

    def _token_alive(self) -> bool:
        return not self._token_refused and time.monotonic() < self._token_until

    async def acknowledge(self) -> None:
        """Acknowledge a press left open for a form (a plain defer: the message stays)."""
        async with self._ack_lock:
            if not self._open:
                return
            self._open = False
            try:
                await self.interaction.response.defer()
            except (discord.HTTPException, discord.InteractionResponded) as exc:
                log.warning(
                    "could not acknowledge a button (%s)",
                    type(exc).__name__,
                    extra={"platform": "discord", "interaction": self.interaction.id},
                )

    async def acknowledge_by_deadline(self) -> None:
        """Run beside the core for a press left open: acknowledge it before Discord forgets it."""
        await asyncio.sleep(ACK_DEADLINE_SECONDS)
        await self.acknowledge()

    async def ask_text(self, event: ActionEvent, *, title: str, label: str, initial: str) -> bool:
        """`bot.ports.TextInput`: a modal as the press's answer. Its submission (a MODAL_SUBMIT
        interaction) is read by the adapter's `on_interaction`, not kept in discord.py's
        modal store, so a submission still works after a restart."""
        modal = discord.ui.Modal(
            title=truncate(title, MODAL_TITLE_LIMIT) or "…",
            custom_id=custom_id(event.action, event.value),
        )
        modal.add_item(
            discord.ui.TextInput(
                label=truncate(label, MODAL_LABEL_LIMIT) or "…",
                style=discord.TextStyle.long,
                default=initial[:MODAL_VALUE_LIMIT] or None,
                max_length=MODAL_VALUE_LIMIT,
                custom_id=FORM_INPUT_ID,
            )
        )
        modal.stop()  # not stored by discord.py: see the docstring
        async with self._ack_lock:
            if not self._open:
                return False  # acknowledged already: too late for a modal
            self._open = False
            try:
                await self.interaction.response.send_modal(modal)
            except (discord.HTTPException, discord.InteractionResponded) as exc:
                log.warning(
                    "could not open a form (%s)",
                    type(exc).__name__,
                    extra={"platform": "discord", "interaction": self.interaction.id},
                )
                return False
        return True

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        return await self.base.open_thread(message, title)

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        return await self.base.edit(posted, reply, on_change)

    async def send(self, reply: Reply) -> Posted:
        await self.acknowledge()  # a press left open for a form: follow-ups need the ack first
        if not self._token_alive():
            return await self._past_token(reply)
        if reply.ephemeral_to:
            if self._thinking and not self._ephemeral_thinking:
                # The first follow-up would take the public "thinking" message's place.
                await self._drop_thinking(private_in=reply.language)
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
        try:
            return await self.base.send(reply)
        except PostRefused as exc:
            # where the bot may not post (a press under a `/support ask` answer that rode on
            # its command's token), the reply rides on the press's own token. Only a refusal:
            # nothing of it is out, so it is not said twice; a deleted place takes nothing
            if reply.conversation.key != self.conversation.key or isinstance(exc, ConversationDeleted):
                raise
            log.warning(
                "the bot may not post here; replying through the interaction",
                extra={
                    "platform": "discord",
                    "channel": reply.conversation.channel,
                    "interaction": self.interaction.id,
                },
            )
            return await self._followup(reply, ephemeral=False)

    async def _followup(self, reply: Reply, *, ephemeral: bool) -> Posted:
        sent: list[int] = []
        for message in render_reply(reply):
            try:
                last = await self.interaction.followup.send(
                    **message_kwargs(message), ephemeral=ephemeral, wait=True
                )
            except discord.HTTPException as exc:
                if (exc.status, exc.code) == TOKEN_EXPIRED and not sent:
                    self._token_refused = True  # none of it is out: it goes another way
                    return await self._past_token(reply)
                log.error(
                    "could not send an interaction follow-up (%s %s)",
                    exc.status,
                    exc.code,
                    extra=http_ctx(reply.conversation, exc, interaction=self.interaction.id),
                )
                raise PlatformError(f"Discord refused the follow-up ({exc.status}, code {exc.code})") from exc
            self._thinking = False
            self.base.webhooks.remember(str(last.id), self.interaction.followup)
            sent.append(last.id)
        posted = Posted(message_id=post_id(sent), conversation=reply.conversation)
        if not ephemeral:
            await self.base.after_post(reply, posted)
        return posted

    async def _past_token(self, reply: Reply) -> Posted:
        """`reply` once the interaction's token has expired: a public one posted in the
        conversation over REST; a private one lost, logged (once per interaction: what follows
        a lost reply, an apology, would be lost the same way)."""
        self._thinking = False  # it can be neither replaced nor deleted any more
        if not reply.ephemeral_to:
            return await self.base.send(reply)
        if not self._lost_private:
            self._lost_private = True
            log.warning(
                "the interaction's token expired: a private reply could not be sent",
                extra={
                    "platform": "discord",
                    "channel": reply.conversation.channel,
                    "interaction": self.interaction.id,
                },
            )
        return Posted(message_id="", conversation=reply.conversation)

    async def _drop_thinking(self, private_in: str | None = None) -> None:
        """The public "thinking" message removed: nothing replaced it, or a private reply (in
        the language `private_in`) comes next. Discord shows the first follow-up after it in
        its place, public whatever the follow-up asks: when it cannot be deleted before a
        private reply, a neutral public line takes its place first, so the private reply is
        the second follow-up and stays private (if that line fails too, the follow-up raises
        and nothing private is sent)."""
        try:
            await self.interaction.delete_original_response()
        except discord.HTTPException as exc:
            if (exc.status, exc.code) == TOKEN_EXPIRED:
                # nothing can replace it either: no neutral line, a private reply next is lost
                self._token_refused = True
                self._thinking = False
                return
            if private_in is None:
                log.debug("could not remove the thinking message (%s %s)", exc.status, exc.code)
                self._thinking = False
                return
            log.warning(
                "could not remove the thinking message (%s %s); a neutral line takes its place",
                exc.status,
                exc.code,
                extra={"platform": "discord", "interaction": self.interaction.id},
            )
            await self._followup(
                Reply(conversation=self.conversation, text=say("replied_privately", private_in)),
                ephemeral=False,
            )
        self._thinking = False

    async def apologise(self) -> None:
        """Tell the person (only them) that it failed; the core could not say anything."""
        if not self._token_alive():
            return  # nothing private can reach them any more (the failure is logged already)
        sent = await last_resort(
            lambda: self.interaction.followup.send(
                say("error_no_ticket", spoken(self.interaction.locale.value) or "en"),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            ),
            what="apologise for a failed interaction",
            log=log,
        )
        if sent:
            self._thinking = False  # the apology took the "thinking..." message's place

    async def finish(self) -> None:
        """A "thinking..." message nothing replaced would spin forever: remove it. A press
        left open for a form that the core did not open is acknowledged now."""
        await self.acknowledge()
        if self._thinking:
            await self._drop_thinking()
