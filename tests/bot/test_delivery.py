"""Delivery's replays and retries: what a live process does with the events it left unfinished.

tests/bot/test_exactly_once.py kills the process at each step; these keep it alive and check
what it then owes: a replay of its own cut short is retried by its clock on either backend
(on PostgreSQL no other worker may take it while this one beats), a slow search for a
predecessor's post is never taken by a second pass, a follow-up whose handling failed on a
dropped database connection is handled again, and a backlog is replayed within the worker
pool, a batch at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from bot import delivery, faults, replays
from bot.app import Runtime
from bot.cluster import Presence
from bot.errors import ConversationDeleted
from bot.messages import say
from bot.types import ConversationRef, InboundMessage, Outcome, Posted, Reply, ReplyKind
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401  (fixtures)
from tests.bot.test_exactly_once import TOML, Platform, question
from tests.fakes.clock import FakeClock


def _env(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    return {"SUPPORTBOT_DATABASE_URL": request.getfixturevalue("pg_url")} if backend == "postgres" else {}


async def _left_by_a_dead_process(make: Callable[[], Runtime], asked: list[InboundMessage]) -> None:
    """Each of `asked` claimed by a process that then died (kill -9 right after the claim)."""
    dying = make()
    for message in asked:
        with faults.crash_at("event.claimed"), pytest.raises(faults.Crash):
            await dying.bot.on_message(message, Platform())


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_live_worker_retries_its_own_cut_short_replay(
    make_runtime: Callable[..., Runtime], clock: FakeClock, request: pytest.FixtureRequest, backend: str
) -> None:
    env = _env(backend, request)
    platform = Platform()
    await _left_by_a_dead_process(
        lambda: make_runtime(TOML, env), [question("How long does a refund take?", "own")]
    )
    clock.advance(seconds=21)  # past the dead claim's lease (it had no worker row)
    survivor = make_runtime(TOML, env)
    presence = Presence(store=survivor.store, clock=clock, platforms=["slack"])
    await presence.join()  # as `supportbot run` does: its takes carry its worker id
    with faults.crash_at("answer.composed"), pytest.raises(faults.Crash):
        await survivor.bot.replay_pending("slack", platform)  # the replay died, the process did not
    for _ in range(2):
        clock.advance(seconds=30)
        await presence.beat()
        await survivor.bot.tick({"slack": platform})
        await survivor.bot.settle()
    assert len(platform.answers()) == 1 and platform.leftovers() == []
    rows = survivor.state.db.execute("select status from inbox").fetchall()
    assert [row[0] for row in rows] == ["answered"]


class SlowToLook(Platform):
    """A platform whose first look for a predecessor's reply hangs until released (a history
    call timing out, or rate limited), then finds nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.looks = 0

    async def find_reply(self, message: InboundMessage) -> Posted | None:
        self.looks += 1
        if self.looks == 1:
            await self.release.wait()
            return None
        return await super().find_reply(message)


async def test_a_replay_still_looking_for_its_post_is_not_taken_by_a_second_pass(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    platform = SlowToLook()
    await _left_by_a_dead_process(
        lambda: make_runtime(TOML), [question("How long does a refund take?", "slow")]
    )
    clock.advance(seconds=1)
    rt = make_runtime(TOML)
    on_connect = asyncio.ensure_future(rt.bot.replay_pending("slack", platform))  # the adapter's
    while platform.looks == 0:
        await asyncio.sleep(0.01)
    clock.advance(seconds=30)  # the first replay's lease (20 s) runs out while it looks
    await rt.bot.tick({"slack": platform})  # the clock's pass
    await rt.bot.settle()  # it has run to its end: whatever it took, it answered
    platform.release.set()
    assert await on_connect == 1
    await rt.bot.settle()
    assert platform.looks == 1  # the clock's pass never took it
    assert len(platform.answers()) == 1 and rt.state.db["answers"].count == 1


class DropsTheConnection(asyncio.Event):
    """The adapter's `accepted` signal, set right after the claim: the database connection is
    cut there (a fail-over), so the handler's first read fails."""

    def __init__(self, server: str, backend_pid: int) -> None:
        super().__init__()
        self.server = server
        self.backend_pid = backend_pid

    def set(self) -> None:
        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s)", [self.backend_pid])
            # pg_terminate_backend only asks: wait until the backend has gone (said goodbye, closed)
            for _ in range(500):  # at most 5 s: the test then fails on what it asserts
                gone = admin.execute("select 1 from pg_stat_activity where pid = %s", [self.backend_pid])
                if gone.fetchone() is None:
                    break
                time.sleep(0.01)
        super().set()


