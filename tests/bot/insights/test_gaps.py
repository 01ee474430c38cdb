"""Knowledge gaps through the core: questions become clusters with a kind, a size and a status."""

from __future__ import annotations

import io
import itertools
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.insights.gaps import ALL
from bot.store.gaps import GapKind, GapStatus
from bot.types import (
    ActionEvent,
    ActionKind,
    Author,
    Command,
    ConversationRef,
    InboundMessage,
    ReplyKind,
    Visibility,
)
from tests.fakes.clock import FakeClock

TOML = """
[slack]
staff_users = ["U-STAFF"]
admin_users = ["U-STAFF"]
"""
STAFF = Author(id="U-STAFF", name="Sam")
EXPORT = [
    "How do I export my invoices to CSV?",
    "Can I export invoices as a CSV file?",
    "export invoices csv",
]
FAILOVER = [  # an internal-only page of the sample docs answers these
    "When does the database failover password rotation happen?",
    "How often is the failover password rotated?",
]
REFUND = [
    "How long does a refund take to arrive?",
    "How many days until my refund arrives?",
]
_ids = itertools.count(1)


def ask(text: str, user: str, workspace: str = "T1") -> InboundMessage:
    return InboundMessage(
        id=f"g{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace=workspace, channel="C-GENERAL"),
        author=Author(id=user, name=user),
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=FakeClock().now(),
    )


def command(text: str, workspace: str = "T1") -> Command:
    name, _, args = text.partition(" ")
    return Command(
        id=f"c{next(_ids)}",
        name=name,
        args=args,
        invoker=STAFF,
        conversation=ConversationRef(platform="slack", workspace=workspace, channel="C-TEAM"),
        visibility=Visibility.INTERNAL,
    )


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(TOML)


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


async def said(rt: Runtime, channel: ConsoleChannel, text: str) -> str:
    await rt.bot.on_command(command(text), channel)
    return channel.posted[-1][1].text


async def two_gaps(rt: Runtime, channel: ConsoleChannel) -> None:
    for n, text in enumerate(EXPORT):
        await rt.bot.on_message(ask(text, f"U{n}"), channel)
    for n, text in enumerate(REFUND):
        user = f"V{n}"
        await rt.bot.on_message(ask(text, user), channel)
        answer = next(r for _, r in reversed(channel.posted) if r.kind == ReplyKind.ANSWER)
        value = next(b.value for b in answer.buttons if b.action == ActionKind.NOT_HELPFUL)
        await rt.bot.on_action(
            ActionEvent(
                id=f"press-{user}",
                action=ActionKind.NOT_HELPFUL,
                value=value,
                actor=Author(id=user, name=user),
                conversation=answer.conversation,
                visibility=Visibility.INTERNAL,
            ),
            channel,
        )


