"""Workers and the cluster-wide helpers of bot/store (workers.py, jobs.py), on both backends,
and on PostgreSQL the inbox's rule that a delivery belongs to its worker while it beats."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store import REPLAY_LEASE, StateStore
from bot.store.workers import MAX_SKEW, WORKER_LEASE, WorkerRecord
from bot.types import Completion, ConversationRef, Posted
from tests.bot.store.answer_fields import answer_fields

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def worker(worker_id: str, host: str, at: datetime = T0) -> WorkerRecord:
    return WorkerRecord(
        id=worker_id,
        host=host,
        pid=4242,
        started_at=at,
        heartbeat_at=at,
        version="0.1.0",
        platforms=("slack", "discord"),
    )


def test_workers_are_listed_while_they_beat_and_gone_after_leaving(state: Path | str) -> None:
    one, two = StateStore(state), StateStore(state)
    try:
        one.register_worker(worker("w1", "host-a"))
        two.register_worker(worker("w2", "host-b"))
        assert [(w.id, w.host, w.platforms) for w in one.live_workers(T0 - timedelta(minutes=2))] == [
            ("w1", "host-a", ("slack", "discord")),
            ("w2", "host-b", ("slack", "discord")),
        ]
        later = T0 + timedelta(minutes=5)
        two.beat(later)  # one has stopped beating: no longer live
        assert [w.id for w in one.live_workers(later - timedelta(minutes=2))] == ["w2"]
        two.unregister_worker()
        assert two.worker_id is None
        assert one.live_workers(later - timedelta(minutes=2)) == []
        assert [w.id for w in one.live_workers(T0 - timedelta(minutes=1))] == ["w1"]  # left behind, aging
    finally:
        one.close()
        two.close()


def test_an_interval_is_claimed_once_and_a_released_claim_can_be_retaken(state: Path | str) -> None:
    one, two = StateStore(state), StateStore(state)
    try:
        hour, stale = timedelta(hours=1), timedelta(minutes=5)
        assert one.claim_every("retention", T0, hour, stale)
        assert not two.claim_every("retention", T0, hour, stale)
        one.finish_job("retention", T0)
        assert not two.claim_every("retention", T0 + timedelta(minutes=59), hour, stale)
        one.release_claim("retention", T0)  # the run failed: the next tick may retry
        assert two.claim_every("retention", T0 + timedelta(minutes=1), hour, stale)
        assert not one.claim_every("retention", T0 + timedelta(minutes=5), hour, stale)
        # two died holding it: once the claim is stale, another process takes the run over
        assert one.claim_every("retention", T0 + timedelta(minutes=6), hour, stale)
        assert not two.claim_every("retention", T0 + timedelta(minutes=6), hour, stale)
        one.finish_job("retention", T0 + timedelta(minutes=6))
        assert not two.claim_every("retention", T0 + timedelta(minutes=30), hour, stale)
        assert one.claim_every("retention", T0 + timedelta(minutes=66), hour, stale)
    finally:
        one.close()
        two.close()


def test_exclusive_admits_one_process_at_a_time_on_postgresql(pg_url: str) -> None:
    one, two = StateStore(pg_url), StateStore(pg_url)
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with one.exclusive("gaps") as mine:
            assert mine
            inside.set()
            leave.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(10)
        with two.exclusive("gaps", wait=False) as mine:
            assert not mine  # held elsewhere: told at once, not made to wait
        with two.exclusive("bursts:slack", wait=False) as mine:
            assert mine  # another name is another lock
    finally:
        leave.set()
        holder.join(10)
    with two.exclusive("gaps", wait=False) as mine:
        assert mine  # the holder's transaction ended: the lock went with it
    one.close()
    two.close()


def test_exclusive_on_sqlite_adds_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    with store.exclusive("gaps") as mine, store.exclusive("gaps", wait=False) as again:
        assert mine and again  # one process owns the file: nothing to wait for
    store.close()


def test_a_slow_answer_stays_with_its_worker_while_it_beats(pg_url: str) -> None:
    """On PostgreSQL a delivery older than the replay lease may still be a live worker's (a
    slow model, a queue behind the worker pool): it is only taken once its worker is silent."""
    slow, other = StateStore(pg_url), StateStore(pg_url)
    try:
        slow.register_worker(worker("w-slow", "host-a"))
        other.register_worker(worker("w-other", "host-b"))
        assert slow.claim_event("slack:msg:1", "slack", "{}", T0)
        later = T0 + REPLAY_LEASE * 3
        slow.beat(later)
        assert other.pending_events("slack", later) == []
        assert not other.take_for_replay("slack:msg:1", later)
        silent = later + WORKER_LEASE + timedelta(seconds=1)
        other.beat(silent)
        assert [key for key, _ in other.pending_events("slack", silent)] == ["slack:msg:1"]
        assert other.take_for_replay("slack:msg:1", silent)
        # the replay is now the other worker's, held while it beats
        assert not slow.take_for_replay("slack:msg:1", silent + REPLAY_LEASE * 3)
    finally:
        slow.close()
        other.close()


def test_a_finish_writes_nothing_for_an_event_another_worker_took_over(pg_url: str) -> None:
    """A worker paused past its lease between its last fence (bot/fence.py) and its finish
    used to write its finish all the same: the event marked done under the worker that took
    it, and its answer's post, the thread's activity and a second bot message recorded for
    the one post. Each write of the finish now states the event is still its own."""
    paused, other = StateStore(pg_url), StateStore(pg_url)
    thread = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="300.1")
    try:
        paused.register_worker(worker("w-paused", "host-a"))
        other.register_worker(worker("w-other", "host-b"))
        assert paused.claim_event("slack:msg:300.1", "slack", "{}", T0)
        answer_id = paused.record_answer(**answer_fields(thread, T0))
        silent = T0 + WORKER_LEASE + MAX_SKEW + timedelta(seconds=1)
        other.beat(silent)
        assert other.take_for_replay("slack:msg:300.1", silent)
        done = Completion(
            answer_id=answer_id,
            posted=Posted(message_id="300.2", conversation=thread),
            text="Five to seven business days.",
            at=silent,
            followup_due=silent + timedelta(hours=24),
        )
        assert not paused.finish_event("slack:msg:300.1", silent, "answered", done)
        assert not paused.finish_event("slack:msg:300.1", silent, "failed")
        inbox = other.db.execute("select status, worker from inbox").fetchone()
        assert inbox == ("replaying", "w-other")
        assert other.db.execute("select posted_message_id from answers").fetchone() == (None,)
        assert other.history(thread) == [] and other.conversation(thread.key) is None
        assert other.finish_event("slack:msg:300.1", silent, "answered", done)  # the holder's is written
        assert [t.text for t in other.history(thread)] == ["Five to seven business days."]
    finally:
        paused.close()
        other.close()


def test_a_finish_written_again_after_it_was_committed_writes_nothing(state: Path | str) -> None:
    """On either backend, a finish is written once: again (`again`, after an error that hid its
    commit) it changes nothing and says so."""
    store = StateStore(state)
    thread = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="400.1")
    try:
        assert store.claim_event("slack:msg:400.1", "slack", "{}", T0)
        answer_id = store.record_answer(**answer_fields(thread, T0))
        done = Completion(
            answer_id=answer_id, posted=Posted(message_id="400.2", conversation=thread), text="Yes.", at=T0
        )
        assert store.finish_event("slack:msg:400.1", T0, "answered", done)
        assert not store.finish_event("slack:msg:400.1", T0, "answered", done, again=True)
        assert [t.text for t in store.history(thread)] == ["Yes."]
        assert store.db.execute("select status from inbox").fetchone() == ("answered",)
    finally:
        store.close()


def test_a_worker_paused_past_being_forgotten_is_listed_again_and_keeps_what_it_claims(pg_url: str) -> None:
    """A worker paused for over a day (a suspended VM) whose row a newly started worker
    forgot, then resumed: its next beat writes the row again, so what it claims after is its
    own while it beats, not taken at once as a dead worker's."""
    from bot.store.workers import FORGET_AFTER

    paused, other = StateStore(pg_url), StateStore(pg_url)
    try:
        paused.register_worker(worker("w-paused", "host-a"))
        resumed = T0 + FORGET_AFTER + timedelta(minutes=1)
        other.register_worker(worker("w-new", "host-b", resumed))
        assert [w.id for w in other.live_workers(T0)] == ["w-new"]  # forgotten
        paused.beat(resumed)
        assert [w.id for w in other.live_workers(resumed - timedelta(minutes=2))] == ["w-paused", "w-new"]
        [row] = [w for w in other.live_workers(T0) if w.id == "w-paused"]
        assert (row.host, row.started_at, row.heartbeat_at) == ("host-a", T0, resumed)
        assert paused.claim_event("slack:msg:3", "slack", "{}", resumed)
        other.beat(resumed)
        assert other.pending_events("slack", resumed + REPLAY_LEASE * 3) == []
        assert not other.take_for_replay("slack:msg:3", resumed + REPLAY_LEASE * 3)
    finally:
        paused.close()
        other.close()


