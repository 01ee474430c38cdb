"""The weekly digest: posted once per week, across restarts and with two runtimes on one store."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.config import Settings
from bot.config_insights import DigestTarget, digest_target
from bot.insights.buckets import collect_buckets
from bot.insights.collect import collect
from bot.insights.digest import due_slot
from bot.insights.metrics import Period, Scope
from bot.types import (
    ActionEvent,
    ActionKind,
    Author,
    ConversationRef,
    EscalationReason,
    InboundMessage,
    Outcome,
    Visibility,
)
from tests.bot.insights.week import DEFINITIONS
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401
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


def ask(text: str, user: str, clock: FakeClock, workspace: str = "T1") -> InboundMessage:
    return InboundMessage(
        id=f"d{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace=workspace, channel="C-GENERAL"),
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


async def test_a_digest_for_one_workspace_gives_its_figures_and_is_posted_there(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    rt = make_runtime(TOML.replace('"CDIGEST"', '"slack:T2:CDIGEST"'))
    await _a_week(rt, channel, clock)  # in T1
    clock.current = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    await rt.bot.on_message(ask("How do I export my invoices to CSV?", "W1", clock, workspace="T2"), channel)
    clock.current = datetime(2026, 11, 30, 0, 5, tzinfo=UTC)  # Mon 09:05 in Seoul
    await rt.bot.tick({"slack": channel})
    [(digest, where)] = [
        (r.text, r.conversation) for _, r in channel.posted if r.conversation.channel == "CDIGEST"
    ]
    assert where.workspace == "T2"  # posted with T2's install
    assert "Questions: 1" in digest and "Unresolved tickets: 1" in digest  # T2's alone, not T1's three


async def test_with_hundreds_open_the_digest_counts_them_all_and_lists_the_longest_waiting(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    """The oldest tickets are the forgotten ones a lead must see, however many are open."""
    rt = make_runtime(TOML)
    opened = datetime(2026, 10, 1, 1, 0, tzinfo=UTC)
    for n in range(205):
        rt.state.create_ticket(
            ref=ConversationRef(platform="slack", workspace="T1", channel="C-GENERAL", thread=f"t{n}"),
            asker=Author(id=f"U{n}"),
            question=f"question number {n} zzz",
            reason=EscalationReason.ASKED_FOR_HUMAN,
            at=opened + timedelta(hours=n),
        )
    clock.current = datetime(2026, 11, 30, 0, 5, tzinfo=UTC)  # Mon 09:05 in Seoul
    await rt.bot.tick({"slack": channel})
    [digest] = digests(channel)
    assert "Unresolved tickets: 205" in digest
    listed = [line for line in digest.splitlines() if "zzz" in line]
    assert [line.split("question number ")[1] for line in listed] == [f"{n} zzz" for n in range(len(listed))]
    assert len(listed) >= 3


def test_a_digest_channel_names_its_platform_and_may_name_its_workspace() -> None:
    assert digest_target("CDIGEST") == DigestTarget("slack", "CDIGEST")
    assert digest_target("1234567890") == DigestTarget("discord", "1234567890")
    assert digest_target("slack:T2:CDIGEST") == DigestTarget("slack", "CDIGEST", "T2")
    assert digest_target("discord:C1") == DigestTarget("discord", "C1")
    for wrong in ("teams:C1", "slack::C1", "slack:T2:", "slack:a:b:c", "lowercase"):
        assert digest_target(wrong) is None, wrong


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


async def test_a_question_fixed_by_an_edit_counts_once_in_the_digest(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    """One person asks once and fixes a typo: the answer is replaced in place (one message),
    but its first record stayed counted beside the revision's. The digest said two questions,
    and the report listed both wordings among the top questions."""
    rt = make_runtime(TOML)
    clock.current = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    first = ask("How long does a refund take to arive?", "U1", clock)
    assert await rt.bot.on_message(first, channel) == Outcome.ANSWERED
    fixed = replace(
        ask("How long does a refund take to arrive?", "U1", clock),
        id=f"{first.id}:edited",
        edited=True,
        edit_of=first.id,
    )
    assert await rt.bot.on_message(fixed, channel) == Outcome.ANSWERED
    assert len([r for _, r in channel.posted if r.conversation.channel == "C-GENERAL"]) == 1  # one answer
    week = (clock.now() - timedelta(days=1), clock.now() + timedelta(days=1))
    assert rt.state.top_questions(*week) == [("How long does a refund take to arrive?", 1)]
    assert rt.state.stats().questions == 1
    clock.current = datetime(2026, 11, 30, 0, 5, tzinfo=UTC)  # Mon 09:05 in Seoul
    await rt.bot.tick({"slack": channel})
    [digest] = digests(channel)
    assert "Questions: 1 " in digest


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("asked_on", ["in_the_thread", "on_the_answer"])
async def test_an_escalated_question_edited_afterwards_is_still_counted_escalated(
    make_runtime: Callable[..., Runtime],
    channel: ConsoleChannel,
    clock: FakeClock,
    request: pytest.FixtureRequest,
    backend: str,
    asked_on: str,
) -> None:
    """The asker got an answer, asked for a person (in the thread, or with the answer's
    button), then fixed a typo in the question: the edit's answer replaced the first in every
    count, but the ticket came before it (or named the first answer), so it belonged to no
    question. One question handed to people read as an assumed resolution."""
    env = {"SUPPORTBOT_DATABASE_URL": request.getfixturevalue("pg_url")} if backend == "postgres" else {}
    rt = make_runtime(TOML, env)
    clock.current = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    first = ask("How long does a refund take to arive?", "U1", clock)
    assert await rt.bot.on_message(first, channel) == Outcome.ANSWERED
    [answer] = [r for _, r in channel.posted if r.conversation.channel == "C-GENERAL"]
    clock.current += timedelta(minutes=1)
    if asked_on == "in_the_thread":
        human = replace(
            ask("I want to talk to a human please", "U1", clock), conversation=answer.conversation
        )
        await rt.bot.on_message(human, channel)
    else:
        press = ActionEvent(
            id="press-1",
            conversation=answer.conversation,
            actor=Author(id="U1", name="U1"),
            action=ActionKind.TALK_TO_HUMAN,
            value=answer.buttons[0].value,
            visibility=Visibility.INTERNAL,
        )
        await rt.bot.on_action(press, channel)
    [ticket] = rt.state.tickets()
    assert (ticket.answer_id is None) == (asked_on == "in_the_thread")
    clock.current += timedelta(minutes=1)
    fixed = replace(
        ask("How long does a refund take to arrive?", "U1", clock),
        id=f"{first.id}:edited",
        edited=True,
        edit_of=first.id,
        sent_at=first.sent_at,  # as Slack and Discord give an edit: its message's own moment
        edited_at=clock.now(),
    )
    assert await rt.bot.on_message(fixed, channel) == Outcome.ANSWERED  # the answer replaced in place
    period = Period(since=clock.now() - timedelta(days=1), until=clock.now() + timedelta(days=3))
    m = collect(rt.state, period, Scope(), DEFINITIONS).metrics
    assert (m.questions, m.answered_then_escalated, m.assumed_resolutions) == (1, 1, 0)
    # the overview's buckets, the edit's answer in the second: each as its own report has it
    spans = [Period(since=period.since, until=clock.now()), Period(since=clock.now(), until=period.until)]
    whole, parts = collect_buckets(rt.state, period, spans, Scope(), DEFINITIONS)
    assert whole.metrics == m
    assert [p.metrics for p in parts] == [
        collect(rt.state, s, Scope(), DEFINITIONS, top=0).metrics for s in spans
    ]
