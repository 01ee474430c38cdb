"""The terminal: every option it shows can be typed, including ratings and ticket buttons."""

from __future__ import annotations

import io
from collections.abc import Callable

from adapters.console import ConsoleChannel, ConsoleSession, render
from bot.app import Runtime
from bot.core import Outcome
from bot.types import ActionKind, Author, Button, ConversationRef, Reply


def test_buttons_are_shown_as_what_to_type() -> None:
    reply = Reply(
        conversation=ConversationRef(platform="console", workspace="local", channel="t"),
        text="Done.",
        buttons=(
            Button(action=ActionKind.RATE_GOOD, label="Good", value="3"),
            Button(action=ActionKind.CLAIM, label="Claim", value="3"),
        ),
    )
    assert render(reply).endswith("Options: :good (Good), /support claim 3 (Claim)")


async def test_a_whole_ticket_from_the_terminal(make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime()
    channel = ConsoleChannel(io.StringIO())
    session = ConsoleSession(rt.bot, channel, user="ann")
    assert await session.handle_line("I want to talk to a human") == Outcome.ESCALATED
    staff = Author(id="staff", name="staff")
    assert await session.handle_line("/support resolve 1 fixed it", as_user=staff) == Outcome.ANSWERED
    assert await session.handle_line(":good") == Outcome.RECORDED
    assert channel.posted[-1][1].text == "Thanks for rating!"
    ticket = rt.state.ticket(1)
    assert ticket is not None and ticket.rating == "good"
    assert await session.handle_line(":helpful") is None  # nothing to be helpful about yet
    assert "There is nothing to answer :helpful to yet." in channel.out.getvalue()  # type: ignore[attr-defined]
