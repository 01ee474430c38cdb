"""Replays of a message that opened a ticket (a hand-off, an abstention, an apology).

The replay finishes the ticket opened for that message, whatever became of it since, and
nothing else: another ticket in the thread or the channel is not this message's, and its
half-written answer is then finished in place. Each ticket's note and staff's card are out
once, whatever step the process dies at (bot/escalation/opening.py `complete`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from bot import faults
from bot.app import Runtime
from bot.types import Author, ConversationRef, InboundMessage, Outcome, Posted, Reply, ReplyKind
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401  (fixtures)
from tests.bot.test_exactly_once import TRIAGE, Platform, question
from tests.fakes.clock import FakeClock
from tests.fakes.openai_server import FakeOpenAI

STAFF = Author(id="U-STAFF", name="Sam")
ABSTAINS = "Refunds are handled by the billing team, who will look at it."  # cites nothing
HUMAN = "I want to talk to a human about my invoice"


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        server.default_reply = "Refunds go back to the original payment method within five to seven days [1]."
        yield server


def with_model(model: FakeOpenAI) -> tuple[str, dict[str, str]]:
    return TRIAGE + "[llm]\nmax_retries = 0\n", {
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_API_KEY": model.api_key,
    }


def notes(platform: Platform) -> list[str]:
    return [text for kind, text in platform.final().values() if kind == ReplyKind.ESCALATION]


@pytest.mark.parametrize("how", ["resolved", "closed"])
async def test_a_hand_off_whose_ticket_was_done_before_the_replay_is_not_opened_again(
    make_runtime: Callable[..., Runtime], clock: FakeClock, how: str
) -> None:
    platform = Platform()
    with faults.crash_at("event.handled"), pytest.raises(faults.Crash):
        await make_runtime(TRIAGE).bot.on_message(question(HUMAN, f"done-{how}"), platform)
    clock.advance(minutes=5)
    restarted = make_runtime(TRIAGE)
    [ticket] = restarted.state.tickets()
    escalations = restarted.bot.escalations
    if how == "resolved":  # staff resolved it from the card while the bot was down
        done = await escalations.resolve(ticket.id, STAFF, platform, ticket.conversation)
    else:  # the asker said they were all set
        done = await escalations.close_by_asker(ticket, Author(id="U-ASK", name="Ann"), platform)
    assert done.changed
    assert await restarted.bot.replay_pending("slack", platform) == 1
    assert [t.id for t in restarted.state.tickets()] == [ticket.id]
    assert len(notes(platform)) == 1 and len(platform.cards()) == 1


async def test_an_abstention_whose_ticket_was_resolved_before_the_replay_is_not_asked_again(
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    model: FakeOpenAI,
) -> None:
    model.default_reply = ABSTAINS
    toml, env = with_model(model)
    platform = Platform()
    with faults.crash_at("event.handled"), pytest.raises(faults.Crash):
        await make_runtime(toml, env).bot.on_message(question("How long does a refund take?", "ab"), platform)
    asked = len(model.chat_requests)
    clock.advance(minutes=5)
    restarted = make_runtime(toml, env)
    [ticket] = restarted.state.tickets()
    assert (await restarted.bot.escalations.resolve(ticket.id, STAFF, platform, ticket.conversation)).changed
    assert await restarted.bot.replay_pending("slack", platform) == 1
    assert len(model.chat_requests) == asked  # the model is not asked again
    assert len(restarted.state.tickets()) == 1 and len(platform.cards()) == 1


async def test_a_follow_up_killed_mid_answer_in_a_thread_with_a_ticket_is_finished_by_the_replay(
    make_runtime: Callable[..., Runtime],
    model: FakeOpenAI,
    clock: FakeClock,
) -> None:
    """The thread's ticket is the first question's: the follow-up's post is its half-written
    answer, which the replay finishes."""
    toml, env = with_model(model)
    platform = Platform()
    first = make_runtime(toml, env)
    assert await first.bot.on_message(question(HUMAN, "root"), platform) == Outcome.ESCALATED
    follow = replace(
        question("How long does a refund take?", "follow"),
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C1", thread="root"),
    )
    with faults.crash_at("answer.noted"), pytest.raises(faults.Crash):
        await first.bot.on_message(follow, platform)
    clock.advance(seconds=1)
    assert await make_runtime(toml, env).bot.replay_pending("slack", platform) == 1
    assert platform.leftovers() == [] and len(platform.answers()) == 1, platform.final()


class NoThreads(Platform):
    """A channel the bot may not open threads in: every asker's replies share the channel."""

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        return message.conversation

    async def find_reply(self, message: InboundMessage) -> Posted | None:
        return None


class NoThreadsDiesPostingTheFirstNote(NoThreads):
    def __init__(self) -> None:
        super().__init__()
        self.dies = True

    async def send(self, reply: Reply) -> Posted:
        if self.dies and reply.kind == ReplyKind.ESCALATION:
            self.dies = False
            raise faults.Crash("posting the escalation note")
        return await super().send(reply)


