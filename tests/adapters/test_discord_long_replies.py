"""Discord: a reply longer than one message (2,000 characters) is shown in exactly the messages
it needs, in order, the sources and buttons on the last, none twice and none missing: when it
is posted whole, when a streamed answer outgrows the message it was written into, when a replay
after a crash finishes what a dead process began (at each step, `answer.part` between two
messages included), and when the asker's edit revises it into a longer or shorter answer.

The real core and discord.py adapter against the fake Discord; the model's answers are the
fake OpenAI's, streamed, or the offline extractive answer made long.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from adapters.discord.post_ids import post_id
from bot import faults
from bot.app import Runtime
from bot.errors import StoreError
from bot.types import Answer, InboundMessage
from tests.adapters.test_discord_adapter import discord_env, discord_toml, running
from tests.adapters.test_discord_find_reply import QUESTION, bot_messages, button_ids, fake, inbound, restart
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.timeout(60)

__all__ = ["fake"]  # the fixture, shared with test_discord_find_reply.py

LIMIT = 2000
STEPS = " ".join(f"Step {n}: open Settings, then Security, then choose Reset." for n in range(60))
# a model's answer of about 3,600 characters: two Discord messages
LONG = f"To reset your password, open the login page and click Forgot password [1]. {STEPS} Finally, sign in again [1]."
# about 5,600 characters: three messages
LONGER = LONG.replace(
    STEPS, " ".join(f"Step {n}: open Settings, then Security, then choose Reset." for n in range(95))
)
SHORT = "On the mobile app, open Settings and tap Reset password [1]."
EDITED = "How do I reset my password on the mobile app?"


class LongAnswer(ConfidentExtractive):
    """The offline answer, followed by sixty steps: more than one Discord message."""

    async def answer(self, *args: Any, **kwargs: Any) -> Answer:
        answer = await super().answer(*args, **kwargs)
        return replace(answer, text=f"{answer.text}\n\n{STEPS}")


@pytest.fixture
def make_offline(fake: FakeDiscord, make_runtime: Callable[..., Runtime]) -> Callable[[], Runtime]:
    return lambda: make_runtime(discord_toml(fake), env=discord_env(fake), answerer=LongAnswer())


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(default_reply=LONG) as server:
        yield server


@pytest.fixture
def make_streaming(
    fake: FakeDiscord, make_runtime: Callable[..., Runtime], model: FakeOpenAI
) -> Callable[[], Runtime]:
    env = {**discord_env(fake), "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}
    return lambda: make_runtime(discord_toml(fake) + "[llm]\nmax_retries = 0\n", env=env)


def assert_shown_once(messages: list[dict[str, Any]], *texts: str) -> None:
    """The messages show one reply: each within the limit, the sources and buttons on the last
    alone, and each of `texts` exactly once, in order."""
    assert len(messages) >= 2 and all(len(m["content"]) <= LIMIT for m in messages)
    assert [bool(button_ids(m)) for m in messages] == [False] * (len(messages) - 1) + [True]
    assert [bool(m.get("embeds")) for m in messages] == [False] * (len(messages) - 1) + [True]
    shown = "\n".join(m["content"] for m in messages)
    assert [shown.count(text) for text in texts] == [1] * len(texts), shown
    assert sorted(texts, key=shown.index) == list(texts)


async def ask(runtime: Runtime, question: InboundMessage) -> None:
    async with running(runtime) as adapter:
        await runtime.bot.on_message(question, adapter.channel)


async def crash_at(runtime: Runtime, question: InboundMessage, point: str, after: int = 0) -> None:
    async with running(runtime) as adapter:
        with faults.crash_at(point, after=after), pytest.raises(faults.Crash):
            await runtime.bot.on_message(question, adapter.channel)


# -- live --------------------------------------------------------------------------------------


async def test_a_streamed_answer_longer_than_a_message_is_shown_whole(
    fake: FakeDiscord, make_streaming: Callable[[], Runtime]
) -> None:
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    await ask(make_streaming(), inbound(fake, payload))
    messages = bot_messages(fake, payload["id"])
    assert len(messages) == 2  # the message streamed into, and the rest of the answer after it
    assert_shown_once(messages, "Forgot password", "Step 0:", "Step 59:", "Finally, sign in again")


async def test_an_answer_longer_than_a_message_is_posted_in_parts(
    fake: FakeDiscord, make_offline: Callable[[], Runtime]
) -> None:
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    await ask(make_offline(), inbound(fake, payload))
    assert_shown_once(bot_messages(fake, payload["id"]), "Step 0:", "Step 59:")


# -- a replay after a crash --------------------------------------------------------------------


@pytest.mark.parametrize("point", ["answer.part", "answer.sent", "answer.posted"])
async def test_a_split_answer_is_finished_once_after_a_crash(
    fake: FakeDiscord, make_offline: Callable[[], Runtime], point: str
) -> None:
    """Killed between the parts, or after they all went out but before anything was noted: the
    replay finds the parts that are out (find_reply) and brings them to its answer, posting
    what is missing, so the thread shows one answer with one set of buttons. The replay comes
    after Discord's nonce window (minutes), so a part posted again would not be folded into
    the earlier one: find_reply alone knows which are out."""
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    await crash_at(make_offline(), inbound(fake, payload), point)
    before = [m["id"] for m in bot_messages(fake, payload["id"])]
    assert len(before) == (1 if point == "answer.part" else 2)
    fake.nonce_window_seconds = 0
    assert await restart(make_offline()) == 0
    after = bot_messages(fake, payload["id"])
    assert [m["id"] for m in after][: len(before)] == before  # edited in place, not posted again
    assert_shown_once(after, "Step 0:", "Step 59:")


@pytest.mark.parametrize("point", ["answer.part", "answer.posted"])
async def test_a_streamed_answer_that_outgrew_its_message_is_finished_once_after_a_crash(
    fake: FakeDiscord, make_streaming: Callable[[], Runtime], model: FakeOpenAI, point: str
) -> None:
    """Killed after the final answer went into the streamed message but before its second part
    was posted, or after it was: the replay resumes the post the inbox noted, as it now is. The
    model words its answer differently the second time, so no part is recognised by its text."""
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    await crash_at(make_streaming(), inbound(fake, payload), point)
    before = [m["id"] for m in bot_messages(fake, payload["id"])]
    assert len(before) == (1 if point == "answer.part" else 2)
    model.default_reply = LONG.replace("Settings", "Preferences")
    assert await restart(make_streaming()) == 0
    after = bot_messages(fake, payload["id"])
    assert [m["id"] for m in after][: len(before)] == before
    assert_shown_once(after, "Forgot password", "Step 0: open Preferences", "Step 59: open Preferences")
    assert "Settings" not in "".join(m["content"] for m in after)


async def test_a_streamed_answer_of_three_messages_killed_between_its_parts_is_finished_in_them(
    fake: FakeDiscord, make_streaming: Callable[[], Runtime], model: FakeOpenAI
) -> None:
    """Killed after the final edit posted part 2, before part 3: the inbox noted part 2 as it
    went out (not once the whole edit was over), so the replay brings both messages to its
    answer and adds the third; the dead process's part 2 is not left beside the replay's."""
    model.default_reply = LONGER
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    await crash_at(make_streaming(), inbound(fake, payload), "answer.part", after=1)
    before = [m["id"] for m in bot_messages(fake, payload["id"])]
    assert len(before) == 2
    model.default_reply = LONGER.replace("Settings", "Preferences")
    assert await restart(make_streaming()) == 0
    after = bot_messages(fake, payload["id"])
    assert [m["id"] for m in after][:2] == before and len(after) == 3
    assert_shown_once(after, "Forgot password", "Step 0: open Preferences", "Step 94: open Preferences")
    assert "Settings" not in "".join(m["content"] for m in after)


async def test_a_note_the_store_refuses_while_an_answer_outgrows_its_message_is_left_for_the_finish(
    fake: FakeDiscord, make_streaming: Callable[[], Runtime], model: FakeOpenAI
) -> None:
    """The inbox's note of part 2 fails (the store away) as the final edit posts it. Discord
    has taken the edit: the answer goes on to its third part and the finish notes the post
    whole. Raised out of the edit, the error read as an edit not made: the answer was taken
    back for an apology, and one that also failed its note was said twice."""
    model.default_reply = LONGER
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    question = inbound(fake, payload)
    runtime = make_streaming()
    async with running(runtime) as adapter:
        with faults.crash_at("answer.noted", after=1, error=StoreError("the store is away")):
            await runtime.bot.on_message(question, adapter.channel)
    after = bot_messages(fake, payload["id"])
    assert len(after) == 3 and not any("Sorry" in m["content"] for m in after)
    assert_shown_once(after, "Forgot password", "Step 0: open Settings", "Step 94: open Settings")
    noted = runtime.state.event_post(f"discord:msg:{question.id}")
    assert noted is not None and noted[0] == post_id([m["id"] for m in after])
    assert runtime.state.pending_events("discord") == []


# -- the asker edits the question ---------------------------------------------------------------


def edit_of(question: InboundMessage, text: str) -> InboundMessage:
    """The asker's edit, as the adapter hands it to the core (its own inbox key)."""
    return replace(
        question, id=f"{question.id}:edit:1700000000000", text=text, edited=True, edit_of=question.id
    )


