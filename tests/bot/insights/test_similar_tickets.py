"""Similar resolved tickets, kept between questions: read once per place while fresh, read
again when this process resolves one or once RESOLVED_FRESH_SECONDS pass, and a kept match
is checked again before it is suggested (another process may have reopened it or forgotten
its asker). Driven on a real SQLite store; a second StateStore on the same file stands for
another process."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from bot.insights.similar_tickets import (
    CHANNEL_LOOKS,
    RESOLVED_FRESH_SECONDS,
    SimilarTickets,
    recently_resolved,
)
from bot.insights.similarity import Asked
from bot.store import AsyncStore, StateStore
from bot.types import Author, ConversationRef, EscalationReason, TicketStatus
from tests.fakes.clock import FakeClock

STAFF = Author(id="S1", name="Sam")
HERE = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="new.1")
QUESTION = "Can I export invoices as a CSV file?"


def _resolve(store: StateStore, thread: str, question: str, asker: str = "U1", channel: str = "C1") -> int:
    ref = ConversationRef(platform="slack", workspace="T1", channel=channel, thread=thread)
    now = FakeClock().now()
    ticket, _ = store.create_ticket(
        ref=ref, asker=Author(id=asker), question=question, reason=EscalationReason.ASKED_FOR_HUMAN, at=now
    )
    changed, _ = store.transition_ticket(
        ticket.id,
        to=TicketStatus.RESOLVED,
        allowed_from=[TicketStatus.OPEN],
        actor=STAFF,
        at=now,
        fields={"resolved_at": now},
    )
    assert changed
    return ticket.id


class Reads:
    """How many times the resolved tickets were read (`count`), and single tickets read again
    before a suggestion (`checks`), seen in SQLite's own statement trace."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.count = 0
        self.checks = 0
        connection.set_trace_callback(self._statement)

    def _statement(self, sql: str) -> None:
        if "t.status = 'resolved'" in sql:
            self.count += 1
        elif sql.startswith("select * from tickets where id = "):
            self.checks += 1


@dataclass(frozen=True)
class Setup:
    store: AsyncStore
    similar: SimilarTickets
    clock: FakeClock
    reads: Reads
    path: Path  # the state file: another StateStore on it stands for another process


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    path = tmp_path / "state.db"
    state = StateStore(path)
    store = AsyncStore(state)
    clock = FakeClock()
    assert isinstance(state.db.conn, sqlite3.Connection)
    yield Setup(store, SimilarTickets(store=store, clock=clock), clock, Reads(state.db.conn), path)
    store.close()


async def _find(similar: SimilarTickets) -> int | None:
    found = await similar.find(HERE, Asked(QUESTION, ()), public_only=True)
    return found.id if found is not None else None


async def test_a_place_reads_its_resolved_tickets_once_while_they_are_fresh(setup: Setup) -> None:
    store, similar, clock, reads = setup.store, setup.similar, setup.clock, setup.reads
    first = await store.run(_resolve, "1.1", "How do I export my invoices to CSV?")
    assert [await _find(similar) for _ in range(5)] == [first] * 5
    assert reads.count == 1
    clock.advance(seconds=RESOLVED_FRESH_SECONDS)
    assert await _find(similar) == first
    assert reads.count == 2  # stale: read again


async def test_a_ticket_resolved_here_is_compared_with_at_once(setup: Setup) -> None:
    store, similar, reads = setup.store, setup.similar, setup.reads
    await store.run(_resolve, "1.1", "Where do I change my billing address?")
    assert await _find(similar) is None
    resolved = await store.run(_resolve, "2.1", "How do I export my invoices to CSV?")
    assert await _find(similar) == resolved
    assert reads.count == 2


async def test_one_resolved_by_another_process_is_compared_with_once_the_kept_ones_are_stale(
    setup: Setup,
) -> None:
    similar, clock, path = setup.similar, setup.clock, setup.path
    assert await _find(similar) is None
    other = StateStore(path)
    elsewhere = _resolve(other, "1.1", "How do I export my invoices to CSV?")
    other.close()
    assert await _find(similar) is None  # kept: at most RESOLVED_FRESH_SECONDS late
    clock.advance(seconds=RESOLVED_FRESH_SECONDS)
    assert await _find(similar) == elsewhere


