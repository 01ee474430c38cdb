"""The SLA clock against what happens while it ticks (bot/escalation/sla.py): the process
dying while it posts a reminder, a platform refusing it, and a staff reply or a reassignment
landing between the tick's read of the due tickets and its reminder; and where the reminders
of a ticket nobody of the team can see the thread of (a direct message) go.

A tick reads every due ticket once, then posts their reminders one by one; a platform that
is slow to take one (a rate limit) leaves time for events to change the tickets after it."""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from adapters.console import ConsoleChannel
from adapters.slack.workspaces import NotInstalled
from bot import faults
from bot.app import Runtime
from bot.escalation import sla
from bot.escalation.sla import FIRING_LEASE
from bot.ports import PostChanged
from bot.store.queue import Reach, SlaState, TicketQuery
from bot.types import Author, InboundMessage, Mention, MentionKind, Outcome, Posted, Reply, Visibility
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401  (fixtures)
from tests.bot.test_escalation import ADMIN, CONFIG, STAFF, command, msg, open_ticket, posted_where
from tests.fakes.clock import FakeClock


class Interleaved(ConsoleChannel):
    """A platform that runs `meanwhile` once, before it takes the first post or edit `when`
    matches."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.when: Callable[[Reply], bool] = lambda reply: False
        self.meanwhile: Callable[[], Awaitable[None]] | None = None

    async def _first(self, reply: Reply) -> None:
        if self.meanwhile is not None and self.when(reply):
            meanwhile, self.meanwhile = self.meanwhile, None
            await meanwhile()

    async def send(self, reply: Reply) -> Posted:
        await self._first(reply)
        return await super().send(reply)

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        await self._first(reply)
        return await super().edit(posted, reply, on_change)

    def texts(self, containing: str) -> list[Reply]:
        return [reply for _, reply in self.posted if containing in reply.text]


@pytest.mark.parametrize("reminder", ["Escalating ticket", "Reminder: ticket"])
async def test_a_reminder_whose_process_died_while_posting_it_is_said_when_its_claim_lapses(
    make_runtime: Callable[..., Runtime], clock: FakeClock, reminder: str
) -> None:
    """The second tier's escalation and the assignee's reminder are the last steps of their
    clocks: nothing after them would ever fire them."""
    dying, platform = make_runtime(CONFIG), Interleaved()
    assert await dying.bot.on_message(msg("I want to talk to a human"), platform) == Outcome.ESCALATED
    [ticket] = dying.state.tickets()
    if reminder == "Reminder: ticket":
        assert (
            await dying.bot.on_command(command("claim", str(ticket.id), STAFF), platform) == Outcome.ANSWERED
        )
        clock.advance(minutes=61)
    else:
        clock.advance(minutes=16)
        assert await dying.bot.tick({"slack": platform}) == 1  # the re-announce
        clock.advance(minutes=31)

    async def dies() -> None:
        raise faults.Crash("kill -9 while the reminder is on its way")

    platform.when = lambda reply: reminder in reply.text
    platform.meanwhile = dies
    with pytest.raises(faults.Crash):
        await dying.bot.tick({"slack": platform})
    restarted = make_runtime(CONFIG)  # or another worker: the store is all they share
    assert await restarted.bot.tick({"slack": platform}) == 0  # a live process may still be posting it
    clock.advance(seconds=FIRING_LEASE.total_seconds())
    assert await restarted.bot.tick({"slack": platform}) == 1
    clock.advance(hours=5)
    assert await restarted.bot.tick({"slack": platform}) == 0
    assert len(platform.texts(reminder)) == 1


async def test_an_overdue_ticket_reads_as_overdue_while_its_reminder_is_said_and_after_its_sayer_died(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """The reminder's claim is not its deadline: /support tickets and the dashboard's overdue
    filter say overdue while the re-announce is in flight, and while the claim of a process
    that died posting it holds."""
    rt, platform = make_runtime(CONFIG), Interleaved()
    assert await rt.bot.on_message(msg("I want to talk to a human"), platform) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    clock.advance(minutes=16)  # a minute past the first response
    seen: list[tuple[str, list[int]]] = []

    async def staff_look() -> None:
        assert await rt.bot.on_command(command("tickets", "", STAFF), platform) == Outcome.ANSWERED
        [line] = [x for x in platform.posted[-1][1].text.splitlines() if f"#{ticket.id}" in x]
        query = TicketQuery(reach=(Reach(platform="slack"),), sla=SlaState.OVERDUE)
        seen.append((line, [t.id for t in rt.state.ticket_queue(query, clock.now()).tickets]))

    async def dies() -> None:
        raise faults.Crash("kill -9 while the reminder is on its way")

    platform.when = lambda reply: "still has no response" in reply.text
    platform.meanwhile = dies
    with pytest.raises(faults.Crash):
        await rt.bot.tick({"slack": platform})
    clock.advance(minutes=1)
    await staff_look()  # the dead process's claim holds
    clock.advance(seconds=FIRING_LEASE.total_seconds())
    platform.meanwhile = staff_look
    assert await rt.bot.tick({"slack": platform}) == 1  # said by another, looked at meanwhile
    assert [ids for _, ids in seen] == [[ticket.id], [ticket.id]]
    assert all("overdue" in line for line, _ in seen), seen


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


class Refusing(Interleaved):
    """A platform that refuses the posts `refuses` matches (the workspace's install is gone)
    and notes when each was tried."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.refuses: Callable[[Reply], bool] = lambda reply: False
        self.tried: list[datetime] = []

    async def send(self, reply: Reply) -> Posted:
        if self.refuses(reply):
            self.tried.append(self.clock.now())
            raise NotInstalled("no installation for this workspace")
        return await super().send(reply)


REANNOUNCE = "still has no response"


async def test_a_reminder_whose_post_fails_is_tried_less_and_less_often_and_said_once_it_can_be(
    make_runtime: Callable[..., Runtime], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A channel or an install that is gone fails every post: the reminder is tried again
    after 2 minutes, then after half the time it has been overdue, at most an hour apart; the
    first failure is logged with its traceback, every later one as one line."""
    rt, platform = make_runtime(CONFIG), Refusing(clock)
    assert await rt.bot.on_message(msg("I want to talk to a human"), platform) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    assert ticket.next_action_at is not None
    platform.refuses = lambda reply: REANNOUNCE in reply.text
    clock.advance(minutes=16)
    with caplog.at_level(logging.WARNING, logger="bot.escalation.sla"):
        for _ in range(24 * 60):  # a day of ticks, one a minute
            assert await rt.bot.tick({"slack": platform}) == 0
            clock.advance(minutes=1)
    gaps = [later - earlier for earlier, later in itertools.pairwise(platform.tried)]
    assert gaps[0] == timedelta(minutes=2)
    assert gaps == sorted(gaps) and max(gaps) == timedelta(hours=1)
    assert len(platform.tried) < 40  # not 1,440
    for tried, gap in zip(platform.tried, gaps, strict=False):
        assert gap >= min((tried - ticket.next_action_at) / 2, timedelta(hours=1)) - timedelta(minutes=1)
    failures = [r for r in caplog.records if "could not post an SLA reminder" in r.getMessage()]
    assert len(failures) == len(platform.tried)
    assert [r.exc_info is not None for r in failures] == [True] + [False] * (len(failures) - 1)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r not in failures]
    # the install is back: the reminder is said at its next try, once
    platform.refuses = lambda reply: False
    clock.advance(hours=1)
    assert await rt.bot.tick({"slack": platform}) == 1
    assert len(platform.texts(REANNOUNCE)) == 1
    assert await rt.bot.tick({"slack": platform}) == 0


async def test_a_new_deadline_is_not_held_up_by_the_wait_of_a_reminder_that_failed(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """Staff claim the ticket while its re-announce waits for its next try: the assignee's
    reminder falls due at its own deadline (a minute here), not after that wait (2 minutes)."""
    rt, platform = (
        make_runtime(CONFIG.replace("claimed_idle_minutes = 60", "claimed_idle_minutes = 1")),
        Refusing(clock),
    )
    assert await rt.bot.on_message(msg("I want to talk to a human"), platform) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    platform.refuses = lambda reply: REANNOUNCE in reply.text
    clock.advance(minutes=16)
    assert await rt.bot.tick({"slack": platform}) == 0
    assert len(platform.tried) == 1
    assert await rt.bot.on_command(command("claim", str(ticket.id), STAFF), platform) == Outcome.ANSWERED
    clock.advance(seconds=61)
    assert await rt.bot.tick({"slack": platform}) == 1
    assert len(platform.texts(f"Reminder: ticket #{ticket.id}")) == 1
    assert len(platform.tried) == 1  # the re-announce is not due any more


async def test_a_reminder_first_failing_late_logs_its_traceback_once(
    make_runtime: Callable[..., Runtime], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The process was down when the deadline passed: its first failure, however late, still
    says why (the traceback), and names the error in each line after it."""
    first, platform = make_runtime(CONFIG), Refusing(clock)
    assert await first.bot.on_message(msg("I want to talk to a human"), platform) == Outcome.ESCALATED
    first.close()
    clock.advance(minutes=20)
    platform.refuses = lambda reply: REANNOUNCE in reply.text
    second = make_runtime(CONFIG)
    with caplog.at_level(logging.WARNING, logger="bot.escalation.sla"):
        for _ in range(3 * 60):
            await second.bot.tick({"slack": platform})
            clock.advance(minutes=1)
    failures = [r for r in caplog.records if "could not post an SLA reminder" in r.getMessage()]
    assert len(failures) == len(platform.tried) > 1
    assert [r.exc_info is not None for r in failures] == [True] + [False] * (len(failures) - 1)
    assert all("NotInstalled" in r.getMessage() for r in failures)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_the_wait_a_failed_takeover_left_ends_with_the_step_its_slow_first_sayer_took(
    make_runtime: Callable[..., Runtime], clock: FakeClock, backend: str, request: pytest.FixtureRequest
) -> None:
    """Worker A's re-announce is slow past its claim; worker B takes the claim over, and its
    platform refuses the post (a wait for the next try); A's post lands and A steps to the
    second tier: that deadline is a new one, and B's wait for the old one does not hold it."""
    env = {"SUPPORTBOT_DATABASE_URL": request.getfixturevalue("pg_url")} if backend == "postgres" else {}
    slow, other = make_runtime(CONFIG, env), make_runtime(CONFIG, env)
    a_platform, b_platform = Interleaved(), Refusing(clock)
    b_platform.refuses = lambda reply: REANNOUNCE in reply.text
    assert await slow.bot.on_message(msg("I want to talk to a human"), a_platform) == Outcome.ESCALATED
    [ticket] = slow.state.tickets()
    clock.advance(minutes=16)

    async def b_takes_over() -> None:
        clock.advance(seconds=FIRING_LEASE.total_seconds() + 50 * 60)  # A's post hangs ~1 h
        assert await other.bot.tick({"slack": b_platform}) == 0
        assert len(b_platform.tried) == 1

    a_platform.when = lambda reply: REANNOUNCE in reply.text
    a_platform.meanwhile = b_takes_over
    assert await slow.bot.tick({"slack": a_platform}) == 1
    stepped = slow.state.ticket(ticket.id)
    assert (
        stepped is not None and stepped.next_action_at is not None and stepped.next_action_at <= clock.now()
    )
    assert await slow.bot.tick({"slack": a_platform}) == 1  # the second tier, overdue already
    assert len(a_platform.texts("Escalating ticket")) == 1


class ShutDownRightAfterThePost(Interleaved):
    """Takes the re-announce; as it hands back, the store's one lane is busy with another call
    (an event being recorded) and the shutdown cancels the clock's tick."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__()
        self.rt = rt
        self.gate = threading.Event()
        self.tick: asyncio.Task[int] | None = None
        self.blocker: asyncio.Future[None] | None = None

    async def send(self, reply: Reply) -> Posted:
        posted = await super().send(reply)
        if REANNOUNCE in reply.text and self.tick is not None:
            started = threading.Event()

            def busy(_store: object) -> None:
                started.set()
                self.gate.wait(10)

            self.blocker = asyncio.ensure_future(self.rt.store.run(busy))
            await asyncio.to_thread(started.wait, 10)  # the lane is in that call now
            asyncio.get_running_loop().call_soon(self.tick.cancel)  # the shutdown
            asyncio.get_running_loop().call_later(0.05, self.gate.set)
        return posted


async def test_a_shutdown_right_after_a_reminder_is_out_still_takes_its_step(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """The lane drops a call cancelled before it started: the step would be lost, the claim
    left to lapse, and the next process would say the reminder again."""
    first = make_runtime(CONFIG)
    platform = ShutDownRightAfterThePost(first)
    assert await first.bot.on_message(msg("I want to talk to a human"), platform) == Outcome.ESCALATED
    clock.advance(minutes=16)
    platform.tick = asyncio.ensure_future(first.bot.tick({"slack": platform}))
    await asyncio.gather(platform.tick, return_exceptions=True)
    assert platform.tick.cancelled()
    assert platform.blocker is not None
    await platform.blocker
    assert len(platform.texts(REANNOUNCE)) == 1
    first.close()
    platform.tick = None
    second = make_runtime(CONFIG)
    clock.advance(seconds=FIRING_LEASE.total_seconds())
    assert await second.bot.tick({"slack": platform}) == 0
    assert len(platform.texts(REANNOUNCE)) == 1


async def test_the_failing_reminder_forgotten_first_is_the_one_that_failed_longest_ago(
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The failing reminders remembered are bounded (`FAILING_KEPT`, 3 here): past it, the one
    that failed longest ago is forgotten (its ticket was resolved meanwhile), not all of them,
    so each of those still failing logs its traceback once."""
    monkeypatch.setattr(sla, "FAILING_KEPT", 3)
    rt, platform = make_runtime(CONFIG), Refusing(clock)
    for n in range(4):
        asked = msg("I want to talk to a human", channel=f"C-{n}", author=Author(id=f"U-{n}", name=f"A{n}"))
        assert await rt.bot.on_message(asked, platform) == Outcome.ESCALATED
    first = min(t.id for t in rt.state.tickets())
    platform.refuses = lambda reply: REANNOUNCE in reply.text
    clock.advance(minutes=16)
    with caplog.at_level(logging.WARNING, logger="bot.escalation.sla"):
        assert await rt.bot.tick({"slack": platform}) == 0  # all four fail, the first ticket's first
        assert await rt.bot.on_command(command("resolve", str(first), STAFF), platform) == Outcome.ANSWERED
        for _ in range(6 * 60):
            await rt.bot.tick({"slack": platform})
            clock.advance(minutes=1)
    failures = [r for r in caplog.records if "could not post an SLA reminder" in r.getMessage()]
    assert len(failures) == len(platform.tried) > 12
    assert len([r for r in failures if r.exc_info is not None]) == 4


class LockedAfterThePost(Interleaved):
    """Takes the re-announce; as it hands back, another session holds the ticket's row, so the
    step is refused (the lock timeout) and tried again after a pause."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.holder: psycopg.Connection[Any] | None = None
        self.ticket_id = 0

    async def send(self, reply: Reply) -> Posted:
        posted = await super().send(reply)
        if REANNOUNCE in reply.text and self.holder is None:
            self.holder = psycopg.connect(self.url)
            self.holder.execute("select id from tickets where id = %s for update", [self.ticket_id])
        return posted


class ShutDownInThePause(logging.Handler):
    """At settle's "trying again" line: the row is let go, and the shutdown cancels the tick."""

    def __init__(self, platform: LockedAfterThePost, tick: asyncio.Task[int]) -> None:
        super().__init__()
        self.platform, self.tick = platform, tick
        self.seen = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "marking a post made failed" in record.getMessage() and self.platform.holder is not None:
            self.seen += 1
            self.platform.holder.rollback()
            asyncio.get_running_loop().call_soon(self.tick.cancel)


async def test_a_shutdown_between_two_tries_of_the_step_still_makes_one_more(
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    pg_url: str,  # noqa: F811
) -> None:
    """Cancelled while settle waits to try the step again, nothing is under way for the lane
    to finish: one last try is made, or the next process would say the reminder again."""
    env = {"SUPPORTBOT_DATABASE_URL": pg_url}
    first = make_runtime(CONFIG, env)
    platform = LockedAfterThePost(pg_url)
    assert await first.bot.on_message(msg("I want to talk to a human"), platform) == Outcome.ESCALATED
    [ticket] = first.state.tickets()
    platform.ticket_id = ticket.id
    clock.advance(minutes=16)
    tick = asyncio.ensure_future(first.bot.tick({"slack": platform}))
    handler = ShutDownInThePause(platform, tick)
    logging.getLogger("bot.store.state").addHandler(handler)
    try:
        await asyncio.gather(tick, return_exceptions=True)
    finally:
        logging.getLogger("bot.store.state").removeHandler(handler)
        assert platform.holder is not None
        platform.holder.close()
    assert handler.seen == 1 and tick.cancelled()
    first.close()
    second = make_runtime(CONFIG, env)
    clock.advance(seconds=FIRING_LEASE.total_seconds())
    assert await second.bot.tick({"slack": platform}) == 0
    assert len(platform.texts(REANNOUNCE)) == 1


def in_a_dm(text: str, *, thread: str | None = None) -> InboundMessage:
    """`text` written by the asker in their direct message with the bot (a Slack IM)."""
    asked = msg(text, channel="D-ANN", thread=thread)
    return replace(asked, visibility=Visibility.DIRECT)


async def test_a_direct_messages_ticket_tags_and_reminds_staff_in_the_triage_channel_not_the_asker(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """Nobody of the team reads a direct message with the bot. Its ticket's note tagged the
    first tier there, said "A person will reply in this thread", and every SLA reminder
    ("@S-TIER1 Ticket #1 still has no response after 16m. Can someone take it?", "Escalating
    ticket #1: ...") went there too: staff were tagged nowhere, and the asker read the team's
    reminders. Now the card tags them and the reminders follow it, once each."""
    rt, platform = make_runtime(CONFIG), Interleaved()
    assert await rt.bot.on_message(in_a_dm("I want to talk to a human"), platform) == Outcome.ESCALATED
    for minutes in (16, 31, 300):
        clock.advance(minutes=minutes)
        await rt.bot.tick({"slack": platform})
    await rt.bot.tick({"slack": platform})  # nothing is said twice
    said = [(reply.conversation.channel, reply) for _, reply in platform.posted]
    [note] = [reply for where, reply in said if where == "D-ANN"]
    assert note.mentions == () and "will contact you directly" in note.text, note.text
    assert "thread" not in note.text
    [card, again, second_tier] = [reply for where, reply in said if where == "C-TRIAGE"]
    tier1, tier2 = (
        Mention(kind=MentionKind.GROUP, id="S-TIER1"),
        Mention(kind=MentionKind.GROUP, id="S-TIER2"),
    )
    assert card.mentions == (tier1,) and "**Ticket #1**" in card.text and card.refers_to is None
    assert "a direct message: contact the asker directly" in card.text
    assert again.mentions == (tier1,) and "Ticket #1 still has no response after 16m" in again.text
    assert second_tier.mentions == (tier2,) and "Escalating ticket #1" in second_tier.text


async def test_korean_reminders_say_the_wait_in_korean(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """Before the twenty-fifth session the wait was written in English units ("16m 동안")."""
    rt, channel = make_runtime(CONFIG), ConsoleChannel(io.StringIO())
    assert await rt.bot.on_message(msg("상담원 연결해 주세요"), channel) == Outcome.ESCALATED
    clock.advance(minutes=16)
    assert await rt.bot.tick({"slack": channel}) == 1
    [reminder] = posted_where(channel, lambda r: "응답이 없습니다" in r.text)
    assert "16분" in reminder.text and "16m" not in reminder.text
    clock.advance(minutes=31)
    assert await rt.bot.tick({"slack": channel}) == 1
    [tier2] = posted_where(channel, lambda r: "상위 담당자" in r.text)
    assert "47분" in tier2.text


async def test_a_reopened_tickets_reminders_count_from_the_reopening(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """Resolved by staff, reopened three days later: sixteen minutes on, staff used to be
    told the ticket "still has no response after 3d", which it had; now the wait counts from
    the reopening, and says so."""
    rt, channel = make_runtime(CONFIG), ConsoleChannel(io.StringIO())
    ticket_id, thread = await open_ticket(rt, channel)
    answer = msg("Try clearing the cache", author=STAFF, thread=thread.thread, addressed=False)
    await rt.bot.on_message(answer, channel)
    await rt.bot.on_command(command("resolve", str(ticket_id), STAFF), channel)
    clock.advance(days=3)
    again = msg("It broke again after the update", thread=thread.thread, addressed=False)
    assert await rt.bot.on_message(again, channel) == Outcome.ESCALATED
    clock.advance(minutes=16)
    assert await rt.bot.tick({"slack": channel}) == 1
    [reminder] = posted_where(
        channel, lambda r: r.text.startswith(f"Ticket #{ticket_id} was reopened 16m ago")
    )
    assert "no response since" in reminder.text and "3d" not in reminder.text


async def test_a_korean_askers_after_hours_note_names_the_days_in_korean(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """Before the twenty-fifth session: "근무 시간은 Mon, Tue, Wed, Thu, Fri 09:00-18:00 (UTC)이며,
    Mon 09:00 UTC 이후에"."""
    config = CONFIG.replace("reopen_days = 7", 'reopen_days = 7\nbusiness_hours = "09:00-18:00"')
    rt, channel = make_runtime(config), ConsoleChannel(io.StringIO())
    clock.current = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # a Saturday
    assert await rt.bot.on_message(msg("상담원 연결해 주세요"), channel) == Outcome.ESCALATED
    [note] = posted_where(channel, lambda r: "근무 시간은" in r.text)
    assert "월, 화, 수, 목, 금 09:00-18:00 (UTC)" in note.text and "월 09:00 UTC 이후에" in note.text
