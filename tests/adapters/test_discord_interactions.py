"""A button press Discord will not let the bot acknowledge (adapters/discord/interactions.py).

Discord refuses an interaction's callback once its 3 seconds are past, or when another
process answered it first (10062 Unknown interaction): the press is then not acted on (the
person sees Discord's own "this interaction failed" and can press again), one ERROR line says
so, and the next press works. And a slash command's private reply stays private when the
public "thinking" message Discord would put it in cannot be removed, and a press where the bot
may not post itself is answered through the press, and a slow answer to `/support ask` still
reaches its thread once the command's token has expired. Real discord.py against the fake
Discord, real core and store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from adapters.discord import DiscordAdapter
from bot.app import Runtime
from bot.messages import say
from tests.adapters.test_discord_adapter import (  # noqa: F401  (fixtures)
    MESSAGES,
    adapter,
    answered,
    custom_ids,
    discord_env,
    discord_toml,
    fake,
    ok_post,
    press,
    running,
    runtime,
)
from tests.adapters.test_slack_http_hostile import tracebacks
from tests.fakes.answerers import GatedExtractive
from tests.fakes.discord_server import FLAG_EPHEMERAL, FakeDiscord, RecordedRequest

CALLBACK = "/interactions/{id}/{token}/callback"
WEBHOOK = "/webhooks/{app}/{token}"


async def test_a_press_whose_acknowledgement_discord_refuses_is_not_acted_on_and_the_next_one_is(
    fake: FakeDiscord,  # noqa: F811
    adapter: DiscordAdapter,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    thread_id, answer = await answered(fake, adapter, "How do I reset my password?")
    human = custom_ids(answer.json)[2]  # "talk to a person"
    fake.fail("POST", CALLBACK, 404, 10062, "Unknown interaction")
    start = len(fake.requests)
    payload = fake.build_button_press(human, message_id=answer.response["id"], channel_id=thread_id)
    await fake.dispatch("INTERACTION_CREATE", payload)
    refused = await fake.wait_for_request("POST", f"/interactions/{payload['id']}/{{t}}/callback")
    assert refused.status == 404
    assert await adapter.drain(5)
    # not acted on: no ticket, no ping of staff
    assert fake.requests_matching("POST", MESSAGES, ok_post(thread_id, "ticket #1"), after=start) == []
    lines = [r for r in caplog.records if "could not acknowledge a button" in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.ERROR] and lines[0].exc_info is None

    await press(fake, human, message_id=answer.response["id"], channel_id=thread_id)  # pressed again
    await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id, "ticket #1"), after=start)
    assert await adapter.drain(5)


async def test_a_private_reply_stays_private_when_the_public_thinking_message_cannot_be_deleted(
    fake: FakeDiscord,  # noqa: F811
    adapter: DiscordAdapter,  # noqa: F811
) -> None:
    """`/support ask` thinks in public; a private reply (a question too long) deletes that
    first, since Discord shows the first follow-up in its place, public whatever it asks. A
    refused delete left the private text to become that public message."""
    fake.fail("DELETE", "/webhooks/{w}/{t}/messages/{m}", 403, 50013, times=None)
    interaction = fake.build_slash_command("support", "ask", {"question": "why " * 1100})
    await fake.dispatch("INTERACTION_CREATE", interaction)
    await fake.wait_for_request(
        "POST",
        f"/webhooks/{fake.app_id}/{{token}}",
        lambda r: r.path.endswith(interaction["token"]),
        timeout=30,
    )
    assert await adapter.drain(20)
    shown = fake.channel_messages(fake.text_channel_id, include_ephemeral=True)
    refusals = [m for m in shown if "characters long" in m["content"]]
    assert refusals and all(m["flags"] & FLAG_EPHEMERAL for m in refusals)
    [neutral] = [m for m in shown if m["content"] == say("replied_privately", "en")]
    assert not neutral["flags"] & FLAG_EPHEMERAL  # in the thinking message's place


def on_token(token: str) -> Callable[[RecordedRequest], bool]:
    return lambda r: r.path.endswith(token)


async def test_talk_to_a_person_where_the_bot_may_not_post_is_said_through_the_press(
    fake: FakeDiscord,  # noqa: F811
    adapter: DiscordAdapter,  # noqa: F811
) -> None:
    """#support takes no message and no thread from the bot (403 50001), yet `/support ask`
    works there, its answer riding on the command's token. Before, *Talk to a person* under
    that answer opened ticket #1 but its note went through the channel, was refused, and the
    presser was told privately to try again, on every press (the note claimed and refused
    again). Now the note rides on the press's own token: said once, staff's card posted, and
    a second press is told the ticket is open without a second note."""
    channel = fake.text_channel_id
    fake.fail("POST", f"/channels/{channel}/messages", 403, 50001, "Missing Access", times=None)
    fake.fail("POST", f"/channels/{channel}/messages/{{m}}/threads", 403, 50001, "Missing Access", times=None)
    start = len(fake.requests)
    interaction = fake.build_slash_command("support", "ask", {"question": "How do I reset my password?"})
    await fake.dispatch("INTERACTION_CREATE", interaction)
    answer = await fake.wait_for_request(
        "POST",
        WEBHOOK,
        lambda r: r.status == 200 and "Forgot password" in ((r.json or {}).get("content") or ""),
        after=start,
        timeout=15,
    )
    assert await adapter.drain(10)
    human = custom_ids(answer.json)[2]  # "talk to a person"
    presses = []
    for _ in range(2):
        on_press = on_token(
            (await press(fake, human, message_id=answer.response["id"], channel_id=channel))["token"]
        )
        await fake.wait_for_request("POST", WEBHOOK, on_press, after=start)
        assert await adapter.drain(10)
        presses.append([r.json or {} for r in fake.requests_matching("POST", WEBHOOK, on_press)])
    told = [[(m.get("content") or "", bool(m.get("flags", 0) & FLAG_EPHEMERAL)) for m in p] for p in presses]
    assert not [t for p in told for t, _ in p if "try again" in t.lower()], told
    notes = [t for p in told for t, private in p if "ticket #1" in t and not private]
    assert len(notes) == 1 and notes[0] in [t for t, _ in told[0]], told  # the first press's, once
    assert [t for t, _ in told[1] if "ticket #1" in t], told
    assert fake.requests_matching("POST", MESSAGES, ok_post(fake.general_channel_id, "#1"), after=start)


TOKEN_LIFE = 1.5  # Discord's 15 minutes, shortened


@pytest.fixture
async def short_lived() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(interaction_token_seconds=TOKEN_LIFE) as server:
        yield server


@pytest.mark.parametrize("known", [False, True], ids=["refused", "known"])
async def test_a_slow_answer_to_support_ask_in_a_thread_reaches_it_after_the_token_expired(
    short_lived: FakeDiscord,
    make_runtime: Callable[..., Runtime],
    caplog: pytest.LogCaptureFixture,
    known: bool,
) -> None:
    """`/support ask` used inside a thread (no thread to start: the answer replaces the
    command's public "thinking..." message through the interaction's webhook). An answer that
    took longer than the token lives (15 minutes: a busy model, a queue of questions) was
    refused (401 50027 Invalid Webhook Token) and thrown away, then the fallback line and the
    apology were refused too: three tracebacks, and the asker got nothing. Now it is posted in
    the thread as any reply, whether Discord says the token expired (`refused`) or the bot
    knows it from the clock (`known`: no follow-up tried), and the spent "thinking..."
    message is left alone."""
    server = short_lived
    answerer = GatedExtractive(held=lambda q: "refund" in q.lower())
    rt = make_runtime(discord_toml(server), env=discord_env(server), answerer=answerer)
    async with running(rt, typing_after=60.0) as bot:
        if known:
            bot.webhooks.ttl = TOKEN_LIFE
        thread, _ = await answered(server, bot, "How do I reset my password?")
        start = len(server.requests)
        interaction = server.build_slash_command(
            "support", "ask", {"question": "How long does a refund take?"}, channel_id=thread
        )
        await server.dispatch("INTERACTION_CREATE", interaction)
        await asyncio.wait_for(answerer.asked.wait(), 10)
        await asyncio.sleep(TOKEN_LIFE + 0.5)  # the token expires while the answer is written
        answerer.gate.set()
        assert await bot.drain(15)
    webhook = server.requests_matching("POST", WEBHOOK, on_token(interaction["token"]), after=start)
    assert [r.status for r in webhook] == ([] if known else [401])
    assert server.requests_matching("POST", MESSAGES, ok_post(thread, "five to seven"), after=start)
    assert not server.requests_matching("DELETE", f"{WEBHOOK}/messages/{{m}}", after=start)
    assert tracebacks(caplog) == []


async def test_a_private_reply_past_the_token_is_not_announced_in_public(
    fake: FakeDiscord,  # noqa: F811
    adapter: DiscordAdapter,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A private reply (a question too long) whose interaction token Discord says has expired
    (401 50027): the "thinking..." message cannot be deleted, and the neutral "I've replied
    to you privately" meant to take its place would have gone to the channel over REST with
    nothing private behind it. Now nothing is said; one warning, no traceback."""
    for method, path in (("DELETE", f"{WEBHOOK}/messages/{{m}}"), ("POST", WEBHOOK)):
        fake.fail(method, path, 401, 50027, "Invalid Webhook Token", times=None)
    start = len(fake.requests)
    interaction = fake.build_slash_command("support", "ask", {"question": "why " * 1100})
    await fake.dispatch("INTERACTION_CREATE", interaction)
    await fake.wait_for_request("POST", WEBHOOK, on_token(interaction["token"]), after=start, timeout=30)
    assert await adapter.drain(20)
    assert fake.requests_matching("POST", MESSAGES, after=start) == []
    lost = [r for r in caplog.records if "private reply could not be sent" in r.getMessage()]
    assert len(lost) == 1 and tracebacks(caplog) == []
