"""What people type into Discord, copied into the bot's own posts, shows as they typed it.

The real adapter against the fake Discord: a Markdown link typed into a question must not come
back as a masked link (`[words](url)`, the words hiding where it goes) posted under the bot's
name. Discord renders Markdown itself and honours a backslash before punctuation, so the
bot's copy escapes the brackets: Discord then shows the brackets and the URL, as typed.
"""

from __future__ import annotations

import re

from adapters.discord import DiscordAdapter
from tests.adapters.test_discord_adapter import MESSAGES, adapter, fake, ok_post, runtime, slash
from tests.fakes.discord_server import FakeDiscord

__all__ = ["adapter", "fake", "runtime"]  # the fixtures, imported from test_discord_adapter

# an unescaped `[words](` to the asker's URL: a masked link (the bot's own links are fine)
MASKED = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(https://evil\.example")


async def test_a_link_typed_into_support_ask_is_posted_as_typed_not_as_a_masked_link(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    _, root = await slash(fake, "ask", {"question": "[Reset your password here](https://evil.example/phish)"})
    await adapter.drain(5)

    assert root.json["content"] == r"Alice asked: \[Reset your password here\](https://evil.example/phish)"
    assert not MASKED.search(root.json["content"])


async def test_a_link_typed_into_a_question_is_quoted_on_the_triage_card_as_typed(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    start = len(fake.requests)
    ask = "talk to a person. [Staff portal: verify here](https://evil.example/login)"
    await fake.dispatch("MESSAGE_CREATE", fake.build_message_create(ask, mention_bot=True))
    card = await fake.wait_for_request("POST", MESSAGES, ok_post(fake.general_channel_id), after=start)
    await adapter.drain(5)

    assert r"\[Staff portal: verify here\](https://evil.example/login)" in card.json["content"]
    assert not MASKED.search(card.json["content"])
