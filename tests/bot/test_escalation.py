"""The hand-off workflow: lifecycle, routing, business hours, SLA reminders across restarts,
takeover, satisfaction and the learning loop. Time moves only when a test moves the clock."""

from __future__ import annotations

import asyncio
import io
import itertools
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from adapters.console import ConsoleChannel
from adapters.slack.mrkdwn import to_mrkdwn
from bot.app import Runtime
from bot.core import Outcome
from bot.markdown import literal
from bot.store import StateStore
from bot.types import (
    ActionEvent,
    ActionKind,
    Author,
    Command,
    ConversationRef,
    EscalationReason,
    InboundMessage,
    Mention,
    MentionKind,
    Posted,
    Reply,
    ReplyKind,
    SlaStage,
    TicketStatus,
    Visibility,
)
from tests.fakes.clock import FakeClock

CONFIG = """
[slack]
staff_groups = ["S-TIER1"]
second_tier_groups = ["S-TIER2"]
admin_users = ["U-ADMIN"]
triage_channel = "C-TRIAGE"
[slack.channels.C-BILLING]
staff_users = ["U-BILLING-LEAD"]
[escalation]
first_response_minutes = 15
second_tier_minutes = 30
claimed_idle_minutes = 60
reopen_days = 7
[escalation.tags.billing]
slack_staff_groups = ["S-BILLING"]
"""

ASKER = Author(id="U-ASK", name="Ann")
STAFF = Author(id="U-SAM", name="Sam", roles=frozenset({"S-TIER1"}))
OTHER_STAFF = Author(id="U-OLU", name="Olu", roles=frozenset({"S-TIER1"}))
ADMIN = Author(id="U-ADMIN", name="Ada")
_ids = itertools.count(1)


def msg(
    text: str,
    *,
    author: Author = ASKER,
    thread: str | None = None,
    channel: str = "C-GEN",
    addressed: bool = True,
) -> InboundMessage:
    return InboundMessage(
        id=f"e{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace="T1", channel=channel, thread=thread),
        author=author,
        text=text,
        addressed=addressed,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )


def press(action: ActionKind, value: str, actor: Author, conversation: ConversationRef) -> ActionEvent:
    return ActionEvent(
        id=f"p{next(_ids)}",
        conversation=conversation,
        actor=actor,
        action=action,
        value=value,
        visibility=Visibility.INTERNAL,
    )


def command(name: str, args: str, invoker: Author, workspace: str = "T1") -> Command:
    return Command(
        id=f"c{next(_ids)}",
        name=name,
        args=args,
        invoker=invoker,
        conversation=ConversationRef(platform="slack", workspace=workspace, channel="C-GEN"),
        visibility=Visibility.INTERNAL,
    )


def texts(channel: ConsoleChannel) -> list[str]:
    return [r.text for _, r in channel.posted]


def posted_where(channel: ConsoleChannel, predicate: Callable[[Reply], bool]) -> list[Reply]:
    return [r for _, r in channel.posted if predicate(r)]


def first_escalation(channel: ConsoleChannel) -> Reply:
    return posted_where(channel, lambda r: r.kind == ReplyKind.ESCALATION)[0]


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(CONFIG)


async def open_ticket(
    rt: Runtime,
    channel: ConsoleChannel,
    text: str = "I want to talk to a human please",
    channel_id: str = "C-GEN",
) -> tuple[int, ConversationRef]:
    assert await rt.bot.on_message(msg(text, channel=channel_id), channel) == Outcome.ESCALATED
    ticket = rt.state.tickets()[0]
    return ticket.id, ticket.conversation


async def open_ticket_in(
    rt: Runtime, channel: ConsoleChannel, channel_id: str, *, asker: str
) -> tuple[int, ConversationRef]:
    """Another ticket, `asker`'s in `channel_id`, beside those open already."""
    asked = msg("I want to talk to a human please", author=Author(id=asker, name=asker), channel=channel_id)
    assert await rt.bot.on_message(asked, channel) == Outcome.ESCALATED
    ticket = max(rt.state.tickets(), key=lambda t: t.id)
    return ticket.id, ticket.conversation


