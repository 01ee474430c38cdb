"""Several processes on one PostgreSQL database: three runtimes (each its own data dir, its own
store connection and thread, one shared clock) tick together, and each timed job acts once.
Also: `supportbot run`'s data-dir lock, the workers list, and `supportbot migrate`."""

from __future__ import annotations

import asyncio
import io
import itertools
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from adapters.console import ConsoleChannel
from bot import faults
from bot.app import Runtime, build_runtime
from bot.cli import app
from bot.cluster import Presence
from bot.config import load_settings
from bot.errors import SupportBotError
from bot.escalation.sla import FIRING_LEASE
from bot.insights.gaps import ALL
from bot.instance import InstanceLock
from bot.store.gaps import GapKind
from bot.store.incidents import IncidentStatus
from bot.store.jobs import POST_LEASE
from bot.store.migrations import STATE_MIGRATIONS
from bot.store.ticket_posts import CARD_LEASE
from bot.types import (
    Author,
    Command,
    ConversationRef,
    InboundMessage,
    Posted,
    Reply,
    ReplyKind,
    Visibility,
)
from tests.bot.escalation.test_sla import Interleaved
from tests.bot.test_exactly_once import _talk_to_a_person as talk_to_a_person
from tests.fakes.clock import FakeClock

TOML = """
[slack]
staff_users = ["U-STAFF"]
staff_groups = ["S1"]
triage_channel = "C-TRIAGE"
[insights]
digest_channel = "CDIGEST"
burst_window_minutes = 30
burst_min_askers = 4
burst_cooldown_minutes = 120
[privacy]
retention_days = 30
"""
_ids = itertools.count(1)
Cluster = Callable[[int], list[Runtime]]
PASSWORD = [
    "How do I reset my password?",
    "I forgot my password, how can I reset it?",
    "how to reset password",
    "Where do I reset my password?",
]


def incident(args: str) -> Command:
    return Command(
        id=f"c{next(_ids)}",
        name="incident",
        args=args,
        invoker=Author(id="U-STAFF", name="Sam"),
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-TRIAGE"),
        visibility=Visibility.INTERNAL,
    )


def ask(text: str, user: str, clock: FakeClock) -> InboundMessage:
    return InboundMessage(
        id=f"k{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-GENERAL"),
        author=Author(id=user, name=user),
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=clock.now(),
    )


@pytest.fixture
def cluster(tmp_path: Path, knowledge_dir: Path, pg_url: str, clock: FakeClock) -> Iterator[Cluster]:
    yield from workers_of(TOML, tmp_path, knowledge_dir, pg_url, clock)


def workers_of(
    toml: str, tmp_path: Path, knowledge_dir: Path, pg_url: str, clock: FakeClock
) -> Iterator[Cluster]:
    """`n` runtimes on the test's database, as `n` workers would be: one data dir each, one
    config (`toml`) and one knowledge folder for all."""
    made: list[Runtime] = []
    config = tmp_path / "supportbot.toml"
    config.write_text(textwrap.dedent(toml), encoding="utf-8")

    def make(n: int) -> list[Runtime]:
        for _ in range(n):
            settings = load_settings(
                config=config,
                knowledge=knowledge_dir,
                data=tmp_path / f"worker-{len(made)}",
                env={"SUPPORTBOT_DATABASE_URL": pg_url},
            )
            made.append(build_runtime(settings, clock=clock))
        return made[-n:]

    yield make
    for runtime in made:
        runtime.close()


def channels(n: int) -> list[ConsoleChannel]:
    return [ConsoleChannel(io.StringIO()) for _ in range(n)]


def posted(chans: list[ConsoleChannel], where: str | None = None, containing: str = "") -> list[str]:
    return [
        r.text
        for c in chans
        for _, r in c.posted
        if (where is None or r.conversation.channel == where) and containing in r.text
    ]


async def tick_all(runtimes: list[Runtime], chans: list[ConsoleChannel]) -> None:
    await asyncio.gather(*(rt.bot.tick({"slack": c}) for rt, c in zip(runtimes, chans, strict=True)))