async def test_revising_a_split_answer_into_a_short_one_leaves_one_message(
    fake: FakeDiscord, make_streaming: Callable[[], Runtime], model: FakeOpenAI
) -> None:
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    question = inbound(fake, payload)
    runtime = make_streaming()
    async with running(runtime) as adapter:
        await runtime.bot.on_message(question, adapter.channel)
        first, _ = bot_messages(fake, payload["id"])
        model.default_reply = SHORT
        await runtime.bot.on_message(edit_of(question, EDITED), adapter.channel)
    [revised] = bot_messages(fake, payload["id"])  # the second part, now surplus, is gone
    assert revised["id"] == first["id"] and revised["content"].startswith("On the mobile app")
    assert "Step" not in revised["content"] and button_ids(revised)


async def test_revising_a_short_answer_into_a_split_one_shows_it_whole(
    fake: FakeDiscord, make_streaming: Callable[[], Runtime], model: FakeOpenAI
) -> None:
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    question = inbound(fake, payload)
    runtime = make_streaming()
    model.default_reply = SHORT
    async with running(runtime) as adapter:
        await runtime.bot.on_message(question, adapter.channel)
        [first] = bot_messages(fake, payload["id"])
        model.default_reply = LONG
        await runtime.bot.on_message(edit_of(question, EDITED), adapter.channel)
        revised = bot_messages(fake, payload["id"])
        assert revised[0]["id"] == first["id"]
        assert_shown_once(revised, "Forgot password", "Step 0:", "Step 59:")
        # and the record keeps both parts: edited again, the answer is still one whole reply
        model.default_reply = LONG.replace("Settings", "Preferences")
        again = replace(edit_of(question, QUESTION + " (web)"), id=f"{question.id}:edit:1700000000001")
        await runtime.bot.on_message(again, adapter.channel)
    final = bot_messages(fake, payload["id"])
    assert [m["id"] for m in final] == [m["id"] for m in revised]
    assert_shown_once(final, "Forgot password", "Step 0: open Preferences", "Step 59: open Preferences")


