"""Answering one question in a conversation: the reply people see, and what is recorded.

The answer pipeline writes the Answer; this posts it (streamed into one message when a
model writes it), with its sources and the helpful / not helpful / talk to a person
buttons, records it, and when it is not an answer says so honestly and opens a ticket
with what the bot tried, so the question is never dropped. An edited question is answered
again in place (`revise`); a slash command's question is answered through `answer` by
bot/answering/command_ask.py, and a failure handed to people by bot/answering/apology.py.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial

from bot import faults, policy
from bot.answering.pipeline import AnswerPipeline, Chosen
from bot.answering.trips import (
    HISTORY_TURNS,
    EventAnswer,
    Kept,
    answer_fields,
    history_and_memory,
    record_answer,
)
from bot.config import Settings
from bot.conversation import Recorder, log_context
from bot.escalation import Context, Escalations
from bot.fence import TakenOver
from bot.inbox import Finish, NothingDoneYet, NotYet, after_record
from bot.insights.bursts import BurstWatch
from bot.insights.followups import Followups
from bot.insights.incidents import Incidents, Notice
from bot.insights.similar_tickets import Resolved, SimilarTickets
from bot.insights.similarity import Asked
from bot.messages import say
from bot.ports import Channel, Clock, KnowsOpenChannels
from bot.privacy.audiences import withholds
from bot.privacy.people import People, memory_turns, remembered_tickets
from bot.privacy.people import remembered as remembered_facts
from bot.store import AsyncStore, StateStore
from bot.store.answers import SCORE_DIGITS, AnswerRecord, answer_statement
from bot.store.revisions import RevisionTurn, edited_message
from bot.streaming import StreamingReply
from bot.text import blank
from bot.types import (
    ActionKind,
    Author,
    Button,
    ButtonStyle,
    Completion,
    ConversationRef,
    DocVisibility,
    EscalationReason,
    InboundMessage,
    Outcome,
    Posted,
    Reply,
    ReplyKind,
    Ticket,
    Turn,
)

log = logging.getLogger(__name__)


def answer_buttons(language: str, answer_id: int) -> tuple[Button, ...]:
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


def _with_notice(notice: Notice | None, text: str) -> str:
    """A known-issue notice goes first: it is what the asker most needs to read."""
    if notice is None:
        return text
    return f"{notice.text}\n\n{text}" if text else notice.text


async def asker_view(
    settings: Settings, store: AsyncStore, asker: Author, conversation: ConversationRef, question: str
) -> tuple[frozenset[str], list[Turn]]:
    """What answering `question` for `asker` may draw on: the audiences whose documents they
    may see, and the thread's history as they may see it (outside some audience, the bot's
    answers to others stay out of it: bot/privacy/audiences.py), without the question itself,
    which goes to the answerer on its own."""
    audiences, answers_to = _audiences(settings, asker, conversation)
    history = await store.run(StateStore.history, conversation, HISTORY_TURNS, answers_to=answers_to)
    return audiences, _without_question(history, question)


def _audiences(
    settings: Settings, asker: Author, conversation: ConversationRef
) -> tuple[frozenset[str], str | None]:
    """The asker's audiences, and whose answers alone their view of the history keeps (None: all)."""
    audiences = policy.audiences(asker, conversation.platform, settings)
    return audiences, asker.id if withholds(settings, audiences) else None


def _without_question(history: list[Turn], question: str) -> list[Turn]:
    if history and history[-1].role == "user" and history[-1].text.strip() == question:
        return history[:-1]
    return history