async def test_an_sla_reminder_fires_once_when_three_workers_tick(cluster: Cluster, clock: FakeClock) -> None:
    runtimes, chans = cluster(3), channels(3)
    await runtimes[0].bot.on_message(ask("I want to talk to a human", "U1", clock), chans[0])
    clock.advance(minutes=16)
    for _ in range(3):
        await tick_all(runtimes, chans)
    assert len(posted(chans, containing="still has no response")) == 1


async def test_a_reminder_is_said_by_another_worker_when_the_one_posting_it_dies(
    cluster: Cluster, clock: FakeClock
) -> None:
    dying, living = cluster(2)
    doomed, chans = Interleaved(), channels(1)
    await living.bot.on_message(ask("I want to talk to a human", "U1", clock), chans[0])
    clock.advance(minutes=16)

    async def dies() -> None:
        raise faults.Crash("kill -9 while the reminder is on its way")

    doomed.when = lambda reply: "still has no response" in reply.text
    doomed.meanwhile = dies
    with pytest.raises(faults.Crash):
        await dying.bot.tick({"slack": doomed})
    for _ in range(3):
        clock.advance(seconds=FIRING_LEASE.total_seconds() / 2)
        await living.bot.tick({"slack": chans[0]})
    assert len(posted(chans, containing="still has no response")) == 1


class StuckPeer(ConsoleChannel):
    """A platform that takes the post `when` matches while another session (a peer stuck in its
    transaction) locks the rows `lock` selects, which the bot writes next: the bot's first
    statement on them waits out its lock_timeout and is refused, and the rows are freed once
    it has been (`_free_after_a_refusal`), so a try after it goes through."""

    def __init__(self, url: str, when: Callable[[Reply], bool], lock: str) -> None:
        super().__init__(io.StringIO())
        self.url, self.when, self.lock = url, when, lock
        self.freeing: threading.Thread | None = None

    async def send(self, reply: Reply) -> Posted:
        if self.freeing is None and self.when(reply):
            holder = psycopg.connect(self.url)
            holder.execute(self.lock)
            self.freeing = threading.Thread(target=_free_after_a_refusal, args=(self.url, holder))
            self.freeing.start()
        return await super().send(reply)

    def freed(self) -> bool:
        assert self.freeing is not None
        self.freeing.join()
        return True


def _free_after_a_refusal(url: str, holder: psycopg.Connection[Any]) -> None:
    """Roll `holder` back once a session that waited for its locks stopped waiting: refused."""
    pid = holder.info.backend_pid
    with psycopg.connect(url, autocommit=True) as watcher:
        waited = False
        for _ in range(1200):  # a minute at most
            row = watcher.execute(
                "select count(*) from pg_stat_activity where %s = any(pg_blocking_pids(pid))", [pid]
            ).fetchone()
            if row is not None and row[0]:
                waited = True
            elif waited:
                break
            time.sleep(0.05)
    holder.rollback()
    holder.close()


async def test_a_reminder_is_said_once_when_the_store_refuses_its_step_once(
    cluster: Cluster, clock: FakeClock, pg_url: str
) -> None:
    saying, other = cluster(2)
    stuck = StuckPeer(
        pg_url, lambda r: "still has no response" in r.text, "select id from tickets for update"
    )
    chans = [stuck, *channels(1)]
    await saying.bot.on_message(ask("I want to talk to a human", "U1", clock), stuck)
    clock.advance(minutes=16)
    await saying.bot.tick({"slack": stuck})
    assert stuck.freed()
    for _ in range(3):
        clock.advance(seconds=FIRING_LEASE.total_seconds() / 2)
        await other.bot.tick({"slack": chans[1]})
    assert len(posted(chans, containing="still has no response")) == 1


async def test_a_burst_alert_is_posted_once_when_the_store_refuses_marking_it_once(
    cluster: Cluster, clock: FakeClock, pg_url: str
) -> None:
    alerting, other = cluster(2)
    stuck = StuckPeer(
        pg_url, lambda r: r.conversation.channel == "C-TRIAGE", "select id from bursts for update"
    )
    chans = [stuck, *channels(1)]
    for n, text in enumerate(PASSWORD):
        await alerting.bot.on_message(ask(text, f"U{n}", clock), stuck)
    await alerting.bot.settle()
    assert stuck.freed()
    for _ in range(3):
        clock.advance(seconds=POST_LEASE.total_seconds())
        await other.bot.tick({"slack": chans[1]})
    assert len(posted(chans, where="C-TRIAGE", containing="people asked about the same thing")) == 1


