"""A card number and an email never reach state.db or the model, on Slack and on Discord.

`[privacy] redact` includes email and card. A member asks with both in the question, follows
up asking for a person (a ticket, a triage card) and, on Discord, asks again through `/support
ask`. The real adapters run against tests/fakes/slack_server.py and discord_server.py, the real
LLM answerer against tests/fakes/openai_server.py, the real store behind. Afterwards no table of
state.db, no request the model received and nothing the bot sent holds either value, while the
asker's own message on the platform still shows what they typed. Waits are on events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from adapters.slack.manifest import BOT_SCOPES
from bot.app import Runtime
from tests.adapters import test_discord_adapter as d
from tests.adapters import test_slack as s
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import Answer, FakeOpenAI
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.timeout(60)

CARD = "4111" + "1111" * 3  # a test Visa number: passes the Luhn check
CARD_GROUPED = " ".join(CARD[i : i + 4] for i in range(0, 16, 4))
EMAIL = "ann.lee@example.com"
SECRETS = (CARD, CARD_GROUPED, CARD_GROUPED.replace(" ", "-"), EMAIL)
PRIVACY = '[privacy]\nredact = ["email", "card", "token"]\n[llm]\nmax_retries = 0\ntimeout_seconds = 5\n'
ANSWER = "Refunds go back to the original payment method within five to seven business days [1]."


def assert_nowhere(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} reached {where}"


def state_dump(rt: Runtime) -> str:
    """Every row of every table of state.db, as text."""
    db = rt.state.db
    return "\n".join(json.dumps(row, default=str) for table in db.table_names() for row in db[table].rows)


def answered_by_the_model(rt: Runtime) -> bool:
    return any("five to seven business days" in (row["answer"] or "") for row in rt.state.db["answers"].rows)


def prompts(model: FakeOpenAI) -> str:
    requests = model.chat_requests
    assert requests, "the model was never asked"
    return "\n".join(json.dumps(r.body, ensure_ascii=False) for r in requests)


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def model_env(model: FakeOpenAI) -> dict[str, str]:
    return {"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}


# -- Slack ------------------------------------------------------------------------------------


async def test_slack_a_card_and_an_email_never_reach_the_store_or_the_model(
    make_runtime: Callable[..., Runtime], model: FakeOpenAI
) -> None:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as fake:
        rt = make_runtime(s.TOML + PRIVACY, env={**s.slack_env(fake), **model_env(model)})
        model.enqueue(Answer(ANSWER))
        async with s.running(rt) as slack:
            await fake.wait_for_connection(1)
            asked = f"My card {CARD_GROUPED} was charged twice, mail {EMAIL}. How long does a refund take?"
            body = fake.user_message("C111", asked, user=s.MEMBER, mention=True)
            await s.deliver(fake, slack, body)
            question_ts = body["event"]["ts"]
            assert len(s.posts(fake, "C111")) == 1  # the answer, streamed into one message
            assert answered_by_the_model(rt)

            handoff = f"I want to talk to a human, the charge on {CARD} is wrong"
            follow = fake.user_message("C111", handoff, user=s.MEMBER, thread_ts=question_ts)
            await s.deliver(fake, slack, follow)
            assert s.posts(fake, "C222"), "no triage card"  # the ticket went to staff

        dump = state_dump(rt)
        assert_nowhere("state.db", dump)
        assert "[card]" in dump and "[email]" in dump  # what was asked is kept, minus the values
        [ticket] = rt.state.tickets()
        assert "[card]" in ticket.question
        sent = prompts(model)
        assert_nowhere("the model", sent)
        assert "[card]" in sent and "[email]" in sent
        for call in fake.api_calls:  # everything the bot sent to Slack
            assert_nowhere(f"Slack {call.method}", json.dumps(call.params, default=str))
        # the asker's own message is theirs: never edited, still as typed
        original = fake.message("C111", question_ts)
        assert original is not None and CARD_GROUPED in original["text"] and EMAIL in original["text"]


# -- Discord ----------------------------------------------------------------------------------


def bodies(fake: FakeDiscord) -> list[str]:
    """What the bot sent to Discord's REST API."""
    return [json.dumps(r.json, ensure_ascii=False) for r in fake.requests if r.json is not None]


async def test_discord_a_card_and_an_email_never_reach_the_store_or_the_model(
    make_runtime: Callable[..., Runtime], model: FakeOpenAI
) -> None:
    async with FakeDiscord() as fake:
        rt = make_runtime(d.discord_toml(fake, PRIVACY), env={**d.discord_env(fake), **model_env(model)})
        model.enqueue(Answer(ANSWER), Answer(ANSWER))
        async with d.running(rt) as adapter:
            asked = f"My card {CARD} was charged twice, mail {EMAIL}. How long does a refund take?"
            thread_id, _ = await d.answered(fake, adapter, asked)
            assert answered_by_the_model(rt)
            created = fake.requests_matching("POST", "/channels/{c}/messages/{m}/threads")
            assert [r.json["name"] for r in created] == [
                "My card [card] was charged twice, mail [email]. How long does a refund take?"
            ]

            start = len(fake.requests)
            handoff = fake.build_message_create(
                f"I want to talk to a human, the charge on {CARD_GROUPED} is wrong", channel_id=thread_id
            )
            await fake.dispatch("MESSAGE_CREATE", handoff)
            await fake.wait_for_request("POST", d.MESSAGES, d.ok_post(thread_id, "ticket #1"), after=start)
            await adapter.drain(5)

            await d.slash(fake, "ask", {"question": f"Can {EMAIL} get a refund to {CARD_GROUPED}?"})
            await adapter.drain(5)

        dump = state_dump(rt)
        assert_nowhere("state.db", dump)
        assert "Can [email] get a refund to [card]?" in dump  # the command's question, redacted
        sent = prompts(model)
        assert_nowhere("the model", sent)
        assert "[card]" in sent and "[email]" in sent
        for body in bodies(fake):
            assert_nowhere("Discord", body)
        original: dict[str, Any] = fake.get_message(fake.text_channel_id, thread_id)
        assert CARD in original["content"] and EMAIL in original["content"]  # as the asker typed it
