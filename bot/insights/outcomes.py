"""What became of each question: the row-level half of knowledge/insights.md's definitions.

It owns the outcome of one question as of a moment (confirmed, assumed, pending, unresolved,
escalated, abstained) and the rules behind it: whose messages and tickets belong to which
answer, which message is a thank-you, a plain "ok" or a follow-up, and the window after which
silence counts as an assumed resolution. bot/insights/metrics.py counts the outcomes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from bot import policy
from bot.store.metrics import SHORT_MESSAGE_CHARS, AskerMessageRow, QuestionRow, TicketRow
from bot.store.store import iso


class Outcome(StrEnum):
    """What became of one question; the answered ones end in exactly one of the first five."""

    CONFIRMED = "confirmed"  # the asker said so: Helpful, Solved, or thanked and left
    ASSUMED = "assumed"  # nothing went wrong within assume_after_hours
    PENDING = "pending"  # too young to assume anything
    UNRESOLVED = "unresolved"  # Not helpful / Still stuck, or a follow-up within the window
    ESCALATED = "escalated"  # answered, then handed to people: never a resolution
    ABSTAINED = "abstained"  # the bot did not answer: handed to people at once


class Verdict(StrEnum):
    HELPFUL = "helpful"
    NOT_HELPFUL = "not_helpful"
    SOLVED = "solved"
    STILL_STUCK = "still_stuck"


POSITIVE = frozenset({Verdict.HELPFUL, Verdict.SOLVED})
NEGATIVE = frozenset({Verdict.NOT_HELPFUL, Verdict.STILL_STUCK})


# (thread, asker) -> their answers there as (created_at, index), by time; nearly always one
Threads = dict[tuple[str, str | None], list[tuple[str, int]]]


def answers_by_thread(questions: Sequence[QuestionRow], since: Sequence[str] | None = None) -> Threads:
    """Each asker's answers in each thread, by time: whose a later message or ticket is. Each
    is there from `since` (by index), by default from its question's first answer (`owns_from`)."""
    latest: Threads = {}
    for i, row in enumerate(questions):
        key = (row.conversation, row.asker_id)
        at = owns_from(row) if since is None else since[i]
        found = latest.get(key)
        if found is None:
            latest[key] = [(at, i)]
        else:
            found.append((at, i))
            found.sort()
    return latest


def owns_from(row: QuestionRow) -> str:
    """When a question's answer took its thread: an edited question's first answer's moment
    (the asker asked for a person, then fixed a typo: the hand-off is this question's)."""
    return row.revised_at[0] if row.revised_at else row.created_at


def owner(latest: Threads, conversation: str, author: str | None, at: str) -> int | None:
    """The index of the asker's latest answer in the thread before `at`, if any."""
    found = latest.get((conversation, author))
    if found is None or found[0][0] >= at:
        return None  # most messages: the question itself, before its answer
    if len(found) == 1:
        return found[0][1]
    position = bisect_left(found, (at,))  # answers strictly before `at`
    return found[position - 1][1]


def owned_messages(latest: Threads, messages: Iterable[AskerMessageRow]) -> Iterator[tuple[int, str, Kind]]:
    """(answer index, moment, kind) of each asker message that follows one of their answers
    in its thread; short texts repeat ("thanks!", "ok"), so each is classified once."""
    kinds: dict[str | None, Kind] = {}
    lookup = latest.get
    for conversation, author, at, _, text in messages:
        # owner() inlined: this runs once per message of a report's period
        found = lookup((conversation, author))
        if found is None or found[0][0] >= at:
            continue
        answer = found[0][1] if len(found) == 1 else found[bisect_left(found, (at,)) - 1][1]
        kind = kinds.get(text)
        if kind is None:
            kind = kinds[text] = kind_of(text)
        yield answer, at, kind


class Kind(StrEnum):
    CONFIRMS = "confirms"  # a thank-you, or "that fixed it"
    NEUTRAL = "neutral"  # "ok", "got it": neither
    FOLLOW_UP = "follow_up"  # anything else: the answer was not the end of it


def kind_of(text: str | None) -> Kind:
    if text is None or len(text) > SHORT_MESSAGE_CHARS:
        return Kind.FOLLOW_UP
    if policy.is_thanks(text) or policy.says_all_set(text):
        return Kind.CONFIRMS
    if policy.is_acknowledgement(text):
        return Kind.NEUTRAL
    return Kind.FOLLOW_UP


def outcomes(
    questions: Sequence[QuestionRow],
    messages: Iterable[AskerMessageRow],
    tickets: Iterable[TicketRow],
    *,
    end: datetime,
    assume_after: timedelta,
) -> list[Outcome]:
    """What became of each question, as of `end`, in the order given.

    A later message of the asker's, or a ticket without an answer id, belongs to the asker's
    latest answer in that thread before it."""
    latest = answers_by_thread(questions)

    thanked: set[int] = set()
    followed_up: set[int] = set()
    for answer, at, kind in owned_messages(latest, messages):
        if kind == Kind.CONFIRMS:
            thanked.add(answer)
        elif kind == Kind.FOLLOW_UP and at < iso(
            datetime.fromisoformat(questions[answer].created_at) + assume_after
        ):
            followed_up.add(answer)
    by_id = {row.id: i for i, row in enumerate(questions)}
    escalated: set[int] = set()
    for ticket in tickets:
        if ticket.answer_id is not None:
            to = by_id.get(ticket.answer_id)
        else:
            to = owner(latest, ticket.conversation, ticket.asker_id, ticket.created_at)
        if to is not None:
            escalated.add(to)
    settled_before = iso(end - assume_after)  # answers created before this are old enough
    result: list[Outcome] = []
    append = result.append
    for i, row in enumerate(questions):
        verdict = row.verdict
        if row.abstained:
            append(Outcome.ABSTAINED)
        elif i in escalated:
            append(Outcome.ESCALATED)
        elif verdict in NEGATIVE:
            append(Outcome.UNRESOLVED)
        elif verdict in POSITIVE:
            append(Outcome.CONFIRMED)
        elif i in followed_up:
            append(Outcome.UNRESOLVED)
        elif i in thanked:
            append(Outcome.CONFIRMED)
        elif row.created_at <= settled_before:
            append(Outcome.ASSUMED)
        else:
            append(Outcome.PENDING)
    return result
