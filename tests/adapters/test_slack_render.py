"""Slack rendering, without Slack: Markdown to mrkdwn, mention neutralisation, Block Kit,
splitting to Slack's limits, and Slack's inbound markup to plain text.

Rendered blocks are checked with the fake Slack's own Block Kit validator, so a layout that
these tests accept is one Slack's chat.postMessage accepts too.
"""

from __future__ import annotations

import re

import pytest

from adapters.slack.mrkdwn import (
    SECTION_TEXT_LIMIT,
    escape,
    mention_tag,
    mentions_user,
    plain_from_slack,
    safe_url,
    split_text,
    to_mrkdwn,
)
from adapters.slack.render import (
    MESSAGE_BLOCK_LIMIT,
    MESSAGE_TEXT_LIMIT,
    SlackMessage,
    action_from_id,
    action_id_for,
    citation_text,
    iter_strings,
    plain_text,
    render_reply,
    render_single,
)
from bot.retrieval.formats.common import fence
from bot.types import (
    ActionKind,
    Button,
    ButtonStyle,
    Citation,
    ConversationRef,
    Mention,
    MentionKind,
    Reply,
)
from tests.fakes.slack_server import SlackError, validate_blocks

HERE = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.2")
# a ping is an unescaped <!...> or <@...>, or a bare broadcast word Slack might link
PING = re.compile(r"<[!@]|(?<!\u200b)@(channel|here|everyone)\b", re.IGNORECASE)


def accepted_by_slack(message: SlackMessage) -> None:
    assert len(message.text) <= MESSAGE_TEXT_LIMIT
    validate_blocks(message.blocks)  # raises SlackError as Slack would answer


# -- Markdown to mrkdwn -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __also bold__", "*bold* and *also bold*"),
        ("*italic* and _italic_", "_italic_ and _italic_"),
        ("~~gone~~", "~gone~"),
        (
            "see [the docs](https://docs.example.com/a?b=1&c=2)",
            "see <https://docs.example.com/a?b=1&amp;c=2|the docs>",
        ),
        ("<https://example.com>", "<https://example.com>"),
        ("run `a < b && c`", "run `a &lt; b &amp;&amp; c`"),
        ("`**not bold**`", "`**not bold**`"),
        ("# Install\n## Step **two**", "*Install*\n*Step two*"),
        ("- one\n* two\n  - nested", "• one\n• two\n    • nested"),
        ("1. first\n2) second", "1. first\n2. second"),
        ("> quoted **text**", "> quoted *text*"),
        (
            "```python\nif a < b:\n    print('**x**')\n```",
            "```\nif a &lt; b:\n    print('**x**')\n```",
        ),
        ("Tom & Jerry <3", "Tom &amp; Jerry &lt;3"),
        ("---", "──────────"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
        # a bare URL is one piece: marks around it format it, marks in it stay in the link
        ("**https://a.example/x**, ~~https://b.example~~.", "*https://a.example/x*, ~https://b.example~."),
        ("see https://docs.example/__init__.py", "see <https://docs.example/__init__.py>"),
        ("choose **Copy ID**, then **Save** it", "choose *Copy ID*, then *Save* it"),
        # bold opens at the "**" nearest before its closer (a line's stray "**" opens nothing)
        ("Mode**, then choose **Copy ID**.", "Mode**, then choose *Copy ID*."),
    ],
)
def test_markdown_becomes_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


@pytest.mark.parametrize("opener", ["**", "__", "*", "~~", "`"])
def test_a_long_line_of_marks_that_close_nothing_is_left_as_it_is(opener: str) -> None:
    # every opener looks no further than the next mark: 80k characters of them convert in
    # about the time they take to read (they took 27 s when each looked to the line's end)
    line = f"{opener}a " * 20000
    assert to_mrkdwn(line) == line


def test_an_unclosed_code_block_is_closed() -> None:
    assert to_mrkdwn("```\ncode") == "```\ncode\n```"


