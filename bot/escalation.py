"""Tickets: opening one, tagging the staff, and moving it through claim and resolve.

Every transition is a compare-and-set in the store, so two staff pressing claim at once
cannot both win; the loser is told who has it. The messages that show a ticket (the note
in the asker's thread and the card in the triage channel) are remembered and updated on
each transition, so what people see never goes stale.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot import policy
from bot.config import DiscordSettings, Settings, SlackSettings
from bot.messages import say
from bot.ports import Channel, Clock
from bot.store import AsyncStore, StateStore
from bot.types import (
    ActionKind,
    Author,
    Button,
    ButtonStyle,
    ConversationRef,
    EscalationReason,
    Mention,
    MentionKind,
    Reply,
    ReplyKind,
    Ticket,
    TicketStatus,
)

log = logging.getLogger(__name__)

_REASON_TEXT = {
    EscalationReason.LOW_CONFIDENCE: "the bot was not confident",
    EscalationReason.ASKED_FOR_HUMAN: "asked for a person",
    EscalationReason.NOT_HELPFUL: "marked the answer not helpful",
    EscalationReason.UNANSWERED_FOLLOWUPS: "follow-ups went unanswered",
    EscalationReason.ERROR: "the bot failed while answering",
    EscalationReason.ADMIN: "escalated by an admin",
}


@dataclass(frozen=True, kw_only=True)
class TransitionResult:
    changed: bool
    ticket: Ticket | None
    message: str  # what to tell the person who asked for the transition


def staff_mentions(settings: Settings, platform: str) -> tuple[Mention, ...]:
    ps = policy.platform_settings(settings, platform)
    if ps is None:
        return ()
    mentions: list[Mention] = []
    if isinstance(ps, SlackSettings):
        mentions += [Mention(kind=MentionKind.GROUP, id=g) for g in ps.staff_groups]
    if isinstance(ps, DiscordSettings):
        mentions += [Mention(kind=MentionKind.ROLE, id=r) for r in ps.staff_roles]
    mentions += [Mention(kind=MentionKind.USER, id=u) for u in ps.staff_users]
    return tuple(mentions)


def _ticket_buttons(ticket: Ticket, language: str = "en") -> tuple[Button, ...]:
    value = str(ticket.id)
    if ticket.status == TicketStatus.OPEN:
        return (
            Button(
                action=ActionKind.CLAIM,
                label=say("button_claim", language),
                value=value,
                style=ButtonStyle.PRIMARY,
            ),
            Button(action=ActionKind.RESOLVE, label=say("button_resolve", language), value=value),
        )
    if ticket.status == TicketStatus.CLAIMED:
        return (
            Button(
                action=ActionKind.RESOLVE,
                label=say("button_resolve", language),
                value=value,
                style=ButtonStyle.PRIMARY,
            ),
        )
    return ()


def status_line(ticket: Ticket) -> str:
    if ticket.status == TicketStatus.CLAIMED:
        return f"claimed by {ticket.assignee_name or ticket.assignee_id}"
    if ticket.status == TicketStatus.RESOLVED:
        who = ticket.assignee_name or ticket.assignee_id
        return f"resolved by {who}" if who else "resolved"
    return str(ticket.status)


def card(ticket: Ticket, where: ConversationRef) -> Reply:
    """The ticket as staff see it in the triage channel."""
    question = ticket.question if len(ticket.question) <= 500 else ticket.question[:497] + "..."
    text = (
        f"**Ticket #{ticket.id}** · {status_line(ticket)} · {_REASON_TEXT[ticket.reason]}\n"
        f"From {ticket.asker_name or ticket.asker_id}:\n> {question}"
    )
    return Reply(
        conversation=where,
        text=text,
        kind=ReplyKind.TICKET,
        buttons=_ticket_buttons(ticket),
        refers_to=ticket.conversation,
    )


class Escalations:
    def __init__(self, *, settings: Settings, store: AsyncStore, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock

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
    ) -> Ticket:
        """Open a ticket (or reuse the open one in this thread), tag staff, tell the asker."""
        existing = await self.store.run(StateStore.active_ticket, conversation)
        if existing is not None:
            await channel.send(
                Reply(
                    conversation=conversation,
                    text=" ".join(
                        p
                        for p in (
                            lead,
                            say(
                                "already_escalated",
                                language,
                                ticket=existing.id,
                                status=status_line(existing),
                            ),
                        )
                        if p
                    ),
                    kind=ReplyKind.ESCALATION,
                    in_reply_to=in_reply_to,
                )
            )
            return existing
        ticket = await self.store.run(
            StateStore.create_ticket,
            ref=conversation,
            asker=asker,
            question=question,
            reason=reason,
            at=self.clock.now(),
            answer_id=answer_id,
            language=language,
        )
        log.info(
            "ticket opened",
            extra={
                "ticket_id": ticket.id,
                "platform": conversation.platform,
                "channel": conversation.channel,
                "reason": str(reason),
            },
        )
        mentions = staff_mentions(self.settings, conversation.platform)
        body = say("escalated" if mentions else "escalated_no_staff", language, ticket=ticket.id)
        posted = await channel.send(
            Reply(
                conversation=conversation,
                text=" ".join(p for p in (lead, body) if p),
                kind=ReplyKind.ESCALATION,
                mentions=mentions,
                buttons=_ticket_buttons(ticket, language),
                in_reply_to=in_reply_to,
            )
        )
        await self.store.run(StateStore.add_ticket_post, ticket.id, posted, "thread")
        await self._post_triage_card(ticket, channel)
        return ticket

    async def _post_triage_card(self, ticket: Ticket, channel: Channel) -> None:
        ps = policy.platform_settings(self.settings, ticket.conversation.platform)
        if ps is None or not ps.triage_channel:
            return
        where = ConversationRef(
            platform=ticket.conversation.platform,
            workspace=ticket.conversation.workspace,
            channel=ps.triage_channel,
        )
        try:
            posted = await channel.send(card(ticket, where))
        except Exception:
            # the asker has been told and the ticket exists; a missing card must not undo that
            log.exception("could not post the triage card", extra={"ticket_id": ticket.id})
            return
        await self.store.run(StateStore.add_ticket_post, ticket.id, posted, "card")

    async def claim(self, ticket_id: int, actor: Author, channel: Channel) -> TransitionResult:
        return await self._transition(
            ticket_id,
            actor,
            channel,
            to=TicketStatus.CLAIMED,
            allowed_from=(TicketStatus.OPEN,),
            announce="{who} is looking at this now and will reply here.",
        )

    async def resolve(
        self, ticket_id: int, actor: Author, channel: Channel, note: str = ""
    ) -> TransitionResult:
        return await self._transition(
            ticket_id,
            actor,
            channel,
            to=TicketStatus.RESOLVED,
            allowed_from=(TicketStatus.OPEN, TicketStatus.CLAIMED),
            announce="{who} marked this resolved." + (f" Note: {note}" if note else ""),
            detail=note,
        )

    async def _transition(
        self,
        ticket_id: int,
        actor: Author,
        channel: Channel,
        *,
        to: TicketStatus,
        allowed_from: tuple[TicketStatus, ...],
        announce: str,
        detail: str = "",
    ) -> TransitionResult:
        current = await self.store.run(StateStore.ticket, ticket_id)
        if current is None:
            return TransitionResult(changed=False, ticket=None, message=f"There is no ticket #{ticket_id}.")
        if not policy.is_staff(actor, current.conversation.platform, self.settings) and not policy.is_admin(
            actor, current.conversation.platform, self.settings
        ):
            return TransitionResult(
                changed=False, ticket=current, message="Only the support team can claim or resolve tickets."
            )
        keep_assignee = to == TicketStatus.RESOLVED and current.assignee_id is not None
        changed, ticket = await self.store.run(
            StateStore.transition_ticket,
            ticket_id,
            to=to,
            allowed_from=allowed_from,
            actor=actor,
            at=self.clock.now(),
            detail=detail,
            assignee=None if keep_assignee else actor,
        )
        if not changed:
            return TransitionResult(
                changed=False, ticket=ticket, message=f"Ticket #{ticket.id} is already {status_line(ticket)}."
            )
        log.info("ticket %s", to, extra={"ticket_id": ticket.id, "platform": ticket.conversation.platform})
        if to == TicketStatus.RESOLVED:
            await self.store.run(
                StateStore.set_conversation_flags, ticket.conversation, self.clock.now(), human_takeover=False
            )
        else:
            await self.store.run(
                StateStore.set_conversation_flags, ticket.conversation, self.clock.now(), human_takeover=True
            )
        await channel.send(
            Reply(
                conversation=ticket.conversation, text=announce.format(who=actor.display), kind=ReplyKind.INFO
            )
        )
        await self._refresh_posts(ticket, channel)
        return TransitionResult(
            changed=True, ticket=ticket, message=f"Ticket #{ticket.id} is now {status_line(ticket)}."
        )

    async def _refresh_posts(self, ticket: Ticket, channel: Channel) -> None:
        for kind, posted in await self.store.run(StateStore.ticket_posts, ticket.id):
            reply = card(ticket, posted.conversation)
            if kind == "thread":
                reply = Reply(
                    conversation=posted.conversation,
                    text=f"{say('escalated_no_staff', ticket.language, ticket=ticket.id)}\n_{status_line(ticket)}_",
                    kind=ReplyKind.ESCALATION,
                    buttons=_ticket_buttons(ticket, ticket.language),
                )
            try:
                await channel.edit(posted, reply)
            except Exception:
                log.exception("could not update a ticket message", extra={"ticket_id": ticket.id})