@pytest.mark.parametrize("change", ["reopened", "forgotten", "made internal"])
async def test_a_kept_match_changed_by_another_process_is_never_suggested(setup: Setup, change: str) -> None:
    store, similar, clock, reads, path = setup.store, setup.similar, setup.clock, setup.reads, setup.path
    ticket_id = await store.run(_resolve, "1.1", "How do I export my invoices to CSV?", "U-GONE")
    assert await _find(similar) == ticket_id
    other = StateStore(path)
    if change == "reopened":
        other.transition_ticket(
            ticket_id, to=TicketStatus.OPEN, allowed_from=[TicketStatus.RESOLVED], actor=STAFF, at=clock.now()
        )
    elif change == "forgotten":
        other.forget("slack", "U-GONE", clock.now())
    else:
        other.set_ticket_fields(ticket_id, visibility="internal")
    other.close()
    reads.checks = 0
    assert await _find(similar) is None  # checked again before it is suggested
    assert reads.checks == 1 and reads.count == 2  # and the place was read again, without it
    assert await _find(similar) is None
    assert reads.count == 2


async def test_a_change_made_while_a_read_runs_makes_the_next_question_read_again(setup: Setup) -> None:
    """The stamp is taken before the read: a ticket resolved meanwhile may be missing from
    what the read returned, so what was kept is not fresh."""
    store, similar = setup.store, setup.similar
    stamp = similar.due(HERE)
    assert stamp is not None
    read = await store.run(recently_resolved, HERE)  # before the resolution below
    resolved = await store.run(_resolve, "1.1", "How do I export my invoices to CSV?")
    similar.keep(HERE, read, stamp)
    assert similar.due(HERE) is not None
    assert await _find(similar) == resolved


async def test_forgetting_a_person_here_is_never_answered_from_what_was_kept(setup: Setup) -> None:
    store, similar, reads = setup.store, setup.similar, setup.reads
    await store.run(_resolve, "1.1", "How do I export my invoices to CSV?", "U-GONE")
    assert await _find(similar) is not None
    await store.run(StateStore.forget, "slack", "U-GONE", setup.clock.now())
    reads.checks = 0
    assert await _find(similar) is None
    assert reads.count == 2 and reads.checks == 0  # read again at once, not matched from what was kept


async def test_only_fresh_places_are_kept(setup: Setup) -> None:
    """A place's tickets, once stale, are never used again: they go when another place keeps
    its own, so a place nobody asks in holds nothing."""
    similar, clock = setup.similar, setup.clock
    other = ConversationRef(platform="slack", workspace="T2", channel="C9", thread="x.1")
    assert await _find(similar) is None
    assert similar.places_kept == 1
    clock.advance(seconds=RESOLVED_FRESH_SECONDS)
    await similar.find(other, Asked(QUESTION, ()), public_only=True)
    assert similar.places_kept == 1
    assert similar.due(HERE) is not None


async def test_a_direct_message_is_suggested_to_its_asker_alone(setup: Setup) -> None:
    """A guest's direct message, or any under `dm_visibility = "public"`, has a public scope:
    before, it was suggested (and linked in an answer) to anyone asking alike."""
    dm = await setup.store.run(_resolve, "1.1", "How do I export my invoices to CSV?", "U1", "D1")
    assert await _find(setup.similar) is None
    own = await setup.similar.find(HERE, Asked(QUESTION, ()), public_only=True, among=frozenset({dm}))
    assert own is not None and own.id == dm  # their memory's own ticket, as before


async def test_a_channel_shared_with_another_organisation_is_passed_over(setup: Setup) -> None:
    """A Slack Connect channel's tickets have a public scope: before, one customer's was
    suggested to another. The platform is asked about a match's channel, and at most
    CHANNEL_LOOKS of them for one suggestion: then the answer goes without a link."""
    asked: list[str] = []

    async def open_channels(where: ConversationRef) -> bool:
        asked.append(where.channel)
        return not where.channel.startswith("C-SHARED")

    async def find() -> int | None:
        found = await setup.similar.find(
            HERE, Asked(QUESTION, ()), public_only=True, open_to_workspace=open_channels
        )
        return found.id if found is not None else None

    question = "How do I export my invoices to CSV?"
    await setup.store.run(_resolve, "1.1", question, "U1", "C-SHARED-0")
    own_channel = await setup.store.run(_resolve, "2.1", question, "U2", "C-TEAM")
    assert await find() == own_channel and asked[-1] == "C-TEAM"
    for n in range(1, CHANNEL_LOOKS + 1):
        await setup.store.run(_resolve, f"3.{n}", question, "U3", f"C-SHARED-{n}")
    await setup.store.run(
        partial(
            StateStore.transition_ticket,
            to=TicketStatus.OPEN,
            allowed_from=[TicketStatus.RESOLVED],
            actor=STAFF,
            at=setup.clock.now(),
        ),
        own_channel,
    )
    asked.clear()
    assert await find() is None
    assert len(asked) == CHANNEL_LOOKS and all(c.startswith("C-SHARED") for c in asked)