async def test_a_thread_is_told_once_when_the_store_refuses_marking_it_told_once(
    cluster: Cluster, clock: FakeClock, pg_url: str
) -> None:
    closing, other = cluster(2)
    closed = "**Update on the known issue:**"
    stuck = StuckPeer(
        pg_url, lambda r: r.text.startswith(closed), "select id from incident_notices for update"
    )
    chans = [stuck, *channels(1)]
    await closing.bot.on_command(incident("open Password resets are failing; we are on it"), stuck)
    [known] = closing.state.incidents("slack", IncidentStatus.OPEN)
    await other.bot.on_message(ask(PASSWORD[0], "U1", clock), chans[1])
    assert chans[1].posted[-1][1].text.startswith("**Known issue:**")
    await closing.bot.on_command(incident(f"close #{known.id} Fixed at 11:05."), stuck)
    assert stuck.freed()
    assert f"Incident #{known.id} closed; 1 thread(s)" in stuck.posted[-1][1].text
    for _ in range(3):
        clock.advance(seconds=POST_LEASE.total_seconds())
        await other.bot.tick({"slack": chans[1]})
    assert len(posted(chans, containing=closed)) == 1


async def test_the_digest_is_posted_once_when_the_store_refuses_marking_it_done_once(
    cluster: Cluster, clock: FakeClock, pg_url: str
) -> None:
    posting, other = cluster(2)
    stuck = StuckPeer(
        pg_url, lambda r: r.conversation.channel == "CDIGEST", "select key from job_runs for update"
    )
    chans = [stuck, *channels(1)]
    await posting.bot.on_message(ask("How long does a refund take to arrive?", "U1", clock), chans[1])
    clock.advance(days=7)
    await posting.bot.tick({"slack": stuck})
    assert stuck.freed()
    for _ in range(3):  # past the digest's stale claim: before, another worker posted it again
        clock.advance(minutes=10)
        await other.bot.tick({"slack": chans[1]})
    assert len(posted(chans, where="CDIGEST", containing="Weekly support digest")) == 1


class HeldTriage(ConsoleChannel):
    """A post to the triage channel that goes out only when the test lets it: slack_sdk's tries
    on a 5xx or a rate limit, each with its 30 s timeout or Retry-After wait."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.entered, self.go_on = asyncio.Event(), asyncio.Event()

    async def send(self, reply: Reply) -> Posted:
        if reply.conversation.channel == "C-TRIAGE":
            self.entered.set()
            await self.go_on.wait()
        return await super().send(reply)


async def test_a_burst_alert_slow_to_post_is_posted_once(cluster: Cluster, clock: FakeClock) -> None:
    """Three tries of 30 s and their back-off: another worker's clock does not take the alert's
    claim for a dead worker's meanwhile (at a 90 s lease it posted the alert a second time)."""
    alerting, other = cluster(2)
    slow = HeldTriage()
    chans = [slow, *channels(1)]
    for n, text in enumerate(PASSWORD[:3]):
        await alerting.bot.on_message(ask(text, f"U{n}", clock), chans[1])
    fourth = asyncio.create_task(alerting.bot.on_message(ask(PASSWORD[3], "U9", clock), slow))
    await asyncio.wait_for(slow.entered.wait(), 10)
    clock.advance(minutes=2)
    await other.bot.tick({"slack": chans[1]})
    slow.go_on.set()
    await asyncio.wait_for(fourth, 10)
    await alerting.bot.settle()
    assert len(posted(chans, where="C-TRIAGE", containing="people asked about the same thing")) == 1


async def test_the_digest_is_posted_once_by_three_workers(cluster: Cluster, clock: FakeClock) -> None:
    runtimes, chans = cluster(3), channels(3)
    await runtimes[1].bot.on_message(ask("How long does a refund take to arrive?", "U1", clock), chans[1])
    clock.advance(days=7)
    for _ in range(3):
        await tick_all(runtimes, chans)
    assert len(posted(chans, where="CDIGEST", containing="Weekly support digest")) == 1


