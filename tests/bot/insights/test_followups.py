"""Follow-ups: one "Did this solve it?" per answered thread nobody confirmed, through the real
core, store and clock tick. Time moves only when a test moves the clock."""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.core import Outcome
from bot.types import (
    ActionEvent,
    ActionKind,
    Author,
    ConversationRef,
    EscalationReason,
    InboundMessage,
    Mention,
    MentionKind,
    Posted,
    Reply,
    ReplyKind,
    TicketStatus,
    Visibility,
)
from tests.fakes.clock import FakeClock

CONFIG = """
[slack]
staff_users = ["U-STAFF"]
triage_channel = "C-TRIAGE"
"""

ASKER = Author(id="U-ASK", name="Ann")
OTHER = Author(id="U-BEN", name="Ben")
STAFF = Author(id="U-STAFF", name="Sam")
_ids = itertools.count(1)


def msg(text: str, *, author: Author = ASKER, thread: ConversationRef | None = None) -> InboundMessage:
    return InboundMessage(
        id=f"f{next(_ids)}",
        conversation=thread or ConversationRef(platform="slack", workspace="T1", channel="C-GEN"),
        author=author,
        text=text,
        addressed=thread is None,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )


def press(action: ActionKind, answer_id: int, actor: Author, thread: ConversationRef) -> ActionEvent:
    return ActionEvent(
        id=f"p{next(_ids)}",
        conversation=thread,
        actor=actor,
        action=action,
        value=str(answer_id),
        visibility=Visibility.INTERNAL,
    )


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(CONFIG)


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


async def ask(
    rt: Runtime, channel: ConsoleChannel, text: str = "How long does a refund take to arrive?"
) -> tuple[ConversationRef, int]:
    """A question the bot answers; returns its thread and the answer's id."""
    assert await rt.bot.on_message(msg(text), channel) == Outcome.ANSWERED
    answer = [r for _, r in channel.posted if r.kind == ReplyKind.ANSWER][-1]
    return answer.conversation, int(answer.buttons[0].value)


def followups(channel: ConsoleChannel) -> list[Reply]:
    return [r for _, r in channel.posted if any(b.action == ActionKind.SOLVED for b in r.buttons)]


async def tick(rt: Runtime, channel: ConsoleChannel) -> int:
    fired = await rt.bot.tick({"slack": channel})
    await rt.bot.settle()
    return fired


