"""Discord: a post of several messages is shown whole or not at all (adapters/discord/channel.py).

A message of it that a person deleted (404 Unknown Message) takes the rest with it, and the
reply is posted anew, once: no half of an older answer left beside the new one, no second set
of buttons, and the inbox forgets the deleted post, so a replay after a crash looks for the new
one rather than posting it again. A part Discord refuses (a 429 discord.py does not wait out,
a 5xx after its retries) takes back the parts posted before it: the apology stands alone.

The real core and discord.py adapter against the fake Discord and the fake OpenAI.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot import faults
from bot.app import Runtime
from tests.adapters.test_discord_adapter import running
from tests.adapters.test_discord_find_reply import QUESTION, bot_messages, button_ids, inbound, restart
from tests.adapters.test_discord_long_replies import (
    EDITED,
    LONG,
    LONGER,
    SHORT,
    edit_of,
    fake,
    make_offline,
    make_streaming,
    model,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.timeout(60)

__all__ = ["fake", "make_offline", "make_streaming", "model"]  # fixtures

# Discord's answer to a part it will not take (raised by discord.py, as at the fault point)
REFUSED = discord.HTTPException(
    SimpleNamespace(status=429, reason="Too Many Requests"),
    {"message": "You are being rate limited.", "code": 0},
)


def shown(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["content"] for m in messages)


# -- a message deleted -----------------------------------------------------------------------------


@pytest.mark.parametrize("deleted", [0, 1])
async def test_a_split_answer_with_a_message_deleted_is_revised_into_one_whole_answer(
    fake: FakeDiscord, make_streaming: Callable[[], Runtime], model: FakeOpenAI, deleted: int
) -> None:
    """A moderator deleted one message of a two-message answer; the asker's edit then revises
    it: the other message goes too, and the new answer is posted once, whole."""
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    question = inbound(fake, payload)
    thread = payload["id"]
    runtime = make_streaming()
    async with running(runtime) as adapter:
        await runtime.bot.on_message(question, adapter.channel)
        old = bot_messages(fake, thread)
        del fake.messages[thread][old[deleted]["id"]]
        model.default_reply = LONG.replace("Settings", "Preferences")
        await runtime.bot.on_message(edit_of(question, EDITED), adapter.channel)
    after = bot_messages(fake, thread)
    assert not {m["id"] for m in old} & {m["id"] for m in after}  # nothing of the old answer left
    assert "open Settings" not in shown(after)
    assert shown(after).count("Step 0: open Preferences") == 1
    assert [bool(button_ids(m)) for m in after] == [False, True]


@pytest.mark.parametrize("point", ["answer.sent", "answer.posted"])
async def test_an_answer_posted_anew_for_a_deleted_post_is_not_posted_again_by_a_replay(
    fake: FakeDiscord, make_streaming: Callable[[], Runtime], model: FakeOpenAI, point: str
) -> None:
    """The post being streamed into was deleted (every edit: 404 Unknown Message): the answer
    goes out as a message of its own, and the process dies before its finish (before or after
    the answer is out of the handler). The inbox no longer names the deleted post, so the
    replay finds the new one (find_reply) and brings it to its answer instead of posting again."""
    model.default_reply = SHORT
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    thread = payload["id"]
    fake.fail("PATCH", "/channels/{c}/messages/{m}", 404, 10008, "Unknown Message", times=None)
    runtime = make_streaming()
    async with running(runtime) as adapter:
        # answer.sent: the first is the streamed post's, the second the answer's
        with faults.crash_at(point, after=1 if point == "answer.sent" else 0), pytest.raises(faults.Crash):
            await runtime.bot.on_message(inbound(fake, payload), adapter.channel)
    fake.clear_faults()
    [answer] = bot_messages(fake, thread)  # the streamed post, found gone, was deleted whole
    assert "mobile app" in answer["content"]
    model.default_reply = SHORT.replace("tap", "press")  # worded differently the second time
    assert await restart(make_streaming()) == 0
    [after] = bot_messages(fake, thread)
    assert after["id"] == answer["id"] and "press Reset" in after["content"]


# -- a part refused --------------------------------------------------------------------------------


async def test_a_streamed_answer_whose_later_part_is_refused_leaves_no_fragment(
    fake: FakeDiscord, make_streaming: Callable[[], Runtime], model: FakeOpenAI
) -> None:
    """The final edit of a three-message answer: the streamed message edited, part 2 posted,
    part 3 refused. Part 2 is taken back, and the apology replaces the streamed message."""
    model.default_reply = LONGER
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    runtime = make_streaming()
    async with running(runtime) as adapter:
        with faults.crash_at("answer.part", after=1, error=REFUSED):
            await runtime.bot.on_message(inbound(fake, payload), adapter.channel)
    messages = bot_messages(fake, payload["id"])
    assert "Step" not in shown(messages), shown(messages)
    assert "Sorry" in messages[0]["content"]


async def test_an_answer_whose_later_part_is_refused_takes_back_its_first(
    fake: FakeDiscord, make_offline: Callable[[], Runtime]
) -> None:
    """The same for an answer posted whole (nothing streamed): its first part is taken back."""
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    runtime = make_offline()
    async with running(runtime) as adapter:
        with faults.crash_at("answer.part", error=REFUSED):
            await runtime.bot.on_message(inbound(fake, payload), adapter.channel)
    messages = bot_messages(fake, payload["id"])
    assert "Step" not in shown(messages), shown(messages)
    assert "Sorry" in shown(messages)
