"""Messages the core could not record, read back while the process runs (adapters/discord/holes.py):
a question or a follow-up whose claim the store refused is answered once the store is back,
without a restart, exactly once; a read-back during which the store refuses again is tried
again; once one has read everything, the shard's mark moves past the question.

The real discord.py client against the fake Discord, the real core and store behind it; the
store's refusal is injected at the inbox's claim (bot/faults.py), as tests/adapters/
test_discord_heard.py does for the next start's read-back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from adapters.discord import holes
from adapters.discord.heard import place
from bot import faults
from bot.app import Runtime
from tests.adapters.test_discord_adapter import (  # noqa: F401  (fixture)
    MESSAGES,
    answered,
    discord_env,
    discord_toml,
    fake,
    ok_post,
    running,
)
from tests.adapters.test_discord_heard import MINUTE, _all_read
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(60)

REFUSED = RuntimeError("database is locked")


@pytest.fixture(autouse=True)
def quick_read_backs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(holes, "FIRST_AFTER", 0.2)


def _process(server: FakeDiscord, make_runtime: Callable[..., Runtime]) -> Runtime:
    auto = f'[discord.channels."{server.text_channel_id}"]\nmode = "auto-answer"\n'
    return make_runtime(discord_toml(server, auto), env=discord_env(server), answerer=ConfidentExtractive())


async def _refused(server: FakeDiscord, runtime: Runtime, text: str, channel_id: str | None = None) -> str:
    """`text` said live (in #support, auto-answer: no mention, no apology), its claim refused."""
    message = server.build_message_create(text, channel_id=channel_id)
    with faults.crash_at("event.claiming", error=REFUSED):
        await server.dispatch("MESSAGE_CREATE", message)
        await _all_read(server)
        for _ in range(100):  # until the core has tried to claim it
            if "event.claiming" not in faults._armed:
                break
            await asyncio.sleep(0.02)
    assert not runtime.state.db.execute(
        "select 1 from inbox where key = ?", [f"discord:msg:{message['id']}"]
    ).fetchall()  # the store refused it: not in the inbox
    return str(message["id"])


async def test_a_question_whose_claim_failed_is_answered_once_the_store_is_back(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The store refuses a live question's claim, and the bot then hears chatter ten minutes
    later: the question is read back and answered while the process runs, once; the shard's
    mark then moves past it to the chatter, and a restart answers nothing again."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        question = await _refused(fake, first, "How do I reset my password?")
        fake._ids._last += 10 * MINUTE
        lunch = fake.build_message_create("Lunch, anyone?", channel_id=fake.general_channel_id)
        await fake.dispatch("MESSAGE_CREATE", lunch)
        await fake.wait_for_request("POST", MESSAGES, ok_post(question), timeout=10)
        await adapter.drain(5)
        heard = ""
        for _ in range(100):  # the filled hole lets the heard mark be written past the question
            heard = await first.bot.noted_heard(place(1, None)) or ""
            if heard >= f"{int(lunch['id']):020d}":
                break
            await asyncio.sleep(0.05)
        assert heard >= f"{int(lunch['id']):020d}"  # the chatter (or the answer's echo after it)
    first.close()
    assert len(fake.requests_matching("POST", MESSAGES, ok_post(question))) == 1

    start = len(fake.requests)
    second = _process(fake, make_runtime)
    async with running(second) as adapter:
        await _all_read(fake)
        await adapter.drain(5)
    second.close()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(question), after=start)


async def test_a_read_back_the_store_refuses_again_is_tried_again_later(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The store is still away at the first read-back (it refuses the question again): a
    second read-back, later, answers it, once."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        question = await _refused(fake, first, "How do I reset my password?")
        with faults.crash_at("event.claiming", error=REFUSED):  # the first read-back's claim
            for _ in range(200):
                if "event.claiming" not in faults._armed:
                    break
                await asyncio.sleep(0.02)
            assert "event.claiming" not in faults._armed  # the read-back came, and was refused
            await adapter.drain(5)
        assert not fake.requests_matching("POST", MESSAGES, ok_post(question))
        await fake.wait_for_request("POST", MESSAGES, ok_post(question), timeout=10)
        await adapter.drain(5)
    first.close()
    assert len(fake.requests_matching("POST", MESSAGES, ok_post(question))) == 1


async def test_a_follow_up_whose_claim_failed_is_answered_once_the_store_is_back(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """A follow-up in the bot's thread (not in any channel's history) whose claim the store
    refused: the conversation is read back from its last recorded message and the follow-up
    answered there, once."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        thread_id, _ = await answered(fake, adapter, "How do I reset my password?")
        start = len(fake.requests)
        follow_up = await _refused(fake, first, "And how do I change my email?", channel_id=thread_id)
        await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id), after=start, timeout=10)
        await adapter.drain(5)
        assert first.state.db.execute(
            "select 1 from inbox where key = ?", [f"discord:msg:{follow_up}"]
        ).fetchall()
    first.close()
    assert len(fake.requests_matching("POST", MESSAGES, ok_post(thread_id))) == 2
