"""Cards: what the messages that show a ticket say, and keeping every copy current.

A ticket is shown twice: the escalation note in the asker's thread and the card in the
triage channel. Both are remembered in the store when posted and edited in place on
every transition, so staff never act on a stale status. The rendering functions are pure;
`TicketPosts` does the posting and editing. Staff are tagged in the asker's thread, unless
nobody of the team reads it (a direct message): then the card tags them, and whatever else
is for staff goes to the triage channel (`for_staff`).

Both renderings pass what people wrote through `quoted` (bot/privacy/redaction.py), as every
other copy the bot makes does: the card puts the asker's words in a channel other people
read, and every post and edit of either message is built here, so a token pasted into a
question stops at this one place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot import faults, policy
from bot.config import Settings
from bot.escalation.brief import brief
from bot.escalation.routing import business_hours, card_tags, direct_message
from bot.escalation.values import ACTIVE, Context, PostKind
from bot.insights.similar_tickets import SimilarTickets
from bot.insights.similarity import Asked
from bot.messages import say
from bot.ports import Channel, Clock, FindsPosts
from bot.privacy.redaction import quoted, quoted_plain
from bot.store import AsyncStore, StateStore
from bot.store.state import settle
from bot.store.ticket_posts import CARD_LEASE, PostClaim
from bot.types import (
    ActionKind,
    Button,
    ButtonStyle,
    ConversationRef,
    EscalationReason,
    Mention,
    Posted,
    Reply,
    ReplyKind,
    SlaStage,
    Ticket,
    TicketStatus,
)

log = logging.getLogger(__name__)

# how many times one refresh shows a ticket that keeps moving under it: each move's own
# refresh shows it after, so a few rounds only spare a stale message in between
REFRESH_ROUNDS = 3
# the least wait before a ticket's post that failed (its card, an SLA reminder) is tried again;
# after that, half the time it has been owed, at most an hour: a platform away for a minute
# gets it soon, a channel or an install that is gone costs a failed call and a log line less
# and less often, and once that is fixed, an open ticket's post follows within the hour
CARD_RETRY_AT_LEAST = timedelta(minutes=2)
CARD_RETRY_AT_MOST = timedelta(hours=1)
# how long before the ticket's opening an earlier claim's card is looked for: the platform's
# clock and this host's may differ by a little
CARD_LOOK_BACK = timedelta(minutes=1)


def reason_text(reason: EscalationReason, language: str = "en") -> str:
    """Why the ticket was opened, in a few words for staff."""
    return say(f"reason_{reason.value}", language)


def next_try(now: datetime, *, owed_since: datetime) -> datetime:
    """When a ticket's post that failed at `now`, owed since `owed_since`, is tried again."""
    return now + min(max(CARD_RETRY_AT_LEAST, (now - owed_since) / 2), CARD_RETRY_AT_MOST)


def ticket_buttons(ticket: Ticket, language: str = "en") -> tuple[Button, ...]:
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


def status_line(ticket: Ticket, language: str = "en") -> str:
    """The ticket's status in a few words: in English for staff on the card, in the invoker's
    language in a command's reply, in the ticket's language where the asker reads it."""
    who = ticket.assignee_name or ticket.assignee_id
    if ticket.status == TicketStatus.CLAIMED:
        return say("status_claimed", language, who=who)
    if ticket.status == TicketStatus.RESOLVED:
        return say("status_resolved_by", language, who=who) if who else say("status_resolved", language)
    if ticket.status == TicketStatus.CLOSED:
        return say("status_closed", language)
    return say("status_open", language)


def age(delta: timedelta, language: str = "en") -> str:
    """A duration in staff's short form: minutes, then hours up to two days, then days."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return say("age_minutes", language, n=minutes)
    if minutes < 60 * 48:
        return say("age_hours", language, n=minutes // 60)
    return say("age_days", language, n=minutes // (60 * 24))


def sla_state(ticket: Ticket, now: datetime, language: str = "en") -> str:
    """The SLA clock in a few words, for cards, the ticket list and the dashboard's rows."""
    if ticket.status not in ACTIVE:
        return say("sla_done", language)
    if ticket.sla_stage == SlaStage.WAITING_FOR_HOURS:
        return say("sla_waiting_for_hours", language)
    if ticket.next_action_at is None:
        key = "sla_past_every_deadline" if ticket.sla_stage == SlaStage.SECOND_TIER else "sla_no_deadline"
        return say(key, language)
    if ticket.next_action_at <= now:
        return say("sla_overdue", language, age=age(now - ticket.next_action_at, language))
    return say("sla_next_deadline", language, age=age(ticket.next_action_at - now, language))


