"""What the asker says while their answer is still being written (bot/delivery.py, bot/slots.py
`Edits`, bot/answering/trips.py): a follow-up in the answer's thread (a channel's thread, a
forum post) needs no mention, as it would once the answer is up; two quick edits of the
question leave the answer answering the last one; a thread deleted meanwhile leaves the answer
under the question, a forum post deleted meanwhile leaves nobody to answer, and so does a
question deleted before its thread could start; a thread a moderator locks meanwhile is left
to staff, with no "try again" in the channel.

The real discord.py client against the fake Discord gateway and REST API, the real core.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
import pytest

from adapters.discord import DiscordAdapter
from bot.app import Runtime
from bot.store.ticket_posts import CARD_LEASE
from bot.types import TicketStatus
from tests.adapters.test_discord_adapter import (  # noqa: F401  (fixtures)
    MESSAGES,
    adapter,
    answered,
    discord_env,
    discord_toml,
    fake,
    mention,
    ok_post,
    running,
    runtime,
)
from tests.fakes.answerers import GatedExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(60)

PARTIAL = "Forgot password: open the sign-in page"  # a first partial answer, streamed


def _contents(server: FakeDiscord, channel: str, start: int) -> list[str]:
    return [
        r.json["content"] for r in server.requests_matching("POST", MESSAGES, ok_post(channel), after=start)
    ]


async def test_a_follow_up_asked_while_the_answer_is_written_is_answered_too(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    answerer = GatedExtractive()
    rt = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=answerer)
    async with running(rt, typing_after=60.0) as bot:
        start = len(fake.requests)
        thread = (await mention(fake, "How do I reset my password?"))["id"]
        await asyncio.wait_for(answerer.asked.wait(), 10)
        await fake.wait_for_request("POST", "/channels/{c}/messages/{m}/threads", after=start)
        follow_up = fake.build_message_create("How long does a refund take?", channel_id=thread)
        await fake.dispatch("MESSAGE_CREATE", follow_up)  # no mention: the thread is the bot's
        await asyncio.sleep(0.3)
        answerer.gate.set()
        await fake.wait_for_request(
            "POST", MESSAGES, ok_post(thread, "five to seven"), after=start, timeout=10
        )
        assert await bot.drain(10)
    said = _contents(fake, thread, start)
    assert [c for c in said if "Forgot password" in c] and [c for c in said if "five to seven" in c]


async def test_a_follow_up_in_a_forum_post_while_its_answer_is_written_is_answered_too(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    answerer = GatedExtractive()
    rt = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=answerer)
    async with running(rt, typing_after=60.0) as bot:
        start = len(fake.requests)
        post = fake.build_thread_create("Password reset", starter_content="How do I reset my password?")
        await fake.dispatch("THREAD_CREATE", post)
        await asyncio.wait_for(answerer.asked.wait(), 10)
        follow_up = fake.build_message_create("How long does a refund take?", channel_id=post["id"])
        await fake.dispatch("MESSAGE_CREATE", follow_up)
        await asyncio.sleep(0.3)
        answerer.gate.set()
        await fake.wait_for_request(
            "POST", MESSAGES, ok_post(post["id"], "five to seven"), after=start, timeout=10
        )
        assert await bot.drain(10)


async def test_two_quick_edits_of_a_question_leave_its_answer_answering_the_last(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The first edit's answer is slow; the second edit comes meanwhile and its answer would be
    quick: it waits its turn, so the post ends up answering the question as it now reads."""
    answerer = GatedExtractive(held=lambda question: "refund" in question.lower())
    rt = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=answerer)
    async with running(rt, typing_after=60.0) as bot:
        start = len(fake.requests)
        question = await mention(fake, "How do I reset my password?")
        thread = question["id"]
        answer = await fake.wait_for_request(
            "POST", MESSAGES, ok_post(thread, "Forgot password"), after=start
        )
        assert await bot.drain(5)

        def edited(text: str) -> dict[str, object]:
            return dict(
                question,
                content=f"<@{fake.bot_user_id}> {text}",
                edited_timestamp=datetime.now(UTC).isoformat(),
            )

        await fake.dispatch("MESSAGE_UPDATE", edited("How long does a refund take?"))
        await asyncio.wait_for(answerer.asked.wait(), 10)  # the refund question, held
        await fake.dispatch(
            "MESSAGE_UPDATE", edited("How do I reset my password if the email never arrives?")
        )
        await asyncio.sleep(0.3)
        answerer.gate.set()
        assert await bot.drain(10)
    shown = fake.get_message(thread, answer.response["id"])["content"]
    assert "Forgot password" in shown and "five to seven" not in shown