async def test_retention_purges_once_per_hour_across_workers(cluster: Cluster, clock: FakeClock) -> None:
    runtimes, chans = cluster(3), channels(3)
    start = clock.now()
    await runtimes[0].bot.on_message(ask("How long does a refund take to arrive?", "U1", clock), chans[0])
    purge_at = clock.advance(days=31)
    purged = await asyncio.gather(*(rt.bot.retention.tick() for rt in runtimes))
    assert sorted(n > 0 for n in purged) == [False, False, True]
    assert texts(runtimes[2]) == []

    clock.current = start + timedelta(minutes=1)  # another old question (recorded in the past)
    await runtimes[1].bot.on_message(ask("Are annual plans refunded?", "U2", clock), chans[1])
    clock.current = purge_at + timedelta(minutes=30)  # past the window, but not an hour later
    assert await asyncio.gather(*(rt.bot.retention.tick() for rt in runtimes)) == [0, 0, 0]
    assert texts(runtimes[0]) == ["Are annual plans refunded?"]
    clock.current = purge_at + timedelta(minutes=61)
    purged = await asyncio.gather(*(rt.bot.retention.tick() for rt in runtimes))
    assert sorted(n > 0 for n in purged) == [False, False, True]
    assert texts(runtimes[1]) == []


def texts(rt: Runtime) -> list[str]:
    """The questions whose text is still kept."""
    return [r["question"] for r in rt.state.db["answers"].rows if r["question"]]


async def test_the_same_unanswered_questions_make_one_gap(cluster: Cluster, clock: FakeClock) -> None:
    runtimes, chans = cluster(3), channels(3)
    export = [
        "How do I export my invoices to CSV?",
        "Can I export invoices as a CSV file?",
        "export invoices csv",
    ]
    for n, (rt, c, text) in enumerate(zip(runtimes, chans, export, strict=True)):
        await rt.bot.on_message(ask(text, f"U{n}", clock), c)
    await asyncio.gather(*(rt.bot.insights.gaps.sync() for rt in runtimes for _ in range(2)))
    gaps = [g for g in runtimes[0].state.gaps("slack", ALL) if g.kind == GapKind.HARD]
    assert [g.asks for g in gaps] == [3]


async def test_a_burst_seen_by_several_workers_is_announced_once(cluster: Cluster, clock: FakeClock) -> None:
    runtimes, chans = cluster(3), channels(3)
    asked = [
        "How do I reset my password?",
        "I forgot my password, how can I reset it?",
        "how to reset password",
    ]
    for n, text in enumerate(asked):
        await runtimes[0].bot.on_message(ask(text, f"U{n}", clock), chans[0])
    assert posted(chans, where="C-TRIAGE") == []
    # the fourth and fifth askers reach two other workers at the same moment
    await asyncio.gather(
        runtimes[1].bot.on_message(ask("Where do I reset my password?", "U3", clock), chans[1]),
        runtimes[2].bot.on_message(ask("Can I reset my password somehow?", "U4", clock), chans[2]),
    )
    alerts = posted(chans, where="C-TRIAGE", containing="people asked about the same thing")
    assert len(alerts) == 1
    assert len(runtimes[0].state.bursts_since("slack", clock.now() - timedelta(hours=1))) == 1


async def test_a_second_worker_with_its_own_data_dir_starts_and_a_shared_one_is_refused(
    cluster: Cluster, tmp_path: Path
) -> None:
    first = InstanceLock(tmp_path / "worker-0", shared=True)
    first.acquire()
    try:
        with pytest.raises(
            SupportBotError, match="its own data folder with --data DIR: they share the database"
        ):
            InstanceLock(tmp_path / "worker-0", shared=True).acquire()
        with InstanceLock(tmp_path / "worker-1", shared=True):
            one, two = cluster(2)  # worker-0 and worker-1: both open the database and their index
            assert one.state.shared and two.state.shared
            assert (tmp_path / "worker-1" / "index").is_dir()
    finally:
        first.release()


