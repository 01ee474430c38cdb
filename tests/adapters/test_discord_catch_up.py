"""Catching up on what Discord sent while no connection of ours could hear it
(adapters/discord/standby.py `catch_up`): which conversations, how far back, and when.

The workers, the fake Discord and the dying holder are tests/adapters/test_discord_standby.py's;
the state is a real PostgreSQL. Every wait is on an event with a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from adapters.discord import DiscordAdapter
from adapters.discord.shards import ShardPlan
from adapters.discord.standby import HISTORY_CAP, catch_up
from bot.app import Runtime
from bot.store import StateStore
from bot.store.leases import GatewayLease
from bot.types import ConversationRef
from tests.adapters.test_discord_adapter import MESSAGES, answered, ok_post
from tests.adapters.test_discord_standby import (  # noqa: F401  (fixtures)
    DyingLease,
    end_lease_session,
    fake,
    make_worker,
    stop,
    worker,
)
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401  (fixtures)
from tests.fakes.clock import FakeClock
from tests.fakes.discord_server import ChannelType, FakeDiscord

pytestmark = pytest.mark.timeout(60)


async def test_a_dm_follow_up_sent_during_a_hand_over_is_answered_by_the_new_holder(
    fake: FakeDiscord,  # noqa: F811
    make_worker: Callable[[str], Runtime],  # noqa: F811
    pg_url: str,  # noqa: F811
) -> None:
    """A DM the bot answered is a conversation it takes part in, though it has no thread."""
    dying = DyingLease(pg_url)
    second = make_worker("b")
    holder, standby = worker(make_worker("a"), dying), worker(second, GatewayLease(pg_url))
    holding = asyncio.create_task(holder.run())
    await asyncio.wait_for(holder.wait_until_ready(), 10)
    waiting = asyncio.create_task(standby.run())
    try:
        assert standby.hold is not None
        await asyncio.wait_for(standby.hold.standing_by.wait(), 10)
        start = len(fake.requests)
        question = fake.build_message_create("How do I reset my password?", dm=True)
        await fake.dispatch("MESSAGE_CREATE", question)
        dm = question["channel_id"]
        await fake.wait_for_request("POST", MESSAGES, ok_post(dm), after=start, timeout=10)
        await holder.drain(5)

        dying.dead = True  # the holder dies; the asker follows up while no one is on the gateway
        holding.cancel()
        await asyncio.wait_for(asyncio.gather(holding, return_exceptions=True), 10)
        start = len(fake.requests)
        missed = fake.build_message_create("How long does a refund take?", dm=True)
        assert missed["channel_id"] == dm
        await end_lease_session(pg_url)

        answer = await fake.wait_for_request("POST", MESSAGES, ok_post(dm), after=start, timeout=20)
        await standby.drain(5)
        assert "refund" in answer.json["content"].lower()
        assert fake.requests_matching("GET", f"/channels/{dm}/messages", after=start)  # caught up
        inbox = second.state.db.execute(
            "select status from inbox where key = ?", [f"discord:msg:{missed['id']}"]
        )
        assert inbox.fetchall() == [("answered",)]
    finally:
        await stop(standby, waiting)
        dying.dead = False
        await dying.release()


async def _busy(runtime: Runtime, clock: FakeClock, server: FakeDiscord, workspace: str, n: int) -> None:
    """`n` more conversations the bot answered in, each newer than the last; real threads on
    the fake when they are in its guild (a catch-up reads them), made-up ones elsewhere."""
    for i in range(n):
        clock.advance(seconds=1)
        thread = (
            server._new_thread(
                server.get_channel(server.text_channel_id),
                name=f"t{i}",
                owner_id=server.bot_user_id,
                thread_type=ChannelType.PUBLIC_THREAD,
            )["id"]
            if workspace == server.guild_id
            else str(10**17 + i)
        )
        ref = ConversationRef(
            platform="discord", workspace=workspace, channel=server.text_channel_id, thread=thread
        )
        await runtime.store.run(
            StateStore.record_message,
            ref,
            role="bot",
            text="a",
            at=clock.now(),
            now=clock.now(),
            platform_id=None,
        )


@contextlib.asynccontextmanager
async def _holding_a_thread(
    make: Callable[[str], Runtime], url: str, server: FakeDiscord, *, leased: bool = True
) -> AsyncIterator[tuple[Runtime, DiscordAdapter, str]]:
    """A worker holding the gateway lease (or, not `leased`, a lone process with none),
    serving, with one question answered in a thread (its id yielded): the conversation a
    catch-up reads back."""
    runtime = make("a")
    holder = (
        worker(runtime, GatewayLease(url))
        if leased
        else DiscordAdapter(runtime.bot, runtime.settings, guild_ready_timeout=0.05, drain_timeout=5.0)
    )
    task = asyncio.create_task(holder.run())
    try:
        await asyncio.wait_for(holder.wait_until_ready(), 10)
        assert holder.client is not None
        thread_id, _ = await answered(server, holder, "How do I reset my password?")
        yield runtime, holder, thread_id
    finally:
        await stop(holder, task)


async def test_the_101st_most_recent_conversation_is_caught_up_too(
    fake: FakeDiscord,  # noqa: F811
    make_worker: Callable[[str], Runtime],  # noqa: F811
    pg_url: str,  # noqa: F811
    clock: FakeClock,
) -> None:
    async with _holding_a_thread(make_worker, pg_url, fake) as (runtime, holder, thread_id):
        await _busy(runtime, clock, fake, fake.guild_id, 100)  # a hundred newer ones
        fake.build_message_create("How long does a refund take?", channel_id=thread_id)  # unheard
        start = len(fake.requests)
        assert holder.client is not None  # for the type checker: the context is serving
        assert await catch_up(holder.core, holder.events, holder.client) == 1
        answer = await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id), after=start, timeout=10)
        assert "refund" in answer.json["content"].lower()


async def test_a_busy_guild_on_another_shard_crowds_out_none_of_this_holders_conversations(
    fake: FakeDiscord,  # noqa: F811
    make_worker: Callable[[str], Runtime],  # noqa: F811
    pg_url: str,  # noqa: F811
    clock: FakeClock,
) -> None:
    async with _holding_a_thread(make_worker, pg_url, fake) as (runtime, holder, thread_id):
        plan = ShardPlan.split(2, 1)
        own = plan.shard_of(fake.guild_id)
        other = next(str(g << 22) for g in range(1, 10) if plan.shard_of(str(g << 22)) != own)
        await _busy(runtime, clock, fake, other, 150)
        fake.build_message_create("How long does a refund take?", channel_id=thread_id)
        start = len(fake.requests)
        assert holder.client is not None  # for the type checker: the context is serving
        assert await catch_up(holder.core, holder.events, holder.client, plan=plan, shards=(own,)) == 1
        await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id), after=start, timeout=10)
        others = {str(10**17 + i) for i in range(150)}
        assert not [
            r for r in fake.requests[start:] if set(r.path.split("/")[2:3]) & others
        ]  # left to their holder


async def test_a_follow_up_behind_many_unrecorded_posts_is_read_back_page_by_page(
    fake: FakeDiscord,  # noqa: F811
    make_worker: Callable[[str], Runtime],  # noqa: F811
    pg_url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another integration's posts are never recorded: the follow-up after 150 of them is
    still read (two pages, newest first); after more than the cap, the newest are read and
    the cut is logged."""
    caplog.set_level(logging.WARNING, logger="adapters.discord")
    async with _holding_a_thread(make_worker, pg_url, fake) as (_, holder, thread_id):
        ci = fake.add_user("ci-bot", bot=True)["id"]
        for i in range(150):
            fake.build_message_create(f"build {i} ok", channel_id=thread_id, author_id=ci)
        fake.build_message_create("How long does a refund take?", channel_id=thread_id)
        start = len(fake.requests)
        assert await catch_up(holder.core, holder.events, holder.client) == 151
        answer = await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id), after=start, timeout=10)
        assert "refund" in answer.json["content"].lower()
        await holder.drain(5)
        assert len(fake.requests_matching("GET", f"/channels/{thread_id}/messages", after=start)) == 2
        assert not [m for m in caplog.messages if "caught up on only" in m]
        # a bot is never staff: its member is not fetched (the asker's is, once)
        assert not fake.requests_matching("GET", f"/guilds/{fake.guild_id}/members/{ci}", after=start)

        for i in range(HISTORY_CAP + 50):
            fake.build_message_create(f"deploy {i} ok", channel_id=thread_id, author_id=ci)
        fake.build_message_create("And for a yearly plan?", channel_id=thread_id)
        start = len(fake.requests)
        assert await catch_up(holder.core, holder.events, holder.client) == HISTORY_CAP
        await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id), after=start, timeout=10)
        assert len(fake.requests_matching("GET", f"/channels/{thread_id}/messages", after=start)) == 5
        assert (
            f"caught up on only the newest {HISTORY_CAP} messages of a conversation; older ones are not read"
            in (caplog.messages)
        )


