"""Behaviours that once survived mutation testing: each test here fails when its behaviour is broken.

A guest's outsider flag through a crash replay, staff asking the bot in its own thread, the
clock pruning the inbox, per-platform ticket and draft lists, and the in-process guard
that keeps a replay from taking a message that is being answered right now.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.inbox import serialise_message
from bot.types import (
    Author,
    Command,
    ConversationRef,
    InboundMessage,
    Outcome,
    ReplyKind,
    Visibility,
)
from tests.fakes.clock import FakeClock

TOML = """
[slack]
staff_users = ["U-STAFF"]
admin_users = ["U-ADMIN"]
[discord]
staff_users = ["D-STAFF"]
admin_users = ["D-ADMIN"]
"""

ASKER = Author(id="U-ASK", name="Ann")
_ids = itertools.count(1)


def message(
    text: str,
    *,
    platform: str = "slack",
    channel: str = "C-GENERAL",
    thread: str | None = None,
    author: Author = ASKER,
    addressed: bool = True,
    visibility: Visibility = Visibility.INTERNAL,
    id: str | None = None,
) -> InboundMessage:
    return InboundMessage(
        id=id or f"inv{next(_ids)}",
        conversation=ConversationRef(platform=platform, workspace="W1", channel=channel, thread=thread),
        author=author,
        text=text,
        addressed=addressed,
        visibility=visibility,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )


def command(name: str, invoker: Author, *, platform: str = "slack", args: str = "") -> Command:
    return Command(
        id=f"cmd{next(_ids)}",
        name=name,
        args=args,
        invoker=invoker,
        conversation=ConversationRef(platform=platform, workspace="W1", channel="C-GENERAL"),
        visibility=Visibility.INTERNAL,
    )


def texts(channel: ConsoleChannel) -> list[str]:
    return [reply.text for _, reply in channel.posted]


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


async def test_a_guests_outsider_flag_survives_a_crash_replay(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    guest = Author(id="W-GUEST", name="Gus", external=True)
    dm = message(
        "When does the database failover password rotation happen?",
        channel="D1",
        author=guest,
        visibility=Visibility.DIRECT,
        id="guest-1",
    )
    dying = make_runtime(TOML)
    # what on_message stores before answering; then the process dies
    assert dying.state.claim_event("slack:msg:guest-1", "slack", serialise_message(dm), datetime.now(UTC))
    restarted = make_runtime(TOML)
    assert await restarted.bot.replay_pending("slack", channel) == 1
    said = " ".join(texts(channel))
    cited = [c.path for _, reply in channel.posted for c in reply.citations]
    # an outsider's DM sees public documents only: the internal runbook must not leak after a replay
    assert "Tuesday" not in said and "internal/oncall.md" not in cited


async def test_staff_who_mention_the_bot_in_its_thread_get_an_answer(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    rt = make_runtime(TOML)
    await rt.bot.on_message(message("How do I reset my password?"), channel)
    thread = channel.posted[0][1].conversation
    staff = Author(id="U-STAFF", name="Sam")
    asked = message(
        "How long does a refund take?",
        channel=thread.channel,
        thread=thread.thread,
        author=staff,
        addressed=True,
    )
    assert await rt.bot.on_message(asked, channel) == Outcome.ANSWERED
    assert channel.posted[-1][1].kind == ReplyKind.ANSWER
    # an unaddressed staff message in the same thread is a takeover, not a question
    chat = message(
        "I'll take it from here", channel=thread.channel, thread=thread.thread, author=staff, addressed=False
    )
    assert await rt.bot.on_message(chat, channel) == Outcome.RECORDED


async def test_the_clock_tick_forgets_handled_events_after_a_week(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    rt = make_runtime(TOML)
    old = message("How do I reset my password?", id="old-1")
    assert await rt.bot.on_message(old, channel) == Outcome.ANSWERED
    assert await rt.bot.on_message(old, channel) == Outcome.DUPLICATE
    clock.advance(days=8)
    await rt.bot.tick({"slack": channel})
    await rt.bot.settle()
    # the key is gone, so the store would take the same id again (platforms retry within minutes)
    assert rt.state.claim_event("slack:msg:old-1", "slack", "", clock.now())
    recent = message("How long does a refund take?", id="recent-1")
    await rt.bot.on_message(recent, channel)
    clock.advance(days=1)
    await rt.bot.tick({"slack": channel})
    await rt.bot.settle()
    assert not rt.state.claim_event("slack:msg:recent-1", "slack", "", clock.now())


async def test_ticket_and_draft_lists_show_only_the_invokers_platform(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    rt = make_runtime(TOML)
    for platform in ("slack", "discord"):
        ask = message(f"I want to talk to a human about my {platform} invoice", platform=platform)
        assert await rt.bot.on_message(ask, channel) == Outcome.ESCALATED
    tickets = {t.conversation.platform: t for t in rt.state.tickets(statuses=None, platform=None)}
    assert set(tickets) == {"slack", "discord"}
    for platform, ticket in tickets.items():
        rt.state.create_draft(
            ticket_id=ticket.id,
            title=f"{platform} invoices",
            question=f"{platform} invoice question",
            answer="Send it from the billing page.",
            visibility="public",
            at=clock.now(),
        )

    await rt.bot.on_command(command("tickets", Author(id="U-STAFF")), channel)
    listing = texts(channel)[-1]
    assert f"#{tickets['slack'].id}" in listing and f"#{tickets['discord'].id}" not in listing
    await rt.bot.on_command(command("learn", Author(id="D-ADMIN"), platform="discord"), channel)
    drafts = texts(channel)[-1]
    assert "discord invoices" in drafts and "slack invoices" not in drafts


class GatedChannel(ConsoleChannel):
    """Stops an answer half-way (in open_thread) until the test lets it go on."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.reached = asyncio.Event()
        self.go_on = asyncio.Event()

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        self.reached.set()
        await self.go_on.wait()
        return await super().open_thread(message, title)