async def test_two_paraphrase_sets_give_two_gaps_of_the_right_kind_and_size(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    await two_gaps(rt, channel)
    listing = await said(rt, channel, "gaps")
    gaps = {g.kind: g for g in rt.state.gaps("slack", ALL)}
    assert set(gaps) == {GapKind.HARD, GapKind.SOFT}
    assert gaps[GapKind.HARD].asks == 3 and "invoices" in gaps[GapKind.HARD].representative.lower()
    assert gaps[GapKind.SOFT].asks == 2 and "refund" in gaps[GapKind.SOFT].representative.lower()
    assert f"#{gaps[GapKind.HARD].id} (3x, unanswered)" in listing
    assert f"#{gaps[GapKind.SOFT].id} (2x, answered, did not help)" in listing
    shown = await said(rt, channel, f"gaps show {gaps[GapKind.HARD].id}")
    assert all(q in shown for q in EXPORT)


async def test_writing_the_missing_page_and_reindexing_marks_the_gap_addressed(
    rt: Runtime, channel: ConsoleChannel, knowledge_dir: Path
) -> None:
    await two_gaps(rt, channel)
    (knowledge_dir / "invoices.md").write_text(
        textwrap.dedent(
            """\
            # Exporting invoices to CSV

            To export your invoices to a CSV file, open Billing, choose Invoices and click
            "Export CSV". The CSV export includes every invoice of the selected year.
            """
        ),
        encoding="utf-8",
    )
    await said(rt, channel, "reindex")
    listing = await said(rt, channel, "gaps")
    hard = next(g for g in rt.state.gaps("slack", (GapStatus.ADDRESSED,)) if g.kind == GapKind.HARD)
    assert f"#{hard.id} " not in listing and "refund" in listing.lower()
    # asked again and answered now: it stays addressed (an answered question is no gap)
    await rt.bot.on_message(ask(EXPORT[0], "U9"), channel)
    await rt.bot.on_command(command("gaps"), channel)
    assert rt.state.gap(hard.id).status == GapStatus.ADDRESSED  # type: ignore[union-attr]


async def test_a_gap_of_public_askers_stays_open_though_an_internal_page_covers_it(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """It used to be marked addressed and drop out of /support gaps: whether the docs now
    answer it was searched with every document, the internal runbook too, which the customers
    asking are never answered from."""
    for n, text in enumerate(FAILOVER):
        await rt.bot.on_message(replace(ask(text, f"P{n}"), visibility=Visibility.PUBLIC), channel)
    kinds = [r.kind for _, r in channel.posted]
    assert ReplyKind.ANSWER not in kinds, kinds  # customers are not given the internal runbook
    assert "failover password" in await said(rt, channel, "gaps")
    # asked by staff, in a team channel, the runbook is the answer: no gap
    await rt.bot.on_message(ask(FAILOVER[0], "U-TEAM"), channel)
    assert channel.posted[-1][1].kind == ReplyKind.ANSWER


async def test_each_workspace_sees_only_its_own_gaps(rt: Runtime, channel: ConsoleChannel) -> None:
    for n, text in enumerate(EXPORT):
        await rt.bot.on_message(ask(text, f"U{n}", workspace="T2"), channel)
    await rt.bot.on_command(command("gaps", workspace="T2"), channel)
    (gap,) = rt.state.gaps("slack", (GapStatus.OPEN,))
    assert gap.workspace == "T2" and f"#{gap.id} (3x" in channel.posted[-1][1].text
    await rt.bot.on_command(command("gaps"), channel)  # in T1
    assert channel.posted[-1][1].text.startswith("No open knowledge gaps")
    await rt.bot.on_command(command(f"gaps show {gap.id}"), channel)
    assert channel.posted[-1][1].text == f"There is no gap {gap.id}."


async def test_a_dismissed_gap_comes_back_after_enough_new_asks(rt: Runtime, channel: ConsoleChannel) -> None:
    await two_gaps(rt, channel)
    await said(rt, channel, "gaps")  # the list places new questions in their gaps (so does the clock)
    hard = next(g for g in rt.state.gaps("slack", ALL) if g.kind == GapKind.HARD)
    assert "dismissed" in await said(rt, channel, f"gaps dismiss {hard.id}")
    assert "invoices" not in (await said(rt, channel, "gaps")).lower()
    for n in range(2):
        await rt.bot.on_message(ask(EXPORT[n], f"W{n}"), channel)
    assert "invoices" not in (await said(rt, channel, "gaps")).lower()  # 2 of 3 new asks
    await rt.bot.on_message(ask(EXPORT[2], "W3"), channel)
    assert f"#{hard.id} (6x, unanswered)" in await said(rt, channel, "gaps")


async def test_draft_from_a_gap_uses_what_staff_answered(rt: Runtime, channel: ConsoleChannel) -> None:
    await two_gaps(rt, channel)
    await rt.bot.tick({"slack": channel})  # the clock places new questions in their gaps
    hard = next(g for g in rt.state.gaps("slack", ALL) if g.kind == GapKind.HARD)
    assert "Nobody has answered" in await said(rt, channel, f"gaps draft {hard.id}")
    [ticket, *_] = [t for t in rt.state.tickets() if "invoices" in t.question.lower()]
    staff_reply = InboundMessage(
        id="staff-1",
        conversation=ticket.conversation,
        author=STAFF,
        text="Billing > Invoices > Export CSV gives you every invoice of the year.",
        addressed=False,
        visibility=Visibility.INTERNAL,
        sent_at=FakeClock().now(),
    )
    await rt.bot.on_message(staff_reply, channel)
    reply = await said(rt, channel, f"gaps draft {hard.id}")
    assert "Draft #" in reply and f"ticket #{ticket.id}" in reply
    [draft] = rt.state.drafts()
    assert "Export CSV" in draft.answer
    # asked again with nothing new: the same draft, said to be there already
    again = await said(rt, channel, f"gaps draft {hard.id}")
    assert f"Draft #{draft.id} from ticket #{ticket.id} already exists" in again
    assert [d.id for d in rt.state.drafts()] == [draft.id]


async def test_gap_commands_explain_bad_numbers(rt: Runtime, channel: ConsoleChannel) -> None:
    assert "There is no gap" in await said(rt, channel, "gaps show 99")
    assert "needs the gap number" in await said(rt, channel, "gaps dismiss")
