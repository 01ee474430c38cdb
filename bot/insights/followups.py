"""Follow-ups: asking the asker once, some hours after an answer, "Did this solve it?".

It owns the follow-up's life on a thread: `schedule` after the bot posts an answer, `noticed`
for activity in the thread (the asker talking moves it, the asker's thanks or any staff
message cancels it), `tick` to send the ones that are due, and `pressed` for the two buttons
it shows (*Solved*: a confirmed resolution; *Still stuck*: a ticket). `[followup]
after_hours` sets the delay; 0 turns it off.

The state is on the conversation row (bot/store/followups.py); sending is a compare-and-set
there whose WHERE clause also re-checks that nobody made it pointless meanwhile (staff
spoke, a ticket exists, the asker rated the answer), so it fires once however many
processes tick, like the SLA reminders in bot/escalation/sla.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot import policy
from bot.config import Settings
from bot.conversation import log_context, tell_presser
from bot.escalation import Escalations
from bot.messages import say
from bot.ports import Channel, Clock
from bot.store import AnswerRecord, AsyncStore, ConversationState, StateStore
from bot.store.followups import DueFollowup, FollowupClaim
from bot.types import (
    ActionEvent,
    ActionKind,
    Author,
    Button,
    ButtonStyle,
    ConversationRef,
    DocVisibility,
    InboundMessage,
    Mention,
    MentionKind,
    Outcome,
    Reply,
    ReplyKind,
)

log = logging.getLogger(__name__)


def followup_buttons(language: str, answer_id: int) -> tuple[Button, ...]:
    value = str(answer_id)
    return (
        Button(
            action=ActionKind.SOLVED,
            label=say("button_solved", language),
            value=value,
            style=ButtonStyle.PRIMARY,
        ),
        Button(action=ActionKind.STILL_STUCK, label=say("button_still_stuck", language), value=value),
    )


class Followups:
    def __init__(
        self, *, settings: Settings, store: AsyncStore, clock: Clock, escalations: Escalations
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.escalations = escalations

    @property
    def enabled(self) -> bool:
        return self.settings.followup.after_hours > 0

    @property
    def delay(self) -> timedelta:
        return timedelta(hours=self.settings.followup.after_hours)

    # -- scheduling ------------------------------------------------------------------------

    def due_for(self, conversation: ConversationRef, asker: Author) -> datetime | None:
        """When to ask about an answer just posted in `conversation`, or None: only threads (a
        channel without threads is many people's conversation), never for staff asking the bot
        for themselves. The store sets it unless the thread was asked already."""
        if not self.enabled or conversation.platform_thread is None:
            return None  # a thread the platform never gave (bot.types.own_thread) cannot be asked in
        if policy.is_staff(asker, conversation.platform, self.settings, conversation.workspace):
            return None
        return self.clock.now() + self.delay

    async def schedule(self, conversation: ConversationRef, answer_id: int, asker: Author) -> None:
        """An answer is up: ask about it `after_hours` from now (see `due_for`). The responder
        passes `due_for` to `complete_answer` instead, saving a trip to the store."""
        due = self.due_for(conversation, asker)
        if due is None:
            return
        try:
            await self.store.run(StateStore.schedule_followup, conversation.key, answer_id, due)
        except Exception:
            # the answer is posted and recorded; a missing follow-up must not turn it into
            # an apology, so this boundary only logs
            log.exception("could not schedule a follow-up", extra=log_context(conversation))

    async def noticed(self, message: InboundMessage, state: ConversationState | None, *, staff: bool) -> None:
        """Activity in a thread the bot knows: staff speaking, or the asker's thanks / "all set",
        cancel the follow-up; anything else the asker writes moves it `after_hours` on (and
        the answer the bot may give then moves it again, from that answer)."""
        conversation = message.conversation
        if (
            not self.enabled
            or state is None
            or conversation.thread is None
            or message.author.is_bot
            or message.edited
        ):
            return
        if staff:
            if await self.store.run(StateStore.cancel_followup, conversation.key):
                log.info("follow-up cancelled: staff are in the thread", extra=log_context(conversation))
            return
        if message.author.id != state.followup_asker_id:
            # nothing pending, or someone other than the person it would ask (whose answer it
            # is about, not always the thread's first asker) chiming in: says nothing of them
            return
        text = message.text.strip()
        if policy.is_thanks(text) or policy.says_all_set(text):
            await self.store.run(StateStore.cancel_followup, conversation.key)
            return
        await self.store.run(StateStore.postpone_followup, conversation.key, self.clock.now() + self.delay)

    async def cancel(self, conversation: ConversationRef) -> None:
        await self.store.run(StateStore.cancel_followup, conversation.key)

    # -- sending ---------------------------------------------------------------------------

    async def tick(self, channels: Mapping[str, Channel]) -> int:
        """Send every follow-up that is due, once. Returns how many were sent."""
        if not self.enabled:
            return 0
        try:
            due = await self.store.run(StateStore.due_followups, self.clock.now(), list(channels))
        except Exception:
            # a boundary of the clock: SLA reminders and replays run on this tick regardless
            log.exception("could not read the due follow-ups; the next tick tries again")
            return 0
        sent = 0
        for item in due:
            sent += await self._fire(item, channels[item.conversation.platform])
        return sent

    async def _fire(self, item: DueFollowup, channel: Channel) -> int:
        conversation = item.conversation
        claim = await self.store.run(
            StateStore.claim_followup, conversation.key, item.answer_id, self.clock.now()
        )
        if claim != FollowupClaim.CLAIMED:
            if claim == FollowupClaim.BLOCKED:
                log.info("follow-up dropped: no longer wanted", extra=log_context(conversation))
            return 0
        # claimed, so marked sent: if posting fails now it is not retried. Asking twice (a
        # retry after a post that did reach the platform) is worse than not asking at all.
        try:
            await channel.send(
                Reply(
                    conversation=conversation,
                    text=say("followup_question", item.language),
                    kind=ReplyKind.INFO,
                    mentions=(Mention(kind=MentionKind.USER, id=item.asker_id),) if item.asker_id else (),
                    buttons=followup_buttons(item.language, item.answer_id),
                    language=item.language,
                )
            )
        except Exception:
            log.exception(
                "a follow-up could not be posted; it is not retried",
                extra={**log_context(conversation), "answer_id": item.answer_id},
            )
            return 0
        log.info("follow-up sent", extra={**log_context(conversation), "answer_id": item.answer_id})
        return 1

    # -- the buttons -----------------------------------------------------------------------

    async def pressed(
        self,
        event: ActionEvent,
        record: AnswerRecord,
        channel: Channel,
        *,
        language: str,
        scope: DocVisibility,
    ) -> Outcome:
        """*Solved* or *Still stuck* on the follow-up about `record`. Only the asker's press
        counts; a second press of the same button (a double click) does nothing more."""
        if event.actor.id != record.asker_id:
            await tell_presser(event, channel, say("followup_not_yours", language))
            return Outcome.REFUSED
        conversation = ConversationRef.from_key(record.conversation)
        await self.cancel(conversation)  # pressed before it was even asked (an old button): done
        verdict = str(event.action)  # "solved" / "still_stuck": what the metrics count
        if not await self.store.run(
            StateStore.add_feedback, record.id, event.actor.id, verdict, self.clock.now()
        ):
            return Outcome.DUPLICATE
        if event.action == ActionKind.SOLVED:
            ticket = await self.store.run(StateStore.active_ticket, conversation, event.actor.id)
            if ticket is not None and ticket.asker_id == event.actor.id:
                # stuck, then solved: the ticket "Still stuck" opened is the asker's to close
                await self.escalations.close_by_asker(ticket, event.actor, channel)
            await tell_presser(event, channel, say("followup_solved", language))
            return Outcome.RECORDED
        await self.escalations.answer_did_not_help(
            record,
            event.actor,
            channel,
            language=language,
            visibility=scope,
            lead=say("followup_still_stuck", language),
        )
        return Outcome.ESCALATED