@pytest.mark.parametrize("point", ["answer.part", "answer.posted"])
async def test_a_revision_that_outgrew_its_message_is_finished_once_after_a_crash(
    fake: FakeDiscord, make_streaming: Callable[[], Runtime], model: FakeOpenAI, point: str
) -> None:
    """The edit's answer needs two messages where the first answer had one; the process dies
    before its second part went out, or after (before the new answer was recorded). The
    earlier answer's record names the post as it became, part by part, so the replay of the
    edit brings both messages to its answer: no part of the dead process's left, none twice."""
    model.default_reply = SHORT
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    question = inbound(fake, payload)
    runtime = make_streaming()
    async with running(runtime) as adapter:
        await runtime.bot.on_message(question, adapter.channel)
        model.default_reply = LONG
        with faults.crash_at(point), pytest.raises(faults.Crash):
            await runtime.bot.on_message(edit_of(question, EDITED), adapter.channel)
    model.default_reply = LONG.replace("Settings", "Preferences")
    assert await restart(make_streaming()) == 0
    after = bot_messages(fake, payload["id"])
    assert len(after) == 2
    assert_shown_once(after, "Forgot password", "Step 0: open Preferences", "Step 59: open Preferences")
    assert "Settings" not in "".join(m["content"] for m in after)


