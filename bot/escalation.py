"""Tickets: opening, routing, claim / resolve / close / reopen / reassign, and the SLA clock.

Every transition is a compare-and-set in the store, so two staff pressing claim at once
cannot both win; the loser is told who has it. Every transition is recorded with who and
when, announced in the asker's thread, and reflected in the messages that show the
ticket (the note in the thread and the card in the triage channel), which are remembered
and edited in place. Deadlines live in the store, so reminders survive a restart and
fire once. Adapters only render what this module decides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import policy
from bot.config import DiscordSettings, Settings, SlackSettings
from bot.hours import BusinessHours
from bot.messages import say
from bot.ports import Channel, Clock
from bot.store import AsyncStore, StateStore
from bot.types import (
    ActionKind,
    Author,
    Button,
    ButtonStyle,
    ConversationRef,
    DocVisibility,
    EscalationReason,
    Mention,
    MentionKind,
    Reply,
    ReplyKind,
    SlaStage,
    Ticket,
    TicketStatus,
)

log = logging.getLogger(__name__)

REASON_TEXT = {
    EscalationReason.LOW_CONFIDENCE: "the bot was not confident",
    EscalationReason.ASKED_FOR_HUMAN: "asked for a person",
    EscalationReason.NOT_HELPFUL: "marked the answer not helpful",
    EscalationReason.UNANSWERED_FOLLOWUPS: "follow-up questions went unanswered",
    EscalationReason.ERROR: "the bot failed while answering",
    EscalationReason.ADMIN: "escalated by an admin",
}
ACTIVE = (TicketStatus.OPEN, TicketStatus.CLAIMED)


@dataclass(frozen=True, kw_only=True)
class TransitionResult:
    changed: bool
    ticket: Ticket | None
    message: str  # what to tell the person who asked for the transition


@dataclass(frozen=True, kw_only=True)
class Context:
    """What staff should see about a ticket besides the question: the bot's attempt."""

    answer: str | None = None
    sources: tuple[str, ...] = ()


# -- routing: who gets tagged ----------------------------------------------------------------


def _mentions(users: Iterable[str], groups: Iterable[str], group_kind: MentionKind) -> tuple[Mention, ...]:
    return tuple(Mention(kind=group_kind, id=g) for g in groups) + tuple(
        Mention(kind=MentionKind.USER, id=u) for u in users
    )


def staff_mentions(
    settings: Settings, conversation: ConversationRef, tags: Iterable[str] = (), tier: str = "first"
) -> tuple[Mention, ...]:
    """The staff to tag for a ticket: by knowledge tag, else by channel, else the platform's
    staff (`tier` "first"); the platform's second tier or on-call for "second" / "oncall"."""
    ps = policy.platform_settings(settings, conversation.platform)
    if isinstance(ps, SlackSettings):
        kind, groups = (
            MentionKind.GROUP,
            {"first": ps.staff_groups, "second": ps.second_tier_groups, "oncall": ps.oncall_groups},
        )
    elif isinstance(ps, DiscordSettings):
        kind, groups = (
            MentionKind.ROLE,
            {"first": ps.staff_roles, "second": ps.second_tier_roles, "oncall": ps.oncall_roles},
        )
    else:
        return ()
    if tier == "second":
        return _mentions(ps.second_tier_users, groups["second"], kind)
    if tier == "oncall":
        return _mentions(ps.oncall_users, groups["oncall"], kind)
    for tag in tags:
        route = settings.escalation.tags.get(tag)
        if route is None:
            continue
        if isinstance(ps, SlackSettings) and (route.slack_staff_groups or route.slack_staff_users):
            return _mentions(route.slack_staff_users, route.slack_staff_groups, kind)
        if isinstance(ps, DiscordSettings) and (route.discord_staff_roles or route.discord_staff_users):
            return _mentions(route.discord_staff_users, route.discord_staff_roles, kind)
    channel = ps.channels.get(conversation.channel)
    if channel is not None:
        channel_groups = channel.staff_groups if kind == MentionKind.GROUP else channel.staff_roles
        if channel_groups or channel.staff_users:
            return _mentions(channel.staff_users, channel_groups, kind)
    return _mentions(ps.staff_users, groups["first"], kind)