def ticket_line(ticket: Ticket, now: datetime, language: str = "en") -> str:
    """One ticket on one line, for the `/support tickets` list: a question's own second line
    must not read as another ticket."""
    who = f", {ticket.assignee_name}" if ticket.assignee_name else ""
    return say(
        "ticket_line",
        language,
        ticket=ticket.id,
        status=say(f"ticket_word_{ticket.status.value}", language),
        who=who,
        age=age(now - ticket.created_at, language),
        reason=reason_text(ticket.reason, language),
        sla=sla_state(ticket, now, language),
        question=quoted(ticket.question, 80),
    )


def card(
    ticket: Ticket,
    where: ConversationRef,
    now: datetime,
    context: Context | None = None,
    *,
    previous: Sequence[Ticket] = (),
    similar: Ticket | None = None,
    mentions: tuple[Mention, ...] = (),
) -> Reply:
    """The ticket as staff see it in the triage channel: a status line, then the brief; tagging
    `mentions` (`routing.card_tags`)."""
    # redacted before shortening: a token cut in half may no longer look like one
    # (tickets opened before questions were redacted on the way in still carry them);
    # a quoted answer can repeat what a document or the question held
    shown = replace(ticket, question=quoted(ticket.question))
    if context is not None and context.answer:
        context = replace(context, answer=quoted(context.answer))
    if context is not None and context.summary:
        # the model's words about what people wrote: shown as written, as their words are (an
        # injected thread can steer it into a link disguised as the bot's own)
        context = replace(context, summary=quoted(context.summary))
    lines = [
        f"**Ticket #{ticket.id}** · {status_line(ticket)} · {reason_text(ticket.reason)}",
        f"From {quoted(ticket.asker_name or ticket.asker_id)}, {age(now - ticket.created_at)} ago · SLA: {sla_state(ticket, now)}",
        *brief(
            shown,
            context,
            previous=[replace(t, question=quoted(t.question)) for t in previous],
            similar=replace(similar, question=quoted(similar.question)) if similar else None,
            now=now,
        ),
    ]
    return Reply(
        conversation=where,
        text="\n".join(lines),
        kind=ReplyKind.TICKET,
        mentions=mentions,
        buttons=ticket_buttons(ticket),
        # a direct message is no place staff can open
        refers_to=None if direct_message(ticket.conversation) else ticket.conversation,
    )


def thread_note(ticket: Ticket, posted: ConversationRef, original: str) -> Reply:
    """The escalation note in the asker's thread, as first posted, with today's status."""
    first = original or say("escalated_no_staff", ticket.language, ticket=ticket.id)
    return Reply(
        conversation=posted,
        # the note is the bot's own words (their Markdown kept), but whatever it quotes is a
        # copy the bot made; the status names a person as they call themselves
        text=f"{quoted_plain(first)}\n_{quoted(status_line(ticket, ticket.language))}_",
        kind=ReplyKind.ESCALATION,
        buttons=ticket_buttons(ticket, ticket.language),
    )