@pytest.mark.parametrize("noted", [False, True], ids=["found", "noted"])
async def test_a_revision_posted_anew_for_a_deleted_answer_is_not_posted_again_by_a_replay(
    fake: FakeDiscord, make_streaming: Callable[[], Runtime], model: FakeOpenAI, noted: bool
) -> None:
    """A moderator deleted the answer; the asker's edit is answered in a new message, and the
    process dies before the inbox or the answer's record learnt of it. The replay of the
    edit's event finds that message (FindsReplies, by the id of the message as first sent),
    or is handed it (the inbox's note, as a replay cut short leaves it), and revises it:
    the answer's record still names the deleted one, which would be answered anew again."""
    model.default_reply = SHORT
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    question = inbound(fake, payload)
    edited = edit_of(question, EDITED)
    runtime = make_streaming()
    async with running(runtime) as adapter:
        await runtime.bot.on_message(question, adapter.channel)
        [old] = bot_messages(fake, payload["id"])
        del fake.messages[payload["id"]][old["id"]]
        model.default_reply = SHORT.replace("mobile app", "phone app")
        with faults.crash_at("answer.sent"), pytest.raises(faults.Crash):
            await runtime.bot.on_message(edited, adapter.channel)
    [anew] = bot_messages(fake, payload["id"])
    if noted:
        key, where = f"discord:msg:{edited.id}", question.conversation.in_thread(payload["id"]).key
        runtime.state.note_post(key, anew["id"], where)
    fake.nonce_window_seconds = 0  # the replay comes after Discord's nonce window
    model.default_reply = SHORT.replace("mobile app", "tablet app")
    assert await restart(make_streaming()) == 0
    [after] = bot_messages(fake, payload["id"])
    assert after["id"] == anew["id"] and "tablet app" in after["content"]


async def test_a_split_answer_revised_into_an_abstention_is_one_message_when_revised_again(
    fake: FakeDiscord, make_streaming: Callable[[], Runtime], model: FakeOpenAI
) -> None:
    """The abstention shows in the answer's first message, its second deleted; the record
    follows, so the next revision edits that one message instead of the deleted one (which
    would take the post for gone and say the answer anew)."""
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    question = inbound(fake, payload)
    runtime = make_streaming()
    async with running(runtime) as adapter:
        await runtime.bot.on_message(question, adapter.channel)
        first, _ = bot_messages(fake, payload["id"])
        model.default_reply = "NO_ANSWER"
        await runtime.bot.on_message(edit_of(question, EDITED), adapter.channel)
        assert bot_messages(fake, payload["id"])[0]["id"] == first["id"]
        model.default_reply = LONG.replace("Settings", "Preferences")
        again = replace(edit_of(question, QUESTION + " (web)"), id=f"{question.id}:edit:1700000000001")
        start = len(fake.requests)
        await runtime.bot.on_message(again, adapter.channel)
    edits = fake.requests_matching("PATCH", "/channels/{c}/messages/{m}", after=start)
    assert 404 not in [r.status for r in edits]  # the deleted second message is not edited
    after = bot_messages(fake, payload["id"])  # the ticket's note among them
    assert after[0]["id"] == first["id"]
    shown = "\n".join(m["content"] for m in after)
    assert [shown.count(f"Step {n}: open Preferences") for n in (0, 59)] == [1, 1], shown


async def test_a_replayed_edit_revises_every_part_its_record_names_not_only_the_part_found(
    fake: FakeDiscord, make_streaming: Callable[[], Runtime], model: FakeOpenAI
) -> None:
    """A revision grew the answer to two messages after a person had spoken in the thread, so
    its parts are not side by side; a later edit is replayed after a crash. The lookup finds
    only the first part: the answer's record, which names both, decides what is revised."""
    model.default_reply = SHORT
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    question = inbound(fake, payload)
    thread = payload["id"]
    runtime = make_streaming()
    async with running(runtime) as adapter:
        await runtime.bot.on_message(question, adapter.channel)
        [first] = bot_messages(fake, thread)
        bob = fake.add_user("bob")
        fake.build_message_create("thanks, trying", channel_id=thread, author_id=bob["id"])
        model.default_reply = LONG
        await runtime.bot.on_message(edit_of(question, EDITED), adapter.channel)
        grown = bot_messages(fake, thread)
        assert len(grown) == 2 and grown[0]["id"] == first["id"]
        model.default_reply = SHORT.replace("mobile app", "tablet app")
        second = replace(edit_of(question, EDITED + " (tablet)"), id=f"{question.id}:edit:1700000000001")
        with faults.crash_at("event.deciding"), pytest.raises(faults.Crash):
            await runtime.bot.on_message(second, adapter.channel)
    fake.nonce_window_seconds = 0
    assert await restart(make_streaming()) == 0
    shown = "\n".join(m["content"] for m in bot_messages(fake, thread))
    assert "tablet app" in shown and "Step 59" not in shown
