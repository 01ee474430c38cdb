"""Discord rendering, without Discord: mention neutralisation, allowed mentions, long answers
split at Discord's limits, the sources embed, buttons and their custom ids, names and links.

Every rendered message is checked against the fake Discord's request validation (the
vendored OpenAPI schema plus Discord's own rules), so a layout these tests accept is one
`POST /channels/{id}/messages` accepts too.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from adapters.discord.render import (
    EMBED_DESCRIPTION_LIMIT,
    STYLE_PRIMARY,
    STYLE_SECONDARY,
    TAG_ANSWERED,
    TAG_NEEDS_STAFF,
    TAG_RESOLVED,
    ZWSP,
    RenderedMessage,
    allowed_mentions_payload,
    custom_id,
    forum_question,
    forum_tag_for,
    jump_url,
    neutralise,
    normalise_tag_name,
    parse_custom_id,
    render_edit,
    render_reply,
    sources_embed,
    strip_bot_mention,
    thread_name,
)
from adapters.discord.split import CONTENT_LIMIT
from bot.types import (
    ActionKind,
    Button,
    ButtonStyle,
    Citation,
    ConversationRef,
    Mention,
    MentionKind,
    Reply,
    ReplyKind,
)
from tests.fakes.discord_server import FakeDiscord, OpenAPISpec

HERE = ConversationRef(platform="discord", workspace="111", channel="222", thread="333")
IN_CHANNEL = ConversationRef(platform="discord", workspace="111", channel="222")
STAFF_ROLE = "444444444444444444"
STAFF_USER = "555555555555555555"
# A live mention: @everyone/@here or <@id>/<@!id>/<@&id> without the defusing zero-width space.
LIVE_MENTION = re.compile(r"(?<!\u200b)@(everyone|here)|<@[!&]?\d+>", re.IGNORECASE)

_SPEC = OpenAPISpec.load()
_FAKE = FakeDiscord()


def wire_body(message: RenderedMessage) -> dict[str, Any]:
    """The JSON discord.py sends for a rendered message (buttons in one action row each five)."""
    body: dict[str, Any] = {
        "content": message.content,
        "allowed_mentions": allowed_mentions_payload(message),
    }
    if message.embeds:
        body["embeds"] = list(message.embeds)
    if message.buttons:
        buttons = [
            {"type": 2, "style": b.style, "label": b.label, "custom_id": b.custom_id} for b in message.buttons
        ]
        body["components"] = [
            {"type": 1, "components": buttons[i : i + 5]} for i in range(0, len(buttons), 5)
        ]
    return body


def accepted_by_discord(message: RenderedMessage) -> None:
    body = wire_body(message)
    schema = _SPEC.request_schema("/channels/{channel_id}/messages", "POST")
    assert schema is not None
    assert _SPEC.validate(schema, body) == []
    assert _FAKE._message_rules(body) == []


def answer(text: str = "Use the *Forgot password* link.", **kw: Any) -> Reply:
    return Reply(conversation=HERE, text=text, kind=ReplyKind.ANSWER, **kw)


# -- mention safety ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "@everyone look",
        "hey @here",
        "@EVERYONE shouting",
        "ping <@123456789012345678>",
        "nick <@!123456789012345678>",
        "role <@&123456789012345678>",
        "mail me at someone@everyone.example",
    ],
)
def test_neutralise_defuses_every_mention_token(text: str) -> None:
    safe = neutralise(text)
    assert not LIVE_MENTION.search(safe)
    assert safe.replace(ZWSP, "") == text  # reads exactly the same


def test_neutralise_leaves_channel_links_and_plain_at_signs() -> None:
    text = "see <#123456789012345678> or email ops@example.com"
    assert neutralise(text) == text


def test_strip_bot_mention_removes_user_nick_and_managed_role_mentions() -> None:
    assert strip_bot_mention("<@42> how do I  reset?", 42) == "how do I reset?"
    assert strip_bot_mention("<@!42> hi", 42) == "hi"
    assert strip_bot_mention("<@&7> help <@99>", 42, 7) == "help <@99>"


def test_only_the_core_mentions_ping_and_allowed_mentions_names_exactly_them() -> None:
    reply = Reply(
        conversation=HERE,
        text="@everyone <@&999999999999999999> asked for a person",
        kind=ReplyKind.ESCALATION,
        mentions=(
            Mention(kind=MentionKind.ROLE, id=STAFF_ROLE),
            Mention(kind=MentionKind.USER, id=STAFF_USER),
            Mention(kind=MentionKind.GROUP, id="S-SLACK-GROUP"),  # not Discord: ignored
        ),
    )
    [message] = render_reply(reply)
    assert message.content.startswith(f"<@&{STAFF_ROLE}> <@{STAFF_USER}>\n")
    live = LIVE_MENTION.findall(message.content)
    assert len(live) == 2  # only the two pings the core asked for (findall keeps groups)
    assert f"@{ZWSP}everyone" in message.content and f"<@{ZWSP}&999999999999999999>" in message.content
    assert allowed_mentions_payload(message) == {
        "parse": [],
        "users": [STAFF_USER],
        "roles": [STAFF_ROLE],
    }
    accepted_by_discord(message)


def test_a_reply_without_mentions_allows_none() -> None:
    [message] = render_reply(answer("@here hello <@123456789012345678>"))
    assert allowed_mentions_payload(message) == {"parse": []}
    assert not LIVE_MENTION.search(message.content)


def test_an_ephemeral_reply_pings_nobody() -> None:
    reply = Reply(
        conversation=HERE,
        text="only you",
        mentions=(Mention(kind=MentionKind.ROLE, id=STAFF_ROLE),),
        ephemeral_to="1",
    )
    [message] = render_reply(reply)
    assert message.content == "only you" and allowed_mentions_payload(message) == {"parse": []}


def test_a_long_answer_becomes_several_messages_with_sources_and_buttons_on_the_last() -> None:
    reply = answer(
        "\n\n".join("Step: " + "do the thing " * 30 for _ in range(20)),
        citations=(Citation(path="a.md", title="A", heading="H", url="https://docs.example.com/a"),),
        buttons=(Button(action=ActionKind.HELPFUL, label="Helpful", value="7"),),
    )
    messages = render_reply(reply)
    assert len(messages) >= 3
    assert all(not m.embeds and not m.buttons for m in messages[:-1])
    assert messages[-1].embeds and messages[-1].buttons
    for message in messages:
        accepted_by_discord(message)


# -- sources, buttons, links ------------------------------------------------------------------


def test_sources_are_an_embed_with_links_when_there_is_a_url() -> None:
    embed = sources_embed(
        (
            Citation(
                path="slack-setup.md",
                title="Connecting Slack",
                heading="Tokens",
                url="https://d.example/slack",
            ),
            Citation(path="refunds.md", title="Refund [policy]", heading="Refund [policy]"),
        )
    )
    assert embed is not None and embed["title"] == "Sources"
    lines = embed["description"].splitlines()
    assert lines[0] == "1. [Connecting Slack › Tokens](https://d.example/slack)"
    assert lines[1] == "2. Refund [policy] (`refunds.md`)"


def test_sources_in_korean_and_document_mentions_defused() -> None:
    embed = sources_embed(
        (Citation(path="faq-ko.md", title="@everyone 자주 묻는 질문", heading=""),), language="ko"
    )
    assert embed is not None and embed["title"] == "출처"
    assert f"@{ZWSP}everyone" in embed["description"]


def test_many_long_sources_stay_within_the_embed_limits() -> None:
    citations = tuple(
        Citation(path=f"doc{n}.md", title="T" * 300, heading="H" * 300, url=f"https://e.example/{n}")
        for n in range(10)
    )
    embed = sources_embed(citations)
    assert embed is not None and len(embed["description"]) <= EMBED_DESCRIPTION_LIMIT
    [message] = render_reply(answer(citations=citations))
    accepted_by_discord(message)


def test_buttons_have_stable_custom_ids_that_parse_back() -> None:
    reply = answer(
        buttons=(
            Button(action=ActionKind.HELPFUL, label="Helpful", value="12", style=ButtonStyle.PRIMARY),
            Button(action=ActionKind.TALK_TO_HUMAN, label="Talk to a person", value="msg:987"),
            Button(action=ActionKind.CLAIM, label="x" * 120, value="3"),
        )
    )
    [message] = render_reply(reply)
    assert [b.custom_id for b in message.buttons] == [
        "supportbot:helpful:12",
        "supportbot:talk_to_human:msg:987",
        "supportbot:claim:3",
    ]
    assert [b.style for b in message.buttons] == [STYLE_PRIMARY, STYLE_SECONDARY, STYLE_SECONDARY]
    assert len(message.buttons[2].label) == 80
    assert parse_custom_id("supportbot:talk_to_human:msg:987") == (ActionKind.TALK_TO_HUMAN, "msg:987")
    assert parse_custom_id(custom_id(ActionKind.RESOLVE, "5")) == (ActionKind.RESOLVE, "5")
    assert parse_custom_id("supportbot:explode:1") is None
    assert parse_custom_id("someone-else:helpful:1") is None
    accepted_by_discord(message)


def test_a_triage_card_links_to_the_conversation() -> None:
    card = Reply(
        conversation=IN_CHANNEL,
        text="**Ticket #4** · open",
        kind=ReplyKind.TICKET,
        refers_to=HERE,
    )
    [message] = render_reply(card)
    assert "(https://discord.com/channels/111/333)" in message.content
    assert jump_url(ConversationRef(platform="discord", workspace="dm", channel="9")) == (
        "https://discord.com/channels/@me/9"
    )


def test_replies_reference_the_question_except_in_the_thread_started_from_it() -> None:
    """A reply names its question (a replay finds its post by it), except in the thread
    started from the question: the question is that thread's starter, in the parent channel."""
    [in_channel] = render_reply(Reply(conversation=IN_CHANNEL, text="x", in_reply_to="777"))
    [in_thread] = render_reply(Reply(conversation=HERE, text="x", in_reply_to="777"))
    [own_thread] = render_reply(Reply(conversation=IN_CHANNEL.in_thread("777"), text="x", in_reply_to="777"))
    assert in_channel.reference == 777 and in_thread.reference == 777 and own_thread.reference is None