def test_a_longer_fence_showing_a_code_block_stays_one_code_block() -> None:
    # a quoted page about Markdown: the parsers fence a block holding ``` in ```` (fence());
    # the ``` inside were sent as they are, so Slack ended the block at the first one, showing
    # the example as prose and the prose after it as code
    page = "Write this:\n\n```python\nprint(1)\n```\n\nThen **build** it."
    shown = to_mrkdwn(f"Add a sample:\n\n{fence(page, 'markdown')}\n\nThat is **all**.")
    defused = "`\u200b`\u200b`"  # reads as ``` but is no fence to Slack
    block = f"Write this:\n\n{defused}python\nprint(1)\n{defused}\n\nThen **build** it."
    assert shown == f"Add a sample:\n\n```\n{block}\n```\n\nThat is *all*."


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        # Slack ends a block at ``` anywhere, not only on a line of its own
        ("```\nmd = '```'\n```", "```\nmd = '`\u200b`\u200b`'\n```"),
        # a shorter run, or one of the other character, is the block's content
        ("~~~~\n~~~\n```\n~~~~\nafter", "```\n~~~\n`\u200b`\u200b`\n```\nafter"),
        # a closing fence has nothing after it: ```js opens nothing inside a block
        ("````\n````js\n````", "```\n`\u200b`\u200b`\u200b`js\n```"),
        # a backtick in the info string: inline code, not a fence left open to the end
        ("```run it```\n**after**", "`run it`\n*after*"),
    ],
)
def test_code_blocks_open_and_close_as_in_commonmark(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


@pytest.mark.parametrize(
    "hostile",
    [
        "<!channel> please read",
        "<!here|here> and <!everyone>",
        "ping <@U123> and <@W456|bob>",
        "team <!subteam^S999|@team>",
        "raw @channel and @Here and @everyone",
        "[click me](!channel) [me too](@U123) [x](javascript:alert(1))",
        "`<!channel>` in code",
        "```\n<!everyone> @here in a block\n```",
        "> quoted <!channel>",
        "# heading <!here>",
        "- item <@U1>",
    ],
)
def test_user_and_document_mentions_never_ping(hostile: str) -> None:
    rendered = to_mrkdwn(hostile)
    assert not PING.search(rendered), rendered


def test_neutralised_mentions_still_read_the_same() -> None:
    assert escape("<!channel> @here") == "&lt;!channel&gt; @\u200bhere"
    assert to_mrkdwn("[click me](!channel)") == "click me"  # the label survives, the link does not


def test_only_safe_urls_become_links() -> None:
    assert safe_url("https://a.example/x?y=1&z=<2>|3") == "https://a.example/x?y=1&amp;z=%3C2%3E%7C3"
    assert safe_url("mailto:help@example.com") == "mailto:help@example.com"
    for bad in ("!channel", "@U123", "javascript:alert(1)", "ftp://x", "https://a b"):
        assert safe_url(bad) is None


@pytest.mark.parametrize(
    "markdown",
    [
        "[Wiki](https://en.wikipedia.org/wiki/A_(b))",
        "[Wiki](https://en.wikipedia.org/wiki/A_(b) 'Page')",
        '[Wiki]( <https://en.wikipedia.org/wiki/A_(b)> "Page" )',
    ],
)
def test_links_are_read_as_the_answers_output_filter_reads_them(markdown: str) -> None:
    """One definition of a link (bot.markdown.LINK) for this converter and the filter that
    writes out links to addresses the passages do not hold; before the twenty-fourth session
    an address with parentheses or a title in '' was not a link here, and the filter knew
    fewer forms than this converter linked."""
    assert to_mrkdwn(markdown) == "<https://en.wikipedia.org/wiki/A_(b)|Wiki>"


def test_only_requested_mentions_are_tags() -> None:
    assert mention_tag(Mention(kind=MentionKind.GROUP, id="S0123")) == "<!subteam^S0123>"
    assert mention_tag(Mention(kind=MentionKind.USER, id="U0456")) == "<@U0456>"
    assert mention_tag(Mention(kind=MentionKind.ROLE, id="123")) is None  # a Discord role
    assert mention_tag(Mention(kind=MentionKind.USER, id="U1>|<!channel")) is None


# -- Block Kit --------------------------------------------------------------------------------


def answer_reply(text: str = "Refunds take **5-7 days**.", **kw: object) -> Reply:
    defaults: dict[str, object] = {
        "citations": (
            Citation(
                path="refunds.md",
                title="Refund policy",
                heading="Timing",
                url="https://docs.example.com/refunds",
            ),
            Citation(path="faq.md", title="FAQ <!channel>", heading=""),
        ),
        "buttons": (
            Button(action=ActionKind.HELPFUL, label="Helpful", value="7", style=ButtonStyle.PRIMARY),
            Button(action=ActionKind.NOT_HELPFUL, label="Not helpful", value="7"),
            Button(action=ActionKind.TALK_TO_HUMAN, label="Talk to a person", value="7"),
        ),
    }
    defaults.update(kw)
    return Reply(conversation=HERE, text=text, **defaults)  # type: ignore[arg-type]


def test_an_answer_renders_sections_sources_and_buttons() -> None:
    [message] = render_reply(answer_reply())
    accepted_by_slack(message)
    assert message.text == "Refunds take *5-7 days*."
    assert message.blocks == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Refunds take *5-7 days*."}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "*Sources:*"},
                {
                    "type": "mrkdwn",
                    "text": "1. <https://docs.example.com/refunds|Refund policy › Timing>",
                },
                {"type": "mrkdwn", "text": "2. FAQ &lt;!channel&gt;"},
            ],
        },
        {
            "type": "actions",
            "block_id": "supportbot_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "supportbot:helpful",
                    "text": {"type": "plain_text", "text": "Helpful"},
                    "value": "7",
                    "style": "primary",
                },
                {
                    "type": "button",
                    "action_id": "supportbot:not_helpful",
                    "text": {"type": "plain_text", "text": "Not helpful"},
                    "value": "7",
                },
                {
                    "type": "button",
                    "action_id": "supportbot:talk_to_human",
                    "text": {"type": "plain_text", "text": "Talk to a person"},
                    "value": "7",
                },
            ],
        },
    ]