@pytest.mark.parametrize("leased", [True, False], ids=["leased", "alone"])
async def test_a_session_discord_would_not_resume_is_caught_up_after_the_fresh_identify(
    fake: FakeDiscord,  # noqa: F811
    make_worker: Callable[[str], Runtime],  # noqa: F811
    pg_url: str,  # noqa: F811
    leased: bool,
) -> None:
    """A resumed session has Discord's replay, so nothing is read back; one Discord refused to
    resume (INVALID_SESSION d=false) IDENTIFYs afresh, and what was said meanwhile is read
    back, by a lone process too."""
    async with _holding_a_thread(make_worker, pg_url, fake, leased=leased) as (runtime, holder, thread_id):
        frames, start = len(fake.frames), len(fake.requests)
        await fake.drop_connection()  # a blip: the session is resumed
        await fake.wait_for_frame("sent", event="RESUMED", after=frames, timeout=20)
        await holder.drain(5)
        assert not fake.requests_matching("GET", MESSAGES, after=start)

        frames, start = len(fake.frames), len(fake.requests)
        await fake.drop_connection()
        for session in fake.sessions.values():
            session.resumable = False  # ...too long a blip: Discord will not resume it
        missed = fake.build_message_create("How long does a refund take?", channel_id=thread_id)
        answer = await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id), after=start, timeout=20)
        await holder.drain(5)
        assert "refund" in answer.json["content"].lower()
        assert fake.frames_matching("sent", event="READY", after=frames)  # a fresh IDENTIFY's
        assert fake.requests_matching("GET", f"/channels/{thread_id}/messages", after=start)
        inbox = runtime.state.db.execute(
            "select status from inbox where key = ?", [f"discord:msg:{missed['id']}"]
        )
        assert inbox.fetchall() == [("answered",)]


async def test_a_conversation_that_cannot_be_read_back_stops_none_of_the_others(
    fake: FakeDiscord,  # noqa: F811
    make_worker: Callable[[str], Runtime],  # noqa: F811
    pg_url: str,  # noqa: F811
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A conversation whose record names no channel Discord could have (left by an older
    version, or damaged) fails alone, logged; the follow-up elsewhere is still answered."""
    async with _holding_a_thread(make_worker, pg_url, fake) as (runtime, holder, thread_id):
        clock.advance(seconds=1)
        damaged = ConversationRef(platform="discord", workspace=fake.guild_id, channel="general")
        await runtime.store.run(
            StateStore.record_message, damaged, role="bot", text="a", at=clock.now(), now=clock.now()
        )
        fake.build_message_create("How long does a refund take?", channel_id=thread_id)  # unheard
        start = len(fake.requests)
        assert holder.client is not None  # for the type checker: the context is serving
        assert await catch_up(holder.core, holder.events, holder.client) == 1
        answer = await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id), after=start, timeout=10)
        assert "refund" in answer.json["content"].lower()
        assert any(
            r.message == "could not catch up on a conversation" and damaged.key in str(r.__dict__)
            for r in caplog.records
        )
