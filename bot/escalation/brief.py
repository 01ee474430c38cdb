"""The hand-off brief: what staff need to pick a ticket up without reading the whole thread.

Every triage card starts with it: the question on one line, what the bot tried (its answer,
or why it handed over), the top three sources, where the question came from (platform,
channel, language), the asker's previous tickets and a similar resolved one. Built offline
from what the store holds, and never longer than BRIEF_LIMIT characters. Pure: the caller
looks up the tickets and redacts nothing twice (the card redacts what people wrote).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.escalation.routing import direct_message
from bot.escalation.values import Context
from bot.text import single_line
from bot.types import EscalationReason, Ticket

BRIEF_LIMIT = 1500  # characters: a card is read at a glance
WHY = {
    EscalationReason.LOW_CONFIDENCE: "no passage answered it confidently, so it did not guess",
    EscalationReason.ASKED_FOR_HUMAN: "the asker asked for a person",
    EscalationReason.NOT_HELPFUL: "its answer was marked not helpful",
    EscalationReason.UNANSWERED_FOLLOWUPS: "it could not answer the follow-up questions",
    EscalationReason.ERROR: "it failed while answering",
    EscalationReason.ADMIN: "an admin escalated it",
}


def _ago(delta: timedelta) -> str:
    days = delta.days
    if days >= 1:
        return f"{days}d ago"
    hours = int(delta.total_seconds() // 3600)
    return f"{hours}h ago" if hours else "just now"


def brief(
    ticket: Ticket,
    context: Context | None,
    *,
    previous: Sequence[Ticket],
    similar: Ticket | None,
    now: datetime,
) -> list[str]:
    """The brief's lines (Markdown), most important first, within BRIEF_LIMIT characters."""
    answer = context.answer if context is not None else None
    tried = (
        f'answered "{single_line(answer, 300)}", then {WHY[ticket.reason]}' if answer else WHY[ticket.reason]
    )
    where = ticket.conversation
    lines = [
        *(
            [f"**Summary (model):** {single_line(context.summary, 600)}"]
            if context is not None and context.summary
            else []
        ),
        f"**Question:** {single_line(ticket.question, 200)}",
        f"**The bot:** {tried}",
    ]
    if context is not None and context.sources:
        lines.append("**Sources:** " + ", ".join(context.sources[:3]))
    # a direct message with the bot is no place staff can open or write in
    place = "a direct message: contact the asker directly" if direct_message(where) else f"#{where.channel}"
    lines.append(f"**From:** {where.platform} {place} · language {ticket.language}")
    if previous:
        shown = "; ".join(
            f"#{t.id} {t.status} {_ago(now - t.created_at)}: {single_line(t.question, 60)}"
            for t in previous[:3]
        )
        lines.append(f"**Previous tickets:** {shown}")
    else:
        lines.append("**Previous tickets:** none (first ticket)")
    if similar is not None and similar.resolved_at is not None:
        lines.append(
            f"**Similar, resolved:** #{similar.id} {_ago(now - similar.resolved_at)}: {single_line(similar.question, 80)}"
        )
    return _fit(lines)


def _fit(lines: list[str]) -> list[str]:
    """Drop from the end (least important) until the brief fits."""
    while len("\n".join(lines)) > BRIEF_LIMIT and len(lines) > 1:
        lines.pop()
    if len(lines[0]) > BRIEF_LIMIT:
        lines[0] = lines[0][: BRIEF_LIMIT - 3] + "..."
    return lines