async def test_sla_reannounces_then_escalates_to_the_second_tier_once(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    first = first_escalation(channel)
    assert first.mentions == (Mention(kind=MentionKind.GROUP, id="S-TIER1"),)
    channels = {"slack": channel}
    clock.advance(minutes=14)
    assert await rt.bot.tick(channels) == 0
    clock.advance(minutes=1)
    assert sorted(await asyncio.gather(rt.bot.tick(channels), rt.bot.tick(channels))) == [0, 1]
    reannounce = posted_where(channel, lambda r: "still has no response" in r.text)
    assert len(reannounce) == 1 and reannounce[0].mentions == (Mention(kind=MentionKind.GROUP, id="S-TIER1"),)
    clock.advance(minutes=30)
    assert await rt.bot.tick(channels) == 1
    tier2 = [r for _, r in channel.posted if "Escalating ticket" in r.text]
    assert len(tier2) == 1 and tier2[0].mentions == (Mention(kind=MentionKind.GROUP, id="S-TIER2"),)
    clock.advance(hours=5)
    assert await rt.bot.tick(channels) == 0
    events = [e["event"] for e in rt.state.ticket_events(ticket_id)]
    assert events == ["opened", "sla", "sla"]
    assert thread.thread is not None


async def test_reminders_survive_a_restart_and_fire_once(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    first = make_runtime(CONFIG)
    await open_ticket(first, channel)
    first.close()
    clock.advance(minutes=20)  # the process was down when the deadline passed
    second = make_runtime(CONFIG)
    assert await second.bot.tick({"slack": channel}) == 1
    third = make_runtime(CONFIG)  # and again: a second restart must not repeat it
    assert await third.bot.tick({"slack": channel}) == 0
    assert len([t for t in texts(channel) if "still has no response" in t]) == 1


class StalledChannel(ConsoleChannel):
    """A platform that does not answer the reminder's post (rate limited, or going away)."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.stalled = asyncio.Event()

    async def send(self, reply: Reply) -> Posted:
        if "still has no response" in reply.text:
            self.stalled.set()
            await asyncio.Event().wait()
        return await super().send(reply)


async def test_a_reminder_cut_short_by_a_shutdown_is_sent_after_the_restart(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    first = make_runtime(CONFIG)
    await open_ticket(first, channel)
    clock.advance(minutes=15)
    stalled = StalledChannel()
    ticking = asyncio.ensure_future(first.bot.tick({"slack": stalled}))
    await asyncio.wait_for(stalled.stalled.wait(), 5)
    ticking.cancel()  # the shutdown cancels the clock mid-post
    await asyncio.gather(ticking, return_exceptions=True)
    first.close()
    second = make_runtime(CONFIG)
    assert await second.bot.tick({"slack": channel}) == 1
    assert len([t for t in texts(channel) if "still has no response" in t]) == 1


async def test_outside_business_hours_the_ping_waits_for_opening(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    rt = make_runtime(CONFIG.replace("reopen_days = 7", 'reopen_days = 7\nbusiness_hours = "09:00-18:00"'))
    clock.current = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # Saturday
    await open_ticket(rt, channel)
    note = first_escalation(channel)
    assert note.mentions == ()
    assert "Mon, Tue, Wed, Thu, Fri 09:00-18:00 (UTC)" in note.text and "Mon 09:00" in note.text
    clock.current = datetime(2026, 12, 7, 8, 59, tzinfo=UTC)
    assert await rt.bot.tick({"slack": channel}) == 0
    clock.current = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert await rt.bot.tick({"slack": channel}) == 1
    [ping] = posted_where(channel, lambda r: "outside business hours" in r.text)
    assert ping.mentions == (Mention(kind=MentionKind.GROUP, id="S-TIER1"),)
    listing = await rt.bot.on_command(command("tickets", "", STAFF), channel)
    assert listing == Outcome.ANSWERED


async def test_on_call_is_pinged_at_once_outside_hours(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    rt = make_runtime(
        CONFIG.replace(
            'second_tier_groups = ["S-TIER2"]',
            'second_tier_groups = ["S-TIER2"]\noncall_users = ["U-ONCALL"]',
        ).replace("reopen_days = 7", 'reopen_days = 7\nbusiness_hours = "09:00-18:00"')
    )
    clock.current = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    await open_ticket(rt, channel)
    note = first_escalation(channel)
    assert note.mentions == (Mention(kind=MentionKind.USER, id="U-ONCALL"),)


async def test_staff_reply_claims_and_the_assignee_is_reminded_when_quiet(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    reply = msg("Hi Ann, looking into it", author=STAFF, thread=thread.thread, addressed=False)
    assert await rt.bot.on_message(reply, channel) == Outcome.RECORDED
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.CLAIMED and ticket.assignee_id == STAFF.id
    assert any("Sam is looking at this now" in t for t in texts(channel))
    # the asker's follow-up is recorded, not answered by the bot: a person has it
    assert (
        await rt.bot.on_message(
            msg("thanks, it's the export button", thread=thread.thread, addressed=False), channel
        )
        == Outcome.RECORDED
    )
    clock.advance(minutes=59)
    assert await rt.bot.tick({"slack": channel}) == 0
    clock.advance(minutes=2)
    assert await rt.bot.tick({"slack": channel}) == 1
    [nudge] = posted_where(channel, lambda r: "Reminder" in r.text)
    assert nudge.mentions == (Mention(kind=MentionKind.USER, id=STAFF.id),)


async def test_concurrent_claims_have_one_winner_who_is_named_to_the_loser(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    results = await asyncio.gather(
        rt.bot.on_action(press(ActionKind.CLAIM, str(ticket_id), STAFF, thread), channel),
        rt.bot.on_action(press(ActionKind.CLAIM, str(ticket_id), OTHER_STAFF, thread), channel),
    )
    assert sorted(results) == sorted([Outcome.RECORDED, Outcome.REFUSED])
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None
    loser_note = posted_where(channel, lambda r: r.ephemeral_to)[0]
    assert loser_note.text == f"Ticket #{ticket_id} is already claimed by {ticket.assignee_name}."


async def test_asker_closes_their_own_ticket(rt: Runtime, channel: ConsoleChannel) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    assert (
        await rt.bot.on_message(
            msg("nevermind, I'm all set now", thread=thread.thread, addressed=False), channel
        )
        == Outcome.RECORDED
    )
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.CLOSED and ticket.next_action_at is None
    assert any("closed ticket" in t for t in texts(channel))
    assert all("closed by the asker" in r.text for _, r in channel.edits[-2:])  # thread note + triage card


@pytest.mark.parametrize(
    "reply",
    [
        "해결됐나요?",  # "has it been solved?"
        "해결했어요? 아직 기다리고 있어요",
        "해결 완료가 아니에요, 아직 에러가 나요",  # "it is not solved"
        "I'm all set up but the webhook still fails",
    ],
)
async def test_an_askers_question_or_denial_does_not_close_their_ticket(
    rt: Runtime, channel: ConsoleChannel, reply: str
) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    await rt.bot.on_message(msg(reply, thread=thread.thread, addressed=False), channel)
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.OPEN
    assert not any("closed ticket" in t for t in texts(channel))


@pytest.mark.parametrize(
    "reply", ["I thought that fixed it, but the error is back today", "해결됐었는데 오늘 다시 안 돼요"]
)
async def test_the_problem_back_after_resolution_reopens_though_it_says_it_was_fixed(
    rt: Runtime, channel: ConsoleChannel, reply: str
) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    await rt.bot.on_command(command("resolve", str(ticket_id), STAFF), channel)
    await rt.bot.on_message(msg(reply, thread=thread.thread, addressed=False), channel)
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.OPEN


async def test_resolution_asks_for_a_rating_once_and_only_the_asker_rates(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    assert (
        await rt.bot.on_command(command("resolve", f"{ticket_id} replaced the cable", STAFF), channel)
        == Outcome.ANSWERED
    )
    prompts = [r for _, r in channel.posted if ActionKind.RATE_GOOD in {b.action for b in r.buttons}]
    assert len(prompts) == 1
    assert (
        await rt.bot.on_action(press(ActionKind.RATE_GOOD, str(ticket_id), STAFF, thread), channel)
        == Outcome.RECORDED
    )
    assert channel.posted[-1][1].text == "Only the person who asked can rate this ticket."
    await rt.bot.on_action(press(ActionKind.RATE_GOOD, str(ticket_id), ASKER, thread), channel)
    assert channel.posted[-1][1].text == "Thanks for rating!"
    await rt.bot.on_action(press(ActionKind.RATE_BAD, str(ticket_id), ASKER, thread), channel)
    assert channel.posted[-1][1].text == "You've already rated this ticket."
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.rating == "good" and ticket.note == "replaced the cable"


async def test_asker_reopens_within_the_window_but_thanks_do_not(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    await rt.bot.on_command(command("resolve", str(ticket_id), STAFF), channel)
    assert (
        await rt.bot.on_message(msg("Thank you!", thread=thread.thread, addressed=False), channel)
        == Outcome.RECORDED
    )
    assert texts(channel)[-1] == "You're welcome!"
    clock.advance(days=2)
    again = msg("It broke again after the update", thread=thread.thread, addressed=False)
    assert await rt.bot.on_message(again, channel) == Outcome.ESCALATED
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.OPEN
    [reopen_note] = posted_where(channel, lambda r: "reopened" in r.text)
    assert reopen_note.mentions == (Mention(kind=MentionKind.GROUP, id="S-TIER1"),)
    assert "reopened" in [e["event"] for e in rt.state.ticket_events(ticket_id)]
    # past the window a reply is a new question, not a reopen
    await rt.bot.on_command(command("resolve", str(ticket_id), STAFF), channel)
    clock.advance(days=8)
    late = msg("How long does a refund take?", thread=thread.thread, addressed=False)
    assert await rt.bot.on_message(late, channel) == Outcome.ANSWERED


AFTER_HOURS = CONFIG.replace("reopen_days = 7", 'reopen_days = 7\nbusiness_hours = "09:00-18:00"')
WITH_ON_CALL = AFTER_HOURS.replace(
    'second_tier_groups = ["S-TIER2"]', 'second_tier_groups = ["S-TIER2"]\noncall_users = ["U-ONCALL"]'
)
WEDNESDAY_10 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # in hours
SATURDAY_3 = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # out of hours
MONDAY_9 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # the team opens


async def reopened_on_saturday_night(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> tuple[int, Reply]:
    """A ticket opened and resolved on a Wednesday morning, its problem back at 03:00 on the
    Saturday after: its number and the thread's note that it is reopened."""
    clock.current = WEDNESDAY_10
    ticket_id, thread = await open_ticket(rt, channel)
    await rt.bot.on_command(command("resolve", str(ticket_id), STAFF), channel)
    clock.current = SATURDAY_3
    again = msg("It broke again after the update", thread=thread.thread, addressed=False)
    assert await rt.bot.on_message(again, channel) == Outcome.ESCALATED
    [note] = posted_where(channel, lambda r: "reopened" in r.text)
    return ticket_id, note


async def test_a_reopen_after_hours_tags_on_call_as_an_opening_at_that_hour_does(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    rt = make_runtime(WITH_ON_CALL)
    ticket_id, note = await reopened_on_saturday_night(rt, channel, clock)
    assert note.mentions == (Mention(kind=MentionKind.USER, id="U-ONCALL"),)  # not the day team
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.sla_stage == SlaStage.FIRST_RESPONSE
    assert ticket.next_action_at == datetime(2026, 12, 7, 9, 15, tzinfo=UTC)  # 15 working minutes


async def test_a_reopen_after_hours_without_on_call_waits_for_the_team_to_open(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    rt = make_runtime(AFTER_HOURS)
    ticket_id, note = await reopened_on_saturday_night(rt, channel, clock)
    assert note.mentions == ()  # nobody woken at 03:00
    # the asker is told when a person will be there, not that the team was told
    assert "let the team know" not in note.text and "after Mon 09:00" in note.text, note.text
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.sla_stage == SlaStage.WAITING_FOR_HOURS
    assert ticket.next_action_at == MONDAY_9
    clock.current = MONDAY_9
    assert await rt.bot.tick({"slack": channel}) == 1
    [ping] = posted_where(channel, lambda r: "outside business hours" in r.text)
    assert ping.mentions == (Mention(kind=MentionKind.GROUP, id="S-TIER1"),)


async def test_admin_reassigns_and_others_cannot(rt: Runtime, channel: ConsoleChannel) -> None:
    ticket_id, _ = await open_ticket(rt, channel)
    assert (
        await rt.bot.on_command(command("assign", f"{ticket_id} <@U-OLU|olu>", STAFF), channel)
        == Outcome.REFUSED
    )
    assert (
        await rt.bot.on_command(command("assign", f"#{ticket_id} <@U-OLU|olu>", ADMIN), channel)
        == Outcome.ANSWERED
    )
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.CLAIMED and ticket.assignee_id == "U-OLU"
    assert "reassigned" in [e["event"] for e in rt.state.ticket_events(ticket_id)]


async def test_assign_keeps_the_assignees_name_from_their_mention_and_tags_them(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """The thread read "Ada assigned this to U-OLU.": the mention's name was dropped and the
    raw id shown. Now the ticket keeps the name the mention carried, and the thread tags the
    person (which the platform shows as their name, and which tells them: a slash command
    pings nobody), named or not; an admin taking it themselves is named, not tagged."""

    def tagged(person: str) -> list[Reply]:
        return posted_where(channel, lambda r: Mention(kind=MentionKind.USER, id=person) in r.mentions)

    ticket_id, _ = await open_ticket(rt, channel)
    await rt.bot.on_command(command("assign", f"{ticket_id} <@U-OLU|olu>", ADMIN), channel)
    assert [r.text for r in tagged("U-OLU")] == ["Ada assigned this to you."]
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and (ticket.assignee_id, ticket.assignee_name) == ("U-OLU", "olu")
    await rt.bot.on_command(command("assign", f"{ticket_id} U0SAM1234", ADMIN), channel)
    assert [r.text for r in tagged("U0SAM1234")] == ["Ada assigned this to you."]
    await rt.bot.on_command(command("assign", f"{ticket_id} <@U-ADMIN|Ada>", ADMIN), channel)
    [own] = posted_where(channel, lambda r: "assigned this to Ada" in r.text)
    assert (own.text, own.mentions) == ("Ada assigned this to Ada.", ())


async def test_routing_by_tag_then_channel(rt: Runtime, channel: ConsoleChannel) -> None:
    await open_ticket(rt, channel, channel_id="C-BILLING")
    note = first_escalation(channel)
    assert note.mentions == (Mention(kind=MentionKind.USER, id="U-BILLING-LEAD"),)
    from bot.escalation import staff_mentions

    where = ConversationRef(platform="slack", workspace="T1", channel="C-GEN")
    assert staff_mentions(rt.settings, where, ("billing",)) == (
        Mention(kind=MentionKind.GROUP, id="S-BILLING"),
    )
    assert staff_mentions(rt.settings, where, ("other",)) == (Mention(kind=MentionKind.GROUP, id="S-TIER1"),)


BILLING_LEAD = Author(id="U-BILLING-LEAD", name="Bea")  # `[slack.channels.C-BILLING] staff_users`
BILLING_TEAM = Author(id="U-BILL", name="Bill", roles=frozenset({"S-BILLING"}))  # `[escalation.tags.billing]`


async def test_the_staff_a_channel_routes_its_tickets_to_claim_and_resolve_them_and_no_others(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    ticket_id, thread = await open_ticket(rt, channel, channel_id="C-BILLING")
    elsewhere, other_thread = await open_ticket_in(rt, channel, "C-GEN", asker="U-ASK2")
    # the lead is the only person tagged for C-BILLING's tickets, and staff for those alone
    await rt.bot.on_action(press(ActionKind.CLAIM, str(elsewhere), BILLING_LEAD, other_thread), channel)
    assert texts(channel)[-1] == "Only the support team can claim or resolve tickets."
    await rt.bot.on_action(press(ActionKind.CLAIM, str(ticket_id), BILLING_LEAD, thread), channel)
    claimed = rt.state.ticket(ticket_id)
    assert claimed is not None and claimed.status == TicketStatus.CLAIMED, texts(channel)[-1]
    await rt.bot.on_action(press(ActionKind.RESOLVE, str(ticket_id), BILLING_LEAD, thread), channel)
    done = rt.state.ticket(ticket_id)
    assert done is not None and done.status == TicketStatus.RESOLVED and done.assignee_id == "U-BILLING-LEAD"
    unclaimed = rt.state.ticket(elsewhere)
    assert unclaimed is not None and unclaimed.status == TicketStatus.OPEN


async def test_the_staff_a_channel_routes_its_tickets_to_claim_and_resolve_them_by_command_too(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """The buttons worked for them, but `/support claim N` was refused as "for staff only"
    (first-tier staff alone passed the command's check)."""
    ticket_id, _ = await open_ticket(rt, channel, channel_id="C-BILLING")
    elsewhere, _ = await open_ticket_in(rt, channel, "C-GEN", asker="U-ASK2")
    await rt.bot.on_command(command("claim", str(elsewhere), BILLING_LEAD), channel)
    assert texts(channel)[-1] == "Only the support team can claim or resolve tickets."
    await rt.bot.on_command(command("claim", str(ticket_id), BILLING_LEAD), channel)
    claimed = rt.state.ticket(ticket_id)
    assert claimed is not None and claimed.status == TicketStatus.CLAIMED, texts(channel)[-1]
    await rt.bot.on_command(command("resolve", f"{ticket_id} refunded", BILLING_LEAD), channel)
    done = rt.state.ticket(ticket_id)
    assert done is not None and done.status == TicketStatus.RESOLVED and done.note == "refunded"
    # the people no ticket is routed to are still told the command is not theirs, before any
    # ticket is looked up; and routed staff are not staff for the other staff commands
    await rt.bot.on_command(command("claim", str(elsewhere), ASKER), channel)
    assert texts(channel)[-1] == "`/support claim` is for staff only. Ask an admin if you need it."
    await rt.bot.on_command(command("tickets", "", BILLING_LEAD), channel)
    assert texts(channel)[-1] == "`/support tickets` is for staff only. Ask an admin if you need it."


async def test_the_channel_staffs_reply_in_their_tickets_thread_takes_it_over_as_staffs_does(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    ticket_id, thread = await open_ticket(rt, channel, channel_id="C-BILLING")
    reply = msg(
        "Hi Ann, I'll check the invoice", author=BILLING_LEAD, channel="C-BILLING", thread=thread.thread
    )
    assert (
        await rt.bot.on_message(replace(reply, addressed=False), channel) == Outcome.RECORDED
    )  # not answered
    ticket = rt.state.ticket(ticket_id)
    assert (
        ticket is not None
        and ticket.status == TicketStatus.CLAIMED
        and ticket.assignee_id == "U-BILLING-LEAD"
    )
    # in another channel's ticket thread they are whoever they are there: not its staff
    elsewhere, other_thread = await open_ticket_in(rt, channel, "C-GEN", asker="U-ASK2")
    there = msg(
        "Hi, I'll check the invoice", author=BILLING_LEAD, thread=other_thread.thread, addressed=False
    )
    assert await rt.bot.on_message(there, channel) != Outcome.RECORDED
    untouched = rt.state.ticket(elsewhere)
    assert untouched is not None and untouched.status == TicketStatus.OPEN


async def test_the_channel_staffs_own_question_is_theirs_to_ask_not_to_take_over(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """Routed staff who ask in their own channel are its asker there: a follow-up in their
    ticket's thread does not claim it for them, and the ticket stays open for the others."""
    ticket_id, thread = await open_ticket_in(rt, channel, "C-BILLING", asker=BILLING_LEAD.id)
    follow_up = msg(
        "Still broken, any news?",
        author=BILLING_LEAD,
        channel="C-BILLING",
        thread=thread.thread,
        addressed=False,
    )
    await rt.bot.on_message(follow_up, channel)
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and (ticket.status, ticket.assignee_id) == (TicketStatus.OPEN, None)


async def staff_asks_for_a_person(rt: Runtime, channel: ConsoleChannel) -> tuple[int, ConversationRef]:
    asked = msg("I want to talk to a human please", author=STAFF)
    assert await rt.bot.on_message(asked, channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    return ticket.id, ticket.conversation


async def test_a_staff_members_own_question_is_not_claimed_by_their_follow_up(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """The platform's staff asking for a person are that ticket's asker, as a channel's staff
    are: their follow-up in its thread used to claim it for them ("Sam is looking at this
    now"), taking it out of the open queue."""
    ticket_id, thread = await staff_asks_for_a_person(rt, channel)
    follow_up = msg("Still broken, any news?", author=STAFF, thread=thread.thread, addressed=False)
    await rt.bot.on_message(follow_up, channel)
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and (ticket.status, ticket.assignee_id) == (TicketStatus.OPEN, None)
    # in someone else's ticket's thread they are staff still: their reply claims it
    other_id, other = await open_ticket_in(rt, channel, "C-GEN", asker="U-ASK2")
    await rt.bot.on_message(msg("On it", author=STAFF, thread=other.thread, addressed=False), channel)
    claimed = rt.state.ticket(other_id)
    assert claimed is not None and claimed.assignee_id == STAFF.id


async def test_a_staff_asker_can_close_their_own_ticket_by_saying_all_set(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """Their "I'm all set" used to be a staff reply taking the thread over: the ticket stayed open."""
    ticket_id, thread = await staff_asks_for_a_person(rt, channel)
    done = msg("nevermind, I'm all set now", author=STAFF, thread=thread.thread, addressed=False)
    assert await rt.bot.on_message(done, channel) == Outcome.RECORDED
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.CLOSED


async def test_a_staff_asker_reopens_their_resolved_ticket_as_any_asker_does(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """Their reply after resolution used to be a staff reply taking the thread over: recorded,
    and the ticket stayed resolved."""
    ticket_id, thread = await staff_asks_for_a_person(rt, channel)
    await rt.bot.on_command(command("resolve", str(ticket_id), OTHER_STAFF), channel)
    again = msg("It broke again after the update", author=STAFF, thread=thread.thread, addressed=False)
    assert await rt.bot.on_message(again, channel) == Outcome.ESCALATED
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.OPEN


async def test_the_staff_a_tag_routes_its_tickets_to_claim_them_and_no_others(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    where = ConversationRef(platform="slack", workspace="T1", channel="C-GEN", thread="1.1")
    about_billing = await rt.bot.escalations.open(
        conversation=where,
        asker=ASKER,
        question="Why was I charged twice?",
        reason=EscalationReason.LOW_CONFIDENCE,
        channel=channel,
        language="en",
        tags=("billing",),
    )
    untagged, other_thread = await open_ticket_in(rt, channel, "C-GEN", asker="U-ASK2")
    await rt.bot.on_action(press(ActionKind.CLAIM, str(untagged), BILLING_TEAM, other_thread), channel)
    assert texts(channel)[-1] == "Only the support team can claim or resolve tickets."
    await rt.bot.on_action(press(ActionKind.CLAIM, str(about_billing.id), BILLING_TEAM, where), channel)
    claimed = rt.state.ticket(about_billing.id)
    assert claimed is not None and claimed.status == TicketStatus.CLAIMED and claimed.assignee_id == "U-BILL"


async def test_unanswered_follow_up_is_its_own_reason_and_staff_see_what_the_bot_tried(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    await rt.bot.on_message(msg("How long does a refund take to arrive?"), channel)
    thread = channel.posted[0][1].conversation
    follow = msg("Do you ship to Antarctica by penguin?", thread=thread.thread, addressed=False)
    assert await rt.bot.on_message(follow, channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    assert ticket.reason == EscalationReason.UNANSWERED_FOLLOWUPS
    card = posted_where(channel, lambda r: r.kind == ReplyKind.TICKET)[0]
    assert "follow-up questions went unanswered" in card.text and "penguin" in card.text


async def test_tickets_listing_shows_age_sla_assignee_and_reason(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    clock.advance(minutes=5)
    await rt.bot.on_command(command("tickets", "", STAFF), channel)
    listing = texts(channel)[-1]
    assert f"#{ticket_id} [open] 5m old, asked for a person" in listing and "next deadline in 10m" in listing
    await rt.bot.on_action(press(ActionKind.CLAIM, str(ticket_id), STAFF, thread), channel)
    await rt.bot.on_command(command("tickets", "mine", STAFF), channel)
    assert f"#{ticket_id} [claimed, Sam]" in texts(channel)[-1]
    # the same staff member in another workspace sees that workspace's tickets only
    await rt.bot.on_command(command("tickets", "all", STAFF, workspace="T2"), channel)
    assert texts(channel)[-1] == "No tickets here."


async def test_tickets_listing_is_in_korean_for_a_korean_app(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    """The header followed the reader's language but each line stayed English ("[open] 5m
    old, asked_for_human, SLA next deadline in 10m"), and without opt-in memory the whole
    reply was English to someone whose Discord app is in Korean."""
    ticket_id, _ = await open_ticket(rt, channel)
    clock.advance(minutes=5)
    korean_app = replace(command("tickets", "", STAFF), locale="ko")
    await rt.bot.on_command(korean_app, channel)
    header, line = texts(channel)[-1].splitlines()
    assert header == "열린 티켓 1건 (오래된 순):"
    assert line.startswith(f"- #{ticket_id} [열림] 5분 경과, 사람을 요청함, SLA 다음 기한까지 10분: ")
    await rt.bot.on_command(command("resolve", str(ticket_id), STAFF), channel)
    await rt.bot.on_command(replace(command("tickets", "all", STAFF), locale="en-US"), channel)
    assert f"#{ticket_id} [resolved, Sam] 5m old, asked for a person, SLA done: " in texts(channel)[-1]
    # an app in a language the bot does not speak reads English
    await rt.bot.on_command(replace(command("tickets", "all", STAFF), locale="ja"), channel)
    assert texts(channel)[-1].startswith("1 ticket(s), newest first:")


async def test_tickets_lists_the_longest_waiting_first_and_says_how_many_there_are(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    """With 55 open it said "50 open ticket(s):" and listed the newest 50, hiding the five
    waiting longest."""
    for i in range(55):
        assert await rt.bot.on_message(msg(f"I want to talk to a human please ({i})"), channel) == (
            Outcome.ESCALATED
        )
        clock.advance(minutes=1)
    ids = sorted(t.id for t in rt.state.tickets(None, None, 1000))
    await rt.bot.on_command(command("tickets", "", STAFF), channel)
    header, *rows = texts(channel)[-1].splitlines()
    assert header == "55 open ticket(s); showing the 50 waiting longest:"
    assert [row.split(" ", 2)[1] for row in rows] == [f"#{i}" for i in ids[:50]]
    # a list that fits says so, in the same order
    await rt.bot.on_command(command("resolve", str(ids[0]), STAFF), channel)
    for ticket_id in ids[-5:]:
        await rt.bot.on_command(command("resolve", str(ticket_id), STAFF), channel)
    await rt.bot.on_command(command("tickets", "open", STAFF), channel)
    header, *rows = texts(channel)[-1].splitlines()
    assert header == "49 open ticket(s), oldest first:" and rows[0].startswith(f"- #{ids[1]} ")
    # every status: a history, the newest first
    await rt.bot.on_command(command("tickets", "all", STAFF), channel)
    header, *rows = texts(channel)[-1].splitlines()
    assert header == "55 ticket(s); showing the newest 50:" and rows[0].startswith(f"- #{ids[-1]} ")


async def test_a_discord_server_lists_its_own_tickets_and_direct_messages_not_another_servers(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    rt = make_runtime('[discord]\nstaff_users = ["D-STAFF"]\n')
    staff = Author(id="D-STAFF", name="Dee")

    def asked(workspace: str, visibility: Visibility) -> InboundMessage:
        return InboundMessage(
            id=f"e{next(_ids)}",
            conversation=ConversationRef(platform="discord", workspace=workspace, channel=f"{workspace}-C"),
            author=Author(id=f"D-{workspace}", name="asker"),
            text=f"I want to talk to a human please ({workspace})",
            addressed=True,
            visibility=visibility,
            sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
        )

    for workspace, visibility in (
        ("G1", Visibility.INTERNAL),
        ("G2", Visibility.INTERNAL),
        ("dm", Visibility.DIRECT),
    ):
        assert await rt.bot.on_message(asked(workspace, visibility), channel) == Outcome.ESCALATED
    listing = Command(
        id=f"c{next(_ids)}",
        name="tickets",
        args="all",
        invoker=staff,
        conversation=ConversationRef(platform="discord", workspace="G1", channel="G1-TEAM"),
        visibility=Visibility.INTERNAL,
    )
    await rt.bot.on_command(listing, channel)
    text = texts(channel)[-1]
    # the server's own and the direct messages' (staff act on those from any server)
    assert "(G1)" in text and "(dm)" in text and "(G2)" not in text
    # from a direct message: the direct messages' alone (a DM names no server)
    from_dm = replace(
        listing,
        id=f"c{next(_ids)}",
        conversation=ConversationRef(platform="discord", workspace="dm", channel="D1"),
    )
    await rt.bot.on_command(from_dm, channel)
    text = texts(channel)[-1]
    assert "(dm)" in text and "(G1)" not in text and "(G2)" not in text


def in_server(name: str, args: str, invoker: Author, server: str) -> Command:
    """`/support name args` typed in a channel of the Discord server `server`."""
    return Command(
        id=f"c{next(_ids)}",
        name=name,
        args=args,
        invoker=invoker,
        conversation=ConversationRef(platform="discord", workspace=server, channel=f"{server}-TEAM"),
        visibility=Visibility.INTERNAL,
    )


async def test_server_staff_work_direct_message_tickets_with_the_rights_of_the_server_they_act_from(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    # staff by a role of one server only: the shared settings, a direct message's, name nobody
    rt = make_runtime('[discord.workspaces."G1"]\nstaff_roles = ["R-G1"]\nadmin_roles = ["R-G1-ADMIN"]\n')
    dee = Author(id="D-STAFF", name="Dee", roles=frozenset({"R-G1"}))
    boss = Author(id="D-BOSS", name="Bo", roles=frozenset({"R-G1-ADMIN"}))
    asked = InboundMessage(
        id=f"e{next(_ids)}",
        conversation=ConversationRef(platform="discord", workspace="dm", channel="DM-C"),
        author=Author(id="D-ASK", name="asker"),
        text="I want to talk to a human please",
        addressed=True,
        visibility=Visibility.DIRECT,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )
    assert await rt.bot.on_message(asked, channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    # the role means nothing in another server (the role ids a server gives are its own)
    in_g2 = ConversationRef(platform="discord", workspace="G2", channel="G2-TRIAGE")
    await rt.bot.on_action(press(ActionKind.CLAIM, str(ticket.id), dee, in_g2), channel)
    assert texts(channel)[-1] == "Only the support team can claim or resolve tickets."
    await rt.bot.on_command(in_server("tickets", "all", dee, "G1"), channel)
    assert f"#{ticket.id}" in texts(channel)[-1]  # listed to them in G1 ...
    await rt.bot.on_command(in_server("claim", str(ticket.id), dee, "G1"), channel)  # ... and theirs to take
    claimed = rt.state.ticket(ticket.id)
    assert claimed is not None and claimed.status == TicketStatus.CLAIMED and claimed.assignee_id == "D-STAFF"
    # and an admin of that server reassigns it, as `/support assign` does its own tickets
    await rt.bot.on_command(in_server("assign", f"{ticket.id} <@D-OTHER>", boss, "G1"), channel)
    moved = rt.state.ticket(ticket.id)
    assert moved is not None and moved.assignee_id == "D-OTHER", texts(channel)[-1]
    on_card = ConversationRef(platform="discord", workspace="G1", channel="G1-TRIAGE")
    assert await rt.bot.on_action(press(ActionKind.RESOLVE, str(ticket.id), dee, on_card), channel) == (
        Outcome.RECORDED
    )
    done = rt.state.ticket(ticket.id)
    assert done is not None and done.status == TicketStatus.RESOLVED


async def test_korean_request_for_a_person(rt: Runtime, channel: ConsoleChannel) -> None:
    assert await rt.bot.on_message(msg("상담원 연결해 주세요"), channel) == Outcome.ESCALATED
    note = first_escalation(channel)
    assert "담당자를 연결해 드리겠습니다" in note.text and "티켓 #1" in note.text


async def test_a_korean_asker_asking_again_is_told_the_status_in_korean(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """It said "이미 지원팀에 전달되어 있습니다 (티켓 #1, claimed by Sam)"."""
    assert await rt.bot.on_message(msg("상담원 연결해 주세요"), channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    await rt.bot.on_command(command("claim", str(ticket.id), STAFF), channel)
    again = msg("상담원 연결해 주세요", thread=ticket.conversation.thread)
    assert await rt.bot.on_message(again, channel) == Outcome.ESCALATED
    [said] = [t for t in texts(channel) if "이미 지원팀" in t]
    assert f"(티켓 #{ticket.id}, Sam님이 담당 중)" in said, said


async def test_learning_loop_from_resolution_to_a_new_answer(rt: Runtime, channel: ConsoleChannel) -> None:
    question = "How do I rotate the webhook signing key?"
    assert await rt.bot.on_message(msg(question), channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    thread = ticket.conversation
    staff_answer = (
        "Open Settings, then Webhooks, and press Rotate signing key. The old webhook signing key keeps "
        "working for 24 hours so you can update your receivers."
    )
    await rt.bot.on_message(msg(staff_answer, author=STAFF, thread=thread.thread, addressed=False), channel)
    await rt.bot.on_command(command("resolve", str(ticket.id), STAFF), channel)
    assert "knowledge draft #1" in texts(channel)[-1]
    await rt.bot.on_command(command("learn", "list", ADMIN), channel)
    assert "#1 How do I rotate the webhook signing key?" in texts(channel)[-1]
    # another workspace's admins see neither the draft nor the question in it
    await rt.bot.on_command(command("learn", "list", ADMIN, workspace="T2"), channel)
    assert texts(channel)[-1] == "No drafts waiting for review."
    await rt.bot.on_command(command("learn", "show 1", ADMIN, workspace="T2"), channel)
    assert texts(channel)[-1] == "There is no draft #1."
    assert (
        await rt.bot.on_command(command("learn", "approve 1", STAFF), channel) == Outcome.REFUSED
    )  # admins only
    await rt.bot.on_command(command("learn", "title 1 Rotating the webhook signing key", ADMIN), channel)
    await rt.bot.on_command(command("learn", "approve 1", ADMIN), channel)
    assert "approved: written to `learned/" in texts(channel)[-1]
    [written] = list((rt.settings.knowledge_dir / "learned").glob("*.md"))
    content = written.read_text(encoding="utf-8")
    assert "title: Rotating the webhook signing key" in content and "visibility: internal" in content
    assert f"source: 'ticket #{ticket.id}'" in content or f"source: ticket #{ticket.id}" in content
    await rt.bot.on_command(command("learn", "approve 1", ADMIN), channel)
    assert "already approved" in texts(channel)[-1]
    # the next person asking the same thing gets the answer without a human
    assert (
        await rt.bot.on_message(
            msg("how can I rotate my webhook signing key?", author=Author(id="U-NEW")), channel
        )
        == Outcome.ANSWERED
    )
    answer = channel.posted[-1][1]
    assert "Rotate signing key" in answer.text and answer.citations[0].path.startswith("learned/")


async def test_learn_list_and_title_show_an_askers_link_as_typed(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """A draft's title is the asker's first line until staff retitle it: a link typed there
    is listed as typed, as `learn show` shows it, never as the bot's own link (on Slack,
    `<https://...|label>` under the bot's name, to the admins)."""
    link = "[the official reset page](https://evil.example/phish)"
    assert await rt.bot.on_message(msg(f"How do I rotate the webhook signing key? See {link}"), channel) == (
        Outcome.ESCALATED
    )
    [ticket] = rt.state.tickets()
    staff_answer = "Open Settings, then Webhooks, and press Rotate signing key."
    await rt.bot.on_message(
        msg(staff_answer, author=STAFF, thread=ticket.conversation.thread, addressed=False), channel
    )
    await rt.bot.on_command(command("resolve", str(ticket.id), STAFF), channel)
    for said in ("list", f"title 1 Rotating keys {link}"):
        await rt.bot.on_command(command("learn", said, ADMIN), channel)
        text = texts(channel)[-1]
        assert literal(link) in text and link not in text, text
        assert "<https://evil.example/phish|" not in to_mrkdwn(text)


def awaiting(task: asyncio.Task[object], qualname: str) -> bool:
    """Whether `task` is suspended inside the coroutine `qualname` (down its chain of awaits)."""
    coro: object = task.get_coro()
    while coro is not None:
        if getattr(coro, "__qualname__", "") == qualname:
            return True
        coro = getattr(coro, "cr_await", None)
    return False


async def test_an_approval_that_loses_to_an_edit_says_the_draft_changed(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    await rt.bot.on_message(
        msg(
            "Press Rotate signing key in Settings, Webhooks.",
            author=STAFF,
            thread=thread.thread,
            addressed=False,
        ),
        channel,
    )
    await rt.bot.on_command(command("resolve", str(ticket_id), STAFF), channel)
    # the knowledge thread is busy (a reindex), so the approval's file write waits in line
    gate = threading.Event()
    held = asyncio.ensure_future(rt.bot.knowledge.run(gate.wait))
    approving: asyncio.Task[object] = asyncio.ensure_future(
        rt.bot.on_command(command("learn", "approve 1", ADMIN), channel)
    )
    for _ in range(1000):
        if awaiting(approving, "KnowledgeService.run"):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the approval never reached its file write")
    # meanwhile another admin saves an edit (the dashboard's save, `learn title`)
    assert await rt.store.run(StateStore.retitle_draft, 1, "Rotating the signing key")
    gate.set()
    await held
    await approving
    draft = rt.state.draft(1)
    assert draft is not None and draft.status == "pending"
    assert texts(channel)[-1] == (
        "Draft #1 was changed while you approved it, and is still waiting: review it with "
        "`learn show 1` and approve again."
    )
    assert not list((rt.settings.knowledge_dir / "learned").glob("*.md"))  # the file was taken back
    await rt.bot.on_command(command("learn", "approve 1", ADMIN), channel)
    assert "approved: written to `learned/" in texts(channel)[-1]


async def test_rejected_draft_writes_nothing(rt: Runtime, channel: ConsoleChannel) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    await rt.bot.on_message(
        msg("Try turning it off and on.", author=STAFF, thread=thread.thread, addressed=False), channel
    )
    await rt.bot.on_command(command("resolve", str(ticket_id), STAFF), channel)
    await rt.bot.on_command(command("learn", "reject 1", ADMIN), channel)
    assert texts(channel)[-1] == "Draft #1 rejected."
    assert not (rt.settings.knowledge_dir / "learned").exists()


async def test_rights_on_one_platform_do_not_reach_tickets_of_another(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    ticket_id, _ = await open_ticket(rt, channel)
    discord_admin = Author(id="D1", name="Dee", platform_admin=True)
    on_discord = ConversationRef(platform="discord", workspace="G1", channel="77")
    event = ActionEvent(
        id="x1",
        conversation=on_discord,
        actor=discord_admin,
        action=ActionKind.RESOLVE,
        value=str(ticket_id),
        visibility=Visibility.PUBLIC,
    )
    assert await rt.bot.on_action(event, channel) == Outcome.REFUSED
    assert texts(channel)[-1] == f"Ticket #{ticket_id} belongs to slack; work on it there."
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.OPEN


async def test_korean_tickets_are_announced_in_korean(rt: Runtime, channel: ConsoleChannel) -> None:
    assert await rt.bot.on_message(msg("상담원 연결해 주세요"), channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    await rt.bot.on_command(command("claim", str(ticket.id), STAFF), channel)
    assert any("Sam님이 확인 중이며" in t for t in texts(channel))


@pytest.mark.parametrize(
    "reply",
    ["That did not fix it", "It's happening again", "The reset email never arrived", "아직도 안됩니다"],
)
async def test_a_resolved_ticket_reopens_when_the_problem_is_back(
    rt: Runtime, channel: ConsoleChannel, reply: str
) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    await rt.bot.on_command(command("resolve", str(ticket_id), STAFF), channel)
    assert (
        await rt.bot.on_message(msg(reply, thread=thread.thread, addressed=False), channel)
        == Outcome.ESCALATED
    )
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.OPEN


@pytest.mark.parametrize("reply", ["ok", "Got it!", "네 알겠습니다", "👍"])
async def test_an_acknowledgement_never_reopens(rt: Runtime, channel: ConsoleChannel, reply: str) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    await rt.bot.on_command(command("resolve", str(ticket_id), STAFF), channel)
    posted = len(channel.posted)
    assert (
        await rt.bot.on_message(msg(reply, thread=thread.thread, addressed=False), channel)
        == Outcome.RECORDED
    )
    assert len(channel.posted) == posted
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.RESOLVED


async def test_a_pending_draft_follows_the_staff_correction_after_a_reopen(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    in_thread = {"thread": thread.thread, "addressed": False}
    await rt.bot.on_message(msg("Clear the cache and retry.", author=STAFF, **in_thread), channel)  # type: ignore[arg-type]
    await rt.bot.on_command(command("resolve", str(ticket_id), STAFF), channel)
    await rt.bot.on_message(msg("That did not fix it", **in_thread), channel)  # type: ignore[arg-type]
    await rt.bot.on_message(msg("Real fix: rotate the SSO certificate.", author=STAFF, **in_thread), channel)  # type: ignore[arg-type]
    await rt.bot.on_command(command("resolve", str(ticket_id), STAFF), channel)
    [draft] = rt.state.drafts("pending")
    assert "rotate the SSO certificate" in draft.answer


async def test_a_ticket_whose_announcement_failed_is_announced_later(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    class FailOnce(ConsoleChannel):
        failed = False

        async def send(self, reply: Reply):  # type: ignore[no-untyped-def]
            if reply.kind == ReplyKind.ESCALATION and not FailOnce.failed:
                FailOnce.failed = True
                raise RuntimeError("platform down")
            return await super().send(reply)

    flaky = FailOnce(io.StringIO())
    outcome = await rt.bot.on_message(msg("I want to talk to a human please"), flaky)
    assert outcome == Outcome.FAILED  # the first announcement failed ...
    [ticket] = rt.state.tickets()
    notes = [r for _, r in flaky.posted if r.kind == ReplyKind.ESCALATION]
    assert len(notes) == 1 and f"ticket #{ticket.id}" in notes[0].text  # ... so the apology announced it
    assert notes[0].mentions == (Mention(kind=MentionKind.GROUP, id="S-TIER1"),)
    assert "already with the support team" not in notes[0].text


async def test_without_threads_each_asker_keeps_their_own_ticket(rt: Runtime) -> None:
    class NoThreads(ConsoleChannel):
        async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
            return message.conversation  # a platform or channel where threads cannot be made

    flat = NoThreads(io.StringIO())
    await rt.bot.on_message(msg("I want to talk to a human please"), flat)
    bob = Author(id="U-BOB", name="Bob")
    await rt.bot.on_message(msg("I need a human, my invoices are wrong", author=bob), flat)
    tickets = rt.state.tickets()
    assert {t.asker_id for t in tickets} == {ASKER.id, bob.id}
    assert not any("already with the support team" in r.text for _, r in flat.posted)
