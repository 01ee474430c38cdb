"""Posting a draft (draft mode) when the platform fails the post: a refusal puts the draft back
to pending for the next press; a post that went out though its answer was lost (a timeout)
is found by the platform's look (FindsReplies) and kept, not posted a second time."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.errors import PlatformError
from bot.types import (
    ActionEvent,
    ActionKind,
    Author,
    ConversationRef,
    InboundMessage,
    Posted,
    Reply,
    ReplyKind,
    Visibility,
)
from tests.fakes.answerers import ConfidentExtractive

TOML = """
[slack]
staff_groups = ["S111"]
triage_channel = "C222"
[slack.channels.C111]
mode = "draft"
"""
STAFF = Author(id="U-STAFF", name="Sam", roles=frozenset({"S111"}))
QUESTION = InboundMessage(
    id="1700000000.000100",
    conversation=ConversationRef(platform="slack", workspace="T1", channel="C111"),
    author=Author(id="U-ASK", name="Ann"),
    text="How long does a refund take to arrive?",
    addressed=False,
    visibility=Visibility.INTERNAL,
    sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
)


class LosesTheAnswer(ConsoleChannel):
    """The answer's post reaches the platform, but its answer is lost (a timeout): the channel
    raises though the message is out. It can look for its replies, as Slack's and Discord's do."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.lose = False

    async def send(self, reply: Reply) -> Posted:
        posted = await super().send(reply)
        if self.lose and reply.kind == ReplyKind.ANSWER:
            self.lose = False
            raise PlatformError("chat.postMessage failed: TimeoutError")
        return posted

    async def find_reply(self, message: InboundMessage) -> Posted | None:
        found = [p for p, r in self.posted if r.in_reply_to == message.id and r.kind == ReplyKind.ANSWER]
        return found[-1] if found else None


async def test_a_post_out_though_its_answer_was_lost_is_kept_not_posted_again(
    make_runtime: Callable[..., Runtime],
) -> None:
    rt = make_runtime(TOML, answerer=ConfidentExtractive())
    channel = LosesTheAnswer()
    await rt.bot.on_message(QUESTION, channel)
    [card] = [r for _, r in channel.posted if r.conversation.channel == "C222"]
    [button] = [b for b in card.buttons if b.action == ActionKind.POST_DRAFT]

    def press(id: str) -> ActionEvent:
        return ActionEvent(
            id=id,
            conversation=card.conversation,
            actor=STAFF,
            action=ActionKind.POST_DRAFT,
            value=button.value,
            visibility=Visibility.INTERNAL,
        )

    channel.lose = True
    await rt.bot.on_action(press("p1"), channel)
    [(status, message_id)] = rt.state.db.execute(
        "select status, posted_message_id from reply_drafts"
    ).fetchall()
    assert status == "posted" and message_id  # found out, and kept as the post
    await rt.bot.on_action(press("p2"), channel)
    answers = [
        r for _, r in channel.posted if r.kind == ReplyKind.ANSWER and r.conversation.channel == "C111"
    ]
    assert len(answers) == 1
