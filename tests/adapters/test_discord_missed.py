"""Questions asked in a channel while no connection of ours heard them (adapters/discord/missed.py):
read back and answered after a restart of a lone process on SQLite; nothing read back on a
fresh install; a message handled before is not answered again.

The real discord.py client against the fake Discord, the real core and store behind it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest

from adapters.discord.missed import start_after
from adapters.read_back import MARGIN, MISSED_WINDOW
from bot.app import Runtime
from bot.replays import INBOX_KEPT
from tests.adapters.test_discord_adapter import (  # noqa: F401  (fixture)
    MESSAGES,
    answered,
    discord_env,
    discord_toml,
    fake,
    ok_post,
    running,
)
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.discord_server import FakeDiscord, RecordedRequest

pytestmark = pytest.mark.timeout(60)


def _history_reads(server: FakeDiscord, channel_id: str, after: int) -> list[object]:
    return list(server.requests_matching("GET", f"/channels/{channel_id}/messages", after=after))


def _process(server: FakeDiscord, make_runtime: Callable[..., Runtime]) -> Runtime:
    """One `supportbot run` on the test's data directory (a second one is the restart)."""
    return make_runtime(discord_toml(server), env=discord_env(server), answerer=ConfidentExtractive())


async def _back_and_answering(
    server: FakeDiscord, make_runtime: Callable[..., Runtime], question_id: str
) -> tuple[Runtime, RecordedRequest, int]:
    """Start the bot again; its answer to `question_id`, and where the fake's log stood."""
    start = len(server.requests)
    runtime = _process(server, make_runtime)
    async with running(runtime) as adapter:
        answer = await server.wait_for_request(
            "POST", MESSAGES, ok_post(question_id), after=start, timeout=20
        )
        await adapter.drain(5)
    return runtime, answer, start


