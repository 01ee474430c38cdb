"""Opening a ticket: one per thread, serialised, announced once.

Escalations in one conversation are serialised here and the store keeps one active
ticket per thread across processes, so racing presses end in one ticket, one ping and one
card. A ticket whose announcement failed is announced by the next escalation in its thread.

Staff are tagged in the note, unless nobody of the team reads the thread (a direct message):
then its card tags them (bot/escalation/cards.py), and the note says a person will contact the
asker, not reply there.

The ticket keeps the question and the bot's attempt with credentials redacted: from the
store they travel to the triage card, the ticket list, reminders and learned drafts, none of
which is the asker's own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot import faults
from bot.answering.secrets import redact_secrets
from bot.config import Settings
from bot.errors import ConversationDeleted, MessageGone
from bot.escalation.cards import TicketPosts, status_line, thread_note, ticket_buttons
from bot.escalation.routing import FirstPing, direct_message, first_ping
from bot.escalation.sla import SlaClock
from bot.escalation.values import ACTIVE, Context, PostKind, TicketRequest
from bot.fence import TakenOver
from bot.messages import say
from bot.ports import Channel, Clock, Summarizer
from bot.privacy.people import People
from bot.store import AsyncStore, StateStore
from bot.store.rows import ConditionUnmet
from bot.store.ticket_posts import CARD_LEASE
from bot.types import EscalationReason, InboundMessage, Mention, Posted, Reply, ReplyKind, SlaStage, Ticket

log = logging.getLogger(__name__)

# what a replay's note begins with, by why the ticket was opened: the lead its opening gave
# (bot/core.py's hand-off, bot/answering/responder.py's abstention, bot/answering/apology.py's
# failure), which the dead process may not have posted
REPLAYED_LEADS = {
    EscalationReason.ASKED_FOR_HUMAN: "asked_for_human",
    EscalationReason.LOW_CONFIDENCE: "abstain",
    EscalationReason.UNANSWERED_FOLLOWUPS: "abstain",
    EscalationReason.ERROR: "error_lead",
}
SUMMARY_SECONDS = 15.0  # how long the triage card waits for the model's summary


class TicketOpener:
    def __init__(
        self,
        *,
        settings: Settings,
        store: AsyncStore,
        clock: Clock,
        posts: TicketPosts,
        sla: SlaClock,
        summarizer: Summarizer | None = None,
    ) -> None:
        self.summarizer = summarizer
        self.settings = settings
        self.store = store
        self.clock = clock
        self.posts = posts
        self.sla = sla
        self._locks: dict[str, asyncio.Lock] = {}  # one per conversation being escalated
        self._lock_users: dict[str, int] = {}

    async def open(self, request: TicketRequest, channel: Channel) -> Ticket:
        """Open a ticket (or add to the open one in this thread), tag staff, tell the asker.
        Escalations in one conversation are serialised here, and the store keeps one active
        ticket per thread across processes, so racing presses end in one ticket, one ping and
        one card. A ticket whose announcement failed earlier is announced now."""
        async with self._serialised(request.conversation.key):
            return await self._open(request, channel)

    async def complete(self, message: InboundMessage, channel: Channel, shown: Posted) -> bool:
        """A replay of `message` found `shown`, the post noted for it. Whether `message` opened
        a ticket: if so, what a dead process left undone of that opening is done now, once, and
        nothing more (a ticket staff resolved meanwhile is not opened again). Only the ticket
        opened for this message counts: another in the thread (an earlier question's, another
        asker's where threads cannot be made) says nothing of `shown`, which may be this
        message's half-written answer, to be finished in place. The ticket row alone says
        nothing of its opening (it is written before the asker is told and staff's card is
        posted). `shown` is the note itself (a hand-off: the note was the first post), or the
        streamed answer that abstained, or the apology that replaced it: an asker not yet told
        is told by editing it into the note, so the note is said once, in place."""
        ticket = await self.store.run(
            StateStore.ticket_for_message, message.conversation.platform, message.id
        )
        if ticket is None:
            return False
        async with self._serialised(ticket.conversation.key):
            done = await self.posts.shown(ticket)
            if PostKind.THREAD not in done:
                language = ticket.language
                # the ping its opening worked out, so the note says what it would have said
                ping = first_ping(
                    self.settings, self.sla.hours, ticket.conversation, ticket.tags, ticket.created_at
                )
                lead = say(REPLAYED_LEADS[ticket.reason], language) if ticket.reason in REPLAYED_LEADS else ""
                text = redact_secrets(" ".join(p for p in (lead, self._body(ticket, ping, language)) if p))
                note = (
                    Reply(
                        conversation=shown.conversation,
                        text=text,
                        kind=ReplyKind.ESCALATION,
                        mentions=_thread_tags(ticket, ping),
                        buttons=ticket_buttons(ticket, language),
                    )
                    if ticket.status in ACTIVE
                    # staff were there meanwhile: the note says so, and pings nobody
                    else thread_note(ticket, shown.conversation, text)
                )
                shown = await _said_in(channel, shown, note)
                await self.store.run(_note_said, ticket, shown, text)
                faults.point("ticket.announced")
            # a card is for staff to act on: one they closed meanwhile needs none
            if PostKind.CARD not in done and ticket.status in ACTIVE:
                context = await self.posts.saved_context(ticket)
                if context.summary is None:
                    context = await self._summarised(ticket, context) or context
                # the replay's event: whoever claimed its card died handling it
                await self.posts.post_triage_card(ticket, channel, context, take_over=True)
        return True

    @asynccontextmanager
    async def _serialised(self, key: str) -> AsyncIterator[None]:
        """One opening at a time in a conversation (this process's; the store's one active
        ticket per thread covers the others)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._lock_users[key] = self._lock_users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._lock_users[key] -= 1
            if not self._lock_users[key]:  # nobody else waiting: forget the lock
                del self._lock_users[key], self._locks[key]

    async def _create(self, request: TicketRequest, now: datetime, ping: FirstPing) -> tuple[Ticket, bool]:
        """The new ticket (or the one another escalation opened first). TakenOver (bot/fence.py)
        when the message it is for is no longer this worker's to handle: its asker was forgotten
        meanwhile, or another worker took it over."""
        conversation, context = request.conversation, request.context
        try:
            return await self.store.run(
                _create_held,
                request.event,
                ref=conversation,
                asker=request.asker,
                question=redact_secrets(request.question),
                reason=request.reason,
                at=now,
                answer_id=request.answer_id,
                language=request.language,
                visibility=str(request.visibility),
                tags=request.tags,
                sla_stage=ping.stage,
                next_action_at=ping.due if ping.remind else None,
                context=(
                    {
                        "answer": redact_secrets(context.answer) if context.answer else context.answer,
                        "sources": list(context.sources),
                    }
                    if context
                    else None
                ),
                message_id=request.in_reply_to,
                card_in=self.posts.triage_for(conversation),
            )
        except ConditionUnmet:
            raise TakenOver(request.event or "") from None

    async def _open(self, request: TicketRequest, channel: Channel) -> Ticket:
        now = self.clock.now()
        conversation, language, context = request.conversation, request.language, request.context
        ping = first_ping(self.settings, self.sla.hours, conversation, request.tags, now)
        existing = await self.store.run(StateStore.active_ticket, conversation, request.asker.id)
        ticket, created = (
            (existing, False) if existing is not None else await self._create(request, now, ping)
        )
        done = frozenset[PostKind]() if created else await self.posts.shown(ticket)
        if PostKind.THREAD in done or not await self._may_announce(request, ticket, created, now):
            # the status in the words of the sentence around it: the asker's language
            status = status_line(ticket, language)
            key = "already_escalated_direct" if direct_message(conversation) else "already_escalated"
            text = say(key, language, ticket=ticket.id, status=status)
            await self._say(
                channel,
                request,
                Reply(
                    conversation=conversation,
                    text=" ".join(p for p in (request.lead, text) if p),
                    kind=ReplyKind.ESCALATION,
                    in_reply_to=request.in_reply_to,
                    ephemeral_to=request.asker.id if request.pressed else None,
                ),
            )
            if PostKind.CARD not in done:  # its card failed, or its process died before it
                await self.posts.post_triage_card(ticket, channel, await self.posts.saved_context(ticket))
            return ticket
        if created:  # with the asker's memory on, a line for it (bot/privacy/people.py)
            await People(settings=self.settings, store=self.store, clock=self.clock).observe_ticket(ticket)
        log.info(
            "ticket opened",
            extra={
                "ticket_id": ticket.id,
                "platform": conversation.platform,
                "channel": conversation.channel,
                "reason": str(request.reason),
            },
        )
        # the note is stored and re-rendered on every transition: keep it free of anything
        # a caller's lead might have quoted
        text = redact_secrets(" ".join(p for p in (request.lead, self._body(ticket, ping, language)) if p))
        try:
            posted = await self._say(
                channel,
                request,
                Reply(
                    conversation=conversation,
                    text=text,
                    kind=ReplyKind.ESCALATION,
                    mentions=_thread_tags(ticket, ping),
                    buttons=ticket_buttons(ticket, language),
                    in_reply_to=request.in_reply_to,
                ),
            )
        except Exception as exc:
            if created and isinstance(exc, ConversationDeleted) and exc.took(conversation):
                # deleted meanwhile: nobody is left to read the note, and staff's card would
                # link nowhere (its claim goes with the ticket, closed)
                await self.store.run(
                    StateStore.withdraw_ticket, ticket.id, now, "the conversation was deleted before its note"
                )
                raise
            await self._give_back_note(ticket, now)  # refused: the next request says it
            raise
        await self.store.run(_note_said, ticket, posted, text)
        faults.point("ticket.announced")  # the asker told, staff's card not yet posted
        if created:  # its card was claimed with it
            await self.posts.post_opened_card(ticket, channel, await self._summarised(ticket, context))
        elif PostKind.CARD not in done:
            # the ticket opened for this very message (an opening cut short and done again):
            # its card's first claim was this message's
            mine = request.in_reply_to is not None and await self._opened_for(request, ticket)
            await self.posts.post_triage_card(ticket, channel, context, take_over=mine)
        return ticket

    async def _may_announce(
        self, request: TicketRequest, ticket: Ticket, created: bool, now: datetime
    ) -> bool:
        """Whether this request tells the thread the ticket is open (its note, staff tagged):
        the one that opened it, or the first to claim the note of a ticket whose note is not
        out. Another worker may be posting it now (two presses of a double click on two
        workers; the serialising above holds within one process only): the claim is held for
        CARD_LEASE, as the card's is, and given back once the note is said or refused, so a
        later request says a refused one, and one after the lease a dead opener's. An opening
        done again for the very message that opened it (its worker died) says it whatever."""
        claimed = await self.store.run(StateStore.claim_job, _note_key(ticket), now, CARD_LEASE)
        if created or claimed:
            return True
        return request.in_reply_to is not None and await self._opened_for(request, ticket)

    async def _give_back_note(self, ticket: Ticket, claimed_at: datetime) -> None:
        with contextlib.suppress(Exception):  # held, it lapses after CARD_LEASE
            await self.store.run(StateStore.release_claim, _note_key(ticket), claimed_at)

    async def _opened_for(self, request: TicketRequest, ticket: Ticket) -> bool:
        assert request.in_reply_to is not None
        opened = await self.store.run(
            StateStore.ticket_for_message, request.conversation.platform, request.in_reply_to
        )
        return opened is not None and opened.id == ticket.id

    async def _say(self, channel: Channel, request: TicketRequest, reply: Reply) -> Posted:
        """Post `reply`, or, when the lead was said in a post already (`said_in`), edit that
        post into it. One post and no window: a note sent beside the streamed post could be out
        when the process dies before the ticket's post is written, and a replay (`complete`),
        finding no note, would edit the streamed post into a second one; edited, the replay's
        edit is the same post said again."""
        if request.said_in is None:
            return await channel.send(reply)
        return await _said_in(
            channel, request.said_in, replace(reply, conversation=request.said_in.conversation)
        )

    def _body(self, ticket: Ticket, ping: FirstPing, language: str) -> str:
        """The note's own words: the ticket's number, and when a person will be there."""
        if ping.stage == SlaStage.WAITING_FOR_HOURS:
            return say(
                "escalated_after_hours",
                language,
                ticket=ticket.id,
                hours=self.sla.hours.describe(language),
                when=self.sla.hours.local(ping.due, language),
            )
        if direct_message(ticket.conversation):  # nobody of the team can write there
            return say("escalated_direct", language, ticket=ticket.id)
        return say("escalated" if ping.mentions else "escalated_no_staff", language, ticket=ticket.id)

    async def _summarised(self, ticket: Ticket, context: Context | None) -> Context | None:
        """With a model configured, the brief starts with its summary of the thread. The asker
        has been told already; only the card waits, at most SUMMARY_SECONDS, and goes without
        the summary when the model fails (the offline brief says what matters)."""
        if self.summarizer is None:
            return context
        turns = await self.store.run(StateStore.history, ticket.conversation, 12)
        try:
            async with asyncio.timeout(SUMMARY_SECONDS):
                summary = await self.summarizer.summarize(turns, ticket.language)
        except Exception as exc:
            # Any failure, not only AnswererUnavailable: the asker has been told staff are
            # coming, so a summarizer that breaks its contract must not cost the card.
            log.warning(
                "no summary for the ticket's brief (%s)", type(exc).__name__, extra={"ticket_id": ticket.id}
            )
            return context
        if not summary:
            return context
        context = replace(context or Context(), summary=summary)
        saved = await self.store.run(StateStore.ticket_context, ticket.id)
        await self.store.run(
            StateStore.set_ticket_fields, ticket.id, context=json.dumps({**saved, "summary": summary})
        )
        return context


async def _said_in(channel: Channel, post: Posted, reply: Reply) -> Posted:
    """`post` edited to say `reply`; if a person deleted it (the asker, a moderator), `reply`
    is a post of its own."""
    try:
        return await channel.edit(post, reply)
    except MessageGone:
        return await channel.send(reply)


def _thread_tags(ticket: Ticket, ping: FirstPing) -> tuple[Mention, ...]:
    """Whom the note tags: the ping's staff, unless nobody of the team reads the thread (a
    direct message), where a tag reaches nobody and shows the asker a team's name: its card
    tags them (`TicketPosts.post_opened_card`)."""
    return () if direct_message(ticket.conversation) else ping.mentions


def _note_key(ticket: Ticket) -> str:
    """The claim on saying `ticket`'s note in its thread (bot/store/jobs.py `claim_job`)."""
    return f"ticket-note:{ticket.id}"


def _note_said(store: StateStore, ticket: Ticket, posted: Posted, text: str) -> None:
    """The note is out: kept as the ticket's thread post, and its claim forgotten, whoever
    held it (a replay says the note its dead opener claimed): every later request finds it
    said, and nothing of the claim is left behind."""
    store.add_ticket_post(ticket.id, posted, PostKind.THREAD, text)
    store.drop_job(_note_key(ticket))


def _create_held(store: StateStore, event: str | None, /, **ticket: Any) -> tuple[Ticket, bool]:
    """`create_ticket` on the store's thread, for the inbox event `event` (if any): written
    only while it is held (`held_here`), else ConditionUnmet."""
    return store.create_ticket(**ticket, only_if=store.held_here(event) if event is not None else None)
