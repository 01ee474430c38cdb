"""The asker's replies where their ticket lives when it has no thread (bot/asker_replies.py): a
Discord direct message, which is the thread of its tickets, and a channel where threads could
not be made, which every asker shares. Threads are walked through in tests/bot/test_escalation.py."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.app import Runtime
from bot.core import Outcome
from bot.types import Author, Command, ConversationRef, InboundMessage, TicketStatus, Visibility
from tests.bot.privacy.test_forget import NoThreads
from tests.bot.test_escalation import ASKER, CONFIG, STAFF, command, msg
from tests.fakes.clock import FakeClock

DISCORD = '[discord]\nstaff_users = ["D-STAFF"]\ntriage_channel = "G1-TRIAGE"\n'
DEE = Author(id="D-STAFF", name="Dee")
DM_ASKER = Author(id="D-ASK", name="asker")
_ids = itertools.count(1)


def in_dm(text: str) -> InboundMessage:
    """A Discord direct message: no thread, and addressed (adapters/discord/translate.py)."""
    return InboundMessage(
        id=f"dm{next(_ids)}",
        conversation=ConversationRef(platform="discord", workspace="dm", channel="DM-C"),
        author=DM_ASKER,
        text=text,
        addressed=True,
        visibility=Visibility.DIRECT,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )


def resolve_from_server(ticket_id: int) -> Command:
    return Command(
        id=f"dc{next(_ids)}",
        name="resolve",
        args=f"{ticket_id} reset your password",
        invoker=DEE,
        conversation=ConversationRef(platform="discord", workspace="G1", channel="G1-TEAM"),
        visibility=Visibility.INTERNAL,
    )


@pytest.fixture
def discord(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(DISCORD)


@pytest.fixture
def dm() -> NoThreads:
    return NoThreads(io.StringIO())  # as adapters/discord/channel.py: a DM's thread is the DM


async def test_a_discord_dm_ticket_reopens_when_the_asker_writes_again_after_resolution(
    discord: Runtime, dm: NoThreads, clock: FakeClock
) -> None:
    """Only a thread was a ticket's own: the asker's "It broke again" in the DM a day after
    resolution used to be a new question (answered, or a second ticket whose card listed #1 as
    a previous ticket) instead of reopening their ticket."""
    assert await discord.bot.on_message(in_dm("I want to talk to a human please"), dm) == Outcome.ESCALATED
    [ticket] = discord.state.tickets()
    await discord.bot.on_command(resolve_from_server(ticket.id), dm)
    clock.advance(days=1)
    assert await discord.bot.on_message(in_dm("It broke again after the update"), dm) == Outcome.ESCALATED
    [reopened] = discord.state.tickets()
    assert reopened.id == ticket.id and reopened.status == TicketStatus.OPEN
    assert "reopened" in [e["event"] for e in discord.state.ticket_events(ticket.id)]


async def test_a_discord_dm_asker_closes_their_ticket_by_saying_all_set(
    discord: Runtime, dm: NoThreads
) -> None:
    """Their "I'm all set" in the DM used to be answered as a question; the ticket stayed open."""
    assert await discord.bot.on_message(in_dm("I want to talk to a human please"), dm) == Outcome.ESCALATED
    [ticket] = discord.state.tickets()
    assert await discord.bot.on_message(in_dm("nevermind, I'm all set now"), dm) == Outcome.RECORDED
    closed = discord.state.ticket(ticket.id)
    assert closed is not None and closed.status == TicketStatus.CLOSED


async def test_in_a_channel_without_threads_the_asker_closes_their_own_ticket_but_reopens_none(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Every asker's questions share the channel: "I'm all set" closes the writer's own open
    ticket (not the newest one, another asker's), and a later message after resolution is as
    likely a new question as the old problem back, so it is not taken for a reopen."""
    rt = make_runtime(CONFIG)
    flat = NoThreads(io.StringIO())
    assert await rt.bot.on_message(msg("I want to talk to a human please"), flat) == Outcome.ESCALATED
    bob = Author(id="U-BOB", name="Bob")
    assert await rt.bot.on_message(msg("I need a human, my invoices are wrong", author=bob), flat) == (
        Outcome.ESCALATED
    )
    ann_ticket, bob_ticket = sorted(rt.state.tickets(), key=lambda t: t.id)
    assert await rt.bot.on_message(msg("nevermind, I'm all set now", author=bob), flat) == Outcome.RECORDED
    assert [t.status for t in (rt.state.ticket(ann_ticket.id), rt.state.ticket(bob_ticket.id))] == [
        TicketStatus.OPEN,
        TicketStatus.CLOSED,
    ]
    await rt.bot.on_command(command("resolve", str(ann_ticket.id), STAFF), flat)
    await rt.bot.on_message(msg("How long does a refund take?", author=ASKER), flat)
    resolved = rt.state.ticket(ann_ticket.id)
    assert resolved is not None and resolved.status == TicketStatus.RESOLVED