async def test_a_question_asked_while_the_bot_was_stopped_is_answered_once_it_is_back(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        answered_thread, _ = await answered(fake, adapter, "How do I reset my password?")
    first.close()

    # said while no process is connected: Discord keeps it in #support and sends it to no one
    missed = fake.build_message_create("How long does a refund take?", mention_bot=True)
    second, answer, start = await _back_and_answering(fake, make_runtime, missed["id"])
    assert "refund" in answer.json["content"].lower()
    assert _history_reads(fake, fake.text_channel_id, start)  # read back from #support
    # the question answered before the stop was read back too (it is within the margin), and
    # recognised: not answered again
    assert not fake.requests_matching("POST", MESSAGES, ok_post(answered_thread), after=start)
    statuses = second.state.db.execute(
        "select key, status from inbox where key in (?, ?)",
        [f"discord:msg:{missed['id']}", f"discord:msg:{answered_thread}"],
    ).fetchall()
    assert sorted(status for _, status in statuses) == ["answered", "answered"]


async def test_a_forum_post_made_while_the_bot_was_stopped_is_answered_once_it_is_back(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """A forum post is a thread of its own, in no channel's history: found among the guild's
    active threads. A post answered before the stop is among them too, and not answered again."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        start = len(fake.requests)
        before = fake.build_thread_create("Reset", starter_content="How do I reset my password?")
        await fake.dispatch("THREAD_CREATE", before)
        await fake.wait_for_request("POST", MESSAGES, ok_post(before["id"]), after=start)
        await adapter.drain(5)
    first.close()

    missed = fake.build_thread_create("Refunds", starter_content="How long does a refund take?")
    _, answer, start = await _back_and_answering(fake, make_runtime, missed["id"])
    assert "refund" in answer.json["content"].lower()
    assert fake.requests_matching("GET", f"/guilds/{fake.guild_id}/threads/active", after=start)
    assert not fake.requests_matching("POST", MESSAGES, ok_post(before["id"]), after=start)


async def test_a_question_asked_during_a_restart_after_a_quiet_week_is_answered(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
) -> None:
    """The inbox forgets handled events after a week; the mark is the newest message recorded,
    and the channel is known from the bot's threads of the last month."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
        clock.advance(days=8)  # a quiet week: the clock's tick prunes the inbox as it does
        first.state.prune_inbox(clock.now() - INBOX_KEPT)
    first.close()

    missed = fake.build_message_create("How long does a refund take?", mention_bot=True)
    _, answer, _ = await _back_and_answering(fake, make_runtime, missed["id"])
    assert "refund" in answer.json["content"].lower()


async def test_a_staff_reply_read_back_after_a_restart_takes_the_thread_over_as_it_would_live(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """REST history carries no member (no roles) and the bot has no members intent: a staff
    reply read back passed for the asker's follow-up and was answered. The member is fetched."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        thread_id, _ = await answered(fake, adapter, "How do I reset my password?")
    first.close()

    staff = fake.build_message_create(
        "I'll take this one: how do I reset my password is on your account page.",
        channel_id=thread_id,
        author_id=fake.staff_user_id,
    )
    second = _process(fake, make_runtime)
    start = len(fake.requests)
    async with running(second) as adapter:
        await fake.wait_for_request("GET", f"/channels/{thread_id}/messages", after=start, timeout=20)
        await adapter.drain(5)
    assert not fake.requests_matching("POST", MESSAGES, ok_post(thread_id), after=start)
    assert fake.requests_matching("GET", f"/guilds/{fake.guild_id}/members/{fake.staff_user_id}", after=start)
    [(status,)] = second.state.db.execute(
        "select status from inbox where key = ?", [f"discord:msg:{staff['id']}"]
    ).fetchall()
    assert status != "answered"


async def test_a_member_fetch_the_network_drops_stops_no_later_question_of_the_channel(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The member look-up of a read-back message is a REST call of its own: a connection the
    network drops (not an HTTP error) on bob's left carol's question, asked after it, unread."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
    first.close()
    bob, carol = fake.add_user("bob")["id"], fake.add_user("carol")["id"]
    for person in (bob, carol):
        fake.add_member(fake.guild_id, person)
    fake.build_message_create("How do I change my email?", mention_bot=True, author_id=bob)
    missed = fake.build_message_create("How long does a refund take?", mention_bot=True, author_id=carol)
    [i] = [n for n, r in enumerate(fake._routes) if r.template == "/guilds/{guild_id}/members/{user_id}"]
    member_route = fake._routes[i]

    async def dropping_bobs(ctx: Any) -> Any:
        if ctx.params["user_id"] == bob:
            ctx.request.transport.close()  # every time: aiohttp tries an idempotent GET again
        return await member_route.handler(ctx)

    fake._routes[i] = dataclasses.replace(member_route, handler=dropping_bobs)
    _, answer, _ = await _back_and_answering(fake, make_runtime, missed["id"])
    assert "refund" in answer.json["content"].lower()


async def test_a_fresh_install_answers_nothing_said_before_it_first_connected(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    old = fake.build_message_create("Is anyone there?", mention_bot=True)
    runtime = make_runtime(
        discord_toml(fake, f'[discord.channels."{fake.text_channel_id}"]\nmode = "auto-answer"\n'),
        env=discord_env(fake),
        answerer=ConfidentExtractive(),
    )
    async with running(runtime) as adapter:
        await answered(fake, adapter, "How do I reset my password?")  # it is live and answering
    assert not fake.requests_matching("POST", MESSAGES, ok_post(old["id"]))
    assert not _history_reads(fake, fake.text_channel_id, 0)


def test_reading_back_starts_a_margin_before_the_newest_message_heard_and_not_too_long_ago() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    heard = discord.utils.time_snowflake(now - timedelta(minutes=5))
    after = start_after(str(heard), now)
    assert after is not None
    assert discord.utils.snowflake_time(after) == discord.utils.snowflake_time(heard) - MARGIN
    assert start_after(f"{heard}:edit:1700000000000", now) == after  # an edit's key
    long_ago = discord.utils.time_snowflake(now - MISSED_WINDOW - timedelta(days=3))
    assert discord.utils.snowflake_time(start_after(str(long_ago), now) or 0) == now - MISSED_WINDOW
    assert start_after(None, now) is None  # nothing ever heard: nothing missed
    assert start_after("not-a-snowflake", now) is None
