"""A Discord session lost, and where the next start reads back from (adapters/discord/heard.py:
the newest heard with nothing unread before it, never the bot's own newest answer): a drop
Discord resumes leaves nothing to read again, so a later start does not re-read and re-judge
what was heard since; what was said while a session was lost is read at the next start
though answers were recorded after it (a read-back ending during the loss, a stop during the
drain); a new forum post whose first message could not be fetched for now is read again.

The real discord.py client against the fake Discord, the real core and store, restarts of a
lone process on SQLite as tests/adapters/test_discord_missed.py does them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.app import Runtime
from tests.adapters.test_discord_adapter import MESSAGES, answered, fake, ok_post, running  # noqa: F401  (fixture)
from tests.adapters.test_discord_heard import _all_read
from tests.adapters.test_discord_heard import _process as _configured
from tests.adapters.test_discord_missed import _process
from tests.adapters.test_discord_missed_owed import (
    PLACE,
    SlowAnswers,
    _end_session_holding_the_next,
    _started,
)
from tests.adapters.test_discord_missed_threads import MINUTE, _inbox_status
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("blip", [False, True], ids=["no-drop", "resumed-drop"])
async def test_a_resumed_blip_leaves_no_read_back_owed(
    blip: bool,
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    first = _configured(fake, make_runtime)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
        await adapter.drain(5)
        assert first.state.owed_read_back(PLACE) is None  # the start's read-back settled
        if blip:
            frames = len(fake.frames)
            await fake.drop_connection()  # a blip: Discord resumes the session, replaying all
            await fake.wait_for_frame("sent", event="RESUMED", after=frames, timeout=20)
        await adapter.drain(5)
        fake._ids._last += 120 * MINUTE  # hours of a healthy, resumed session
        chatter = fake.build_message_create("How long does a refund take?")  # heard, not for the bot
        await fake.dispatch("MESSAGE_CREATE", chatter)
        fake._ids._last += 10 * MINUTE
        lunch = fake.build_message_create("Lunch, anyone?", channel_id=fake.general_channel_id)
        await fake.dispatch("MESSAGE_CREATE", lunch)
        await _all_read(fake)
        await adapter.drain(5)
    owed = first.state.owed_read_back(PLACE)
    first.close()
    auto = f'[discord.channels."{fake.text_channel_id}"]\nmode = "auto-answer"\n'
    fake._ids._last += 10 * MINUTE
    second = _configured(fake, make_runtime, auto)
    start = len(fake.requests)
    async with running(second) as adapter:
        await adapter.drain(5)
    # the chatter was heard live and rightly let pass: never judged again
    assert not fake.requests_matching("POST", MESSAGES, ok_post(chatter["id"]), after=start)
    assert owed is None or int(owed) > int(chatter["id"])


async def test_a_loss_while_the_start_read_back_runs_is_read_back_at_the_next_start(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
    first.close()
    fake._ids._last += 10 * MINUTE
    asked = fake.build_message_create("How do I export my data?", mention_bot=True)  # while stopped
    answers = SlowAnswers(fake)
    answers.slow.append(asked["id"])  # the model takes its time on the one read back
    answers.start()
    second = _process(fake, make_runtime)
    async with _started(second, answers.answering.wait()) as adapter:  # the read-back answers it
        await _end_session_holding_the_next(fake, adapter)
        fake._ids._last += 1 * MINUTE
        missed = fake.build_message_create(
            "How long does a refund take?", mention_bot=True
        )  # heard by no one
        fake._ids._last += 10 * MINUTE
        answers.gate.set()  # the read-back's answer is posted (recorded 10 minutes after `missed`): it ends
        await fake.wait_for_request("POST", MESSAGES, ok_post(asked["id"]), timeout=20)
        await adapter.drain(5)
        noted = second.state.noted_heard(PLACE)
    second.close()
    answers.stop()
    third = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(third) as adapter:
        await adapter.drain(5)
    assert fake.requests_matching("POST", MESSAGES, ok_post(missed["id"]), after=start)
    assert _inbox_status(third, missed["id"]) == ["answered"]
    assert noted is not None and int(noted) < int(missed["id"])  # where the next start read from


async def test_a_session_lost_while_stopping_is_read_back_at_the_next_start(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    first = _process(fake, make_runtime)
    answers = SlowAnswers(fake)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
        answers.start()
        heard = fake.build_message_create("How do I reset my password, again?", mention_bot=True)
        answers.slow.append(heard["id"])
        await fake.dispatch("MESSAGE_CREATE", heard)
        await asyncio.wait_for(answers.answering.wait(), 20)
        client = adapter.client
        assert client is not None
        held, identify = asyncio.Event(), client.before_identify_hook

        async def hold(shard_id: int | None, *, initial: bool = False) -> None:
            if not initial:
                held.set()
                while not client.is_closed():
                    await asyncio.sleep(0.05)
                raise OSError("stopped while the identify was held")
            await identify(shard_id, initial=initial)

        client.before_identify_hook = hold
        stopping = asyncio.create_task(adapter.close())  # a deploy: drain, then disconnect
        await asyncio.sleep(0)
        await fake.invalidate_session()  # ...and Discord ends the session meanwhile
        await asyncio.wait_for(held.wait(), 10)
        missed = fake.build_message_create("How long does a refund take?", mention_bot=True)
        fake._ids._last += 10 * MINUTE
        answers.gate.set()  # the answer in flight is posted and recorded during the drain
        await fake.wait_for_request("POST", MESSAGES, ok_post(heard["id"]), timeout=20)
        await asyncio.wait_for(stopping, 20)
    assert _inbox_status(first, heard["id"]) == ["answered"]
    first.close()
    answers.stop()
    second = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(second) as adapter:
        await adapter.drain(5)
    assert fake.requests_matching("POST", MESSAGES, ok_post(missed["id"]), after=start)


async def test_a_forum_post_whose_first_message_could_not_be_fetched_is_read_again(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
    first.close()
    post = fake.build_thread_create("Refunds", starter_content="How long does a refund take?")  # while down
    fake.fail("GET", f"/channels/{post['id']}/messages/{post['id']}", 503, times=1)  # for now
    second = _process(fake, make_runtime)
    async with running(second) as adapter:
        await adapter.drain(5)
        fake._ids._last += 10 * MINUTE
        await answered(fake, adapter, "How do I export my data?")  # a live question, answered
        await adapter.drain(5)
    noted = second.state.noted_heard(PLACE)
    assert noted is None or int(noted) < int(post["id"])  # the post is read again from before it
    second.close()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(post["id"]))  # not answered now...
    third = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(third) as adapter:
        await adapter.drain(5)
    # ...so it must be at the next start (or the second must have left its read-back owed)
    assert fake.requests_matching("POST", MESSAGES, ok_post(post["id"]), after=start)


async def test_a_new_installs_first_session_lost_before_it_heard_anything_is_read_back_from_then(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """Nothing recorded or noted yet, and the first session heard nothing when Discord ended it:
    it was hearing until then, so the fresh session reads back from the loss (here a question
    in an auto-answer channel said while the new session was being set up)."""
    auto = f'[discord.channels."{fake.text_channel_id}"]\nmode = "auto-answer"\n'
    runtime = _configured(fake, make_runtime, auto)
    async with running(runtime) as adapter:
        await adapter.drain(5)
        client = adapter.client
        assert client is not None
        gate, held, identify = asyncio.Event(), asyncio.Event(), client.before_identify_hook

        async def hold(shard_id: int | None, *, initial: bool = False) -> None:
            if not initial:  # the fresh session's IDENTIFY waits until the question is asked
                held.set()
                await gate.wait()
            await identify(shard_id, initial=initial)

        client.before_identify_hook = hold
        await fake.invalidate_session()
        await asyncio.wait_for(held.wait(), 10)
        fake._ids._last += 1 * MINUTE
        missed = fake.build_message_create("How long does a refund take?")  # heard by no one
        gate.set()
        await fake.wait_for_request("POST", MESSAGES, ok_post(missed["id"]), timeout=20)
        await adapter.drain(5)
    assert _inbox_status(runtime, missed["id"]) == ["answered"]
