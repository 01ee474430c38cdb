"""What a process heard on Discord and never recorded (adapters/discord/heard.py): chatter the
bot judged not for it is not read back and judged again after a restart, even once its channel
is switched to auto-answer; what was said while no process was connected still is, and so is
what a read-back that could not finish left unread, whatever the session heard meanwhile.

The real discord.py client against the fake Discord, the real core and store behind it, and a
restart of a lone process on SQLite as tests/adapters/test_discord_missed.py does it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest

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
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(60)

MINUTE = 60_000 << 22  # a snowflake's time is its top bits, in ms


def _process(server: FakeDiscord, make_runtime: Callable[..., Runtime], extra: str = "") -> Runtime:
    """One `supportbot run` on the test's data directory (the next one is a restart)."""
    return make_runtime(discord_toml(server, extra), env=discord_env(server), answerer=ConfidentExtractive())


@pytest.fixture
def never_handed_over_again() -> Iterator[None]:
    """No try to hand a refused message over again gets anywhere, as in a process killed before
    it could (adapters/discord/holes.py): what it refused is the next start's to read back."""
    with faults.crash_at("holes.again", times=1_000_000):
        yield


async def _a_start_answers(server: FakeDiscord, runtime: Runtime, question_id: str) -> None:
    """Start `runtime` (the next `supportbot run`) and wait until it has answered the question."""
    start = len(server.requests)
    async with running(runtime) as adapter:
        await server.wait_for_request("POST", MESSAGES, ok_post(question_id), after=start, timeout=20)
        await adapter.drain(5)
    runtime.close()


async def _all_read(server: FakeDiscord) -> None:
    """Until the bot has read every gateway frame sent so far: it answers a HEARTBEAT request
    on the same connection, after them."""
    frames = len(server.frames)
    await server.request_heartbeat()
    await server.wait_for_frame("received", op=1, after=frames)


async def test_chatter_heard_before_a_restart_is_not_answered_once_its_channel_answers_everything(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """#support is mention-only: the bot answers one question there (the newest message it
    records), then hears chatter nobody addressed to it, and some more in #general, and
    records none of it. An admin switches #support to auto-answer and restarts the bot. The
    chatter was heard and rightly ignored: reading it back from the newest message recorded
    answered it, hours late. A question asked while the bot was stopped is still answered."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
        fake._ids._last += 10 * MINUTE  # the fake's snowflakes move on with the clock
        chatter = fake.build_message_create("How long does a refund take?")
        await fake.dispatch("MESSAGE_CREATE", chatter)
        fake._ids._last += 10 * MINUTE
        lunch = fake.build_message_create("Lunch, anyone?", channel_id=fake.general_channel_id)
        await fake.dispatch("MESSAGE_CREATE", lunch)
        await _all_read(fake)
    first.close()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(chatter["id"]))  # mention-only

    missed = fake.build_message_create("How do I reset my password?")  # said while stopped
    auto = f'[discord.channels."{fake.text_channel_id}"]\nmode = "auto-answer"\n'
    start = len(fake.requests)
    await _a_start_answers(fake, _process(fake, make_runtime, auto), missed["id"])
    assert not fake.requests_matching("POST", MESSAGES, ok_post(chatter["id"]), after=start)
    assert len(fake.requests_matching("POST", MESSAGES, ok_post(missed["id"]), after=start)) == 1


async def test_what_a_session_hears_is_not_noted_before_its_read_back_has_read_everything(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """A question is asked while the bot is stopped. At the next start Discord refuses the
    read-back of #support, after the new session heard chatter ten minutes newer than the
    question; that process stops. Had the chatter been noted as heard, the start after would
    read back from it and never see the question."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
    first.close()
    fake._ids._last += 10 * MINUTE
    missed = fake.build_message_create("How long does a refund take?", mention_bot=True)
    fake._ids._last += 10 * MINUTE

    listing = "/channels/{channel_id}/messages"
    [i] = [n for n, r in enumerate(fake._routes) if r.method == "GET" and r.template == listing]
    history = fake._routes[i]

    async def refused_after_chatter(ctx: Any) -> Any:
        if ctx.params["channel_id"] != fake.text_channel_id:
            return await history.handler(ctx)
        fake._routes[i] = history  # once
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("Morning all!"))
        await _all_read(fake)
        return 503, {"message": "Service Unavailable", "code": 0}  # for now: read again later

    fake._routes[i] = dataclasses.replace(history, handler=refused_after_chatter)
    second = _process(fake, make_runtime)
    async with running(second) as adapter:
        await adapter.drain(5)
    second.close()
    assert fake._routes[i] is history  # the read-back was refused
    assert not fake.requests_matching("POST", MESSAGES, ok_post(missed["id"]))

    await _a_start_answers(fake, _process(fake, make_runtime), missed["id"])


