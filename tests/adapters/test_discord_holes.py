"""Messages the core could not record, handed to it again while the process runs
(adapters/discord/holes.py): a question, a follow-up, a first DM or an edit whose claim the
store refused is answered once the store is back, without a restart, exactly once, and its
asker is told it will be (not to ask again); a try the store refuses again is tried again;
once the core took it, the shard's mark moves past it. A process that stops before then has
left a read-back owed in the state: the next start reads the question back, whatever was
recorded since, and settles what was owed.

The real discord.py client against the fake Discord, the real core and store behind it; the
store's refusal is injected at the inbox's claim (bot/faults.py), as tests/adapters/
test_discord_heard.py does for the next start's read-back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.discord import holes
from adapters.discord.heard import place
from bot import faults
from bot.app import Runtime
from bot.messages import say
from tests.adapters.test_discord_adapter import (  # noqa: F401  (fixture)
    MESSAGES,
    answered,
    discord_env,
    discord_toml,
    fake,
    ok_post,
    running,
)
from tests.adapters.test_discord_heard import (  # noqa: F401  (fixture)
    MINUTE,
    _all_read,
    never_handed_over_again,
)
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(60)

REFUSED = RuntimeError("database is locked")


@pytest.fixture(autouse=True)
def quick_read_backs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(holes, "FIRST_AFTER", 0.2)


def _process(server: FakeDiscord, make_runtime: Callable[..., Runtime], mode: str = "auto-answer") -> Runtime:
    channel = f'[discord.channels."{server.text_channel_id}"]\nmode = "{mode}"\n'
    return make_runtime(
        discord_toml(server, channel), env=discord_env(server), answerer=ConfidentExtractive()
    )


async def _refused(server: FakeDiscord, runtime: Runtime, text: str, channel_id: str | None = None) -> str:
    """`text` said live (in #support, auto-answer: no mention, no apology), its claim refused."""
    message = server.build_message_create(text, channel_id=channel_id)
    await _refuse(server, "MESSAGE_CREATE", message)
    assert not runtime.state.db.execute(
        "select 1 from inbox where key = ?", [f"discord:msg:{message['id']}"]
    ).fetchall()  # the store refused it: not in the inbox
    return str(message["id"])


async def _claim_tried() -> None:
    """Until the core has tried the claim the test armed a refusal for."""
    for _ in range(200):
        if "event.claiming" not in faults._armed:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the core never tried to claim it")


async def _refuse(server: FakeDiscord, event: str, message: dict[str, Any]) -> None:
    """Dispatch `message` as `event`; the store refuses the core's claim of it."""
    with faults.crash_at("event.claiming", error=REFUSED):
        await server.dispatch(event, message)
        await _all_read(server)
        await _claim_tried()


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
    """The store is still away at the first try (it refuses the question again): a later try
    (here at once: the store took the write of what is owed) answers it, once."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        question = await _refused(fake, first, "How do I reset my password?")
        with faults.crash_at("event.claiming", error=REFUSED):  # the first read-back's claim
            await _claim_tried()
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


async def test_a_first_dm_whose_claim_failed_is_answered_once_the_store_is_back(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """A DM from someone the bot never talked to: no read-back could find it (a bot cannot
    list DMs), but the process still holds it, and hands it over again."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        message = fake.build_message_create("How do I reset my password?", dm=True)
        start = len(fake.requests)
        await _refuse(fake, "MESSAGE_CREATE", message)
        sorry = await fake.wait_for_request("POST", MESSAGES, ok_post(message["channel_id"]), after=start)
        assert sorry.json["content"] == say("error_answer_later", "en")
        answer = await fake.wait_for_request(
            "POST", MESSAGES, ok_post(message["channel_id"]), after=fake.requests.index(sorry) + 1, timeout=10
        )
        assert answer.json["content"] != sorry.json["content"]
        await adapter.drain(5)
    first.close()


async def test_a_refused_edit_is_handed_over_as_an_edit(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The asker corrects a question already answered, and the store refuses the edit's
    claim: the edit itself is handed over again, and the answer is brought up to it."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        thread_id, _ = await answered(fake, adapter, "How do I reset my password?")
        question = fake.build_message_create("How long does a refund take?", channel_id=thread_id)
        start = len(fake.requests)
        await fake.dispatch("MESSAGE_CREATE", question)
        reply = await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id), after=start)
        await adapter.drain(5)
        corrected = "How do I reset my password if the email never arrives?"
        edited = dict(question, content=corrected, edited_timestamp=datetime.now(UTC).isoformat())
        fake.messages[str(thread_id)][str(question["id"])]["content"] = corrected  # as Discord keeps it
        start = len(fake.requests)
        await _refuse(fake, "MESSAGE_UPDATE", edited)
        path = f"/channels/{thread_id}/messages/{reply.response['id']}"
        await fake.wait_for_request("PATCH", path, after=start, timeout=10)
        await adapter.drain(5)
    first.close()


