"""Where a Discord read-back starts (adapters/discord/heard.py, `after`): what a lost session
missed is read at the next start though an answer was recorded before it; a read-back that
ends after a later session's began leaves what that one missed to read; a channel the bot may
never read is skipped, not left to hold every later start at its point; one refused for now
is tried again while the process runs; and a forum post made while down has what was said
after its first message read too.

The real discord.py client against the fake Discord, the real core and store, restarts of a
lone process on SQLite as tests/adapters/test_discord_missed.py does them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from adapters.discord import read_backs
from adapters.discord.client import DiscordAdapter, build_adapter
from bot.app import Runtime
from tests.adapters.test_discord_adapter import MESSAGES, answered, fake, ok_post, running  # noqa: F401  (fixture)
from tests.adapters.test_discord_heard import _all_read
from tests.adapters.test_discord_heard import _process as _configured
from tests.adapters.test_discord_missed import _process
from tests.adapters.test_discord_missed_threads import ACTIVE, MINUTE, _discussion, _inbox_status
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.tasks import running_until_ready

pytestmark = pytest.mark.timeout(90)

PLACE = "discord/1/0"  # the one mark of an unsharded client (adapters/discord/heard.py `place`)
LISTING = "/channels/{channel_id}/messages"


def _route(server: FakeDiscord, method: str, template: str) -> int:
    [i] = [n for n, r in enumerate(server._routes) if r.method == method and r.template == template]
    return i


class SlowAnswers:
    """The bot's answers in the threads of the questions in `slow` wait for `gate` (the model
    takes its time on them); `answering` is set once one waits. On from `start()` to `stop()`."""

    def __init__(self, server: FakeDiscord) -> None:
        self.server = server
        self.i = _route(server, "POST", LISTING)
        self.route = server._routes[self.i]
        self.gate, self.answering = asyncio.Event(), asyncio.Event()
        self.slow: list[str] = []

    async def _post(self, ctx: Any) -> Any:
        if ctx.params["channel_id"] in self.slow:
            self.answering.set()
            await self.gate.wait()
        return await self.route.handler(ctx)

    def start(self) -> None:
        self.server._routes[self.i] = dataclasses.replace(self.route, handler=self._post)

    def stop(self) -> None:
        self.server._routes[self.i] = self.route


async def _end_session_holding_the_next(server: FakeDiscord, adapter: DiscordAdapter) -> None:
    """Discord ends the session, and the fresh one's IDENTIFY waits until the process stops
    (a back-off, an outage): no session hears what is said meanwhile."""
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
    await server.invalidate_session()
    await asyncio.wait_for(held.wait(), 10)


async def test_a_question_said_between_a_lost_session_and_a_stop_is_read_back_at_the_next_start(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """Discord ends the session; before a fresh one is up, an answer to a question heard
    before the loss is posted and recorded (ten minutes of ids after a question no session
    heard); the process stops. The loss itself owes the read-back."""
    first = _process(fake, make_runtime)
    answers = SlowAnswers(fake)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
        answers.start()
        heard = fake.build_message_create("How do I reset my password, again?", mention_bot=True)
        answers.slow.append(heard["id"])  # its thread has the question's id
        await fake.dispatch("MESSAGE_CREATE", heard)
        await asyncio.wait_for(answers.answering.wait(), 20)
        await _end_session_holding_the_next(fake, adapter)
        missed = fake.build_message_create("How long does a refund take?", mention_bot=True)
        fake._ids._last += 10 * MINUTE
        answers.gate.set()
        await fake.wait_for_request("POST", MESSAGES, ok_post(heard["id"]), timeout=20)
        await adapter.drain(5)
    assert _inbox_status(first, heard["id"]) == ["answered"]
    first.close()
    answers.stop()
    second = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(second) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(missed["id"]), after=start, timeout=20)
        await adapter.drain(5)
    assert _inbox_status(second, missed["id"]) == ["answered"]


@asynccontextmanager
async def _started(runtime: Runtime, until: Awaitable[object]) -> AsyncIterator[DiscordAdapter]:
    """As `running`, but ready once `until` is (the first read-back may still be running)."""
    adapter = build_adapter(
        runtime.bot, runtime.settings, guild_ready_timeout=0.05, drain_timeout=5.0, typing_after=0.0
    )
    async with running_until_ready(adapter.run(), until, adapter.close):
        yield adapter


async def test_a_read_back_ending_after_a_later_session_began_leaves_what_that_one_missed_to_read(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The start's read-back of #support is slow; Discord ends the session meanwhile, and the
    fresh session's read-back cannot read a thread (for now); then the first one ends having
    read all it saw. Settling then would drop what the second still owes."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
    first.close()
    i = _route(fake, "GET", LISTING)
    history = fake._routes[i]
    gate, entered = asyncio.Event(), asyncio.Event()
    refused: list[str] = []

    async def scripted(ctx: Any) -> Any:
        channel = ctx.params["channel_id"]
        if channel == fake.text_channel_id and not entered.is_set():  # the first read of #support
            entered.set()
            await gate.wait()
        if channel in refused:
            return 503, {"message": "Service Unavailable", "code": 0}
        return await history.handler(ctx)

    fake._routes[i] = dataclasses.replace(history, handler=scripted)
    second = _process(fake, make_runtime)
    start = len(fake.requests)
    async with _started(second, entered.wait()) as adapter:
        await fake.wait_for_request("GET", ACTIVE, after=start, timeout=20)
        thread = _discussion(fake, "Refund delays")
        refused.append(thread)
        lost = fake.build_message_create("How long does a refund take?", channel_id=thread, mention_bot=True)
        fake._ids._last += 10 * MINUTE
        other = _discussion(fake, "Invoices")
        asked = fake.build_message_create("How do I reset my password?", channel_id=other, mention_bot=True)
        mid = len(fake.requests)
        await fake.invalidate_session()
        await fake.wait_for_request("GET", f"/channels/{thread}/messages", after=mid, timeout=20)
        await fake.wait_for_request("POST", MESSAGES, ok_post(other), after=mid, timeout=20)
        gate.set()
        await adapter.drain(5)
    assert _inbox_status(second, asked["id"]) == ["answered"]
    assert not _inbox_status(second, lost["id"])
    noted = second.state.noted_heard(PLACE)
    assert noted is None or int(noted) < int(lost["id"])
    second.close()
    fake._routes[i] = history
    third = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(third) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(thread), after=start, timeout=20)
        await adapter.drain(5)
    assert _inbox_status(third, lost["id"]) == ["answered"]


async def test_a_channel_the_bot_may_never_read_is_skipped_not_owed_for_ever(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """Read Message History taken away in a configured channel: each read-back says so and goes
    on, so later starts read from what was heard since, and chatter heard and rightly let
    pass is not judged again (here: answered once its channel is switched to auto-answer)."""
    unreadable = f'[discord.channels."{fake.general_channel_id}"]\nmode = "mention-only"\n'
    fake.fail(
        "GET", f"/channels/{fake.general_channel_id}/messages", 403, 50001, "Missing Access", times=None
    )
    first = _configured(fake, make_runtime, unreadable)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
    first.close()
    fake._ids._last += 60 * MINUTE
    second = _configured(fake, make_runtime, unreadable)
    async with running(second) as adapter:
        await adapter.drain(5)
        fake._ids._last += 60 * MINUTE
        chatter = fake.build_message_create("How long does a refund take?")  # heard, not for the bot
        await fake.dispatch("MESSAGE_CREATE", chatter)
        await _all_read(fake)
        fake._ids._last += 60 * MINUTE
        await answered(fake, adapter, "How do I reset my password, please?")
        await adapter.drain(5)
    second.close()
    auto = unreadable + f'[discord.channels."{fake.text_channel_id}"]\nmode = "auto-answer"\n'
    fake._ids._last += 60 * MINUTE
    third = _configured(fake, make_runtime, auto)
    start = len(fake.requests)
    async with running(third) as adapter:
        await adapter.drain(5)
    owed = third.state.owed_read_back(PLACE)
    assert owed is None or int(owed) > int(chatter["id"])
    assert not fake.requests_matching("POST", MESSAGES, ok_post(chatter["id"]), after=start)


async def test_what_was_said_after_the_first_message_of_a_forum_post_made_while_down_is_read(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
    first.close()
    post = fake.build_thread_create("Refunds", starter_content="How long does a refund take?")
    follow_up = fake.build_message_create(
        "And how do I reset my password?", channel_id=post["id"], mention_bot=True
    )
    second = _process(fake, make_runtime)
    async with running(second) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(post["id"]), timeout=20)
        await adapter.drain(5)
    assert _inbox_status(second, post["id"]) == ["answered"]
    assert _inbox_status(second, follow_up["id"]) == ["answered"]
    answers = fake.requests_matching("POST", MESSAGES, ok_post(post["id"]))
    assert len(answers) == 2  # an answer to each


async def test_a_read_back_refused_for_now_is_tried_again_while_the_process_runs(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One 503 (discord.py does not retry it) on #support: the question asked while the bot
    was down is answered by the running process once the read-back is tried again, not at the
    next restart, and what the session heard is noted from then on."""
    monkeypatch.setattr(read_backs, "FIRST_AFTER", 0.2)
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
    first.close()
    fake._ids._last += 10 * MINUTE
    missed = fake.build_message_create("How long does a refund take?", mention_bot=True)
    fake.fail("GET", f"/channels/{fake.text_channel_id}/messages", 503, 0, "Service Unavailable", times=1)
    second = _process(fake, make_runtime)
    async with running(second) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(missed["id"]), timeout=20)
        await adapter.drain(5)
        chatter = fake.build_message_create("Morning all!")
        await fake.dispatch("MESSAGE_CREATE", chatter)
        await _all_read(fake)
        await adapter.drain(5)
    assert _inbox_status(second, missed["id"]) == ["answered"]
    noted = second.state.noted_heard(PLACE)
    assert noted is not None and int(noted) >= int(chatter["id"])