class Responder:
    def __init__(
        self,
        *,
        settings: Settings,
        store: AsyncStore,
        clock: Clock,
        answers: AnswerPipeline,
        escalations: Escalations,
        recorder: Recorder,
        incidents: Incidents | None = None,
        bursts: BurstWatch | None = None,
        similar: SimilarTickets | None = None,
        followups: Followups | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.answers = answers
        self.escalations = escalations
        self.recorder = recorder
        self.incidents = incidents
        self.bursts = bursts
        self.similar = similar
        self.followups = followups

    async def answer(
        self,
        *,
        question: str,
        language: str,
        asker: Author,
        conversation: ConversationRef,
        scope: DocVisibility,
        channel: Channel,
        message_id: str | None,
        on_posted: Callable[[], None] | None = None,
        revising: Posted | None = None,
        instead: Posted | None = None,
        on_post: Callable[[Posted], Awaitable[None]] | None = None,
        finish: Finish | None = None,
        keep: InboundMessage | None = None,
        revises: int | None = None,
    ) -> Outcome:
        """Answer `question` in `conversation`: stream the model's words or post the quote,
        with sources and buttons; or, when there is no answer, say so and hand it to people.
        With `revising` (the asker edited the question, or a replay found the post a dead
        process began), that post is replaced in place (or `instead`, if it is gone); `on_post` learns of a new post as
        soon as it exists (the inbox notes it, so a replay can do that). With `finish` (the
        inbox's, for a platform message) the answer is recorded with its event's finish. With
        `keep` (the asker's message), it is kept in `conversation` first, in the same trip. With
        `revises` (an edit's: the answer to the question as it was), that answer is marked
        replaced by this one's record."""
        # what asker_view and People.recall read, in one trip (with the question kept first)
        audiences, answers_to = _audiences(self.settings, asker, conversation)
        kept = Kept(keep, self.clock.now()) if keep is not None else None
        history, memory = await self.store.run(history_and_memory, conversation, answers_to, asker.id, kept)
        history = _without_question(history, question)
        # opt-in memory (bot/privacy/people.py): None when off, and then nothing more is read or written
        people = People(settings=self.settings, store=self.store, clock=self.clock)
        remembered = remembered_facts(*memory)
        # a reply of names alone ("SLACK_APP_TOKEN?") goes on in the conversation's language
        answered = None
        if policy.language_shown(question) is None:
            answered = await self.store.run(StateStore.answered_language, conversation)
        language = answered or people.language_for(remembered, question, language)
        await people.observe_question(conversation.platform, asker.id, question, language, remembered)
        chosen = await self.answers.answerer_for(asker, conversation, language)
        # the model answer reserved for the question goes with the answer's record, or at the end
        reserved: Chosen | None = chosen
        stream = StreamingReply(
            channel,
            conversation,
            interval=getattr(channel, "edit_interval", 1.0),
            resume=revising,
            instead=instead,
            on_post=on_post,
            in_reply_to=message_id,
        )
        try:
            answer, result = await self.answers.ask(
                question,
                scope,
                history=[*memory_turns(remembered or ()), *history],
                language=language,
                on_text=stream,
                answerer=chosen.answerer,
                audiences=audiences,
            )
            if chosen.note:
                answer = replace(answer, note=chosen.note)
            faults.point("answer.composed")
            abstained = self.answers.is_abstention(answer)
            fields = answer_fields(
                answer,
                result,
                ref=conversation,
                message_id=message_id,
                asker_id=asker.id,
                question=question,
                abstained=abstained,
                at=self.clock.now(),
            )
            # as the answer keeps them: bursts compare it with questions read back from the store
            scores = tuple(round(s, SCORE_DIGITS) for s in fields.get("scores", ()))
            asked = Asked(question, tuple(fields.get("neighbours", ())), scores)
            # a replay records over its own; an event's record states it is still held
            event = finish.key if finish is not None else None
            record = EventAnswer(event, fields) if event is not None else answer_statement(**fields)
            watched = conversation if self.incidents is not None else None
            # an answer (not an abstention) is compared with resolved tickets: read in the same trip
            # unless the ones kept from an earlier question are fresh (bot/insights/similar_tickets.py)
            stamp = self.similar.due(conversation) if self.similar is not None and not abstained else None
            compared = conversation if stamp is not None else None
            if finish is not None:
                await finish.fenced()  # recorded over the event's row: is it still this worker's?
            recorded = await self.store.run(
                record_answer, record, watched, compared, chosen.reservation, revises
            )
            reserved = None
            if recorded is None:  # its asker forgotten, or taken over, meanwhile: nothing recorded
                raise TakenOver(event or "")
            answer_id = recorded.answer_id
            notice = (
                await self.incidents.notice_for(conversation, asked, language, recorded.open_incidents)
                if self.incidents is not None
                else None
            )
            log.info(
                "%s confidence=%.2f passages=%d",
                "abstained" if abstained else "answered",
                answer.confidence,
                len(result.passages),
                extra={**log_context(conversation), "answer_id": answer_id},
            )
            if abstained:
                shown = None
                if stream.posted is not None:  # the model wrote something, then declined
                    shown = await stream.finish(
                        Reply(
                            conversation=conversation, text=say("abstain", language), kind=ReplyKind.ABSTAIN
                        )
                    )
                said_in = shown if shown is not None and shown.message_id else None  # the note goes there
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
                    lead=_with_notice(notice, "" if shown and not said_in else say("abstain", language)),
                    answer_id=answer_id,
                    in_reply_to=message_id,
                    said_in=said_in,
                    visibility=scope,
                    tags=result.passages[0].tags if result.passages else (),
                    context=Context(sources=closest),
                    event=event,
                )
                await self.recorder.mark_bot_thread(conversation)
                await self._watch_for_bursts(answer_id, conversation, channel, asked)
                return Outcome.ESCALATED
            text = answer.text if not answer.note else f"{answer.text}\n\n_{answer.note}_"
            text = _with_notice(notice, text)
            # with memory on, the asker's own past tickets come first (bot/privacy/people.py)
            own = remembered_tickets(remembered or ())
            among = (
                self.similar.keep(conversation, recorded.resolved, stamp)
                if self.similar is not None and stamp is not None and recorded.resolved is not None
                else None
            )
            mine = (
                await self._similar_resolved(conversation, channel, asked, scope, own, among) if own else None
            )
            resolved = mine or await self._similar_resolved(
                conversation, channel, asked, scope, resolved=among
            )
            if resolved is not None and resolved.resolved_at is not None:
                key = "similar_own_ticket" if mine else "similar_resolved"
                text += "\n\n" + say(
                    key, language, ticket=resolved.id, date=f"{resolved.resolved_at:%Y-%m-%d}"
                )
            posted = await stream.finish(
                Reply(
                    conversation=conversation,
                    text=text,
                    kind=ReplyKind.ANSWER,
                    citations=answer.citations,
                    buttons=answer_buttons(language, answer_id),
                    in_reply_to=message_id,
                    language=language,
                    refers_to=resolved.conversation if resolved is not None else None,
                )
            )
            faults.point("answer.posted")
            if on_posted is not None:
                on_posted()  # answered: a later failure owes no apology
            # "Did this solve it?" in after_hours, unless confirmed first: scheduled with the record
            due = self.followups.due_for(posted.conversation, asker) if self.followups is not None else None
            completion = Completion(
                answer_id=answer_id, posted=posted, text=answer.text, at=self.clock.now(), followup_due=due
            )
            if finish is not None:
                finish.completion = completion
            else:
                await self.store.run(StateStore.complete_answer, completion)
            faults.point("answer.recorded")
            await after_record(
                finish, partial(self._watch_for_bursts, answer_id, conversation, channel, asked)
            )
            return Outcome.ANSWERED
        finally:
            if reserved is not None:  # nothing was recorded (a boundary: it never raises)
                await self.answers.release(reserved)
            # a partial edit still waiting (a rate limit) must not land on what is said next in
            # that post: an apology, an escalation note, a replay's answer
            await stream.aclose()

    async def _similar_resolved(
        self,
        conversation: ConversationRef,
        channel: Channel,
        asked: Asked,
        scope: DocVisibility,
        own: frozenset[int] | None = None,
        resolved: Resolved | None = None,
    ) -> Ticket | None:
        """A resolved ticket on a question like this one, in another thread: the team's answer
        there may be what the documentation lacks. Anyone's only if it was public, in a channel
        `channel` says everyone of the workspace may open (never a direct message); the asker's own (`own`, from their memory) also if internal, unless
        they ask in a public channel. `resolved`: the tickets compared with, when read already
        (`record_answer`)."""
        if self.similar is None:
            return None
        try:
            found = await self.similar.find(
                conversation,
                asked,
                public_only=own is None or scope == DocVisibility.PUBLIC,
                among=own,
                resolved=resolved,
                open_to_workspace=channel.open_to_workspace
                if isinstance(channel, KnowsOpenChannels)
                else None,
            )
        except Exception:  # a boundary: a missing link never costs the asker the answer
            log.exception("looking for similar resolved tickets failed", extra=log_context(conversation))
            return None
        return found if found is not None and found.conversation != conversation else None

    async def _watch_for_bursts(
        self, answer_id: int, where: ConversationRef, channel: Channel, asked: Asked
    ) -> None:
        """After the asker has their reply: does this question complete a burst? A failure
        here is the team's alert lost, never the asker's answer."""
        if self.bursts is None:
            return
        try:
            await self.bursts.observe(answer_id, where, channel, asked)
        except Exception:
            log.exception("burst detection failed", extra={"answer_id": answer_id})

    async def revise(
        self,
        message: InboundMessage,
        channel: Channel,
        *,
        language: str,
        scope: DocVisibility,
        on_posted: Callable[[], None] | None = None,
        resume: Posted | None = None,
    ) -> Outcome:
        """The asker edited a question the bot answered: answer the new text, replacing the
        earlier answer in place (one message per question, whatever the edits). Someone
        else's edit, an unchanged text, or a question the bot never answered is left alone.
        `resume`: a replay's post (noted or found), which the record may not name yet (the
        answer said anew for a deleted one, the process killed before the record followed):
        answered in if the record's post is gone."""
        platform = message.conversation.platform
        try:  # nothing is done for the edit until its turn is taken: a failure is tried again
            found = await self.store.run(StateStore.answer_to_message, message.edit_of or "")
            unfinished = found is None and await self.store.run(
                StateStore.event_unfinished, f"{platform}:msg:{message.edit_of}"
            )
        except Exception as exc:
            raise NothingDoneYet("reading the answer an edit revises failed") from exc
        if found is None:
            if unfinished:
                # the question is still being answered (by another worker: this one's edits wait
                # for its own answers): revised once that answer is out
                raise NotYet("the question this edits is still being answered")
            return Outcome.IGNORED  # the bot never answered it (or it went to a person)
        record, posted_id = found
        thread = ConversationRef.from_key(record.conversation)
        text = message.text.strip()
        if record.asker_id != message.author.id or thread.platform != platform:
            return Outcome.IGNORED
        if (
            blank(text)
            or text == record.question.strip()
            or len(text) > self.settings.answer.max_question_chars
        ):
            return Outcome.IGNORED
        # edits of one message take turns across workers, and an older one revises nothing
        edited, made = edited_message(platform, message.edit_of or ""), message.edited_at or message.sent_at
        try:
            turn = await self.store.run(StateStore.take_revision, edited, message.id, made, self.clock.now())
        except Exception as exc:  # a peer holding the row past the lock timeout, a lost connection
            raise NothingDoneYet("taking the edit's turn failed") from exc
        if turn is RevisionTurn.BUSY:
            raise NotYet("another edit of the question is revising its answer")
        if turn is RevisionTurn.OUTDATED:
            log.info(
                "an edit older than one applied already: left",
                extra={**log_context(message.conversation), "message_id": message.id},
            )
            return Outcome.IGNORED
        try:
            return await self._revised(
                message, channel, record, posted_id, language, scope, on_posted, resume
            )
        finally:
            try:
                await self.store.run(StateStore.end_revision, edited, message.id)
            except Exception:  # the turn lapses on its own (REVISION_LEASE): the revision stands
                log.warning(
                    "could not end a revision's turn", exc_info=True, extra={"message_id": message.id}
                )

    async def _revised(
        self,
        message: InboundMessage,
        channel: Channel,
        record: AnswerRecord,
        posted_id: str,
        language: str,
        scope: DocVisibility,
        on_posted: Callable[[], None] | None,
        resume: Posted | None,
    ) -> Outcome:
        """`revise`'s answer, in its turn."""
        thread = ConversationRef.from_key(record.conversation)
        text = message.text.strip()
        await self.recorder.record(message, role="user", conversation=thread)

        async def shown_in(posted: Posted) -> None:
            # the post as it now is (more messages, fewer, or a new one for a deleted one), kept
            # at once: the next edit of the question, or a replay of this one, revises all of it
            await self.store.run(StateStore.set_answer_posted, record.id, posted.message_id)

        # the record's post first (a found one may be only part of it); the replay's if it is gone
        instead = resume if resume is not None and resume.message_id not in ("", posted_id) else None
        return await self.answer(
            question=text,
            language=language,
            asker=message.author,
            conversation=thread,
            scope=scope,
            channel=channel,
            message_id=message.edit_of,
            on_posted=on_posted,
            revising=Posted(message_id=posted_id, conversation=thread),
            instead=instead,
            on_post=shown_in,
            revises=record.id,
        )
