"""Similar resolved tickets: the team already answered this once, so say where.

A new question is compared (bot/insights/similarity.py: words and retrieval neighbours)
with the platform's recently resolved tickets. The staff card may show any, since staff see
every channel. Askers are shown their own tickets (from their opt-in memory), and of anyone
else's only one they could open: a *public* ticket (one whose question came from a channel that
sees public documents) in a channel everyone of the workspace may open. Never a direct message,
whose document scope is public for a guest or under `dm_visibility = "public"` but which only
its asker reads; nor a guest's private channel or group DM, public to them as well; nor a
channel shared with another organisation (a Slack Connect channel, whose scope is public too),
one customer's conversation being no place to send another. The platform says which channels
are open (`bot.ports.KnowsOpenChannels`).

The resolved tickets a place compares with are kept between questions instead of read for
each (reading and decoding RECENT_RESOLVED tickets took 20 ms on the store's one thread, so a
team with a few months of resolved tickets capped the bot near 50 answers a second). They
are read again once RESOLVED_FRESH_SECONDS have passed, or as soon as this process changes a
ticket (`TicketRepository.ticket_changes`: a move, a field, forget-me). A ticket resolved by
another process is therefore suggested up to RESOLVED_FRESH_SECONDS late, never wrongly: a
kept ticket that is matched is read again before it is suggested, so one reopened, emptied by
forget-me or retention, or made internal since is never shown. Stale entries are dropped, so
a place nobody asks in holds none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import policy
from bot.channel_types import is_direct
from bot.insights.similarity import Asked, Postings, Signature, best_match, signature
from bot.ports import Clock
from bot.store import AsyncStore, StateStore
from bot.store.tickets import resolved_statement
from bot.types import ConversationRef, DocVisibility, Ticket, TicketStatus

RECENT_RESOLVED = 500  # resolved tickets compared with, most recently resolved first
# how long a place's resolved tickets are kept before they are read again: how late a ticket
# another process resolved can be suggested here
RESOLVED_FRESH_SECONDS = 10.0

# how many channels of matches a suggestion to an asker asks the platform about (each may be a
# call): where most resolved tickets are in channels not open to the whole workspace, an
# answer goes without a link rather than wait for channel after channel
CHANNEL_LOOKS = 3

Resolved = list[tuple[Ticket, tuple[str, ...], tuple[float, ...]]]
# whether everyone of the workspace may open a conversation's channel (`KnowsOpenChannels`)
OpenToWorkspace = Callable[[ConversationRef], Awaitable[bool]]


def recently_resolved(store: StateStore, where: ConversationRef) -> Resolved:
    """What a question asked in `where` is compared with (on the store's thread): the resolved
    tickets of the workspaces `policy.listed_from` it, with their questions' neighbours."""
    return store.resolved_tickets(where.platform, RECENT_RESOLVED, policy.listed_from(where))


def recently_resolved_statement(where: ConversationRef) -> tuple[str, list[Any]]:
    """`recently_resolved`'s read, to send with others (bot/answering/trips.py; `resolved_of`
    reads its rows)."""
    return resolved_statement(where.platform, RECENT_RESOLVED, policy.listed_from(where))


Listing = tuple[str, frozenset[str]]  # a platform and the workspaces listed from a conversation


def _place(where: ConversationRef) -> Listing:
    return where.platform, policy.listed_from(where)


@dataclass(frozen=True, slots=True)
class Stamp:
    """When a read of resolved tickets began: the store's count of ticket changes made here
    (`TicketRepository.ticket_changes`) and the time, both taken before the read, so a change
    made while it runs makes the next question read again."""

    changes: int
    at: datetime


@dataclass(slots=True)
class _Kept:
    resolved: Resolved
    stamp: Stamp
    postings: Postings | None = None  # over the tickets' signatures, made when first compared


class SimilarTickets:
    def __init__(self, *, store: AsyncStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._signatures: dict[int, Signature] = {}  # by ticket id: a question is analysed once
        self._kept: dict[Listing, _Kept] = {}

    @property
    def places_kept(self) -> int:
        """How many places' resolved tickets are kept (a count, not a length: a keeper that
        keeps nothing yet must still be truthy where it is passed around)."""
        return len(self._kept)

    def due(self, where: ConversationRef) -> Stamp | None:
        """None when the resolved tickets kept for `where` are fresh; otherwise they are to be
        read, and this is the stamp to `keep` them with."""
        kept = self._kept.get(_place(where))
        if kept is not None and self._fresh(kept.stamp):
            return None
        return Stamp(self.store.store.ticket_changes, self.clock.now())

    def keep(self, where: ConversationRef, resolved: Resolved, stamp: Stamp) -> Resolved:
        """Keep what was read for `where` (`due` gave `stamp`); returns it. What is no longer
        fresh goes: it is never used again (the next question there reads anew), and the
        tickets of a place nobody asks in, forgotten people's among them, are not held."""
        self._kept = {place: kept for place, kept in self._kept.items() if self._fresh(kept.stamp)}
        self._kept[_place(where)] = _Kept(resolved, stamp)
        live = sum(len(kept.resolved) for kept in self._kept.values())
        if len(self._signatures) > 2 * max(live, RECENT_RESOLVED):
            # tickets no longer among any kept place's recent ones need no signature
            ids = {ticket.id for kept in self._kept.values() for ticket, _, _ in kept.resolved}
            self._signatures = {k: v for k, v in self._signatures.items() if k in ids}
        return resolved

    def _fresh(self, stamp: Stamp) -> bool:
        return stamp.changes == self.store.store.ticket_changes and self.clock.now() - stamp.at < timedelta(
            seconds=RESOLVED_FRESH_SECONDS
        )

    async def find(
        self,
        where: ConversationRef,
        asked: Asked,
        *,
        public_only: bool,
        exclude: int | None = None,
        among: frozenset[int] | None = None,
        resolved: Resolved | None = None,
        open_to_workspace: OpenToWorkspace | None = None,
    ) -> Ticket | None:
        """The resolved ticket most like the question `asked` (in `where`; of the workspaces
        `policy.listed_from` it), if one is similar enough; `among`: only these tickets (a
        person's own, from their opt-in memory). `resolved`: what `recently_resolved` read for
        `where` just now, when the caller read it already. `public_only`: for an asker; then
        anyone's ticket (`among` None) only in a channel everyone of the workspace may open,
        which `open_to_workspace` says of the channels that are not direct messages."""
        shut: frozenset[str] = frozenset()
        while True:
            found = await self._find(where, asked, public_only, exclude, among, resolved, shut)
            if found is None or not _for_anyone(public_only, among) or open_to_workspace is None:
                return found
            there = found.conversation
            if there.channel_key == where.channel_key or await open_to_workspace(there):
                return found  # the asker's own channel is theirs to open
            # a private channel, or another organisation's: none of its tickets is this asker's
            shut |= {there.channel}
            if len(shut) >= CHANNEL_LOOKS:
                return None

    async def _find(
        self,
        where: ConversationRef,
        asked: Asked,
        public_only: bool,
        exclude: int | None,
        among: frozenset[int] | None,
        resolved: Resolved | None,
        shut: frozenset[str],
    ) -> Ticket | None:
        """`find`, past the channels in `shut`, without asking the platform about the match."""
        read_now = resolved is not None
        kept = self._kept.get(_place(where))
        if resolved is None:
            stamp = self.due(where)
            if stamp is None:
                assert kept is not None  # `due` calls only what is kept fresh
                resolved = kept.resolved
            else:
                resolved = self.keep(where, await self.store.run(recently_resolved, where), stamp)
                kept = self._kept[_place(where)]
                read_now = True
        if kept is None or kept.resolved is not resolved:
            kept = _Kept(resolved, Stamp(-1, self.clock.now()))  # a caller's own read, not kept here
        found = self._best(kept, asked, public_only, exclude, among, shut)
        if found is None or read_now:
            return found
        # kept from an earlier read: another process may have reopened it, forgotten its asker
        # or made it internal since. Read it again; if it changed, read the place again
        current = await self.store.run(StateStore.ticket, found.id)
        if current is not None and _still_shown(current, found, public_only, among):
            return current
        self._kept.pop(_place(where), None)
        return await self._find(where, asked, public_only, exclude, among, None, shut)

    def _best(
        self,
        kept: _Kept,
        question: Asked,
        public_only: bool,
        exclude: int | None,
        among: frozenset[int] | None,
        shut: frozenset[str],
    ) -> Ticket | None:
        if not kept.resolved:
            return None  # a team with no resolved tickets yet: nothing to analyse the question for
        if kept.postings is None:
            kept.postings = Postings([self._signature(*entry) for entry in kept.resolved])
        asked = question.signature()  # made once for the answer: the burst watch uses it too
        # only the tickets sharing a term or a passage with the question can be similar to it
        candidates = [
            i
            for i in kept.postings.near(asked)
            if (ticket := kept.resolved[i][0]).id != exclude
            and (among is None or ticket.id in among)
            and _may_show(ticket, public_only, among)
            and ticket.conversation.channel not in shut
        ]
        match = best_match(asked, [kept.postings.signatures[i] for i in candidates])
        return kept.resolved[candidates[match]][0] if match is not None else None

    def _signature(self, ticket: Ticket, neighbours: tuple[str, ...], scores: tuple[float, ...]) -> Signature:
        found = self._signatures.get(ticket.id)
        if found is None:
            found = self._signatures[ticket.id] = signature(ticket.question, neighbours, scores=scores)
        return found


def _for_anyone(public_only: bool, among: frozenset[int] | None) -> bool:
    """Whether a suggestion is shown to an asker and may be anyone's ticket, not their own."""
    return public_only and among is None


def _may_show(ticket: Ticket, public_only: bool, among: frozenset[int] | None) -> bool:
    """Whether `ticket` may be suggested as `find` was asked (the module docstring says to
    whom). Its document scope alone would let a guest's direct message through: public
    precisely because a guest asked it."""
    if not public_only:
        return True
    if ticket.visibility != DocVisibility.PUBLIC:
        return False
    where = ticket.conversation
    return not _for_anyone(public_only, among) or not is_direct(
        where.platform, where.workspace, where.channel
    )


def _still_shown(current: Ticket, kept: Ticket, public_only: bool, among: frozenset[int] | None) -> bool:
    """Whether a ticket read again may still be suggested as it was matched when kept."""
    return (
        current.status == TicketStatus.RESOLVED
        and current.question == kept.question
        and _may_show(current, public_only, among)
    )
