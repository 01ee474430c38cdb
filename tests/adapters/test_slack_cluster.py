"""Slack in HTTP mode with several workers on one PostgreSQL: real `supportbot run` processes.

Two, then three, `python -m bot run` children (each its own data dir, one database through
SUPPORTBOT_DATABASE_URL, SLACK_API_URL at the fake Slack, the model at the fake OpenAI) stand
behind a pretend load balancer: this test. The harness (starting a worker, signing and posting
an event, following each question's thread in the fake's journal) is bench/cluster_throughput.py's,
so the benchmark and this test drive the cluster the same way.

What must hold, whatever process receives what:
* the same event delivered to different workers, and Slack's retries (`X-Slack-Retry-Num`) to
  yet others, is answered exactly once: one bot message in its thread, a complete answer, and
  one model call;
* a worker killed with SIGKILL in the middle of streaming an answer leaves it to another worker,
  which takes it over once the dead one's heartbeat is older than the lease
  (SUPPORTBOT_WORKER_LEASE_SECONDS, seconds here instead of 90) and finishes it in the message
  already posted: nothing lost, nothing doubled.

Waits are on the fake Slack's journal of calls. The one bounded poll reads the inbox, which has
no event to wait on, after the answers are visible.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from adapters.slack.manifest import BOT_SCOPES
from bench.cluster_throughput import (
    ANSWER_TEXT,
    ROOT,
    USERS,
    Threads,
    Worker,
    ask,
    post_event,
    start_workers,
    worker_env,
    write_config,
)
from bench.schemas import fresh_schema
from tests.fakes.openai_server import Answer, FakeOpenAI, RecordedRequest
from tests.fakes.slack_server import ApiCall, FakeSlack

pytest.importorskip("psycopg")

LEASE_SECONDS = 3.0  # each worker then beats and looks for abandoned work every second
QUESTIONS = 6
WAIT = 30.0  # bound on any one wait; a healthy run needs a fraction of it


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server for this module (SUPPORTBOT_TEST_DATABASE_URL, or pgserver).

    Its data lives outside pytest's temp folder: run as root, pgserver's server runs as another
    user, and a pytest session starting meanwhile sets /tmp/pytest-of-root back to 0700, which
    locks that user out of its own files (initdb fails with "Permission denied")."""
    given = os.environ.get("SUPPORTBOT_TEST_DATABASE_URL")
    if given:
        yield given
        return
    pgserver = pytest.importorskip("pgserver")
    with tempfile.TemporaryDirectory(prefix="supportbot-pg-cluster-") as pgdata:
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
        try:
            yield str(server.get_uri())
        finally:
            server.cleanup()


@dataclass
class Cluster:
    slack: FakeSlack
    openai: FakeOpenAI
    workers: list[Worker]
    threads: Threads
    database_url: str
    http: aiohttp.ClientSession

    async def deliver(self, worker: Worker, body: bytes, retry_num: int | None = None) -> None:
        status = await post_event(self.http, worker, body, self.slack.signing_secret, retry_num)
        assert status == 200  # acknowledged: Slack would not retry it further

    def inbox(self) -> dict[str, int]:
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute("select status, count(*) from inbox group by status").fetchall()
        return {str(status): int(count) for status, count in rows}

    async def settled(self) -> dict[str, int]:
        """The inbox once nothing in it is pending or being replayed (bounded: WAIT seconds)."""
        deadline = time.monotonic() + WAIT
        while True:
            inbox = await asyncio.to_thread(self.inbox)
            if not inbox.get("pending") and not inbox.get("replaying"):
                return inbox
            assert time.monotonic() < deadline, f"the inbox never settled: {inbox}"
            await asyncio.sleep(0.05)


