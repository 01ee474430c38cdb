"""Discord when a channel's permissions keep the bot from its usual way of answering
(adapters/discord/channel.py): threads it may start but not post in, a history it may not
read (so a reply may not quote the question). The answer still reaches the asker.

The real discord.py client against the fake Discord gateway and REST API, the real core.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.app import Runtime
from tests.adapters.test_discord_adapter import (  # noqa: F401  (fixtures)
    MESSAGES,
    answered,
    discord_env,
    discord_toml,
    fake,
    ok_post,
    running,
)
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.discord_server import P_READ_MESSAGE_HISTORY, P_SEND_MESSAGES_IN_THREADS, FakeDiscord

pytestmark = pytest.mark.timeout(60)


def deny_bot(server: FakeDiscord, channel_id: str, permission: int) -> None:
    """An overwrite of the channel denying the bot's role `permission` (set before the bot
    connects, so discord.py's cache has it too; its threads take it from the channel)."""
    server.get_channel(channel_id)["permission_overwrites"] = [
        {"id": server.bot_role_id, "type": 0, "allow": "0", "deny": str(permission)}
    ]


def said_in(server: FakeDiscord, channel_id: str, start: int) -> list[str]:
    return [
        (r.json or {}).get("content", "")
        for r in server.requests_matching("POST", MESSAGES, ok_post(channel_id), after=start)
    ]


@pytest.mark.parametrize("denied", ["overwrite", "refused"])
async def test_a_question_whose_thread_the_bot_may_not_post_in_gets_its_answer_in_the_channel(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    denied: str,
) -> None:
    """#support lets the bot post but not in threads (Send Messages in Threads denied), or
    Discord refuses every post in the thread started from the question (403 50013). Before,
    the thread was started, the answer refused in it, a ticket opened whose note was refused
    too, and the asker told in the channel to try again in a moment, which could never work.
    Now the answer goes under the question in the channel (no thread is started when the
    bot's permissions already say it could not post in it)."""
    if denied == "overwrite":
        deny_bot(fake, fake.text_channel_id, P_SEND_MESSAGES_IN_THREADS)
    rt = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=ConfidentExtractive())
    async with running(rt) as bot:
        start = len(fake.requests)
        question = fake.build_message_create("How do I reset my password?", mention_bot=True)
        # what Discord does with such an overwrite: nothing the bot posts in the thread goes
        fake.fail(
            "POST", f"/channels/{question['id']}/messages", 403, 50013, "Missing Permissions", times=None
        )
        await fake.dispatch("MESSAGE_CREATE", question)
        await fake.wait_for_request("POST", MESSAGES, ok_post(fake.text_channel_id), after=start, timeout=15)
        assert await bot.drain(10)
    said = said_in(fake, fake.text_channel_id, start)
    assert [s for s in said if "Forgot password" in s] and not [s for s in said if "try again" in s.lower()]
    started = fake.requests_matching("POST", "/channels/{c}/messages/{m}/threads", after=start)
    assert bool(started) is (denied == "refused")
    assert rt.state.tickets() == []  # nothing for people to pick up: it was answered


@pytest.mark.parametrize("denied", ["overwrite", "refused"])
async def test_a_follow_up_where_the_bot_may_not_read_the_history_is_answered_without_a_quote(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    denied: str,
) -> None:
    """#support denies the bot Read Message History (its threads with it), and Discord refuses
    a reply there (403 160002). The first answer goes in the thread started from the question
    (it quotes nothing), but the answer to a follow-up quotes it. Before, that answer, the
    ticket's note and the apology were all refused, and the asker told in the channel to try
    again. Now the answer goes without the quote: left out where discord.py's cache says the
    bot may not read the history, posted again without it when Discord refuses it anyway."""
    if denied == "overwrite":
        deny_bot(fake, fake.text_channel_id, P_READ_MESSAGE_HISTORY)
    rt = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=ConfidentExtractive())
    async with running(rt) as bot:
        thread, _ = await answered(fake, bot, "How do I reset my password?")
        start = len(fake.requests)
        if denied == "refused":  # an overwrite discord.py has not heard of
            fake.fail("POST", f"/channels/{thread}/messages", 403, 160002, "Cannot reply without permission")
        follow_up = fake.build_message_create("How long does a refund take?", channel_id=thread)
        await fake.dispatch("MESSAGE_CREATE", follow_up)
        await fake.wait_for_request("POST", MESSAGES, ok_post(thread), after=start, timeout=15)
        assert await bot.drain(10)
    in_thread = said_in(fake, thread, start)
    in_channel = said_in(fake, fake.text_channel_id, start)
    assert not [s for s in in_channel + in_thread if "try again" in s.lower()], (in_thread, in_channel)
    assert len(in_thread) == 1 and "refund" in in_thread[0].lower(), in_thread
    tries = fake.requests_matching("POST", f"/channels/{thread}/messages", after=start)
    assert [r.status for r in tries] == ([200] if denied == "overwrite" else [403, 200])


async def test_an_apology_refused_in_a_forum_post_is_not_tried_in_the_forum(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """Discord refuses everything the bot posts in a forum post (403 50013). An apology that
    cannot go in a thread goes to its parent channel; before, that was tried in the forum
    itself too, which takes posts but no messages (400 50008: one more refusal and traceback).
    Now a forum post's apology stays where it was refused."""
    rt = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=ConfidentExtractive())
    async with running(rt) as bot:
        start = len(fake.requests)
        post = fake.build_thread_create("Password reset", starter_content="How do I reset my password?")
        fake.fail("POST", f"/channels/{post['id']}/messages", 403, 50013, "Missing Permissions", times=None)
        await fake.dispatch("THREAD_CREATE", post)
        await fake.wait_for_request("POST", f"/channels/{post['id']}/messages", after=start, timeout=15)
        assert await bot.drain(10)
    refused = fake.requests_matching("POST", f"/channels/{post['id']}/messages", after=start)
    assert refused and {r.status for r in refused} == {403}
    assert fake.requests_matching("POST", f"/channels/{fake.forum_channel_id}/messages", after=start) == []