async def test_one_follow_up_when_due_with_solved_and_still_stuck_and_never_again(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    thread, answer_id = await ask(rt, channel)
    clock.advance(hours=23, minutes=59)
    assert await tick(rt, channel) == 0
    clock.advance(minutes=1)
    # two ticks racing (or two processes): the store's compare-and-set lets one send
    channels = {"slack": channel}
    assert sorted(await asyncio.gather(rt.bot.tick(channels), rt.bot.tick(channels))) == [0, 1]
    [followup] = followups(channel)
    assert followup.conversation == thread and followup.text.startswith("Did this solve it?")
    assert followup.mentions == (Mention(kind=MentionKind.USER, id=ASKER.id),)
    assert [(b.action, b.value) for b in followup.buttons] == [
        (ActionKind.SOLVED, str(answer_id)),
        (ActionKind.STILL_STUCK, str(answer_id)),
    ]
    clock.advance(days=3)
    assert await tick(rt, channel) == 0
    # a later answer in the same thread does not ask again: one per thread
    assert await rt.bot.on_message(msg("How do I reset my password?", thread=thread), channel) == (
        Outcome.ANSWERED
    )
    clock.advance(days=2)
    assert await tick(rt, channel) == 0
    assert len(followups(channel)) == 1


async def test_processes_sharing_the_store_send_it_once(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    first = make_runtime(CONFIG)
    await ask(first, channel)
    clock.advance(hours=25)
    second = make_runtime(CONFIG)
    assert await tick(second, channel) + await tick(first, channel) == 1
    assert len(followups(channel)) == 1


async def test_korean_questions_get_a_korean_follow_up(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    await ask(rt, channel, "환불은 어떻게 받나요?")
    clock.advance(hours=24)
    assert await tick(rt, channel) == 1
    [followup] = followups(channel)
    assert "해결" in followup.text and [b.label for b in followup.buttons] == ["해결됐어요", "아직 안 됐어요"]


async def test_none_after_staff_reply_in_the_thread(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    thread, _ = await ask(rt, channel)
    clock.advance(hours=2)
    assert await rt.bot.on_message(
        msg("Let me check your account.", author=STAFF, thread=thread), channel
    ) == (Outcome.RECORDED)
    clock.advance(hours=30)
    assert await tick(rt, channel) == 0
    assert followups(channel) == []


async def test_none_when_staff_mention_the_bot_in_the_thread(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    thread, _ = await ask(rt, channel)
    staff_question = replace(msg("How do I reset my password?", author=STAFF, thread=thread), addressed=True)
    assert await rt.bot.on_message(staff_question, channel) == Outcome.ANSWERED
    clock.advance(hours=30)
    assert await tick(rt, channel) == 0


async def test_none_while_a_ticket_is_open_on_the_thread(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    thread, answer_id = await ask(rt, channel)
    await rt.bot.on_action(press(ActionKind.TALK_TO_HUMAN, answer_id, ASKER, thread), channel)
    clock.advance(hours=30)
    await tick(rt, channel)  # SLA reminders may fire; the follow-up must not
    assert followups(channel) == []
    assert rt.state.followup_state(thread.key) == (None, answer_id, None)  # dropped, not pending


async def test_the_askers_follow_up_question_moves_the_time_to_the_new_answer(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    thread, _ = await ask(rt, channel)
    clock.advance(hours=20)
    follow = msg("How do I reset my password?", thread=thread)
    assert await rt.bot.on_message(follow, channel) == Outcome.ANSWERED
    second_answer = int([r for _, r in channel.posted if r.kind == ReplyKind.ANSWER][-1].buttons[0].value)
    clock.advance(hours=5)  # 25 h after the first answer, 5 h after the second
    assert await tick(rt, channel) == 0
    clock.advance(hours=19)
    assert await tick(rt, channel) == 1
    [followup] = followups(channel)
    assert followup.buttons[0].value == str(second_answer)  # it asks about the latest answer


async def test_someone_elses_message_does_not_move_it(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    thread, _ = await ask(rt, channel)
    due_before = rt.state.followup_state(thread.key)
    clock.advance(hours=1)
    await rt.bot.followups.noticed(
        msg("same question here", author=OTHER, thread=thread),
        rt.state.conversation(thread.key),
        staff=False,
    )
    assert rt.state.followup_state(thread.key) == due_before


async def test_thanks_from_the_asker_cancels_it(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    thread, _ = await ask(rt, channel)
    await rt.bot.on_message(msg("thanks!", thread=thread), channel)
    clock.advance(hours=30)
    await tick(rt, channel)
    assert followups(channel) == []
    due, _, sent = rt.state.followup_state(thread.key) or (None, None, None)
    assert due is None and sent is None


async def ben_answered_in_anns_thread(rt: Runtime, channel: ConsoleChannel) -> ConversationRef:
    """Ann's question is answered; Ben asks his own in her thread and is answered there, so
    the thread's follow-up is now about Ben's answer."""
    thread, _ = await ask(rt, channel)
    ben = msg("How do I reset my password?", author=OTHER, thread=thread)
    assert await rt.bot.on_message(ben, channel) == Outcome.ANSWERED
    assert "Forgot password" in [r for _, r in channel.posted if r.kind == ReplyKind.ANSWER][-1].text
    return thread


def asked_of(channel: ConsoleChannel, who: Author) -> list[Reply]:
    return [f for f in followups(channel) if Mention(kind=MentionKind.USER, id=who.id) in f.mentions]


async def test_thanks_from_a_second_asker_cancels_the_follow_up_about_their_answer(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    """It used to be kept: only the thread's first asker's thanks counted, so Ben was told
    "You're welcome" and pinged "Did this solve it?" a day later all the same."""
    thread = await ben_answered_in_anns_thread(rt, channel)
    clock.advance(hours=1)
    await rt.bot.on_message(msg("thanks!", author=OTHER, thread=thread), channel)
    assert "welcome" in channel.posted[-1][1].text
    clock.advance(hours=30)
    await tick(rt, channel)
    assert asked_of(channel, OTHER) == [] and followups(channel) == []


async def test_the_first_askers_thanks_does_not_cancel_the_follow_up_about_someone_elses_answer(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    """It used to: Ann's thanks cancelled the "Did this solve it?" Ben's answer was owed."""
    thread = await ben_answered_in_anns_thread(rt, channel)
    clock.advance(hours=1)
    await rt.bot.on_message(msg("thanks!", thread=thread), channel)
    clock.advance(hours=30)
    assert await tick(rt, channel) == 1
    assert len(asked_of(channel, OTHER)) == 1


@pytest.mark.parametrize(
    "said",
    [
        "Thanks, that worked!",
        "That worked, thank you!",
        "Perfect, thanks!",
        "됐어요 감사합니다",
        # the twenty-fifth session: these were new questions still
        "Solved, thanks!",
        "Got it working, thanks!",
        "감사드립니다",
    ],
)
async def test_thanks_said_with_that_it_worked_is_thanks(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock, said: str
) -> None:
    """It used to be answered as a new question: "I couldn't find an answer", a ticket paging
    staff, and "Did this solve it?" a day later."""
    thread, _ = await ask(rt, channel)
    await rt.bot.on_message(msg(said, thread=thread), channel)
    clock.advance(hours=30)
    await tick(rt, channel)
    shown = [(r.kind, r.text[:90]) for _, r in channel.posted]
    assert rt.state.tickets() == [], shown
    assert not [k for k, _ in shown if k in (ReplyKind.ESCALATION, ReplyKind.TICKET, ReplyKind.ABSTAIN)], (
        shown
    )
    assert followups(channel) == []


@pytest.mark.parametrize("verdict", [ActionKind.HELPFUL, ActionKind.NOT_HELPFUL])
async def test_the_askers_rating_means_none_is_needed(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock, verdict: ActionKind
) -> None:
    thread, answer_id = await ask(rt, channel)
    await rt.bot.on_action(press(verdict, answer_id, ASKER, thread), channel)
    clock.advance(hours=30)
    await tick(rt, channel)
    assert followups(channel) == []


async def test_a_bystanders_rating_does_not_confirm_for_the_asker(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    thread, answer_id = await ask(rt, channel)
    await rt.bot.on_action(press(ActionKind.HELPFUL, answer_id, OTHER, thread), channel)
    clock.advance(hours=30)
    assert await tick(rt, channel) == 1


async def test_solved_is_a_confirmed_resolution(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    thread, answer_id = await ask(rt, channel)
    clock.advance(hours=24)
    assert await tick(rt, channel) == 1
    assert await rt.bot.on_action(press(ActionKind.SOLVED, answer_id, ASKER, thread), channel) == (
        Outcome.RECORDED
    )
    note = channel.posted[-1][1]
    assert note.ephemeral_to == ASKER.id and "Glad it's solved" in note.text
    value = rt.state.db.execute(
        "select value from feedback where answer_id = ? and user_id = ?", [answer_id, ASKER.id]
    ).fetchone()
    assert value == ("solved",)
    assert rt.state.tickets() == []


async def test_still_stuck_opens_one_ticket_even_on_a_double_click(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    thread, answer_id = await ask(rt, channel)
    clock.advance(hours=24)
    assert await tick(rt, channel) == 1
    outcomes = await asyncio.gather(
        rt.bot.on_action(press(ActionKind.STILL_STUCK, answer_id, ASKER, thread), channel),
        rt.bot.on_action(press(ActionKind.STILL_STUCK, answer_id, ASKER, thread), channel),
    )
    assert sorted(outcomes) == sorted([Outcome.ESCALATED, Outcome.DUPLICATE])
    [ticket] = rt.state.tickets()
    assert ticket.conversation == thread and ticket.reason == EscalationReason.NOT_HELPFUL
    assert ticket.status == TicketStatus.OPEN and ticket.answer_id == answer_id
    escalations = [r for _, r in channel.posted if r.kind == ReplyKind.ESCALATION]
    assert len(escalations) == 1 and escalations[0].text.startswith("Sorry it's still not working.")
    # changing their mind: "Solved" closes the ticket "Still stuck" opened
    await rt.bot.on_action(press(ActionKind.SOLVED, answer_id, ASKER, thread), channel)
    closed = rt.state.ticket(ticket.id)
    assert closed is not None and closed.status == TicketStatus.CLOSED


async def test_only_the_askers_press_counts(rt: Runtime, channel: ConsoleChannel, clock: FakeClock) -> None:
    thread, answer_id = await ask(rt, channel)
    clock.advance(hours=24)
    await tick(rt, channel)
    for action in (ActionKind.SOLVED, ActionKind.STILL_STUCK):
        assert await rt.bot.on_action(press(action, answer_id, OTHER, thread), channel) == Outcome.REFUSED
        note = channel.posted[-1][1]
        assert note.ephemeral_to == OTHER.id and "Only the person who asked" in note.text
    assert rt.state.tickets() == []
    assert rt.state.db.execute("select count(*) from feedback").fetchone() == (0,)


async def test_zero_hours_turns_it_off(make_runtime: Callable[..., Runtime], clock: FakeClock) -> None:
    rt = make_runtime(CONFIG + "[followup]\nafter_hours = 0\n")
    channel = ConsoleChannel(io.StringIO())
    thread, _ = await ask(rt, channel)
    clock.advance(days=10)
    assert await tick(rt, channel) == 0
    assert rt.state.followup_state(thread.key) == (None, None, None)


async def test_fractions_of_an_hour_work_for_a_trial(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    rt = make_runtime(CONFIG + "[followup]\nafter_hours = 0.01\n")
    channel = ConsoleChannel(io.StringIO())
    await ask(rt, channel)
    clock.advance(seconds=35)
    assert await tick(rt, channel) == 0
    clock.advance(seconds=1)
    assert await tick(rt, channel) == 1


class FailingFollowups(ConsoleChannel):
    """Posts everything but the follow-up, which the platform refuses."""

    async def send(self, reply: Reply) -> Posted:
        if any(b.action == ActionKind.SOLVED for b in reply.buttons):
            raise RuntimeError("platform refused the post")
        return await super().send(reply)


async def test_a_follow_up_whose_post_fails_is_logged_and_not_retried(
    rt: Runtime, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    channel = FailingFollowups(io.StringIO())
    thread, _ = await ask(rt, channel)
    clock.advance(hours=24)
    assert await tick(rt, channel) == 0
    assert "a follow-up could not be posted; it is not retried" in caplog.text
    clock.advance(hours=24)
    assert await tick(rt, channel) == 0
    _, _, sent = rt.state.followup_state(thread.key) or (None, None, None)
    assert sent is not None  # claimed once: at most once, never twice
