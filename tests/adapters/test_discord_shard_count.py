"""A restart at another shard count (an `"auto"` count that moved) takes over what the count
before it heard and owed (adapters/discord/other_counts.py): a question the store refused at
the old count, whose read-back was owed under the old count's places, is read back at the new
one, though an answer recorded after it moved the newest recorded message past it; and once
read, what was owed at the old count is settled.

The real discord.py client against the fake Discord, the real core and store, restarts of a
lone process on SQLite as tests/adapters/test_discord_heard.py does them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from discord.utils import time_snowflake

from adapters.discord.client import DiscordAdapter
from bot import faults
from bot.app import Runtime
from tests.adapters.test_discord_adapter import MESSAGES, answered, fake, ok_post, running  # noqa: F401  (fixture)
from tests.adapters.test_discord_heard import (  # noqa: F401  (never_handed_over_again: a fixture)
    AUTO,
    MINUTE,
    _a_start_answers,
    _all_read,
    _process,
    never_handed_over_again,
)
from tests.fakes.discord_server import ChannelType, FakeDiscord

pytestmark = pytest.mark.timeout(90)

TWO = "shards = 2\n"


async def _refused(server: FakeDiscord, adapter: DiscordAdapter) -> dict[str, Any]:
    """A question in #support (auto-answer, no mention) whose claim the store refuses: owed."""
    question = server.build_message_create("How long does a refund take?")
    with faults.crash_at("event.claiming", error=RuntimeError("database is locked")):
        await server.dispatch("MESSAGE_CREATE", question)
        await _all_read(server)
        await adapter.drain(5)
    return question


async def test_a_question_refused_at_the_old_count_is_read_back_at_the_new_one(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    never_handed_over_again: None,  # noqa: F811
) -> None:
    first = _process(fake, make_runtime, TWO + AUTO(fake))
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
        fake._ids._last += 10 * MINUTE
        question = await _refused(fake, adapter)
        fake._ids._last += 10 * MINUTE
        await answered(fake, adapter, "Does the bot work without an API key?")  # recorded after it
    owed = first.state.owed_read_backs("discord/")
    first.close()
    assert [place.split("/")[1] for place in owed] == ["2"]  # owed at the old count
    assert not fake.requests_matching("POST", MESSAGES, ok_post(question["id"]))
    # the fake's ids run 20 minutes ahead of the clock here: what the read-back covered (until
    # now) ends before them, so nothing can be settled in this test; the next test settles

    await _a_start_answers(fake, _process(fake, make_runtime, AUTO(fake)), question["id"])  # one shard now


async def test_what_was_owed_at_the_old_count_is_settled_once_read_at_the_new_one(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    never_handed_over_again: None,  # noqa: F811
) -> None:
    """Else every later start would read back from it again, until it left the window."""
    first = _process(fake, make_runtime, TWO + AUTO(fake))
    async with running(first) as adapter:
        question = await _refused(fake, adapter)
    assert first.state.owed_read_backs("discord/")
    first.close()

    second = _process(fake, make_runtime, AUTO(fake))
    start = len(fake.requests)
    async with running(second) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(question["id"]), after=start, timeout=20)
        await adapter.drain(5)
        for _ in range(100):  # settled once what the read-back handed over is handled
            if not second.state.owed_read_backs("discord/"):
                break
            await asyncio.sleep(0.05)
        assert second.state.owed_read_backs("discord/") == {}
    second.close()


async def test_a_first_start_at_a_new_count_that_could_not_read_a_channel_leaves_its_question_to_the_next(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """Nothing is noted at the new count until a start read every channel. The first start at
    it cannot read #support (a 503, to the end of the process) and answers a question in
    #help asked after the one in #support; the next start reads from the old count's marks,
    not from that answer, the newest recorded."""
    help_channel = fake.add_channel("help", ChannelType.GUILD_TEXT, guild_id=fake.guild_id)["id"]
    both = AUTO(fake) + f'[discord.channels."{help_channel}"]\nmode = "auto-answer"\n'
    first = _process(fake, make_runtime, TWO + both)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
    assert first.state.noted_heards("discord/")  # what count 2 heard
    first.close()
    fake._ids._last += 10 * MINUTE
    missed = fake.build_message_create("How long does a refund take?")  # in #support, while down
    fake._ids._last += 10 * MINUTE
    later = fake.build_message_create("Does the bot work without an API key?", channel_id=help_channel)

    fake.fail("GET", f"/channels/{fake.text_channel_id}/messages", 503, 0, "Service Unavailable", times=None)
    second = _process(fake, make_runtime, both)  # one shard now
    start = len(fake.requests)
    async with running(second) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(later["id"]), after=start, timeout=20)
        await adapter.drain(5)
    # it could not read everything: noted only where it started, before the question
    assert [int(m) < int(missed["id"]) for m in second.state.noted_heards("discord/1/").values()] == [True]
    second.close()
    fake.clear_faults()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(missed["id"]))

    await _a_start_answers(fake, _process(fake, make_runtime, both), missed["id"])