def test_requested_mentions_come_first_and_ping() -> None:
    reply = Reply(
        conversation=HERE,
        text="- I've passed this on <!channel>",
        mentions=(
            Mention(kind=MentionKind.GROUP, id="S111"),
            Mention(kind=MentionKind.USER, id="U222"),
        ),
    )
    [message] = render_reply(reply)
    assert message.text == "<!subteam^S111> <@U222>\n• I've passed this on &lt;!channel&gt;"
    assert message.blocks[0]["text"]["text"] == message.text


def test_a_link_to_another_conversation_and_a_label_in_the_language() -> None:
    reply = Reply(conversation=HERE, text="**Ticket #3**", refers_to=HERE)
    [message] = render_reply(
        reply,
        permalink="https://acme.slack.com/archives/C1/p12",
        link_label="Open the conversation",
    )
    assert message.blocks[1] == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "<https://acme.slack.com/archives/C1/p12|Open the conversation>",
        },
    }
    [unsafe] = render_reply(reply, permalink="!channel")
    assert len(unsafe.blocks) == 1  # an unusable permalink is left out, never rendered raw
    [korean] = render_reply(answer_reply(), sources_label="출처")
    assert korean.blocks[1]["elements"][0]["text"] == "*출처:*"


def test_action_ids_round_trip() -> None:
    for kind in ActionKind:
        assert action_from_id(action_id_for(kind)) == kind
        assert action_from_id(action_id_for(kind, 2)) == kind
    assert action_from_id("supportbot:unknown") is None
    assert action_from_id("other:helpful") is None
    block = render_reply(
        answer_reply(
            buttons=(
                Button(action=ActionKind.RESOLVE, label="Resolve #1", value="1"),
                Button(action=ActionKind.RESOLVE, label="Resolve #2", value="2"),
            )
        )
    )[0].blocks[-1]
    assert [e["action_id"] for e in block["elements"]] == [
        "supportbot:resolve",
        "supportbot:resolve:1",
    ]


def test_citations_without_a_url_show_title_and_heading() -> None:
    assert (
        citation_text(Citation(path="a.md", title="Setup", heading="Tokens > Bot"))
        == "Setup › Tokens &gt; Bot"
    )
    assert citation_text(Citation(path="a.md", title="", heading="")) == "a.md"
    assert citation_text(Citation(path="a.md", title="X", heading="", url="!channel")) == "X"


def test_many_sources_and_long_labels_fit_slacks_limits() -> None:
    reply = answer_reply(
        citations=tuple(Citation(path=f"{n}.md", title=f"Doc {n}", heading="") for n in range(15)),
        buttons=(Button(action=ActionKind.HELPFUL, label="x" * 200, value="v" * 3000),),
    )
    [message] = render_reply(reply)
    accepted_by_slack(message)
    context, actions = message.blocks[-2], message.blocks[-1]
    assert len(context["elements"]) == 10
    assert len(actions["elements"][0]["text"]["text"]) == 75
    assert len(actions["elements"][0]["value"]) == 2000


# -- splitting --------------------------------------------------------------------------------


