"""Escalation: handing a question to people, and seeing it through.

The package is split by concern; each module says what it owns:

- `routing`: who is tagged for a ticket (tags, channel, platform, second tier, business
  hours and on-call), as pure functions of the settings.
- `cards`: what the triage card and the thread note say, and keeping every copy current.
- `opening`: opening a ticket, once per thread, however many escalations race.
- `tickets`: the lifecycle (claim, resolve, close, reopen, reassign, rating, takeover) and
  `Escalations`, the one object the core talks to.
- `ratings`: asking the asker to rate a resolved ticket, once, and recording the rating.
- `sla`: the clock: deadlines in working minutes, reminders, second tier, assignee reminder.
- `learning`: what staff wrote becomes a knowledge draft, and an approved draft a file.
- `values`: the frozen values and enums they share (`TicketRequest`, `Context`, ...).

Adapters only render what this package decides. Everything other modules import is
re-exported here, so `from bot.escalation import ...` does not depend on the layout.
"""

from bot.escalation.cards import TicketPosts, age, card, sla_state, status_line, thread_note, ticket_line
from bot.escalation.learning import LEARNED_FOLDER, draft_from, render_entry, write_entry
from bot.escalation.opening import TicketOpener
from bot.escalation.routing import FirstPing, business_hours, first_ping, staff_mentions
from bot.escalation.sla import SlaClock
from bot.escalation.tickets import Escalations
from bot.escalation.values import (
    ACTIVE,
    Context,
    Drafted,
    DraftStatus,
    MessageRole,
    PostKind,
    TicketRating,
    TicketRequest,
    TransitionResult,
)

__all__ = [
    "ACTIVE",
    "LEARNED_FOLDER",
    "Context",
    "DraftStatus",
    "Drafted",
    "Escalations",
    "FirstPing",
    "MessageRole",
    "PostKind",
    "SlaClock",
    "TicketOpener",
    "TicketPosts",
    "TicketRating",
    "TicketRequest",
    "TransitionResult",
    "age",
    "business_hours",
    "card",
    "draft_from",
    "first_ping",
    "render_entry",
    "sla_state",
    "staff_mentions",
    "status_line",
    "thread_note",
    "ticket_line",
    "write_entry",
]