async def _answered_then_followed_up(rt: Runtime, platform: Platform) -> InboundMessage:
    """A question answered in a thread, and the asker's follow-up there (no mention): its
    handling is what the tests below break."""
    asked = question("How long does a refund take?", "q1")
    assert await rt.bot.on_message(asked, platform) == Outcome.ANSWERED
    thread = platform.posted[0][0].conversation
    return dataclasses.replace(
        question("And are annual plans refunded too?", "q2"), conversation=thread, addressed=False
    )


async def test_a_follow_up_whose_first_read_failed_is_handled_again(
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    pg_url: str,  # noqa: F811
) -> None:
    """The database connection is lost during the handler's first read (a fail-over mid-
    statement): nothing was done yet, so the follow-up is left for the clock's replay."""
    rt = make_runtime(TOML, {"SUPPORTBOT_DATABASE_URL": pg_url})
    platform = Platform()
    follow_up = await _answered_then_followed_up(rt, platform)
    with faults.crash_at("event.deciding", error=psycopg.OperationalError("server closed the connection")):
        assert await rt.bot.on_message(follow_up, platform) == Outcome.FAILED
    assert len(platform.answers()) == 1  # nothing said yet: no apology is owed to a follow-up
    kept = rt.state.db.execute("select status, payload is not null from inbox where key = 'slack:msg:q2'")
    assert kept.fetchone() == ("pending", True)  # kept for a retry, not finished as failed
    clock.advance(seconds=30)
    await rt.bot.tick({"slack": platform})
    await rt.bot.settle()
    assert len(platform.answers()) == 2
    assert await rt.bot.on_message(follow_up, platform) == Outcome.DUPLICATE


async def test_a_session_the_server_ended_after_the_claim_is_replaced_before_the_first_read(
    make_runtime: Callable[..., Runtime],
    pg_url: str,  # noqa: F811
    pg_server: str,  # noqa: F811
) -> None:
    """A fail-over right after the claim ends the store's idle session: the store sees the
    server's goodbye before its next statement and opens a fresh session, so the follow-up
    is answered at once."""
    rt = make_runtime(TOML, {"SUPPORTBOT_DATABASE_URL": pg_url})
    platform = Platform()
    follow_up = await _answered_then_followed_up(rt, platform)
    dropped = DropsTheConnection(pg_server, rt.state.db.connection.info.backend_pid)
    assert await rt.bot.on_message(follow_up, platform, accepted=dropped) == Outcome.ANSWERED
    assert len(platform.answers()) == 2


