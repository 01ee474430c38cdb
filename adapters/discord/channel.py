"""The core's Channel on Discord: posting, editing and opening threads over REST.

This module owns turning rendered replies (`adapters/discord/render.py`) into discord.py
calls: `discord.Embed`s, a persistent button view, `allowed_mentions` naming exactly the
pings the core asked for, one message per rendered part (long text is already split; the
post's id names them all, adapters/discord/post_ids.py), replies that quote the question,
edits that bring every part of a post to the new reply (through the interaction webhook for
follow-ups, `WebhookMessages`), threads under a question, an apology that falls back to the parent
channel, and the tag a forum post wears on answer, escalation and resolution. Finding an
earlier reply after a crash (`bot.ports.FindsReplies`) is `adapters/discord/find_reply.py`'s,
an earlier ticket card's (`bot.ports.FindsPosts`) `adapters/discord/find_post.py`'s;
the nonce every reply to a question carries (`reply_nonce`) is this module's second guard.

Every refusal from Discord is logged with the status and code and raised as
`PlatformError` (the core decides what the person then sees). A post of several messages is
shown whole or not at all: a refused part takes back the parts this send or edit added, and a
deleted message takes the rest of its post with it (MessageGone: the caller posts anew).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

import discord

from adapters.discord.commands import SupportButton
from adapters.discord.find_post import button_ids, find_post
from adapters.discord.find_reply import find_reply
from adapters.discord.post_ids import message_ids, post_id
from adapters.discord.render import (
    FORUM_TAG_NAMES,
    ButtonSpec,
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
from bot.errors import ConversationGone, EditRefused, MessageGone, PlatformError, PostRefused
from bot.ports import PostChanged
from bot.types import Button, ConversationRef, InboundMessage, Posted, Reply, ReplyKind

# One logger for the whole adapter, as before the package split: log routing and filters
# name "adapters.discord".
log = logging.getLogger("adapters.discord")

WEBHOOK_TOKEN_SECONDS = 14 * 60  # interaction tokens live 15 minutes; keep a margin
UNKNOWN_MESSAGE = 10008  # Discord's JSON error code for a message that does not exist (deleted)
# a post's refusals that posting again will not cure: the channel or thread is gone (Unknown
# Channel), closed to the bot (Missing Access, Missing Permissions), or a locked archived thread
GONE = frozenset({(404, 10003), (403, 50001), (403, 50013), (400, 50083)})


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


def reply_nonce(reply: Reply, part: int, message: RenderedMessage) -> str | None:
    """The nonce of one part of a reply to a question: the same reply to the same question
    in the same place gets the same nonce, and Discord (`enforce_nonce`, which discord.py
    always sends) then returns the message it already created instead of a second one, for
    a few minutes. So a replay that could not find its predecessor's post (history refused)
    and posts the very same text again still shows one message. Posts that answer no
    particular message keep discord.py's random nonce. At most 25 characters."""
    if not reply.in_reply_to:
        return None
    ref = reply.conversation
    key = "\n".join(
        (ref.thread or ref.channel, reply.in_reply_to, str(reply.kind), str(part), message.content)
    )
    return hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


def http_ctx(ref: ConversationRef, exc: discord.HTTPException, **more: object) -> dict[str, object]:
    """The log fields of a refusal from Discord: where, status and code (never the token)."""
    return {
        "platform": PLATFORM,
        "channel": ref.channel,
        "thread_id": ref.thread,
        "status": exc.status,
        "code": exc.code,
        **more,
    }


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
        try:
            thread = await channel.get_partial_message(int(message.id)).create_thread(name=thread_name(title))
        except discord.HTTPException as exc:
            if exc.code == 160004:
                # Someone (or an earlier attempt) already started it; it has the message's id.
                return ref.in_thread(message.id)
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
                (exc.status, exc.code) == (404, 10003)
                and ref.thread is not None
                and ref.thread == reply.in_reply_to
                and isinstance(self.client.get_channel(int(ref.channel)), discord.TextChannel)
            ):
                # the thread started from the question was deleted while it was answered (its
                # id is the question's): the reply goes under the question in the channel
                log.warning(
                    "the question's thread is gone; replying in the channel", extra=http_ctx(ref, exc)
                )
                return await self.send(replace(reply, conversation=ref.in_thread(None)))
            if reply.kind == ReplyKind.ERROR:
                fallback = await self._apology_fallback(reply)
                if fallback is not None:
                    return fallback
            refused: type[PlatformError] = PlatformError  # a 5xx may have been applied
            if (exc.status, exc.code) in GONE:
                refused = ConversationGone
            elif exc.status < 500 and not sent:
                refused = PostRefused  # refused outright: none of it is out
            raise refused(f"Discord refused the message ({exc.status}, code {exc.code})") from exc
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
        if message.reference is not None:
            kwargs["reference"] = discord.MessageReference(
                message_id=message.reference,
                # the question is where the reply goes: the thread it was asked in
                channel_id=int(reply.conversation.thread or reply.conversation.channel),
                fail_if_not_exists=False,
            )
        nonce = reply_nonce(reply, part, message)
        if nonce is not None:
            kwargs["nonce"] = nonce
        sent: discord.Message = await target.send(**kwargs)
        if nonce is not None and button_ids(sent) != [b.custom_id for b in message.buttons]:
            # Discord returned the earlier post of a dead process: same text, but its
            # buttons name that process's answer id. Ours replace them.
            sent = await sent.edit(view=kwargs.get("view"))
        return sent

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
