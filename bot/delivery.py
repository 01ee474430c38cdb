"""Delivery: each platform message handled exactly once, through crashes, retries and replays.

It owns the inbox side of a message's life: the claim (a retry or a redelivery is a
duplicate), the bounded worker pool new questions and replays share, noting the first
post made for an event (so a replay edits it instead of posting a second answer: the
channel it handles through, bot/noting.py), finishing the event (again, if the store
refused it: bot/unwritten_finishes.py keeps those), and, through `Replays` (bot/replays.py),
the replays of what a dead process left, which the clock starts in the background. What a message *means* is the core's
(`MessageHandler`, implemented by SupportBot); bot/inbox.py explains the exactly-once design
in full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from functools import partial

from bot import faults
from bot.conversation import log_context
from bot.errors import ConversationDeleted
from bot.fence import Beats, Fence, TakenOver
from bot.inbox import Finish, NothingDoneYet, NotYet, Unwritten, serialise_message
from bot.noting import NotingChannel
from bot.policy import Situation
from bot.ports import Channel, Clock, MessageHandler
from bot.replays import Replays
from bot.slots import LATE_AFTER, Edits, Handling, Pool
from bot.store import AsyncStore, StateStore
from bot.store.revisions import edited_message
from bot.types import InboundMessage, Outcome, Posted
from bot.unwritten_finishes import UnwrittenFinishes

log = logging.getLogger(__name__)

# a message whose handling failed before the handler did anything for it (NothingDoneYet: its
# first read of the store failed, the connection dropped) is handled again by the clock's
# replay, a tick later: a passing fault costs the asker a wait, not their question (a follow-up
# was otherwise finished as failed with nothing said). A failure after that point is final at
# once (an apology and a ticket where one is owed): retrying it could repeat what was done. After
# this many tries it is given up too, so a message that always fails is not retried for ever.
HANDLING_ATTEMPTS = 3


class Deliveries(Replays):
    def __init__(self, *, store: AsyncStore, clock: Clock, workers: int, handler: MessageHandler) -> None:
        self.store = store
        self.clock = clock
        self.handler = handler
        # inbox keys being handled right now: a replay after reconnecting must not take them
        self._in_flight = Handling()
        self._edits = Edits()  # edits of one message: one at a time, the newest only
        # messages the core decided to answer: a failure owes them an apology
        self.responding: set[str] = set()
        # new questions and replays share one bounded pool: past it, events queue here
        # instead of all running at once (which only makes every answer slower)
        # (fresh questions first: bot/slots.py)
        self._workers = Pool(workers)
        # replays a predecessor began before this process started are abandoned (one process
        # per data dir): they are taken over at once rather than after their lease
        self._started = clock.now()
        self._replays: dict[str, asyncio.Task[int]] = {}  # per platform, started by the clock
        self._failures: dict[str, int] = {}  # inbox key -> failed handlings, while it is unfinished
        self._replay_failures: dict[str, int] = {}  # inbox key -> replays failed before handling
        self._unwritten = UnwrittenFinishes(store=store, clock=clock)  # finishes the store refused
        # this worker's heartbeats, once it runs among others (bot/cluster.py): each new post
        # is fenced against a takeover while it was paused (bot/fence.py)
        self.beats: Beats | None = None
        self._claimed: dict[str, datetime] = {}  # inbox key -> when it was claimed or taken

    async def receive(
        self,
        message: InboundMessage,
        channel: Channel,
        situation: Situation,
        accepted: asyncio.Event | None = None,
    ) -> Outcome:
        """Claim `message` in the inbox, then handle it, unless it was claimed before."""
        key = f"{message.conversation.platform}:msg:{message.id}"
        # in flight from before its claim is written: a replay pass that reads the claim can
        # never take it from this live handler (a live retry of the same key is left alone)
        mine = key not in self._in_flight
        self._in_flight.add(key)
        try:
            faults.point("event.claiming")
            # a failure here raises before `accepted` is set: the adapter then leaves the
            # platform to redeliver, rather than acknowledge a message nobody has
            claimed = self.clock.now()
            fresh = await self.store.run(
                StateStore.claim_event,
                key,
                message.conversation.platform,
                serialise_message(message),
                claimed,
            )
            if accepted is not None:
                accepted.set()
            if not fresh:
                if mine:
                    self._in_flight.discard(key)
                log.info(
                    "duplicate event", extra={**log_context(message.conversation), "message_id": message.id}
                )
                return Outcome.DUPLICATE
            faults.point("event.claimed")
        except BaseException:
            if mine:
                self._in_flight.discard(key)
            raise
        self._claimed[key] = claimed
        return await self._process(key, message, channel, situation)

    def _slot(
        self, message: InboundMessage, *, resuming: bool
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """A slot of the pool, late for a message said `LATE_AFTER` or longer ago (read back
        after an outage, or such a message replayed), but not for an edit made now or a replay
        finishing a half-written answer (its asker may be watching it)."""
        old = not resuming and not message.edited and self.clock.now() - message.sent_at >= LATE_AFTER
        return self._workers.slot(message.conversation.channel_key, late=old)

    async def _process(
        self,
        key: str,
        message: InboundMessage,
        channel: Channel,
        situation: Situation,
        resume: Posted | None = None,
        *,
        holding: bool = False,
    ) -> Outcome:
        """Handle a claimed message within a slot of the pool (`holding`: the caller has one)."""
        self._in_flight.add(key)
        # every post made for this event is noted in the inbox (the first one is enough): a
        # replay then knows the person has already been told something
        fence = Fence(self.store, self.beats, key, self._claimed.pop(key, self.clock.now()))
        noting = NotingChannel(channel, partial(self._note_post, key), resume, fence.check)
        noting.partial = resume  # a dead process's half-written answer: a failure's apology replaces it
        finish = Finish(key, fence.check)  # the answer posted, if any: recorded with the event's finish
        unfinished = False  # handled, but the inbox could not be told: keep it from this clock
        turn = contextlib.AsyncExitStack()  # an edit's turn among the edits of its message
        try:
            original = f"{message.conversation.platform}:msg:{message.edit_of}"
            newest = True
            if message.edited and message.edit_of and original != key:
                made = message.edited_at or message.sent_at  # stored before edits had a time: the oldest
                if holding:  # a replay, in a slot of the pool already: a newer edit seen wins
                    newest = not self._edits.outdated(original, made)
                else:
                    # an edit of a question this process is still answering revises that
                    # answer once it is out (before, there is none to revise), after the edits
                    # of it that came first, and not at all if a newer one came meanwhile.
                    # Waited for outside the pool: the question may be waiting for a slot
                    ended = partial(self._in_flight.ended, original)
                    newest = await turn.enter_async_context(self._edits.turn(original, made, ended))
            try:
                outcome = await self._handled(
                    key, message, noting, situation, resume, finish, holding, newest
                )
            except TakenOver:
                return await self._let_go(key, message)
            if outcome is None:
                return Outcome.FAILED  # left for the clock's replay to handle again
            faults.point("event.handled")
            if outcome == Outcome.REFUSED:
                # the core's other decisions have their INFO line (answered, abstained, ticket
                # opened); a person told why not (too long, empty) is one too
                log.info(
                    "refused a message", extra={**log_context(message.conversation), "message_id": message.id}
                )
            post = noting.take()
            finished = True
            try:
                faults.point("event.finish")
                finished = await self.store.run(
                    StateStore.finish_event, key, self.clock.now(), str(outcome), finish.completion, post
                )
                faults.point("event.finished")  # committed, but the store's answer may be lost
            except asyncio.CancelledError:
                # a shutdown gave up waiting: the finish may never run, so the note it carried
                # is written alone, for the next start to edit the post rather than repeat it
                await self._note_alone(key, post)
                raise
            except Exception:
                # the person has their outcome. The key stays in flight, so this process's
                # clock never replays it; the clock writes the finish again (`_write_unwritten`),
                # and a restart meanwhile must find the post noted
                unfinished = True
                self._unwritten.keep(key, Unwritten(str(outcome), finish.completion, post))
                log.exception(
                    "could not mark an event handled; written again at the next tick",
                    extra={**log_context(message.conversation), "message_id": message.id},
                )
                await self._note_alone(key, post)
            if not finished:  # taken over after its last fence: the finish wrote nothing
                return await self._let_go(key, message)
            self._failures.pop(key, None)
            # finished: what follows (a welcome, a burst alert) is not a post for the event, and
            # the inbox would now answer the fence that the event is no longer held
            noting.fence = None
            await finish.run_after()
            return outcome
        finally:
            await turn.aclose()
            self.responding.discard(message.id)
            if not unfinished:
                self._in_flight.discard(key)

    async def _let_go(self, key: str, message: InboundMessage) -> Outcome:
        """The event is no longer this worker's: its author was forgotten (forget-me) while it
        was handled, and nothing of it may be recorded; or, paused past its lease, this worker
        lost it to another, which answers it. Nothing more is said or written for it here."""
        extra = {**log_context(message.conversation), "message_id": message.id, "event": key}
        forgotten = False
        with contextlib.suppress(Exception):  # which of the two is only what the log says
            forgotten = await self.store.run(StateStore.event_forgotten, key)
        if forgotten:
            log.info(
                "its author was forgotten while the message was handled; nothing of it recorded", extra=extra
            )
        else:
            log.warning(
                "another worker took this message over while this one was paused; left to it", extra=extra
            )
        return Outcome.DUPLICATE

    async def _handled(
        self,
        key: str,
        message: InboundMessage,
        noting: NotingChannel,
        situation: Situation,
        resume: Posted | None,
        finish: Finish,
        holding: bool,
        newest: bool,
    ) -> Outcome | None:
        """The handling's outcome (within a slot of the pool unless `holding`), a failure's
        apology said; None when it failed before doing anything and is left for a replay.
        TakenOver (bot/fence.py) passes through, from the handling or from its apology."""
        try:
            slot = contextlib.nullcontext() if holding else self._slot(message, resuming=resume is not None)
            async with slot:
                if newest:
                    return await self.handler.handle(message, noting, situation, resume, finish)
                log.info(
                    "an edit a newer edit of the same message replaced: left",
                    extra={**log_context(message.conversation), "message_id": message.id},
                )
                # a replay of an edit whose dead process was revising: the turn it took in the
                # store is given back, or the newer edit would wait out its lease
                edited = edited_message(message.conversation.platform, message.edit_of or "")
                with contextlib.suppress(Exception):
                    await self.store.run(StateStore.end_revision, edited, message.id)
                return Outcome.IGNORED
        except Exception as exc:
            if isinstance(exc, NothingDoneYet) and self._try_again(key, message, noting, exc):
                return None
            if isinstance(exc, ConversationDeleted) and exc.took(message.conversation):
                # deleted while it was handled (a forum post, its channel): nobody is left to
                # apologise to, and a ticket would give staff a card linking nowhere
                log.warning(
                    "the conversation was deleted while its message was handled; left",
                    extra={**log_context(message.conversation), "message_id": message.id},
                )
                return Outcome.FAILED
            log.exception(
                "failed to handle a message",
                extra={**log_context(message.conversation), "message_id": message.id},
            )
            if message.addressed or message.id in self.responding:
                # a half-written answer left in the thread is replaced by the apology
                await self.handler.apologise(message, noting, situation, noting.partial)
            return Outcome.FAILED

    def _try_again(
        self, key: str, message: InboundMessage, noting: NotingChannel, exc: NothingDoneYet
    ) -> bool:
        """Whether a handling that failed before doing anything is left unfinished, for the
        clock's replay to handle again: while nothing has been posted for it (no second message
        can come of a retry), for HANDLING_ATTEMPTS tries in all; a wait for what passes
        (NotYet) is not a try."""
        if isinstance(exc, NotYet) and not noting.noted:
            log.info(
                "left for a later pass: %s",
                exc,
                extra={**log_context(message.conversation), "message_id": message.id},
            )
            return True
        failures = self._failures.get(key, 0) + 1
        if noting.noted or failures >= HANDLING_ATTEMPTS:
            self._failures.pop(key, None)
            return False
        self._failures[key] = failures
        log.warning(
            "failed to handle a message; it is handled again at the next tick",
            exc_info=True,
            extra={**log_context(message.conversation), "message_id": message.id, "attempt": failures},
        )
        return True

    async def _note_alone(self, key: str, post: Posted | None) -> None:
        """The note a finish that did not happen was to carry, written on its own if the store
        takes it (it is failing, or the process is stopping: whatever it says is logged)."""
        if post is not None:
            with contextlib.suppress(Exception):
                await self._note_post(key, post)

    async def _note_post(self, key: str, posted: Posted) -> None:
        """The inbox learns which post shows this event's answer before anything is streamed
        into it: a replay after a crash edits that post rather than posting a second one."""
        await self.store.run(StateStore.note_post, key, posted.message_id, posted.conversation.key)
        faults.point("answer.noted")
