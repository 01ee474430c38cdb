"""Buttons (bot/actions.py) beyond the walks through them in tests/bot/test_core.py and
tests/bot/insights/test_followups.py: whose question a press on an answer speaks for, and the
language the presser is answered in."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.core import Outcome
from bot.messages import say
from bot.types import ActionKind, Command, Posted, Reply, ReplyKind
from tests.bot.insights.test_followups import ASKER, CONFIG, OTHER, ask, followups, msg, press, tick
from tests.fakes.clock import FakeClock


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(CONFIG)


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


class RefusesThreadPosts(ConsoleChannel):
    """A platform refusing every post for all to read (Slack's `fatal_error`), while a note to
    one person still gets through."""

    async def send(self, reply: Reply) -> Posted:
        if reply.ephemeral_to is None:
            raise RuntimeError("fatal_error")
        return await super().send(reply)


async def test_talk_to_a_person_pressed_by_a_bystander_files_nothing_in_their_name(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """Ben, reading the channel, pressed *Talk to a person* under the answer to Ann: a ticket
    was filed with Ben as its asker and Ann's words as his question, so his data export held
    them, Ann's forget-me left them behind and Ann could not close it. Now Ben is told, in the
    answer's language, that the button is the asker's; Ann's own press still opens hers."""
    question = "How long does a refund take to arrive?"
    thread, answer_id = await ask(rt, channel, question)
    assert await rt.bot.on_action(press(ActionKind.TALK_TO_HUMAN, answer_id, OTHER, thread), channel) == (
        Outcome.REFUSED
    )
    refusal = channel.posted[-1][1]
    assert refusal.ephemeral_to == OTHER.id and refusal.text == say("human_not_yours")
    assert rt.state.tickets() == []

    korean_thread, korean_answer = await ask(rt, channel, "환불은 어떻게 받나요? 얼마나 걸리나요?")
    await rt.bot.on_action(press(ActionKind.TALK_TO_HUMAN, korean_answer, OTHER, korean_thread), channel)
    assert channel.posted[-1][1].text == say("human_not_yours", "ko")
    assert rt.state.tickets() == []

    assert await rt.bot.on_action(press(ActionKind.TALK_TO_HUMAN, answer_id, ASKER, thread), channel) == (
        Outcome.ESCALATED
    )
    [ticket] = rt.state.tickets()
    assert ticket.asker_id == ASKER.id and ticket.question == question


@pytest.mark.parametrize("addressed", [False, True], ids=["in-thread", "mentioning-the-bot"])
async def test_a_bystander_saying_talk_to_a_person_files_their_own_words_not_the_askers(
    rt: Runtime, channel: ConsoleChannel, addressed: bool
) -> None:
    """What the refusal above tells Ben to do, said in Ann's thread, filed the thread's first
    question, Ann's, as Ben's (a review of the refusal: the leak it closed, by another door).
    A ticket's question is its asker's own."""
    question = "How long does a refund take to arrive?"
    thread, _ = await ask(rt, channel, question)
    said = replace(msg("talk to a person", author=OTHER, thread=thread), addressed=addressed)
    await rt.bot.on_message(said, channel)
    bens = [t for t in rt.state.tickets() if t.asker_id == OTHER.id]
    assert bens and all(question not in t.question for t in bens)


async def test_talk_to_a_person_on_a_question_too_long_to_read_is_the_askers_alone(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    """The button under "your message is too long" named only the message: anyone's press filed
    the thread's first question as theirs. It names the asker now; a button made before it did
    still opens the ticket for whoever presses, as it always did."""
    rt = make_runtime(CONFIG + "[answer]\nmax_question_chars = 50\n")
    assert await rt.bot.on_message(msg("My invoice total is wrong " * 4), channel) == Outcome.REFUSED
    [button] = channel.posted[-1][1].buttons
    thread = channel.posted[-1][1].conversation
    pressed = replace(press(ActionKind.TALK_TO_HUMAN, 0, OTHER, thread), value=button.value)
    assert await rt.bot.on_action(pressed, channel) == Outcome.REFUSED
    assert channel.posted[-1][1].text == say("human_not_yours") and rt.state.tickets() == []
    assert await rt.bot.on_action(replace(pressed, id="own", actor=ASKER), channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    assert ticket.asker_id == ASKER.id and "invoice total" in ticket.question
    old_button = replace(pressed, id="old", value=button.value.rpartition("@")[0])
    assert old_button.value.startswith("msg:") and "@" not in old_button.value
    assert await rt.bot.on_action(replace(old_button, actor=OTHER), channel) == Outcome.ESCALATED


async def test_solved_on_a_korean_follow_up_is_acknowledged_in_korean(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    """A question too short to show a language ("refund?") from someone whose memory holds
    Korean is answered, and followed up, in Korean; pressing 해결됨 on that follow-up was
    answered in English, the language detected from the question's words alone."""
    where = msg("x")
    remember = Command(
        id="c1",
        name="remember",
        args="on",
        invoker=ASKER,
        conversation=where.conversation,
        visibility=where.visibility,
    )
    await rt.bot.on_command(remember, channel)
    await ask(rt, channel, "환불은 어떻게 받나요?")  # the asker's language is remembered
    thread, answer_id = await ask(rt, channel, "refund?")
    clock.advance(hours=25)
    await tick(rt, channel)
    [followup] = [f for f in followups(channel) if f.conversation == thread]
    assert followup.text == say("followup_question", "ko")

    await rt.bot.on_action(press(ActionKind.SOLVED, answer_id, ASKER, thread), channel)

    note = channel.posted[-1][1]
    assert note.ephemeral_to == ASKER.id and note.text == say("followup_solved", "ko")


async def test_a_korean_askers_failed_press_is_apologised_for_in_korean(rt: Runtime) -> None:
    """A Korean asker pressed 상담원 연결 (Talk to a person) while the platform refused the
    thread's posts: the apology came in English though the answer, its buttons and the ticket
    were Korean."""
    channel = ConsoleChannel(io.StringIO())
    thread, answer_id = await ask(rt, channel, "환불은 어떻게 받나요? 얼마나 걸리나요?")
    refusing = RefusesThreadPosts(io.StringIO())

    outcome = await rt.bot.on_action(press(ActionKind.TALK_TO_HUMAN, answer_id, ASKER, thread), refusing)

    assert outcome == Outcome.FAILED
    [ticket] = rt.state.tickets()
    assert ticket.language == "ko"
    [apology] = [reply for _, reply in refusing.posted if reply.kind == ReplyKind.ERROR]
    assert apology.ephemeral_to == ASKER.id and apology.text == say("error_no_ticket", "ko")
