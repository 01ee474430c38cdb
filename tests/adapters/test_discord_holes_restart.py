"""A message a closed Discord client kept (adapters/discord/holes.py `give_up`) reaches the
client that serves its shard after it, even when the closed client's own try is refused only
after that client was set up: the real adapter under the real supervisor loop, the fake
Discord, the SQLite state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from adapters.discord import holes
from adapters.discord.client import build_adapter
from bot import faults, supervisor
from bot.app import Runtime
from bot.types import InboundMessage
from tests.adapters.test_discord_adapter import MESSAGES, discord_env, discord_toml, fake, ok_post  # noqa: F401
from tests.adapters.test_discord_holes import REFUSED, _process, _refuse
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(90)


async def _until(cond: Callable[[], bool], what: str, timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.05)):
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


async def test_a_dm_refused_by_a_closed_clients_try_goes_to_the_client_after_it(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A first DM is refused and kept; a try hands it over again and its claim waits on the
    store (a gate on the real hand-over, standing for a lock); the gateway closes for good
    (4011): the client closes and the supervisor starts `run` again, whose new client is set up
    before the old try's claim is refused. The DM goes to that live client, which hands it over
    when the store takes writes: it is answered (no read-back could find a DM)."""
    monkeypatch.setattr(holes, "FIRST_AFTER", 600.0)  # tries only when the store is back
    runtime = _process(fake, make_runtime)
    adapter = build_adapter(runtime.bot, runtime.settings, guild_ready_timeout=0.05, drain_timeout=5.0)
    task = asyncio.create_task(supervisor._supervise(adapter, initial=0.2))
    try:
        await asyncio.wait_for(adapter.wait_until_ready(), 20)
        first = adapter.client
        assert first is not None
        dm = fake.build_message_create("How do I reset my password?", dm=True)
        await _refuse(fake, "MESSAGE_CREATE", dm)
        await adapter.drain(5)
        assert first.heard.holes.oldest(None) is not None  # kept

        # the next try's claim waits on the store (a lock), then is refused
        gate, waiting = asyncio.Event(), asyncio.Event()
        real = first.heard.holes._deliver
        assert real is not None

        async def claim_waits(message: InboundMessage) -> Any:
            waiting.set()
            await gate.wait()
            with faults.crash_at("event.claiming", error=REFUSED):
                return await real(message)

        first.heard.holes._deliver = claim_waits
        first.heard.holes.store_back()
        await asyncio.wait_for(waiting.wait(), 5)

        await fake.close_connection(4011, "Sharding required.")  # non-resumable: run() raises
        await _until(lambda: adapter.client is not None and adapter.client is not first, "restarted")
        await asyncio.wait_for(adapter.wait_until_ready(), 20)
        second = adapter.client
        gate.set()  # the store answers the old claim: refused
        await adapter.drain(5)
        assert second is not None and second.heard.holes.oldest(None) == int(dm["id"])
        assert adapter.left_over == []
        second.heard.holes.store_back()
        await _until(
            lambda: len(fake.requests_matching("POST", MESSAGES, ok_post(dm["channel_id"]))) >= 2,
            "the DM was answered after the apology",
        )
        await adapter.drain(5)
    finally:
        await adapter.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        runtime.close()
