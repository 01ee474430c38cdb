"""Exactly once: a question is answered in one platform message, whatever step the process dies at.

A crash is injected at every fault point of the answer path (bot/faults.py: a BaseException
that no handler of ours catches, like `kill -9`); a new runtime on the same data dir then
replays what was left. The platform is a recording Channel that outlives both runtimes, so
the test sees every post and edit the asker would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.console import ConsoleChannel
from bot import faults
from bot.app import Runtime
from bot.errors import PlatformError
from bot.ports import PostChanged
from bot.store.ticket_posts import CARD_LEASE
from bot.types import (
    ActionEvent,
    ActionKind,
    Author,
    ConversationRef,
    InboundMessage,
    Outcome,
    Posted,
    Reply,
    ReplyKind,
    Visibility,
)
from tests.fakes.clock import FakeClock
from tests.fakes.openai_server import FakeOpenAI

TOML = '[slack]\nstaff_users = ["U-STAFF"]\n'
TRIAGE = TOML + 'triage_channel = "C-TRIAGE"\n'
ANSWER_POINTS = [
    "event.claimed",
    "event.thread",
    "answer.composed",
    "answer.sent",  # posted, not yet noted: the replay finds the post on the platform
    "answer.noted",
    "answer.posted",
    "answer.recorded",
    "event.handled",
]
# a whole answer (nothing streamed) is noted with its event's finish, not on its own: the
# offline answer has no "answer.noted" step (bot/noting.py `NotingChannel`), and up to the finish
# ("answer.posted", "answer.recorded", "event.handled") the replay finds the post as it does
# after "answer.sent"
WHOLE_ANSWER_POINTS = [point for point in ANSWER_POINTS if point != "answer.noted"]


class Platform(ConsoleChannel):
    """What the people in the channel end up seeing: each message's last version."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.edit_interval = 0.0  # stream every token: the harshest case for a crash mid-answer

    def final(self) -> dict[str, tuple[ReplyKind, str]]:
        shown = {posted.message_id: (reply.kind, reply.text) for posted, reply in self.posted}
        for posted, reply in self.edits:
            shown[posted.message_id] = (reply.kind, reply.text)
        return shown

    def answers(self) -> list[str]:
        return [text for kind, text in self.final().values() if kind == ReplyKind.ANSWER]

    def cards(self) -> list[Reply]:
        """Staff's triage cards."""
        return [reply for _, reply in self.posted if reply.conversation.channel == "C-TRIAGE"]

    def leftovers(self) -> list[str]:
        """Half-written answers nobody finished: what a crash must never leave behind."""
        return [text for kind, text in self.final().values() if kind == ReplyKind.THINKING]