class TicketPosts:
    """Posts the triage card and keeps every message that shows a ticket up to date."""

    def __init__(
        self, *, settings: Settings, store: AsyncStore, clock: Clock, similar: SimilarTickets | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.hours = business_hours(settings)
        # the answers' own (bot/core.py): one place's resolved tickets are kept once
        self.similar = similar if similar is not None else SimilarTickets(store=store, clock=clock)

    async def shown(self, ticket: Ticket) -> frozenset[PostKind]:
        """Which of the ticket's messages are out: the note in the asker's thread (the asker
        was told) and staff's card. What a failure or a dead process left out is posted later."""
        posts = await self.store.run(StateStore.ticket_posts, ticket.id)
        return frozenset(PostKind(kind) for kind, _, _ in posts)

    async def saved_context(self, ticket: Ticket) -> Context:
        """What the card shows besides the question, as the ticket keeps it."""
        saved = await self.store.run(StateStore.ticket_context, ticket.id)
        return Context(
            answer=saved.get("answer"),
            sources=tuple(saved.get("sources") or ()),
            summary=saved.get("summary"),
        )

    def triage(self, ticket: Ticket) -> ConversationRef | None:
        """Where `ticket`'s card goes: its workspace's triage channel, if one is set."""
        return self.triage_for(ticket.conversation)

    def triage_for(self, where: ConversationRef) -> ConversationRef | None:
        """Where the card of a ticket opened in `where` goes, if anywhere."""
        ps = policy.platform_settings(self.settings, where.platform, where.workspace)
        if ps is None or not ps.triage_channel:
            return None
        return ConversationRef(platform=where.platform, workspace=where.workspace, channel=ps.triage_channel)

    async def for_staff(self, ticket: Ticket, reply: Reply) -> Reply | None:
        """`reply` (staff tagged, an SLA reminder) where staff read it: `ticket`'s thread, or the
        triage channel for a direct message's (`direct_message`), in its card's thread where the
        platform has one (Slack), else below the card; None if it has no triage channel."""
        if not direct_message(ticket.conversation):
            return reply
        posts = await self.store.run(StateStore.ticket_posts, ticket.id)
        where = next((p.conversation for kind, p, _ in posts if kind == PostKind.CARD), self.triage(ticket))
        return None if where is None else replace(reply, conversation=where, in_reply_to=None)

    async def post_triage_card(
        self, ticket: Ticket, channel: Channel, context: Context | None, *, take_over: bool = False
    ) -> bool:
        """Post `ticket`'s card, unless it is out or being posted; whether this posted it.

        Claimed in the store first (bot/store/ticket_posts.py): a replay finishing the opening
        and a second escalation in the thread, on two workers, post one card. A post that
        fails is owed, and so is one whose process died before noting it (its claim lapses):
        the clock's `tick` posts it then. `take_over`: a replay's, which takes the claim of the
        process that died handling the same message at once (looking for its card first)."""
        where = self.triage(ticket)
        if where is None:
            return False
        claim = await self.store.run(
            StateStore.claim_ticket_post,
            ticket.id,
            PostKind.CARD,
            where,
            self.clock.now(),
            take_over=take_over,
        )
        if claim is None:
            return False
        return await self._make_card(ticket, channel, context, where, claim)

    async def post_opened_card(self, ticket: Ticket, channel: Channel, context: Context | None) -> bool:
        """Post the card of a ticket just opened, under the claim made with it
        (`create_ticket`'s `card_in`): a process that dies before it is noted leaves that claim,
        which lapses, and the clock's `tick` posts the card then."""
        where = self.triage(ticket)
        claim = await self.store.run(StateStore.ticket_post_claim, ticket.id, PostKind.CARD)
        if where is None or claim is None:
            return False
        return await self._make_card(ticket, channel, context, where, PostClaim(claim))

    async def _make_card(
        self,
        ticket: Ticket,
        channel: Channel,
        context: Context | None,
        where: ConversationRef,
        claim: PostClaim,
    ) -> bool:
        faults.point("card.claimed")
        try:
            # as the store has it now, to compare with once the card is out
            stored = await self.store.run(StateStore.ticket, ticket.id)
            ticket = stored if stored is not None else ticket
            previous, similar = await self._extras(ticket)
            tags = card_tags(self.settings, self.hours, ticket, self.clock.now())
            made = card(
                ticket, where, self.clock.now(), context, previous=previous, similar=similar, mentions=tags
            )
            found = await self._posted_already(ticket, channel, where) if claim.again else None
            if found is None and ticket.status not in ACTIVE:  # done, and no card of it is out
                await self.store.run(StateStore.drop_ticket_post_claim, claim.id)
                return False
            posted = await channel.send(made) if found is None else await channel.edit(found, made)
            faults.point("card.sent")  # out on the platform, not yet noted: `_posted_already`'s case
        except Exception:
            # the asker has been told and the ticket exists; a missing card must not undo that
            now = self.clock.now()
            retry_at = next_try(now, owed_since=ticket.created_at)
            # the first failure with its traceback; tries after it (a channel gone, an install
            # revoked: hourly for as long as the ticket is open) one line each
            (log.warning if claim.again else log.exception)(
                "could not post the triage card; trying again later",
                extra={"ticket_id": ticket.id, "retry_at": retry_at.isoformat()},
            )
            await self.store.run(StateStore.release_ticket_post, claim.id, retry_at)
            return False
        await settle(self.store, CARD_LEASE, StateStore.ticket_post_made, claim.id, posted)
        # staff may have moved the ticket while its card was drawn and posted: no transition's
        # refresh could reach a card not noted yet
        fresh = await self.store.run(StateStore.ticket, ticket.id)
        if fresh is not None and fresh != ticket:
            await self.refresh(fresh, channel)
        return True

    async def _posted_already(
        self, ticket: Ticket, channel: Channel, where: ConversationRef
    ) -> Posted | None:
        """The card an earlier claim's process posted and died before noting, if the channel
        can look (`FindsPosts`): every card of an open or claimed ticket shows its Resolve
        button, and none was posted before the ticket was opened."""
        if not isinstance(channel, FindsPosts):
            return None
        resolve = Button(action=ActionKind.RESOLVE, label="", value=str(ticket.id))
        return await channel.find_post(where, ticket.created_at - CARD_LOOK_BACK, resolve)

    async def tick(self, channels: Mapping[str, Channel]) -> int:
        """Post the cards owed (a post that failed, one whose process died before noting it);
        how many were posted or found. A done ticket's card is only looked for (its process may
        have posted it, showing the ticket open) and brought up to date, or its claim dropped."""
        owed = await self.store.run(
            StateStore.owed_ticket_posts, PostKind.CARD, self.clock.now(), list(channels)
        )
        posted = 0
        for ticket_id, claim in owed:
            ticket = await self.store.run(StateStore.ticket, ticket_id)
            if ticket is None:
                continue
            if self.triage(ticket) is None:  # the triage channel was unset since: no card to owe
                await self.store.run(StateStore.drop_ticket_post_claim, claim)
                continue
            try:
                context = await self.saved_context(ticket)
                posted += await self.post_triage_card(ticket, channels[ticket.conversation.platform], context)
            except Exception:
                log.exception(
                    "an owed triage card failed; it will be retried", extra={"ticket_id": ticket_id}
                )
        return posted

    async def _extras(self, ticket: Ticket) -> tuple[list[Ticket], Ticket | None]:
        """The asker's earlier tickets and a similar resolved one (any visibility: staff see all)."""
        where = ticket.conversation
        previous = await self.store.run(
            StateStore.asker_tickets, where.platform, ticket.asker_id, ticket.id, 3, policy.listed_from(where)
        )
        record = await self.store.run(StateStore.answer, ticket.answer_id) if ticket.answer_id else None
        neighbours, scores = (record.neighbours, record.scores) if record is not None else ((), ())
        asked = Asked(ticket.question, neighbours, scores)
        similar = await self.similar.find(where, asked, public_only=False, exclude=ticket.id)
        return previous, similar

    async def refresh(self, ticket: Ticket, channel: Channel) -> None:
        """Bring every message that shows this ticket up to date.

        Another process may move the ticket while this one renders and edits (staff claim it
        during a reminder's refresh), and of two edits the last to land stays, however old
        the ticket it shows. So the ticket is read again after the edits, and shown again if
        it moved meanwhile: whichever refresh lands last has then shown it as it stands."""
        context = await self.saved_context(ticket)
        previous, similar = await self._extras(ticket)
        for _ in range(REFRESH_ROUNDS):
            await self._show(ticket, channel, context, previous, similar)
            fresh = await self.store.run(StateStore.ticket, ticket.id)
            if fresh is None or fresh == ticket:
                return
            ticket = fresh

    async def _show(
        self,
        ticket: Ticket,
        channel: Channel,
        context: Context,
        previous: Sequence[Ticket],
        similar: Ticket | None,
    ) -> None:
        now = self.clock.now()
        for kind, posted, original in await self.store.run(StateStore.ticket_posts, ticket.id):
            reply = (
                thread_note(ticket, posted.conversation, original)
                if kind == PostKind.THREAD
                else card(ticket, posted.conversation, now, context, previous=previous, similar=similar)
            )
            try:
                shown = await channel.edit(posted, reply)
                if shown != posted:
                    await self.store.run(StateStore.ticket_post_shown, ticket.id, posted, shown)
            except Exception:
                log.exception("could not update a ticket message", extra={"ticket_id": ticket.id})
