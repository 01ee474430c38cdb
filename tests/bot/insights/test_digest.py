"""The weekly digest: posted once per week, across restarts and with two runtimes on one store."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.config import Settings
from bot.insights.digest import due_slot
from bot.types import Author, ConversationRef, InboundMessage, Visibility
from tests.fakes.clock import FakeClock

TOML = """
[slack]
staff_users = ["U-STAFF"]
[insights]
digest_channel = "CDIGEST"
digest_weekday = "mon"
digest_hour = 9
[escalation]
timezone = "Asia/Seoul"
"""
_ids = itertools.count(1)


def ask(text: str, user: str, clock: FakeClock) -> InboundMessage:
    return InboundMessage(
        id=f"d{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-GENERAL"),
        author=Author(id=user, name=user),
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=clock.now(),
    )


def digests(channel: ConsoleChannel) -> list[str]:
    return [r.text for _, r in channel.posted if r.conversation.channel == "CDIGEST"]


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


async def _a_week(rt: Runtime, channel: ConsoleChannel, clock: FakeClock) -> None:
    clock.current = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)  # the week before last: one question
    await rt.bot.on_message(ask("How long does a refund take to arrive?", "U0", clock), channel)
    clock.current = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # last week (Seoul): three, one unanswered
    await rt.bot.on_message(ask("How long does a refund take to arrive?", "U1", clock), channel)
    await rt.bot.on_message(ask("How do I reset my password?", "U2", clock), channel)
    await rt.bot.on_message(ask("How do I export my invoices to CSV?", "U3", clock), channel)


async def test_the_digest_is_posted_once_at_its_hour_with_last_weeks_figures(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    rt = make_runtime(TOML)
    await _a_week(rt, channel, clock)
    clock.current = datetime(2026, 11, 29, 23, 59, tzinfo=UTC)  # Mon 08:59 in Seoul: not yet
    await rt.bot.tick({"slack": channel})
    assert digests(channel) == []
    clock.current = datetime(2026, 11, 30, 0, 5, tzinfo=UTC)  # Mon 09:05 in Seoul
    await rt.bot.tick({"slack": channel})
    await rt.bot.tick({"slack": channel})
    [digest] = digests(channel)
    assert "Weekly support digest" in digest and "the 7 days to Mon 30 Nov 09:00" in digest
    assert "Questions: 3 (+200%)" in digest  # against the one the week before
    assert "Unresolved tickets: 1" in digest and "invoices" in digest.lower()
    assert "Top knowledge gaps" in digest


async def test_a_restart_and_a_second_runtime_do_not_post_it_again(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    first = make_runtime(TOML)
    await _a_week(first, channel, clock)
    clock.current = datetime(2026, 11, 30, 0, 5, tzinfo=UTC)
    second = make_runtime(TOML)  # another runtime over the same data directory
    assert await first.bot.tick({"slack": channel}) + await second.bot.tick({"slack": channel}) >= 1
    first.close()
    restarted = make_runtime(TOML)
    clock.advance(hours=1)
    await restarted.bot.tick({"slack": channel})
    await second.bot.tick({"slack": channel})
    assert len(digests(channel)) == 1
    clock.advance(days=7)  # next Monday: the next week's digest
    await restarted.bot.tick({"slack": channel})
    assert len(digests(channel)) == 2


def test_the_slot_is_skipped_when_the_bot_was_down_for_more_than_a_day(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(TOML)
    monday_0905_seoul = datetime(2026, 11, 30, 0, 5, tzinfo=UTC)
    assert due_slot(monday_0905_seoul, settings) == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    assert due_slot(datetime(2026, 12, 1, 0, 5, tzinfo=UTC), settings) is None  # Tuesday: too late
    assert due_slot(datetime(2026, 11, 29, 23, 0, tzinfo=UTC), settings) is None  # before the hour
