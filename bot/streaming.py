"""Showing an answer while a model writes it, within each platform's edit budget."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot.errors import EditRefused, MessageGone
from bot.ports import Channel
from bot.types import ConversationRef, Posted, Reply, ReplyKind

log = logging.getLogger(__name__)


class StreamingReply:
    """Shows an answer while it is being written: the first text is posted, later text
    edits that message at most once per `interval` seconds (the platforms' edit budgets),
    and `finish` replaces it with the final reply (or posts the final reply if nothing
    was streamed, as with the offline answerer).

    The edits run beside the model, not in its way: a platform that rate-limits one (a 429
    with Retry-After, waited out by the platform's client) must not hold the model's stream
    past its deadline, so an edit is handed to a task of its own, one at a time, and the
    model's text goes on arriving. A partial edit that fails is logged and left to the final
    reply, which replaces it; `finish` stops an edit still in flight before it edits, so the
    final reply is never overwritten by a partial one. A partial answer stays in the first
    message (cut to fit, on a platform with a length limit); the final reply is shown whole,
    in as many messages as it needs (`Channel.edit`)."""

    def __init__(
        self,
        channel: Channel,
        conversation: ConversationRef,
        *,
        interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        resume: Posted | None = None,
        on_post: Callable[[Posted], Awaitable[None]] | None = None,
        in_reply_to: str | None = None,
        instead: Posted | None = None,
    ) -> None:
        """`resume`: a message already showing an answer (or part of one), which this one
        replaces in place (the asker edited the question, or a replay after a crash) instead
        of posting a new one. `on_post` is awaited right after the first post exists, so its
        id is known before anything is streamed into it, and again each time the final reply
        changes the messages showing it (`Channel.edit`'s `on_change`) or is posted anew.
        `in_reply_to`: the question's message id, which the first post names as the final
        reply does (a platform shows it, and a replay looking for this post knows it by it:
        bot.ports.FindsReplies). `instead`: the post to answer in if `resume` is gone (a
        replay's post, which the record may not name yet); without it, a new message."""
        self.channel = channel
        self.conversation = conversation
        self.interval = interval
        self.monotonic = monotonic
        self.posted: Posted | None = resume
        self.on_post = on_post
        self.in_reply_to = in_reply_to
        self.edits = 0
        self._last = 0.0
        self._editing: asyncio.Task[None] | None = None  # the partial edit in flight
        self._instead = instead

    def _partial(self, text: str) -> Reply:
        return Reply(
            conversation=self.conversation,
            text=f"{text} …",
            kind=ReplyKind.THINKING,
            in_reply_to=self.in_reply_to,
        )

    def ready(self) -> bool:
        """Whether a text sent now would be shown: nothing is posted yet, or an edit is due
        and none is in flight (bot.ports.StreamSink)."""
        if self.posted is None:
            return True
        if not self.posted.message_id:
            return False  # cannot be edited: the final reply will follow as its own message
        editing = self._editing is not None and not self._editing.done()
        return not editing and self.monotonic() - self._last >= self.interval

    async def __call__(self, text_so_far: str) -> None:
        self._stopped()
        if not text_so_far.strip() or not self.ready():
            return
        now = self.monotonic()
        if self.posted is None:
            self.posted = await self.channel.send(self._partial(text_so_far))
            await self._posted(self.posted)
        else:
            self._editing = asyncio.create_task(self._edit(self.posted, self._partial(text_so_far)))
            await asyncio.sleep(0)  # the edit starts now (its request goes out), then runs beside
        self._last = now

    async def _edit(self, posted: Posted, partial: Reply) -> None:
        try:
            await self.channel.edit(posted, partial)
        except MessageGone:
            log.info("the post being answered in was deleted; the answer goes elsewhere")
            # no more edits of it: the next go to `instead`, or `finish` posts anew
            self.posted, self._instead = self._instead or replace(posted, message_id=""), None
            return
        except Exception as exc:
            # the final reply replaces this one, or fails on its own and is handled there
            log.warning(
                "a partial answer was not shown (%s); the final reply replaces it", type(exc).__name__
            )
            return
        self.edits += 1

    async def aclose(self) -> None:
        """Stop a partial edit still in flight (waiting out a rate limit's Retry-After) and wait
        until it is over: whatever is said in the post next never lies under a partial answer."""
        editing = self._editing
        if editing is not None and not editing.done():
            editing.cancel()
            await asyncio.wait([editing])
        self._stopped()

    def _stopped(self) -> None:
        """Raise what ended the last partial edit if it ends the handling: only a BaseException
        gets out of `_edit`, such as bot/fence.py's TakenOver (another worker holds the event
        now), and it stops the stream here as it would have stopped a post."""
        editing = self._editing
        if editing is not None and editing.done() and not editing.cancelled():
            stop = editing.exception()
            if stop is not None:
                raise stop

    async def finish(self, reply: Reply) -> Posted:
        await self.aclose()  # the final text supersedes a partial one
        while self.posted is not None and self.posted.message_id:
            try:
                # the final reply may need more messages than the one streamed into (a platform's
                # length limit): the post as it now is, all its messages, is what the record keeps
                self.posted = await self.channel.edit(self.posted, reply, self._posted)
                return self.posted
            except MessageGone:  # deleted by a person while written, or before a replay came back
                log.info("the post being answered in was deleted; the answer goes elsewhere")
                self.posted, self._instead = self._instead, None
            except EditRefused as exc:
                # the platform will not take the edit (a message past editing) and the message
                # shows what it did: the answer goes to `instead` (a replay's post, said anew
                # before a crash), else is said anew below, rather than lost for an apology (an
                # edit refused part way is the caller's failure: a copy would repeat that part)
                log.warning("the answer's message could not be updated (%s); answering elsewhere", exc)
                self.posted, self._instead = self._instead, None
        # nothing streamed, or the platform gave no handle to edit (a slash command's response
        # URL), or the post is gone: the final reply is a message of its own
        posted = await self.channel.send(reply)
        await self._posted(posted)
        return posted

    async def _posted(self, posted: Posted) -> None:
        if self.on_post is not None and posted.message_id:
            await self.on_post(posted)
