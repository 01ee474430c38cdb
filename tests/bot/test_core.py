"""The conversation core end to end, through the console Channel and a real store."""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.core import Outcome
from bot.ports import PostChanged
from bot.store import StateStore
from bot.types import (
    ActionEvent,
    ActionKind,
    Answer,
    Author,
    Command,
    ConversationRef,
    EscalationReason,
    InboundMessage,
    MentionKind,
    Passage,
    Posted,
    Reply,
    ReplyKind,
    TicketStatus,
    Turn,
    Visibility,
)
from tests.fakes.answerers import ConfidentExtractive

STAFF_TOML = """
[slack]
staff_groups = ["S-SUPPORT"]
staff_users = ["U-STAFF"]
admin_users = ["U-ADMIN"]
triage_channel = "C-TRIAGE"
[slack.channels.C-PUBLIC]
visibility = "public"
[slack.channels.C-AUTO]
mode = "auto-answer"
[slack.channels.C-OFF]
mode = "off"
"""

ASKER = Author(id="U-ASK", name="Ann")
STAFF = Author(id="U-STAFF", name="Sam")
_ids = itertools.count(1)


def message(
    text: str,
    *,
    channel: str = "C-GENERAL",
    thread: str | None = None,
    author: Author = ASKER,
    addressed: bool = True,
    visibility: Visibility = Visibility.INTERNAL,
    id: str | None = None,
    **kw: object,
) -> InboundMessage:
    return InboundMessage(
        id=id or f"m{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace="T1", channel=channel, thread=thread),
        author=author,
        text=text,
        addressed=addressed,
        visibility=visibility,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(STAFF_TOML)


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


def replies(channel: ConsoleChannel) -> list:  # type: ignore[type-arg]
    return [reply for _, reply in channel.posted]


async def test_a_mention_is_answered_in_a_thread_with_sources_and_buttons(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    msg = message("How long does a refund take to arrive?")
    assert await rt.bot.on_message(msg, channel) == Outcome.ANSWERED
    [reply] = replies(channel)
    assert reply.kind == ReplyKind.ANSWER
    assert reply.conversation.thread == msg.id  # a thread started on the question
    assert "five to seven business days" in reply.text
    assert reply.citations[0].path == "refunds.md"
    assert {b.action for b in reply.buttons} == {
        ActionKind.HELPFUL,
        ActionKind.NOT_HELPFUL,
        ActionKind.TALK_TO_HUMAN,
    }
    assert reply.mentions == ()
    record = rt.state.answer(int(reply.buttons[0].value))
    assert record is not None and not record.abstained and record.sources[0].path == "refunds.md"


async def test_unknown_question_gets_an_honest_handoff_with_staff_tagged(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    assert (
        await rt.bot.on_message(message("What is the airspeed velocity of an unladen swallow?"), channel)
        == Outcome.ESCALATED
    )
    thread_reply, card = replies(channel)
    assert "couldn't find a reliable answer" in thread_reply.text and "ticket #1" in thread_reply.text
    assert {(m.kind, m.id) for m in thread_reply.mentions} == {
        (MentionKind.GROUP, "S-SUPPORT"),
        (MentionKind.USER, "U-STAFF"),
    }
    assert card.conversation.channel == "C-TRIAGE" and card.kind == ReplyKind.TICKET
    assert card.refers_to == thread_reply.conversation
    [ticket] = rt.state.tickets()
    assert ticket.reason == EscalationReason.LOW_CONFIDENCE and ticket.status == TicketStatus.OPEN


async def test_a_question_the_documents_do_not_answer_logs_abstained_then_the_ticket(
    rt: Runtime, channel: ConsoleChannel, caplog: pytest.LogCaptureFixture
) -> None:
    """At INFO, what was decided and nothing else: not "answered" for a hand-off."""
    caplog.set_level(logging.INFO)
    await rt.bot.on_message(message("What is the airspeed velocity of an unladen swallow?"), channel)
    ours = [
        r.getMessage().split()[0]
        for r in caplog.records
        if r.name.startswith("bot.") and r.levelno >= logging.INFO
    ]
    assert ours == ["abstained", "ticket"]


async def test_asking_for_a_person_opens_a_ticket_with_the_real_question(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    first = message("How long does a refund take to arrive?")
    await rt.bot.on_message(first, channel)
    thread = replies(channel)[0].conversation
    follow = message(
        "this didn't help, I want to talk to a human",
        channel=thread.channel,
        thread=thread.thread,
        addressed=False,
    )
    assert await rt.bot.on_message(follow, channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    assert ticket.reason == EscalationReason.ASKED_FOR_HUMAN
    assert ticket.question == "How long does a refund take to arrive?"
    assert "I'll get a person" in replies(channel)[1].text


async def test_a_retried_event_is_answered_once(rt: Runtime, channel: ConsoleChannel) -> None:
    msg = message("How do I reset my password?", id="same")
    outcomes = await asyncio.gather(rt.bot.on_message(msg, channel), rt.bot.on_message(msg, channel))
    assert sorted(outcomes) == sorted([Outcome.ANSWERED, Outcome.DUPLICATE])
    assert len(replies(channel)) == 1


async def test_bots_edits_off_channels_and_chatter_get_no_reply(rt: Runtime, channel: ConsoleChannel) -> None:
    assert (
        await rt.bot.on_message(message("refund?", author=Author(id="B1", is_bot=True)), channel)
        == Outcome.IGNORED
    )
    assert await rt.bot.on_message(message("refund?", edited=True), channel) == Outcome.IGNORED
    assert (
        await rt.bot.on_message(message("How do refunds work?", channel="C-OFF"), channel) == Outcome.IGNORED
    )
    assert (
        await rt.bot.on_message(message("good morning all", channel="C-AUTO", addressed=False), channel)
        == Outcome.IGNORED
    )
    assert replies(channel) == []
    assert (
        await rt.bot.on_message(
            message("How long does a refund take?", channel="C-AUTO", addressed=False), channel
        )
        == Outcome.ANSWERED
    )


async def test_empty_and_huge_messages_get_a_clear_reply(rt: Runtime, channel: ConsoleChannel) -> None:
    assert await rt.bot.on_message(message("   "), channel) == Outcome.REFUSED
    assert "Ask me a question" in replies(channel)[0].text
    huge = "why " * 25_000
    assert await rt.bot.on_message(message(huge), channel) == Outcome.REFUSED
    refusal = replies(channel)[1]
    assert f"{len(huge.strip()):,} characters" in refusal.text and "4,000" in refusal.text
    assert refusal.buttons[0].action == ActionKind.TALK_TO_HUMAN
    assert rt.state.history(refusal.conversation)  # the message is kept, not lost


async def test_a_refused_message_is_one_log_line_at_info(
    rt: Runtime, channel: ConsoleChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert await rt.bot.on_message(message("why " * 25_000), channel) == Outcome.REFUSED
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bot.") and r.levelno >= logging.INFO]
    assert ours == ["refused a message"]


async def test_korean_question_gets_a_korean_answer(rt: Runtime, channel: ConsoleChannel) -> None:
    assert await rt.bot.on_message(message("환불은 어떻게 받나요?"), channel) == Outcome.ANSWERED
    [reply] = replies(channel)
    assert "30일 이내" in reply.text
    assert reply.buttons[0].label == "도움이 됐어요"
    assert reply.language == "ko"  # adapters label their sources in the asker's language


async def test_a_korean_question_quoting_an_unfenced_english_error_is_answered_in_korean(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    """The asker wrote a Korean sentence around the error the program printed, without
    backticks. The error's words are the program's, not the asker's, yet they used to
    outvote the Korean: the whole reply, its lead and its buttons, was in English."""
    question = (
        "supportbot run 하면 Error: SLACK_APP_TOKEN is not set, the app-level token for "
        "Socket Mode is required 에러가 나요"
    )
    rt = make_runtime(STAFF_TOML, answerer=ConfidentExtractive())  # about the language, not calibration
    assert await rt.bot.on_message(message(question), channel) == Outcome.ANSWERED
    [reply] = replies(channel)
    assert "SLACK_APP_TOKEN" in reply.text  # the right section was found
    assert reply.language == "ko" and reply.buttons[0].label == "도움이 됐어요"


async def test_an_identifier_only_follow_up_in_a_korean_thread_is_answered_in_korean(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    """After a Korean answer the asker names the other token alone. "SLACK_APP_TOKEN?" holds
    no word of either language, yet it used to be answered in English, buttons and all, in
    the middle of a Korean conversation."""
    rt = make_runtime(STAFF_TOML, answerer=ConfidentExtractive())
    await rt.bot.on_message(message("SLACK_BOT_TOKEN은 어디서 받나요?"), channel)
    [first] = replies(channel)
    assert first.language == "ko"
    thread = first.conversation
    follow = message("SLACK_APP_TOKEN?", channel=thread.channel, thread=thread.thread, addressed=False)
    assert await rt.bot.on_message(follow, channel) == Outcome.ANSWERED
    second = replies(channel)[-1]
    assert second is not first and second.conversation == thread
    assert second.language == "ko" and second.buttons[0].label == "도움이 됐어요"
    # in an English thread the same words are answered in English
    await rt.bot.on_message(message("Where do I get SLACK_BOT_TOKEN?"), channel)
    english = replies(channel)[-1].conversation
    await rt.bot.on_message(
        message("SLACK_APP_TOKEN?", channel=english.channel, thread=english.thread, addressed=False), channel
    )
    assert replies(channel)[-1].language == "en"


async def test_korean_unknown_question_hands_off_in_korean(rt: Runtime, channel: ConsoleChannel) -> None:
    await rt.bot.on_message(message("화성에 가는 우주선의 연료는 무엇인가요?"), channel)
    assert "문서에서" in replies(channel)[0].text and "티켓 #1" in replies(channel)[0].text


async def test_public_channels_never_cite_internal_documents(rt: Runtime, channel: ConsoleChannel) -> None:
    question = "When does the database failover password rotation happen?"
    await rt.bot.on_message(message(question, channel="C-GENERAL"), channel)
    assert replies(channel)[0].citations[0].path == "internal/oncall.md"
    await rt.bot.on_message(message(question, channel="C-PUBLIC"), channel)
    public_reply = replies(channel)[1]
    assert all(c.path != "internal/oncall.md" for c in public_reply.citations)
    assert "Tuesday" not in public_reply.text


async def test_staff_takeover_silences_the_bot_in_that_thread(rt: Runtime, channel: ConsoleChannel) -> None:
    await rt.bot.on_message(message("How do I reset my password?"), channel)
    thread = replies(channel)[0].conversation
    in_thread = {"channel": thread.channel, "thread": thread.thread, "addressed": False}
    assert (
        await rt.bot.on_message(message("Let me check your account", author=STAFF, **in_thread), channel)
        == Outcome.RECORDED
    )
    assert (
        await rt.bot.on_message(message("thanks! how long is the link valid?", **in_thread), channel)
        == Outcome.RECORDED
    )
    assert len(replies(channel)) == 1
    history = rt.state.history(thread)
    assert [t.role for t in history] == ["user", "bot", "staff", "user"]


async def test_follow_up_in_a_bot_thread_is_answered_without_mention(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    await rt.bot.on_message(message("How do I reset my password?"), channel)
    thread = replies(channel)[0].conversation
    follow = message(
        "How long does a refund take?", channel=thread.channel, thread=thread.thread, addressed=False
    )
    assert await rt.bot.on_message(follow, channel) == Outcome.ANSWERED


async def test_a_follow_up_with_no_text_in_a_bot_thread_is_kept_not_greeted(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    """A screenshot or a sticker posted in the answer's thread carries no text. It counted as a
    follow-up to respond to, and a blank one got the newcomer's greeting ("Hi! Ask me a
    question..."), in the middle of the conversation, every time. Now it is kept in the
    thread's history and nothing is said; a mention with no text is still greeted."""
    await rt.bot.on_message(message("How do I reset my password?"), channel)
    thread = replies(channel)[0].conversation
    kept = len(rt.state.history(thread))
    follow = message("", channel=thread.channel, thread=thread.thread, addressed=False)
    assert await rt.bot.on_message(follow, channel) == Outcome.RECORDED
    assert len(replies(channel)) == 1 and len(rt.state.history(thread)) == kept + 1
    mention = message(" ", channel=thread.channel, thread=thread.thread)
    assert await rt.bot.on_message(mention, channel) == Outcome.REFUSED
    assert "Ask me a question" in replies(channel)[-1].text


async def test_feedback_buttons(rt: Runtime, channel: ConsoleChannel) -> None:
    await rt.bot.on_message(message("How long does a refund take to arrive?"), channel)
    answer = replies(channel)[0]
    value = answer.buttons[0].value

    def press(action: ActionKind, actor: Author = ASKER, id: str | None = None) -> ActionEvent:
        return ActionEvent(
            id=id or f"a{next(_ids)}",
            conversation=answer.conversation,
            actor=actor,
            action=action,
            value=value,
            visibility=Visibility.INTERNAL,
        )

    assert (
        await rt.bot.on_action(press(ActionKind.HELPFUL, Author(id="U-OTHER")), channel) == Outcome.RECORDED
    )
    assert replies(channel)[-1].ephemeral_to == "U-OTHER"
    assert await rt.bot.on_action(press(ActionKind.NOT_HELPFUL), channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    assert ticket.reason == EscalationReason.NOT_HELPFUL and ticket.answer_id == int(value)
    stats = rt.state.stats()
    assert (stats.helpful, stats.not_helpful) == (1, 1)
    # the same press delivered twice is handled once
    dup = press(ActionKind.TALK_TO_HUMAN, id="dup")
    assert await rt.bot.on_action(dup, channel) == Outcome.ESCALATED
    assert await rt.bot.on_action(dup, channel) == Outcome.DUPLICATE


async def test_claim_and_resolve_one_winner_and_messages_updated(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    await rt.bot.on_message(message("What is the airspeed velocity of an unladen swallow?"), channel)
    [ticket] = rt.state.tickets()
    other_staff = Author(id="U-OTHER", name="Olu", roles=frozenset({"S-SUPPORT"}))

    def claim(actor: Author) -> ActionEvent:
        return ActionEvent(
            id=f"c{next(_ids)}",
            conversation=ticket.conversation,
            actor=actor,
            action=ActionKind.CLAIM,
            value=str(ticket.id),
            visibility=Visibility.INTERNAL,
        )

    outcomes = await asyncio.gather(
        rt.bot.on_action(claim(STAFF), channel), rt.bot.on_action(claim(other_staff), channel)
    )
    assert sorted(outcomes) == sorted([Outcome.RECORDED, Outcome.REFUSED])
    refused = [r for r in replies(channel) if r.ephemeral_to]
    assert len(refused) == 1 and "already claimed by" in refused[0].text
    assert rt.state.ticket(ticket.id).status == TicketStatus.CLAIMED  # type: ignore[union-attr]
    # both the thread note and the triage card were updated in place
    assert len(channel.edits) == 2 and all("claimed by" in r.text for _, r in channel.edits)
    # a non-staff user cannot resolve
    asker_try = ActionEvent(
        id="r1",
        conversation=ticket.conversation,
        actor=ASKER,
        action=ActionKind.RESOLVE,
        value=str(ticket.id),
        visibility=Visibility.INTERNAL,
    )
    assert await rt.bot.on_action(asker_try, channel) == Outcome.REFUSED
    resolve = Command(
        id="cmd1",
        name="resolve",
        args=f"#{ticket.id} reset the token",
        invoker=STAFF,
        conversation=ticket.conversation,
        visibility=Visibility.INTERNAL,
    )
    assert await rt.bot.on_command(resolve, channel) == Outcome.ANSWERED
    assert rt.state.ticket(ticket.id).status == TicketStatus.RESOLVED  # type: ignore[union-attr]
    assert any("Note: reset the token" in r.text for r in replies(channel))


class ExplodingAnswerer:
    name = "exploding"

    async def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn],
        language: str,
        confidence: float,
    ) -> Answer:
        raise RuntimeError("model fell over with secret details")


async def test_a_crash_mid_answer_apologises_and_keeps_the_question(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    rt = make_runtime(STAFF_TOML, answerer=ExplodingAnswerer())
    question = message("How do I reset my password?")
    assert await rt.bot.on_message(question, channel) == Outcome.FAILED
    apology, card = replies(channel)
    assert apology.text.startswith("Sorry, something went wrong") and "ticket #1" in apology.text
    assert apology.conversation.thread == question.id  # in the question's thread, like an answer
    assert {m.id for m in apology.mentions} == {"S-SUPPORT", "U-STAFF"}  # people are told at once
    assert "secret details" not in apology.text + card.text
    [ticket] = rt.state.tickets()
    assert ticket.reason == EscalationReason.ERROR and ticket.question == "How do I reset my password?"
    assert rt.state.pending_events("slack") == []


async def test_a_crash_on_an_auto_answered_question_is_not_silent(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    rt = make_runtime(STAFF_TOML, answerer=ExplodingAnswerer())
    question = message("How do refunds work?", channel="C-AUTO", addressed=False)
    assert await rt.bot.on_message(question, channel) == Outcome.FAILED
    assert replies(channel) and "something went wrong" in replies(channel)[0].text


async def test_each_ask_command_is_its_own_conversation(rt: Runtime, channel: ConsoleChannel) -> None:
    def ask(who: Author, text: str) -> Command:
        return Command(
            id=f"k{next(_ids)}",
            name="ask",
            args=text,
            invoker=who,
            conversation=ConversationRef(platform="slack", workspace="T1", channel="C-GENERAL"),
            visibility=Visibility.INTERNAL,
        )

    bob = Author(id="U-BOB", name="Bob")
    await rt.bot.on_command(ask(ASKER, "Do you ship to the moon?"), channel)
    await rt.bot.on_command(ask(bob, "Do you accept payment in seashells?"), channel)
    tickets = rt.state.tickets()
    assert len(tickets) == 2 and {t.asker_id for t in tickets} == {ASKER.id, "U-BOB"}
    assert tickets[0].conversation != tickets[1].conversation


async def test_a_message_left_unfinished_by_a_dead_process_is_answered_after_restart(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    rt = make_runtime(STAFF_TOML)
    msg = message("How do I reset my password?", id="lost-1")
    from bot.inbox import serialise_message

    # what on_message records before answering; the process then dies
    assert rt.state.claim_event("slack:msg:lost-1", "slack", serialise_message(msg), datetime.now(UTC))
    restarted = make_runtime(STAFF_TOML)
    assert await restarted.bot.replay_pending("slack", channel) == 1
    assert len(replies(channel)) == 1 and replies(channel)[0].kind == ReplyKind.ANSWER
    assert await restarted.bot.replay_pending("slack", channel) == 0
    assert await restarted.bot.on_message(msg, channel) == Outcome.DUPLICATE


async def test_commands_respect_access(rt: Runtime, channel: ConsoleChannel) -> None:
    def command(name: str, args: str = "", invoker: Author = ASKER) -> Command:
        return Command(
            id=f"k{next(_ids)}",
            name=name,
            args=args,
            invoker=invoker,
            conversation=ConversationRef(platform="slack", workspace="T1", channel="C-GENERAL"),
            visibility=Visibility.INTERNAL,
        )

    assert await rt.bot.on_command(command("reindex"), channel) == Outcome.REFUSED
    assert "for admin only" in replies(channel)[-1].text
    assert (
        await rt.bot.on_command(command("reindex", invoker=Author(id="U-ADMIN")), channel) == Outcome.ANSWERED
    )
    assert "0 added" in replies(channel)[-1].text
    assert (
        await rt.bot.on_command(command("reindex", invoker=Author(id="U-WA", platform_admin=True)), channel)
        == Outcome.ANSWERED
    )
    assert await rt.bot.on_command(command("help"), channel) == Outcome.ANSWERED
    help_text = replies(channel)[-1].text
    assert "/support ask <question>" in help_text
    assert "/support reindex" not in help_text and "/support tickets" not in help_text
    assert await rt.bot.on_command(command("tickets"), channel) == Outcome.REFUSED
    assert await rt.bot.on_command(command("tickets", "everything", STAFF), channel) == Outcome.REFUSED
    assert "must be one of open, mine, all" in replies(channel)[-1].text
    assert await rt.bot.on_command(command("tickets", "", STAFF), channel) == Outcome.ANSWERED
    assert replies(channel)[-1].text == "No open tickets."
    assert await rt.bot.on_command(command("nonsense"), channel) == Outcome.REFUSED
    assert await rt.bot.on_command(command("ask"), channel) == Outcome.REFUSED
    assert "needs question" in replies(channel)[-1].text
    assert await rt.bot.on_command(command("status"), channel) == Outcome.ANSWERED
    assert "Knowledge: 5 files" in replies(channel)[-1].text and replies(channel)[-1].ephemeral_to == ASKER.id


async def test_ask_command_answers_in_the_channel_for_everyone(rt: Runtime, channel: ConsoleChannel) -> None:
    cmd = Command(
        id="ask1",
        name="ask",
        args="how long does a refund take",
        invoker=ASKER,
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-GENERAL"),
        visibility=Visibility.INTERNAL,
    )
    assert await rt.bot.on_command(cmd, channel) == Outcome.ANSWERED
    root, reply = replies(channel)
    assert root.text == "Ann asked: how long does a refund take" and root.conversation.thread is None
    assert reply.kind == ReplyKind.ANSWER and reply.ephemeral_to is None
    assert reply.conversation.thread is not None  # answered under the question, in its own thread


async def test_answers_are_recorded_for_stats_and_gaps(rt: Runtime, channel: ConsoleChannel) -> None:
    await rt.bot.on_message(message("How long does a refund take to arrive?"), channel)
    await rt.bot.on_message(message("Do you support carrier pigeons?"), channel)
    await rt.bot.on_message(message("do you support carrier pigeons?"), channel)
    stats = rt.state.stats()
    assert (stats.questions, stats.answered, stats.abstained) == (3, 1, 2)
    gaps = rt.state.knowledge_gaps()
    assert gaps[0][1] == 2 and "pigeons" in gaps[0][0].lower()
    assert rt.state is rt.store.store and isinstance(rt.state, StateStore)


async def test_logging_with_context_does_not_break_answers(
    rt: Runtime, channel: ConsoleChannel, caplog: pytest.LogCaptureFixture
) -> None:
    """Context keys must not clash with LogRecord's own attributes (it has `thread`)."""
    from bot.log import ContextFormatter

    caplog.set_level(logging.DEBUG)
    await rt.bot.on_message(message("How do I reset my password?"), channel)
    formatted = [ContextFormatter().format(record) for record in caplog.records]
    assert any("platform=slack" in line and "thread_id=" in line for line in formatted)
    assert replies(channel)


async def test_the_ask_command_records_the_question_in_its_thread(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    cmd = Command(
        id="ask9",
        name="ask",
        args="Do you ship to the moon?",
        invoker=ASKER,
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-GENERAL"),
        visibility=Visibility.INTERNAL,
    )
    await rt.bot.on_command(cmd, channel)
    [ticket] = rt.state.tickets()
    assert ticket.question == "Do you ship to the moon?"
    history = rt.state.history(ticket.conversation)
    assert history[0].role == "user" and history[0].text == "Do you ship to the moon?"


async def test_a_guest_in_a_dm_gets_public_documents_only(rt: Runtime, channel: ConsoleChannel) -> None:
    guest = Author(id="W-GUEST", name="Gus", external=True)
    question = "When does the database failover password rotation happen?"
    dm = message(question, channel="D1", author=guest, visibility=Visibility.DIRECT)
    await rt.bot.on_message(dm, channel)
    assert replies(channel)  # a DM always gets an answer or a hand-off
    assert all(c.path != "internal/oncall.md" for r in replies(channel) for c in r.citations)
    assert "Tuesday" not in " ".join(r.text for r in replies(channel))


async def test_replays_take_each_unfinished_message_once(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    rt = make_runtime(STAFF_TOML)
    from bot.inbox import serialise_message

    for n in range(3):
        msg = message("How do I reset my password?", id=f"lost-{n}")
        rt.state.claim_event(f"slack:msg:lost-{n}", "slack", serialise_message(msg), datetime.now(UTC))
    counts = await asyncio.gather(
        rt.bot.replay_pending("slack", channel), rt.bot.replay_pending("slack", channel)
    )
    assert sum(counts) == 3
    assert len([r for r in replies(channel) if r.kind == ReplyKind.ANSWER]) == 3


async def test_thanks_in_an_answered_thread_is_acknowledged_never_escalated(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    await rt.bot.on_message(message("How long does a refund take to arrive?"), channel)
    thread = replies(channel)[0].conversation
    thanks = message("thanks a lot!", channel=thread.channel, thread=thread.thread, addressed=False)
    assert await rt.bot.on_message(thanks, channel) == Outcome.RECORDED
    assert "welcome" in replies(channel)[-1].text.lower()
    ok = message("ok", channel=thread.channel, thread=thread.thread, addressed=False)
    before = len(replies(channel))
    assert await rt.bot.on_message(ok, channel) == Outcome.RECORDED
    assert len(replies(channel)) == before  # an acknowledgement needs no reply
    assert rt.state.tickets() == []
    texts = [turn.text for turn in rt.state.history(thread)]
    assert "thanks a lot!" in texts and "ok" in texts  # kept: "thanked and left" is counted from them


class GrowingCards(ConsoleChannel):
    """A platform where a ticket card an edit makes longer takes a second message (Discord
    past 2,000 characters): the edit names the post as it now is."""

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        await super().edit(posted, reply, on_change)
        if reply.kind == ReplyKind.TICKET and "," not in posted.message_id:
            return replace(posted, message_id=f"{posted.message_id},{posted.message_id}-part-2")
        return posted


async def test_a_card_that_grew_to_two_messages_is_edited_as_two_from_then_on(rt: Runtime) -> None:
    channel = GrowingCards(io.StringIO())
    await rt.bot.on_message(message("What is the airspeed velocity of an unladen swallow?"), channel)
    [ticket] = rt.state.tickets()
    claim = ActionEvent(
        id="c-grow",
        conversation=ticket.conversation,
        actor=STAFF,
        action=ActionKind.CLAIM,
        value=str(ticket.id),
        visibility=Visibility.INTERNAL,
    )
    assert await rt.bot.on_action(claim, channel) == Outcome.RECORDED
    cards = [posted for kind, posted, _ in rt.state.ticket_posts(ticket.id) if kind == "card"]
    assert [c.message_id.count(",") for c in cards] == [1]  # the record names both messages
    channel.edits.clear()
    await rt.bot.escalations.refresh(rt.state.ticket(ticket.id), channel)  # type: ignore[arg-type]
    card_edits = [posted for posted, reply in channel.edits if reply.kind == ReplyKind.TICKET]
    assert [p.message_id for p in card_edits] == [cards[0].message_id]
