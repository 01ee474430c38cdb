"""The messages that show a ticket (bot/escalation/cards.py): they stay current when it moves
while they are being edited (`TicketPosts.refresh`): of two edits the last to land stays, so a
refresh rendered from the ticket before a claim or a resolve must not be the last word; and a
card whose post failed is owed, and posted by a later tick (`TicketPosts.tick`)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.errors import PlatformError
from bot.escalation.cards import CARD_RETRY_AT_LEAST
from bot.types import Outcome, Posted, Reply, ReplyKind
from tests.bot.escalation.test_sla import Interleaved
from tests.bot.test_escalation import CONFIG, STAFF, command, msg
from tests.fakes.clock import FakeClock


def showing(platform: Interleaved, ticket_id: int) -> tuple[Reply, Reply]:
    """The ticket's note in the asker's thread and staff's card, as they read now."""
    [note] = [r for r in platform.current.values() if r.kind == ReplyKind.ESCALATION]
    [card] = [r for r in platform.current.values() if r.text.startswith(f"**Ticket #{ticket_id}**")]
    return note, card


@pytest.mark.parametrize(
    ("move", "status"), [("claim {}", "claimed by Sam"), ("resolve {} fixed the export", "resolved by Sam")]
)
async def test_a_ticket_moved_during_a_reminders_refresh_is_shown_as_it_stands(
    make_runtime: Callable[..., Runtime], clock: FakeClock, move: str, status: str
) -> None:
    rt, platform = make_runtime(CONFIG), Interleaved()
    assert await rt.bot.on_message(msg("I want to talk to a human"), platform) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    clock.advance(minutes=16)

    async def sam_moves_it() -> None:  # and his own refresh lands before the reminder's edits
        assert await rt.bot.on_command(command(*move.format(ticket.id).split(" ", 1), STAFF), platform) == (
            Outcome.ANSWERED
        )

    # the reminder's refresh has rendered the open ticket; its first edit is slow to land
    platform.when = lambda reply: reply.kind == ReplyKind.ESCALATION
    platform.meanwhile = sam_moves_it
    assert await rt.bot.tick({"slack": platform}) == 1
    assert platform.meanwhile is None  # Sam did move it in between
    note, card = showing(platform, ticket.id)
    assert status in card.text.splitlines()[0] and f"_{status}_" in note.text
    buttons = [] if status.startswith("resolved") else ["Resolve"]
    assert [b.label for b in card.buttons] == buttons and [b.label for b in note.buttons] == buttons


@pytest.mark.parametrize(
    ("move", "status"),
    [("claim {}", "Sam님이 담당 중"), ("resolve {} 내보내기를 고쳤습니다", "Sam님이 해결 완료")],
)
async def test_a_korean_askers_thread_note_shows_the_status_in_korean_and_the_card_in_english(
    make_runtime: Callable[..., Runtime], move: str, status: str
) -> None:
    """The note in a Korean asker's thread was edited to end with "_claimed by Sam_"."""
    rt, platform = make_runtime(CONFIG), Interleaved()
    assert await rt.bot.on_message(msg("상담원 연결해 주세요"), platform) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    assert await rt.bot.on_command(command(*move.format(ticket.id).split(" ", 1), STAFF), platform) == (
        Outcome.ANSWERED
    )
    note, card = showing(platform, ticket.id)
    assert note.text.endswith(f"_{status}_"), note.text
    assert ("claimed by Sam" if move.startswith("claim") else "resolved by Sam") in card.text.splitlines()[0]


