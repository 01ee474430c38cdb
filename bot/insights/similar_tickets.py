"""Similar resolved tickets: the team already answered this once, so say where.

A new question is compared (bot/insights/similarity.py: words and retrieval neighbours)
with the platform's recently resolved tickets. Askers are only ever shown a *public*
ticket (one whose question came from a channel that sees public documents); the staff
card may show any, since staff see every channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot import policy
from bot.insights.similarity import Signature, best_match, signature
from bot.store import AsyncStore, StateStore
from bot.store.tickets import resolved_statement
from bot.types import ConversationRef, DocVisibility, Ticket

RECENT_RESOLVED = 500  # resolved tickets compared with, most recently resolved first

Resolved = list[tuple[Ticket, tuple[str, ...], tuple[float, ...]]]


def recently_resolved(store: StateStore, where: ConversationRef) -> Resolved:
    """What a question asked in `where` is compared with (on the store's thread): the resolved
    tickets of the workspaces `policy.listed_from` it, with their questions' neighbours."""
    return store.resolved_tickets(where.platform, RECENT_RESOLVED, policy.listed_from(where))


def recently_resolved_statement(where: ConversationRef) -> tuple[str, list[Any]]:
    """`recently_resolved`'s read, to send with others (bot/answering/trips.py; `resolved_of`
    reads its rows)."""
    return resolved_statement(where.platform, RECENT_RESOLVED, policy.listed_from(where))


class SimilarTickets:
    def __init__(self, *, store: AsyncStore) -> None:
        self.store = store
        self._signatures: dict[int, Signature] = {}  # by ticket id: a question is analysed once

    async def find(
        self,
        where: ConversationRef,
        question: str,
        neighbours: Sequence[str],
        *,
        scores: Sequence[float] = (),
        public_only: bool,
        exclude: int | None = None,
        among: frozenset[int] | None = None,
        resolved: Resolved | None = None,
    ) -> Ticket | None:
        """The resolved ticket most like `question` (asked in `where`; of the workspaces
        `policy.listed_from` it), if one is similar enough; `among`: only these tickets (a
        person's own, from their opt-in memory). `resolved`: what `recently_resolved` read for
        `where`, when the caller read it already."""
        if resolved is None:
            resolved = await self.store.run(recently_resolved, where)
        candidates = [
            (ticket, near, weights)
            for ticket, near, weights in resolved
            if ticket.id != exclude
            and (among is None or ticket.id in among)
            and (not public_only or ticket.visibility == DocVisibility.PUBLIC)
        ]
        if not candidates:
            return None
        sigs = [self._signature(ticket, near, weights) for ticket, near, weights in candidates]
        match = best_match(signature(question, neighbours, scores=scores), sigs)
        return candidates[match][0] if match is not None else None

    def _signature(self, ticket: Ticket, neighbours: tuple[str, ...], scores: tuple[float, ...]) -> Signature:
        found = self._signatures.get(ticket.id)
        if found is None:
            found = self._signatures[ticket.id] = signature(ticket.question, neighbours, scores=scores)
        return found