@pytest.mark.parametrize("before", ["minutes", "months"])
async def test_a_shard_with_no_guilds_does_not_make_a_start_reread_what_the_count_heard(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    before: str,
) -> None:
    """Another count ran before (minutes or months ago); at `shards = 2` one shard holds the
    one guild and the other none, so nothing is ever noted on it. Chatter heard and rightly
    let pass at count 2 is not read back and answered once its channel answers everything:
    the empty shard must not make the start read from the old count's mark."""
    if before == "months":
        zero = _process(fake, make_runtime)
        zero.state.note_heard("discord/1/0", f"{time_snowflake(datetime.now(UTC) - timedelta(days=90)):020d}")
        zero.close()
    else:
        zero = _process(fake, make_runtime)
        async with running(zero) as adapter:
            await answered(fake, adapter, "How do I reset my password?")
        zero.close()
        fake._ids._last += 10 * MINUTE
    first = _process(fake, make_runtime, TWO)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
        fake._ids._last += 10 * MINUTE
        chatter = fake.build_message_create("How long does a refund take?")  # no mention: let pass
        await fake.dispatch("MESSAGE_CREATE", chatter)
        fake._ids._last += 10 * MINUTE
        await fake.dispatch(
            "MESSAGE_CREATE", fake.build_message_create("Lunch?", channel_id=fake.general_channel_id)
        )
        await _all_read(fake)
    # the empty shard heard nothing: noted only where its first start began it
    assert len(first.state.noted_heards("discord/2/")) == 2
    first.close()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(chatter["id"]))

    missed = fake.build_message_create("Does the bot work without an API key?")  # said while stopped
    start = len(fake.requests)
    await _a_start_answers(fake, _process(fake, make_runtime, TWO + AUTO(fake)), missed["id"])
    assert not fake.requests_matching("POST", MESSAGES, ok_post(chatter["id"]), after=start)


async def test_a_shard_whose_first_read_back_at_a_new_count_failed_reads_from_the_old_count_though_another_was_noted(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """At `shards = 2` the default guild's shard cannot read #support at its first start (a
    503, to the end of the process) and answers a question in #help asked after the one in
    #support; the other shard (a second guild) reads everything and is noted. The next start
    reads the first shard from the old count's marks, not from that answer, the newest it
    recorded (another shard's note says nothing of what this one could not read)."""
    own = (int(fake.guild_id) >> 22) % 2
    other = fake.add_guild("Second Guild", shard=(1 - own, 2))
    lounge = fake.add_channel("lounge", ChannelType.GUILD_TEXT, guild_id=other["id"])["id"]
    help_channel = fake.add_channel("help", ChannelType.GUILD_TEXT, guild_id=fake.guild_id)["id"]
    both = AUTO(fake) + f'[discord.channels."{help_channel}"]\nmode = "auto-answer"\n'
    first = _process(fake, make_runtime, both)  # one shard
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
    first.close()
    fake._ids._last += 10 * MINUTE
    missed = fake.build_message_create("How long does a refund take?")  # in #support, while down
    fake._ids._last += 10 * MINUTE

    fake.fail("GET", f"/channels/{fake.text_channel_id}/messages", 503, 0, "Service Unavailable", times=None)
    second = _process(fake, make_runtime, TWO + both)
    start = len(fake.requests)
    async with running(second) as adapter:
        later = fake.build_message_create("Does the bot work without an API key?", channel_id=help_channel)
        await fake.dispatch("MESSAGE_CREATE", later)
        await fake.wait_for_request("POST", MESSAGES, ok_post(later["id"]), after=start, timeout=20)
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("Lunch?", channel_id=lounge))
        await _all_read(fake)
        await adapter.drain(5)
    noted = second.state.noted_heards("discord/2/")
    assert int(noted[f"discord/2/{own}"]) < int(missed["id"]) < int(noted[f"discord/2/{1 - own}"])
    second.close()
    fake.clear_faults()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(missed["id"]))

    await _a_start_answers(fake, _process(fake, make_runtime, TWO + both), missed["id"])


async def test_a_shard_never_noted_is_not_read_from_another_counts_mark_later_than_its_question(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """At `shards = 2` the default guild's shard never hears anything (its #support is quiet)
    while the other shard, a second guild's, is noted. Then, with the process stopped, a
    question is said in that #support, and a worker at another count (4) notes a mark ten
    minutes later on a shard not of that guild (the one that held it never ran). Back at 2,
    the quiet shard must not start from that later mark: the earliest of what may say where it
    was last heard is the other shard's mark at 2, before the question."""
    own = (int(fake.guild_id) >> 22) % 2
    other = fake.add_guild("Second Guild", shard=(1 - own, 2))
    lounge = fake.add_channel("lounge", ChannelType.GUILD_TEXT, guild_id=other["id"])["id"]
    both = AUTO(fake) + f'[discord.channels."{lounge}"]\nmode = "auto-answer"\n'
    first = _process(fake, make_runtime, TWO + both)
    start = len(fake.requests)
    async with running(first) as adapter:
        asked = fake.build_message_create("How do I reset my password?", channel_id=lounge)
        await fake.dispatch("MESSAGE_CREATE", asked)
        await fake.wait_for_request("POST", MESSAGES, ok_post(asked["id"]), after=start, timeout=20)
        await _all_read(fake)
        await adapter.drain(5)
    assert list(first.state.noted_heards("discord/")) == [f"discord/2/{1 - own}"]
    fake._ids._last += 10 * MINUTE
    missed = fake.build_message_create("How long does a refund take?")  # in the quiet #support
    fake._ids._last += 10 * MINUTE
    not_its_shard = ((int(fake.guild_id) >> 22) % 4 + 1) % 4
    first.state.note_heard(f"discord/4/{not_its_shard}", f"{fake._ids._last:020d}")  # the count-4 worker
    first.close()

    await _a_start_answers(fake, _process(fake, make_runtime, TWO + both), missed["id"])
