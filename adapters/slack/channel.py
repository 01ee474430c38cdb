"""`SlackChannel`: the core's Channel (send / edit / open_thread) for Slack.

This module owns putting replies in front of people: thread replies as Block Kit over
chat.postMessage (falling back to plain text when Slack refuses the blocks), edits over
chat.update, ephemeral notes over chat.postEphemeral, and a slash command's or a button
press's response URL (adapters/slack/response_url.py) for the person who typed or pressed
(and for the channel when the bot is not a member). Permalinks for ticket
cards are cached here. How a reply looks is `adapters.slack.render`'s job; finding an
earlier reply after a crash (`bot.ports.FindsReplies`) is adapters/slack/find_reply.py's, and
an earlier ticket card (`bot.ports.FindsPosts`) adapters/slack/find_post.py's; whether a
channel is open to the whole workspace (`bot.ports.KnowsOpenChannels`) the directory's.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import (
    GONE_CODES,
    MAYBE_APPLIED,
    PartlyPosted,
    SlackCallError,
    SlackConversationGone,
    SlackEditRefused,
    SlackPostRefused,
    ctx,
    message_id,
    slack_error,
    split_message_id,
)
from adapters.slack.directory import SlackDirectory, TtlCache
from adapters.slack.find_post import find_post
from adapters.slack.find_reply import REPLY_EVENT, find_reply
from adapters.slack.forms import text_form
from adapters.slack.render import SlackMessage, plain_text, render_reply, render_single
from adapters.slack.response_url import Responding, respond
from bot.errors import MessageGone, PlatformError
from bot.messages import say
from bot.ports import PostChanged
from bot.types import (
    ActionEvent,
    Button,
    ConversationRef,
    InboundMessage,
    Posted,
    Reply,
    ReplyKind,
    own_thread,
)

log = logging.getLogger(__name__)

# Errors about the blocks themselves: the message can still go out as plain text.
_BLOCK_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_too_long", "too_many_blocks"})
# chat.update's answers that the message was not and will not be changed (too old to edit, or
# what it was to show does not fit one message): what it was to show can be posted anew. Any
# other failure (internal_error, a 5xx, a rate limit past the retries) may have been applied:
# posting anew could show the answer twice, so it stays a failure
_NOT_EDITED = frozenset({"cant_update_message", "edit_window_closed", "msg_too_long"})
# A slash command or a press where the bot may not post: answer through the response URL.
_NOT_IN_CHANNEL = frozenset({"not_in_channel", "channel_not_found"})


class SlackChannel:
    """The core's Channel for Slack: answers in threads as Block Kit, ephemeral notes,
    ticket cards with a link to the thread, and edits through chat.update."""

    def __init__(
        self,
        client: AsyncWebClient,
        directory: SlackDirectory,
        *,
        session: aiohttp.ClientSession | None = None,
        retry_interval: float | None = None,
        responding: Responding | None = None,
        trigger_id: str | None = None,
    ) -> None:
        self.client = client
        self.directory = directory
        self._session = session
        self._retry_interval = retry_interval
        self._responding = responding
        self._trigger_id = trigger_id  # a button press's: lets `ask_text` open a modal, once
        self._permalinks: TtlCache[str] = TtlCache()

    def for_command(
        self, *, command_id: str, response_url: str | None, user_id: str, channel_id: str
    ) -> SlackChannel:
        """The same channel, but replies to the command's invoker use its response URL."""
        responding = Responding(
            url=response_url, user_id=user_id, channel_id=channel_id, thread=own_thread(command_id)
        )
        return self._view(responding)

    def for_action(
        self, *, trigger_id: str | None, response_url: str | None, user_id: str, channel_id: str
    ) -> SlackChannel:
        """The same channel for one button press: its trigger id can open one modal, and its
        response URL reaches the one who pressed where Slack will not let the bot post."""
        responding = Responding(url=response_url, user_id=user_id, channel_id=channel_id, pressed=True)
        return self._view(responding, trigger_id)

    def _view(self, responding: Responding, trigger_id: str | None = None) -> SlackChannel:
        view = SlackChannel(
            self.client,
            self.directory,
            session=self._session,
            retry_interval=self._retry_interval,
            responding=responding,
            trigger_id=trigger_id,
        )
        view._permalinks = self._permalinks
        return view

    async def ask_text(self, event: ActionEvent, *, title: str, label: str, initial: str) -> bool:
        """`bot.ports.TextInput`: a modal over views.open with the press's trigger id (valid
        for 3 seconds, once); its submission arrives as a view_submission (events.py)."""
        trigger, self._trigger_id = self._trigger_id, None
        if not trigger:
            return False
        try:
            await self.client.views_open(
                trigger_id=trigger, view=text_form(event, title=title, label=label, initial=initial)
            )
        except SlackApiError as exc:
            log.warning("views.open failed: %s", slack_error(exc), extra=ctx(event.conversation.channel))
            return False
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("views.open failed: %s", type(exc).__name__, extra=ctx(event.conversation.channel))
            return False
        return True

    # Channel protocol ------------------------------------------------------------------

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        if message.conversation.thread is not None:
            return message.conversation
        parsed = split_message_id(message.id)
        return message.conversation.in_thread(parsed[1] if parsed else None)

    async def find_reply(self, message: InboundMessage) -> Posted | None:
        """`bot.ports.FindsReplies`: the bot's post in the thread after `message`
        (adapters/slack/find_reply.py)."""
        return await find_reply(self.client, self.directory, message)

    async def find_post(self, where: ConversationRef, after: datetime, button: Button) -> Posted | None:
        """`bot.ports.FindsPosts`: the bot's earliest post in `where` since `after` that shows
        `button` (adapters/slack/find_post.py)."""
        return await find_post(self.client, self.directory, where, after, button)

    async def open_to_workspace(self, where: ConversationRef) -> bool:
        """`bot.ports.KnowsOpenChannels`, as the directory reads the channel."""
        return await self.directory.open_to_workspace(where.channel)

    async def send(self, reply: Reply) -> Posted:
        messages = render_reply(reply, **await self._render_options(reply))
        if reply.ephemeral_to:
            return await self._send_ephemeral(reply, messages)
        responding = self._responding
        if (
            responding is not None
            and responding.url
            and reply.conversation.channel == responding.channel_id
            and reply.conversation.platform_thread is None
        ):
            try:
                return await self._post_all(reply, messages)
            except SlackCallError as exc:
                if exc.code not in _NOT_IN_CHANNEL or isinstance(exc, PartlyPosted):
                    raise
            # the bot is not in this channel: a slash command or a press can still answer through
            # its URL, whose messages cannot be edited: a partial answer would stay half-written
            # beside the whole one (which the caller posts anew), so none is shown
            if reply.kind is not ReplyKind.THINKING:
                for message in messages:
                    await self._respond(responding.url, message, "in_channel")
            # with no ts to thread under, a command's post is a conversation of its own
            thread = reply.conversation.thread or responding.thread
            return Posted(message_id="", conversation=reply.conversation.in_thread(thread))
        return await self._post_all(reply, messages)

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        # one message, its text shortened to fit if need be (render_single): Slack needs a second
        # message only past ~39,000 characters, so unlike Discord's an edit never outgrows its post
        target = split_message_id(posted.message_id)
        if target is None:
            # ephemeral and response-URL messages cannot be updated through chat.update
            log.debug(
                "not editing a message without a channel ts",
                extra=ctx(posted.conversation.channel),
            )
            return posted
        channel, ts = target
        message = render_single(reply, **await self._render_options(reply))
        try:
            await self.client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
            return posted
        except SlackApiError as exc:
            code = slack_error(exc)
            if code == "message_not_found":  # deleted since it was posted (the asker, a moderator)
                raise MessageGone(f"chat.update failed: {code}") from exc
            if code not in _BLOCK_ERRORS:
                log.warning(
                    "chat.update failed: %s",
                    code,
                    extra=ctx(channel, message_id=posted.message_id),
                )
                refused = SlackEditRefused if code in _NOT_EDITED else SlackCallError
                raise refused("chat.update", code) from exc
            log.warning(
                "chat.update refused the blocks (%s); updating as plain text",
                code,
                extra=ctx(channel),
            )
            plain = plain_text(message)
            try:
                await self.client.chat_update(channel=channel, ts=ts, text=plain.text, blocks=[])
            except SlackApiError as again:
                code = slack_error(again)
                raise (SlackEditRefused if code in _NOT_EDITED else SlackCallError)(
                    "chat.update", code
                ) from again
            return posted

    # posting ---------------------------------------------------------------------------

    async def _render_options(self, reply: Reply) -> dict[str, Any]:
        permalink = await self._permalink(reply.refers_to) if reply.refers_to else None
        return {
            "permalink": permalink,
            "thread_links": [await self._permalink(ref) for ref in reply.links],
            "sources_label": say("sources", reply.language),
        }

    def _thread_ts(self, reply: Reply) -> str | None:
        thread = reply.conversation.platform_thread
        if thread:
            return thread
        # an error or refusal about a top-level message goes in that message's thread
        parsed = split_message_id(reply.in_reply_to)
        if parsed and parsed[0] == reply.conversation.channel:
            return parsed[1]
        return None

    async def resume(self, partial: PartlyPosted) -> Posted:
        """Post the parts of a reply that did not go out (perhaps with another token)."""
        if partial.reply.ephemeral_to:
            return await self._ephemerals(partial.reply, partial.rest, posted=True)
        return await self._post_all(partial.reply, partial.rest, partial.first_ts)

    async def _post_all(self, reply: Reply, messages: list[SlackMessage], first: str | None = None) -> Posted:
        channel = reply.conversation.channel
        thread_ts = self._thread_ts(reply)
        first_ts = first  # given when resuming: the parts before `messages` went out
        last: tuple[str, str] | None = None
        for n, message in enumerate(messages):
            # the first post names the question: a replay after a crash finds it by that
            answers = reply.in_reply_to if first_ts is None else None
            try:
                posted_channel, ts = await self._post(channel, message, thread_ts, answers)
            except SlackCallError as exc:
                if first_ts is None:
                    raise  # nothing went out: the whole reply may be sent again
                raise PartlyPosted(exc, reply=reply, rest=messages[n:], first_ts=first_ts) from exc
            first_ts = first_ts or ts
            last = (posted_channel, ts)
        assert last is not None  # render_reply always returns at least one message
        # DEBUG: the core logs the decision (answered, ticket opened) once per question at INFO
        log.debug(
            "posted %s in %d message(s)",
            reply.kind,
            len(messages),
            extra=ctx(channel, thread_ts=thread_ts, message_id=message_id(*last)),
        )
        # a top-level post starts its own thread: replies to it belong to that conversation
        return Posted(
            message_id=message_id(*last),
            conversation=reply.conversation.in_thread(thread_ts or first_ts),
        )

    async def _post(
        self, channel: str, message: SlackMessage, thread_ts: str | None, answers: str | None = None
    ) -> tuple[str, str]:
        """`answers`: the question's message id, which the post names in its metadata (what
        find_reply knows it by after a crash)."""
        args: dict[str, Any] = {"channel": channel, "unfurl_links": False, "unfurl_media": False}
        if thread_ts:
            args["thread_ts"] = thread_ts
        if answers:
            args["metadata"] = {"event_type": REPLY_EVENT, "event_payload": {"question": answers}}
        try:
            response = await self.client.chat_postMessage(text=message.text, blocks=message.blocks, **args)
        except SlackApiError as exc:
            code = slack_error(exc)
            if code not in _BLOCK_ERRORS:
                log.warning("chat.postMessage failed: %s", code, extra=ctx(channel, thread_ts=thread_ts))
                raise _refusal(code)("chat.postMessage", code) from exc
            # Slack refused the layout, not the message: the words still reach the asker
            log.warning(
                "chat.postMessage refused the blocks (%s); posting plain text",
                code,
                extra=ctx(channel, thread_ts=thread_ts),
            )
            try:
                response = await self.client.chat_postMessage(text=plain_text(message).text, **args)
            except SlackApiError as again:
                code = slack_error(again)
                raise _refusal(code)("chat.postMessage", code) from again
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "chat.postMessage failed: %s",
                type(exc).__name__,
                extra=ctx(channel, thread_ts=thread_ts),
            )
            raise SlackCallError("chat.postMessage", type(exc).__name__) from exc
        return str(response.get("channel") or channel), str(response["ts"])

    async def _send_ephemeral(self, reply: Reply, messages: list[SlackMessage]) -> Posted:
        responding = self._responding
        if responding is None or not responding.url or reply.ephemeral_to != responding.user_id:
            return await self._ephemerals(reply, messages)
        if not responding.pressed:
            try:
                for message in messages:
                    await self._respond(responding.url, message, "ephemeral")
                return Posted(message_id="", conversation=reply.conversation)
            except PlatformError:
                log.warning(
                    "response URL failed; falling back to chat.postEphemeral",
                    extra=ctx(reply.conversation.channel),
                )
            return await self._ephemerals(reply, messages)
        try:
            return await self._ephemerals(reply, messages)
        except SlackCallError as exc:
            if exc.code not in _NOT_IN_CHANNEL or isinstance(exc, PartlyPosted):
                raise
        # a press where Slack lets the bot post nothing (a DM between people, a channel it is
        # not in): Slack refused the first part, so the whole reply goes through the press's URL
        for message in messages:
            await self._respond(responding.url, message, "ephemeral")
        return Posted(message_id="", conversation=reply.conversation)

    async def _ephemerals(self, reply: Reply, messages: list[SlackMessage], posted: bool = False) -> Posted:
        """`messages` over chat.postEphemeral; `posted`: earlier parts of the reply went out."""
        user, channel = reply.ephemeral_to or "", reply.conversation.channel
        thread_ts = self._thread_ts(reply)
        ts = ""
        for n, message in enumerate(messages):
            args: dict[str, Any] = {
                "channel": channel,
                "user": user,
                "text": message.text,
                "blocks": message.blocks,
            }
            if thread_ts:
                args["thread_ts"] = thread_ts
            try:
                response = await self.client.chat_postEphemeral(**args)
            except SlackApiError as exc:
                code = slack_error(exc)
                log.warning("chat.postEphemeral failed: %s", code, extra=ctx(channel, thread_ts=thread_ts))
                failed = SlackCallError("chat.postEphemeral", code)
                if posted or n:
                    raise PartlyPosted(failed, reply=reply, rest=messages[n:], first_ts="") from exc
                raise failed from exc
            ts = str(response.get("message_ts") or "")
        return Posted(message_id=f"ephemeral:{channel}:{ts}", conversation=reply.conversation)

    async def _respond(self, url: str, message: SlackMessage, response_type: str) -> None:
        await respond(url, message, response_type, session=self._session, retry_interval=self._retry_interval)

    async def _permalink(self, ref: ConversationRef) -> str:
        thread = ref.platform_thread
        if thread is None:
            return self.directory.archive_url(ref.channel)
        return await self._permalinks.get(
            f"{ref.channel}:{thread}", lambda: self._load_permalink(ref.channel, thread)
        )

    async def _load_permalink(self, channel: str, ts: str) -> tuple[str, float]:
        try:
            response = await self.client.chat_getPermalink(channel=channel, message_ts=ts)
            return str(response["permalink"]), 3600.0
        except (SlackApiError, aiohttp.ClientError, TimeoutError, KeyError):
            log.warning("chat.getPermalink failed; linking the archive URL", extra=ctx(channel))
            return self.directory.archive_url(channel, ts), 60.0


def _refusal(code: str) -> type[SlackCallError]:
    """The error for chat.postMessage's `code`: gone for good, refused (nothing posted), or a
    failure that may have been applied (Slack says so of these: the message may be out)."""
    if code in GONE_CODES:
        return SlackConversationGone
    return SlackCallError if code in MAYBE_APPLIED else SlackPostRefused