def business_hours(settings: Settings) -> BusinessHours:
    e = settings.escalation
    return BusinessHours.parse(e.business_hours, e.business_days, e.timezone)


# -- how a ticket looks ------------------------------------------------------------------------


def _ticket_buttons(ticket: Ticket, language: str = "en") -> tuple[Button, ...]:
    value = str(ticket.id)
    claim = Button(
        action=ActionKind.CLAIM, label=say("button_claim", language), value=value, style=ButtonStyle.PRIMARY
    )
    resolve = Button(action=ActionKind.RESOLVE, label=say("button_resolve", language), value=value)
    if ticket.status == TicketStatus.OPEN:
        return (claim, resolve)
    if ticket.status == TicketStatus.CLAIMED:
        return (
            Button(action=ActionKind.RESOLVE, label=resolve.label, value=value, style=ButtonStyle.PRIMARY),
        )
    return ()


def status_line(ticket: Ticket) -> str:
    who = ticket.assignee_name or ticket.assignee_id
    if ticket.status == TicketStatus.CLAIMED:
        return f"claimed by {who}"
    if ticket.status == TicketStatus.RESOLVED:
        return f"resolved by {who}" if who else "resolved"
    if ticket.status == TicketStatus.CLOSED:
        return "closed by the asker"
    return "open"


