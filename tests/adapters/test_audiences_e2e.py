"""Audiences end to end: the real Slack and Discord adapters against their fakes, a real model
client against the fake OpenAI server, real retrieval over a knowledge folder where one
folder is for partners only (`partners/_audience.yml`).

A member gets the partner document cited; a non-member asking the same question never gets
it, not in the answer, not in the sources, not in what the model was sent, and not through
the thread's history either; a membership lookup that fails counts as non-member.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.discord import DiscordAdapter
from adapters.slack import SlackAdapter
from bot.app import Runtime
from tests.adapters.test_discord_adapter import MESSAGES, discord_env, discord_toml, ok_post
from tests.adapters.test_discord_adapter import running as running_discord
from tests.adapters.test_slack import deliver, outgoing_strings, slack_env
from tests.adapters.test_slack import running as running_slack
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import Answer, FakeOpenAI
from tests.fakes.slack_server import FakeSlack

SECRET = "ZEBRA-42"  # only in the partners' document
QUESTION = "What discount do resellers get on annual plans?"
PARTNER_DOC = f"""\
# Reseller discounts

Resellers in the partner programme get the {SECRET} discount: 40 percent off annual plans,
applied by the partner desk to every reseller order.
"""
GENERAL_DOC = """\
# Plans and pricing