async def test_a_follow_up_that_always_fails_is_given_up_after_its_attempts(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    rt = make_runtime(TOML)
    platform = Platform()
    assert (
        await rt.bot.on_message(question("How long does a refund take?", "q1"), platform) == Outcome.ANSWERED
    )
    thread = platform.posted[0][0].conversation
    follow_up = dataclasses.replace(question("And annual plans?", "q2"), conversation=thread, addressed=False)
    broken = OSError("the disk is failing")
    with faults.crash_at("event.deciding", error=broken):
        assert await rt.bot.on_message(follow_up, platform) == Outcome.FAILED
    for attempt in range(2, delivery.HANDLING_ATTEMPTS + 1):
        clock.advance(seconds=30)
        with faults.crash_at("event.deciding", error=OSError("the disk is failing")):
            await rt.bot.tick({"slack": platform})
            await rt.bot.settle()
        left = rt.state.pending_events("slack", clock.now() + timedelta(minutes=1))
        assert bool(left) == (attempt < delivery.HANDLING_ATTEMPTS), attempt
    status = rt.state.db.execute("select status from inbox where key = 'slack:msg:q2'").fetchone()
    assert status[0] == "failed"
    assert len(platform.answers()) == 1


class CountsLooks(Platform):
    """A platform that counts the looks for a predecessor's reply running at once, and at each
    how many events the inbox has taken for replay (read on a connection of its own)."""

    def __init__(self, state_file: Path) -> None:
        super().__init__()
        self.looking = self.most = 0
        self.state_file = state_file
        self.taken_at_look: list[int] = []

    async def find_reply(self, message: InboundMessage) -> Posted | None:
        self.looking += 1
        self.most = max(self.most, self.looking)
        with sqlite3.connect(self.state_file) as db:
            (taken,) = db.execute("select count(*) from inbox where status = 'replaying'").fetchone()
        self.taken_at_look.append(int(taken))
        await asyncio.sleep(0.01)  # a platform round trip
        self.looking -= 1
        return await super().find_reply(message)


async def test_a_backlog_is_replayed_within_the_worker_pool_a_batch_at_a_time(
    make_runtime: Callable[..., Runtime], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replays, "REPLAY_BATCH", 5)
    toml = "[answer]\nworkers = 3\n" + TOML
    asked = [question("How long does a refund take?", f"m{n}") for n in range(12)]
    await _left_by_a_dead_process(lambda: make_runtime(toml), asked)
    clock.advance(seconds=1)
    rt = make_runtime(toml)
    platform = CountsLooks(rt.settings.data_dir / "state.db")
    assert await rt.bot.replay_pending("slack", platform) == 12  # in one call: passes of 5, 5, 2
    assert len(platform.answers()) == 12
    assert max(platform.taken_at_look) <= 5  # never more than a batch taken at once
    assert 1 <= platform.most <= 3  # the looks ran within the pool of 3


async def test_an_addressed_question_whose_first_read_failed_is_answered_at_the_next_tick(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """Nothing was done for it yet: it is handled again, not apologised for and ticketed."""
    rt = make_runtime(TOML)
    platform = Platform()
    with faults.crash_at("event.deciding", error=OSError("the connection was reset")):
        assert (
            await rt.bot.on_message(question("How long does a refund take?", "q1"), platform)
            == Outcome.FAILED
        )
    assert platform.posted == []
    clock.advance(seconds=30)
    await rt.bot.tick({"slack": platform})
    await rt.bot.settle()
    assert len(platform.answers()) == 1
    assert rt.state.tickets() == [] and not any("went wrong" in r.text for _, r in platform.posted)


class CardFailsOnce(Platform):
    """The triage channel refuses the first staff card (a 502 from the platform)."""

    def __init__(self) -> None:
        super().__init__()
        self.refusals = 1

    async def send(self, reply: Reply) -> Posted:
        if reply.conversation.channel == "C-TRIAGE" and self.refusals:
            self.refusals -= 1
            raise OSError("502 from the platform")
        return await super().send(reply)


async def test_a_failure_after_the_handler_began_is_not_retried(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """A draft-mode question: the answer is recorded and its draft kept before the staff card
    fails. Handling it again would record both twice, so the failure is final."""
    rt = make_runtime(TOML + 'triage_channel = "C-TRIAGE"\n\n[slack.channels.C1]\nmode = "draft"\n')
    platform = CardFailsOnce()
    asked = dataclasses.replace(question("How long does a refund take?", "d1"), addressed=False)
    assert await rt.bot.on_message(asked, platform) == Outcome.FAILED
    clock.advance(seconds=30)
    await rt.bot.tick({"slack": platform})
    await rt.bot.settle()
    assert rt.state.db.execute("select count(*) from reply_drafts").fetchone() == (1,)
    assert rt.state.db.execute("select count(*) from answers").fetchone() == (1,)
    status = rt.state.db.execute("select status from inbox where key = 'slack:msg:d1'").fetchone()
    assert status == ("failed",)


class DeletedWhileAnswering(Platform):
    """The post of kind `at` is refused: the conversation `deleted` no longer exists (a platform
    that can tell, as Discord's 404 Unknown Channel does); an answer before it fails (a 502)."""

    def __init__(self, deleted: ConversationRef, at: ReplyKind = ReplyKind.ANSWER) -> None:
        super().__init__()
        self.deleted = deleted
        self.at = at
        self.tried: list[ReplyKind] = []

    async def send(self, reply: Reply) -> Posted:
        self.tried.append(reply.kind)
        if reply.kind == self.at:
            raise ConversationDeleted("Unknown Channel", self.deleted)
        if reply.kind == ReplyKind.ANSWER:
            raise OSError("502 from the platform")
        return await super().send(reply)


@pytest.mark.parametrize("deleted", ["C1", "C2"], ids=["its-channel", "another-channel"])
async def test_a_question_whose_conversation_was_deleted_is_owed_nothing(
    make_runtime: Callable[..., Runtime], clock: FakeClock, deleted: str
) -> None:
    """The question's conversation is deleted while it is answered. Before, the failure was
    apologised for and handed to people like any other: a ticket, a note and an apology for
    nobody, and a card linking nowhere. Now the event is finished, once, with none of it; a
    deleted conversation that is not the question's (a bug, another thread) still owes the
    asker their apology and ticket."""
    rt = make_runtime(TOML)
    asked = question("How long does a refund take?", "x1")
    platform = DeletedWhileAnswering(dataclasses.replace(asked.conversation, channel=deleted))
    assert await rt.bot.on_message(asked, platform) == Outcome.FAILED
    clock.advance(seconds=30)
    await rt.bot.tick({"slack": platform})  # not replayed
    await rt.bot.settle()
    owed = deleted != "C1"
    assert len(rt.state.tickets()) == owed
    assert any("went wrong" in r.text for _, r in platform.posted) is owed
    assert rt.state.db.execute("select status from inbox where key = 'slack:msg:x1'").fetchone() == (
        "failed",
    )


async def test_a_conversation_deleted_while_its_failure_is_handed_to_people_is_told_nothing_more(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """The answer failed, and the conversation was deleted before the ticket's note went out.
    Before, the plain apology was tried there too (a second refusal, a second traceback), and
    (a review found) the ticket stayed open: its card, owed, went up to staff once its claim
    lapsed, linking nowhere, with SLA reminders after it."""
    rt = make_runtime(TOML + 'triage_channel = "C-TRIAGE"\n')
    asked = question("How long does a refund take?", "x2")
    platform = DeletedWhileAnswering(asked.conversation, at=ReplyKind.ESCALATION)
    assert await rt.bot.on_message(asked, platform) == Outcome.FAILED
    assert platform.tried == [ReplyKind.ANSWER, ReplyKind.ESCALATION]
    clock.advance(hours=2)  # past the card's claim and the first SLA deadline
    await rt.bot.tick({"slack": platform})
    await rt.bot.settle()
    assert platform.cards() == [] and platform.tried == [ReplyKind.ANSWER, ReplyKind.ESCALATION]
    [ticket] = rt.state.tickets(None, None, 10)
    assert ticket.status == "closed" and ticket.next_action_at is None


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_replay_pass_that_fails_part_way_leaves_nothing_held(
    make_runtime: Callable[..., Runtime], clock: FakeClock, request: pytest.FixtureRequest, backend: str
) -> None:
    """The store fails on the second take of a batch: the first, already taken, is not kept
    in flight for good, and a later pass answers both."""
    env = _env(backend, request)
    asked = [question("How long does a refund take?", f"m{n}") for n in range(2)]
    await _left_by_a_dead_process(lambda: make_runtime(TOML, env), asked)
    clock.advance(seconds=21)
    rt = make_runtime(TOML, env)
    presence = Presence(store=rt.store, clock=clock, platforms=["slack"])
    await presence.join()
    platform = Platform()
    with (
        faults.crash_at("replay.take", after=1, error=OSError("the connection dropped")),
        pytest.raises(OSError),
    ):
        await rt.bot.replay_pending("slack", platform)
    for _ in range(2):
        clock.advance(seconds=30)
        await presence.beat()
        await rt.bot.tick({"slack": platform})
        await rt.bot.settle()
    assert len(platform.answers()) == 2
    assert [row[0] for row in rt.state.db.execute("select status from inbox").fetchall()] == ["answered"] * 2


class RefusesToLook(Platform):
    """A platform that will not let the replay look for its predecessor's post `refusals`
    times (a refused token, a workspace this worker cannot serve yet)."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals

    async def find_reply(self, message: InboundMessage) -> Posted | None:
        if self.refusals:
            self.refusals -= 1
            raise OSError("the platform refused the look")
        return await super().find_reply(message)


async def _pass(rt: Runtime, clock: FakeClock, platform: Platform) -> None:
    clock.advance(seconds=30)  # past the last take's lease
    await rt.bot.tick({"slack": platform})
    await rt.bot.settle()


async def test_a_replay_that_cannot_look_waits_then_answers_once(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    await _left_by_a_dead_process(lambda: make_runtime(TOML), [question("How long does a refund take?", "w")])
    rt = make_runtime(TOML)
    platform = RefusesToLook(refusals=3)
    for _ in range(4):
        await _pass(rt, clock, platform)
    assert len(platform.answers()) == 1
    assert rt.state.db.execute("select status from inbox").fetchall() == [("answered",)]


async def test_a_replay_the_platform_never_lets_look_is_given_up_after_its_attempts(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    await _left_by_a_dead_process(lambda: make_runtime(TOML), [question("How long does a refund take?", "n")])
    rt = make_runtime(TOML)
    platform = RefusesToLook(refusals=1000)
    for _ in range(replays.REPLAY_ATTEMPTS - 1):
        await _pass(rt, clock, platform)
    assert rt.state.db.execute("select status from inbox").fetchall() == [("replaying",)]  # still waiting
    await _pass(rt, clock, platform)
    assert rt.state.db.execute("select status from inbox").fetchall() == [("failed",)]
    # not silence: it may never have been answered, so it is handed to people, and they are told;
    # it may have been answered too (the looks got no answer), so the note does not claim it failed
    [(_, told)] = [(p, r) for p, r in platform.posted if r.conversation.channel != "C-TRIAGE"]
    assert told.kind == ReplyKind.ESCALATION
    assert told.text.startswith(say("error_unsure_lead", "en")) and say("error_lead", "en") not in told.text
    assert rt.state.db.execute("select count(*) from tickets").fetchone()[0] == 1


class TakenOverWhileLooking(RefusesToLook):
    """Refuses every look; during its last refusal this worker is paused past its lease and
    `take_over` lets another worker take the event and answer it."""

    def __init__(self, refusals: int, take_over: Callable[[], Awaitable[None]]) -> None:
        super().__init__(refusals)
        self.take_over = take_over

    async def find_reply(self, message: InboundMessage) -> Posted | None:
        if self.refusals == 1:
            await self.take_over()
        return await super().find_reply(message)


async def test_a_replay_given_up_after_another_worker_answered_it_apologises_for_nothing(
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    pg_url: str,  # noqa: F811
) -> None:
    """A worker's replay kept failing to look; paused in its last look, it was taken for dead
    and another worker answered the question. It used to give the event up anyway: its
    finish wrote nothing (the event was the other's, and done), yet it went on to say it
    could not tell whether the question was answered and opened a ticket, under an answer.
    Its finish says whether it was still its to give up; when not, it says nothing."""
    env = {"SUPPORTBOT_DATABASE_URL": pg_url}
    await _left_by_a_dead_process(
        lambda: make_runtime(TOML, env), [question("How long does a refund take?", "gone")]
    )
    a, b = make_runtime(TOML, env), make_runtime(TOML, env)
    a_presence = Presence(store=a.store, clock=clock, platforms=["slack"])
    b_presence = Presence(store=b.store, clock=clock, platforms=["slack"])
    await a_presence.join()
    await b_presence.join()
    answered_by_b = Platform()

    async def take_over() -> None:
        for _ in range(8):  # four minutes of b beating and ticking, a paused
            clock.advance(seconds=30)
            await b_presence.beat()
            await b.bot.tick({"slack": answered_by_b})
            await b.bot.settle()

    platform = TakenOverWhileLooking(replays.REPLAY_ATTEMPTS, take_over)
    for _ in range(replays.REPLAY_ATTEMPTS):
        await a_presence.beat()
        await _pass(a, clock, platform)
    assert len(answered_by_b.answers()) == 1  # b took it over and answered it
    assert platform.posted == []  # a neither apologised nor opened a ticket
    assert a.state.db.execute("select status from inbox").fetchall() == [("answered",)]
    assert a.state.db.execute("select count(*) from tickets").fetchone()[0] == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_finish_the_store_refused_is_written_at_the_next_tick(
    make_runtime: Callable[..., Runtime], clock: FakeClock, request: pytest.FixtureRequest, backend: str
) -> None:
    """The database goes away while the answer is posted: the finish (which carries the
    answer's record) is written again by the clock, so the thread is one the bot answered in
    and a follow-up there without a mention is answered, not only recorded."""
    rt = make_runtime(TOML, _env(backend, request))
    platform = Platform()
    with faults.crash_at("event.finish", error=OSError("the database went away")):
        outcome = await rt.bot.on_message(question("How long does a refund take?", "q-refused"), platform)
    assert outcome == Outcome.ANSWERED and rt.state.pending_events("slack")
    clock.advance(seconds=30)
    await rt.bot.tick({"slack": platform})
    await rt.bot.settle()
    assert rt.state.pending_events("slack") == []  # finished, not replayed: one answer
    assert len(platform.answers()) == 1
    thread = platform.posted[-1][0].conversation
    follow_up = dataclasses.replace(
        question("And are annual plans refunded too?", "q-follow"), conversation=thread, addressed=False
    )
    assert await rt.bot.on_message(follow_up, platform) == Outcome.ANSWERED


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_finish_committed_but_reported_failed_is_not_recorded_twice(
    make_runtime: Callable[..., Runtime], clock: FakeClock, request: pytest.FixtureRequest, backend: str
) -> None:
    """The connection is lost after the finish's commit: the store reports an error, and the
    clock writes the finish again; the bot's answer stays one message in the thread's history
    (the model reads it back as context)."""
    rt = make_runtime(TOML, _env(backend, request))
    platform = Platform()
    with faults.crash_at("event.finished", error=OSError("the connection was lost after the commit")):
        assert await rt.bot.on_message(question("How long does a refund take?", "q-lost"), platform) == (
            Outcome.ANSWERED
        )
    clock.advance(seconds=30)
    await rt.bot.tick({"slack": platform})
    await rt.bot.settle()
    rows = rt.state.db.execute("select count(*) from messages where role = 'bot'").fetchall()
    assert rows[0][0] == 1
    assert len(platform.answers()) == 1