async def test_the_asker_of_a_refused_question_is_told_it_will_be_answered_not_to_ask_again(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """A mention the store refused: one apology, saying it will be answered (asked to try
    again, the asker would, and get two answers); the answer follows, and no second apology
    when the first try is refused too."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        start = len(fake.requests)
        question = await _refused(fake, first, f"<@{fake.bot_user_id}> How do I reset my password?")
        with faults.crash_at("event.claiming", error=REFUSED):  # the first try is refused too
            await _claim_tried()
        await fake.wait_for_request("POST", MESSAGES, ok_post(question), after=start, timeout=10)
        await adapter.drain(5)
        said = [
            (r.json or {}).get("content", "")
            for r in fake.requests[start:]
            if r.method == "POST"
            and r.status == 200
            and r.path == f"/channels/{fake.text_channel_id}/messages"
        ]
        assert said == [say("error_answer_later", "en")]
    first.close()


@pytest.mark.parametrize("later_answer", [False, True], ids=["nothing-after", "a-later-answer"])
async def test_a_question_refused_before_a_stop_is_read_back_at_the_next_start_and_settled(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    never_handed_over_again: None,  # noqa: F811
    later_answer: bool,
) -> None:
    """The process stops before it hands the refused question over again (a deploy, an
    operator restarting a bot whose database is flaky), after a later question was answered
    and recorded: the read-back owed from just before the refused one is read at the next
    start, which answers it once, and then owes nothing."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        question = await _refused(fake, first, "How do I reset my password?")
        if later_answer:
            fake._ids._last += MINUTE  # the store is back: a question a minute later is answered
            await answered(fake, adapter, "How long does a refund take?")
        await _all_read(fake)
        await adapter.drain(5)
        # owed in the state once the store took it (at once here: it refused only the claim)
        assert await first.bot.owed_read_back(place(1, None)) == f"{int(question) - 1:020d}"
    first.close()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(question))

    second = _process(fake, make_runtime)
    async with running(second) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(question), timeout=10)
        await adapter.drain(5)
        for _ in range(100):  # the read-back settles what was owed once it has read everything
            if await second.bot.owed_read_back(place(1, None)) is None:
                break
            await asyncio.sleep(0.05)
        assert await second.bot.owed_read_back(place(1, None)) is None
    second.close()
    assert len(fake.requests_matching("POST", MESSAGES, ok_post(question))) == 1


