"""The channel an event is handled through: it tells the inbox which post shows the answer.

A `NotingChannel` wraps the platform's Channel for one event (bot/delivery.py makes one per
handling). It owns rule 2 of bot/inbox.py: the first post made for the event is noted in the
inbox before anything is streamed into it, so a replay after a crash edits that post instead
of posting a second answer; and it keeps track of a post showing a half-written answer, which
an apology then replaces.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot import faults
from bot.errors import EditRefused, MessageGone
from bot.ports import Channel, PostChanged
from bot.types import ConversationRef, InboundMessage, Posted, Reply, ReplyKind

log = logging.getLogger(__name__)


class NotingChannel:
    """A Channel that tells the inbox about the first post made for an event (bot/inbox.py,
    rule 2). A whole answer (ReplyKind.ANSWER, posted complete: nothing was streamed) is the
    handler's last act before the finish, so its note is left to the finish, which writes it
    in the same transaction (`take`): one trip to the store per answer fewer, and no wider
    window than a note of its own would leave. Anything done on the channel after it (an
    edit, another post) writes the note first, as for any other first post. An edit that
    changes which messages show the event's post (a streamed answer that outgrew its one
    Discord message) notes the post again, as it now is, at each change (`Channel.edit`'s
    `on_change`); an edit that finds it deleted, or past editing, forgets it (`_forget`)."""

    def __init__(
        self,
        inner: Channel,
        note: Callable[[Posted], Awaitable[None]],
        resume: Posted | None = None,
        fence: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.inner = inner
        self.note = note
        # before each post, edit or thread: is the event still this worker's (bot/fence.py)
        self.fence = fence
        self.noted = False
        self._unwritten: Posted | None = None  # noted, left for the finish to write
        self._replaced = False  # the first post was deleted or is past editing (`_forget`)
        self._post = resume  # the event's post, as the inbox knows it
        self.partial: Posted | None = None  # a post showing a half-written answer (THINKING)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # e.g. the platform's edit_interval

    async def send(self, reply: Reply) -> Posted:
        if self.fence is not None:
            await self.fence()
        await self._write()
        posted = await self.inner.send(reply)
        faults.point("answer.sent")  # out on the platform, not yet noted: FindsReplies' case
        self._shows(posted, reply)
        if not self.noted and posted.message_id and not reply.ephemeral_to:
            self.noted = True
            self._post = posted
            if reply.kind is ReplyKind.ANSWER and not self._replaced:
                self._unwritten = posted
            else:
                # after a post past editing, a replay looking for this event's post would find
                # that one first (it is labelled too): this one is noted before anything else
                await self.note(posted)
        return posted

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        if self.fence is not None:
            # no second post, but a worker taken over while paused would write its own answer
            # over the one the new holder gave in this post (which, holding it, passes)
            await self.fence()
        await self._write()
        current = posted

        async def changed(now: Posted) -> None:
            """The post's messages changed: whatever here named it names it as it now is (the
            inbox's note before the edit goes on, so a crash leaves no message unnoted)."""
            nonlocal current
            was, current = current, now
            if self.partial == was:
                self.partial = now
            if self._post == was:
                self._post = now
                await self._renote(now)
            if on_change is not None:
                await on_change(now)

        try:
            now = await self.inner.edit(posted, reply, changed)
        except (MessageGone, EditRefused):
            # gone, or past editing: what it was to show is posted anew, and that post noted
            # at once (a revision's too: a replay must find the new post, not the old one)
            if self._post == current:
                await self._forget(current)
            self._replaced = True
            raise
        if now != current:  # a platform that told nothing on the way
            await changed(now)
        self._shows(now, reply)
        return now

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        if self.fence is not None:
            await self.fence()
        await self._write()
        return await self.inner.open_thread(message, title)

    def _shows(self, posted: Posted, reply: Reply) -> None:
        """Keep `partial` current: a post a partial answer went into, until a whole reply replaces it."""
        if reply.kind is ReplyKind.THINKING and posted.message_id:
            self.partial = posted
        elif self.partial is not None and posted.message_id == self.partial.message_id:
            self.partial = None

    async def _forget(self, gone: Posted) -> None:
        """The event's post was deleted (the asker, a moderator), or is past editing: the inbox
        no longer names it, and the next post, the answer said anew, is noted at once. A replay
        meanwhile looks for that post (`FindsReplies`) instead of editing the old one."""
        self._post = None
        self.noted = False
        self._replaced = True
        if self.partial == gone:
            self.partial = None  # an apology is a post of its own
        await self.note(Posted(message_id="", conversation=gone.conversation))

    async def _renote(self, now: Posted) -> None:
        """Note the event's post as an edit changed it. Never raises: Discord has taken the
        edit, and an error out of it would read as an edit not made (an apology said twice).
        A note the store refused is left for the finish to write, as a whole answer's is."""
        try:
            await self.note(now)
        except Exception:
            self._unwritten = now
            log.warning(
                "could not note the post an edit changed; the event's finish notes it",
                exc_info=True,
                extra={"message_id": now.message_id},
            )
        else:
            self._unwritten = None  # superseded by the post as it now is

    def take(self) -> Posted | None:
        """The first post, if its note is left for the finish to write (once)."""
        posted, self._unwritten = self._unwritten, None
        return posted

    async def _write(self) -> None:
        if self._unwritten is not None:
            await self.note(self._unwritten)
            self._unwritten = None  # only once written: if the note failed, the finish carries it