@pytest.mark.parametrize("ann_told", [True, False])
async def test_another_askers_ticket_in_the_channel_is_not_taken_for_a_replayed_answer(
    make_runtime: Callable[..., Runtime],
    model: FakeOpenAI,
    clock: FakeClock,
    ann_told: bool,
) -> None:
    """Ann's hand-off leaves her ticket active in the channel (told, or her process died posting
    the note); Bob's answer is killed while it streams. Bob's replay finishes his answer, and
    never turns his post into Ann's note."""
    toml, env = with_model(model)
    platform = NoThreads() if ann_told else NoThreadsDiesPostingTheFirstNote()
    ann = question(HUMAN, "ann")
    if ann_told:
        assert await make_runtime(toml, env).bot.on_message(ann, platform) == Outcome.ESCALATED
    else:
        with pytest.raises(faults.Crash):
            await make_runtime(toml, env).bot.on_message(ann, platform)
    bob = replace(question("How long does a refund take?", "bob"), author=Author(id="U-BOB", name="Bob"))
    with faults.crash_at("answer.noted"), pytest.raises(faults.Crash):
        await make_runtime(toml, env).bot.on_message(bob, platform)
    bobs = platform.posted[-1][0].message_id
    clock.advance(seconds=1)
    assert await make_runtime(toml, env).bot.replay_pending("slack", platform) == 1 + (not ann_told)
    assert platform.final()[bobs][0] == ReplyKind.ANSWER, platform.final()
    assert platform.leftovers() == [] and len(platform.answers()) == 1
    [note] = notes(platform)
    assert "ticket #1" in note


class DiesAfterTheNote(Platform):
    """The escalation note reaches the platform (a post of its own, or said in the streamed
    post), then the process dies: its ticket post is never written."""

    def __init__(self) -> None:
        super().__init__()
        self.died = False

    def _dies(self, reply: Reply) -> None:
        if reply.kind == ReplyKind.ESCALATION and not self.died:
            self.died = True
            raise faults.Crash("after the note")

    async def send(self, reply: Reply) -> Posted:
        posted = await super().send(reply)
        self._dies(reply)
        return posted

    async def edit(self, posted: Posted, reply: Reply, *rest: Any, **named: Any) -> Posted:
        now = await super().edit(posted, reply, *rest, **named)
        self._dies(reply)
        return now


@pytest.mark.parametrize("how", ["abstains", "fails"])
async def test_a_streamed_post_handed_over_says_the_note_once_when_the_process_dies_after_it(
    make_runtime: Callable[..., Runtime],
    model: FakeOpenAI,
    clock: FakeClock,
    how: str,
) -> None:
    """The model streamed, then declined (or the answer failed, and the apology replaced it):
    the note is said in that post, so a replay that finds no ticket post for it says it there
    again rather than in a second message."""
    toml, env = with_model(model)
    if how == "abstains":
        model.default_reply = ABSTAINS
    platform = DiesAfterTheNote()
    fails = faults.crash_at("answer.composed", error=OSError("reset")) if how == "fails" else None
    with pytest.raises(faults.Crash):
        if fails is None:
            await make_runtime(toml, env).bot.on_message(
                question("How long does a refund take?", how), platform
            )
        else:
            with fails:
                await make_runtime(toml, env).bot.on_message(
                    question("How long does a refund take?", how), platform
                )
    clock.advance(seconds=1)
    restarted = make_runtime(toml, env)
    assert await restarted.bot.replay_pending("slack", platform) == 1
    [note] = notes(platform)
    assert "ticket #1" in note and len(platform.final()) == 2, platform.final()  # the note, the card
    assert len(restarted.state.tickets()) == 1 and len(platform.cards()) == 1


async def test_a_replay_failing_before_it_streams_replaces_the_dead_processs_half_written_answer(
    make_runtime: Callable[..., Runtime],
    model: FakeOpenAI,
    clock: FakeClock,
) -> None:
    toml, env = with_model(model)
    platform = Platform()
    with faults.crash_at("answer.noted"), pytest.raises(faults.Crash):
        await make_runtime(toml, env).bot.on_message(
            question("How long does a refund take?", "dead"), platform
        )
    assert platform.leftovers()
    clock.advance(seconds=1)
    restarted = make_runtime(toml, env)
    with faults.crash_at("event.thread", error=OSError("connection reset")):  # before it streams
        assert await restarted.bot.replay_pending("slack", platform) == 1
    assert restarted.state.pending_events("slack") == []  # finished as failed: nobody comes back
    assert platform.leftovers() == [], platform.final()
    [note] = notes(platform)
    assert note.startswith("Sorry, something went wrong")


class HoldsTheFirstCard(Platform):
    """The first triage card's post waits until the test lets it go: another worker's
    escalation runs meanwhile, as it does while a card waits for the model's summary."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, reply: Reply) -> Posted:
        if reply.conversation.channel == "C-TRIAGE" and not self.holding.is_set():
            self.holding.set()
            await self.release.wait()
        return await super().send(reply)


async def test_a_replay_and_a_second_escalation_on_two_workers_post_one_card(
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    pg_url: str,  # noqa: F811
) -> None:
    """The hand-off's process died after telling the asker and before staff's card. One worker
    replays it (the card is missing: post it) while another handles the asker asking again in
    the thread (the ticket's card is missing: post it)."""
    env = {"SUPPORTBOT_DATABASE_URL": pg_url}
    platform = HoldsTheFirstCard()
    with faults.crash_at("ticket.announced"), pytest.raises(faults.Crash):
        await make_runtime(TRIAGE, env).bot.on_message(question(HUMAN, "race"), platform)
    clock.advance(seconds=21)  # past the dead claim's lease
    replaying, live = make_runtime(TRIAGE, env), make_runtime(TRIAGE, env)
    replay = asyncio.ensure_future(replaying.bot.replay_pending("slack", platform))
    await platform.holding.wait()  # the replay is posting the card
    again = replace(
        question("please, a human", "race-again"),
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C1", thread="race"),
    )
    assert await live.bot.on_message(again, platform) == Outcome.ESCALATED
    platform.release.set()
    assert await replay == 1
    assert len(live.state.tickets()) == 1 and len(platform.cards()) == 1
