"""Tickets' lifecycle (bot/escalation/tickets.py) beyond tests/bot/test_escalation.py's walk
through it: a reassign to whoever already has the ticket is no change, whoever may not work
a ticket is told so in their language, and a direct message's ticket is worked where staff are."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import replace

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.core import Outcome
from bot.messages import say
from bot.types import ActionKind, Author, Command, Mention, MentionKind, ReplyKind, TicketStatus, Visibility
from tests.bot.privacy.test_forget import NoThreads
from tests.bot.test_escalation import ADMIN, ASKER, CONFIG, STAFF, command, msg, open_ticket, press
from tests.fakes.clock import FakeClock

OLU = Author(id="U-OLU", name="U-OLU")  # as `/support assign` and the dashboard name the assignee


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(CONFIG)


def thread_notes(channel: ConsoleChannel, since: int) -> list[str]:
    """What was posted for everyone to read (not to one person) since `since` posts."""
    return [reply.text for _, reply in channel.posted[since:] if not reply.ephemeral_to]


async def test_assigning_to_whoever_has_it_changes_nothing_and_says_so(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    assign = f"{ticket_id} <@U-OLU>"
    assert await rt.bot.on_command(command("assign", assign, ADMIN), channel) == Outcome.ANSWERED
    events, before = len(rt.state.ticket_events(ticket_id)), len(channel.posted)
    assert await rt.bot.on_command(command("assign", assign, ADMIN), channel) == Outcome.ANSWERED
    assert thread_notes(channel, before) == []  # the thread is not told "assigned this to" again
    assert [reply.text for _, reply in channel.posted[before:]] == [
        f"Ticket #{ticket_id} is already assigned to U-OLU: nothing changed."
    ]
    assert len(rt.state.ticket_events(ticket_id)) == events
    # to someone else it is a change again
    assert (await rt.bot.escalations.reassign(ticket_id, ADMIN, ADMIN, channel, thread)).changed


async def test_two_presses_assigning_the_same_person_at_once_tell_the_thread_once(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    ticket_id, thread = await open_ticket(rt, channel)
    before = len(channel.posted)
    results = await asyncio.gather(
        rt.bot.escalations.reassign(ticket_id, ADMIN, OLU, channel, thread),
        rt.bot.escalations.reassign(ticket_id, ADMIN, OLU, channel, thread),
    )
    assert sorted(result.changed for result in results) == [False, True]
    assert [text for text in thread_notes(channel, before) if "assigned this to" in text] == [
        "Ada assigned this to you."
    ]
    assert [e["event"] for e in rt.state.ticket_events(ticket_id)].count("reassigned") == 1


async def test_a_korean_asker_pressing_resolve_on_their_note_is_refused_in_korean(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """The note in a Korean asker's thread carries 담당하기 / 해결 완료 buttons; the asker
    pressing 해결 완료 was refused in English ("Only the support team can claim or resolve
    tickets."). Now in the language their memory holds, else the ticket's."""
    assert await rt.bot.on_message(msg("상담원 연결해 주세요"), channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    assert ticket.language == "ko"

    await rt.bot.on_action(press(ActionKind.RESOLVE, str(ticket.id), ASKER, ticket.conversation), channel)

    refusal = channel.posted[-1][1]
    assert refusal.ephemeral_to == ASKER.id and refusal.text == say("staff_only", "ko")
    assert rt.state.ticket(ticket.id).status == TicketStatus.OPEN  # type: ignore[union-attr]
    # someone whose memory holds English is refused in English, whatever the ticket's language
    bob = Author(id="U-BOB", name="Bob")
    await rt.bot.on_command(
        Command(
            id="c-bob",
            name="remember",
            args="on",
            invoker=bob,
            conversation=ticket.conversation,
            visibility=msg("x").visibility,
        ),
        channel,
    )
    await rt.bot.on_message(msg("How long does a refund take to arrive?", author=bob), channel)
    await rt.bot.on_action(press(ActionKind.CLAIM, str(ticket.id), bob, ticket.conversation), channel)
    assert channel.posted[-1][1].text == "Only the support team can claim or resolve tickets."


async def test_a_direct_messages_ticket_claimed_and_reopened_tags_staff_in_the_triage_channel(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    """Nobody of the team can write in a direct message with the bot. Its asker was told "Sam
    is looking at this now and will reply here", and when they wrote again after the ticket
    was resolved, the reopen tagged the first tier in their DM, where no staff member is."""
    asked = replace(msg("I want to talk to a human", channel="D-ANN"), visibility=Visibility.DIRECT)
    assert await rt.bot.on_message(asked, channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    await rt.bot.on_command(command("claim", str(ticket.id), STAFF), channel)
    await rt.bot.on_command(command("resolve", str(ticket.id), STAFF), channel)
    clock.advance(days=1)
    again = replace(asked, id="e-again", text="It broke again after the update", addressed=False)
    again = replace(again, conversation=ticket.conversation)
    assert await rt.bot.on_message(again, channel) == Outcome.ESCALATED
    in_dm = [reply for _, reply in channel.posted if reply.conversation.channel == "D-ANN"]
    assert "Sam is looking at this now and will contact you directly." in [r.text for r in in_dm]
    assert [r for r in in_dm if r.mentions] == []
    [reopened] = [reply for _, reply in channel.posted if "was reopened" in reply.text]
    assert reopened.conversation.channel == "C-TRIAGE" and reopened.text.startswith(f"Ticket #{ticket.id}")
    assert reopened.mentions == (Mention(kind=MentionKind.GROUP, id="S-TIER1"),)


async def test_a_direct_messages_ticket_assigned_by_id_tags_nobody_in_the_dm(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """`/support assign N U…` on a direct message's ticket posted "Ada assigned this to you." in
    the asker's DM, tagging the new assignee there: the asker read it as said to them."""
    asked = replace(msg("I want to talk to a human", channel="D-ANN"), visibility=Visibility.DIRECT)
    assert await rt.bot.on_message(asked, channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    await rt.bot.on_command(command("assign", f"{ticket.id} U0OLU12345", ADMIN), channel)
    assigned = rt.state.ticket(ticket.id)
    assert assigned is not None and assigned.assignee_id == "U0OLU12345"
    in_dm = [reply for _, reply in channel.posted if reply.conversation.channel == "D-ANN"]
    assert in_dm[-1].text == say("reassigned_direct", who=ADMIN.display) and in_dm[-1].mentions == ()


async def test_a_ticket_in_a_channel_without_threads_promises_no_thread(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """Where the bot may not make threads it answers in place, and the ticket's note said "A
    person will reply in this thread" (there was none); it says "here" wherever it is."""
    threadless = NoThreads(io.StringIO())
    assert await rt.bot.on_message(msg("I want to talk to a human"), threadless) == Outcome.ESCALATED
    [note] = [reply for _, reply in threadless.posted if reply.kind == ReplyKind.ESCALATION]
    assert note.conversation.thread is None
    assert "A person will reply here;" in note.text and "thread" not in note.text


def korean(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


async def test_claim_replies_in_the_language_of_a_korean_staff_members_app(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """`/support tickets` answers someone whose app is in Korean in Korean (README: a
    command's reply follows the person's memory, then the locale their app gives), but
    `claim`, `resolve` and `assign` said "Ticket #1 is now claimed by Sam.", "There is no
    ticket #99." and "'x' is not a ticket number; ..." in English."""
    ticket_id, thread = await open_ticket(rt, channel)

    async def said(name: str, args: str, who: Author = STAFF) -> str:
        await rt.bot.on_command(replace(command(name, args, who), locale="ko"), channel)
        return channel.posted[-1][1].text

    assert await said("claim", str(ticket_id)) == f"티켓 #{ticket_id} 상태: 이제 Sam님이 담당 중."
    assert await said("claim", str(ticket_id)) == f"티켓 #{ticket_id} 상태: 이미 Sam님이 담당 중."
    assert await said("claim", "99") == "티켓 #99은 없습니다."
    assert korean(await said("claim", "x"))  # not a number
    assert korean(await said("resolve", f"{ticket_id} {'x' * 2001}"))  # the note is too long
    assert korean(await said("assign", "99 <@U-OLU>", ADMIN))
    answer = "Open Settings, then Webhooks, and press Rotate signing key; the old key works for a day."
    await rt.bot.on_message(msg(answer, author=STAFF, thread=thread.thread, addressed=False), channel)
    resolved = await said("resolve", str(ticket_id))
    assert resolved.startswith(f"티켓 #{ticket_id} 상태: 이제 Sam님이 해결 완료.")
    assert "지식 초안 #1" in resolved  # the staff reply became a draft
    assert rt.state.tickets()[0].status == TicketStatus.RESOLVED
    # an English app, and the card's buttons, are answered in English as before
    await rt.bot.on_command(command("claim", "99", STAFF), channel)
    assert channel.posted[-1][1].text == "There is no ticket #99."


async def test_learn_replies_in_the_language_of_a_korean_admins_app(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """`/support learn` said everything in English ("No drafts waiting for review.", "There is
    no draft #1.") to an admin whose app is in Korean."""

    async def said(args: str) -> str:
        await rt.bot.on_command(replace(command("learn", args, ADMIN), locale="ko"), channel)
        return channel.posted[-1][1].text

    assert await said("list") == "검토를 기다리는 초안이 없습니다."
    assert await said("show 1") == "초안 #1은 없습니다."
    assert korean(await said("show"))  # the draft number is missing
    assert korean(await said("show x"))  # not a number
