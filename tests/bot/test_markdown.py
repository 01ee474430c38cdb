"""`literal`: what people wrote shows as typed on both platforms, never as the bot's markup.

Discord renders the core's Markdown itself and honours a backslash before any punctuation;
Slack's is converted by adapters/slack/mrkdwn.py, driven here for real. Both are checked on
the same text: Discord by its escape rule, Slack by what its conversion puts out.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.discord.render import render_reply
from adapters.slack.mrkdwn import to_mrkdwn
from bot.markdown import literal, unescape_prose
from bot.retrieval.documents import read_document
from bot.types import ConversationRef, Reply

DISCORD_ESCAPE = re.compile(r"\\([^0-9A-Za-z\s])")  # Discord's escape rule
SLACK_LINK = re.compile(r"<[^<>|]+\|[^<>]+>")  # a link whose words hide its target
ZWSP = "\u200b"


def on_discord(text: str) -> str:
    """What Discord shows of a reply's text: its content, escapes taken as literal characters."""
    [message] = render_reply(
        Reply(conversation=ConversationRef(platform="discord", workspace="1", channel="2"), text=text)
    )
    return DISCORD_ESCAPE.sub(r"\1", message.content)


def on_slack(text: str) -> str:
    """What Slack shows of the mrkdwn: entities decoded, the zero-width spaces unseen."""
    return html.unescape(to_mrkdwn(text)).replace(ZWSP, "")


@pytest.mark.parametrize(
    "typed",
    [
        "[Reset your password here](https://evil.example/phish)",
        "[Staff portal: verify here](<https://evil.example/login>)",
        "**Ticket #12** resolved, no action needed",
        "__urgent__ ~~old~~ ||hidden|| `code` *soft* _soft_",
        "# Big heading\n> a quote\n-# small print\n- a list\n1. first\n2) second",
        r"C:\Users\me\*.txt and a \[bracket\]",
    ],
)
def test_what_people_typed_shows_as_typed_on_both_platforms(typed: str) -> None:
    shown = literal(typed)
    assert on_discord(shown) == typed
    assert on_slack(shown) == typed
    assert not SLACK_LINK.search(to_mrkdwn(shown))


def test_a_bare_url_is_left_whole_so_it_still_links_to_what_it_shows() -> None:
    typed = "see https://docs.example/a_b_c?x=*1* and my_file"
    assert literal(typed) == r"see https://docs.example/a_b_c?x=*1* and my\_file"


# Links as typed: Slack links each <URL> to what it shows; "|" goes as %7C, as browsers send it.
SLACK_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>|]+)>")
# Text with links holding Markdown's marks, and marks around them.
LINK_PIECES = ["https://a.example/", "mailto:b", "**", "*", "_", "__", "~~", "`", " ", "x", ".", ")", "("]
WITH_LINKS = st.lists(
    st.sampled_from([*LINK_PIECES, "[", "]", "\\", ">", "&", "|", "#", "\n", "1.", "-"]), max_size=25
).map("".join)


@given(WITH_LINKS)
def test_links_and_what_surrounds_them_show_as_typed_on_slack(typed: str) -> None:
    mrkdwn = to_mrkdwn(literal(typed))
    linked = SLACK_AUTOLINK.sub(lambda m: m.group(1).replace("%7C", "|"), mrkdwn)
    assert html.unescape(linked).replace(ZWSP, "") == typed.strip("\n")


# Text without URLs (no h, t or p: neither "http" nor "mailto"), dense in Markdown's marks.
MARKDOWN_ISH = st.text(alphabet=" \nab#>*+-_~`|[]()\\<>&!:/.1@", max_size=60)


@given(MARKDOWN_ISH)
def test_any_text_shows_as_typed_on_both_platforms(typed: str) -> None:
    shown = literal(typed)
    assert on_discord(shown) == typed.strip() or not typed.strip()
    assert on_slack(shown) == typed.strip("\n")


def _passage(root: Path, name: str, source: str) -> str:
    file = root / name
    file.write_text(source, encoding="utf-8")
    return read_document(root, file, file.read_bytes()).sections[-1].text


@pytest.mark.parametrize(
    ("name", "source", "shown"),
    [
        (
            "packages.md",
            "# Layout\n\nCreate an empty \\_\\_init\\_\\_.py file.\n",
            "Create an empty __init__.py file.",
        ),
        (
            "stars.md",
            "# Stars\n\nA \\*literal\\* star and \\*\\*two\\*\\*.\n",
            "A *literal* star and **two**.",
        ),
        (
            "stars.rst",
            "Stars\n=====\n\nA \\*literal\\* star, __init__.py and my_name.\n",
            "A *literal* star, __init__.py and my_name.",
        ),
    ],
)
def test_a_documents_escaped_characters_show_as_characters_on_both_platforms(
    tmp_path: Path, name: str, source: str, shown: str
) -> None:
    text = _passage(tmp_path, name, source)
    assert on_discord(text) == shown
    assert on_slack(text) == shown
    assert unescape_prose(text) == shown  # what is searched and compared: no backslash


def test_unescape_prose_leaves_code_as_written() -> None:
    text = "\\*a\\* `b\\_c` \\`d\\`\n```\nre.compile(r'\\.')\n```\n\\[e\\]"
    assert unescape_prose(text) == "*a* `b\\_c` `d`\n```\nre.compile(r'\\.')\n```\n[e]"


@pytest.mark.parametrize(
    ("text", "read"),
    [
        # a stray backtick opens no span that runs on past its paragraph
        (
            "Press the ` key.\n\n\\_\\_init\\_\\_.py\n\nthen `make`",
            "Press the ` key.\n\n__init__.py\n\nthen `make`",
        ),
        # an escaped backslash before a span: the span is code, its backslash kept
        ("\\\\`a\\_b`", "\\`a\\_b`"),
        # an escaped backtick opens nothing
        ("\\`a\\_b`", "`a_b`"),
    ],
)
def test_unescape_prose_finds_code_spans_as_commonmark_does(text: str, read: str) -> None:
    assert unescape_prose(text) == read
