"""Messages said in threads the bot is not in while no connection of ours heard them
(adapters/discord/missed_threads.py): a mention in a thread of a question channel is answered
there after a restart, chatter is not; a thread quiet since the mark, or of a channel where no
one asks the bot, costs no request; one whose history is refused leaves the read-back
unfinished (the next start reads it again, though the session's answers were recorded after
it), and the other threads are still read.

The real discord.py client against the fake Discord, the real core and store behind it, and a
restart of a lone process on SQLite as tests/adapters/test_discord_missed.py does it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import pytest

from bot.app import Runtime
from tests.adapters.test_discord_adapter import (  # noqa: F401  (fixture)
    MESSAGES,
    answered,
    fake,
    ok_post,
    running,
)
from tests.adapters.test_discord_heard import _all_read
from tests.adapters.test_discord_missed import _history_reads, _process
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(60)

MINUTE = 60_000 << 22  # a snowflake's time is its top bits, in ms
ACTIVE = "/guilds/{guild_id}/threads/active"


async def _stopped_after_an_answer(server: FakeDiscord, make_runtime: Callable[..., Runtime]) -> str:
    """A first run answers a question in #support (a question channel from then on, and the
    newest message recorded) and stops; the bot's thread."""
    first = _process(server, make_runtime)
    async with running(first) as adapter:
        thread, _ = await answered(server, adapter, "How do I reset my password?")
    first.close()
    return thread


def _discussion(server: FakeDiscord, name: str, parent: str | None = None) -> str:
    """A thread a member opens in #support (or `parent`), which the bot is not in."""
    created = server.build_thread_create(
        name, parent_id=parent or server.text_channel_id, owner_id=server.staff_user_id
    )
    return str(created["id"])


def _inbox_status(runtime: Runtime, message_id: str) -> list[str]:
    rows = runtime.state.db.execute("select status from inbox where key = ?", [f"discord:msg:{message_id}"])
    return [status for (status,) in rows.fetchall()]


