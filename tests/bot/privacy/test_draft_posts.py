"""Posting a draft (draft mode) when the platform fails the post: a refusal (the platform says
it made none: PostRefused) puts the draft back to pending for the next press; a failure that
may have been applied (a timeout, a 5xx: the post may be out) keeps it posted, so a second
press never shows the answer twice."""

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
    raises though the message is out, as Slack's does (SlackCallError, "TimeoutError")."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.lose = False

    async def send(self, reply: Reply) -> Posted:
        posted = await super().send(reply)
        if self.lose and reply.kind == ReplyKind.ANSWER:
            self.lose = False
            raise PlatformError("chat.postMessage failed: TimeoutError")
        return posted


async def test_a_post_whose_answer_was_lost_stays_posted_and_is_not_posted_again(
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
    [(status,)] = rt.state.db.execute("select status from reply_drafts").fetchall()
    assert status == "posted"  # it may be out: never reopened for a second post
    await rt.bot.on_action(press("p2"), channel)
    answers = [
        r for _, r in channel.posted if r.kind == ReplyKind.ANSWER and r.conversation.channel == "C111"
    ]
    assert len(answers) == 1