def age(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 60 * 48:
        return f"{minutes // 60}h"
    return f"{minutes // (60 * 24)}d"


def sla_state(ticket: Ticket, now: datetime) -> str:
    if ticket.status not in ACTIVE:
        return "done"
    if ticket.sla_stage == SlaStage.WAITING_FOR_HOURS:
        return "waiting for business hours"
    if ticket.next_action_at is None:
        return "past every deadline" if ticket.sla_stage == SlaStage.SECOND_TIER else "no deadline"
    if ticket.next_action_at <= now:
        return f"overdue {age(now - ticket.next_action_at)}"
    return f"next deadline in {age(ticket.next_action_at - now)}"


def card(ticket: Ticket, where: ConversationRef, now: datetime, context: Context | None = None) -> Reply:
    """The ticket as staff see it in the triage channel."""
    question = ticket.question if len(ticket.question) <= 500 else ticket.question[:497] + "..."
    lines = [
        f"**Ticket #{ticket.id}** · {status_line(ticket)} · {REASON_TEXT[ticket.reason]}",
        f"From {ticket.asker_name or ticket.asker_id}, {age(now - ticket.created_at)} ago · SLA: {sla_state(ticket, now)}",
        f"> {question}",
    ]
    if context is not None and context.answer:
        attempt = context.answer if len(context.answer) <= 400 else context.answer[:397] + "..."
        lines.append(f"The bot answered: {attempt}")
    if context is not None and context.sources:
        lines.append("Sources: " + ", ".join(context.sources))
    return Reply(
        conversation=where,
        text="\n".join(lines),
        kind=ReplyKind.TICKET,
        buttons=_ticket_buttons(ticket),
        refers_to=ticket.conversation,
    )


def _thread_note(ticket: Ticket, posted: ConversationRef, original: str) -> Reply:
    """The escalation note in the asker's thread, as first posted, with today's status."""
    first = original or say("escalated_no_staff", ticket.language, ticket=ticket.id)
    return Reply(
        conversation=posted,
        text=f"{first}\n_{status_line(ticket)}_",
        kind=ReplyKind.ESCALATION,
        buttons=_ticket_buttons(ticket, ticket.language),
    )


class Escalations:
    def __init__(self, *, settings: Settings, store: AsyncStore, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.hours = business_hours(settings)
        self._locks: dict[str, asyncio.Lock] = {}  # one per conversation being escalated
        self._lock_users: dict[str, int] = {}

    def _minutes(self, start: datetime, minutes: int) -> datetime:
        return self.hours.add_minutes(start, minutes)

    # -- opening ------------------------------------------------------------------------

    async def open(
        self,
        *,
        conversation: ConversationRef,
        asker: Author,
        question: str,
        reason: EscalationReason,
        channel: Channel,
        language: str,
        lead: str = "",
        answer_id: int | None = None,
        in_reply_to: str | None = None,
        visibility: DocVisibility = DocVisibility.INTERNAL,
        tags: tuple[str, ...] = (),
        context: Context | None = None,
    ) -> Ticket:
        """Open a ticket (or add to the open one in this thread), tag staff, tell the asker.
        Escalations in one conversation are serialised here, and the store keeps one active
        ticket per thread across processes, so racing presses end in one ticket, one ping and
        one card. A ticket whose announcement failed earlier is announced now."""
        key = conversation.key
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._lock_users[key] = self._lock_users.get(key, 0) + 1
        try:
            async with lock:
                return await self._open(
                    conversation=conversation,
                    asker=asker,
                    question=question,
                    reason=reason,
                    channel=channel,
                    language=language,
                    lead=lead,
                    answer_id=answer_id,
                    in_reply_to=in_reply_to,
                    visibility=visibility,
                    tags=tags,
                    context=context,
                )
        finally:
            self._lock_users[key] -= 1
            if not self._lock_users[key]:  # nobody else waiting: forget the lock
                del self._lock_users[key], self._locks[key]

    async def _open(
        self,
        *,
        conversation: ConversationRef,
        asker: Author,
        question: str,
        reason: EscalationReason,
        channel: Channel,
        language: str,
        lead: str,
        answer_id: int | None,
        in_reply_to: str | None,
        visibility: DocVisibility,
        tags: tuple[str, ...],
        context: Context | None,
    ) -> Ticket:
        now = self.clock.now()
        mentions = staff_mentions(self.settings, conversation, tags)
        oncall = staff_mentions(self.settings, conversation, tier="oncall")
        first_due = self._minutes(now, self.settings.escalation.first_response_minutes)
        if self.hours.is_open(now):
            stage, due = SlaStage.FIRST_RESPONSE, first_due
        elif oncall:
            mentions, stage, due = oncall, SlaStage.FIRST_RESPONSE, first_due
        else:
            # nobody is in: do not ping now; the SLA clock pings when the team opens
            stage, due, mentions = SlaStage.WAITING_FOR_HOURS, self.hours.next_open(now), ()
        someone_to_remind = bool(staff_mentions(self.settings, conversation, tags) or oncall)
        existing = await self.store.run(StateStore.active_ticket, conversation, asker.id)
        ticket, created = (
            (existing, False)
            if existing is not None
            else await self.store.run(
                StateStore.create_ticket,
                ref=conversation,
                asker=asker,
                question=question,
                reason=reason,
                at=now,
                answer_id=answer_id,
                language=language,
                visibility=str(visibility),
                tags=tags,
                sla_stage=stage,
                next_action_at=due if someone_to_remind else None,
                context={"answer": context.answer, "sources": list(context.sources)} if context else None,
            )
        )
        announced = any(
            kind == "thread" for kind, _, _ in await self.store.run(StateStore.ticket_posts, ticket.id)
        )
        if not created and announced:
            text = say("already_escalated", language, ticket=ticket.id, status=status_line(ticket))
            await channel.send(
                Reply(
                    conversation=conversation,
                    text=" ".join(p for p in (lead, text) if p),
                    kind=ReplyKind.ESCALATION,
                    in_reply_to=in_reply_to,
                )
            )
            return ticket
        log.info(
            "ticket opened",
            extra={
                "ticket_id": ticket.id,
                "platform": conversation.platform,
                "channel": conversation.channel,
                "reason": str(reason),
            },
        )
        if stage == SlaStage.WAITING_FOR_HOURS:
            body = say(
                "escalated_after_hours",
                language,
                ticket=ticket.id,
                hours=self.hours.describe(),
                when=self._local(due),
            )
        else:
            body = say("escalated" if mentions else "escalated_no_staff", language, ticket=ticket.id)
        text = " ".join(p for p in (lead, body) if p)
        posted = await channel.send(
            Reply(
                conversation=conversation,
                text=text,
                kind=ReplyKind.ESCALATION,
                mentions=mentions,
                buttons=_ticket_buttons(ticket, language),
                in_reply_to=in_reply_to,
            )
        )
        await self.store.run(StateStore.add_ticket_post, ticket.id, posted, "thread", text)
        await self._post_triage_card(ticket, channel, context)
        return ticket

    def _local(self, moment: datetime) -> str:
        return moment.astimezone(self.hours.zone).strftime("%a %H:%M %Z")

    async def _post_triage_card(self, ticket: Ticket, channel: Channel, context: Context | None) -> None:
        ps = policy.platform_settings(self.settings, ticket.conversation.platform)
        if ps is None or not ps.triage_channel:
            return
        where = ConversationRef(
            platform=ticket.conversation.platform,
            workspace=ticket.conversation.workspace,
            channel=ps.triage_channel,
        )
        try:
            posted = await channel.send(card(ticket, where, self.clock.now(), context))
        except Exception:
            # the asker has been told and the ticket exists; a missing card must not undo that
            log.exception("could not post the triage card", extra={"ticket_id": ticket.id})
            return
        await self.store.run(StateStore.add_ticket_post, ticket.id, posted, "card")

    # -- transitions ----------------------------------------------------------------------

    def _may_work_tickets(self, actor: Author, platform: str) -> bool:
        return policy.is_staff(actor, platform, self.settings) or policy.is_admin(
            actor, platform, self.settings
        )

    async def claim(self, ticket_id: int, actor: Author, channel: Channel, platform: str) -> TransitionResult:
        now = self.clock.now()
        return await self._transition(
            ticket_id,
            actor,
            channel,
            platform=platform,
            to=TicketStatus.CLAIMED,
            allowed_from=(TicketStatus.OPEN,),
            announce="claimed",
            assignee=actor,
            fields={
                "sla_stage": SlaStage.CLAIMED,
                "next_action_at": self._minutes(now, self.settings.escalation.claimed_idle_minutes),
            },
        )

    async def resolve(
        self, ticket_id: int, actor: Author, channel: Channel, platform: str, note: str = ""
    ) -> TransitionResult:
        result = await self._transition(
            ticket_id,
            actor,
            channel,
            platform=platform,
            to=TicketStatus.RESOLVED,
            allowed_from=ACTIVE,
            announce="resolved_note" if note else "resolved",
            values={"note": note},
            detail=note,
            keep_assignee=True,
            fields={"next_action_at": None, "resolved_at": self.clock.now(), "note": note or None},
        )
        if result.changed and result.ticket is not None:
            await self._ask_for_rating(result.ticket, channel)
            draft = await self._draft_from(result.ticket)
            if draft is not None:
                return TransitionResult(
                    changed=True,
                    ticket=result.ticket,
                    message=f"{result.message} The staff reply in the thread became knowledge draft "
                    f"#{draft}: review it with `/support learn show {draft}`.",
                )
        return result

    async def _draft_from(self, ticket: Ticket) -> int | None:
        """The learning loop: what staff wrote in the thread becomes a draft knowledge entry.
        A pending draft is brought up to date (staff may have corrected themselves after a
        reopen); a decided one is followed by a new draft of what staff wrote since."""
        previous = await self.store.run(StateStore.latest_draft_for, ticket.id)
        pending = previous is not None and previous.status == "pending"
        since = (
            previous.created_at
            if previous is not None and not pending and previous.created_at
            else ticket.created_at
        )
        replies = await self.store.run(StateStore.messages_since, ticket.conversation, since, "staff")
        answer = "\n\n".join(r.strip() for r in replies if r.strip())
        if not answer:
            return None
        if pending and previous is not None:
            await self.store.run(StateStore.refresh_draft, previous.id, answer, self.clock.now())
            return previous.id
        title = (
            ticket.question.strip().splitlines()[0][:120]
            if ticket.question.strip()
            else f"Ticket {ticket.id}"
        )
        draft = await self.store.run(
            StateStore.create_draft,
            ticket_id=ticket.id,
            title=title,
            question=ticket.question,
            answer=answer,
            visibility=str(ticket.visibility),
            at=self.clock.now(),
        )
        log.info("knowledge draft created", extra={"ticket_id": ticket.id})
        return draft.id

    async def reassign(
        self, ticket_id: int, actor: Author, to: Author, channel: Channel, platform: str
    ) -> TransitionResult:
        current = await self.store.run(StateStore.ticket, ticket_id)
        if current is not None and not policy.is_admin(actor, platform, self.settings):
            return TransitionResult(
                changed=False, ticket=current, message="Only admins can reassign tickets."
            )
        now = self.clock.now()
        return await self._transition(
            ticket_id,
            actor,
            channel,
            platform=platform,
            to=TicketStatus.CLAIMED,
            allowed_from=ACTIVE,
            announce="reassigned",
            values={"to": to.display},
            assignee=to,
            event="reassigned",
            detail=to.id,
            fields={
                "sla_stage": SlaStage.CLAIMED,
                "next_action_at": self._minutes(now, self.settings.escalation.claimed_idle_minutes),
            },
        )

    async def close_by_asker(self, ticket: Ticket, actor: Author, channel: Channel) -> TransitionResult:
        """The asker says they are all set: close without staff."""
        if actor.id != ticket.asker_id:
            return TransitionResult(
                changed=False, ticket=ticket, message="Only the person who asked can close this."
            )
        return await self._transition(
            ticket.id,
            actor,
            channel,
            platform=ticket.conversation.platform,
            to=TicketStatus.CLOSED,
            allowed_from=ACTIVE,
            announce="closed_by_asker",
            check_staff=False,
            keep_assignee=True,
            fields={"next_action_at": None},
        )

    async def reopen(self, ticket: Ticket, actor: Author, channel: Channel, text: str) -> TransitionResult:
        """The asker replies after resolution, within the reopen window."""
        now = self.clock.now()
        result = await self._transition(
            ticket.id,
            actor,
            channel,
            platform=ticket.conversation.platform,
            to=TicketStatus.OPEN,
            allowed_from=(TicketStatus.RESOLVED,),
            announce=None,
            check_staff=False,
            keep_assignee=True,
            event="reopened",
            detail=text[:500],
            fields={
                "sla_stage": SlaStage.FIRST_RESPONSE,
                "next_action_at": self._minutes(now, self.settings.escalation.first_response_minutes),
                "resolved_at": None,
            },
        )
        if result.changed and result.ticket is not None:
            reopened = result.ticket
            mentions = staff_mentions(self.settings, reopened.conversation, reopened.tags)
            await channel.send(
                Reply(
                    conversation=reopened.conversation,
                    text=say("reopened", reopened.language, ticket=reopened.id),
                    kind=ReplyKind.ESCALATION,
                    mentions=mentions,
                )
            )
        return result

    def reopen_window_open(self, ticket: Ticket) -> bool:
        if ticket.status != TicketStatus.RESOLVED or ticket.resolved_at is None:
            return False
        return self.clock.now() - ticket.resolved_at <= timedelta(days=self.settings.escalation.reopen_days)

    async def staff_replied(self, ticket: Ticket, staff: Author, channel: Channel) -> None:
        """A staff member wrote in the ticket's thread: that claims an open ticket, and
        restarts the assignee's reminder clock on a claimed one."""
        now = self.clock.now()
        if ticket.status == TicketStatus.OPEN:
            await self.claim(ticket.id, staff, channel, ticket.conversation.platform)
        await self.store.run(
            StateStore.set_ticket_fields,
            ticket.id,
            last_staff_reply_at=now,
            sla_stage=SlaStage.CLAIMED,
            next_action_at=self._minutes(now, self.settings.escalation.claimed_idle_minutes),
        )

    async def _transition(
        self,
        ticket_id: int,
        actor: Author,
        channel: Channel,
        *,
        platform: str,
        to: TicketStatus,
        allowed_from: tuple[TicketStatus, ...],
        announce: str | None,
        values: Mapping[str, object] | None = None,
        detail: str = "",
        assignee: Author | None = None,
        keep_assignee: bool = False,
        check_staff: bool = True,
        event: str | None = None,
        fields: Mapping[str, object] | None = None,
    ) -> TransitionResult:
        current = await self.store.run(StateStore.ticket, ticket_id)
        if current is None:
            return TransitionResult(changed=False, ticket=None, message=f"There is no ticket #{ticket_id}.")
        if current.conversation.platform != platform:
            # staff and admin rights are per platform: a Discord admin is nobody on Slack
            return TransitionResult(
                changed=False,
                ticket=current,
                message=say(
                    "wrong_platform",
                    current.language,
                    ticket=ticket_id,
                    platform=current.conversation.platform,
                ),
            )
        if check_staff and not self._may_work_tickets(actor, current.conversation.platform):
            return TransitionResult(
                changed=False, ticket=current, message="Only the support team can claim or resolve tickets."
            )
        if to == TicketStatus.RESOLVED and current.assignee_id is None:
            keep_assignee, assignee = False, actor  # whoever resolves an unclaimed ticket owns it
        changed, ticket = await self.store.run(
            StateStore.transition_ticket,
            ticket_id,
            to=to,
            allowed_from=allowed_from,
            actor=actor,
            at=self.clock.now(),
            detail=detail,
            assignee=None if keep_assignee else assignee,
            event=event,
            fields=dict(fields or {}),
        )
        if not changed:
            return TransitionResult(
                changed=False, ticket=ticket, message=f"Ticket #{ticket.id} is already {status_line(ticket)}."
            )
        log.info(
            "ticket %s", event or to, extra={"ticket_id": ticket.id, "platform": ticket.conversation.platform}
        )
        await self.store.run(
            StateStore.set_conversation_flags,
            ticket.conversation,
            self.clock.now(),
            # a person owns the thread while the ticket is worked on; after it, the bot may help again
            human_takeover=to == TicketStatus.CLAIMED,
        )
        if announce:
            text = say(announce, ticket.language, who=actor.display, ticket=ticket.id, **(values or {}))
            await channel.send(Reply(conversation=ticket.conversation, text=text, kind=ReplyKind.INFO))
        await self.refresh(ticket, channel)
        return TransitionResult(
            changed=True, ticket=ticket, message=f"Ticket #{ticket.id} is now {status_line(ticket)}."
        )

    async def refresh(self, ticket: Ticket, channel: Channel) -> None:
        """Bring every message that shows this ticket up to date."""
        now = self.clock.now()
        saved = await self.store.run(StateStore.ticket_context, ticket.id)
        context = Context(answer=saved.get("answer"), sources=tuple(saved.get("sources") or ()))
        for kind, posted, original in await self.store.run(StateStore.ticket_posts, ticket.id):
            reply = (
                _thread_note(ticket, posted.conversation, original)
                if kind == "thread"
                else card(ticket, posted.conversation, now, context)
            )
            try:
                await channel.edit(posted, reply)
            except Exception:
                log.exception("could not update a ticket message", extra={"ticket_id": ticket.id})

    async def _ask_for_rating(self, ticket: Ticket, channel: Channel) -> None:
        if not self.settings.escalation.ask_rating or not ticket.asker_id:
            return
        if not await self.store.run(StateStore.claim_rating_prompt, ticket.id):
            return
        value = str(ticket.id)
        await channel.send(
            Reply(
                conversation=ticket.conversation,
                text=say("rate_prompt", ticket.language, ticket=ticket.id),
                kind=ReplyKind.INFO,
                buttons=(
                    Button(
                        action=ActionKind.RATE_GOOD,
                        label=say("button_rate_good", ticket.language),
                        value=value,
                    ),
                    Button(
                        action=ActionKind.RATE_BAD, label=say("button_rate_bad", ticket.language), value=value
                    ),
                ),
            )
        )

    async def rate(self, ticket_id: int, actor: Author, rating: str) -> str:
        ticket = await self.store.run(StateStore.ticket, ticket_id)
        if ticket is None:
            return f"There is no ticket #{ticket_id}."
        language = ticket.language
        if actor.id != ticket.asker_id:
            return say("rate_not_yours", language)
        if not await self.store.run(StateStore.rate_ticket, ticket_id, rating, actor.id, self.clock.now()):
            return say("rate_already", language)
        return say("rate_thanks", language)

    # -- the SLA clock ---------------------------------------------------------------------

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
        waited = age(now - ticket.created_at)
        if ticket.status == TicketStatus.CLAIMED:
            if stage != SlaStage.CLAIMED or not ticket.assignee_id:
                return 0
            next_stage, due = SlaStage.ASSIGNEE_REMINDED, None
            mentions: tuple[Mention, ...] = (Mention(kind=MentionKind.USER, id=ticket.assignee_id),)
            text = say("sla_assignee", ticket.language, ticket=ticket.id)
        elif stage == SlaStage.WAITING_FOR_HOURS:
            next_stage, due = SlaStage.FIRST_RESPONSE, self._minutes(now, e.first_response_minutes)
            mentions = staff_mentions(self.settings, ticket.conversation, ticket.tags)
            text = say("sla_after_hours", ticket.language, ticket=ticket.id)
        elif stage == SlaStage.FIRST_RESPONSE:
            next_stage, due = SlaStage.REANNOUNCED, self._minutes(now, e.second_tier_minutes)
            mentions = staff_mentions(self.settings, ticket.conversation, ticket.tags)
            text = say("sla_reannounce", ticket.language, ticket=ticket.id, waited=waited)
        elif stage == SlaStage.REANNOUNCED:
            next_stage, due = SlaStage.SECOND_TIER, None
            mentions = staff_mentions(self.settings, ticket.conversation, tier="second") or staff_mentions(
                self.settings, ticket.conversation, ticket.tags
            )
            text = say("sla_second_tier", ticket.language, ticket=ticket.id, waited=waited)
        else:
            return 0
        if not await self.store.run(
            StateStore.advance_sla,
            ticket.id,
            from_stage=stage,
            to_stage=next_stage,
            next_action_at=due,
            at=now,
        ):
            return 0  # someone else fired it (another process, or a transition in between)
        try:
            await channel.send(
                Reply(conversation=ticket.conversation, text=text, kind=ReplyKind.TICKET, mentions=mentions)
            )
        except Exception:
            # undo so the next tick tries again: a reminder is never silently dropped. Only if
            # nothing moved the ticket meanwhile (a claim sets its own clock, which must stay).
            await self.store.run(
                StateStore.advance_sla,
                ticket.id,
                from_stage=next_stage,
                to_stage=stage,
                next_action_at=ticket.next_action_at,
                at=now,
            )
            raise
        log.info(
            "SLA reminder sent", extra={"ticket_id": ticket.id, "platform": ticket.conversation.platform}
        )
        updated = await self.store.run(StateStore.ticket, ticket.id)
        if updated is not None:
            await self.refresh(updated, channel)
        return 1