async def test_workers_are_listed_in_status_and_disappear_after_shutdown(
    cluster: Cluster, clock: FakeClock
) -> None:
    runtimes, chans = cluster(3), channels(3)
    presences = [Presence(store=rt.store, clock=clock, platforms=["slack"]) for rt in runtimes]
    for p in presences:
        await p.join()
    status = Command(
        id="c-status",
        name="status",
        args="",
        invoker=Author(id="U-STAFF", name="Sam"),
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-TEAM"),
        visibility=Visibility.INTERNAL,
    )
    await runtimes[0].bot.on_command(status, chans[0])
    assert "Workers: 3 live (" in chans[0].posted[-1][1].text

    await presences[2].leave()  # an orderly shutdown
    clock.advance(minutes=3)
    await presences[0].beat()  # the second one stopped beating (a kill -9)
    live = runtimes[0].state.live_workers(clock.now() - timedelta(minutes=2))
    assert [w.id for w in live] == [presences[0].id]
    await runtimes[0].bot.on_command(status, chans[0])
    assert "Workers: 1 live (" in chans[0].posted[-1][1].text


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_supportbot_migrate_says_what_ran(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {"SUPPORTBOT_DATABASE_URL": request.getfixturevalue("pg_url")} if backend == "postgres" else {}
    runner = CliRunner()
    args = ["migrate", "--data", str(tmp_path / "data")]
    first = runner.invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert f"applied {len(STATE_MIGRATIONS)} migration(s)" in first.output and "0001_initial" in first.output
    assert "0008_slack_installations" in first.output and STATE_MIGRATIONS[-1][0] in first.output
    second = runner.invoke(app, args, env=env)
    assert second.exit_code == 0 and "up to date" in second.output
    if backend == "postgres":
        assert not (tmp_path / "data" / "state.db").exists()


class HeldNote(ConsoleChannel):
    """The escalation note waits until the test lets it go: a slow post on worker A."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.reached, self.go_on = asyncio.Event(), asyncio.Event()

    async def send(self, reply: Reply) -> Posted:
        if reply.kind == ReplyKind.ESCALATION and not reply.ephemeral_to:
            self.reached.set()
            await self.go_on.wait()
        return await super().send(reply)


async def test_talk_to_a_person_pressed_on_two_workers_tells_the_thread_once(cluster: Cluster) -> None:
    """A double click whose presses reach two workers: A opens the ticket and is posting its
    note (staff tagged) when B takes the second press. B finds the ticket A opened moments ago
    and tells the presser privately; before, B posted the whole note too, tagging staff twice."""
    a, b = cluster(2)
    slow, other = HeldNote(), ConsoleChannel(io.StringIO())
    press = talk_to_a_person()
    first = asyncio.create_task(a.bot.on_action(press, slow))
    await asyncio.wait_for(slow.reached.wait(), 10)
    await b.bot.on_action(replace(press, id="press-2"), other)
    slow.go_on.set()
    await asyncio.wait_for(first, 10)
    notes = [r for ch in (slow, other) for _, r in ch.posted if r.conversation.channel == "C1"]
    public = [r for r in notes if not r.ephemeral_to]
    assert len(public) == 1 and public[0].mentions and "ticket #1" in public[0].text
    [private] = [r for r in notes if r.ephemeral_to == "U-ASK"]
    assert "already with the support team" in private.text and not private.mentions
    assert len(a.state.tickets()) == 1


class DiesAtTheNote(ConsoleChannel):
    """Worker A is killed as it is about to post the escalation note."""

    async def send(self, reply: Reply) -> Posted:
        if reply.kind == ReplyKind.ESCALATION:
            raise faults.Crash("kill -9 before the note")
        return await super().send(reply)


async def test_a_press_after_the_openers_lease_announces_a_ticket_its_dead_opener_never_did(
    cluster: Cluster, clock: FakeClock
) -> None:
    """A opened the ticket and died before telling the thread. A press on B within the
    opener's lease is told privately (A may be posting still); one after it says the whole
    note, staff tagged: the ticket is never left unannounced."""
    a, b = cluster(2)
    press = talk_to_a_person()
    with pytest.raises(faults.Crash):
        await a.bot.on_action(press, DiesAtTheNote(io.StringIO()))
    other = ConsoleChannel(io.StringIO())
    await b.bot.on_action(replace(press, id="press-2"), other)
    assert [r.ephemeral_to for _, r in other.posted if r.conversation.channel == "C1"] == ["U-ASK"]
    clock.advance(seconds=CARD_LEASE.total_seconds() + 1)
    await b.bot.on_action(replace(press, id="press-3"), other)
    [note] = [r for _, r in other.posted if r.conversation.channel == "C1" and not r.ephemeral_to]
    assert note.mentions and "ticket #1" in note.text
