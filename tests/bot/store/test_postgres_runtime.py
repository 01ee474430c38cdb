"""End to end on PostgreSQL: the real core answers through the console channel with its state
in PostgreSQL (nothing in state.db), and `supportbot report` reads the same database."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.core import Outcome
from bot.insights.report import ReportFormat, run_report
from bot.types import Author, ConversationRef, InboundMessage, ReplyKind, Visibility
from tests.fakes.clock import FakeClock
from tests.fakes.openai_server import Answer, FakeOpenAI


def refund_question(clock: FakeClock, *, id: str, name: str, text: str) -> InboundMessage:
    """Ann asks the bot in an internal Slack channel."""
    return InboundMessage(
        id=id,
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C1"),
        author=Author(id="U-ASK", name=name),
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=clock.now(),
    )


async def test_a_question_is_answered_with_state_in_postgresql_and_reported(
    make_runtime: Callable[..., Runtime], pg_url: str, clock: FakeClock
) -> None:
    rt = make_runtime(env={"SUPPORTBOT_DATABASE_URL": pg_url})
    assert rt.state.shared
    channel = ConsoleChannel(io.StringIO())
    message = refund_question(clock, id="q1", name="Ann", text="How long does a refund take to arrive?")
    assert await rt.bot.on_message(message, channel) == Outcome.ANSWERED
    assert await rt.bot.on_message(message, channel) == Outcome.DUPLICATE  # the inbox is in PostgreSQL too
    [(_, reply)] = channel.posted
    assert reply.kind == ReplyKind.ANSWER and "five to seven business days" in reply.text
    record = rt.state.answer(int(reply.buttons[0].value))
    assert record is not None and record.sources[0].path == "refunds.md"
    assert not (rt.settings.data_dir / "state.db").exists()

    text = run_report(
        rt.settings,
        since="1d",
        until=None,
        platform=None,
        channel=None,
        fmt=ReportFormat.JSON,
        now=clock.now() + timedelta(minutes=1),
    )
    assert json.loads(text)["metrics"]["questions"] == 1


async def test_a_question_holding_a_nul_is_answered_with_state_in_postgresql(
    make_runtime: Callable[..., Runtime], pg_url: str, clock: FakeClock
) -> None:
    """A NUL ("\\u0000" in an event's JSON) reaches PostgreSQL, whose text cannot hold one,
    as U+FFFD: the question is answered, not lost to "something went wrong"."""
    rt = make_runtime(env={"SUPPORTBOT_DATABASE_URL": pg_url})
    channel = ConsoleChannel(io.StringIO())
    message = refund_question(
        clock, id="q\x00", name="Ann\x00", text="How long does a refund take to arrive?\x00"
    )
    assert await rt.bot.on_message(message, channel) == Outcome.ANSWERED
    [(_, reply)] = channel.posted
    assert reply.kind == ReplyKind.ANSWER and "five to seven business days" in reply.text
    record = rt.state.answer(int(reply.buttons[0].value))
    assert record is not None and record.question == "How long does a refund take to arrive?\ufffd"


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


async def test_a_models_answer_holding_a_nul_is_given_with_state_in_postgresql(
    make_runtime: Callable[..., Runtime], pg_url: str, clock: FakeClock, model: FakeOpenAI
) -> None:
    """What the model says never passes the chat's arrival scrub: a NUL in it reaches
    PostgreSQL as U+FFFD, and the answer is given, not "something went wrong" and a ticket."""
    env = {
        "SUPPORTBOT_DATABASE_URL": pg_url,
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_API_KEY": model.api_key,
    }
    rt = make_runtime("[llm]\nmax_retries = 0\ntimeout_seconds = 5\n", env)
    model.enqueue(Answer("Refunds take five to seven business days\x00 to arrive [1]."))
    channel = ConsoleChannel(io.StringIO())
    message = refund_question(clock, id="q1", name="Ann", text="How long does a refund take to arrive?")
    assert await rt.bot.on_message(message, channel) == Outcome.ANSWERED
    reply = channel.edits[-1][1] if channel.edits else channel.posted[-1][1]
    assert reply.kind == ReplyKind.ANSWER
    record = rt.state.answer(int(reply.buttons[0].value))
    assert record is not None and "business days\ufffd to arrive" in record.answer