class TriageDown(ConsoleChannel):
    """A platform whose triage channel refuses posts while `down` (an outage, a rate limit),
    noting when it was tried (`tried`, on the test's clock)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(io.StringIO())
        self.clock = clock
        self.down = True
        self.tried: list[datetime] = []

    async def send(self, reply: Reply) -> Posted:
        if reply.conversation.channel == "C-TRIAGE":
            self.tried.append(self.clock.now())
            if self.down:
                raise PlatformError("chat.postMessage failed: service_unavailable")
        return await super().send(reply)

    def cards(self) -> list[Reply]:
        return [reply for _, reply in self.posted if reply.conversation.channel == "C-TRIAGE"]


async def test_a_card_whose_post_failed_is_posted_by_a_later_tick_once(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """The triage channel refuses the card: the asker is still told, and the card is owed: the
    clock posts it once the retry time has come and the platform takes it, and only once."""
    rt, platform = make_runtime(CONFIG), TriageDown(clock)
    assert await rt.bot.on_message(msg("I want to talk to a human"), platform) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    assert [r.kind for _, r in platform.posted].count(ReplyKind.ESCALATION) == 1 and platform.cards() == []
    clock.advance(seconds=CARD_RETRY_AT_LEAST.total_seconds() - 1)
    platform.down = False
    assert await rt.bot.tick({"slack": platform}) == 0  # not yet: the retry time has not come
    assert platform.cards() == []
    clock.advance(seconds=1)
    assert await rt.bot.tick({"slack": platform}) == 1
    [card] = platform.cards()
    assert card.text.startswith(f"**Ticket #{ticket.id}**")
    assert sorted(kind for kind, _, _ in rt.state.ticket_posts(ticket.id)) == ["card", "thread"]
    clock.advance(minutes=10)
    assert await rt.bot.tick({"slack": platform}) == 0 and len(platform.cards()) == 1


async def test_a_card_still_refused_is_tried_less_and_less_often(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """A triage channel that keeps refusing (gone, say): each try waits half the ticket's age,
    at least `CARD_RETRY_AT_LEAST`; a resolved ticket owes no card."""
    rt, platform = make_runtime(CONFIG), TriageDown(clock)
    assert await rt.bot.on_message(msg("I want to talk to a human"), platform) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    for _ in range(30):  # an hour, a tick every two minutes
        clock.advance(minutes=2)
        await rt.bot.tick({"slack": platform})
    assert platform.cards() == []
    gaps = [later - earlier for earlier, later in zip(platform.tried, platform.tried[1:], strict=False)]
    assert min(gaps) >= CARD_RETRY_AT_LEAST
    assert gaps == sorted(gaps) and gaps[-1] >= timedelta(minutes=15)  # tried less and less often
    assert len(platform.tried) < 12  # not at each of the 30 ticks
    assert (
        await rt.bot.on_command(command("resolve", f"{ticket.id} sorted", STAFF), platform)
        == Outcome.ANSWERED
    )
    clock.advance(hours=2)
    tried = len(platform.tried)
    await rt.bot.tick({"slack": platform})
    assert len(platform.tried) == tried  # a resolved ticket owes no card


class SlowTriage(ConsoleChannel):
    """The first card's post hangs (a platform rate-limiting it, its client waiting and trying
    again) until the test lets it go."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.in_flight = asyncio.Event()
        self.go = asyncio.Event()

    async def send(self, reply: Reply) -> Posted:
        if reply.conversation.channel == "C-TRIAGE" and not self.in_flight.is_set():
            self.in_flight.set()
            await self.go.wait()
        return await super().send(reply)

    def cards(self) -> list[tuple[Posted, Reply]]:
        """Each card as it reads now."""
        return [
            (posted, self.current[posted.message_id])
            for posted, reply in self.posted
            if reply.conversation.channel == "C-TRIAGE"
        ]


async def test_a_card_slow_to_post_is_not_posted_again_by_the_tick(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """A card whose post takes minutes (slack_sdk waiting out rate limits, each try with its
    own timeout) is still its poster's: the clock's tick, here or on another worker, leaves it."""
    rt, platform = make_runtime(CONFIG), SlowTriage()
    opening = asyncio.create_task(rt.bot.on_message(msg("I want to talk to a human"), platform))
    await asyncio.wait_for(platform.in_flight.wait(), 10)
    clock.advance(minutes=5)  # far past a post's ordinary retries, inside the card's lease
    assert await rt.bot.tick({"slack": platform}) == 0
    platform.go.set()
    assert await opening == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    [(posted, _)] = platform.cards()
    assert [p.message_id for kind, p, _ in rt.state.ticket_posts(ticket.id) if kind == "card"] == [
        posted.message_id
    ]


async def test_a_ticket_resolved_while_its_card_is_posted_shows_resolved_on_it(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """Staff resolve the ticket from the thread note while its card is on its way: the resolve's
    refresh cannot reach a card not noted yet, so the card, once noted, is brought up to date:
    resolved, no buttons."""
    rt, platform = make_runtime(CONFIG), SlowTriage()
    opening = asyncio.create_task(rt.bot.on_message(msg("I want to talk to a human"), platform))
    await asyncio.wait_for(platform.in_flight.wait(), 10)
    [ticket] = rt.state.tickets()
    assert (
        await rt.bot.on_command(command("resolve", f"{ticket.id} sorted", STAFF), platform)
        == Outcome.ANSWERED
    )
    platform.go.set()
    assert await opening == Outcome.ESCALATED
    [(_, card)] = platform.cards()
    assert "resolved by Sam" in card.text.splitlines()[0] and card.buttons == ()


async def test_a_card_refused_for_days_is_posted_within_the_hour_once_the_platform_takes_it(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """The triage channel refuses for two days (gone; then someone fixes the setting): the waits
    between tries stop growing at `CARD_RETRY_AT_MOST`, so the open ticket's card follows within
    the hour once the channel takes it."""
    rt, platform = make_runtime(CONFIG), TriageDown(clock)
    assert await rt.bot.on_message(msg("I want to talk to a human"), platform) == Outcome.ESCALATED
    for _ in range(50 * 4):  # two days and two hours, a tick every quarter of an hour
        clock.advance(minutes=15)
        await rt.bot.tick({"slack": platform})
    assert platform.cards() == []
    platform.down = False
    fixed = clock.now()
    while not platform.cards() and clock.now() - fixed <= timedelta(hours=1):
        clock.advance(minutes=5)
        await rt.bot.tick({"slack": platform})
    assert len(platform.cards()) == 1
