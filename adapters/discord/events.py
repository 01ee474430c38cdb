"""Events: what happens when Discord tells the bot something, up to handing it to the core.

This module owns the handling of each event discord.py dispatches to the adapter (a message,
an edited message, a new forum post, a slash command, a button press): filtering out what
is not for the core, translating (`adapters/discord/translate.py`), and calling the core with
the Channel for that event (`adapters/discord/event_channels.py`). What an interaction needs
on the way (acknowledged first thing: Discord allows 3 seconds) is
`adapters/discord/interactions.py`'s.

Each event runs as its own task in the adapter's `InFlight`, so shutdown can wait for the
answers being written. Nothing escapes unlogged: an event that cannot be read is logged and
skipped, a failed one is logged with its traceback and the person gets a short apology
where possible.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import discord

from adapters.discord.channel import DiscordChannel
from adapters.discord.event_channels import MessageChannel
from adapters.discord.interactions import Interactions
from adapters.discord.translate import PLATFORM, MessageTranslator
from adapters.inflight import INDICATOR_AFTER_S, InFlight, last_resort
from adapters.rate_limited_log import RateLimitedLog
from bot.commands import CommandSpec
from bot.config import Settings
from bot.messages import say
from bot.policy import detect_language
from bot.ports import Core
from bot.types import InboundMessage, Reply, ReplyKind

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)
# the read-back ids remembered (`as_heard_live`): a few read-backs' worth
READ_BACK_KEPT = 10_000
# the most new forum posts kept as not read (`unread_posts`)
UNREAD_POSTS_KEPT = 1_000
# a channel look-up the API or the network failed (a 5xx, a dropped connection): tried again
# after each of these pauses, seconds. A thread discord.py no longer caches (archived, say) is
# looked up for every follow-up in it: read without it, the follow-up passes for a message in
# a channel, not in the bot's thread, and is not answered
LOOKUP_PAUSES = (0.5, 2.0, 5.0)


class Events:
    """Discord's events for the core; the `InteractionHandler` of the command tree and buttons.

    The entry points only decide whether an event concerns the core and start its task;
    the work happens in that task.
    """

    def __init__(
        self,
        core: Core,
        settings: Settings,
        client: discord.Client,
        channel: DiscordChannel,
        inflight: InFlight,
        *,
        typing_after: float = INDICATOR_AFTER_S,
    ) -> None:
        self.core = core
        self.settings = settings
        self.client = client
        self.channel = channel
        self.inflight = inflight
        self.interactions = Interactions(core, channel)  # where commands, presses and forms go
        # told of a message the core could not record (adapters/discord/heard.py): Discord
        # never sends it again, so nothing heard after it may be noted past it
        self.on_refused: Callable[[InboundMessage], None] | None = None
        self.on_taken: Callable[[InboundMessage], None] | None = None  # an edit the core took
        self.read_back: dict[str, None] = {}  # ids handed over by a read-back, the latest
        # new forum posts whose first message could not be fetched (for now), the latest: a
        # read-back that handed one over has not read it
        self.unread_posts: dict[int, None] = {}
        self.typing_after = typing_after
        # messages discord.py could read but we cannot translate: anyone can send them, so one
        # line a second at most and no traceback, like the dispatches discord.py cannot read
        self.unreadable = RateLimitedLog(
            log, more="could not read %d more Discord message(s), last: %s", extra={"platform": PLATFORM}
        )
        # Set once logged in (it needs the bot's user id); messages before that are ignored.
        self.translator: MessageTranslator | None = None

    # -- entry points (called from discord.py's event tasks)

    def on_message(self, message: discord.Message) -> asyncio.Task[None] | None:
        """Handle `message` in flight; its task (a read-back waits for it), None if not yet serving."""
        if self.translator is None:
            return None
        return self.inflight.start(
            self.handle_message(message), name=f"supportbot-discord-message-{message.id}"
        )

    def on_message_edit(self, before: discord.Message | None, after: discord.Message) -> None:
        """`after` edited; `before` as discord.py's cache held it, None if it held none (the
        text may then be as before: the inbox and the answer's revision take it once)."""
        # Discord also sends updates for link previews and pins: only a changed text is an edit.
        if after.edited_at is None or (before is not None and before.content == after.content):
            return
        if self.translator is not None:
            self.inflight.start(
                self.handle_message(after, edited=True), name=f"supportbot-discord-edit-{after.id}"
            )

    def on_thread_create(self, thread: discord.Thread) -> asyncio.Task[None] | None:
        """A new post in a configured forum: its first message is the question (its task, as
        `on_message`'s; None for any other thread)."""
        user = self.client.user
        if self.translator is None or user is None:
            return None
        if str(thread.parent_id) not in self.settings.discord.forum_channels:
            return None
        if thread.owner_id == user.id:
            return None
        return self.inflight.start(
            self.handle_forum_post(thread), name=f"supportbot-discord-post-{thread.id}"
        )

    async def handle_command(
        self, interaction: discord.Interaction, spec: CommandSpec, values: Mapping[str, Any]
    ) -> None:
        self.inflight.start(
            self.interactions.run_command(interaction, spec, values),
            name=f"supportbot-discord-command-{interaction.id}",
        )

    async def handle_button(self, interaction: discord.Interaction, custom_id: str) -> None:
        self.inflight.start(
            self.interactions.press_button(interaction, custom_id),
            name=f"supportbot-discord-button-{interaction.id}",
        )

    def on_modal_submit(self, interaction: discord.Interaction) -> None:
        """A form the core asked for (`InteractionChannel.ask_text`) was submitted."""
        self.inflight.start(
            self.interactions.submit_form(interaction), name=f"supportbot-discord-form-{interaction.id}"
        )

    # -- messages

    async def _resolve_channel(self, message: discord.Message) -> Any:
        """The message's channel; fetched when the gateway sent a message before its thread
        (Discord does not order MESSAGE_CREATE and THREAD_CREATE for new forum posts)."""
        channel = message.channel
        if not isinstance(channel, discord.PartialMessageable) or message.guild is None:
            return channel
        for pause in (*LOOKUP_PAUSES, None):
            try:
                return await self.client.fetch_channel(channel.id)
            except (discord.NotFound, discord.Forbidden) as exc:  # gone, or not ours to see
                failure = f"{exc.status} {exc.code}"
                break
            except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
                failure = f"{exc.status}" if isinstance(exc, discord.HTTPException) else type(exc).__name__
                if pause is None:
                    break
                await asyncio.sleep(pause)
        log.warning(
            "could not look up a channel (%s); reading the message without it",
            failure,
            extra={"platform": PLATFORM, "channel": channel.id},
        )
        return channel

    async def as_heard_live(self, message: discord.Message, members: dict[int, Any]) -> discord.Message:
        """A message read back over REST, as the gateway would have sent it (`with_member`).
        It is noted as read back: refused, it gets no apology (said before the session: its
        asker was told when it was refused live, or it was answered then)."""
        self.read_back[str(message.id)] = None
        if len(self.read_back) > READ_BACK_KEPT:
            del self.read_back[next(iter(self.read_back))]
        return await with_member(message, members)

    async def handle_message(self, message: discord.Message, *, edited: bool = False) -> None:
        if self.translator is None:
            return
        channel = await self._resolve_channel(message)
        try:
            inbound = self.translator.translate(message, channel, edited=edited)
        except Exception as exc:  # what a sender put in it: this message's problem only
            self._unreadable("a Discord message", exc)
            return
        if inbound is not None:
            await self.deliver(inbound)

    async def handle_forum_post(self, thread: discord.Thread) -> None:
        if self.translator is None:
            return
        try:
            starter = thread.starter_message or await thread.fetch_message(thread.id)
        except discord.HTTPException as exc:
            log.warning(
                "could not read a new forum post",
                extra={"platform": PLATFORM, "thread_id": thread.id, "status": exc.status},
            )
            if not isinstance(exc, (discord.Forbidden, discord.NotFound)):  # gone or refused for good
                self.unread_posts[thread.id] = None
                while len(self.unread_posts) > UNREAD_POSTS_KEPT:
                    del self.unread_posts[next(iter(self.unread_posts))]
            return
        self.unread_posts.pop(thread.id, None)
        # read over REST when the post's own message was not heard first: its poster's roles
        # decide whether they are staff and which audiences' documents they may be quoted
        starter = await with_member(starter, {})
        try:
            inbound = self.translator.translate(starter, thread)
        except Exception as exc:
            self._unreadable("a new forum post", exc)
            return
        if inbound is not None:
            await self.deliver(inbound)

    def _unreadable(self, what: str, exc: Exception) -> None:
        kind = f"{what} {type(exc).__name__}"
        self.unreadable.write(kind, f"could not read {what} ({type(exc).__name__}); skipped it", last=kind)

    async def deliver(self, inbound: InboundMessage, *, again: bool = False) -> bool:
        """Hand a message to the core; whether it took it (a failure is logged, never raised
        into discord.py). `again`: one it refused before (adapters/discord/holes.py), handed
        over once more: its asker was told already."""
        channel = MessageChannel(self.channel, typing_after=self.typing_after)
        accepted = asyncio.Event()
        try:
            await self.core.on_message(inbound, channel, accepted=accepted)
        except Exception:
            if accepted.is_set():  # in the inbox: a replay finishes it
                log.exception("failed to handle a Discord message", extra=_where(inbound))
                return True
            # the core could not even record the message (its store failed): it is handed over
            # again (`on_refused`); say so, if it was ours
            if self.on_refused is not None:
                self.on_refused(inbound)
            log.exception("the core could not take a Discord message", extra=_where(inbound))
            if inbound.addressed and not again and (inbound.edit_of or inbound.id) not in self.read_back:
                later = self.on_refused is not None
                sorry = Reply(
                    conversation=inbound.conversation,
                    text=say(
                        "error_answer_later" if later else "error_no_ticket", detect_language(inbound.text)
                    ),
                    kind=ReplyKind.ERROR,
                )
                await last_resort(
                    lambda: self.channel.send(sorry), what="apologise for a failed Discord message", log=log
                )
            return False
        finally:
            await channel.finish()
        if inbound.edit_of is not None and self.on_taken is not None:
            self.on_taken(inbound)
        return True


