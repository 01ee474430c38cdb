"""The messages that show a ticket stay current when it moves while they are being edited
(bot/escalation/cards.py `TicketPosts.refresh`): of two edits the last to land stays, so a
refresh rendered from the ticket before a claim or a resolve must not be the last word."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.app import Runtime
from bot.types import Outcome, Reply, ReplyKind
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
