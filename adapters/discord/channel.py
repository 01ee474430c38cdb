"""The core's Channel on Discord: posting, editing and opening threads over REST.

This module owns turning rendered replies (`adapters/discord/render.py`) into discord.py
calls (what each message is made of: `adapters/discord/outgoing.py`): one message per
rendered part (long text is already split; the post's id names them all,
adapters/discord/post_ids.py), replies that quote the question (without the quote where the
bot may not read the history: Discord refuses such a reply), edits that bring every part of
a post to the new reply (through the interaction webhook for follow-ups, `WebhookMessages`),
threads under a question (none where the bot could not post in one: the reply goes under
the question instead), an apology that falls back to the parent channel, and the tag a forum
post wears on answer, escalation and resolution. Finding an earlier reply after a crash
(`bot.ports.FindsReplies`) is `adapters/discord/find_reply.py`'s, an earlier ticket card's
(`bot.ports.FindsPosts`) `adapters/discord/find_post.py`'s; the nonce every reply to a
question carries (`reply_nonce`) is this module's second guard.

Every refusal from Discord is logged with the status and code and raised as
`PlatformError` (the core decides what the person then sees). A post of several messages is
shown whole or not at all: a refused part takes back the parts this send or edit added, and a
deleted message takes the rest of its post with it (MessageGone: the caller posts anew). A
post to a deleted channel, thread or forum post is ConversationDeleted: nobody is left there;
so is a thread for a question deleted before it started. A thread its moderators locked is
ThreadLocked, and no apology goes to its parent instead.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

import discord

from adapters.discord.find_post import button_ids, find_post
from adapters.discord.find_reply import find_reply
from adapters.discord.outgoing import WebhookMessages, http_ctx, may, message_kwargs, reply_nonce
from adapters.discord.post_ids import message_ids, post_id
from adapters.discord.render import (
    FORUM_TAG_NAMES,
    RenderedMessage,
    forum_tag_for,
    neutralise,
    normalise_tag_name,
    render_edit,
    render_reply,
    thread_name,
    truncate,
)
from adapters.discord.split import CONTENT_LIMIT
from adapters.discord.translate import PLATFORM
from bot import faults
from bot.errors import (
    ConversationDeleted,
    ConversationGone,
    EditRefused,
    MessageGone,
    PlatformError,
    PostRefused,
    ThreadLocked,
)
from bot.ports import PostChanged
from bot.types import Button, ConversationRef, InboundMessage, Posted, Reply, ReplyKind

# One logger for the whole adapter, as before the package split: log routing and filters
# name "adapters.discord".
log = logging.getLogger("adapters.discord")

UNKNOWN_MESSAGE = 10008  # Discord's JSON error code for a message that does not exist (deleted)
DELETED = (404, 10003)  # Unknown Channel: the channel, thread or forum post no longer exists
# closed to the bot: Missing Access, Missing Permissions
SHUT_OUT = frozenset({(403, 50001), (403, 50013)})
LOCKED = (400, 50083)  # Thread is archived: one its moderators locked (the bot reopens any other)
# a post's refusals that posting again will not cure: the channel or thread is gone, closed to
# the bot, or a locked archived thread
GONE = frozenset({DELETED, *SHUT_OUT, LOCKED})
CANNOT_REPLY = 160002  # a reply (a quote of the question) needs Read Message History


async def _told(on_change: PostChanged | None, now: Posted) -> None:
    if on_change is not None:
        await on_change(now)


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

    async def find_reply(self, message: InboundMessage) -> Posted | None:
        """`bot.ports.FindsReplies`: the bot's post answering `message`, read from Discord's
        history where `send` would have put it (adapters/discord/find_reply.py)."""
        return await find_reply(self.client, message)

    async def find_post(self, where: ConversationRef, after: datetime, button: Button) -> Posted | None:
        """`bot.ports.FindsPosts`: the bot's message in `where` showing `button` (find_post.py)."""
        return await find_post(self.client, where, after, button)

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        ref = message.conversation
        if ref.thread is not None or ref.workspace == "dm" or not message.id.isdigit():
            return ref
        channel = self.client.get_channel(int(ref.channel))
        if not isinstance(channel, discord.TextChannel):
            return ref  # voice-channel chat and the like have no threads: answer in place
        if not (may(channel, "create_public_threads") and may(channel, "send_messages_in_threads")):
            # a thread the bot could start but not post in would hold the question and nothing
            # else, and its answer refused there could never be said
            log.warning(
                "may not start threads here or post in them; answering in the channel",
                extra={"platform": PLATFORM, "channel": ref.channel, "message_id": message.id},
            )
            return ref
        try:
            thread = await channel.get_partial_message(int(message.id)).create_thread(name=thread_name(title))
        except discord.HTTPException as exc:
            if exc.code == 160004:
                # Someone (or an earlier attempt) already started it; it has the message's id.
                return ref.in_thread(message.id)
            if (exc.status, exc.code) == (404, UNKNOWN_MESSAGE):
                # deleted by its asker or a moderator before its thread started: an answer in
                # the channel would answer a question nobody can see any more
                raise ConversationDeleted(f"Discord: the question is gone ({exc.code})", ref) from exc
            log.warning(
                "could not start a thread; answering in the channel",
                extra=http_ctx(ref, exc, message_id=message.id),
            )
            return ref
        log.debug(
            "thread started", extra={"platform": PLATFORM, "channel": ref.channel, "thread_id": thread.id}
        )
        return ref.in_thread(str(thread.id))

    async def send(self, reply: Reply) -> Posted:
        rendered = render_reply(reply)
        target = self.messageable(reply.conversation)
        sent: list[int] = []
        try:
            for part, message in enumerate(rendered):
                if part:
                    faults.point("answer.part")  # the first parts are out, not the rest
                sent.append((await self._post_part(target, reply, part, message)).id)
        except discord.HTTPException as exc:
            log.error(
                "Discord refused a message (%s %s): %s",
                exc.status,
                exc.code,
                exc.text,
                extra=http_ctx(reply.conversation, exc, kind=str(reply.kind)),
            )
            if sent:  # shown whole or not at all: the first parts are taken back
                first = Posted(message_id=post_id(sent), conversation=reply.conversation)
                await self._delete_parts(first, sent)
            ref = reply.conversation
            if (
                (exc.status, exc.code) in {DELETED, *SHUT_OUT}
                and ref.thread is not None
                and ref.thread == reply.in_reply_to
                and isinstance(self.client.get_channel(int(ref.channel)), discord.TextChannel)
            ):
                # the thread started from the question (its id is the question's) was deleted
                # while it was answered, or takes nothing from the bot (Send Messages in Threads
                # denied): the reply goes under the question in the channel
                log.warning(
                    "the question's thread is gone or closed to the bot; replying in the channel",
                    extra=http_ctx(ref, exc),
                )
                return await self.send(replace(reply, conversation=ref.in_thread(None)))
            if reply.kind == ReplyKind.ERROR and (exc.status, exc.code) != LOCKED:
                # not in a locked thread's parent: a public "try again" at what staff closed
                fallback = await self._apology_fallback(reply)
                if fallback is not None:
                    return fallback
            said = f"Discord refused the message ({exc.status}, code {exc.code})"
            if (exc.status, exc.code) == DELETED:
                raise ConversationDeleted(said, reply.conversation) from exc
            refused: type[PlatformError] = PlatformError  # a 5xx may have been applied
            if (exc.status, exc.code) == LOCKED:
                refused = ThreadLocked
            elif (exc.status, exc.code) in GONE:
                refused = ConversationGone
            elif exc.status < 500 and not sent:
                refused = PostRefused  # refused outright: none of it is out
            raise refused(said) from exc
        posted = Posted(message_id=post_id(sent), conversation=reply.conversation)
        # DEBUG: the core logs the decision (answered, ticket opened) once per question at INFO
        log.debug(
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

    async def _post_part(
        self, target: Any, reply: Reply, part: int, message: RenderedMessage
    ) -> discord.Message:
        """Post one message of `reply` (its `part`th) in `target`."""
        kwargs = message_kwargs(message)
        if message.reference is not None and may(target, "read_message_history"):
            kwargs["reference"] = discord.MessageReference(
                message_id=message.reference,
                # the question is where the reply goes: the thread it was asked in
                channel_id=int(reply.conversation.thread or reply.conversation.channel),
                fail_if_not_exists=False,
            )
        nonce = reply_nonce(reply, part, message)
        if nonce is not None:
            kwargs["nonce"] = nonce
        try:
            sent: discord.Message = await target.send(**kwargs)
        except discord.Forbidden as exc:
            if exc.code != CANNOT_REPLY or "reference" not in kwargs:
                raise
            # Read Message History denied where the cache could not tell (a thread it does not
            # hold, an overwrite changed since): the part goes without its quote of the
            # question rather than not at all (nothing of it was posted)
            log.warning(
                "may not quote the question here; posting without the quote",
                extra=http_ctx(reply.conversation, exc),
            )
            del kwargs["reference"]
            sent = await target.send(**kwargs)
        if nonce is not None and button_ids(sent) != [b.custom_id for b in message.buttons]:
            # Discord returned the earlier post of a dead process: same text, but its
            # buttons name that process's answer id. Ours replace them.
            sent = await sent.edit(view=kwargs.get("view"))
        return sent

    async def _apology_fallback(self, reply: Reply) -> Posted | None:
        """An apology that could not be posted in a thread goes to its parent channel, unless
        that is a forum (or media channel), which takes posts but no messages."""
        ref = reply.conversation
        if ref.thread is None or isinstance(self.client.get_channel(int(ref.channel)), discord.ForumChannel):
            return None
        parent = ref.in_thread(None)
        try:
            sent = await self.messageable(parent).send(
                content=neutralise(truncate(reply.text, CONTENT_LIMIT)),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as exc:
            log.error("could not post the apology anywhere", extra=http_ctx(parent, exc))
            return None
        return Posted(message_id=str(sent.id), conversation=parent)

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        """Show `reply` in the messages of `posted` (adapters/discord/post_ids.py): each part in
        its message, in order; the parts it lacks posted after them (a streamed answer outgrew
        its one message), the messages it no longer needs deleted (a revision came out
        shorter), `on_change` told of each. A partial answer being written (THINKING) stays in
        the first message, cut to fit: the final reply replaces it whole. Returns the post as
        it now is. A post is shown whole or not at all (`bot.ports.Channel.edit`): a message of
        it deleted (the asker, a moderator) takes the rest with it, MessageGone, and the caller
        posts anew; a refusal takes back the parts this edit added (all best effort)."""
        ids = message_ids(posted.message_id)
        if ids is None:
            return posted  # never posted on Discord (a muted announcement)
        partial = reply.kind == ReplyKind.THINKING
        rendered = [render_edit(reply)] if partial else render_reply(reply)
        shown: list[int] = []
        try:
            for part, message in enumerate(rendered):
                if part < len(ids):
                    await self._edit_part(posted, ids[part], message)
                    shown.append(ids[part])
                    continue
                faults.point("answer.part")  # the first parts are shown, not the rest
                shown.append(await self._add_part(posted, shown[-1], reply, part, message))
                await _told(on_change, replace(posted, message_id=post_id(shown)))
            if not partial and len(ids) > len(rendered):
                for surplus in ids[len(rendered) :]:
                    await self._delete_part(posted, surplus)
                await _told(on_change, replace(posted, message_id=post_id(shown)))
        except discord.HTTPException as exc:
            if exc.status == 404 and exc.code == UNKNOWN_MESSAGE:  # deleted (the asker, a moderator)
                await self._delete_parts(posted, [*ids, *shown[len(ids) :]])
                raise MessageGone(f"Discord: the message to edit is gone ({exc.code})") from exc
            if (exc.status, exc.code) == (404, 10003):  # its thread deleted: the post with it
                raise MessageGone("Discord: the channel of the message to edit is gone") from exc
            log.error(
                "could not update a message (%s %s)",
                exc.status,
                exc.code,
                extra=http_ctx(posted.conversation, exc, message_id=posted.message_id),
            )
            added = shown[len(ids) :]
            if added:  # the post as it was, but for parts that could not be taken back
                kept = await self._delete_parts(posted, added)
                await _told(on_change, replace(posted, message_id=post_id([*ids, *kept])))
            refused = f"Discord refused the edit ({exc.status}, code {exc.code})"
            if not shown and exc.status < 500:  # refused outright (a 5xx may have been applied)
                raise EditRefused(refused) from exc
            raise PlatformError(refused) from exc
        now = posted if partial else replace(posted, message_id=post_id(shown))
        await self.after_post(reply, now, edited=True)
        return now

    async def _edit_part(self, posted: Posted, message_id: int, message: RenderedMessage) -> None:
        kwargs = message_kwargs(message)
        # An edit replaces everything: no buttons means remove them, no sources likewise.
        kwargs.setdefault("view", None)
        kwargs.setdefault("embeds", [])
        webhook = self.webhooks.get(str(message_id))
        if webhook is not None:
            await webhook.edit_message(message_id, **kwargs)
        else:
            await self.messageable(posted.conversation).get_partial_message(message_id).edit(**kwargs)

    async def _add_part(
        self, posted: Posted, after: int, reply: Reply, part: int, message: RenderedMessage
    ) -> int:
        """Post a part the post lacks, the way its earlier parts went: an interaction's follow-up
        through its webhook (where the bot may not post itself), else in the conversation."""
        webhook = self.webhooks.get(str(after))
        if webhook is None:
            return (await self._post_part(self.messageable(posted.conversation), reply, part, message)).id
        followup = await webhook.send(**message_kwargs(message), wait=True)
        self.webhooks.remember(str(followup.id), webhook)
        return followup.id

    async def _delete_parts(self, posted: Posted, message_ids: list[int]) -> list[int]:
        """Delete what can be of these messages of `posted`; the ones Discord kept."""
        kept: list[int] = []
        for message_id in message_ids:
            try:
                await self._delete_part(posted, message_id)
            except discord.HTTPException as exc:
                log.warning("could not delete a message", extra=http_ctx(posted.conversation, exc))
                kept.append(message_id)
        return kept

    async def _delete_part(self, posted: Posted, message_id: int) -> None:
        webhook = self.webhooks.get(str(message_id))
        try:
            if webhook is not None:
                await webhook.delete_message(message_id)
            else:
                await self.messageable(posted.conversation).get_partial_message(message_id).delete()
        except discord.NotFound:
            pass  # gone already (an earlier try deleted it, or a moderator did)

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
            log.warning("could not tag the forum post %r", wanted, extra=http_ctx(ref, exc))
