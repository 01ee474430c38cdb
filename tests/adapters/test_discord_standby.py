"""Two workers, one Discord bot: one holds the gateway, the other stands by and takes over.

Two runtimes (each its own data dir) share one PostgreSQL database and one FakeDiscord. Each
Discord adapter gets its own gateway lease (bot/store/leases.py, a session advisory lock);
the standby retries every few milliseconds here. A holder "dies" the way `kill -9` does:
its task is cancelled and its code never gets to release the lease (`DyingLease`); then
the server ends its database session, as the kernel closing its socket would make it.

Nothing sleeps: every wait is on an event (the fake's journal, the adapter's readiness or
standby) with a bound.
"""

from __future__ import annotations

import asyncio
import logging
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from adapters.discord import DiscordAdapter
from adapters.discord.standby import GATEWAY_LEASE, catch_up
from bot.app import Runtime, build_runtime
from bot.config import load_settings
from bot.ports import Answerer
from bot.store.inbox import REPLAY_LEASE
from bot.store.leases import LEASE_SPACE, GatewayLease
from bot.supervisor import _connected_channels
from tests.adapters.test_discord_adapter import MESSAGES, answered, discord_toml, ok_post
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401  (fixtures)
from tests.fakes.answerers import ConfidentExtractive, GatedExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.discord_server import FakeDiscord, discord_py_pointed_at

pytestmark = pytest.mark.timeout(60)

RETRY = 0.02  # seconds between a standby's attempts: small, so the test takes over quickly
IDENTIFY = 2  # the gateway opcode a connecting client sends first


class DyingLease(GatewayLease):
    """A lease whose process dies before it can release it: its session stays open until the
    test ends it from the server's side (`end_lease_session`), as a dead process's would."""

    dead = False

    async def release(self) -> None:
        if not self.dead:
            await super().release()


async def end_lease_session(url: str) -> int:
    """End the session holding the gateway lease (as PostgreSQL does when its client dies);
    the pid ended. Exactly one session holds it."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(
            "select l.pid from pg_locks l where l.locktype = 'advisory' and l.granted "
            "and l.classid = %s and l.objsubid = 2 "
            "and l.objid = (hashtext(current_schema() || '/' || %s)::bigint & 4294967295)::oid",
            [LEASE_SPACE, GATEWAY_LEASE],
        )
        [(pid,)] = await cursor.fetchall()
        await conn.execute("select pg_terminate_backend(%s)", [pid])
    return int(pid)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with discord_py_pointed_at(server):  # both workers' discord.py, in this one process
            yield server


@pytest.fixture
def make_worker(
    fake: FakeDiscord,
    pg_url: str,  # noqa: F811
    tmp_path: Path,
    knowledge_dir: Path,
    clock: FakeClock,
) -> Iterator[Callable[..., Runtime]]:
    """A worker's runtime: its own data dir, the shared database, the one fake Discord."""
    made: list[Runtime] = []

    def make(name: str, answerer: Answerer | None = None) -> Runtime:
        config = tmp_path / f"{name}.toml"
        config.write_text(textwrap.dedent(discord_toml(fake)), encoding="utf-8")
        env = {"DISCORD_TOKEN": fake.token, "SUPPORTBOT_DATABASE_URL": pg_url}
        settings = load_settings(config=config, knowledge=knowledge_dir, data=tmp_path / name, env=env)
        runtime = build_runtime(settings, clock=clock, answerer=answerer or ConfidentExtractive())
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def worker(runtime: Runtime, lease: GatewayLease) -> DiscordAdapter:
    return DiscordAdapter(
        runtime.bot,
        runtime.settings,
        guild_ready_timeout=0.05,
        drain_timeout=5.0,
        lease=lease,
        standby_retry=RETRY,
    )


async def stop(adapter: DiscordAdapter, task: asyncio.Task[None]) -> None:
    await adapter.close()
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)