Annual plans cost ten months of the monthly price. Resellers should ask their partner
manager about discounts on annual plans.
"""
MEMBER, OUTSIDER = "W333", "W222"  # Slack: a partner (user group S555), and an ordinary member


@pytest.fixture(autouse=True)
def partner_folder(knowledge_dir: Path) -> None:
    (knowledge_dir / "partners").mkdir()
    (knowledge_dir / "partners" / "_audience.yml").write_text("[partners]\n", encoding="utf-8")
    (knowledge_dir / "partners" / "discounts.md").write_text(textwrap.dedent(PARTNER_DOC), encoding="utf-8")
    (knowledge_dir / "pricing.md").write_text(textwrap.dedent(GENERAL_DOC), encoding="utf-8")


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def model_env(model: FakeOpenAI) -> dict[str, str]:
    return {"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}


LLM = "[llm]\nmax_retries = 0\ntimeout_seconds = 5\n"


def shown(fake: FakeSlack, since: int = 0) -> str:
    """Everything the bot showed in Slack (posts and the edits that stream an answer into
    them: text, answer blocks, sources), from the `since`-th string on."""
    return "\n".join(outgoing_strings(fake)[since:])


# -- Slack ------------------------------------------------------------------------------------


@pytest.fixture
async def slack_fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        server.add_user(MEMBER, "pat")
        server.add_usergroup("S555", "partners", users=[MEMBER])
        yield server


@pytest.fixture
def slack_runtime(make_runtime: Callable[..., Runtime], slack_fake: FakeSlack, model: FakeOpenAI) -> Runtime:
    toml = LLM + '[audiences.partners]\nslack_groups = ["S555"]\n'
    return make_runtime(toml, env={**slack_env(slack_fake), **model_env(model)})


@pytest.fixture
async def slack(slack_runtime: Runtime, slack_fake: FakeSlack) -> AsyncIterator[SlackAdapter]:
    async with running_slack(slack_runtime) as adapter:
        await slack_fake.wait_for_connection(1)
        yield adapter


async def ask_in_slack(fake: FakeSlack, adapter: SlackAdapter, user: str, **options: Any) -> dict[str, Any]:
    body = fake.user_message("C111", QUESTION, user=user, **options)
    await deliver(fake, adapter, body)
    return body


async def test_a_slack_member_gets_the_audience_document_cited(
    slack_fake: FakeSlack, slack: SlackAdapter, model: FakeOpenAI
) -> None:
    model.enqueue(Answer(f"Resellers get the {SECRET} discount, 40 percent off annual plans [1]."))
    await ask_in_slack(slack_fake, slack, MEMBER, mention=True)
    assert SECRET in shown(slack_fake) and "Reseller discounts" in shown(slack_fake)  # quoted and cited
    [request] = model.chat_requests
    assert SECRET in request.prompt


async def test_a_slack_non_member_never_gets_it_in_answer_sources_or_prompt(
    slack_fake: FakeSlack, slack: SlackAdapter, model: FakeOpenAI
) -> None:
    model.enqueue(Answer("Ask your partner manager about discounts on annual plans [1]."))
    await ask_in_slack(slack_fake, slack, OUTSIDER, mention=True)
    assert SECRET not in shown(slack_fake) and "Reseller discounts" not in shown(slack_fake)
    assert "Plans and pricing" in shown(slack_fake)  # the general document answers instead
    assert all(SECRET not in r.prompt and "partner programme" not in r.prompt for r in model.chat_requests)


async def test_a_non_member_following_up_in_a_members_thread_gets_no_leak_through_history(
    slack_fake: FakeSlack, slack: SlackAdapter, model: FakeOpenAI
) -> None:
    model.enqueue(Answer(f"Resellers get the {SECRET} discount on annual plans [1]."))
    question = await ask_in_slack(slack_fake, slack, MEMBER, mention=True)
    thread = question["event"]["ts"]
    model.enqueue(Answer("Annual plans cost ten months of the monthly price [1]."))
    before = len(outgoing_strings(slack_fake))
    await ask_in_slack(slack_fake, slack, OUTSIDER, thread_ts=thread)  # a follow-up: no mention
    member_request, outsider_request = model.chat_requests
    assert SECRET in member_request.prompt
    # neither the partner passage nor the bot's answer to the partner reached the model
    assert SECRET not in outsider_request.prompt and "partner programme" not in outsider_request.prompt
    assert "Plans and pricing" in shown(slack_fake, before)
    assert SECRET not in shown(slack_fake, before) and "Reseller discounts" not in shown(slack_fake, before)
    # and the partner, asking again in the same thread, still sees their own answer and the document
    model.enqueue(Answer(f"As before: the {SECRET} discount [1]."))
    await ask_in_slack(slack_fake, slack, MEMBER, thread_ts=thread)
    assert SECRET in model.chat_requests[-1].prompt


async def test_a_failed_group_lookup_means_non_member(
    slack_fake: FakeSlack, slack: SlackAdapter, model: FakeOpenAI
) -> None:
    slack_fake.fail("usergroups.users.list", "internal_error", times=10)
    model.enqueue(Answer("Ask your partner manager about discounts on annual plans [1]."))
    await ask_in_slack(slack_fake, slack, MEMBER, mention=True)
    assert shown(slack_fake) and SECRET not in shown(slack_fake)
    assert "Reseller discounts" not in shown(slack_fake)
    assert all(SECRET not in r.prompt for r in model.chat_requests)


async def test_a_slack_connect_user_is_never_a_member(
    slack_fake: FakeSlack, slack: SlackAdapter, model: FakeOpenAI
) -> None:
    # listed in the partners' user group, but of another organisation (a shared channel)
    slack_fake.add_user("W777", "visitor", team_id="T999")
    slack_fake.usergroups["S555"]["users"].append("W777")
    model.enqueue(Answer("Ask your partner manager about discounts on annual plans [1]."))
    await ask_in_slack(slack_fake, slack, "W777", mention=True)
    assert shown(slack_fake) and SECRET not in shown(slack_fake)
    assert all(SECRET not in r.prompt for r in model.chat_requests)


async def test_support_ask_filters_by_the_invokers_audiences(
    slack_fake: FakeSlack, slack: SlackAdapter, model: FakeOpenAI
) -> None:
    model.enqueue(Answer("Ask your partner manager about discounts on annual plans [1]."))
    command = slack_fake.slash_command("/support", f"ask {QUESTION}", user_id=OUTSIDER)
    await slack_fake.socket_send("slash_commands", command, timeout=3.0)
    assert await slack.drain(timeout=15)
    assert "Plans and pricing" in shown(slack_fake) and SECRET not in shown(slack_fake)
    assert model.chat_requests and all(SECRET not in r.prompt for r in model.chat_requests)

    model.enqueue(Answer(f"Resellers get the {SECRET} discount [1]."))
    command = slack_fake.slash_command("/support", f"ask {QUESTION}", user_id=MEMBER)
    before = len(outgoing_strings(slack_fake))
    await slack_fake.socket_send("slash_commands", command, timeout=3.0)
    assert await slack.drain(timeout=15)
    assert "Reseller discounts" in shown(slack_fake, before)


# -- Discord ----------------------------------------------------------------------------------


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
def discord_runtime(
    make_runtime: Callable[..., Runtime], discord_fake: FakeDiscord, model: FakeOpenAI
) -> Runtime:
    # bob holds the "Support Staff" role, which here also makes him a partner; alice holds none
    toml = discord_toml(
        discord_fake, f'[audiences.partners]\ndiscord_roles = ["{discord_fake.staff_role_id}"]\n'
    )
    return make_runtime(LLM + toml, env={**discord_env(discord_fake), **model_env(model)})


@pytest.fixture
async def discord(discord_runtime: Runtime) -> AsyncIterator[DiscordAdapter]:
    async with running_discord(discord_runtime) as adapter:
        yield adapter


async def ask_in_discord(fake: FakeDiscord, adapter: DiscordAdapter, author: str) -> str:
    """`author` mentions the bot in #support; the answer is streamed into a new thread.
    Returns everything the bot sent there: posts and edits, text, embeds (the sources)."""
    start = len(fake.requests)
    payload = fake.build_message_create(QUESTION, mention_bot=True, author_id=author)
    await fake.dispatch("MESSAGE_CREATE", payload)
    await fake.wait_for_request("POST", MESSAGES, ok_post(payload["id"]), after=start)
    await adapter.drain(5)
    thread = f"/channels/{payload['id']}/messages"
    return str([r.json for r in fake.requests[start:] if r.path.startswith(thread)])


async def test_a_discord_role_member_gets_it_and_a_member_without_the_role_never_does(
    discord_fake: FakeDiscord, discord: DiscordAdapter, model: FakeOpenAI
) -> None:
    model.enqueue(Answer(f"Resellers get the {SECRET} discount, 40 percent off annual plans [1]."))
    partner = await ask_in_discord(discord_fake, discord, discord_fake.staff_user_id)
    assert SECRET in partner and "Reseller discounts" in partner  # quoted and cited
    assert SECRET in model.chat_requests[-1].prompt

    model.enqueue(Answer("Ask your partner manager about discounts on annual plans [1]."))
    other = await ask_in_discord(discord_fake, discord, discord_fake.user_id)
    assert SECRET not in other and "Reseller discounts" not in other
    assert "Plans and pricing" in other
    assert SECRET not in model.chat_requests[-1].prompt


async def test_a_discord_role_member_opening_a_forum_post_gets_it(
    discord_fake: FakeDiscord, discord: DiscordAdapter, model: FakeOpenAI
) -> None:
    """A new forum post's question is read over REST, which names no member: the poster had no
    roles, so a partner opening a post was never given the partners' document (and staff
    opening one passed for askers)."""
    model.enqueue(Answer(f"Resellers get the {SECRET} discount, 40 percent off annual plans [1]."))
    start = len(discord_fake.requests)
    post = discord_fake.build_thread_create(
        "Reseller discount", starter_content=QUESTION, owner_id=discord_fake.staff_user_id
    )
    await discord_fake.dispatch("THREAD_CREATE", post)
    await discord_fake.wait_for_request("POST", MESSAGES, ok_post(post["id"]), after=start)
    await discord.drain(5)
    assert SECRET in model.chat_requests[-1].prompt
    thread = f"/channels/{post['id']}/messages"
    assert "Reseller discounts" in str(
        [r.json for r in discord_fake.requests[start:] if r.path.startswith(thread)]
    )