async def test_a_replay_never_takes_a_message_that_is_being_answered(
    make_runtime: Callable[..., Runtime],
) -> None:
    rt = make_runtime(TOML)
    channel = GatedChannel()
    live = asyncio.create_task(
        rt.bot.on_message(message("How do I reset my password?", id="live-1"), channel)
    )
    await asyncio.wait_for(channel.reached.wait(), 5)
    # the platform reconnected meanwhile: its replay sees the event pending in the inbox
    assert rt.state.pending_events("slack", datetime.now(UTC) + timedelta(seconds=1))
    assert await rt.bot.replay_pending("slack", channel) == 0
    channel.go_on.set()
    assert await asyncio.wait_for(live, 5) == Outcome.ANSWERED
    answers = [reply for _, reply in channel.posted if reply.kind == ReplyKind.ANSWER]
    assert len(answers) == 1


async def test_an_edited_question_gets_its_answer_replaced_in_place(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    rt = make_runtime(TOML)
    first = message("How long does a refund take?", id="q-edit")
    assert await rt.bot.on_message(first, channel) == Outcome.ANSWERED
    [(posted, answer)] = channel.posted
    assert "five to seven business days" in answer.text

    def edit(text: str, n: int, author: Author = ASKER) -> InboundMessage:
        return replace(message(text, author=author, id=f"q-edit:edited:{n}"), edited=True, edit_of="q-edit")

    assert await rt.bot.on_message(edit("How do I reset my password?", 1), channel) == Outcome.ANSWERED
    assert len(channel.posted) == 1  # no second message: the answer was replaced
    [(where, revised)] = channel.edits
    assert where.message_id == posted.message_id and "Forgot password" in revised.text
    assert await rt.bot.on_message(edit("How do I reset my password?", 1), channel) == Outcome.DUPLICATE
    # someone else's edit, or one that changes nothing, leaves the answer alone
    assert (
        await rt.bot.on_message(edit("What about refunds?", 2, Author(id="U-OTHER")), channel)
        == Outcome.IGNORED
    )
    assert await rt.bot.on_message(edit("How do I reset my password?", 3), channel) == Outcome.IGNORED
    # a later edit revises the newest answer, in the same message again
    assert await rt.bot.on_message(edit("How long does a refund take?", 4), channel) == Outcome.ANSWERED
    assert len(channel.posted) == 1 and len(channel.edits) == 2
    assert channel.edits[-1][0].message_id == posted.message_id


async def test_an_edit_made_while_the_question_is_still_being_answered_revises_that_answer(
    make_runtime: Callable[..., Runtime],
) -> None:
    """The asker fixes their question while its answer is still being written (a slow model):
    there is no answer to revise yet, so the edit waits for it, then replaces it in place,
    rather than being judged an edit of a question never answered and dropped."""
    rt = make_runtime(TOML)
    channel = GatedChannel()  # the first answer stalls half-way
    first = message("How long does a refund take?", id="q-slow")
    answering = asyncio.create_task(rt.bot.on_message(first, channel))
    await asyncio.wait_for(channel.reached.wait(), 5)
    edit = replace(
        message("How do I reset my password?", id="q-slow:edited:1"), edited=True, edit_of="q-slow"
    )
    editing = asyncio.create_task(rt.bot.on_message(edit, channel))
    await asyncio.sleep(0.2)
    assert not editing.done()  # waits for the answer it revises
    channel.go_on.set()
    assert await asyncio.wait_for(answering, 5) == Outcome.ANSWERED
    assert await asyncio.wait_for(editing, 5) == Outcome.ANSWERED
    [(posted, answer)] = [(p, r) for p, r in channel.posted if r.kind == ReplyKind.ANSWER]
    assert "five to seven business days" in answer.text
    assert [
        r.text for p, r in channel.edits if p.message_id == posted.message_id and "Forgot password" in r.text
    ]


async def test_of_two_edits_made_while_the_question_is_answered_only_the_last_revises_it(
    make_runtime: Callable[..., Runtime],
) -> None:
    rt = make_runtime(TOML)
    channel = GatedChannel()
    answering = asyncio.create_task(
        rt.bot.on_message(message("How do I reset my password?", id="q-two"), channel)
    )
    await asyncio.wait_for(channel.reached.wait(), 5)

    def edit(text: str, n: int) -> InboundMessage:
        made = datetime(2026, 11, 30, 10, n, tzinfo=UTC)
        return replace(message(text, id=f"q-two:edited:{n}"), edited=True, edit_of="q-two", edited_at=made)

    # the newer edit arrives first (the older one was a platform's retry): newest by when made
    newer = asyncio.create_task(rt.bot.on_message(edit("How long does a refund take?", 2), channel))
    await asyncio.sleep(0)
    older = asyncio.create_task(rt.bot.on_message(edit("What about refunds?", 1), channel))
    await asyncio.sleep(0.2)
    channel.go_on.set()
    assert await asyncio.wait_for(answering, 5) == Outcome.ANSWERED
    assert await asyncio.wait_for(older, 5) == Outcome.IGNORED  # a newer edit came: nothing to revise
    assert await asyncio.wait_for(newer, 5) == Outcome.ANSWERED
    assert len(channel.edits) == 1 and "five to seven business days" in channel.edits[0][1].text


async def test_a_replay_of_an_older_edit_does_not_undo_the_newer_ones_revision(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    """An older edit left unfinished (its handling failed before it did anything, and it is
    handed to the clock's replay) comes back after a newer edit revised the answer: it is
    outdated, and the answer stays the newer one's."""
    rt = make_runtime(TOML)
    assert (
        await rt.bot.on_message(message("How do I reset my password?", id="q-late"), channel)
        == Outcome.ANSWERED
    )

    def edit(text: str, n: int) -> InboundMessage:
        made = datetime(2026, 11, 30, 10, n, tzinfo=UTC)
        return replace(message(text, id=f"q-late:edited:{n}"), edited=True, edit_of="q-late", edited_at=made)

    older = edit("How do I reset my password again?", 1)
    assert rt.state.claim_event("slack:msg:q-late:edited:1", "slack", serialise_message(older), clock.now())
    assert await rt.bot.on_message(edit("How long does a refund take?", 2), channel) == Outcome.ANSWERED
    revised = channel.edits[-1][1].text
    assert "five to seven business days" in revised
    clock.advance(seconds=60)  # the older edit's claim is past its replay lease
    await rt.bot.tick({"slack": channel})
    await rt.bot.settle()
    assert channel.edits[-1][1].text == revised  # not put back to the older text
    assert not rt.state.pending_events("slack", clock.now())


async def test_a_replayed_edit_stored_without_its_time_does_not_undo_a_newer_edit(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock
) -> None:
    """An edit left unfinished by a version that did not store when edits were made counts as
    the oldest, not as made now: replayed after a newer edit, it revises nothing."""
    rt = make_runtime(TOML)
    assert (
        await rt.bot.on_message(message("How do I reset my password?", id="q-up"), channel)
        == Outcome.ANSWERED
    )

    def edit(text: str, n: int) -> InboundMessage:
        made = clock.now() + timedelta(minutes=n)  # after the question was asked, as edits are
        return replace(message(text, id=f"q-up:edited:{n}"), edited=True, edit_of="q-up", edited_at=made)

    stored = json.loads(serialise_message(edit("How do I reset my password again?", 1)))
    del stored["edited_at"]  # as the version before edits had a time stored it
    assert rt.state.claim_event("slack:msg:q-up:edited:1", "slack", json.dumps(stored), clock.now())
    assert await rt.bot.on_message(edit("How long does a refund take?", 2), channel) == Outcome.ANSWERED
    revised = channel.edits[-1][1].text
    assert "five to seven business days" in revised
    clock.advance(minutes=5)  # the replay runs later than either edit was made
    await rt.bot.tick({"slack": channel})
    await rt.bot.settle()
    assert channel.edits[-1][1].text == revised


async def test_an_edit_of_a_message_the_bot_never_answered_is_left_alone(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel
) -> None:
    rt = make_runtime(TOML)
    edited = replace(
        message("How do I reset my password?", id="never:edited:1"), edited=True, edit_of="never"
    )
    assert await rt.bot.on_message(edited, channel) == Outcome.IGNORED
    assert channel.posted == [] and channel.edits == []


async def test_the_clock_does_not_wait_for_the_replays_it_starts(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    dying = make_runtime(TOML)
    lost = message("How do I reset my password?", id="left-behind")
    assert dying.state.claim_event("slack:msg:left-behind", "slack", serialise_message(lost), clock.now())
    clock.advance(seconds=1)
    rt = make_runtime(TOML)
    channel = GatedChannel()  # the replayed answer stalls half-way
    await asyncio.wait_for(rt.bot.tick({"slack": channel}), 5)  # returns: SLA reminders are not held up
    await asyncio.wait_for(channel.reached.wait(), 5)
    assert [reply for _, reply in channel.posted if reply.kind == ReplyKind.ANSWER] == []
    channel.go_on.set()
    await rt.bot.settle()
    assert len([reply for _, reply in channel.posted if reply.kind == ReplyKind.ANSWER]) == 1