@pytest.fixture(params=[2, 3], ids=["2-workers", "3-workers"])
async def cluster(request: pytest.FixtureRequest, pg_server: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    async with AsyncExitStack() as stack:
        # entered first, left last: the schema is dropped once every worker has stopped
        database_url = stack.enter_context(fresh_schema(pg_server))
        slack = await stack.enter_async_context(FakeSlack(bot_scopes=BOT_SCOPES))
        openai = await stack.enter_async_context(
            FakeOpenAI(default_reply=lambda _: Answer(ANSWER_TEXT, words_per_chunk=3))
        )
        for user in USERS:
            slack.add_user(user, f"user-{user.lower()}")
        threads = Threads(slack)
        env = worker_env(slack, openai, database_url, lease_seconds=LEASE_SECONDS)
        workers = await start_workers(
            request.param, tmp_path, env, write_config(tmp_path), ROOT / "knowledge"
        )
        try:
            http = await stack.enter_async_context(aiohttp.ClientSession())
            yield Cluster(slack, openai, workers, threads, database_url, http)
        finally:
            await asyncio.gather(*(w.stop() for w in workers))


async def test_each_question_is_answered_once_whichever_worker_gets_it_or_dies(cluster: Cluster) -> None:
    # one cluster for both stories: starting the workers is most of the cost
    each_worker_keeps_its_threads_on_one_cpu(cluster)
    await deliveries_to_several_workers_and_retries_are_answered_once(cluster)
    await a_worker_killed_mid_answer_is_finished_by_another_once(cluster)


def each_worker_keeps_its_threads_on_one_cpu(cluster: Cluster) -> None:
    """`supportbot run` keeps its Python threads on one CPU (`[run] cpu = "auto"`,
    bot/cpu_affinity.py), each worker on a CPU of its own choosing."""
    allowed = os.sched_getaffinity(0)
    for worker in cluster.workers:
        kept = os.sched_getaffinity(worker.process.pid)  # the worker's main thread
        if len(allowed) > 1:
            assert len(kept) == 1 and kept <= allowed, kept
            assert worker.count("bot.cpu_affinity: kept the bot's") == 1, worker.log_tail()
        else:
            assert kept == allowed


async def deliveries_to_several_workers_and_retries_are_answered_once(cluster: Cluster) -> None:
    workers = cluster.workers
    n = len(workers)
    asked = [ask(cluster.slack, q) for q in range(QUESTIONS)]
    # each event goes to one worker, again to the next one (a load balancer sending it twice),
    # and Slack's retries 1 and 2 go to the workers after that: all at once, so claims race
    await asyncio.gather(
        *(
            delivery
            for q, (_, body) in enumerate(asked)
            for delivery in (
                cluster.deliver(workers[q % n], body),
                cluster.deliver(workers[(q + 1) % n], body),
                cluster.deliver(workers[(q + 2) % n], body, retry_num=1),
                cluster.deliver(workers[(q + 3) % n], body, retry_num=2),
            )
        )
    )
    await cluster.threads.wait(
        lambda: cluster.threads.answered.issuperset(ts for ts, _ in asked), WAIT, "every question answered"
    )
    inbox = await cluster.settled()
    assert sum(inbox.values()) == QUESTIONS  # one row per event, however many deliveries

    for ts, _ in asked:
        assert cluster.threads.messages(ts) == 1, f"question {ts}: {cluster.threads.posts.get(ts)}"
        [reply] = [m for m in cluster.slack.thread("C111", ts) if m["ts"] != ts]
        assert ANSWER_TEXT.split(" [")[0] in str(reply["text"])
    assert len(cluster.openai.chat_requests) == QUESTIONS  # each question worked on by one worker only
    # every worker took part: each one recognised a delivery it was sent as one already claimed
    assert all(w.count("duplicate event") >= 1 for w in workers)


async def a_worker_killed_mid_answer_is_finished_by_another_once(cluster: Cluster) -> None:
    victim, *survivors = cluster.workers
    model_calls = len(cluster.openai.chat_requests)
    rows = sum(cluster.inbox().values())
    ts, body = ask(cluster.slack, QUESTIONS)
    calls = 0

    def slow_first(request: RecordedRequest) -> Answer:
        # the victim's model call streams for seconds (it dies well before the end: the first
        # edit comes a second after the first post); the replay's is quick
        nonlocal calls
        calls += 1
        if calls == 1:
            return Answer(ANSWER_TEXT, chunk_delay=0.5)
        return Answer(ANSWER_TEXT, words_per_chunk=3)

    cluster.openai.default_reply = slow_first
    await cluster.deliver(victim, body)

    # the answer is being streamed into its message: posted (and so noted in the inbox, which
    # happens before anything is streamed into it), then edited at least once
    posted = await cluster.threads.wait_for_call(
        lambda c: c.method == "chat.postMessage" and c.ok and c.params.get("thread_ts") == ts,
        WAIT,
        "first post",
    )
    message_ts = str((posted.response or {})["ts"])

    def edited(call: ApiCall) -> bool:
        return call.method == "chat.update" and call.ok and call.params.get("ts") == message_ts

    await cluster.threads.wait_for_call(edited, WAIT, "streamed edit")
    await victim.kill()
    assert cluster.threads.partial[message_ts]  # killed mid-answer, not after it

    # Slack's retry reaches a survivor: the event is known (claimed by the dead worker), so it
    # is not answered a second time from here; the takeover comes from the lease
    await cluster.deliver(survivors[0], body, retry_num=1)
    # the survivors keep answering new questions meanwhile
    others = [ask(cluster.slack, QUESTIONS + q) for q in range(1, 3)]
    await asyncio.gather(
        *(cluster.deliver(survivors[q % len(survivors)], b) for q, (_, b) in enumerate(others))
    )

    expected = {ts, *(t for t, _ in others)}
    await cluster.threads.wait(
        lambda: cluster.threads.answered.issuperset(expected), LEASE_SECONDS + WAIT, "taken over and answered"
    )
    inbox = await cluster.settled()
    assert sum(inbox.values()) == rows + 3

    assert cluster.threads.messages(ts) == 1  # the replay finished the dead worker's message
    assert not cluster.threads.partial[message_ts]
    [reply] = [m for m in cluster.slack.thread("C111", ts) if m["ts"] != ts]
    assert reply["ts"] == message_ts and not str(reply["text"]).endswith("…")
    # the dead worker's call, the one replay, and one each for the other questions
    assert len(cluster.openai.chat_requests) == model_calls + 2 + len(others)
    assert sum(w.count("replaying an unfinished message") for w in survivors) == 1
    for other, _ in others:
        assert cluster.threads.messages(other) == 1
