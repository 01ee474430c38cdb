"""Whose the claim on a ticket's card is (bot/escalation/cards.py, bot/store/ticket_posts.py):
the claim made with the ticket is taken over at once by the same message's opening done again
(a replay that handles it from scratch, the apology's hand-off after the note failed), so the
card follows without waiting for the lease; a claim taken since (a live tick posting the card)
is not, so a replay beside it does not post a second; a ticket reopened after its claim was
dropped while it was done gets its card."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest

from bot import faults
from bot.app import Runtime
from bot.errors import PlatformError
from bot.types import Author, Posted, Reply, ReplyKind
from tests.bot.test_exactly_once import TRIAGE, DiesPostingTheLead, Platform, question
from tests.fakes.clock import FakeClock

HUMAN = "I want to talk to a human about my invoice"


async def test_a_replay_handling_the_message_from_scratch_posts_its_card_at_once(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """Killed while the note's post was in flight: nothing is out, the replay hands the message
    over from scratch, finds the ticket, and posts its card (not 10 minutes later)."""
    platform = DiesPostingTheLead()
    with pytest.raises(faults.Crash):
        await make_runtime(TRIAGE).bot.on_message(question(HUMAN, "m-lead"), platform)
    clock.advance(seconds=1)
    restarted = make_runtime(TRIAGE)
    assert await restarted.bot.replay_pending("slack", platform) == 1
    assert len(platform.cards()) == 1


class NoteFailsOnce(Platform):
    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def send(self, reply: Reply) -> Posted:
        if reply.kind == ReplyKind.ESCALATION and not self.failed:
            self.failed = True
            raise PlatformError("chat.postMessage: 503")
        return await super().send(reply)


async def test_the_card_follows_a_note_that_failed_once(make_runtime: Callable[..., Runtime]) -> None:
    """No crash: the note fails once (after the ticket and its card's claim were written), the
    apology's hand-off opens again, finds the ticket and posts the note and the card."""
    platform = NoteFailsOnce()
    rt = make_runtime(TRIAGE)
    await rt.bot.on_message(question(HUMAN, "m1"), platform)
    assert len([r for _, r in platform.posted if r.kind == ReplyKind.ESCALATION]) == 1
    assert len(platform.cards()) == 1


class TriageHeld(Platform):
    """The triage channel refuses the first card, and holds the next in flight until let go."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = False
        self.in_flight = asyncio.Event()
        self.go = asyncio.Event()

    async def send(self, reply: Reply) -> Posted:
        if reply.conversation.channel == "C-TRIAGE":
            if not self.refused:
                self.refused = True
                raise PlatformError("chat.postMessage: 500")
            if not self.in_flight.is_set():
                self.in_flight.set()
                await self.go.wait()
        return await super().send(reply)


async def test_a_replay_does_not_take_the_claim_of_a_tick_posting_the_card(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """The card's first post fails (owed two minutes on), then the process dies before its
    message is finished; after the restart the clock's tick takes the owed claim and posts,
    and the replay of the message runs meanwhile: it leaves the tick's claim, one card."""
    platform = TriageHeld()
    with faults.crash_at("handoff.posted"), pytest.raises(faults.Crash):
        await make_runtime(TRIAGE).bot.on_message(question(HUMAN, "m-race"), platform)
    assert platform.cards() == []
    clock.advance(minutes=3)
    restarted = make_runtime(TRIAGE)
    ticking = asyncio.create_task(restarted.bot.escalations.posts.tick({"slack": platform}))
    await asyncio.wait_for(platform.in_flight.wait(), 10)
    assert await restarted.bot.replay_pending("slack", platform) == 1
    platform.go.set()
    await ticking
    assert len(platform.cards()) == 1


async def test_a_ticket_reopened_after_its_claim_was_dropped_gets_its_card(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    platform = TriageHeld()
    platform.in_flight.set()  # posts are not held here: only the first is refused
    rt = make_runtime(TRIAGE)
    await rt.bot.on_message(question(HUMAN, "m1"), platform)
    [ticket] = rt.state.tickets()
    assert platform.cards() == []
    staff = Author(id="U-STAFF", name="Sam")
    assert (await rt.bot.escalations.resolve(ticket.id, staff, platform, ticket.conversation)).changed
    clock.advance(minutes=3)
    await rt.bot.tick({"slack": platform})  # done, no card out: the claim is dropped
    assert platform.cards() == []
    clock.advance(minutes=5)
    again = replace(question("No, the invoice is still wrong", "m2"), conversation=ticket.conversation)
    await rt.bot.on_message(again, platform)  # the asker replies within the reopen window
    reopened = rt.state.ticket(ticket.id)
    assert reopened is not None and reopened.status == "open"
    assert len(platform.cards()) == 1