async def test_one_worker_holds_the_gateway_and_the_standby_takes_over_and_catches_up(
    fake: FakeDiscord,
    make_worker: Callable[[str], Runtime],
    pg_url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.discord")
    dying = DyingLease(pg_url)
    second = make_worker("b")
    holder, standby = worker(make_worker("a"), dying), worker(second, GatewayLease(pg_url))
    holding = asyncio.create_task(holder.run())
    await asyncio.wait_for(holder.wait_until_ready(), 10)
    waiting = asyncio.create_task(standby.run())
    try:
        assert standby.hold is not None
        await asyncio.wait_for(standby.hold.standing_by.wait(), 10)
        # only the holder is on the gateway; the standby has not even logged in
        assert len(fake.frames_matching("received", op=IDENTIFY)) == 1
        assert len(fake.requests_matching("GET", "/users/@me")) == 1
        assert "standing by: another worker holds the Discord gateway" in caplog.messages

        thread_id, _ = await answered(fake, holder, "How do I reset my password?")  # a conversation

        # the holder dies: off the gateway at once, its database session still open for now
        dying.dead = True
        holding.cancel()
        await asyncio.wait_for(asyncio.gather(holding, return_exceptions=True), 10)
        start, frames = len(fake.requests), len(fake.frames)
        # the asker follows up while no one is on the gateway: Discord delivers it to nobody
        missed = fake.build_message_create("How long does a refund take?", channel_id=thread_id)
        assert standby.hold.standing_by.is_set()  # the dead holder's session still holds the lease

        await end_lease_session(pg_url)  # the session ends with its process
        answer = await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id), timeout=20, after=start)
        await standby.drain(5)
        assert "refund" in answer.json["content"].lower()
        inbox = second.state.db.execute(
            "select status from inbox where key = ?", [f"discord:msg:{missed['id']}"]
        )
        assert inbox.fetchall() == [("answered",)]  # the missed message, answered by the new holder
        assert len(fake.frames_matching("received", op=IDENTIFY, after=frames)) == 1  # the standby connected
        assert fake.requests_matching("GET", f"/channels/{thread_id}/messages", after=start)  # caught up

        # exactly once: a second catch-up (or a late redelivery) finds it handled
        assert standby.client is not None
        await catch_up(standby.core, standby.events, standby.client)
        await standby.drain(5)
        assert len(fake.requests_matching("POST", MESSAGES, ok_post(thread_id), after=start)) == 1
    finally:
        await stop(standby, waiting)
        dying.dead = False
        await dying.release()


async def test_a_holder_that_loses_its_lease_leaves_the_gateway(
    fake: FakeDiscord,
    make_worker: Callable[[str], Runtime],
    pg_url: str,  # noqa: F811
) -> None:
    """A live holder whose database session ends (a network cut) may no longer be the only
    one on the gateway: it disconnects and says so, and its supervisor will stand it by."""
    holder = worker(make_worker("a"), GatewayLease(pg_url))
    task = asyncio.create_task(holder.run())
    try:
        await asyncio.wait_for(holder.wait_until_ready(), 10)
        await end_lease_session(pg_url)
        done, _ = await asyncio.wait({task}, timeout=10)
        assert task in done
        with pytest.raises(Exception, match="lost the Discord gateway lease"):
            task.result()
        assert all(not c.open for c in fake.connections)
    finally:
        await stop(holder, task)


async def test_what_a_holder_that_lost_its_lease_could_not_finish_is_answered_by_the_new_holder(
    fake: FakeDiscord,
    make_worker: Callable[..., Runtime],
    pg_url: str,  # noqa: F811
    clock: FakeClock,
) -> None:
    """The holder is answering a question when its lease session ends (a network blip); its
    drain runs out before the answer is done. Standing by, it no longer offers its closed
    client to the clock, and hands the question over: the new holder's replay answers it once.
    Before, the old holder kept the question (alive and beating, nobody took it over) and its
    own replays failed on the closed client ten times, then gave it up: never answered."""
    gated = GatedExtractive(held=lambda q: "refund" in q.lower())
    first, second = make_worker("a", gated), make_worker("b")
    a, b = worker(first, GatewayLease(pg_url)), worker(second, GatewayLease(pg_url))
    a.drain_timeout = 0.5
    running_a = asyncio.create_task(a.run())
    await asyncio.wait_for(a.wait_until_ready(), 10)
    running_b = asyncio.create_task(b.run())
    try:
        assert b.hold is not None
        await asyncio.wait_for(b.hold.standing_by.wait(), 10)
        thread_id, _ = await answered(fake, a, "How do I reset my password?")
        start = len(fake.requests)
        asked = fake.build_message_create("How long does a refund take?", channel_id=thread_id)
        await fake.dispatch("MESSAGE_CREATE", asked)
        await asyncio.wait_for(gated.asked.wait(), 10)
        await end_lease_session(pg_url)  # a's: the only lease session serving
        await asyncio.wait({running_a}, timeout=15)
        await asyncio.wait_for(b.wait_until_ready(), 15)
        gated.gate.set()
        assert _connected_channels([a]) == {}  # nothing for the clock to post through
        running_a = asyncio.create_task(a.run())  # as its supervisor: standing by now
        clock.advance(seconds=REPLAY_LEASE.total_seconds() + 1)
        await second.bot.tick(_connected_channels([b]))
        await second.bot.settle()
        await b.drain(5)
        answers = fake.requests_matching("POST", MESSAGES, ok_post(thread_id), after=start)
        assert [p.json["content"] for p in answers if "refund" in p.json["content"].lower()] != []
        assert len(answers) == 1
        [(status,)] = second.state.db.execute(
            "select status from inbox where key = ?", [f"discord:msg:{asked['id']}"]
        ).fetchall()
        assert status == "answered"
    finally:
        await stop(b, running_b)
        await stop(a, running_a)
