"""The asker's replies where their ticket lives when it has no thread (bot/asker_replies.py): a
Discord direct message, which holds every question of its asker, and a channel where threads
could not be made, which every asker shares; and staff there. Threads are walked through in
tests/bot/test_escalation.py."""

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
from tests.bot.test_escalation import ASKER, CONFIG, OTHER_STAFF, STAFF, command, msg
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


async def test_a_new_question_in_a_discord_dm_after_a_resolved_ticket_is_answered_not_a_reopen(
    discord: Runtime, dm: NoThreads, clock: FakeClock
) -> None:
    """A Discord DM is every question its asker asks the bot, not one ticket's thread: a
    question three days after their ticket was resolved is answered (it briefly reopened the
    ticket and paged staff instead, after a change of this session; a review found it)."""
    assert await discord.bot.on_message(in_dm("I can't log in, I want to talk to a human please"), dm) == (
        Outcome.ESCALATED
    )
    [ticket] = discord.state.tickets()
    await discord.bot.on_command(resolve_from_server(ticket.id), dm)
    clock.advance(days=3)
    assert (
        await discord.bot.on_message(in_dm("How long does a refund take to arrive?"), dm) == Outcome.ANSWERED
    )
    after = discord.state.ticket(ticket.id)
    assert after is not None and after.status == TicketStatus.RESOLVED


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


FLAT = CONFIG + '[slack.channels.C-FLAT]\nmode = "auto-answer"\n'


async def test_a_staff_reply_in_a_channel_without_threads_takes_it_over_after_their_own_old_ticket(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Sam (staff) once asked for a person in this channel; later he answers Ann there himself.
    After a change of this session his reply was answered as a question (his resolved ticket
    was the channel's newest, so he counted as its asker); a review found it. In a channel
    everyone shares, staff are staff."""
    rt = make_runtime(FLAT)
    flat = NoThreads(io.StringIO())
    asked = msg("I want to talk to a human please", author=STAFF, channel="C-FLAT")
    assert await rt.bot.on_message(asked, flat) == Outcome.ESCALATED
    [sams] = rt.state.tickets()
    await rt.bot.on_command(command("resolve", str(sams.id), OTHER_STAFF), flat)
    assert (
        await rt.bot.on_message(msg("How long does a refund take?", channel="C-FLAT"), flat)
        == Outcome.ANSWERED
    )
    reply = msg(
        "Ann, refunds take a week; I'll check yours myself", author=STAFF, addressed=False, channel="C-FLAT"
    )
    assert await rt.bot.on_message(reply, flat) == Outcome.RECORDED
    state = rt.state.conversation(ConversationRef(platform="slack", workspace="T1", channel="C-FLAT").key)
    assert state is not None and state.human_takeover


async def test_staffs_all_set_in_a_channel_without_threads_closes_their_own_ticket_not_claims_another(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Sam's ticket is older than Bob's in one thread-less channel; Sam's "I'm all set" used to
    claim Bob's (the newest) and leave his own open."""
    rt = make_runtime(FLAT)
    flat = NoThreads(io.StringIO())
    assert await rt.bot.on_message(
        msg("I want to talk to a human please", author=STAFF, channel="C-FLAT"), flat
    ) == (Outcome.ESCALATED)
    bob = Author(id="U-BOB", name="Bob")
    assert await rt.bot.on_message(
        msg("I need a human, my invoices are wrong", author=bob, channel="C-FLAT"), flat
    ) == (Outcome.ESCALATED)
    sams, bobs = sorted(rt.state.tickets(), key=lambda t: t.id)
    await rt.bot.on_message(
        msg("nevermind, I'm all set now", author=STAFF, channel="C-FLAT", addressed=False), flat
    )
    sams_now, bobs_now = rt.state.ticket(sams.id), rt.state.ticket(bobs.id)
    assert sams_now is not None and bobs_now is not None
    assert (sams_now.status, bobs_now.status, bobs_now.assignee_id) == (
        TicketStatus.CLOSED,
        TicketStatus.OPEN,
        None,
    )