async def test_a_question_read_back_when_the_process_dies_before_taking_it_is_read_back_again(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The next start reads back a question asked while the bot was stopped, and the process
    dies as it claims it (bot/faults.py), after its new session heard chatter ten minutes
    newer. The read-back did not finish: the chatter is not the mark, and the start after
    answers the question."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
        fake._ids._last += 10 * MINUTE  # heard later: the read-back starts after that question
        await fake.dispatch(
            "MESSAGE_CREATE", fake.build_message_create("Lunch?", channel_id=fake.general_channel_id)
        )
        await _all_read(fake)
    first.close()
    missed = fake.build_message_create("How long does a refund take?", mention_bot=True)
    fake._ids._last += 10 * MINUTE

    second = _process(fake, make_runtime)
    with faults.crash_at("event.claiming"):  # the first claim: the question read back
        async with running(second) as adapter:
            await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("Morning all!"))
            await _all_read(fake)
            await adapter.drain(5)
    unclaimed = second.state.db.execute("select 1 from inbox where key = ?", [f"discord:msg:{missed['id']}"])
    assert not unclaimed.fetchall()  # it died taking it
    second.close()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(missed["id"]))

    await _a_start_answers(fake, _process(fake, make_runtime), missed["id"])


def AUTO(server: FakeDiscord) -> str:
    return f'[discord.channels."{server.text_channel_id}"]\nmode = "auto-answer"\n'


@pytest.mark.parametrize("chatter", [True, False])
async def test_a_question_whose_claim_failed_is_read_back_at_the_next_start(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    chatter: bool,
    never_handed_over_again: None,
) -> None:
    """A live question in an auto-answer channel (no mention: no apology) whose claim the
    store refused: Discord never sends it again, and chatter heard later must not move the mark
    past it; the next start reads it back and answers it (the process stops before its own
    read-back of it: tests/adapters/test_discord_holes.py)."""
    first = _process(fake, make_runtime, AUTO(fake))
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")  # the newest recorded
        fake._ids._last += 10 * MINUTE
        question = fake.build_message_create("How do I reset my password?")  # auto-answer, no mention
        with faults.crash_at("event.claiming", error=RuntimeError("database is locked")):
            await fake.dispatch("MESSAGE_CREATE", question)
            await _all_read(fake)
            await adapter.drain(5)
        assert not first.state.db.execute(
            "select 1 from inbox where key = ?", [f"discord:msg:{question['id']}"]
        ).fetchall()  # the store refused it: not in the inbox
        if chatter:
            fake._ids._last += 10 * MINUTE
            lunch = fake.build_message_create("Lunch, anyone?", channel_id=fake.general_channel_id)
            await fake.dispatch("MESSAGE_CREATE", lunch)
            await _all_read(fake)
    first.close()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(question["id"]))

    await _a_start_answers(fake, _process(fake, make_runtime, AUTO(fake)), question["id"])


async def test_a_read_back_question_whose_claim_was_refused_is_read_back_again(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    never_handed_over_again: None,
) -> None:
    """The store refuses the claim of a question the read-back hands over (not a crash: the
    handling ends normally), and the new session hears chatter ten minutes newer: the mark
    stays before the question, so the next start reads it back again (the process stops
    before its own read-back of it)."""
    auto = f'[discord.channels."{fake.text_channel_id}"]\nmode = "auto-answer"\n'

    def process() -> Runtime:
        return make_runtime(discord_toml(fake, auto), env=discord_env(fake), answerer=ConfidentExtractive())

    first = process()
    async with running(first) as adapter:
        await answered(fake, adapter, "How do I reset my password?")
        fake._ids._last += 10 * MINUTE  # heard later: the read-back starts after that question
        await fake.dispatch(
            "MESSAGE_CREATE", fake.build_message_create("Lunch?", channel_id=fake.general_channel_id)
        )
        await _all_read(fake)
    first.close()
    fake._ids._last += 10 * MINUTE
    missed = fake.build_message_create("How long does a refund take?")  # said while stopped
    fake._ids._last += 10 * MINUTE

    second = process()
    with faults.crash_at("event.claiming", error=RuntimeError("database is locked")):
        async with running(second) as adapter:
            await fake.dispatch(
                "MESSAGE_CREATE",
                fake.build_message_create("Morning all!", channel_id=fake.general_channel_id),
            )
            await _all_read(fake)
            await adapter.drain(5)
    assert not second.state.db.execute(
        "select 1 from inbox where key = ?", [f"discord:msg:{missed['id']}"]
    ).fetchall()
    second.close()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(missed["id"]))

    await _a_start_answers(fake, process(), missed["id"])
