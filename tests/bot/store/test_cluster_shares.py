"""A model's hourly shares ([llm] user_rate_per_hour, channel_rate_per_hour) across two
workers on one PostgreSQL: a question reserves its model answer in the shared database before
the model is asked (bot/store/answers.py `reserve_model_answer`), so questions reaching two
workers at once cannot both take a share's last answer. The same on one worker is
tests/bot/test_core_llm.py's."""

from __future__ import annotations

import asyncio
import io
import itertools
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime, build_runtime
from bot.config import load_settings
from bot.messages import say
from bot.types import Author, ConversationRef, InboundMessage, Outcome, Visibility
from tests.fakes.clock import FakeClock
from tests.fakes.openai_server import FakeOpenAI, RecordedRequest

_ids = itertools.count(1)
ANN = Author(id="U1", name="Ann")
BO = Author(id="U2", name="Bo")
ANSWER = "Refunds take five to seven business days [1]."


def question(text: str, channel: str, author: Author = ANN) -> InboundMessage:
    return InboundMessage(
        id=f"q{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace="T", channel=channel),
        author=author,
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 11, 30, tzinfo=UTC),
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def workers(
    tmp_path: Path, knowledge_dir: Path, pg_url: str, clock: FakeClock, fake: FakeOpenAI
) -> AsyncIterator[Callable[[str], tuple[Runtime, Runtime]]]:
    """Two workers on one PostgreSQL and one model, with the [llm] lines given."""
    made: list[Runtime] = []

    def make(llm: str) -> tuple[Runtime, Runtime]:
        config = tmp_path / "supportbot.toml"
        config.write_text(textwrap.dedent(f"[llm]\nmax_retries = 0\n{llm}\n"), encoding="utf-8")
        for name in ("a", "b"):
            settings = load_settings(
                config=config,
                knowledge=knowledge_dir,
                data=tmp_path / f"data-{name}",
                env={"SUPPORTBOT_DATABASE_URL": pg_url, "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": fake.api_key},
            )  # fmt: skip
            made.append(build_runtime(settings, clock=clock))
        return made[-2], made[-1]

    yield make
    for runtime in made:
        await runtime.bot.aclose()
        runtime.close()


def asked(fake: FakeOpenAI) -> list[RecordedRequest]:
    """The questions the model was asked to answer."""
    return [r for r in fake.chat_requests if "<passages>" in r.prompt]


async def one_held(
    fake: FakeOpenAI, first: asyncio.Task[Outcome], then: Callable[[], Awaitable[Outcome]]
) -> None:
    """`first` reaches the model, which holds its answer until `then` is done."""
    release = asyncio.Event()

    async def reply(_request: RecordedRequest) -> str:
        await release.wait()
        return ANSWER

    fake.default_reply = reply
    await fake.wait_for_request(path="/v1/chat/completions")
    try:
        await then()
    finally:
        release.set()
    assert await first == Outcome.ANSWERED


async def test_an_hourly_share_of_one_is_one_model_answer_across_two_workers(
    workers: Callable[[str], tuple[Runtime, Runtime]], fake: FakeOpenAI
) -> None:
    """`user_rate_per_hour = 1`: Ann asks in two channels at once, and the two questions reach
    two workers (Slack over HTTP behind a load balancer). Before, each worker counted her model
    answers recorded in the shared database, and an answer is recorded once the model is done:
    both found none, and the model answered both. Now the second quotes the documentation."""
    a, b = workers("timeout_seconds = 20\nuser_rate_per_hour = 1")
    said = ConsoleChannel(io.StringIO())
    on_a = asyncio.create_task(a.bot.on_message(question("How long does a refund take?", "C1"), said))
    on_b = ConsoleChannel(io.StringIO())
    await one_held(
        fake, on_a, lambda: b.bot.on_message(question("How long does a refund take to arrive?", "C2"), on_b)
    )
    assert len(asked(fake)) == 1, f"the model answered Ann {len(asked(fake))} times within a share of 1"
    last = on_b.posted[-1][1]
    assert say("rate_limited_model", "en") in last.text and last.citations


async def test_a_channels_share_is_kept_across_two_workers(
    workers: Callable[[str], tuple[Runtime, Runtime]], fake: FakeOpenAI
) -> None:
    """`channel_rate_per_hour = 1`: Ann and Bo ask in one channel at once, on two workers."""
    a, b = workers("timeout_seconds = 20\nuser_rate_per_hour = 0\nchannel_rate_per_hour = 1")
    said = ConsoleChannel(io.StringIO())
    on_a = asyncio.create_task(a.bot.on_message(question("How long does a refund take?", "C1"), said))
    on_b = ConsoleChannel(io.StringIO())
    await one_held(
        fake, on_a, lambda: b.bot.on_message(question("How long does a refund take?", "C1", BO), on_b)
    )
    assert len(asked(fake)) == 1
    assert say("rate_limited_model", "en") in on_b.posted[-1][1].text