def question(text: str, id: str) -> InboundMessage:
    return InboundMessage(
        id=id,
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C1"),
        author=Author(id="U-ASK", name="Ann"),
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        server.default_reply = (
            "Refunds go back to the original payment method within five to seven business days [1]."
        )
        yield server


async def crash_then_replay(make: Callable[[], Runtime], point: str, asked: InboundMessage) -> Platform:
    platform = Platform()
    dying = make()
    with faults.crash_at(point), pytest.raises(faults.Crash):
        await dying.bot.on_message(asked, platform)
    restarted = make()
    assert await restarted.bot.replay_pending("slack", platform) == 1
    assert await restarted.bot.replay_pending("slack", platform) == 0  # nothing is left behind
    assert await restarted.bot.on_message(asked, platform) == Outcome.DUPLICATE  # nor re-answered
    return platform


@pytest.mark.parametrize("point", WHOLE_ANSWER_POINTS)
async def test_an_offline_answer_is_posted_once_whatever_step_the_process_dies_at(
    make_runtime: Callable[..., Runtime], point: str
) -> None:
    platform = await crash_then_replay(
        lambda: make_runtime(TOML), point, question("How long does a refund take?", f"off-{point}")
    )
    assert len(platform.answers()) == 1, platform.final()
    assert "five to seven business days" in platform.answers()[0]
    assert platform.leftovers() == []


@pytest.mark.parametrize("point", ANSWER_POINTS)
async def test_a_streamed_model_answer_is_one_message_whatever_step_the_process_dies_at(
    make_runtime: Callable[..., Runtime], model: FakeOpenAI, point: str
) -> None:
    env = {"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}
    platform = await crash_then_replay(
        lambda: make_runtime(TOML + "[llm]\nmax_retries = 0\n", env),
        point,
        question("How long does a refund take?", f"llm-{point}"),
    )
    assert len(platform.answers()) == 1, platform.final()
    assert "five to seven business days" in platform.answers()[0]
    # the streamed beginning was finished in place, not orphaned beside a second answer
    assert platform.leftovers() == []
    streamed_posts = [
        reply for _, reply in platform.posted if reply.kind in (ReplyKind.THINKING, ReplyKind.ANSWER)
    ]
    assert len(streamed_posts) == 1


async def test_a_failure_after_streaming_replaces_the_half_written_answer_with_the_apology(
    make_runtime: Callable[..., Runtime], model: FakeOpenAI
) -> None:
    """An ordinary failure (not a crash) after the model streamed part of its answer: the event
    is finished as failed, so nothing would ever finish that post; the apology replaces it, and
    the escalation note follows in the same post."""
    env = {"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}
    rt = make_runtime(TOML + "[llm]\nmax_retries = 0\n", env)
    platform = Platform()
    with faults.crash_at("answer.composed", error=OSError("connection reset")):
        outcome = await rt.bot.on_message(question("How long does a refund take?", "apology"), platform)
    assert outcome == Outcome.FAILED and rt.state.pending_events("slack") == []
    assert platform.leftovers() == [], platform.final()
    [(kind, text)] = platform.final().values()
    assert kind == ReplyKind.ESCALATION and text.startswith("Sorry, something went wrong"), text
    assert len(rt.state.tickets()) == 1


class RefusesTheApologyEdit(Platform):
    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        if reply.kind == ReplyKind.ERROR:
            raise OSError("the platform refused the edit")
        return await super().edit(posted, reply)


async def test_an_apology_the_half_written_answer_refuses_is_said_in_the_note(
    make_runtime: Callable[..., Runtime], model: FakeOpenAI
) -> None:
    env = {"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}
    rt = make_runtime(TOML + "[llm]\nmax_retries = 0\n", env)
    platform = RefusesTheApologyEdit()
    with faults.crash_at("answer.composed", error=OSError("connection reset")):
        await rt.bot.on_message(question("How long does a refund take?", "apology-refused"), platform)
    [note] = [text for kind, text in platform.final().values() if kind == ReplyKind.ESCALATION]
    assert note.startswith("Sorry, something went wrong")


async def test_a_replay_cut_short_is_taken_over_by_the_next_process_at_once(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    platform = Platform()
    asked = question("How long does a refund take?", "twice")
    first = make_runtime(TOML)
    with faults.crash_at("answer.composed"), pytest.raises(faults.Crash):
        await first.bot.on_message(asked, platform)
    clock.advance(seconds=1)
    second = make_runtime(TOML)
    with faults.crash_at("answer.composed"), pytest.raises(faults.Crash):
        await second.bot.replay_pending("slack", platform)  # killed again, during the catch-up
    clock.advance(seconds=1)
    third = make_runtime(TOML)
    # the dead replay's lease has 19 s to run, but its process is gone (this one holds the
    # data dir): the question is answered now, not after the lease
    assert await third.bot.replay_pending("slack", platform) == 1
    assert len(platform.answers()) == 1 and platform.leftovers() == []


async def test_a_live_process_retries_its_own_cut_short_replay_on_a_later_tick(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    platform = Platform()
    asked = question("How long does a refund take?", "own")
    first = make_runtime(TOML)
    with faults.crash_at("answer.composed"), pytest.raises(faults.Crash):
        await first.bot.on_message(asked, platform)
    clock.advance(seconds=1)
    survivor = make_runtime(TOML)
    with faults.crash_at("answer.composed"), pytest.raises(faults.Crash):
        await survivor.bot.replay_pending("slack", platform)  # the replay task died, the process did not
    assert await survivor.bot.replay_pending("slack", platform) == 0  # its own lease still holds
    clock.advance(seconds=30)
    await survivor.bot.tick({"slack": platform})  # the clock retries it: no restart needed
    await survivor.bot.settle()
    assert len(platform.answers()) == 1 and platform.leftovers() == []


@pytest.mark.parametrize(
    "point",
    # the lead out (noted, or found on the platform), its ticket post not yet written; then
    # the lead recorded and staff's card not yet posted
    ["event.thread", "answer.sent", "answer.noted", "ticket.announced", "handoff.posted", "event.handled"],
)
async def test_a_hand_off_is_said_once_and_carded_once_whatever_step_the_process_dies_at(
    make_runtime: Callable[..., Runtime], clock: FakeClock, point: str
) -> None:
    platform = Platform()
    asked = question("I want to talk to a human about my invoice", f"human-{point}")
    dying = make_runtime(TRIAGE)
    with faults.crash_at(point), pytest.raises(faults.Crash):
        await dying.bot.on_message(asked, platform)
    clock.advance(seconds=1)
    restarted = make_runtime(TRIAGE)
    assert await restarted.bot.replay_pending("slack", platform) == 1
    public = [
        reply for _, reply in platform.posted if not reply.ephemeral_to and reply.conversation.channel == "C1"
    ]
    leads = [reply for reply in public if reply.conversation.thread is not None]
    assert len(leads) == 1, [r.text for r in public]  # the person is told once that a person is coming
    assert [kind for kind, _ in platform.final().values()].count(ReplyKind.ESCALATION) == 1
    assert len(platform.cards()) == 1  # and staff's triage channel shows the ticket once
    assert len(restarted.state.tickets()) == 1


@pytest.mark.parametrize("point", ["card.claimed", "card.sent"])
async def test_a_card_whose_process_died_is_shown_once_by_the_replay(
    make_runtime: Callable[..., Runtime], clock: FakeClock, point: str
) -> None:
    """Killed with staff's card claimed (with the ticket), before its post or after it but
    before it is noted: the replay of the message takes the dead process's claim at once,
    finds the card on the platform and brings it up to date, or posts it; the clock's ticks
    after it owe nothing."""
    platform = Platform()
    asked = question("I want to talk to a human about my invoice", f"card-{point}")
    with faults.crash_at(point), pytest.raises(faults.Crash):
        await make_runtime(TRIAGE).bot.on_message(asked, platform)
    out = len(platform.cards())
    assert out == (1 if point == "card.sent" else 0)
    clock.advance(seconds=1)
    restarted = make_runtime(TRIAGE)
    assert await restarted.bot.replay_pending("slack", platform) == 1
    [card] = platform.cards()
    [ticket] = restarted.state.tickets()
    assert sorted(
        (kind, posted.conversation.channel) for kind, posted, _ in restarted.state.ticket_posts(ticket.id)
    ) == [("card", "C-TRIAGE"), ("thread", "C1")]
    if point == "card.sent":  # the card out before the kill is the one kept, brought up to date
        assert [posted.message_id for posted, _ in platform.edits][-1:] == [
            posted.message_id for posted, reply in platform.posted if reply is card
        ]
    clock.advance(seconds=CARD_LEASE.total_seconds())
    await restarted.bot.tick({"slack": platform})
    assert len(platform.cards()) == 1


def _talk_to_a_person() -> ActionEvent:
    return ActionEvent(
        id="press-1",
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.0"),
        actor=Author(id="U-ASK", name="Ann"),
        action=ActionKind.TALK_TO_HUMAN,
        value="msg:1.0",
        visibility=Visibility.INTERNAL,
    )


@pytest.mark.parametrize("point", ["ticket.announced", "card.claimed", "card.sent"])
async def test_a_button_hand_off_cut_short_gets_its_card_once_its_claim_lapses(
    make_runtime: Callable[..., Runtime], clock: FakeClock, point: str
) -> None:
    """A hand-off from a button (no replay: a press is not kept to be handed over again),
    killed after the asker was told: the card was claimed with the ticket, so it is owed once
    that claim lapses, and the clock's tick posts it (or finds the one out and keeps it), once."""
    platform = Platform()
    with faults.crash_at(point), pytest.raises(faults.Crash):
        await make_runtime(TRIAGE).bot.on_action(_talk_to_a_person(), platform)
    out = len(platform.cards())
    restarted = make_runtime(TRIAGE)
    [ticket] = restarted.state.tickets()
    assert await restarted.bot.tick({"slack": platform}) == 0  # the claim holds for its lease
    clock.advance(seconds=CARD_LEASE.total_seconds())
    assert await restarted.bot.tick({"slack": platform}) == 1
    assert out == (1 if point == "card.sent" else 0)
    assert len(platform.cards()) == 1  # posted, or the one out found and kept
    assert "card" in [kind for kind, _, _ in restarted.state.ticket_posts(ticket.id)]


async def test_a_card_out_before_a_kill_shows_its_ticket_resolved_since_and_a_done_tickets_claim_goes(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """Killed after the card of a button hand-off went out, before it was noted; staff resolve
    the ticket from the thread meanwhile (the resolve's refresh cannot reach a card not noted):
    once the claim lapses, the tick finds the card and shows the ticket resolved on it. A done
    ticket whose card never went out owes none: its claim is dropped, not read at every tick."""
    platform = Platform()
    with faults.crash_at("card.sent"), pytest.raises(faults.Crash):
        await make_runtime(TRIAGE).bot.on_action(_talk_to_a_person(), platform)
    restarted = make_runtime(TRIAGE)
    [ticket] = restarted.state.tickets()
    staff = Author(id="U-STAFF", name="Sam")
    done = await restarted.bot.escalations.resolve(ticket.id, staff, platform, ticket.conversation)
    assert done.changed
    clock.advance(seconds=CARD_LEASE.total_seconds())
    await restarted.bot.tick({"slack": platform})
    [(posted, _)] = [(p, r) for p, r in platform.posted if r.conversation.channel == "C-TRIAGE"]
    shown = platform.current[posted.message_id]
    assert "resolved" in shown.text.splitlines()[0] and shown.buttons == ()
    assert restarted.state.owed_ticket_posts("card", clock.now() + timedelta(days=1), ["slack"]) == []

    other = Platform()  # a second hand-off, killed before its card went out, resolved too
    with faults.crash_at("card.claimed"), pytest.raises(faults.Crash):
        second_press = replace(
            _talk_to_a_person(),
            id="press-2",
            conversation=ConversationRef(platform="slack", workspace="T1", channel="C1", thread="2.0"),
            value="msg:2.0",
        )
        await restarted.bot.on_action(second_press, other)
    second = next(t for t in restarted.state.tickets() if t.id != ticket.id)
    assert (await restarted.bot.escalations.resolve(second.id, staff, other, second.conversation)).changed
    clock.advance(seconds=CARD_LEASE.total_seconds())
    await restarted.bot.tick({"slack": other})
    assert other.cards() == []
    assert restarted.state.owed_ticket_posts("card", clock.now() + timedelta(days=1), ["slack"]) == []


class DiesPostingTheLead(Platform):
    """Killed while the escalation note's request is in flight (a post of its own, or said in
    the streamed post): it never reaches the platform."""

    def __init__(self) -> None:
        super().__init__()
        self.died = False

    def _dies(self, reply: Reply) -> None:
        if reply.kind == ReplyKind.ESCALATION and not self.died:
            self.died = True
            raise faults.Crash("posting the escalation note")

    async def send(self, reply: Reply) -> Posted:
        self._dies(reply)
        return await super().send(reply)

    async def edit(self, posted: Posted, reply: Reply, *rest: Any, **named: Any) -> Posted:
        self._dies(reply)
        return await super().edit(posted, reply, *rest, **named)


async def test_a_double_click_on_talk_to_a_person_tells_the_thread_once(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Two presses at once: one ticket, one card, and one note in the thread; the second press
    is told privately that the question is with the team (before, a second public note)."""
    rt = make_runtime(TRIAGE)
    platform = Platform()
    first = _talk_to_a_person()
    await asyncio.gather(
        rt.bot.on_action(first, platform), rt.bot.on_action(replace(first, id="press-2"), platform)
    )
    assert len(rt.state.tickets()) == 1 and len(platform.cards()) == 1
    in_thread = [r for _, r in platform.posted if r.conversation.channel == "C1"]
    public = [r for r in in_thread if r.ephemeral_to is None]
    private = [r for r in in_thread if r.ephemeral_to == "U-ASK"]
    assert len(public) == 1 and "ticket #1" in public[0].text
    assert len(private) == 1 and "already with the support team" in private[0].text


@pytest.mark.parametrize("point", ["lead-in-flight", "ticket.announced"])
async def test_a_streamed_abstention_is_handed_over_once_whatever_step_the_process_dies_at(
    make_runtime: Callable[..., Runtime], model: FakeOpenAI, clock: FakeClock, point: str
) -> None:
    """The model streamed, then declined: the streamed post says "I couldn't find...", and the
    ticket's row is written before the asker is told or staff see a card. A replay finds that
    noted post and the ticket: it tells the asker (in the noted post) and posts the card."""
    model.default_reply = "Refunds are handled by the billing team, who will look at it."  # cites nothing
    env = {"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}
    toml = TRIAGE + "[llm]\nmax_retries = 0\n"
    dies_in_flight = point == "lead-in-flight"
    platform = DiesPostingTheLead() if dies_in_flight else Platform()
    asked = question("How long does a refund take?", f"abstain-{point}")
    crash = contextlib.nullcontext() if dies_in_flight else faults.crash_at(point)
    with crash, pytest.raises(faults.Crash):
        await make_runtime(toml, env).bot.on_message(asked, platform)
    clock.advance(seconds=1)
    restarted = make_runtime(toml, env)
    assert await restarted.bot.replay_pending("slack", platform) == 1
    assert len(restarted.state.tickets()) == 1
    shown = [text for kind, text in platform.final().values() if kind == ReplyKind.ESCALATION]
    assert len(shown) == 1 and "ticket #1" in shown[0], platform.final()
    assert len(platform.cards()) == 1
    assert platform.leftovers() == []


async def test_a_failed_finish_is_not_answered_again_by_the_same_process(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    platform = Platform()
    rt = make_runtime(TOML)
    with faults.crash_at("event.finish", error=OSError("disk full")):
        assert (
            await rt.bot.on_message(question("How long does a refund take?", "flaky"), platform)
            == Outcome.ANSWERED
        )
    assert rt.state.pending_events("slack")  # the inbox still holds it
    clock.advance(seconds=60)
    await rt.bot.tick({"slack": platform})  # this process knows it answered: no second answer
    await rt.bot.settle()
    assert len(platform.answers()) == 1 and platform.edits == []
    assert rt.state.db["answers"].count == 1


@pytest.mark.parametrize("point", WHOLE_ANSWER_POINTS)
async def test_the_thread_keeps_one_bot_answer_and_the_answer_one_post_whatever_step_the_process_dies_at(
    make_runtime: Callable[..., Runtime], clock: FakeClock, point: str
) -> None:
    """The answer's record (its post, its place in the thread's history) is written with the
    event's finish: a process dying before the finish leaves neither, and the replay writes
    both once, rather than the history holding the answer twice; nor does it keep the
    question a second time."""
    platform = Platform()
    asked = question("How long does a refund take?", f"rec-{point}")
    with faults.crash_at(point), pytest.raises(faults.Crash):
        await make_runtime(TOML).bot.on_message(asked, platform)
    clock.advance(seconds=1)
    restarted = make_runtime(TOML)
    assert await restarted.bot.replay_pending("slack", platform) == 1
    [(posted, _)] = [(p, r) for p, r in platform.posted if r.kind in (ReplyKind.THINKING, ReplyKind.ANSWER)]
    history = restarted.state.history(posted.conversation)
    assert [turn.role for turn in history] == ["user", "bot"], history
    recorded = [
        row["posted_message_id"] for row in restarted.state.db["answers"].rows if row["posted_message_id"]
    ]
    assert recorded == [posted.message_id]
    # nor one question two answers in the counts (the record is written before the post)
    assert restarted.state.db["answers"].count == 1


async def test_a_whole_answer_is_noted_with_its_events_finish(make_runtime: Callable[..., Runtime]) -> None:
    """Nothing follows a whole answer but the finish, so its note travels with the finish (one
    trip fewer, tests/bot/store/test_round_trips.py): the finished event still names its post."""
    platform = Platform()
    rt = make_runtime(TOML)
    asked = question("How long does a refund take?", "whole")
    assert await rt.bot.on_message(asked, platform) == Outcome.ANSWERED
    [(posted, reply)] = platform.posted
    assert reply.kind == ReplyKind.ANSWER
    [key] = [row["key"] for row in rt.state.db["inbox"].rows]
    assert rt.state.event_post(key) == (posted.message_id, posted.conversation.key)
    assert rt.state.pending_events("slack") == []


async def test_a_failed_finish_still_notes_the_whole_answer_for_the_next_process(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """The finish that should have carried the note fails: the note is written on its own, so
    a restart edits the answer in place rather than posting it again, without having to look
    the post up on the platform (bot.ports.FindsReplies)."""
    platform = Platform()
    rt = make_runtime(TOML)
    with faults.crash_at("event.finish", error=OSError("disk full")):
        await rt.bot.on_message(question("How long does a refund take?", "flaky-note"), platform)
    [(key, _)] = rt.state.pending_events("slack")
    [(posted, _)] = platform.posted
    assert rt.state.event_post(key) == (posted.message_id, posted.conversation.key)


async def test_a_shutdown_cancelling_the_finish_still_notes_the_whole_answer(
    make_runtime: Callable[..., Runtime],
) -> None:
    """A shutdown that stops waiting cancels the handling while its finish (which carries the
    note) is queued: the note is written alone before the cancellation goes on."""
    platform = Platform()
    rt = make_runtime(TOML)
    with (
        faults.crash_at("event.finish", error=asyncio.CancelledError()),
        pytest.raises(asyncio.CancelledError),
    ):
        await rt.bot.on_message(question("How long does a refund take?", "cancelled"), platform)
    [(key, _)] = rt.state.pending_events("slack")
    [(posted, _)] = platform.posted
    assert rt.state.event_post(key) == (posted.message_id, posted.conversation.key)


class FreezesAnEdit(Platform):
    """While `hold` is set, an edit of a post never returns: the process dies mid-revision."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False
        self.reached = asyncio.Event()

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        if self.hold:
            self.reached.set()
            await asyncio.Event().wait()  # kill -9: nothing after this runs
        return await super().edit(posted, reply, on_change)


async def test_a_newer_edit_after_a_kill_mid_revision_is_answered_at_the_next_passes(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """Killed while an edit (10:01) revised the answer; after the restart a newer edit (10:02)
    finds the dead edit's turn held and is left for a later pass. The clock's replay of the
    dead edit finds it outdated and gives its turn back, so the newer edit revises the answer
    within a pass or two, not after the turn's five-minute lease."""
    platform = FreezesAnEdit()
    dying = make_runtime(TOML)
    asked = question("How do I reset my password?", "q-k9")

    def edited(text: str, minute: int) -> InboundMessage:
        made = datetime(2026, 11, 30, 10, minute, tzinfo=UTC)
        return replace(question(text, f"q-k9:edited:{minute}"), edited=True, edit_of=asked.id, edited_at=made)

    assert await dying.bot.on_message(asked, platform) == Outcome.ANSWERED
    platform.hold = True
    frozen = asyncio.ensure_future(
        dying.bot.on_message(edited("How do I reset my password, please?", 1), platform)
    )
    await asyncio.wait_for(platform.reached.wait(), 5)
    platform.hold = False
    restarted = make_runtime(TOML)
    assert await restarted.bot.on_message(edited("How long does a refund take to arrive?", 2), platform) == (
        Outcome.FAILED  # the dead edit's turn is held: left for a later pass
    )
    for _ in range(3):
        clock.advance(seconds=30)
        await restarted.bot.tick({"slack": platform})
        await restarted.bot.settle()
    unfinished = "select key from inbox where status in ('pending', 'replaying')"
    assert restarted.state.db.execute(unfinished).fetchall() == []
    shown = [text for _, text in platform.final().values()]
    assert any("five to seven" in text for text in shown) and not any(
        "Forgot password" in text for text in shown
    )
    frozen.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await frozen


class RefusesTheNoteOnce(Platform):
    """The platform refuses the first escalation note (a 5xx past the client's retries)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = False

    async def send(self, reply: Reply) -> Posted:
        if reply.kind == ReplyKind.ESCALATION and not reply.ephemeral_to and not self.refused:
            self.refused = True
            raise PlatformError("slack said: internal_error")
        return await super().send(reply)


async def test_a_press_after_a_refused_note_says_the_note(make_runtime: Callable[..., Runtime]) -> None:
    """The ticket was opened but the platform refused its note (the asker was told to try
    again): the next press says the note, staff tagged, rather than "already with the team"
    (the claim on the note is given back when it is refused)."""
    rt = make_runtime(TRIAGE)
    platform = RefusesTheNoteOnce()
    await rt.bot.on_action(_talk_to_a_person(), platform)
    assert len(rt.state.tickets()) == 1 and platform.refused
    said = len(platform.posted)
    await rt.bot.on_action(replace(_talk_to_a_person(), id="press-2"), platform)
    [note] = [r for _, r in platform.posted[said:] if r.conversation.channel == "C1" and not r.ephemeral_to]
    assert note.mentions and "ticket #1" in note.text


class DiesAtTheNote(Platform):
    """Killed (kill -9) as the escalation note is being posted, once."""

    def __init__(self) -> None:
        super().__init__()
        self.dead = False

    async def send(self, reply: Reply) -> Posted:
        if reply.kind == ReplyKind.ESCALATION and not reply.ephemeral_to and not self.dead:
            self.dead = True
            raise faults.Crash("kill -9 while posting the note")
        return await super().send(reply)


async def test_a_hand_off_killed_at_its_note_is_said_once_by_the_replay_and_leaves_no_claim(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """The replay says the note its dead opener had claimed; the claim is forgotten with it,
    whoever held it (before, one row per such ticket was left in job_runs for good)."""
    platform = DiesAtTheNote()
    with pytest.raises(faults.Crash):
        await make_runtime(TRIAGE).bot.on_message(
            question("I want to talk to a human about my invoice", "h1"), platform
        )
    clock.advance(seconds=30)
    restarted = make_runtime(TRIAGE)
    assert await restarted.bot.replay_pending("slack", platform) == 1
    notes = [
        r for _, r in platform.posted if r.kind == ReplyKind.ESCALATION and r.conversation.channel == "C1"
    ]
    assert len(notes) == 1 and "ticket #1" in notes[0].text
    clock.advance(hours=2)
    await restarted.bot.tick({"slack": platform})
    assert {key for (key,) in restarted.state.db.execute("select key from job_runs")} <= {"retention"}