def test_an_orderly_shutdown_frees_its_deliveries_at_once(pg_url: str) -> None:
    leaving, staying = StateStore(pg_url), StateStore(pg_url)
    try:
        leaving.register_worker(worker("w-leaving", "host-a"))
        staying.register_worker(worker("w-staying", "host-b"))
        assert leaving.claim_event("slack:msg:2", "slack", "{}", T0)
        leaving.unregister_worker()
        assert staying.take_for_replay("slack:msg:2", T0 + timedelta(seconds=1))
    finally:
        leaving.close()
        staying.close()


@pytest.mark.parametrize("shared", [False, True])
def test_a_store_outside_a_running_bot_keeps_the_replay_lease(
    shared: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    target: Path | str = request.getfixturevalue("pg_url") if shared else tmp_path / "state.db"
    store = StateStore(target)
    try:
        assert store.claim_event("slack:msg:3", "slack", "{}", T0)
        after = T0 + REPLAY_LEASE + timedelta(seconds=1)
        assert [key for key, _ in store.pending_events("slack", after)] == ["slack:msg:3"]
    finally:
        store.close()


def test_silence_does_not_count_while_this_worker_could_not_beat(tmp_path: Path) -> None:
    """An outage silences every worker at once: a worker whose own heartbeat failed judges no
    other dead by its silence until each has had a whole lease to beat again."""
    path = tmp_path / "state.db"
    judge, dead = StateStore(path, busy_timeout=0.05), StateStore(path)
    holder = sqlite3.connect(path)
    try:
        judge.register_worker(worker("w-judge", "host-a"))
        dead.register_worker(worker("w-dead", "host-b"))
        later = T0 + WORKER_LEASE * 2
        both = ["w-dead", "w-judge"]
        assert sorted(judge.live_workers_now(later)) == both  # silent, but not yet watched
        holder.execute("begin exclusive")  # the database out of reach: the beat fails
        with pytest.raises(sqlite3.OperationalError):
            judge.beat(later + timedelta(seconds=30))
        # away longer than the lease and the skew allowed: no worker could beat meanwhile
        back = later + WORKER_LEASE + MAX_SKEW
        assert sorted(judge.live_workers_now(back)) == both
        holder.rollback()
        judge.beat(back)  # back: the others get a lease to beat again, watched meanwhile
        assert sorted(judge.live_workers_now(back)) == both
        assert sorted(judge.live_workers_now(back + WORKER_LEASE - timedelta(seconds=1))) == both
        assert judge.live_workers_now(back + WORKER_LEASE) == ["w-judge"]
    finally:
        holder.close()
        judge.close()
        dead.close()


def test_status_lists_the_workers_the_inbox_takes_for_live_whatever_their_clocks(state: Path | str) -> None:
    """What `/support status` and `supportbot doctor` list (`live_worker_records`) follows the
    inbox's rule: a worker beating with its clock three minutes behind is listed (a window of
    the reader's clock said it was gone), and one that stopped is dropped once watched
    silent for a lease; a one-shot reader lists it until a lease and MAX_SKEW have passed."""
    judge, behind = StateStore(state), StateStore(state)
    try:
        judge.register_worker(worker("w-judge", "host-a"))
        behind.register_worker(worker("w-behind", "host-b", T0 - timedelta(minutes=3)))
        now = T0
        for _ in range(4):
            now += timedelta(seconds=30)
            behind.beat(now - timedelta(minutes=3))
            judge.beat(now)
            assert [(w.id, w.host) for w in judge.live_worker_records(now)] == [
                ("w-judge", "host-a"),
                ("w-behind", "host-b"),
            ]
        stopped = now
        once = StateStore(state)  # supportbot doctor: a look at the heartbeats, nothing watched
        try:
            while now - stopped < WORKER_LEASE + timedelta(seconds=30):
                now += timedelta(seconds=30)
                judge.beat(now)
                judge.live_worker_records(now)
            assert [w.id for w in judge.live_worker_records(now)] == ["w-judge"]
            assert [w.id for w in once.live_worker_records(now)] == ["w-judge", "w-behind"]
            later = stopped - timedelta(minutes=3) + WORKER_LEASE + MAX_SKEW + timedelta(seconds=1)
            again = StateStore(state)
            assert "w-behind" not in [w.id for w in again.live_worker_records(later)]
            again.close()
        finally:
            once.close()
    finally:
        judge.close()
        behind.close()


@pytest.mark.parametrize("skew", [timedelta(seconds=70), timedelta(hours=-1)], ids=["behind", "ahead"])
def test_a_worker_whose_clock_is_off_is_live_while_it_beats_and_dead_when_it_stops(
    state: Path | str, skew: timedelta
) -> None:
    """Hosts whose clocks disagree: a worker stamping its beats 70 s behind (or an hour ahead
    of) the judge's clock is live as long as its heartbeat changes, and dead once the judge
    has watched it stay the same for a whole lease."""
    judge, behind = StateStore(state), StateStore(state)
    try:
        judge.register_worker(worker("w-judge", "host-a"))
        behind.register_worker(worker("w-behind", "host-b"))
        now = T0
        for _ in range(6):  # three leases of beats, every 30 s, each stamped off by `skew`
            now += timedelta(seconds=30)
            behind.beat(now - skew)
            judge.beat(now)
            assert sorted(judge.live_workers_now(now)) == ["w-behind", "w-judge"]
        stopped = now  # its process dies
        while now - stopped < WORKER_LEASE:
            assert "w-behind" in judge.live_workers_now(now)
            now += timedelta(seconds=30)
        assert judge.live_workers_now(now) == ["w-judge"]
        # a worker that starts later: a heartbeat older than the lease and the skew allowed is
        # dead at first sight; one stamped ahead of its clock is watched for a lease first
        newcomer = StateStore(state)
        try:
            newcomer.register_worker(worker("w-new", "host-c", now))
            later = now + WORKER_LEASE + MAX_SKEW
            if skew > timedelta(0):
                assert newcomer.live_workers_now(later) == ["w-new"]
            else:
                assert sorted(newcomer.live_workers_now(later)) == ["w-behind", "w-new"]
                assert newcomer.live_workers_now(later + WORKER_LEASE) == ["w-new"]
        finally:
            newcomer.close()
    finally:
        judge.close()
        behind.close()
