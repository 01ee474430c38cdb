"""The escalation package's vocabulary: the frozen values and enums its modules hand each
other and the core, kept apart so routing, cards, tickets and the SLA clock can share them
without importing one another."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.types import (
    Author,
    ConversationRef,
    DocVisibility,
    EscalationReason,
    Posted,
    Ticket,
    TicketStatus,
)

if TYPE_CHECKING:
    from bot.store import AnswerRecord

# the statuses in which a ticket still needs staff (and its SLA clock runs)
ACTIVE = (TicketStatus.OPEN, TicketStatus.CLAIMED)


class TicketRating(StrEnum):
    """What the asker thought of the help, as stored in tickets.rating."""

    GOOD = "good"
    BAD = "bad"


class PostKind(StrEnum):
    """The messages that show a ticket (ticket_posts.kind), each rendered its own way."""

    THREAD = "thread"  # the escalation note in the asker's thread
    CARD = "card"  # the card in the triage channel


class DraftStatus(StrEnum):
    """Where a knowledge draft is in review (drafts.status)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Drafted(StrEnum):
    """What the learning loop did with what staff wrote on a ticket (`draft_from`)."""

    NEW = "new"  # a draft was made of it
    REFRESHED = "refreshed"  # the ticket's pending draft was brought up to date with it
    UNCHANGED = "unchanged"  # the pending draft holds all of it already
    KEPT = "kept"  # a person edited the pending draft's answer: left as they saved it


class MessageRole(StrEnum):
    """Who wrote a recorded message (messages.role, `Turn.role`)."""

    USER = "user"
    BOT = "bot"
    STAFF = "staff"


@dataclass(frozen=True, kw_only=True)
class Context:
    """What staff should see about a ticket besides the question: the bot's attempt."""

    answer: str | None = None
    sources: tuple[str, ...] = ()
    summary: str | None = None  # written by the model, when one is configured

    @classmethod
    def of_answer(cls, record: AnswerRecord) -> Context:
        """What the bot answered, for a ticket opened about that answer."""
        return cls(answer=record.answer, sources=tuple(c.path for c in record.sources))


@dataclass(frozen=True, kw_only=True)
class TicketRequest:
    """Someone needs a person: everything needed to open a ticket (or to find the one
    already open in the thread) and to tell the asker. Built once by the caller and handed
    along whole, so the opening steps cannot drop or mix up an argument."""

    conversation: ConversationRef
    asker: Author
    question: str
    reason: EscalationReason
    language: str
    lead: str = ""  # said before the escalation note, e.g. why the bot is handing over
    answer_id: int | None = None  # the bot's answer that led here, if any
    in_reply_to: str | None = None  # the platform id of the message the note answers
    # the post the lead was already said in (a streamed abstention, an apology that replaced a
    # half-written answer): the note is edited into it rather than posted beside it
    said_in: Posted | None = None
    visibility: DocVisibility = DocVisibility.INTERNAL  # a learned answer inherits it
    tags: tuple[str, ...] = ()  # of the best-matching document: they pick the staff to tag
    context: Context | None = None
    # asked by a button (the asker's "talk to a person"): a press that finds the ticket already
    # announced (a double click, a later press) is answered to the presser alone, not the thread
    pressed: bool = False
    # the inbox event of the message it is opened for: opened only while that event is held
    # (bot/store/inbox.py `held_here`), so no ticket quotes an asker forgotten meanwhile
    event: str | None = None


@dataclass(frozen=True, kw_only=True)
class TransitionResult:
    changed: bool
    ticket: Ticket | None
    message: str  # what to tell the person who asked for the transition
    told: bool = True  # the thread was told of the change (a button's presser hears nothing else)
