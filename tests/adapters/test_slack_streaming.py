"""A model answer streamed into Slack while Slack rate-limits the edits (chat.update 429):
the model's answer is kept, not thrown away for the offline quote (bot/streaming.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from adapters.slack.manifest import BOT_SCOPES
from bot.app import Runtime
from tests.adapters.test_slack import MEMBER, TOML, deliver, running, slack_env
from tests.fakes.openai_server import Answer, FakeOpenAI
from tests.fakes.slack_server import FakeSlack


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        yield server


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


async def test_a_rate_limited_edit_does_not_cost_the_model_its_answer(
    make_runtime: Callable[..., Runtime], fake: FakeSlack, model: FakeOpenAI
) -> None:
    # slack_sdk waits out Retry-After (5 s) on the edit: longer than the model's whole deadline
    env = {**slack_env(fake), "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}
    rt = make_runtime(TOML + "[llm]\nmax_retries = 0\ntimeout_seconds = 3\n", env=env)
    words = "Refunds take five to seven business days to arrive on the original payment method [1]."
    model.enqueue(Answer(words, chunk_delay=0.15))
    fake.rate_limit("chat.update", times=1, retry_after=5)
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
        await deliver(fake, adapter, body)
    assert len(fake.calls("chat.postMessage")) == 1  # one message, edited in place
    final = [c for c in fake.calls("chat.update") if c.ok][-1].params.get("text", "")
    assert "five to seven business days" in final
    assert "language model is unavailable" not in final
