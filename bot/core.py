"""SupportBot: the conversation core. Orchestration only.

Adapters hand it an InboundMessage, an ActionEvent or a Command together with their
Channel; it decides (through policy), retrieves, answers, escalates, records, and posts
through the Channel. It imports no platform SDK. Every message addressed to the bot gets
a visible outcome: an answer, an honest "I don't know" with a hand-off, or an apology.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import TypeVar

from bot import policy
from bot.answering.context import fit_sections
from bot.commands import REGISTRY, CommandSpec, UsageError, may_run
from bot.config import Settings
from bot.errors import AnswererUnavailable
from bot.escalation import Context, Escalations
from bot.inbox import deserialise_message, serialise_message
from bot.learning import write_entry
from bot.messages import say
from bot.policy import Act
from bot.ports import Answerer, Channel, Clock, Embedder, StreamSink
from bot.retrieval import KnowledgeBase, KnowledgeSummary, SyncReport
from bot.retrieval.embeddings import QUERY_DEADLINE_SECONDS, EmbeddingReport, Embeddings
from bot.store import AsyncStore, StateStore
from bot.streaming import StreamingReply
from bot.types import (
    ActionEvent,
    ActionKind,
    Answer,
    Author,
    Button,
    ButtonStyle,
    ChannelMode,
    Command,
    ConversationRef,
    DocVisibility,
    Draft,
    EscalationReason,
    InboundMessage,
    Outcome,
    Passage,
    Reply,
    ReplyKind,
    SearchResult,
    TicketStatus,
    Turn,
)

log = logging.getLogger(__name__)

# passages a model may be given (as many as fit [llm] context_tokens): on realdocs_dev the
# chunk holding the answer is among the best 10 for 91% of questions and the best 20 for 94%
MODEL_CANDIDATES = 20

T = TypeVar("T")


class SupportBot:
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
    ) -> None:
        self.settings = settings
        self.store = store
        self.knowledge = knowledge
        self.answerer = answerer
        self.fallback = fallback
        self.clock = clock
        self.escalations = Escalations(settings=settings, store=store, clock=clock)
        # the index is not thread-safe for writes; one thread keeps search and sync in order
        self._knowledge_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supportbot-knowledge")
        # hybrid retrieval (bot/retrieval/embeddings.py); None: BM25 alone
        self.embeddings = (
            Embeddings(embedder, query_deadline=min(QUERY_DEADLINE_SECONDS, settings.llm.timeout_seconds))
            if embedder is not None
            else None
        )
        self._first_embedding: asyncio.Future[EmbeddingReport | None] | None = None
        # inbox keys being handled right now: a replay after reconnecting must not take them
        self._in_flight: set[str] = set()
        # messages the bot decided to answer: a failure owes them an apology
        self._responding: set[str] = set()

    def close(self) -> None:
        self._knowledge_thread.shutdown(wait=True)

    async def aclose(self) -> None:
        """Release what the answerers and the embedder hold (HTTP connections to an endpoint)."""
        for answerer in (self.answerer, self.fallback):
            close = getattr(answerer, "close", None)
            if close is not None:
                await close()
        if self._first_embedding is not None and not self._first_embedding.done():
            self._first_embedding.cancel()
            await asyncio.gather(self._first_embedding, return_exceptions=True)
        if self.embeddings is not None:
            await self.embeddings.close()

    # -- messages ------------------------------------------------------------------------

    async def on_message(self, message: InboundMessage, channel: Channel) -> Outcome:
        """Handle one platform message exactly once, whatever retries the platform makes."""
        if policy.plainly_not_for_us(
            message, policy.channel_mode(self.settings, message.conversation, message.visibility)
        ):
            return Outcome.IGNORED  # most channel traffic: no inbox write, no store round trip
        key = f"{message.conversation.platform}:msg:{message.id}"
        fresh = await self.store.run(
            StateStore.claim_event,
            key,
            message.conversation.platform,
            serialise_message(message),
            self.clock.now(),
        )
        if not fresh:
            log.info("duplicate event", extra=_ctx(message.conversation, message_id=message.id))
            return Outcome.DUPLICATE
        return await self._process(key, message, channel)

    async def replay_pending(self, platform: str, channel: Channel) -> int:
        """Answer messages that were received but never finished (the process died mid-answer)."""
        replayed = 0
        for key, payload in await self.store.run(StateStore.pending_events, platform, self.clock.now()):
            if key in self._in_flight:
                continue  # a live handler has it (the platform redelivered it after reconnecting)
            if not await self.store.run(StateStore.take_for_replay, key, self.clock.now()):
                continue  # another replay took it first
            try:
                message = deserialise_message(payload)
            except (ValueError, KeyError, TypeError):
                log.exception("cannot replay a stored event", extra={"event": key})
                await self.store.run(StateStore.finish_event, key, self.clock.now(), "unreadable")
                continue
            log.info(
                "replaying an unfinished message", extra=_ctx(message.conversation, message_id=message.id)
            )
            replayed += 1
            await self._process(key, message, channel)
        return replayed

    async def _process(self, key: str, message: InboundMessage, channel: Channel) -> Outcome:
        self._in_flight.add(key)
        try:
            outcome = await self._handle_message(message, channel)
        except Exception:
            log.exception(
                "failed to handle a message", extra=_ctx(message.conversation, message_id=message.id)
            )
            outcome = Outcome.FAILED
            if message.addressed or message.id in self._responding:
                await self._apologise(message, channel)
        finally:
            self._in_flight.discard(key)
            self._responding.discard(message.id)
        try:
            await self.store.run(StateStore.finish_event, key, self.clock.now(), str(outcome))
        except Exception:
            # the person has their outcome; at worst a restart replays this event once more
            log.exception(
                "could not mark an event handled", extra=_ctx(message.conversation, message_id=message.id)
            )
        return outcome

    async def _handle_message(self, message: InboundMessage, channel: Channel) -> Outcome:
        conversation = message.conversation
        state = await self.store.run(StateStore.conversation, conversation.key)
        mode = policy.channel_mode(self.settings, conversation, message.visibility)
        staff = policy.is_staff(message.author, conversation.platform, self.settings)
        decision = policy.should_respond(message, mode=mode, state=state, staff=staff)
        log.debug("decision %s: %s", decision.act, decision.why, extra=_ctx(conversation))
        if decision.act == Act.TAKEOVER:
            await self._record(message, role="staff")
            await self.store.run(
                StateStore.set_conversation_flags, conversation, self.clock.now(), human_takeover=True
            )
            ticket = await self.store.run(StateStore.active_ticket, conversation)
            if ticket is not None:
                await self.escalations.staff_replied(ticket, message.author, channel)
            log.info("staff took over a thread", extra=_ctx(conversation))
            return Outcome.RECORDED
        in_bot_thread = state is not None and conversation.thread is not None and mode != ChannelMode.OFF
        if in_bot_thread and not staff and not message.author.is_bot and not message.edited:
            handled = await self._asker_ticket_reply(message, channel)
            if handled is not None:
                return handled
        if decision.act == Act.IGNORE:
            if state is not None and not message.author.is_bot and mode != ChannelMode.OFF:
                await self._record(message, role="staff" if staff else "user")
                return Outcome.RECORDED
            return Outcome.IGNORED

        self._responding.add(message.id)
        language = policy.detect_language(message.text)
        text = message.text.strip()
        if not text:
            await channel.send(
                Reply(conversation=conversation, text=say("greeting", language), in_reply_to=message.id)
            )
            return Outcome.REFUSED
        if len(text) > self.settings.answer.max_question_chars:
            await self._record(message, role="user")  # refused, but kept: nothing is lost
            await channel.send(
                Reply(
                    conversation=conversation,
                    text=say(
                        "too_long", language, length=len(text), limit=self.settings.answer.max_question_chars
                    ),
                    kind=ReplyKind.ERROR,
                    buttons=(self._human_button(language, message.id),),
                    in_reply_to=message.id,
                )
            )
            return Outcome.REFUSED

        thread = await channel.open_thread(message, title=_thread_title(text))
        await self.store.run(StateStore.touch_conversation, thread, self.clock.now(), message.author.id)
        await self._record(message, role="user", conversation=thread)
        scope = policy.document_scope(self.settings, conversation, message.visibility, message.author)
        if policy.wants_human(text):
            await self.escalations.open(
                conversation=thread,
                asker=message.author,
                question=await self._question_for_ticket(thread, text),
                reason=EscalationReason.ASKED_FOR_HUMAN,
                channel=channel,
                language=language,
                lead=say("asked_for_human", language),
                in_reply_to=message.id,
                visibility=scope,
            )
            await self.store.run(
                StateStore.set_conversation_flags, thread, self.clock.now(), bot_participating=True
            )
            return Outcome.ESCALATED
        return await self._answer(
            question=text,
            language=language,
            asker=message.author,
            conversation=thread,
            scope=scope,
            channel=channel,
            message_id=message.id,
        )

    async def _asker_ticket_reply(self, message: InboundMessage, channel: Channel) -> Outcome | None:
        """The asker writes in the thread of their ticket: "I'm all set" closes it; after
        resolution, a new message reopens it (thanks are only acknowledged)."""
        ticket = await self.store.run(StateStore.latest_ticket, message.conversation)
        if ticket is None or ticket.asker_id != message.author.id:
            return None
        text = message.text.strip()
        if ticket.status in (TicketStatus.OPEN, TicketStatus.CLAIMED) and policy.says_all_set(text):
            await self._record(message, role="user")
            await self.escalations.close_by_asker(ticket, message.author, channel)
            return Outcome.RECORDED
        if not self.escalations.reopen_window_open(ticket):
            return None
        await self._record(message, role="user")
        if policy.is_acknowledgement(text):
            return Outcome.RECORDED  # "ok", "네 알겠습니다": kept in the thread, nobody pinged
        if policy.says_all_set(text) or policy.is_thanks(text):
            await channel.send(
                Reply(conversation=message.conversation, text=say("you_are_welcome", ticket.language))
            )
            return Outcome.RECORDED
        await self.escalations.reopen(ticket, message.author, channel, text)
        return Outcome.ESCALATED

    async def tick(self, channels: Mapping[str, Channel]) -> int:
        """Run the clock: fire the SLA reminders that are due. Adapters' supervisor calls this
        about every half minute with each running platform's Channel."""
        fired = await self.escalations.tick(channels)
        # handled events are kept a week (platforms retry within minutes), then forgotten
        await self.store.run(StateStore.prune_inbox, self.clock.now() - timedelta(days=7))
        return fired

    async def answer_command_question(self, command: Command, question: str, channel: Channel) -> Outcome:
        """`/support ask`: the same pipeline as a mention, answered in the command's channel."""
        language = policy.detect_language(question)
        question = question.strip()
        if len(question) > self.settings.answer.max_question_chars:
            await channel.send(
                Reply(
                    conversation=command.conversation,
                    text=say(
                        "too_long",
                        language,
                        length=len(question),
                        limit=self.settings.answer.max_question_chars,
                    ),
                    kind=ReplyKind.ERROR,
                    ephemeral_to=command.invoker.id,
                )
            )
            return Outcome.REFUSED
        scope = policy.document_scope(
            self.settings, command.conversation, command.visibility, command.invoker
        )
        return await self._answer(
            question=question,
            language=language,
            asker=command.invoker,
            conversation=await self._thread_for_command(command, question, language, channel),
            scope=scope,
            channel=channel,
            message_id=None,
        )

    async def _thread_for_command(
        self, command: Command, question: str, language: str, channel: Channel
    ) -> ConversationRef:
        """A slash command has no message to answer under: post the question, and answer in
        a thread on it, so each asker's question is its own conversation (and ticket)."""
        anchor = InboundMessage(
            id=command.id,
            conversation=command.conversation,
            author=command.invoker,
            text=question,
            addressed=True,
            visibility=command.visibility,
            sent_at=self.clock.now(),
        )
        thread = command.conversation
        if thread.thread is None:
            root = await channel.send(
                Reply(
                    conversation=command.conversation,
                    text=say(
                        "asked_by", language, who=command.invoker.display, question=_thread_title(question)
                    ),
                )
            )
            if root.conversation.thread is not None:
                thread = root.conversation  # the platform made the post its own thread (Slack)
            elif root.message_id:
                try:
                    thread = await channel.open_thread(
                        replace(anchor, id=root.message_id), _thread_title(question)
                    )
                except Exception:
                    log.exception("could not start a thread for a command", extra=_ctx(command.conversation))
        await self._record(anchor, role="user", conversation=thread)
        return thread

    async def _answer(
        self,
        *,
        question: str,
        language: str,
        asker: Author,
        conversation: ConversationRef,
        scope: DocVisibility,
        channel: Channel,
        message_id: str | None,
    ) -> Outcome:
        history = await self.store.run(StateStore.history, conversation, 12)
        if history and history[-1].role == "user" and history[-1].text.strip() == question:
            history = history[:-1]  # the question itself goes to the answerer on its own
        answerer, note = await self._answerer_for(asker, conversation, language)
        stream = StreamingReply(channel, conversation, interval=getattr(channel, "edit_interval", 1.0))
        answer, result = await self.ask(
            question, scope, history=history, language=language, on_text=stream, answerer=answerer
        )
        if note:
            answer = replace(answer, note=note)
        answer_id = await self.store.run(
            StateStore.record_answer,
            ref=conversation,
            message_id=message_id,
            asker_id=asker.id,
            question=question,
            answer=answer.text,
            confidence=answer.confidence,
            language=answer.language,
            answerer=answer.answerer,
            abstained=self.is_abstention(answer),
            sources=answer.citations,
            top_path=result.passages[0].path if result.passages else None,
            at=self.clock.now(),
            tokens_in=answer.tokens_in,
            tokens_out=answer.tokens_out,
        )
        log.info(
            "answered confidence=%.2f passages=%d",
            answer.confidence,
            len(result.passages),
            extra=_ctx(conversation, answer_id=answer_id),
        )
        if self.is_abstention(answer):
            if stream.posted is not None:  # the model wrote something, then declined
                await stream.finish(
                    Reply(conversation=conversation, text=say("abstain", language), kind=ReplyKind.ABSTAIN)
                )
            answered_before = any(turn.role == "bot" for turn in history)
            closest = tuple(dict.fromkeys(p.path for p in result.passages[:3]))
            await self.escalations.open(
                conversation=conversation,
                asker=asker,
                question=question,
                reason=EscalationReason.UNANSWERED_FOLLOWUPS
                if answered_before
                else EscalationReason.LOW_CONFIDENCE,
                channel=channel,
                language=language,
                lead="" if stream.posted is not None else say("abstain", language),
                answer_id=answer_id,
                in_reply_to=message_id,
                visibility=scope,
                tags=result.passages[0].tags if result.passages else (),
                context=Context(sources=closest),
            )
            await self._mark_bot_thread(conversation)
            return Outcome.ESCALATED
        text = answer.text if not answer.note else f"{answer.text}\n\n_{answer.note}_"
        posted = await stream.finish(
            Reply(
                conversation=conversation,
                text=text,
                kind=ReplyKind.ANSWER,
                citations=answer.citations,
                buttons=self._answer_buttons(language, answer_id),
                in_reply_to=message_id,
                language=language,
            )
        )
        if message_id is not None:
            self._responding.discard(message_id)  # answered: a later failure owes no apology
        await self.store.run(StateStore.set_answer_posted, answer_id, posted.message_id)
        await self.store.run(
            StateStore.add_message,
            posted.conversation,
            role="bot",
            text=answer.text,
            at=self.clock.now(),
            platform_id=posted.message_id,
        )
        await self._mark_bot_thread(posted.conversation)
        return Outcome.ANSWERED

    async def ask(
        self,
        question: str,
        scope: DocVisibility,
        *,
        k: int = 10,
        history: Sequence[Turn] = (),
        language: str | None = None,
        on_text: StreamSink | None = None,
        answerer: Answerer | None = None,
    ) -> tuple[Answer, SearchResult]:
        """Retrieve and answer, without posting anything: the heart of every answer."""
        wanted = max(k, self.settings.answer.passages)
        if self.fallback is not None:  # a model is configured: it gets to look further down
            wanted = max(wanted, MODEL_CANDIDATES)
        result = await self.search(question, scope, k=wanted)
        language = language or policy.detect_language(question)
        answer = await self._compose(question, result, history, language, on_text, answerer or self.answerer)
        return answer, result

    def is_abstention(self, answer: Answer) -> bool:
        return policy.needs_escalation(answer, self.settings.answer.confidence_threshold)

    async def _compose(
        self,
        question: str,
        result: SearchResult,
        history: Sequence[Turn],
        language: str,
        on_text: StreamSink | None,
        answerer: Answerer,
    ) -> Answer:
        passages = result.passages[: self.settings.answer.passages]
        sent = passages
        if self.fallback is not None and answerer is not self.fallback:
            sent = await self.model_context(question, result) or passages
        try:
            return await answerer.answer(
                question,
                sent,
                history,
                language,
                result.confidence,
                on_text,
                hints=result.hints,
            )
        except Exception as exc:
            if self.fallback is None or answerer is self.fallback:
                raise
            if isinstance(exc, AnswererUnavailable):
                # the message says what failed (timeout, bad key, ...): no traceback needed
                log.warning(
                    "answerer %s unavailable (%s); quoting the documentation instead", answerer.name, exc
                )
            else:
                log.exception("answerer %s failed; falling back to %s", answerer.name, self.fallback.name)
            answer = await self.fallback.answer(
                question, passages, history, language, result.confidence, hints=result.hints
            )
            return Answer(
                text=answer.text,
                citations=answer.citations,
                confidence=answer.confidence,
                language=answer.language,
                answerer=answer.answerer,
                abstained=answer.abstained,
                note=say("llm_fallback", language),
            )

    async def model_context(self, question: str, result: SearchResult) -> tuple[Passage, ...] | None:
        """What the model is given for `question`: the whole sections of the best passages,
        within `[llm] context_tokens`; None when no model is configured."""
        if self.fallback is None:
            return None
        sections = await self._on_knowledge_thread(partial(self.knowledge.sections, result.passages))
        return fit_sections(sections, self.settings.llm.context_tokens)

    async def search(self, question: str, scope: DocVisibility, k: int = 10) -> SearchResult:
        vector = None
        if self.embeddings is not None:
            if self._first_embedding is None:
                await asyncio.shield(self.start_embedding())  # the first question waits for the cache
            vector = await self.embeddings.embed_query(question)
        return await self._on_knowledge_thread(
            partial(self.knowledge.search, question, scope, k, query_vector=vector)
        )

    async def reindex(self) -> SyncReport:
        report = await self._on_knowledge_thread(self.knowledge.sync)
        report.embeddings = await self.sync_embeddings()
        return report

    async def sync_embeddings(self) -> EmbeddingReport | None:
        """Embed the passages that have no vector yet (after a sync); None without embeddings.
        An endpoint failure is logged and reported, never raised."""
        if self.embeddings is None:
            return None
        return await self.embeddings.sync_cache(self.knowledge, self._on_knowledge_thread)

    def start_embedding(self) -> asyncio.Future[EmbeddingReport | None]:
        """The first pass over the vector cache after start, begun once: the first search
        awaits it; `supportbot run` starts it in the background so no question waits."""
        if self._first_embedding is None:
            self._first_embedding = asyncio.ensure_future(self._first_pass())
        return self._first_embedding

    async def _first_pass(self) -> EmbeddingReport | None:
        try:
            return await self.sync_embeddings()
        except Exception:  # a boundary: without vectors, search still works with BM25
            log.exception("filling the embeddings cache failed; keyword search only until the next reindex")
            return None

    async def _on_knowledge_thread(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._knowledge_thread, fn)

    async def learn(self, draft: Draft, admin: Author) -> str | None:
        """Approve a draft: write it into the knowledge folder and index it at once.
        Returns the file's path, or None if someone decided the draft first."""
        loop = asyncio.get_running_loop()
        today = self.clock.now().date()
        folder = self.knowledge.folder
        path = await loop.run_in_executor(self._knowledge_thread, write_entry, folder, draft, today)
        if not await self.store.run(
            StateStore.decide_draft, draft.id, status="approved", by=admin.id, at=self.clock.now(), path=path
        ):
            await loop.run_in_executor(self._knowledge_thread, (folder / path).unlink)
            return None
        await self.reindex()
        log.info("knowledge draft approved", extra={"ticket_id": draft.ticket_id})
        return path

    async def knowledge_summary(self) -> KnowledgeSummary:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._knowledge_thread, self.knowledge.summary)

    def answerer_description(self) -> str:
        return getattr(self.answerer, "description", self.answerer.name)

    async def _answerer_for(
        self, asker: Author, conversation: ConversationRef, language: str
    ) -> tuple[Answerer, str | None]:
        """The model, unless this person or channel used up its hourly share of model answers;
        then the offline answerer, with a note saying why."""
        if self.fallback is None:
            return self.answerer, None
        limits = self.settings.llm
        since = self.clock.now() - timedelta(hours=1)
        by_user, by_channel = await self.store.run(
            StateStore.model_answers_since, since, asker.id, conversation.channel_key, self.answerer.name
        )
        if (limits.user_rate_per_hour and by_user >= limits.user_rate_per_hour) or (
            limits.channel_rate_per_hour and by_channel >= limits.channel_rate_per_hour
        ):
            log.info("model answer rate limit reached", extra=_ctx(conversation))
            return self.fallback, say("rate_limited_model", language)
        return self.answerer, None

    async def usage_today(self) -> str | None:
        if self.fallback is None:
            return None
        now = self.clock.now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        answers, tokens_in, tokens_out = await self.store.run(
            StateStore.usage_since, midnight, self.answerer.name
        )
        return (
            f"Model usage today (UTC): {answers} answers, {tokens_in:,} tokens in, {tokens_out:,} tokens out"
        )

    def command_prefix(self, platform: str, spec: CommandSpec | None = None) -> str:
        """How people type a command on `platform`. Discord can only hide whole commands from
        members without Manage Server, so its admin commands live under /support-admin."""
        if platform == "slack":
            return self.settings.slack.slash_command
        if platform == "discord" and spec is not None and spec.admin_only:
            return "/support-admin"
        return "/support"

    async def _record(
        self, message: InboundMessage, *, role: str, conversation: ConversationRef | None = None
    ) -> None:
        ref = conversation or message.conversation
        await self.store.run(StateStore.touch_conversation, ref, self.clock.now())
        await self.store.run(
            StateStore.add_message,
            ref,
            role=role,
            text=message.text,
            at=message.sent_at,
            author=message.author,
            platform_id=message.id,
        )

    async def _mark_bot_thread(self, conversation: ConversationRef) -> None:
        if conversation.thread is not None:
            await self.store.run(
                StateStore.set_conversation_flags, conversation, self.clock.now(), bot_participating=True
            )

    async def _question_for_ticket(self, conversation: ConversationRef, text: str) -> str:
        """A request for a person is rarely the question itself: use the thread's first question."""
        history = await self.store.run(StateStore.history, conversation, 20)
        questions = [
            turn.text for turn in history if turn.role == "user" and not policy.wants_human(turn.text)
        ]
        return questions[0] if questions else text

    async def _apologise(self, message: InboundMessage, channel: Channel) -> None:
        """Something failed while answering: say so, and hand the question to people so it
        is not lost (a ticket, staff tagged, in the question's thread where possible)."""
        language = policy.detect_language(message.text)
        try:
            try:
                where = await channel.open_thread(message, _thread_title(message.text or "?"))
            except Exception:
                where = message.conversation
            await self.escalations.open(
                conversation=where,
                asker=message.author,
                question=message.text[:2000] or "(empty message)",
                reason=EscalationReason.ERROR,
                channel=channel,
                language=language,
                lead=say("error_lead", language),
                in_reply_to=message.id,
                visibility=policy.document_scope(
                    self.settings, message.conversation, message.visibility, message.author
                ),
            )
            return
        except Exception:
            log.exception("could not hand the failed message to people", extra=_ctx(message.conversation))
        try:
            await channel.send(
                Reply(
                    conversation=message.conversation,
                    text=say("error_no_ticket", language),
                    kind=ReplyKind.ERROR,
                    in_reply_to=message.id,
                )
            )
        except Exception:
            log.exception("could not tell the asker about the failure", extra=_ctx(message.conversation))

    def _answer_buttons(self, language: str, answer_id: int) -> tuple[Button, ...]:
        value = str(answer_id)
        return (
            Button(
                action=ActionKind.HELPFUL,
                label=say("button_helpful", language),
                value=value,
                style=ButtonStyle.PRIMARY,
            ),
            Button(action=ActionKind.NOT_HELPFUL, label=say("button_not_helpful", language), value=value),
            Button(action=ActionKind.TALK_TO_HUMAN, label=say("button_human", language), value=value),
        )

    def _human_button(self, language: str, value: str) -> Button:
        return Button(
            action=ActionKind.TALK_TO_HUMAN, label=say("button_human", language), value=f"msg:{value}"
        )

    # -- buttons -------------------------------------------------------------------------

    async def on_action(self, event: ActionEvent, channel: Channel) -> Outcome:
        key = f"{event.conversation.platform}:action:{event.id}"
        fresh = await self.store.run(
            StateStore.claim_event, key, event.conversation.platform, "", self.clock.now()
        )
        if not fresh:
            return Outcome.DUPLICATE
        try:
            outcome = await self._handle_action(event, channel)
        except Exception:
            log.exception(
                "failed to handle a button", extra=_ctx(event.conversation, action=str(event.action))
            )
            outcome = Outcome.FAILED
            try:
                await channel.send(
                    Reply(
                        conversation=event.conversation,
                        text=say("error_no_ticket"),
                        kind=ReplyKind.ERROR,
                        ephemeral_to=event.actor.id,
                    )
                )
            except Exception:
                log.exception("could not report the failed button press")
        await self.store.run(StateStore.finish_event, key, self.clock.now(), str(outcome))
        return outcome

    async def _handle_action(self, event: ActionEvent, channel: Channel) -> Outcome:
        if event.action in (ActionKind.CLAIM, ActionKind.RESOLVE):
            ticket_id = int(event.value)
            if event.action == ActionKind.CLAIM:
                result = await self.escalations.claim(
                    ticket_id, event.actor, channel, event.conversation.platform
                )
            else:
                result = await self.escalations.resolve(
                    ticket_id, event.actor, channel, event.conversation.platform
                )
            if not result.changed:
                await channel.send(
                    Reply(conversation=event.conversation, text=result.message, ephemeral_to=event.actor.id)
                )
                return Outcome.REFUSED
            return Outcome.RECORDED

        if event.action in (ActionKind.RATE_GOOD, ActionKind.RATE_BAD):
            rating = "good" if event.action == ActionKind.RATE_GOOD else "bad"
            text = await self.escalations.rate(int(event.value), event.actor, rating)
            await channel.send(Reply(conversation=event.conversation, text=text, ephemeral_to=event.actor.id))
            return Outcome.RECORDED
        scope = policy.document_scope(self.settings, event.conversation, event.visibility, event.actor)
        record = None
        if not event.value.startswith("msg:"):
            record = await self.store.run(StateStore.answer, int(event.value))
        language = policy.detect_language(record.question) if record else "en"
        if event.action in (ActionKind.HELPFUL, ActionKind.NOT_HELPFUL):
            if record is None:
                return Outcome.IGNORED
            await self.store.run(
                StateStore.add_feedback, record.id, event.actor.id, str(event.action), self.clock.now()
            )
            if event.action == ActionKind.NOT_HELPFUL and event.actor.id == record.asker_id:
                await self.escalations.open(
                    conversation=ConversationRef.from_key(record.conversation),
                    asker=event.actor,
                    question=record.question,
                    reason=EscalationReason.NOT_HELPFUL,
                    channel=channel,
                    language=language,
                    lead=say("not_helpful_escalated", language),
                    answer_id=record.id,
                    visibility=scope,
                    context=Context(answer=record.answer, sources=tuple(c.path for c in record.sources)),
                )
                return Outcome.ESCALATED
            await channel.send(
                Reply(
                    conversation=event.conversation,
                    text=say("thanks_feedback", language),
                    ephemeral_to=event.actor.id,
                )
            )
            return Outcome.RECORDED
        if event.action == ActionKind.TALK_TO_HUMAN:
            conversation = ConversationRef.from_key(record.conversation) if record else event.conversation
            question = record.question if record else await self._question_for_ticket(conversation, "")
            await self.escalations.open(
                conversation=conversation,
                asker=event.actor,
                question=question or "(asked for a person)",
                reason=EscalationReason.ASKED_FOR_HUMAN,
                channel=channel,
                language=language,
                lead=say("asked_for_human", language),
                answer_id=record.id if record else None,
                visibility=scope,
                context=Context(answer=record.answer, sources=tuple(c.path for c in record.sources))
                if record
                else None,
            )
            return Outcome.ESCALATED
        return Outcome.IGNORED

    # -- commands ------------------------------------------------------------------------

    def may_run(self, spec: CommandSpec, command: Command) -> bool:
        platform = command.conversation.platform
        return may_run(
            spec,
            staff=policy.is_staff(command.invoker, platform, self.settings),
            admin=policy.is_admin(command.invoker, platform, self.settings),
        )

    async def on_command(self, command: Command, channel: Channel) -> Outcome:
        spec = REGISTRY.get(command.name)
        prefix = self.command_prefix(command.conversation.platform)
        if spec is None:
            await self._tell(command, channel, f"There is no command `{command.name}`. Try `{prefix} help`.")
            return Outcome.REFUSED
        if not self.may_run(spec, command):
            await self._tell(
                command,
                channel,
                f"`{prefix} {spec.name}` is for {spec.access} only. Ask an admin if you need it.",
            )
            log.info("command refused", extra=_ctx(command.conversation, command=spec.name))
            return Outcome.REFUSED
        try:
            args = REGISTRY.parse_args(spec, command.args)
            text = await spec.handler(self, command, args, channel)
        except UsageError as exc:
            await self._tell(command, channel, str(exc))
            return Outcome.REFUSED
        except Exception:
            log.exception("command failed", extra=_ctx(command.conversation, command=spec.name))
            await self._tell(command, channel, say("error_no_ticket"), kind=ReplyKind.ERROR)
            return Outcome.FAILED
        if text is not None:
            await self._tell(command, channel, text, ephemeral=spec.ephemeral)
        return Outcome.ANSWERED

    async def _tell(
        self,
        command: Command,
        channel: Channel,
        text: str,
        *,
        ephemeral: bool = True,
        kind: ReplyKind = ReplyKind.INFO,
    ) -> None:
        await channel.send(
            Reply(
                conversation=command.conversation,
                text=text,
                kind=kind,
                ephemeral_to=command.invoker.id if ephemeral else None,
            )
        )


def _thread_title(text: str) -> str:
    first_line = text.strip().splitlines()[0] if text.strip() else "Question"
    return first_line if len(first_line) <= 80 else first_line[:77] + "..."


def _ctx(conversation: ConversationRef, **more: object) -> dict[str, object]:
    return {
        "platform": conversation.platform,
        "channel": conversation.channel,
        "thread_id": conversation.thread,
        **more,
    }