async def test_a_mention_in_a_thread_the_bot_is_not_in_is_answered_there_once_it_is_back(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    await _stopped_after_an_answer(fake, make_runtime)
    thread = _discussion(fake, "Refund delays")
    missed = fake.build_message_create("How long does a refund take?", channel_id=thread, mention_bot=True)

    second = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(second) as adapter:
        answer = await fake.wait_for_request("POST", MESSAGES, ok_post(thread), after=start, timeout=20)
        await adapter.drain(5)
    assert "refund" in answer.json["content"].lower()
    assert len(fake.requests_matching("POST", MESSAGES, ok_post(thread), after=start)) == 1
    assert _inbox_status(second, missed["id"]) == ["answered"]


async def test_chatter_in_a_thread_the_bot_is_not_in_is_read_back_and_not_answered(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    await _stopped_after_an_answer(fake, make_runtime)
    thread = _discussion(fake, "Refund delays")
    chatter = fake.build_message_create("How long does a refund take for you all?", channel_id=thread)

    second = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(second) as adapter:
        await fake.wait_for_request("GET", f"/channels/{thread}/messages", after=start, timeout=20)
        await adapter.drain(5)
    assert not fake.requests_matching("POST", MESSAGES, ok_post(thread), after=start)
    [status] = _inbox_status(second, chatter["id"])  # handed to the core, which let it pass
    assert status != "answered"


async def test_a_thread_quiet_since_the_mark_and_the_bots_own_threads_cost_no_extra_request(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """One listing of the guild's threads; a history read only for the thread with a message
    after the mark. The bot's thread is read by standby's catch_up, once."""
    quiet = _discussion(fake, "Old discussion")
    fake.build_message_create("Thanks, that worked.", channel_id=quiet)
    fake._ids._last += 10 * MINUTE  # the fake's snowflakes move on with the clock
    own = await _stopped_after_an_answer(fake, make_runtime)
    busy = _discussion(fake, "Refund delays")
    fake.build_message_create("How long does a refund take?", channel_id=busy, mention_bot=True)

    second = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(second) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(busy), after=start, timeout=20)
        await adapter.drain(5)
    assert len(fake.requests_matching("GET", ACTIVE, after=start)) == 1
    assert not fake.requests_matching("GET", f"/channels/{quiet}/messages", after=start)
    assert len(_history_reads(fake, busy, start)) == 1
    assert len(_history_reads(fake, own, start)) == 1


async def test_a_thread_whose_history_is_refused_is_read_again_at_the_next_start_and_others_are_read(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As a channel refused (tests/adapters/test_discord_heard.py): chatter the session heard
    ten minutes after the question must not become the mark, or the next start would not read
    the thread again. The other thread holds chatter, which the core lets pass: an answer
    there would be recorded, and the newest message recorded is a mark of its own."""
    await _stopped_after_an_answer(fake, make_runtime)
    refused, other = _discussion(fake, "Refund delays"), _discussion(fake, "Invoices")
    lost = fake.build_message_create("How long does a refund take?", channel_id=refused, mention_bot=True)
    passed = fake.build_message_create("Invoices are out, by the way.", channel_id=other)
    fake._ids._last += 10 * MINUTE

    listing = "/channels/{channel_id}/messages"
    [i] = [n for n, r in enumerate(fake._routes) if r.method == "GET" and r.template == listing]
    history = fake._routes[i]

    async def refused_after_chatter(ctx: Any) -> Any:
        if ctx.params["channel_id"] != refused:
            return await history.handler(ctx)
        fake._routes[i] = history  # once
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("Morning all!"))
        await _all_read(fake)
        return 503, {"message": "Service Unavailable", "code": 0}  # for now: read again later

    fake._routes[i] = dataclasses.replace(history, handler=refused_after_chatter)
    second = _process(fake, make_runtime)
    start = len(fake.requests)
    with caplog.at_level(logging.WARNING, logger="adapters.discord"):
        async with running(second) as adapter:
            await fake.wait_for_request("GET", f"/channels/{other}/messages", after=start, timeout=20)
            await adapter.drain(5)
    [status] = _inbox_status(second, passed["id"])  # the other thread was read
    assert status != "answered"
    second.close()
    assert fake._routes[i] is history  # the thread's read-back was refused
    assert not fake.requests_matching("POST", MESSAGES, ok_post(refused))
    warned = [r for r in caplog.records if getattr(r, "channel", None) == int(refused)]
    assert [(r.getMessage(), getattr(r, "status", None)) for r in warned] == [
        ("could not read back a channel", 503)
    ]

    third = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(third) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(refused), after=start, timeout=20)
        await adapter.drain(5)
    assert _inbox_status(third, lost["id"]) == ["answered"]


async def test_a_mention_in_a_thread_of_a_channel_where_no_one_asks_the_bot_is_not_read(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """#general is neither configured nor a channel the bot's threads started from."""
    await _stopped_after_an_answer(fake, make_runtime)
    elsewhere = _discussion(fake, "Lunch plans", parent=fake.general_channel_id)
    fake.build_message_create("Where do we eat?", channel_id=elsewhere, mention_bot=True)
    asked = _discussion(fake, "Refund delays")
    fake.build_message_create("How long does a refund take?", channel_id=asked, mention_bot=True)

    second = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(second) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(asked), after=start, timeout=20)
        await adapter.drain(5)
    assert not fake.requests_matching("*", f"/channels/{elsewhere}(/.*)?", after=start)
    assert not fake.requests_matching("POST", MESSAGES, ok_post(elsewhere))


async def test_a_refused_thread_is_read_again_though_an_answer_the_session_posted_came_after_it(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The other thread holds a question: its answer is recorded, and the newest message
    recorded is a mark of its own; without the start's read-back owed until it has read
    everything, the next start would read from that answer on, past the refused thread."""
    await _stopped_after_an_answer(fake, make_runtime)
    refused, other = _discussion(fake, "Refund delays"), _discussion(fake, "Invoices")
    lost = fake.build_message_create("How long does a refund take?", channel_id=refused, mention_bot=True)
    fake._ids._last += 10 * MINUTE
    asked = fake.build_message_create("How do I reset my password?", channel_id=other, mention_bot=True)

    fake.fail("GET", f"/channels/{refused}/messages", 503, 0, "Service Unavailable", times=1)  # for now
    second = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(second) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(other), after=start, timeout=20)
        await adapter.drain(5)
    assert _inbox_status(second, asked["id"]) == ["answered"]  # recorded after the lost question
    second.close()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(refused))

    third = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(third) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(refused), after=start, timeout=20)
        await adapter.drain(5)
    assert _inbox_status(third, lost["id"]) == ["answered"]
    assert third.state.owed_read_back("discord/1/0") is None  # read whole: settled


async def test_a_thread_refused_by_the_read_back_after_a_lost_session_is_read_again_at_the_next_start(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The same, for the read-back of a fresh session after Discord ended one mid-run: it too
    is owed until it has read everything."""
    await _stopped_after_an_answer(fake, make_runtime)
    second = _process(fake, make_runtime)
    refused, other = _discussion(fake, "Refund delays"), _discussion(fake, "Invoices")
    async with running(second) as adapter:
        await adapter.drain(5)
        lost = fake.build_message_create("How long does a refund take?", channel_id=refused, mention_bot=True)
        fake._ids._last += 10 * MINUTE
        asked = fake.build_message_create("How do I reset my password?", channel_id=other, mention_bot=True)
        fake.fail("GET", f"/channels/{refused}/messages", 503, 0, "Service Unavailable", times=1)  # for now
        start = len(fake.requests)
        await fake.invalidate_session()  # a fresh session follows, and reads back what it missed
        await fake.wait_for_request("POST", MESSAGES, ok_post(other), after=start, timeout=20)
        await adapter.drain(5)
    assert _inbox_status(second, asked["id"]) == ["answered"]
    assert not fake.requests_matching("POST", MESSAGES, ok_post(refused))
    second.close()

    third = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(third) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(refused), after=start, timeout=20)
        await adapter.drain(5)
    assert _inbox_status(third, lost["id"]) == ["answered"]
