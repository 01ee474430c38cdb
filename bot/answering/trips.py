"""What answering one question reads and writes on the store's thread, grouped into trips.

Each hop to the store's thread (bot/store/lanes.py) wakes that thread and then the event
loop: about 30 us of CPU however little the call does, more than most of the reads here. So
the reads and writes an answer always makes together go in one trip: the thread's history
with the asker's memory, and the answer's record with what the reply is compared with (open
incidents, resolved tickets). On PostgreSQL each of these is one round trip too. These
functions run on the store's thread (`AsyncStore.run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.insights.incidents import open_incidents_statement
from bot.insights.similar_tickets import Resolved, recently_resolved_statement
from bot.insights.similarity import NEIGHBOURS
from bot.store import StateStore
from bot.store.answers import answer_statement, release_statement, revised_statement
from bot.store.conversations import history_statement, history_turns
from bot.store.incidents import IncidentRecord
from bot.store.incidents import incidents_of as read_incidents
from bot.store.people import memory_of, memory_statement
from bot.store.rows import read_together, together
from bot.store.tickets import resolved_of as read_resolved
from bot.types import Answer, AnswerFields, ConversationRef, InboundMessage, SearchResult, Turn

HISTORY_TURNS = 12  # the thread's last messages an answer may draw on


def answer_fields(
    answer: Answer,
    result: SearchResult,
    *,
    ref: ConversationRef,
    message_id: str | None,
    asker_id: str | None,
    question: str,
    abstained: bool,
    at: datetime,
) -> AnswerFields:
    """What an answer's record keeps (the answer, what it was drawn from, the passages retrieval
    ranked first with their scores and the next one's, which bursts and gaps compare), named
    once for the answers posted and the drafts staff review."""
    return AnswerFields(
        ref=ref,
        message_id=message_id,
        asker_id=asker_id,
        question=question,
        answer=answer.text,
        confidence=answer.confidence,
        language=answer.language,
        answerer=answer.answerer,
        abstained=abstained,
        sources=answer.citations,
        top_path=result.passages[0].path if result.passages else None,
        at=at,
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
        neighbours=[p.chunk_id for p in result.passages[:NEIGHBOURS]],
        scores=[p.score for p in result.passages[: NEIGHBOURS + 1]],
    )


def history_and_memory(
    store: StateStore,
    conversation: ConversationRef,
    answers_to: str | None,
    asker_id: str,
    question: Kept | None = None,
) -> tuple[list[Turn], tuple[bool, list[dict[str, str]]]]:
    """The two reads every answer starts with (asker_view's history, People.recall's memory), in
    one trip to the store's thread instead of two, and on PostgreSQL one round trip. With
    `question`, the question is kept in `conversation` first, as Recorder.record keeps an
    asker's message, in the same trip (on PostgreSQL in the same round trip, the reads after
    the write and seeing it)."""
    reads = [
        history_statement(conversation, HISTORY_TURNS, answers_to),
        memory_statement(conversation.platform, asker_id),
    ]
    if question is None:
        history, memory = read_together(store.db, reads)
    else:
        message = question.message
        history, memory = store.record_message(
            conversation,
            role="user",
            text=message.text,
            at=message.sent_at,
            now=question.now,
            author=message.author,
            platform_id=message.id,
            asker_id=message.author.id,
            # a thread the bot answers in is its own from now, not from when the answer is up:
            # a follow-up asked while the answer is written needs no mention either
            bot_participating=True if conversation.thread is not None else None,
            then_read=reads,
        )
    return history_turns(history), memory_of(memory)


@dataclass(frozen=True, slots=True)
class Kept:
    """A question to keep in its thread with the reads that start its answer."""

    message: InboundMessage
    now: datetime


@dataclass(frozen=True, slots=True)
class Recorded:
    """An answer's record, with what `record_answer` read beside it."""

    answer_id: int
    open_incidents: list[IncidentRecord]  # empty when incidents are not watched
    resolved: Resolved | None  # None: not read (an abstention, no similar tickets, or it failed)


@dataclass(frozen=True, slots=True)
class EventAnswer:
    """The record of an answer given for an inbox event (bot/inbox.py), made on the store's
    thread: it states that the event is still held (bot/store/inbox.py `held_here`), so an
    answer to a message whose author was forgotten meanwhile, or that another worker took
    over, records nothing."""

    event: str
    fields: AnswerFields


def record_answer(
    store: StateStore,
    record: tuple[str, list[Any]] | EventAnswer,
    incidents_of: ConversationRef | None,
    resolved_of: ConversationRef | None,
    reservation: int | None = None,
    revises: int | None = None,
) -> Recorded | None:
    """The answer's record (`record`: bot/store/answers.py `answer_statement`, or an event's
    answer to make it of; None when that event is no longer held: nothing recorded) and what the
    reply is then compared with: with `incidents_of` the open incidents, with `resolved_of` the
    resolved tickets (both the answer's conversation). One trip to the store's thread instead
    of three, and on PostgreSQL one round trip (`together`: the reads are in the record's
    transaction, so a read the server refuses costs the record too, as any failure of the
    trip would). The tickets are a boundary, as in `Responder._similar_resolved`: rows that
    cannot be read leave them to that call (which reads again and logs), never cost the answer.
    With `reservation`, the model answer reserved for the question is released in the same
    transaction (bot/store/answers.py `reserve_model_answer`): the answer counts from then on.
    With `revises` (the answer to the question before the asker edited it), that one is marked
    replaced in the same transaction: counted once, as one question."""
    if isinstance(record, EventAnswer):
        held = store.held_here(record.event)
        record = answer_statement(event=record.event, only_if=held, **record.fields)
    statements = [record]
    if reservation is not None:
        statements.append(release_statement(reservation))
    if revises is not None:
        statements.append(revised_statement(revises))
    reads = len(statements)
    if incidents_of is not None:
        statements.append(open_incidents_statement(incidents_of))
    if resolved_of is not None:
        statements.append(recently_resolved_statement(resolved_of))
    results = together(store.db, statements)
    if not results[0].rows:
        return None
    answer_id = int(results[0].rows[0][0])
    incidents = read_incidents(results[reads].dicts()) if incidents_of is not None else []
    resolved = None
    if resolved_of is not None:
        try:
            resolved = read_resolved(results[-1].dicts())
        except Exception:  # read again (and reported) by SimilarTickets.find
            resolved = None
    return Recorded(answer_id, incidents, resolved)
