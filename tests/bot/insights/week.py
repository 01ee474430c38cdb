"""A scripted week of support in a real state store, for the metrics and report tests.

Business hours are Mon-Fri 09:00-18:00 UTC; the week runs from Monday 2026-11-30 to the
report's moment, Monday 2026-12-07 12:00. What each question leads to (and so the exact
figures the tests expect) is written beside it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from bot.hours import BusinessHours
from bot.insights.metrics import Definitions, Period
from bot.store import StateStore
from bot.types import Author, Completion, ConversationRef, EscalationReason, Posted, TicketStatus

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # Monday noon: the report runs now
WEEK = Period(since=datetime(2026, 11, 30, tzinfo=UTC), until=NOW)
DEFINITIONS = Definitions(
    assume_after=timedelta(hours=24),
    hours=BusinessHours.parse("09:00-18:00", ("mon", "tue", "wed", "thu", "fri"), "UTC"),
)
STAFF = Author(id="S1", name="Sam")
_ids = count(1)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """`day` of Nov/Dec 2026 (30 = Monday 30 November, 1..7 = December)."""
    return datetime(2026, 11 if day == 30 or day == 29 else 12, day, hour, minute, tzinfo=UTC)


def thread(platform: str = "slack", channel: str = "C1") -> ConversationRef:
    workspace = "T1" if platform == "slack" else "G1"
    return ConversationRef(platform=platform, workspace=workspace, channel=channel, thread=str(next(_ids)))


def ask(
    store: StateStore,
    ref: ConversationRef,
    asker: str,
    when: datetime,
    *,
    answered: bool = True,
    language: str = "en",
    question: str = "How do I reset my password?",
) -> int:
    """The asker's message, then 2 s later the bot's answer (or abstention) at `when`."""
    message_id = f"m{next(_ids)}"
    store.record_message(
        ref,
        role="user",
        text=question,
        at=when - timedelta(seconds=2),
        now=when,
        author=Author(id=asker),
        platform_id=message_id,
        asker_id=asker,
    )
    answer_id = store.record_answer(
        ref=ref,
        message_id=message_id,
        asker_id=asker,
        question=question,
        answer="" if not answered else "Open the login page and click Forgot password.",
        confidence=0.9 if answered else 0.1,
        language=language,
        answerer="extractive",
        abstained=not answered,
        sources=[],
        top_path=None,
        at=when,
    )
    if answered:
        posted = Posted(message_id=f"b{next(_ids)}", conversation=ref)
        store.complete_answer(
            Completion(answer_id=answer_id, posted=posted, text="Open the login page.", at=when)
        )
    return answer_id


def say(store: StateStore, ref: ConversationRef, author: str, text: str, when: datetime) -> None:
    store.add_message(
        ref, role="user", text=text, at=when, author=Author(id=author), platform_id=f"m{next(_ids)}"
    )


def escalate(
    store: StateStore,
    ref: ConversationRef,
    asker: str,
    when: datetime,
    reason: EscalationReason,
    answer_id: int | None = None,
) -> int:
    ticket, _ = store.create_ticket(
        ref=ref, asker=Author(id=asker), question="help", reason=reason, at=when, answer_id=answer_id
    )
    return ticket.id


def script_week(store: StateStore) -> None:
    # before the period: not counted
    q0 = ask(store, thread(), "U1", at(29, 10))
    store.add_feedback(q0, "U1", "helpful", at(29, 10, 5))

    # confirmed 1: the asker clicked Helpful (someone else's Not helpful changes nothing)
    q1 = ask(store, thread(), "U1", at(30, 10))
    store.add_feedback(q1, "U1", "helpful", at(30, 10, 5))
    store.add_feedback(q1, "U9", "not_helpful", at(30, 10, 6))
    # confirmed 2: Solved on the "Did this solve it?" follow-up, a day later
    q2 = ask(store, thread(), "U2", at(30, 11))
    store.add_feedback(q2, "U2", "solved", at(1, 11))
    # confirmed 3 and 4: thanked and left (English; Korean, on Discord)
    t3 = thread()
    ask(store, t3, "U3", at(1, 10))
    say(store, t3, "U3", "thanks!", at(1, 10, 3))
    t4 = thread("discord", "D1")
    ask(store, t4, "U4", at(1, 11), language="ko", question="비밀번호는 어떻게 바꾸나요?")
    say(store, t4, "U4", "감사합니다", at(1, 11, 2))

    # assumed: only "ok" from the asker, and Helpful from someone else; more than 24 h ago
    t5 = thread()
    q5 = ask(store, t5, "U1", at(2, 10))
    say(store, t5, "U1", "ok", at(2, 10, 1))
    store.add_feedback(q5, "U9", "helpful", at(2, 10, 2))

    # unresolved: a follow-up within the window; thanked, then asked again
    t6 = thread()
    ask(store, t6, "U5", at(2, 11))
    say(store, t6, "U5", "That did not work, the page says 404", at(2, 11, 30))
    t10 = thread()
    ask(store, t10, "U3", at(3, 15))
    say(store, t10, "U3", "thanks", at(3, 15, 1))
    say(store, t10, "U3", "one more thing: how do I export my data?", at(3, 15, 10))

    # answered, then escalated: Not helpful opened a ticket (never a resolution)
    t7 = thread()
    q7 = ask(store, t7, "U6", at(3, 10))
    store.add_feedback(q7, "U6", "not_helpful", at(3, 10, 10))
    escalate(store, t7, "U6", at(3, 10, 10), EscalationReason.NOT_HELPFUL, q7)

    # abstained on Friday 17:50; staff reply Monday 09:20 (30 business minutes across the
    # weekend), resolved Monday 10:00 (70), rated good
    t8 = thread()
    q8 = ask(store, t8, "U7", at(4, 17, 50), answered=False)
    ticket = escalate(store, t8, "U7", at(4, 17, 50), EscalationReason.LOW_CONFIDENCE, q8)
    store.add_message(t8, role="staff", text="Looking at it now", at=at(7, 9, 20), author=STAFF)
    store.set_ticket_fields(ticket, last_staff_reply_at=at(7, 9, 20))
    store.transition_ticket(
        ticket,
        to=TicketStatus.RESOLVED,
        allowed_from=(TicketStatus.OPEN, TicketStatus.CLAIMED),
        actor=STAFF,
        at=at(7, 10),
        fields={"resolved_at": at(7, 10)},
    )
    store.rate_ticket(ticket, "good", "U7", at(7, 10, 5))

    # a direct hand-off on Saturday: asked for a person before any answer (a question too)
    t11 = thread()
    say(store, t11, "U10", "I need to talk to a human", at(5, 10))
    escalate(store, t11, "U10", at(5, 10), EscalationReason.ASKED_FOR_HUMAN)

    # pending: answered an hour ago; the asker's Helpful comes after the report's moment
    q9 = ask(store, thread(), "U8", at(7, 11))
    store.add_feedback(q9, "U8", "helpful", NOW + timedelta(hours=1))
