"""Replays: what a dead process (or a failed handling) left unfinished in the inbox, handled
again by this one (bot/inbox.py, rule 4), and the clock's share of delivery.

`Replays` is the half of `bot.delivery.Deliveries` the clock drives: a pass per platform in
the background at every tick (never one at a time: a bounded number, within the worker pool
new questions share), each replay taking its event under a short lease, editing the post its
predecessor began (or finding one it made but never noted), and handing it to the same
handling as a live message (`_process`). Also at each tick: the finishes the store refused,
written again, and old inbox rows forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot import faults
from bot.conversation import log_context
from bot.inbox import deserialise_message
from bot.ports import Channel, Clock, FindsReplies, MessageHandler
from bot.store import AsyncStore, StateStore
from bot.types import ConversationRef, InboundMessage, Outcome, Posted

if TYPE_CHECKING:
    from bot.policy import Situation
    from bot.slots import Handling
    from bot.unwritten_finishes import UnwrittenFinishes

log = logging.getLogger("bot.delivery")  # one logger for the inbox side of a message's life

INBOX_KEPT = timedelta(days=7)  # handled events are remembered this long (platforms retry within minutes)
# replays taken per pass: a backlog after an outage is read and taken a batch at a time (the
# pass goes on while batches come full), not loaded whole
REPLAY_BATCH = 64

# a replay that fails before its handling starts (the platform will not let it look for its
# predecessor's post: a refused token, a workspace this worker cannot serve yet) is taken again
# at later passes, this many times in all (minutes, a pass every tick), then finished as failed
REPLAY_ATTEMPTS = 10


class Replays:
    """The replay pass and the clock's share; `Deliveries` supplies the handling (`_process`,
    `_slot`, `_note_post`) and the state below."""

    store: AsyncStore
    clock: Clock
    handler: MessageHandler
    _in_flight: Handling
    _claimed: dict[str, datetime]
    _started: datetime
    _replays: dict[str, asyncio.Task[int]]
    _replay_failures: dict[str, int]
    _unwritten: UnwrittenFinishes

    def _slot(
        self, message: InboundMessage, *, resuming: bool
    ) -> contextlib.AbstractAsyncContextManager[None]:
        raise NotImplementedError  # Deliveries'

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
        raise NotImplementedError  # Deliveries'

    async def _note_post(self, key: str, posted: Posted) -> None:
        raise NotImplementedError  # Deliveries'

    async def replay_pending(self, platform: str, channel: Channel) -> int:
        """Answer messages that were received but never finished (a process died mid-answer,
        or their handling failed), within the worker pool new questions share, a batch at a
        time (REPLAY_BATCH). A replay edits the post its predecessor began, if any, so the
        question still gets exactly one message. Returns how many were replayed."""
        replayed = 0
        seen: set[str] = set()  # taken in this call: a row that fails fast is not taken again in it
        while True:
            taken = await self._take_batch(platform, seen)
            results = await asyncio.gather(
                *(self._replay(key, message, channel) for key, message in taken), return_exceptions=True
            )
            for (key, message), result in zip(taken, results, strict=True):
                if isinstance(result, BaseException) and not isinstance(result, Exception):
                    raise result  # the process is stopping (or a test's injected crash)
                if isinstance(result, Exception):
                    log.error(
                        "replaying an unfinished message failed; it is tried again later",
                        exc_info=result,
                        extra={**log_context(message.conversation), "message_id": message.id, "event": key},
                    )
            replayed += len(taken)
            if len(taken) < REPLAY_BATCH:
                return replayed

    async def _take_batch(self, platform: str, seen: set[str]) -> list[tuple[str, InboundMessage]]:
        """Up to REPLAY_BATCH unfinished events taken for replay, none of `seen` (which gains
        them), each in flight from its take: a replay still looking for its predecessor's post
        is never taken by a second pass. A failure part way gives back what it took."""
        taken: list[tuple[str, InboundMessage]] = []
        # this process's live handlers are among the pending (their claims), and so is what
        # this call took already: read past them
        limit = REPLAY_BATCH + len(self._in_flight) + len(seen)
        pending = await self.store.run(
            StateStore.pending_events, platform, self.clock.now(), self._started, limit
        )
        try:
            for key, payload in pending:
                if len(taken) == REPLAY_BATCH:
                    break
                if key in self._in_flight or key in seen:
                    continue  # a live handler has it (the platform redelivered it after reconnecting)
                faults.point("replay.take")
                claimed = self.clock.now()
                if not await self.store.run(StateStore.take_for_replay, key, claimed, self._started):
                    continue  # another replay took it first
                self._claimed[key] = claimed
                seen.add(key)
                self._in_flight.add(key)
                try:
                    message = deserialise_message(payload)
                except (ValueError, KeyError, TypeError):
                    log.exception("cannot replay a stored event", extra={"event": key})
                    self._in_flight.discard(key)
                    self._claimed.pop(key, None)
                    await self.store.run(StateStore.finish_event, key, self.clock.now(), "unreadable")
                    continue
                taken.append((key, message))
        except BaseException:
            # the store failed, or the pass was cancelled: what was taken is left to a later pass
            # (its lease runs out), not held in flight for good
            for key, _ in taken:
                self._in_flight.discard(key)
                self._claimed.pop(key, None)
            raise
        return taken

    async def _replay(self, key: str, message: InboundMessage, channel: Channel) -> Outcome:
        """One replay of a taken event. With no post noted, a channel that can look
        (FindsReplies) is asked first, within the worker pool: a process killed between its
        post and the note left the post out there, and it is finished rather than posted again."""
        held, holding = contextlib.AsyncExitStack(), False
        try:
            post = await self.store.run(StateStore.event_post, key)
            resume = (
                Posted(message_id=post[0], conversation=ConversationRef.from_key(post[1])) if post else None
            )
            log.info(
                "replaying an unfinished message",
                extra={
                    **log_context(message.conversation),
                    "message_id": message.id,
                    "resumes": bool(resume),
                },
            )
            if resume is None and isinstance(channel, FindsReplies):
                # one slot for the look and the handling: a follow-up taken between them would
                # find the answer unfinished (the thread not yet the bot's) and be ignored
                await held.enter_async_context(self._slot(message, resuming=False))
                holding = True
                resume = await channel.find_reply(message)
                if resume is not None:
                    await self._note_post(key, resume)
            situation = self.handler.situation(message)
        except BaseException as exc:
            await held.aclose()
            self._in_flight.discard(key)  # not handled: a later pass takes it again
            self._claimed.pop(key, None)
            if isinstance(exc, Exception):
                await self._replay_failed(key, message, channel)
            raise
        self._replay_failures.pop(key, None)
        async with held:
            return await self._process(key, message, channel, situation, resume, holding=holding)

    async def _replay_failed(self, key: str, message: InboundMessage, channel: Channel) -> None:
        """Count a replay that failed before its handling; past REPLAY_ATTEMPTS, finish it as
        failed, so an event the platform will never let us finish is not retried for ever, and
        hand a question to people (the apology says so, where the platform lets it): it may
        never have been answered, and must not end in silence. It may have been, too (the
        failures are mostly looks for the post that got no answer), so the apology says it
        cannot tell, which reads true below an answer and without one."""
        failures = self._replay_failures.get(key, 0) + 1
        if failures < REPLAY_ATTEMPTS:
            self._replay_failures[key] = failures
            return
        self._replay_failures.pop(key, None)
        log.error(
            "gave up replaying a message after %d tries",
            failures,
            extra={**log_context(message.conversation), "message_id": message.id, "event": key},
        )
        try:
            given_up = await self.store.run(
                StateStore.finish_event, key, self.clock.now(), str(Outcome.FAILED)
            )
        except Exception:  # the store failing too: the next pass counts again, and tells then
            return
        if not given_up:  # another worker took it over meanwhile (this one paused): it is theirs
            return
        if message.addressed:  # told once the finish is written: never twice
            try:
                situation = self.handler.situation(message)
                await self.handler.apologise(message, channel, situation, unsure=True)
            except Exception:  # a boundary: the platform that kept refusing may refuse this too
                log.warning(
                    "could not hand a given-up message to people", exc_info=True, extra={"event": key}
                )

    # -- the clock's share -------------------------------------------------------------------

    async def tick(self, channels: Mapping[str, Channel]) -> None:
        """Replays run continuously, not only at start-up (a replay cut short is retried), in
        the background: SLA reminders never wait behind the answers being replayed."""
        await self._write_unwritten()
        for platform, channel in channels.items():
            running = self._replays.get(platform)
            if running is None or running.done():
                self._replays[platform] = asyncio.ensure_future(self._replay_logged(platform, channel))
        await self.store.run(_forget_old, self.clock.now() - INBOX_KEPT)

    async def _write_unwritten(self) -> None:
        """Finishes the store refused (it was away), written again until it takes them: the
        answer's record with them (a thread the bot answered in hears its follow-ups). Until
        then the key stays in flight: a replay of it would answer it twice."""
        await self._unwritten.write_again(self._in_flight.discard)

    async def settle(self) -> None:
        """Wait for the replays the clock started (tests, and an orderly shutdown)."""
        await asyncio.gather(*self._replays.values(), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel replays still running: their events stay in the inbox for the next start."""
        for task in self._replays.values():
            task.cancel()
        await asyncio.gather(*self._replays.values(), return_exceptions=True)

    async def _replay_logged(self, platform: str, channel: Channel) -> int:
        try:
            return await self.replay_pending(platform, channel)
        except Exception:  # a boundary: the next tick tries again
            log.exception("replaying unfinished messages failed", extra={"platform": platform})
            return 0


def _forget_old(store: StateStore, before: datetime) -> None:
    """Handled events, and the revision turns of messages last edited, before `before`: in one
    trip to the store's thread."""
    store.prune_inbox(before)
    store.prune_revisions(before)
