"""Opening a ticket: one per thread, serialised, announced once.

Escalations in one conversation are serialised here and the store keeps one active
ticket per thread across processes, so racing presses end in one ticket, one ping and one
card. A ticket whose announcement failed is announced by the next escalation in its thread.

The ticket keeps the question and the bot's attempt with credentials redacted: from the
store they travel to the triage card, the ticket list, reminders and learned drafts, none of
which is the asker's own thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace

from bot.answering.safety import redact_secrets
from bot.config import Settings
from bot.escalation.cards import TicketPosts, status_line, ticket_buttons
from bot.escalation.routing import first_ping
from bot.escalation.sla import SlaClock
from bot.escalation.values import Context, PostKind, TicketRequest
from bot.messages import say
from bot.ports import Channel, Clock, Summarizer
from bot.privacy.people import People
from bot.store import AsyncStore, StateStore
from bot.types import Reply, ReplyKind, SlaStage, Ticket

log = logging.getLogger(__name__)

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
        key = request.conversation.key
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._lock_users[key] = self._lock_users.get(key, 0) + 1
        try:
            async with lock:
                return await self._open(request, channel)
        finally:
            self._lock_users[key] -= 1
            if not self._lock_users[key]:  # nobody else waiting: forget the lock
                del self._lock_users[key], self._locks[key]

    async def _open(self, request: TicketRequest, channel: Channel) -> Ticket:
        now = self.clock.now()
        conversation, language, context = request.conversation, request.language, request.context
        ping = first_ping(self.settings, self.sla.hours, conversation, request.tags, now)
        existing = await self.store.run(StateStore.active_ticket, conversation, request.asker.id)
        ticket, created = (
            (existing, False)
            if existing is not None
            else await self.store.run(
                StateStore.create_ticket,
                ref=conversation,
                asker=request.asker,
                question=redact_secrets(request.question),
                reason=request.reason,
                at=now,
                answer_id=request.answer_id,
                language=language,
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
            )
        )
        if not created and await self.posts.announced(ticket):
            text = say("already_escalated", language, ticket=ticket.id, status=status_line(ticket))
            await channel.send(
                Reply(
                    conversation=conversation,
                    text=" ".join(p for p in (request.lead, text) if p),
                    kind=ReplyKind.ESCALATION,
                    in_reply_to=request.in_reply_to,
                )
            )
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
        if ping.stage == SlaStage.WAITING_FOR_HOURS:
            body = say(
                "escalated_after_hours",
                language,
                ticket=ticket.id,
                hours=self.sla.hours.describe(),
                when=self.sla.local(ping.due),
            )
        else:
            body = say("escalated" if ping.mentions else "escalated_no_staff", language, ticket=ticket.id)
        # the note is stored and re-rendered on every transition: keep it free of anything
        # a caller's lead might have quoted
        text = redact_secrets(" ".join(p for p in (request.lead, body) if p))
        posted = await channel.send(
            Reply(
                conversation=conversation,
                text=text,
                kind=ReplyKind.ESCALATION,
                mentions=ping.mentions,
                buttons=ticket_buttons(ticket, language),
                in_reply_to=request.in_reply_to,
            )
        )
        await self.store.run(StateStore.add_ticket_post, ticket.id, posted, PostKind.THREAD, text)
        if created:
            context = await self._summarised(ticket, context)
        await self.posts.post_triage_card(ticket, channel, context)
        return ticket

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
