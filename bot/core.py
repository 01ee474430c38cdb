"""SupportBot: the conversation core. The message flow, and nothing else.

Adapters hand it an InboundMessage, an ActionEvent or a Command together with their
Channel (through the `Core` Protocol in bot/ports/platform.py). For a message it decides once, in
one `Situation` (channel mode, staff or not, document scope, language), whether and how to
act, then hands the work to its services: the answer pipeline and responder (answer or
hand over), escalations (tickets), the recorder (history). Buttons go to the action
handler, commands to the router; what the asker's thanks or reply on their ticket's thread
does is bot/asker_replies.py's. It imports no platform SDK and names no platform. Every
message addressed to the bot gets a visible outcome: an answer, an honest "I don't know"
with a hand-off, or an apology with a ticket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import TypeVar

from bot import faults, policy
from bot.actions import ActionHandler, message_button_value
from bot.answering.apology import apologise
from bot.answering.command_ask import answer_command
from bot.answering.pipeline import AnswerPipeline
from bot.answering.responder import Responder
from bot.asker_replies import acknowledge_thanks, asker_ticket_reply, closes_the_loop
from bot.channel_types import ChannelMode
from bot.cluster import SharedKnowledge
from bot.commands import CommandRouter
from bot.config import Settings
from bot.conversation import Recorder, log_context, thread_title
from bot.delivery import Deliveries
from bot.escalation import ACTIVE, Escalations
from bot.inbox import Finish, NothingDoneYet, after_record
from bot.insights.followups import Followups
from bot.insights.service import Insights
from bot.messages import say
from bot.policy import Act, Situation
from bot.ports import Answerer, Channel, Clock, Embedder, Summarizer
from bot.privacy.drafts import DraftReplies
from bot.privacy.journey import Journey
from bot.privacy.redaction import Redactor
from bot.privacy.retention import Retention
from bot.read_back_marks import ReadBackMarks
from bot.retrieval.knowledge import KnowledgeBase
from bot.retrieval.service import KnowledgeService
from bot.store import AsyncStore, ConversationState, StateStore
from bot.text import blank, scrub_event
from bot.types import (
    ActionEvent,
    ActionKind,
    Button,
    Command,
    EscalationReason,
    InboundMessage,
    Outcome,
    Posted,
    Reply,
    ReplyKind,
)

log = logging.getLogger(__name__)

LONG_TEXT = 4000  # characters past which a message is redacted on a worker thread

E = TypeVar("E")


async def _redacted(redact: Callable[[E], E], event: E, size: int) -> E:
    """`redact(event)`, on a worker thread when its text is long: scanning a pasted log (a
    message, a `/support ask` argument, a form's text) takes a while, and the event loop
    serves everyone else meanwhile."""
    if size > LONG_TEXT:
        return await asyncio.to_thread(redact, event)
    return redact(event)


class SupportBot(ReadBackMarks):
    def __init__(
        self,
        *,
        settings: Settings,
        store: AsyncStore,
        knowledge: KnowledgeBase,
        answerer: Answerer,
        clock: Clock,
        fallback: Answerer | None = None,
        embedder: Embedder | None = None,
        synced_at: int | None = None,
    ) -> None:
        """`synced_at`: the knowledge generation `knowledge` was synced at (bot/cluster.py)."""
        self.settings = settings
        self.store = store
        self.clock = clock
        self.knowledge = KnowledgeService(
            knowledge, embedder=embedder, model_timeout=settings.llm.timeout_seconds
        )
        # approvals and reindexes, made here or on another worker, reach this worker's index
        self.shared_knowledge = SharedKnowledge(store=store, knowledge=self.knowledge, synced_at=synced_at)
        self.answers = AnswerPipeline(
            settings=settings,
            store=store,
            clock=clock,
            knowledge=self.knowledge,
            answerer=answerer,
            fallback=fallback,
        )
        # a model configured to answer also writes the summary on ticket briefs
        summarizer = answerer if isinstance(answerer, Summarizer) else None
        self.insights = Insights(settings=settings, store=store, clock=clock, knowledge=self.knowledge)
        # staff cards share the answers' kept resolved tickets (bot/insights/similar_tickets.py)
        self.escalations = Escalations(
            settings=settings, store=store, clock=clock, summarizer=summarizer, similar=self.insights.similar
        )
        self.recorder = Recorder(store=store, clock=clock)
        self.followups = Followups(settings=settings, store=store, clock=clock, escalations=self.escalations)
        self.responder = Responder(
            settings=settings,
            store=store,
            clock=clock,
            answers=self.answers,
            escalations=self.escalations,
            recorder=self.recorder,
            incidents=self.insights.incidents,
            bursts=self.insights.bursts,
            similar=self.insights.similar,
            followups=self.followups,
        )
        # draft-mode channels: answers proposed on staff cards; and the first-question welcome
        self.drafts = DraftReplies(
            settings=settings,
            store=store,
            clock=clock,
            answers=self.answers,
            recorder=self.recorder,
            followups=self.followups,
        )
        self.journey = Journey(settings=settings, store=store, clock=clock, knowledge=self.knowledge)
        self.actions = ActionHandler(
            drafts=self.drafts,
            settings=settings,
            store=store,
            clock=clock,
            escalations=self.escalations,
            recorder=self.recorder,
            incidents=self.insights.incidents,
            followups=self.followups,
        )
        self.commands = CommandRouter(settings)
        # personal data replaced where events enter (bot/privacy/redaction.py); old text purged
        self.redactor = Redactor.from_settings(settings.privacy)
        self.retention = Retention(privacy=settings.privacy, store=store, clock=clock)
        # the inbox side: claims, the worker pool, replays (exactly once: bot/delivery.py)
        self.deliveries = Deliveries(store=store, clock=clock, workers=settings.answer.workers, handler=self)
        self._responding = self.deliveries.responding  # messages whose failure owes an apology

    def close(self) -> None:
        self.knowledge.close()

    async def aclose(self) -> None:
        """Release what the answerers and the embedder hold (HTTP connections to an endpoint).
        Replays still running are cancelled: their events stay in the inbox for the next start."""
        await self.deliveries.aclose()
        await self.shared_knowledge.aclose()
        await self.answers.aclose()
        await self.knowledge.aclose()

    def situation(self, message: InboundMessage) -> Situation:
        conversation = message.conversation
        return Situation(
            mode=policy.channel_mode(self.settings, conversation, message.visibility),
            staff=policy.is_staff(
                message.author, conversation.platform, self.settings, conversation.workspace
            ),
            scope=policy.document_scope(self.settings, conversation, message.visibility, message.author),
            language=policy.detect_language(message.text),
        )

    async def on_action(self, event: ActionEvent, channel: Channel) -> Outcome:
        event = await _redacted(self.redactor.action, event, len(event.text or ""))
        return await self.actions.on_action(event, channel)

    async def on_command(self, command: Command, channel: Channel) -> Outcome:
        command = scrub_event(command)
        size = len(command.args) + sum(len(value) for _, value in command.options or ())
        return await self.commands.on_command(
            self, await _redacted(self.redactor.command, command, size), channel
        )

    # -- messages ------------------------------------------------------------------------

    async def on_message(
        self, message: InboundMessage, channel: Channel, *, accepted: asyncio.Event | None = None
    ) -> Outcome:
        """Handle one platform message exactly once, whatever retries the platform makes.
        `accepted` is set as soon as the message is safe (recorded in the inbox, or known not
        to need it): an adapter acknowledges the platform only then, so a process that dies
        in between leaves the platform to redeliver rather than a question nobody has."""
        message = scrub_event(message)  # a lone surrogate would stop the inbox write: keep the question
        situation = self.situation(message)
        if policy.plainly_not_for_us(message, situation.mode):
            if accepted is not None:
                accepted.set()
            return Outcome.IGNORED  # most channel traffic: no inbox write, no store round trip
        # before the inbox keeps it: nothing stored, searched or sent to a model sees the values
        message = await _redacted(self.redactor.message, message, len(message.text))
        return await self.deliveries.receive(message, channel, situation, accepted)

    async def replay_pending(self, platform: str, channel: Channel) -> int:
        """Answer what a dead process left unfinished (bot/delivery.py). Called when an
        adapter connects; the clock also runs it in the background."""
        return await self.deliveries.replay_pending(platform, channel)

    async def give_back(self, platform: str) -> int:
        """`bot.ports.Core.give_back`: this worker's unfinished events of `platform`, for the
        worker that serves it now to replay."""
        return await self.store.run(StateStore.give_back_events, platform)

    async def handle(
        self,
        message: InboundMessage,
        channel: Channel,
        situation: Situation,
        resume: Posted | None,
        finish: Finish | None = None,
    ) -> Outcome:
        return await self._handle_message(message, channel, situation, resume, finish)

    async def apologise(
        self,
        message: InboundMessage,
        channel: Channel,
        situation: Situation,
        replacing: Posted | None = None,
        *,
        unsure: bool = False,
    ) -> None:
        await apologise(
            self.escalations,
            message,
            channel,
            language=situation.language,
            scope=situation.scope,
            replacing=replacing,
            unsure=unsure,
        )

    async def _still_owed(self, message: InboundMessage, resume: Posted, channel: Channel) -> bool:
        """A replay found a post its predecessor made for this message: whether the answer is
        still owed (finished in place). Not when the post was a refusal, or the message's own
        hand-off or abstention (its ticket's missing posts are done instead), or a request for
        a person that found the thread's ticket (the post said it is with staff already)."""
        text = message.text.strip()
        if blank(text) or len(text) > self.settings.answer.max_question_chars:
            return False  # the greeting or the too-long reply is what was posted
        if await self.escalations.opener.complete(message, channel, resume):
            return False
        return not policy.wants_human(text)

    async def _staff_here(
        self, message: InboundMessage, situation: Situation, state: ConversationState | None
    ) -> bool:
        """Whether `message`'s author is staff here: the platform's staff, or, replying in a bot
        thread, one of the people its open ticket is routed to (its channel's or its tags' staff,
        often the only ones tagged), for this ticket alone: their reply takes the thread over and
        claims the ticket as the platform's staff's does. Neither is staff in the thread of their
        own question (the thread's asker, whose ticket it holds, resolved too): there they ask,
        as anyone does, and may close or reopen it. A channel without threads is everyone's: there
        only their "I'm all set" with a ticket of theirs open is an asker's. Tickets are read only
        for those cases and for someone a route names, not for every follow-up."""
        if state is None or not state.bot_participating:
            return situation.staff  # no ticket here to ask in or to take over
        where, author = message.conversation, message.author
        every_tag = tuple(self.settings.escalation.tags)  # named by no route at all: no ticket read
        if not situation.staff and (
            message.addressed or not policy.is_routed_staff(author, self.settings, where, every_tag)
        ):
            return False  # not a reply that could take a thread over
        if where.thread is not None and state.asker_id == author.id:
            theirs = await self.store.run(StateStore.latest_ticket, where)
            if theirs is not None and theirs.asker_id == author.id:
                return False  # their own question's ticket, resolved too: they ask in it
        elif where.thread is None and policy.says_all_set(message.text):
            own = await self.store.run(StateStore.latest_ticket, where, author.id)
            if own is not None and own.status in ACTIVE:
                return False  # closing their own ticket, not taking someone else's
        if situation.staff:
            return True
        ticket = await self.store.run(StateStore.active_ticket, where)  # the one their reply claims
        return ticket is not None and policy.is_routed_staff(
            author, self.settings, ticket.conversation, ticket.tags
        )

    async def _handle_message(
        self,
        message: InboundMessage,
        channel: Channel,
        situation: Situation,
        resume: Posted | None = None,
        finish: Finish | None = None,
    ) -> Outcome:
        conversation = message.conversation
        try:
            state = await self.store.run(StateStore.conversation, conversation.key)
            staff = await self._staff_here(message, situation, state)
            faults.point("event.deciding")
        except Exception as exc:  # nothing is done yet: delivery may safely handle it again
            raise NothingDoneYet("reading the conversation failed") from exc
        mode, language = situation.mode, situation.language
        decision = policy.should_respond(message, mode=mode, state=state, staff=staff)
        log.debug("decision %s: %s", decision.act, decision.why, extra=log_context(conversation))
        await self.followups.noticed(message, state, staff=staff)  # staff, thanks: none; talk: later
        if decision.act == Act.REVISE:
            return await self._revise(message, channel, situation, resume)
        if decision.act == Act.TAKEOVER:
            await self.recorder.record(message, role="staff")
            await self.store.run(
                StateStore.set_conversation_flags, conversation, self.clock.now(), human_takeover=True
            )
            ticket = await self.store.run(StateStore.active_ticket, conversation)
            if ticket is not None:
                await self.escalations.staff_replied(ticket, message.author, channel)
            log.info("staff took over a thread", extra=log_context(conversation))
            return Outcome.RECORDED
        in_conversation = state is not None and mode != ChannelMode.OFF
        in_bot_thread = in_conversation and conversation.thread is not None
        if resume is not None and not await self._still_owed(message, resume, channel):
            return Outcome.RECORDED  # a replay: the person has been told (a hand-off, a refusal)
        # in a thread, the asker's own ticket's; without one (a Discord direct message, a channel
        # where threads could not be made) only "I'm all set" reads theirs (bot/asker_replies.py)
        asks_about_ticket = in_bot_thread or (in_conversation and policy.says_all_set(message.text))
        if asks_about_ticket and not staff and not message.author.is_bot and not message.edited:
            handled = await asker_ticket_reply(
                message, channel, store=self.store, recorder=self.recorder, escalations=self.escalations
            )
            if handled is not None:
                return handled
        if decision.act == Act.IGNORE:
            if state is not None and not message.author.is_bot and mode != ChannelMode.OFF:
                await self.recorder.record(message, role="staff" if staff else "user")
                return Outcome.RECORDED
            return Outcome.IGNORED

        text = message.text.strip()
        if blank(text) and not message.addressed:
            # a screenshot or a sticker in the bot's thread: nothing asked, and whoever posts
            # there is no newcomer to greet
            await self.recorder.record(message, role="user")
            return Outcome.RECORDED
        self._responding.add(message.id)
        if blank(text):  # a mention alone, or with only invisible characters: nothing asked
            await channel.send(
                Reply(conversation=conversation, text=say("greeting", language), in_reply_to=message.id)
            )
            return Outcome.REFUSED
        if in_bot_thread and not staff and closes_the_loop(text):
            return await acknowledge_thanks(message, channel, recorder=self.recorder, language=language)
        if len(text) > self.settings.answer.max_question_chars:
            await self.recorder.record(message, role="user")  # refused, but kept: nothing is lost
            await channel.send(
                Reply(
                    conversation=conversation,
                    text=say(
                        "too_long", language, length=len(text), limit=self.settings.answer.max_question_chars
                    ),
                    kind=ReplyKind.ERROR,
                    buttons=(
                        self._human_button(language, message_button_value(message.id, message.author.id)),
                    ),
                    in_reply_to=message.id,
                )
            )
            return Outcome.REFUSED

        if policy.drafts_reply(message, situation.mode) and not policy.wants_human(text):
            # nothing public, not even a thread: the proposal goes on a staff card. A failure
            # is logged, never apologised for in the channel (staff review everything here)
            self._responding.discard(message.id)
            await self.recorder.record(message, role="user", asker=True)
            return await self.drafts.propose(
                message, language=language, scope=situation.scope, channel=channel
            )
        thread = await channel.open_thread(message, title=thread_title(text))
        faults.point("event.thread")
        scope = situation.scope
        if policy.wants_human(text):
            await self.recorder.record(message, role="user", conversation=thread, asker=True)
            await self.escalations.open(
                conversation=thread,
                asker=message.author,
                question=await self.recorder.question_for_ticket(thread, text, message.author.id),
                reason=EscalationReason.ASKED_FOR_HUMAN,
                channel=channel,
                language=language,
                lead=say("asked_for_human", language),
                in_reply_to=message.id,
                visibility=scope,
                event=finish.key if finish is not None else None,
            )
            faults.point("handoff.posted")
            await self.store.run(
                StateStore.set_conversation_flags, thread, self.clock.now(), bot_participating=True
            )
            return Outcome.ESCALATED
        outcome = await self.responder.answer(
            question=text,
            language=language,
            asker=message.author,
            conversation=thread,
            scope=scope,
            channel=channel,
            message_id=message.id,
            on_posted=lambda: self._responding.discard(message.id),
            revising=resume,
            finish=finish,
            keep=message,  # kept in the thread as the answer's first trip, with what it reads
        )
        if outcome in (Outcome.ANSWERED, Outcome.ESCALATED):  # after the answer: see journey.py
            welcome = partial(
                self.journey.welcome, message, thread=thread, language=language, scope=scope, channel=channel
            )
            await after_record(finish, welcome)
        return outcome

    async def _revise(
        self, message: InboundMessage, channel: Channel, situation: Situation, resume: Posted | None
    ) -> Outcome:
        """The asker edited a question the bot answered: the answer is replaced in place (on a
        replay, the post the edit's event made or found, `resume`)."""
        self._responding.add(message.id)
        return await self.responder.revise(
            message,
            channel,
            language=situation.language,
            scope=situation.scope,
            on_posted=lambda: self._responding.discard(message.id),
            resume=resume,
        )

    async def tick(self, channels: Mapping[str, Channel]) -> int:
        """Run the clock: fire the SLA reminders and follow-ups that are due. Adapters'
        supervisor calls this about every half minute with each running platform's Channel."""
        fired = await self.escalations.tick(channels)
        fired += await self.followups.tick(channels)  # "Did this solve it?", once per thread
        fired += await self.insights.tick(channels)  # knowledge gaps, the weekly digest
        await self.retention.tick()  # message text past [privacy] retention_days
        await self.deliveries.tick(channels)  # replays in the background; old inbox rows forgotten
        await self.shared_knowledge.tick()  # another worker's approval or reindex, synced here too
        return fired

    async def settle(self) -> None:
        """Wait for the replays and the sync the clock started (tests, and an orderly shutdown)."""
        await self.deliveries.settle()
        await self.shared_knowledge.settle()

    async def answer_command_question(self, command: Command, question: str, channel: Channel) -> Outcome:
        """`/support ask`: the same pipeline as a mention, answered in the command's channel."""
        return await answer_command(self.responder, command, question, channel)

    def _human_button(self, language: str, value: str) -> Button:
        return Button(action=ActionKind.TALK_TO_HUMAN, label=say("button_human", language), value=value)