@pytest.mark.parametrize("failures", [0, 2], ids=["looked-up", "look-up-failing-twice"])
async def test_a_follow_up_in_a_thread_discord_py_no_longer_caches_is_answered(
    fake: FakeDiscord,  # noqa: F811
    adapter: DiscordAdapter,  # noqa: F811
    failures: int,
) -> None:
    """An archived bot thread is dropped from discord.py's cache, so a follow-up in it comes
    with a bare channel, looked up over REST; a look-up the API fails (503) is tried again,
    not skipped: read without it, the follow-up passed for a channel message and was left."""
    thread, _ = await answered(fake, adapter, "How do I reset my password?")
    archived = copy.deepcopy(fake.get_channel(thread))
    archived["thread_metadata"]["archived"] = True
    await fake.dispatch("THREAD_UPDATE", archived)
    await asyncio.sleep(0.2)
    assert adapter.client is not None and adapter.client.get_channel(int(thread)) is None
    start = len(fake.requests)
    if failures:
        fake.fail("GET", f"/channels/{thread}", 503, 0, "Service Unavailable", times=failures)
    await fake.dispatch(
        "MESSAGE_CREATE", fake.build_message_create("How long does a refund take?", channel_id=thread)
    )
    await fake.wait_for_request("POST", MESSAGES, ok_post(thread, "five to seven"), after=start, timeout=10)
    assert await adapter.drain(10)


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
async def test_a_question_whose_thread_is_deleted_while_it_is_answered_gets_its_answer_in_the_channel(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    streamed: bool,
) -> None:
    """A moderator deletes the thread the bot started from the question before the answer is
    out (and, streamed, after a partial answer went into it): the answer goes under the
    question in the channel, not an apology to try again."""
    answerer = GatedExtractive(partial=PARTIAL if streamed else None)
    rt = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=answerer)
    async with running(rt, typing_after=60.0) as bot:
        start = len(fake.requests)
        question = await mention(fake, "How do I reset my password?")
        await asyncio.wait_for(answerer.asked.wait(), 10)
        await fake.wait_for_request("POST", "/channels/{c}/messages/{m}/threads", after=start)
        async with aiohttp.ClientSession() as http:
            gone = f"{fake.api_base}/channels/{question['id']}"
            async with http.delete(gone, headers={"Authorization": f"Bot {fake.token}"}) as response:
                assert response.status == 200
        answerer.gate.set()
        answer = await fake.wait_for_request(
            "POST", MESSAGES, ok_post(fake.text_channel_id, "Forgot password"), after=start, timeout=10
        )
        assert await bot.drain(10)
    assert answer.json["message_reference"]["message_id"] == int(question["id"])
    said = [
        r.json["content"]
        for r in fake.requests_matching("POST", MESSAGES, lambda r: r.status == 200, after=start)
    ]
    assert not [c for c in said if "try again" in c.lower()], said


async def test_an_answer_whose_message_discord_will_not_edit_is_posted_anew(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """Discord refuses every edit of the streamed message (a permission lost meanwhile): the
    finished answer is posted as a message of its own under it, not dropped for an apology."""
    answerer = GatedExtractive(partial=PARTIAL)
    rt = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=answerer)
    async with running(rt, typing_after=60.0) as bot:
        start = len(fake.requests)
        question = await mention(fake, "How do I reset my password?")
        thread = question["id"]
        first = await fake.wait_for_request("POST", MESSAGES, ok_post(thread), after=start, timeout=10)
        fake.fail(
            "PATCH",
            f"/channels/{thread}/messages/{first.response['id']}",
            403,
            50013,
            "Missing Permissions",
            times=None,
        )
        answerer.gate.set()
        after = fake.requests.index(first) + 1
        await fake.wait_for_request(
            "POST", MESSAGES, ok_post(thread, "Forgot password"), after=after, timeout=10
        )
        assert await bot.drain(10)
    said = _contents(fake, thread, after)
    assert len(said) == 1 and "sign-in page" not in said[0], said  # the whole answer, once
    assert fake.get_message(thread, first.response["id"])["content"].startswith(PARTIAL[:20])