async def test_what_was_owed_stands_when_the_next_starts_read_back_is_refused_again(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    never_handed_over_again: None,  # noqa: F811
) -> None:
    """The store refuses the question live, the process stops, and the next start's read-back
    of it is refused too (a later question is answered after it): what was owed is not settled
    by that read-back, and the start after it answers the question."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        question = await _refused(fake, first, "How do I reset my password?")
        await adapter.drain(5)
    first.close()

    second = _process(fake, make_runtime)
    with faults.crash_at("event.claiming", error=REFUSED):  # the read-back's claim of it
        async with running(second) as adapter:
            await _claim_tried()
            await adapter.drain(5)
            fake._ids._last += MINUTE  # then a question a minute later is answered, and recorded
            await answered(fake, adapter, "How long does a refund take?")
    second.close()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(question))

    third = _process(fake, make_runtime)
    async with running(third) as adapter:
        await fake.wait_for_request("POST", MESSAGES, ok_post(question), timeout=10)
        await adapter.drain(5)
    third.close()
    assert len(fake.requests_matching("POST", MESSAGES, ok_post(question))) == 1


async def test_what_a_start_owed_is_settled_once_a_refusal_during_its_read_back_is_taken(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The next start reads back a refused question and one said while it was stopped, and
    the store refuses the second's claim once: what was owed stays until that one too is
    taken, then is settled, so a later start does not read back from it again (and judge
    again chatter the bot heard and rightly ignored since; an auto-answer channel would
    answer it)."""
    first = _process(fake, make_runtime, mode="mention-only")
    with faults.crash_at("holes.again", times=1_000_000):  # it dies before handing it over
        async with running(first) as adapter:
            question = await _refused(fake, first, f"<@{fake.bot_user_id}> How do I reset my password?")
            await adapter.drain(5)
    first.close()
    said_while_stopped = fake.build_message_create("How long does a refund take?", mention_bot=True)

    second = _process(fake, make_runtime, mode="mention-only")
    with faults.crash_at("event.claiming", after=1, error=REFUSED):  # the second read back
        async with running(second) as adapter:
            await fake.wait_for_request("POST", MESSAGES, ok_post(question), timeout=10)
            await fake.wait_for_request("POST", MESSAGES, ok_post(said_while_stopped["id"]), timeout=10)
            assert "event.claiming" not in faults._armed  # it was refused once, then taken
            await adapter.drain(5)
            for _ in range(100):
                if await second.bot.owed_read_back(place(1, None)) is None:
                    break
                await asyncio.sleep(0.05)
            assert await second.bot.owed_read_back(place(1, None)) is None
            fake._ids._last += 10 * MINUTE  # past the read-backs' margin: chatter, ignored
            chatter = fake.build_message_create("How do I reset my password? anyone?")
            await fake.dispatch("MESSAGE_CREATE", chatter)
            fake._ids._last += 10 * MINUTE  # heard later: the next start's mark is past the chatter
            lunch = fake.build_message_create("Lunch, anyone?", channel_id=fake.general_channel_id)
            await fake.dispatch("MESSAGE_CREATE", lunch)
            await _all_read(fake)
            await adapter.drain(5)
    second.close()

    start = len(fake.requests)
    third = _process(fake, make_runtime, mode="auto-answer")  # #support switched to auto-answer
    async with running(third) as adapter:
        await _all_read(fake)
        await adapter.drain(5)
    third.close()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(chatter["id"]), after=start)
    assert len(fake.requests_matching("POST", MESSAGES, ok_post(question))) == 1


async def test_a_store_refusing_only_claims_is_tried_again_at_the_back_offs_pace(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The store refuses every claim (the inbox locked, say) but takes the small writes of what
    is owed and heard: those writes do not count as the store being back, so the refused
    question is not tried again at once, in a loop, but after the back-off."""
    monkeypatch.setattr(holes, "FIRST_AFTER", 10.0)
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        with faults.crash_at("event.claiming", error=REFUSED, times=1_000_000):
            await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("How do I reset my password?"))
            for _ in range(20):  # a second of heard writes and chatter
                await fake.dispatch(
                    "MESSAGE_CREATE", fake.build_message_create("Lunch?", channel_id=fake.general_channel_id)
                )
                await _all_read(fake)
                await asyncio.sleep(0.05)
            await adapter.drain(1)
        refused = [r for r in caplog.records if r.getMessage() == "the core could not take a Discord message"]
        assert len(refused) == 1  # the live try only: the first try again is ten seconds away
    first.close()


async def test_a_question_read_back_and_refused_again_is_apologised_for_once(
    fake: FakeDiscord,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """A mention refused live (its asker told once), the process stopped before it handed it
    over, the next start's read-back of it refused too (seconds later): no second apology; it
    is answered in the end."""
    start = len(fake.requests)
    first = _process(fake, make_runtime, mode="mention-only")
    with faults.crash_at("holes.again", times=1_000_000):
        async with running(first) as adapter:
            question = await _refused(fake, first, f"<@{fake.bot_user_id}> How do I reset my password?")
            await adapter.drain(5)
    first.close()
    second = _process(fake, make_runtime, mode="mention-only")
    with faults.crash_at("event.claiming", error=REFUSED):  # the read-back's claim of it
        async with running(second) as adapter:
            await _claim_tried()
            await fake.wait_for_request("POST", MESSAGES, ok_post(question), timeout=10)
            await adapter.drain(5)
    second.close()
    said = [
        (r.json or {}).get("content", "")
        for r in fake.requests[start:]
        if r.method == "POST" and r.status == 200 and r.path == f"/channels/{fake.text_channel_id}/messages"
    ]
    assert said.count(say("error_answer_later", "en")) == 1
