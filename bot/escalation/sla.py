"""The SLA clock: deadlines in working minutes, and the reminders that fire when they pass.

An unclaimed ticket is announced again at the first-response deadline and goes to the
second tier at the next; a ticket opened after hours pings when the team opens; the
assignee of a claimed ticket is reminded when staff go quiet: each in the ticket's thread,
or in the triage channel when nobody of the team reads the thread (a direct message).
Deadlines live in the store, so reminders survive a restart, and each step is a
compare-and-set there, so a reminder fires once however many processes tick; a process
that dies while posting one leaves a claim that lapses, and the reminder is said then
(`FIRING_LEASE`); one whose post fails is said again later, less and less often
(`next_try`), or at a new deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime

from bot.config import Duty, Settings
from bot.escalation.cards import TicketPosts, age, next_try
from bot.escalation.routing import business_hours, staff_mentions
from bot.messages import say
from bot.ports import Channel, Clock
from bot.store import AsyncStore, StateStore
from bot.store.jobs import POST_LEASE
from bot.store.state import settle
from bot.types import Mention, MentionKind, Reply, ReplyKind, SlaStage, Ticket, TicketStatus

log = logging.getLogger(__name__)

# how long a reminder's post may take before another process takes its worker for dead and
# says it again: a post's lease, well inside an SLA's minutes
FIRING_LEASE = POST_LEASE
# the stages whose reminder says the ticket has waited for a response
_UNANSWERED = frozenset({SlaStage.WAITING_FOR_HOURS, SlaStage.FIRST_RESPONSE, SlaStage.REANNOUNCED})
# the most failing reminders remembered (to log each one's traceback once)
FAILING_KEPT = 1000


class SlaClock:
    def __init__(self, *, settings: Settings, store: AsyncStore, clock: Clock, posts: TicketPosts) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.posts = posts
        self.hours = business_hours(settings)
        # the reminders (ticket, stage) whose post failed in this process, until one is made:
        # their failures after the first are logged without a traceback
        self._failing: OrderedDict[tuple[int, int], None] = OrderedDict()  # the last failed last

    def deadline(self, start: datetime, minutes: int) -> datetime:
        """`minutes` of working time after `start`: the clock stops while the team is out."""
        return self.hours.add_minutes(start, minutes)

    async def tick(self, channels: Mapping[str, Channel]) -> int:
        """Fire every reminder that is due, once. Returns how many fired."""
        now = self.clock.now()
        fired = 0
        for ticket in await self.store.run(StateStore.due_tickets, now, list(channels)):
            channel = channels[ticket.conversation.platform]
            try:
                fired += await self._fire(ticket, channel, now)
            except Exception:
                log.exception("an SLA reminder failed; it will be retried", extra={"ticket_id": ticket.id})
        return fired

    async def _fire(self, ticket: Ticket, channel: Channel, now: datetime) -> int:
        e = self.settings.escalation
        stage = ticket.sla_stage
        waited, again = "", ""
        if ticket.status != TicketStatus.CLAIMED and stage in _UNANSWERED:
            # a reopened ticket waits since its reopening: it had its response before (read only
            # for the reminders that say how long it waited, not for an assignee's or none)
            reopened = await self.store.run(StateStore.reopened_at, ticket.id)
            waited = age(now - (reopened or ticket.created_at), ticket.language)
            again = "_reopened" if reopened else ""
        if ticket.status == TicketStatus.CLAIMED:
            if stage != SlaStage.CLAIMED or not ticket.assignee_id:
                return 0
            next_stage, due = SlaStage.ASSIGNEE_REMINDED, None
            mentions: tuple[Mention, ...] = (Mention(kind=MentionKind.USER, id=ticket.assignee_id),)
            text = say("sla_assignee", ticket.language, ticket=ticket.id)
        elif stage == SlaStage.WAITING_FOR_HOURS:
            next_stage, due = SlaStage.FIRST_RESPONSE, self.deadline(now, e.first_response_minutes)
            mentions = staff_mentions(self.settings, ticket.conversation, ticket.tags)
            text = say(f"sla_after_hours{again}", ticket.language, ticket=ticket.id)
        elif stage == SlaStage.FIRST_RESPONSE:
            next_stage, due = SlaStage.REANNOUNCED, self.deadline(now, e.second_tier_minutes)
            mentions = staff_mentions(self.settings, ticket.conversation, ticket.tags)
            text = say(f"sla_reannounce{again}", ticket.language, ticket=ticket.id, waited=waited)
        elif stage == SlaStage.REANNOUNCED:
            next_stage, due = SlaStage.SECOND_TIER, None
            # without a second tier configured, the first tier hears about it once more
            mentions = staff_mentions(
                self.settings, ticket.conversation, tier=Duty.SECOND_TIER
            ) or staff_mentions(self.settings, ticket.conversation, ticket.tags)
            text = say(f"sla_second_tier{again}", ticket.language, ticket=ticket.id, waited=waited)
        else:
            return 0
        # the reminder is claimed for a while before its post, and the step taken only once the
        # post is out: a process that dies in between (kill -9 runs no handler) leaves the claim,
        # which lapses, and another process says the reminder then. Said twice after a crash is
        # better than never said. The claim is a column of its own: the deadline stays what
        # cards and lists show (bot/store/sla_clock.py)
        claimed = self.clock.now() + FIRING_LEASE
        if not await self.store.run(
            StateStore.claim_sla,
            ticket.id,
            stage=stage,
            due_at=ticket.next_action_at,
            assignee_id=ticket.assignee_id,
            until=claimed,
            now=now,
        ):
            # someone else is saying it or has (another process, or a transition in between),
            # or staff replied or reassigned since this tick read the ticket (a new deadline)
            return 0
        try:
            # where staff read it: never a direct message's asker (nobody of the team is there);
            # with no triage channel for it, nowhere, and the clock steps on all the same
            reply = await self.posts.for_staff(
                ticket,
                Reply(conversation=ticket.conversation, text=text, kind=ReplyKind.TICKET, mentions=mentions),
            )
            if reply is not None:
                await channel.send(reply)
        except asyncio.CancelledError:
            # a shutdown: whether the platform took it is unknown; the next tick says it at once
            await self.store.run(StateStore.release_sla, ticket.id, claimed)
            raise
        except Exception as exc:
            # tried again later, less and less often (a channel or an install gone fails every
            # time): this process's first failure of the reminder with its traceback, the tries
            # after it a line each
            retry_at = next_try(self.clock.now(), owed_since=ticket.next_action_at or now)
            failing = (ticket.id, stage)
            (log.warning if failing in self._failing else log.exception)(
                "could not post an SLA reminder (%s); trying again later",
                type(exc).__name__,
                extra={"ticket_id": ticket.id, "retry_at": retry_at.isoformat()},
            )
            self._failing[failing] = None
            self._failing.move_to_end(failing)
            if len(self._failing) > FAILING_KEPT:  # tickets done while failing leave theirs
                self._failing.popitem(last=False)
            await self.store.run(StateStore.release_sla, ticket.id, claimed, retry_at)
            return 0
        self._failing.pop((ticket.id, stage), None)
        # the next stage, unless a transition moved the ticket meanwhile (its clock stays)
        try:
            await self._step(ticket, stage, next_stage, due, now, claimed)
        except Exception:
            log.exception(
                "an SLA reminder was sent but its step could not be saved; it is said again when "
                "its claim lapses",
                extra={"ticket_id": ticket.id},
            )
            return 1
        log.info(
            "SLA reminder sent", extra={"ticket_id": ticket.id, "platform": ticket.conversation.platform}
        )
        updated = await self.store.run(StateStore.ticket, ticket.id)
        if updated is not None:
            await self.posts.refresh(updated, channel)
        return 1

    async def _step(
        self, ticket: Ticket, stage: int, to: int, due: datetime | None, now: datetime, claimed: datetime
    ) -> bool:
        """Move `ticket`'s clock from `stage` to `to` and `due`, if the ticket still stands as it
        fell due, and end the claim its reminder was said under (bot/store/sla_clock.py); tried
        again a while if the store refuses it, as left undone the reminder is said again."""
        return await settle(
            self.store,
            FIRING_LEASE,
            StateStore.advance_sla,
            ticket.id,
            from_stage=stage,
            due_at=ticket.next_action_at,
            assignee_id=ticket.assignee_id,
            to_stage=to,
            next_action_at=due,
            at=now,
            claimed=claimed,
        )