def _where(inbound: InboundMessage) -> dict[str, str]:
    return {"platform": PLATFORM, "channel": inbound.conversation.channel, "message_id": inbound.id}


async def with_member(message: discord.Message, members: dict[int, Any]) -> discord.Message:
    """`message` with its author's guild member, roles and all, as the gateway sends it: REST
    carries no member, and without the members intent discord.py has none cached, so staff
    would pass for askers (a staff reply in a bot thread answered instead of taken over) and
    an audience's members would be refused its documents. The member is fetched once per
    author in `members`; one that cannot be fetched (gone, the API or the network failing)
    leaves the message as it came: a failed look-up must never stop it being handed over."""
    guild = message.guild
    author = message.author
    if guild is None or isinstance(author, discord.Member) or author.bot or message.webhook_id:
        return message  # a bot or a webhook is never staff, and has no member to fetch
    if author.id not in members:
        try:
            members[author.id] = await guild.fetch_member(author.id)
        except Exception as exc:  # anything (a 404, a dropped connection): as it came
            members[author.id] = None
            log.debug(
                "could not fetch a member (%s)",
                type(exc).__name__,
                extra={"platform": PLATFORM, "status": getattr(exc, "status", None)},
            )
    member = members[author.id]
    if member is not None:
        message.author = member
    return message
