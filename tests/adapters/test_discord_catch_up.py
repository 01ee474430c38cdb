"""Catching up on what Discord sent while no connection of ours could hear it
(adapters/discord/standby.py `catch_up`): which conversations, how far back, and when.

The workers, the fake Discord and the dying holder are tests/adapters/test_discord_standby.py's;
the state is a real PostgreSQL. Every wait is on an event with a bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.app import Runtime
from bot.store.leases import GatewayLease
from tests.adapters.test_discord_adapter import MESSAGES, ok_post
from tests.adapters.test_discord_standby import (  # noqa: F401  (fixtures)
    DyingLease,
    end_lease_session,
    fake,
    make_worker,
    stop,
    worker,
)
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401  (fixtures)
from tests.fakes.discord_server import FakeDiscord

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
