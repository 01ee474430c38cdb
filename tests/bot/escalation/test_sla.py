"""The SLA clock against what happens while it ticks: a staff reply or a reassignment landing
between the tick's read of the due tickets and its reminder (bot/escalation/sla.py).

A tick reads every due ticket once, then posts their reminders one by one; a platform that
is slow to take one (a rate limit) leaves time for events to change the tickets after it."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.types import Author, Outcome, Posted, Reply
from tests.bot.test_escalation import ADMIN, CONFIG, STAFF, command, msg
from tests.fakes.clock import FakeClock


class Interleaved(ConsoleChannel):
    """A platform that runs `meanwhile` once, before it takes the first post `when` matches."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.when: Callable[[Reply], bool] = lambda reply: False
        self.meanwhile: Callable[[], Awaitable[None]] | None = None

    async def send(self, reply: Reply) -> Posted:
        if self.meanwhile is not None and self.when(reply):
            meanwhile, self.meanwhile = self.meanwhile, None
            await meanwhile()
        return await super().send(reply)

    def texts(self, containing: str) -> list[Reply]:
        return [reply for _, reply in self.posted if containing in reply.text]


async def two_due_tickets(rt: Runtime, platform: Interleaved, clock: FakeClock) -> tuple[int, int, str]:
    """The first ticket open past its first-response deadline, the second claimed by Sam and
    past its idle deadline: one tick reads both, and fires the first one first."""
    bea = Author(id="U-BEA", name="Bea")
    for asked in (
        msg("I want to talk to a human", channel="C-ONE"),
        msg("I need a person", channel="C-TWO", author=bea),
    ):
        assert await rt.bot.on_message(asked, platform) == Outcome.ESCALATED
    first, second = sorted(t.id for t in rt.state.tickets())
    assert await rt.bot.on_command(command("claim", str(second), STAFF), platform) == Outcome.ANSWERED
    clock.advance(minutes=61)
    thread = rt.state.ticket(second)
    assert thread is not None and thread.conversation.thread is not None
    return first, second, thread.conversation.thread


async def test_a_staff_reply_while_the_clock_ticks_is_not_answered_by_an_idle_reminder(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    rt, platform = make_runtime(CONFIG), Interleaved()
    first, second, thread = await two_due_tickets(rt, platform, clock)

    async def sam_replies() -> None:
        reply = msg("Hi Bea, on it now", author=STAFF, thread=thread, channel="C-TWO", addressed=False)
        assert await rt.bot.on_message(reply, platform) == Outcome.RECORDED

    platform.when = lambda reply: f"Ticket #{first} still has no response" in reply.text
    platform.meanwhile = sam_replies
    assert await rt.bot.tick({"slack": platform}) == 1
    assert platform.texts(f"Reminder: ticket #{second}") == []
    # and the clock Sam's reply restarted still runs: he is reminded when he goes quiet
    ticket = rt.state.ticket(second)
    assert ticket is not None and ticket.next_action_at is not None and ticket.next_action_at > clock.now()
    clock.advance(minutes=61)
    assert await rt.bot.tick({"slack": platform}) == 2  # the first ticket's second tier, Sam's reminder
    assert len(platform.texts(f"Reminder: ticket #{second}")) == 1


async def test_a_reassignment_while_the_clock_ticks_leaves_the_new_assignee_their_deadline(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    rt, platform = make_runtime(CONFIG), Interleaved()
    first, second, _ = await two_due_tickets(rt, platform, clock)

    async def reassign() -> None:
        assert await rt.bot.on_command(command("assign", f"#{second} <@U-OLU|olu>", ADMIN), platform) == (
            Outcome.ANSWERED
        )

    platform.when = lambda reply: f"Ticket #{first} still has no response" in reply.text
    platform.meanwhile = reassign
    assert await rt.bot.tick({"slack": platform}) == 1
    assert platform.texts(f"Reminder: ticket #{second}") == []  # Sam no longer has it
    ticket = rt.state.ticket(second)
    assert ticket is not None and ticket.assignee_id == "U-OLU" and ticket.next_action_at is not None
    assert ticket.next_action_at > clock.now()
