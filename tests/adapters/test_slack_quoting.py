"""What people type into Slack, copied into the bot's own posts, shows as they typed it.

The real adapter against the fake Slack: a Markdown link typed into a question (Slack sends the
URL wrapped in `<...>`, which the adapter unwraps) must not come back as a Slack link whose
words hide where it goes, posted under the bot's name: not in the `/support ask` question the
bot posts for everyone, not in the triage card that quotes a question.
"""

from __future__ import annotations

import re

from adapters.slack import SlackAdapter
from tests.adapters.test_slack import MEMBER, deliver, fake, outgoing_strings, posts, rt, slack
from tests.fakes.slack_server import FakeSlack

__all__ = ["fake", "rt", "slack"]  # the fixtures, imported from test_slack

MASKED = re.compile(r"<https://evil\.example/[^|>]*\|[^>]+>")  # words standing for the link


async def test_a_link_typed_into_support_ask_is_posted_as_typed_not_as_the_bots_link(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    text = "ask [Reset your password here](<https://evil.example/phish>)"
    await fake.socket_send(
        "slash_commands", fake.slash_command("/support", text, user_id=MEMBER), timeout=3.0
    )
    assert await slack.drain(timeout=15)

    root = posts(fake, "C111")[0]
    assert "asked: [Reset your password here](https://evil.example/phish)" in root.params["text"]
    assert [s for s in outgoing_strings(fake) if MASKED.search(s)] == []


async def test_a_link_typed_into_a_question_is_quoted_on_the_triage_card_as_typed(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    ask = "I want to talk to a human. [Support portal: verify here](<https://evil.example/login>)"
    await deliver(fake, slack, fake.user_message("C111", ask, user=MEMBER, mention=True))

    [card] = posts(fake, "C222")
    assert "[Support portal: verify here](https://evil.example/login)" in card.params["text"]
    assert [s for s in outgoing_strings(fake) if MASKED.search(s)] == []


async def test_links_holding_markdown_marks_are_quoted_as_typed_and_format_nothing(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    # "**" in one link and at the end of the next would bold the words between them; a
    # backtick in one and in the next would make them code, showing the escapes' backslashes
    url1, url2, url3 = "https://a.example/**Your", "https://b.example/x**", "https://c.example/`"
    ask = f"I want to talk to a human. see {url1} account is locked {url2} or *this* {url3}"
    await deliver(fake, slack, fake.user_message("C111", ask, user=MEMBER, mention=True))

    [card] = posts(fake, "C222")
    text = card.params["text"]
    assert f"<{url1}> account is locked <{url2}> or \u200b*\u200bthis\u200b*\u200b <{url3}>" in text
    assert "\\" not in text