async def test_a_forum_post_deleted_while_it_is_answered_is_left_without_a_ticket(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The asker (or a moderator) deletes their forum post while its answer is written, so
    Discord refuses the answer (404 Unknown Channel). Before, the failure opened ticket #1 for
    a conversation that no longer existed (its note refused, an apology tried in the forum
    itself: 400 50008), with three tracebacks; staff then got a triage card linking nowhere
    and SLA reminders failing for as long as it was open. Now nobody is left to answer: one
    warning, the event finished once, no ticket, no card, no apology anywhere."""
    answerer = GatedExtractive()
    rt = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=answerer)
    async with running(rt, typing_after=60.0) as bot:
        start = len(fake.requests)
        post = fake.build_thread_create("Password reset", starter_content="How do I reset my password?")
        await fake.dispatch("THREAD_CREATE", post)
        await asyncio.wait_for(answerer.asked.wait(), 10)
        async with aiohttp.ClientSession() as http:  # deleted, as its poster would
            gone = f"{fake.api_base}/channels/{post['id']}"
            async with http.delete(gone, headers={"Authorization": f"Bot {fake.token}"}) as response:
                assert response.status == 200
        answerer.gate.set()
        await fake.wait_for_request("POST", MESSAGES, lambda r: r.status == 404, after=start, timeout=10)
        assert await bot.drain(10)
        clock.advance(seconds=CARD_LEASE.total_seconds() + 60)
        await rt.bot.tick({"discord": bot.channel})  # no replay, no card for a late opener
        assert await bot.drain(10)
    assert rt.state.tickets() == [] and rt.state.pending_events("discord") == []
    posts = fake.requests_matching("POST", MESSAGES, after=start)
    assert [r.status for r in posts] == [404], [(r.path, r.status) for r in posts]
    assert not [r for r in caplog.records if r.exc_info], [
        r.getMessage() for r in caplog.records if r.exc_info
    ]


async def test_a_question_deleted_at_once_gets_no_answer_in_the_channel(
    fake: FakeDiscord,  # noqa: F811
    runtime: Runtime,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Someone mentions the bot in #support and deletes the message a moment later (the wrong
    channel, a pasted key). Discord refuses the thread from the deleted message (404 10008
    Unknown Message); the adapter took that for "may not start threads here" and posted the
    answer in #support itself, quoting nothing: an answer to a question nobody can see, in
    the middle of the channel's conversation. Now nobody is left to answer: nothing posted,
    no ticket, the event finished, no traceback."""
    channel = fake.text_channel_id
    async with running(runtime) as bot:
        start = len(fake.requests)
        question = fake.build_message_create("How do I reset my password?", mention_bot=True)
        del fake.messages[channel][question["id"]]  # deleted by its author...
        await fake.dispatch("MESSAGE_CREATE", question)  # ...as Discord delivered it
        await fake.dispatch(
            "MESSAGE_DELETE", {"id": question["id"], "channel_id": channel, "guild_id": fake.guild_id}
        )
        await fake.wait_for_request("POST", "/channels/{c}/messages/{m}/threads", after=start)
        assert await bot.drain(10)
    threads = fake.requests_matching("POST", "/channels/{c}/messages/{m}/threads", after=start)
    assert [r.status for r in threads] == [404]
    assert fake.requests_matching("POST", MESSAGES, after=start) == []
    assert runtime.state.tickets() == [] and runtime.state.pending_events("discord") == []
    assert not [r for r in caplog.records if r.exc_info], [
        r.getMessage() for r in caplog.records if r.exc_info
    ]


async def test_a_thread_a_moderator_locked_while_answering_gets_no_try_again_in_the_channel(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
) -> None:
    """A moderator locks (and archives) the thread started from a question while its answer is
    written. Discord refuses the answer there (400 50083 Thread is archived), and the error
    ticket's note is refused too; the bot then posted "Sorry, something went wrong on my side.
    Please try again in a moment." in the parent channel: a public error and an invitation to
    ask again into a conversation staff just closed. Now nothing is said in the channel; the
    ticket stays open and its card reaches staff when the clock finds it owed."""
    answerer = GatedExtractive()
    rt = make_runtime(discord_toml(fake), env=discord_env(fake), answerer=answerer)
    async with running(rt, typing_after=60.0) as bot:
        start = len(fake.requests)
        question = await mention(fake, "How do I reset my password?")
        thread = question["id"]
        await asyncio.wait_for(answerer.asked.wait(), 10)
        channel = fake.get_channel(thread)
        channel["thread_metadata"].update(archived=True, locked=True)
        await fake.dispatch("THREAD_UPDATE", copy.deepcopy(channel))
        await asyncio.sleep(0.3)  # discord.py takes the update in
        answerer.gate.set()
        await fake.wait_for_request("POST", MESSAGES, lambda r: r.status == 400, after=start, timeout=10)
        assert await bot.drain(10)
        assert _contents(fake, fake.text_channel_id, start) == []
        clock.advance(seconds=CARD_LEASE.total_seconds() + 60)
        await rt.bot.tick({"discord": bot.channel})
        assert await bot.drain(10)
    [ticket] = rt.state.tickets()
    assert ticket.conversation.thread == thread and ticket.status == TicketStatus.OPEN
    assert [c for c in _contents(fake, fake.general_channel_id, start) if f"Ticket #{ticket.id}" in c]
    assert _contents(fake, fake.text_channel_id, start) == []
