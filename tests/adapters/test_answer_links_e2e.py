"""A model answer's link to an address the passages do not hold never reaches Slack or Discord
as a link whose words hide its address, whatever Markdown link form the model wrote.

The real adapters against tests/fakes/slack_server.py and discord_server.py, the real LLM
answerer against tests/fakes/openai_server.py. Before the twenty-fourth session the output
filter knew only `[words](https://…)`: a link with a title, a blank before the address or a
`mailto:` address went out as the bot's own link (on Slack `<https://evil…|words>`), in the
streamed partial and the final answer.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import pytest

from adapters.slack.manifest import BOT_SCOPES
from bot.app import Runtime
from tests.adapters import test_discord_adapter as d
from tests.adapters import test_slack as s
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import Answer, FakeOpenAI
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.timeout(60)

LLM = "[llm]\nmax_retries = 0\ntimeout_seconds = 5\n"
DISGUISED = [
    '[Verify your account here](https://evil.example/phish "Billing")',  # a title
    "[Verify your account here](https://evil.example/phish 'Billing')",
    "[Verify your account here]( https://evil.example/phish)",  # a blank before the address
    "[Verify your account here](<https://evil.example/phish> (Billing))",
    "[Email billing](mailto:billing@evil.example)",  # not a :// address
    r"[Verify your account here](https\://evil.example/phish)",  # an escape Slack's converter reads
    # in a code block as the filter's reader saw one, not Discord's (no ~~~ fences) or Slack's
    # (a lone carriage return ends no line for its converter)
    "\n~~~\n[Verify your account here](https://evil.example/phish)\n~~~\n",
    "\r~~~\r[Verify your account here](https://evil.example/phish)\r~~~\r",
]
IDS = [
    "title",
    "single-quoted-title",
    "leading-blank",
    "angle-brackets-and-title",
    "mailto",
    "escaped-scheme",
    "tilde-fence",
    "lone-carriage-returns",
]
# Slack's link whose words hide its address: <address|words>
SLACK_LINK = re.compile(r"<(?:https://evil\.example[^|>]*|mailto:[^|>]*)\|")
# Discord's (Markdown's) link: "](" then the address, perhaps after blanks or "<"
MASKED = re.compile(r"(?<!\\)\]\(\s*<?(?:https://evil\.example|mailto:)")


def answer(disguised: str) -> Answer:
    return Answer(f"Refunds take five to seven business days [1]. {disguised} to speed it up.")


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def model_env(model: FakeOpenAI) -> dict[str, str]:
    return {"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}


@pytest.mark.parametrize("disguised", DISGUISED, ids=IDS)
async def test_slack_a_disguised_link_in_a_model_answer_is_written_out(
    make_runtime: Callable[..., Runtime], model: FakeOpenAI, disguised: str
) -> None:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as fake:
        rt = make_runtime(s.TOML + LLM, env={**s.slack_env(fake), **model_env(model)})
        model.enqueue(answer(disguised))
        async with s.running(rt) as slack:
            await fake.wait_for_connection(1)
            body = fake.user_message(
                "C111", "How long does a refund take to arrive?", user=s.MEMBER, mention=True
            )
            await s.deliver(fake, slack, body)
        shown = s.outgoing_strings(fake)
    assert any("five to seven" in text for text in shown)
    assert any(re.search(r"(?:Verify your account here|Email billing) \((?:https|mailto)", t) for t in shown)
    assert [text for text in shown if SLACK_LINK.search(text)] == []


@pytest.mark.parametrize("disguised", DISGUISED, ids=IDS)
async def test_discord_a_disguised_link_in_a_model_answer_is_written_out(
    make_runtime: Callable[..., Runtime], model: FakeOpenAI, disguised: str
) -> None:
    async with FakeDiscord() as fake:
        rt = make_runtime(d.discord_toml(fake, LLM), env={**d.discord_env(fake), **model_env(model)})
        model.enqueue(answer(disguised))
        async with d.running(rt) as adapter:
            await d.answered(fake, adapter, "How long does a refund take to arrive?")
        # every message posted or edited: the streamed partials and the final answer
        shown = [str(r.json.get("content") or "") for r in fake.requests if isinstance(r.json, dict)]
    assert any("five to seven" in text for text in shown)
    assert any(re.search(r"(?:Verify your account here|Email billing) \((?:https|mailto)", t) for t in shown)
    assert [text for text in shown if MASKED.search(text)] == []
