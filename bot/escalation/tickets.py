"""Tickets: the lifecycle. Open, claim, resolve, close, reopen, reassign, rating, and the
takeover of a thread by the staff member working on it.

Every transition is a compare-and-set in the store, so two staff pressing claim at once
cannot both win; the loser is told who has it. Every transition is recorded with who and
when, announced in the asker's thread, and reflected in the messages that show the ticket
(see `cards`). Who gets tagged is `routing`'s decision, the reminders are the `sla`
clock's, and asking for a rating and recording it live in `ratings`; `Escalations` is the
one object the core talks to.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from bot import policy
from bot.channel_types import DM_WORKSPACE, DocVisibility
from bot.config import Settings
from bot.escalation.cards import TicketPosts, status_line
from bot.escalation.learning import draft_from
from bot.escalation.opening import TicketOpener
from bot.escalation.ratings import Satisfaction
from bot.escalation.routing import FirstPing, direct_message, first_ping
from bot.escalation.sla import SlaClock
from bot.escalation.values import (
    ACTIVE,
    Context,
    Drafted,
    PostKind,
    TicketRating,
    TicketRequest,
    TransitionResult,
)
from bot.insights.similar_tickets import SimilarTickets
from bot.markdown import literal
from bot.messages import say
from bot.ports import Channel, Clock, Summarizer
from bot.privacy.people import People
from bot.store import AnswerRecord, AsyncStore, StateStore
from bot.types import (
    Author,
    ConversationRef,
    EscalationReason,
    Mention,
    MentionKind,
    Posted,
    Reply,
    ReplyKind,
    SlaStage,
    Ticket,
    TicketStatus,
)

log = logging.getLogger(__name__)


class Escalations:
    def __init__(
        self,
        *,
        settings: Settings,
        store: AsyncStore,
        clock: Clock,
        summarizer: Summarizer | None = None,
        similar: SimilarTickets | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.posts = TicketPosts(settings=settings, store=store, clock=clock, similar=similar)
        self.sla = SlaClock(settings=settings, store=store, clock=clock, posts=self.posts)
        self.hours = self.sla.hours
        self.opener = TicketOpener(
            settings=settings, store=store, clock=clock, posts=self.posts, sla=self.sla, summarizer=summarizer
        )
        self.satisfaction = Satisfaction(settings=settings, store=store, clock=clock)

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
        said_in: Posted | None = None,
        pressed: bool = False,
        event: str | None = None,
    ) -> Ticket:
        """`open_request` with the request spelled out as keywords, as the core calls it."""
        request = TicketRequest(
            conversation=conversation,
            asker=asker,
            question=question,
            reason=reason,
            language=language,
            lead=lead,
            answer_id=answer_id,
            in_reply_to=in_reply_to,
            visibility=visibility,
            tags=tags,
            context=context,
            said_in=said_in,
            pressed=pressed,
            event=event,
        )
        return await self.open_request(request, channel)

    async def answer_did_not_help(
        self,
        record: AnswerRecord,
        asker: Author,
        channel: Channel,
        *,
        language: str,
        visibility: DocVisibility,
        lead: str,
    ) -> Ticket:
        """The asker says the bot's answer did not help (Not helpful, or Still stuck on the
        follow-up): a ticket about that answer, with what the bot said for staff to see. Both
        are buttons: a repeat press (a double click) is answered to the presser alone."""
        return await self.open(
            conversation=ConversationRef.from_key(record.conversation),
            asker=asker,
            question=record.question,
            reason=EscalationReason.NOT_HELPFUL,
            channel=channel,
            language=language,
            lead=lead,
            answer_id=record.id,
            visibility=visibility,
            context=Context.of_answer(record),
            pressed=True,
        )

    async def open_request(self, request: TicketRequest, channel: Channel) -> Ticket:
        """Open a ticket (or add to the open one in this thread), tag staff, tell the asker."""
        return await self.opener.open(request, channel)

    # -- transitions ----------------------------------------------------------------------

    def _may_work(self, actor: Author, where: ConversationRef, ticket: Ticket) -> bool:
        """Whether `actor`, acting from `where`, may claim, resolve and work `ticket`: staff or
        an admin where rights over it are decided (`rights_workspace`), or one of the people
        it is routed to (its channel's or its tags' staff, for this ticket alone)."""
        platform, workspace = ticket.conversation.platform, rights_workspace(where, ticket.conversation)
        return (
            policy.is_staff(actor, platform, self.settings, workspace)
            or policy.is_admin(actor, platform, self.settings, workspace)
            or policy.is_routed_staff(actor, self.settings, ticket.conversation, ticket.tags)
        )

    def _idle_deadline(self) -> Mapping[str, object]:
        """The SLA fields of a ticket someone is working on: remind them if they go quiet."""
        return {
            "sla_stage": SlaStage.CLAIMED,
            "next_action_at": self.sla.deadline(
                self.clock.now(), self.settings.escalation.claimed_idle_minutes
            ),
        }

    async def claim(
        self,
        ticket_id: int,
        actor: Author,
        channel: Channel,
        where: ConversationRef,
        *,
        language: str | None = None,
    ) -> TransitionResult:
        """`where`: the conversation the actor acts from (its platform and workspace);
        `language`: the one to tell them in (a command's, bot/commands/language.py). Without
        it, staff working a ticket's card are told in English, and a refusal an asker may
        meet is in the ticket's language."""
        return await self._transition(
            ticket_id,
            actor,
            channel,
            where=where,
            to=TicketStatus.CLAIMED,
            allowed_from=(TicketStatus.OPEN,),
            announce="claimed",
            assignee=actor,
            fields=self._idle_deadline(),
            language=language,
        )

    async def resolve(
        self,
        ticket_id: int,
        actor: Author,
        channel: Channel,
        where: ConversationRef,
        note: str = "",
        *,
        language: str | None = None,
    ) -> TransitionResult:
        """As `claim`, with the resolution's note for the thread."""
        result = await self._transition(
            ticket_id,
            actor,
            channel,
            where=where,
            to=TicketStatus.RESOLVED,
            allowed_from=ACTIVE,
            announce="resolved_note" if note else "resolved",
            values={"note": note},
            detail=note,
            keep_assignee=True,
            fields={"next_action_at": None, "resolved_at": self.clock.now(), "note": note or None},
            language=language,
        )
        if result.changed and result.ticket is not None:
            try:
                await self.satisfaction.ask_for_rating(result.ticket, channel)
            except Exception:  # the resolution stands, and the staff reply may still become a draft
                log.warning("could not ask for a rating", exc_info=True, extra={"ticket_id": ticket_id})
            drafting = await draft_from(self.store, result.ticket, self.clock.now())
            if drafting is not None:
                learned = "resolved_draft_kept" if drafting.drafted == Drafted.KEPT else "resolved_drafted"
                return TransitionResult(
                    changed=True,
                    ticket=result.ticket,
                    message=f"{result.message} {say(learned, language or 'en', draft=drafting.draft_id)}",
                    told=result.told,
                )
        return result

    async def reassign(
        self,
        ticket_id: int,
        actor: Author,
        to: Author,
        channel: Channel,
        where: ConversationRef,
        *,
        language: str | None = None,
    ) -> TransitionResult:
        """As `claim`, giving the ticket to `to`: for admins."""
        current = await self.store.run(StateStore.ticket, ticket_id)
        if current is not None and not policy.is_admin(
            actor, where.platform, self.settings, rights_workspace(where, current.conversation)
        ):
            return TransitionResult(
                changed=False, ticket=current, message=say("reassign_admins_only", language or "en")
            )
        announce, tags = _assignment_note(actor, to)
        return await self._transition(
            ticket_id,
            actor,
            channel,
            where=where,
            to=TicketStatus.CLAIMED,
            allowed_from=ACTIVE,
            announce=announce,
            mentions=tags,
            values={"to": literal(to.display)},  # a name typed into a mention: shown as typed
            assignee=to,
            event="reassigned",
            detail=to.id,
            fields=self._idle_deadline(),
            # Assign pressed twice, or to whoever has it: the thread is not told again
            unless_held_by=to.id,
            language=language,
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
            where=ticket.conversation,
            to=TicketStatus.CLOSED,
            allowed_from=ACTIVE,
            announce="closed_by_asker",
            check_staff=False,
            keep_assignee=True,
            fields={"next_action_at": None},
        )

    async def reopen(self, ticket: Ticket, actor: Author, channel: Channel, text: str) -> TransitionResult:
        """The asker replies after resolution, within the reopen window. Tagged and timed as
        an opening at this hour is (`first_ping`): outside business hours the on-call people,
        or nobody until the team opens, never the day team at 03:00 on a Saturday."""
        # the ticket keeps its conversation and tags: the ping they give now is the reopened one's
        ping = first_ping(self.settings, self.hours, ticket.conversation, ticket.tags, self.clock.now())
        result = await self._transition(
            ticket.id,
            actor,
            channel,
            where=ticket.conversation,
            to=TicketStatus.OPEN,
            allowed_from=(TicketStatus.RESOLVED,),
            announce=None,
            check_staff=False,
            keep_assignee=True,
            event="reopened",
            detail=text[:500],
            fields={
                "sla_stage": ping.stage,
                "next_action_at": ping.due if ping.remind else None,
                "resolved_at": None,
            },
        )
        if result.changed and result.ticket is not None:
            reopened = result.ticket
            direct = direct_message(reopened.conversation)  # tagged there, staff would hear nothing
            await channel.send(
                Reply(
                    conversation=reopened.conversation,
                    text=self._reopened_note(reopened, ping),
                    kind=ReplyKind.ESCALATION,
                    mentions=() if direct else ping.mentions,
                )
            )
            if PostKind.CARD not in await self.posts.shown(reopened):  # dropped while it was done
                await self.posts.post_triage_card(reopened, channel, await self.posts.saved_context(reopened))
            elif direct and ping.mentions:  # a new card tags them; below the one out, a line does
                text = say("reopened_for_staff", reopened.language, ticket=reopened.id)
                told = Reply(
                    conversation=reopened.conversation,
                    text=text,
                    kind=ReplyKind.TICKET,
                    mentions=ping.mentions,
                )
                if (staff := await self.posts.for_staff(reopened, told)) is not None:
                    await channel.send(staff)
        return result

    def _reopened_note(self, ticket: Ticket, ping: FirstPing) -> str:
        """What the asker is told of the reopen: when a person will be there, as a new ticket's
        note says it (after hours, nobody is told before opening)."""
        if ping.stage == SlaStage.WAITING_FOR_HOURS:
            return say(
                "reopened_after_hours",
                ticket.language,
                ticket=ticket.id,
                hours=self.hours.describe(ticket.language),
                when=self.hours.local(ping.due, ticket.language),
            )
        return say("reopened", ticket.language, ticket=ticket.id)

    def reopen_window_open(self, ticket: Ticket) -> bool:
        if ticket.status != TicketStatus.RESOLVED or ticket.resolved_at is None:
            return False
        return self.clock.now() - ticket.resolved_at <= timedelta(days=self.settings.escalation.reopen_days)

    async def staff_replied(self, ticket: Ticket, staff: Author, channel: Channel) -> None:
        """A staff member wrote in the ticket's thread: that claims an open ticket, and
        restarts the assignee's reminder clock on a claimed one."""
        now = self.clock.now()
        if ticket.status == TicketStatus.OPEN:
            await self.claim(ticket.id, staff, channel, ticket.conversation)
        await self.store.run(
            StateStore.set_ticket_fields,
            ticket.id,
            last_staff_reply_at=now,
            sla_stage=SlaStage.CLAIMED,
            next_action_at=self.sla.deadline(now, self.settings.escalation.claimed_idle_minutes),
        )

    async def _transition(
        self,
        ticket_id: int,
        actor: Author,
        channel: Channel,
        *,
        where: ConversationRef,
        to: TicketStatus,
        allowed_from: tuple[TicketStatus, ...],
        announce: str | None,
        mentions: tuple[Mention, ...] = (),
        values: Mapping[str, object] | None = None,
        detail: str = "",
        assignee: Author | None = None,
        keep_assignee: bool = False,
        check_staff: bool = True,
        event: str | None = None,
        fields: Mapping[str, object] | None = None,
        unless_held_by: str | None = None,
        language: str | None = None,
    ) -> TransitionResult:
        staff = language or "en"  # what the actor is told in (`claim` says which)
        current = await self.store.run(StateStore.ticket, ticket_id)
        if current is None:
            return TransitionResult(
                changed=False, ticket=None, message=say("no_ticket", staff, ticket=ticket_id)
            )
        if current.conversation.platform != where.platform:
            # staff and admin rights are per platform: a Discord admin is nobody on Slack
            return TransitionResult(
                changed=False,
                ticket=current,
                message=say(
                    "wrong_platform",
                    language or current.language,
                    ticket=ticket_id,
                    platform=current.conversation.platform,
                ),
            )
        if _other_workspace(where, current.conversation):
            # rights are per workspace too: an admin of one is nobody in another
            return TransitionResult(
                changed=False,
                ticket=current,
                message=say("wrong_workspace", language or current.language, ticket=ticket_id),
            )
        if check_staff and not self._may_work(actor, where, current):
            # mostly the asker, pressing the buttons on the note in their thread: in the language
            # their memory holds, else the ticket's (theirs, and the note's); a command says its own
            if language is None:
                people = People(settings=self.settings, store=self.store, clock=self.clock)
                facts = await people.recall(current.conversation.platform, actor.id)
                language = people.language_for(facts, "", current.language)
            return TransitionResult(changed=False, ticket=current, message=say("staff_only", language))
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
            unless_held_by=unless_held_by,
        )
        if not changed:
            return TransitionResult(
                changed=False, ticket=ticket, message=_unchanged(ticket, to, unless_held_by, language)
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
        message, told = say("ticket_now", staff, ticket=ticket.id, status=status_line(ticket, staff)), True
        if announce:
            if direct_message(ticket.conversation):  # nobody of the team can write or be tagged there
                announce, mentions = _DIRECT_WORDS.get(announce, announce), ()
            text = say(announce, ticket.language, who=actor.display, ticket=ticket.id, **(values or {}))
            try:
                await channel.send(
                    Reply(conversation=ticket.conversation, text=text, kind=ReplyKind.INFO, mentions=mentions)
                )
            except Exception:
                # the ticket has moved (committed): its card and notes must show it, and the
                # person who moved it must know the thread was not told, rather than "try again"
                log.warning(
                    "could not tell the thread the ticket moved",
                    exc_info=True,
                    extra={"ticket_id": ticket.id, "platform": ticket.conversation.platform},
                )
                message += " " + say("thread_not_told", staff)
                told = False
        await self.refresh(ticket, channel)
        return TransitionResult(changed=True, ticket=ticket, message=message, told=told)

    async def refresh(self, ticket: Ticket, channel: Channel) -> None:
        """Bring every message that shows this ticket up to date."""
        await self.posts.refresh(ticket, channel)

    # -- satisfaction ---------------------------------------------------------------------

    async def rate(
        self, ticket_id: int, actor: Author, rating: TicketRating | str, *, language: str = "en"
    ) -> str:
        """The asker's rating, once (bot/escalation/ratings.py)."""
        return await self.satisfaction.rate(ticket_id, actor, rating, language=language)

    # -- the SLA clock ---------------------------------------------------------------------

    async def tick(self, channels: Mapping[str, Channel]) -> int:
        """Fire every reminder that is due, once, and post the cards owed. Returns how many."""
        return await self.sla.tick(channels) + await self.posts.tick(channels)


# the thread's announcements that say a person will reply there, as a direct message says them
_DIRECT_WORDS = {
    "claimed": "claimed_direct",
    "reassigned": "reassigned_direct",
    "reassigned_tagged": "reassigned_direct",  # "assigned this to you" would read as the asker's
}


def _other_workspace(where: ConversationRef, ticket: ConversationRef) -> bool:
    """Whether `where` is in another workspace (Slack team, Discord server) than the ticket; a
    direct message, which belongs to no server on Discord, is not another workspace."""
    here, there = where.workspace, ticket.workspace
    return bool(here and there) and DM_WORKSPACE not in (here, there) and here != there


def _assignment_note(actor: Author, to: Author) -> tuple[str, tuple[Mention, ...]]:
    """How the thread is told whom a ticket was given to: by tagging them, which the platform
    shows as their name and which tells them (a slash command or the dashboard pings nobody,
    whatever name the bot knows them by); by name only when they took it themselves."""
    if to.name and to.id == actor.id:
        return "reassigned", ()
    return "reassigned_tagged", (Mention(kind=MentionKind.USER, id=to.id),)


def rights_workspace(where: ConversationRef, ticket: ConversationRef) -> str:
    """The workspace whose settings decide what someone acting from `where` may do with a
    ticket of `ticket`: the ticket's own, or, for a direct message's (on Discord it belongs to
    no server, and staff act on it from any: `policy.listed_from`), the one they act from, whose
    settings may name staff (`[discord.workspaces."G"] staff_roles`) the shared ones do not."""
    return where.workspace if ticket.workspace == DM_WORKSPACE else ticket.workspace


def _unchanged(ticket: Ticket, to: TicketStatus, held_by: str | None, language: str | None) -> str:
    """What the presser is told of a move that changed nothing: that the ticket is already
    with the person it was to go to (without `language`, in the ticket's, as the chat's other
    refusals about it are), or the status it already has (without it, in staff's English)."""
    if held_by is not None and ticket.status == to and ticket.assignee_id == held_by:
        to_whom = ticket.assignee_name or held_by
        return say("already_assigned", language or ticket.language, ticket=ticket.id, to=to_whom)
    staff = language or "en"
    return say("ticket_already", staff, ticket=ticket.id, status=status_line(ticket, staff))