def test_long_text_splits_into_sections_at_line_breaks() -> None:
    paragraph = "word " * 150  # 750 characters
    text = "\n\n".join(f"{n}: {paragraph}" for n in range(10))
    [message] = render_reply(answer_reply(text))
    accepted_by_slack(message)
    sections = [b for b in message.blocks if b["type"] == "section"]
    assert len(sections) == 4  # three 750-character paragraphs fit in 3000, four do not
    assert all(len(s["text"]["text"]) <= SECTION_TEXT_LIMIT for s in sections)
    assert all(s["text"]["text"][0].isdigit() for s in sections)  # each starts at a paragraph
    rejoined = " ".join(" ".join(s["text"]["text"].split()) for s in sections)
    assert rejoined == " ".join(to_mrkdwn(text).split())


def test_a_huge_answer_becomes_several_valid_messages_with_buttons_last() -> None:
    text = "\n".join(f"line {n} " + "ab " * 300 for n in range(200))  # ~180,000 characters
    messages = render_reply(answer_reply(text))
    assert len(messages) > 1
    for message in messages:
        accepted_by_slack(message)
        assert len(message.blocks) <= MESSAGE_BLOCK_LIMIT
    assert [b["type"] for b in messages[-1].blocks][-2:] == ["context", "actions"]
    assert all(b["type"] == "section" for m in messages[:-1] for b in m.blocks)
    shown = "".join(b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section")
    assert shown.count("line ") == 200  # nothing lost


def test_a_long_line_is_cut_at_a_space_and_never_inside_a_link_or_entity() -> None:
    text = ("a&b " * 500) + "[label with spaces](https://example.com/x) " + ("c<d " * 500)
    pieces = split_text(to_mrkdwn(text), limit=SECTION_TEXT_LIMIT)
    assert all(len(p) <= SECTION_TEXT_LIMIT for p in pieces)
    joined = " ".join(pieces)
    assert "<https://example.com/x|label with spaces>" in joined
    for piece in pieces:
        assert not re.search(r"&(a|am|amp|l|lt)?$", piece), piece[-10:]


def test_a_split_code_block_is_closed_and_reopened() -> None:
    text = "Intro\n```\n" + "\n".join(f"print({n})  # " + "x" * 80 for n in range(80)) + "\n```\nOutro"
    pieces = split_text(to_mrkdwn(text))
    assert len(pieces) >= 3
    for piece in pieces:
        assert piece.count("```") % 2 == 0, piece[:40]
        assert len(piece) <= SECTION_TEXT_LIMIT
    assert pieces[0].startswith("Intro\n```") and pieces[-1].endswith("```\nOutro")


def test_render_single_shortens_to_one_message_and_keeps_the_buttons() -> None:
    text = "\n".join("ab " * 600 for _ in range(100))
    message = render_single(answer_reply(text))
    accepted_by_slack(message)
    assert message.blocks[-1]["type"] == "actions"
    assert message.blocks[-3]["text"]["text"].endswith("…")  # the last section, before sources


def test_plain_text_fallback_when_slack_refuses_blocks() -> None:
    [message] = render_reply(answer_reply())
    assert plain_text(message) == SlackMessage(text=message.text, blocks=[])


def test_fake_slack_would_refuse_what_we_must_not_send() -> None:
    """Guard for the guard: the validator used above does reject oversize sections."""
    with pytest.raises(SlackError):
        validate_blocks([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}])


# -- inbound ----------------------------------------------------------------------------------


def test_slack_markup_becomes_plain_text_without_the_bot() -> None:
    text = (
        "<@U0BOT> hi <@W1|bob>, see <https://x.example/a?b=1&amp;c=2|the docs> &lt;3 "
        "<!channel> <#C1|general> <!subteam^S1|@team> <https://plain.example> <mailto:a@b.c|a@b.c>"
    )
    assert plain_from_slack(text, "U0BOT") == (
        "hi @bob, see the docs (https://x.example/a?b=1&c=2) <3 @channel #general @team "
        "https://plain.example a@b.c"
    )
    assert mentions_user(text, "U0BOT") and not mentions_user(text, "U0OTHER")
    assert plain_from_slack("<@U0BOT|supportbot>   how\n  do I?", "U0BOT") == "how\ndo I?"


def test_command_arguments_keep_people_as_ids_with_their_names() -> None:
    text = "assign 4 <@W111|ann> &amp; <https://x.example|docs>"
    assert (
        plain_from_slack(text, "U0BOT", keep_user_mentions=True)
        == "assign 4 <@W111|ann> & docs (https://x.example)"
    )


def test_iter_strings_finds_every_string() -> None:
    assert sorted(iter_strings({"a": ["x", {"b": "y"}], "c": 3})) == ["x", "y"]