def test_an_edit_is_one_message_that_fits() -> None:
    message = render_edit(answer("y" * 5000))
    assert len(message.content) == CONTENT_LIMIT and message.content.endswith("…")
    accepted_by_discord(message)


# -- names and forum posts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("How do I reset my password?", "How do I reset my password?"),
        ("<@&123456789012345678> @everyone **why** does\nsync fail", "everyone why does sync fail"),
        ("   ", "Question"),
        ("<@123456789012345678>", "Question"),
    ],
)
def test_thread_names_are_clean_single_lines(title: str, name: str) -> None:
    assert thread_name(title) == name


def test_thread_names_fit_discords_limit() -> None:
    name = thread_name("why " * 60)
    assert 1 <= len(name) <= 100 and name.endswith("…")


def test_a_forum_post_question_is_its_title_and_body() -> None:
    assert (
        forum_question("VPN drops", "Every hour, since Monday.") == "VPN drops\n\nEvery hour, since Monday."
    )
    assert forum_question("How do I reset?", "") == "How do I reset?"
    assert forum_question("Reset", "Reset my password please") == "Reset my password please"


def test_forum_tags_follow_answers_escalations_and_resolution() -> None:
    claim = Button(action=ActionKind.CLAIM, label="Claim", value="1")
    escalation = Reply(conversation=HERE, text="x", kind=ReplyKind.ESCALATION, buttons=(claim,))
    assert forum_tag_for(answer(), edited=False) == TAG_ANSWERED
    assert forum_tag_for(escalation, edited=False) == TAG_NEEDS_STAFF
    closed = Reply(conversation=HERE, text="x\n_resolved by Bob_", kind=ReplyKind.ESCALATION)
    assert forum_tag_for(closed, edited=True) == TAG_RESOLVED
    assert forum_tag_for(closed, edited=False) is None  # "already escalated": no change
    assert forum_tag_for(Reply(conversation=HERE, text="hi"), edited=False) is None
    assert normalise_tag_name("Needs-Staff") == normalise_tag_name("needs_staff") == TAG_NEEDS_STAFF
