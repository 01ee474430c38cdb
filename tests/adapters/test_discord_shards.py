"""Gateway shards: each set of shards held by exactly one worker, each guild answered once by
the holder of its shard, a dead holder's set taken over, and bad settings refused.

Workers are runtimes sharing one PostgreSQL database and one FakeDiscord, which routes each
guild's events only to the session IDENTIFYed with its shard, `(guild_id >> 22) % count`, as
Discord does. Each runtime joins as a worker (bot/cluster.py), so the inbox row of every
message names the worker that answered it. A holder "dies" as in test_discord_standby.py:
its task is cancelled without releasing its lease, then its database session is ended.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from adapters.discord import DiscordAdapter
from adapters.discord.shards import GATEWAY_LEASE, ShardPlan
from bot.app import Runtime, build_runtime
from bot.cluster import Presence
from bot.config import load_settings
from bot.errors import ConfigError, PlatformError
from bot.ports import Answerer
from bot.store.leases import LEASE_SPACE, GatewayLease
from tests.adapters.test_discord_adapter import MESSAGES, discord_toml, ok_post
from tests.adapters.test_discord_standby import RETRY, DyingLease
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401  (fixtures)
from tests.fakes.answerers import ConfidentExtractive, GatedExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.discord_server import ChannelType, FakeDiscord, discord_py_pointed_at

pytestmark = pytest.mark.timeout(60)

IDENTIFY = 2
SHARDED = 'shards = "auto"\nshards_per_worker = 1\n'  # the fake recommends 2 shards
# a worker holding a set adopts one left unheld this many checks (RETRY apart) in a row: by
# default far beyond these tests, so that workers started one after the other split the sets
NEVER = 100_000


@dataclass
class Guild:
    id: str
    channel: str  # a text channel where people mention the bot
    shard: int  # of 2


@dataclass
class Worker:
    runtime: Runtime
    adapter: DiscordAdapter
    presence: Presence  # its worker row: the inbox notes its id on each message it claims
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.presence.join()
        self.task = asyncio.create_task(self.adapter.run())

    async def stop(self) -> None:
        await self.adapter.close()
        if self.task is not None:
            [ended] = await asyncio.wait_for(asyncio.gather(self.task, return_exceptions=True), 10)
            assert ended is None  # an orderly close, adopted shards and all


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.recommended_shards = 2
        with discord_py_pointed_at(server):  # every worker's discord.py, in this one process
            yield server


@pytest.fixture
def guilds(fake: FakeDiscord) -> list[Guild]:
    """The default guild, and one on the other of two shards."""
    first = Guild(fake.guild_id, fake.text_channel_id, (int(fake.guild_id) >> 22) % 2)
    other = fake.add_guild("Second Guild", shard=(1 - first.shard, 2))
    channel = fake.add_channel("support", ChannelType.GUILD_TEXT, guild_id=other["id"])
    return [first, Guild(other["id"], channel["id"], 1 - first.shard)]


@pytest.fixture
def make_worker(
    fake: FakeDiscord, tmp_path: Path, knowledge_dir: Path, clock: FakeClock
) -> Iterator[Callable[..., Worker]]:
    """A worker: its own data dir, the database at `url` (None: SQLite), the one fake Discord."""
    made: list[Runtime] = []

    def make(
        name: str,
        lease: GatewayLease | None,
        url: str | None,
        extra: str = SHARDED,
        adopt_after: int = NEVER,
        answerer: Answerer | None = None,
    ) -> Worker:
        config = tmp_path / f"{name}.toml"
        config.write_text(textwrap.dedent(discord_toml(fake, extra)), encoding="utf-8")
        env = {"DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.api_base}
        if url is not None:
            env["SUPPORTBOT_DATABASE_URL"] = url
        settings = load_settings(config=config, knowledge=knowledge_dir, data=tmp_path / name, env=env)
        runtime = build_runtime(settings, clock=clock, answerer=answerer or ConfidentExtractive())
        made.append(runtime)
        adapter = DiscordAdapter(
            runtime.bot,
            settings,
            guild_ready_timeout=0.05,
            drain_timeout=5.0,
            lease=lease,
            standby_retry=RETRY,
            adopt_after=adopt_after,
        )
        return Worker(runtime, adapter, Presence(store=runtime.store, clock=clock, platforms=["discord"]))

    yield make
    for runtime in made:
        runtime.close()


async def ask(fake: FakeDiscord, guild: Guild, text: str) -> tuple[str, int]:
    """Mention the bot in `guild`: the message id, and how many gateway sessions got it."""
    payload = fake.build_message_create(text, channel_id=guild.channel, mention_bot=True)
    return payload["id"], await fake.dispatch("MESSAGE_CREATE", payload)


async def answered_by(fake: FakeDiscord, worker: Worker, thread_id: str, *, after: int = 0) -> str:
    """Wait for the answer in `thread_id`; the id of the worker whose inbox row it is."""
    answer = await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id), timeout=20, after=after)
    await worker.adapter.drain(5)
    assert answer.status == 200
    return claimed_by(worker.runtime, thread_id)


def claimed_by(runtime: Runtime, message_id: str) -> str:
    rows = runtime.state.db.execute(
        "select worker, status from inbox where key = ?", [f"discord:msg:{message_id}"]
    ).fetchall()
    [(worker, status)] = rows
    assert status == "answered"
    return str(worker)


def answers_in(fake: FakeDiscord, thread_id: str, after: int = 0) -> int:
    return len(fake.requests_matching("POST", MESSAGES, ok_post(thread_id), after=after))


def identified_shards(fake: FakeDiscord, after: int = 0) -> list[list[int]]:
    return sorted(f.d["shard"] for f in fake.frames_matching("received", op=IDENTIFY, after=after))


async def end_lease_session(url: str, name: str) -> None:
    """End the session holding lease `name`, as PostgreSQL does when its process dies."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(
            "select l.pid from pg_locks l where l.locktype = 'advisory' and l.granted "
            "and l.classid = %s and l.objsubid = 2 "
            "and l.objid = (hashtext(current_schema() || '/' || %s)::bigint & 4294967295)::oid",
            [LEASE_SPACE, name],
        )
        [(pid,)] = await cursor.fetchall()
        await conn.execute("select pg_terminate_backend(%s)", [pid])


async def until(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def ready(*workers: Worker) -> None:
    waits: list[Awaitable[None]] = [w.adapter.wait_until_ready() for w in workers]
    await asyncio.wait_for(asyncio.gather(*waits), 10)


# -- the plan --------------------------------------------------------------------------------


def test_shards_split_into_sets_each_its_own_lease() -> None:
    plan = ShardPlan.split(5, 2)
    assert plan.sets == ((0, 1), (2, 3), (4,))
    assert plan.lease_names == (
        f"{GATEWAY_LEASE}/5/0-1",
        f"{GATEWAY_LEASE}/5/2-3",
        f"{GATEWAY_LEASE}/5/4-4",
    )
    # one set (the default, or a set as large as the count) keeps the unsharded lease
    assert ShardPlan.split(4, 0).lease_names == ShardPlan.split(4, 4).lease_names == (GATEWAY_LEASE,)
    assert ShardPlan.split(1, 0).sets == ((0,),)
    # Discord's routing: a guild on (id >> 22) % count, a DM on shard 0
    assert plan.shard_of(str((7 << 22) | 12345)) == 2
    assert plan.shard_of("dm") == 0


async def test_one_lease_session_holds_several_sets_and_others_can_see_them_taken(
    pg_url: str,  # noqa: F811
) -> None:
    plan = ShardPlan.split(3, 1)
    first, second = GatewayLease(pg_url), GatewayLease(pg_url)
    try:
        [zero, one, two] = plan.lease_names
        assert await first.try_acquire(zero) and await first.try_acquire(one)
        assert not await second.try_acquire(zero) and not await second.try_acquire(one)
        assert await second.taken(one) and not await second.taken(two)  # asking takes nothing
        assert await first.try_acquire(two)
        assert await second.taken(two)
        await first.release()  # one session: all its sets go together
        assert not await second.taken(zero)
        assert await second.try_acquire(zero)
    finally:
        await first.release()
        await second.release()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("shards = 0", 'discord.shards: Value error, must be a number of shards from 1 to 4096, or "auto"'),
        ("shards = -3", "must be a number of shards from 1 to 4096"),
        ('shards = "many"', "or \"auto\" (got 'many')"),
        (
            "shards = 2\nshards_per_worker = 3",
            "shards_per_worker = 3 is out of range: there are only 2 shard(s)",
        ),
        ("shards_per_worker = -1", "discord.shards_per_worker"),
    ],
)
def test_bad_shard_settings_are_refused_with_a_clear_error(tmp_path: Path, body: str, problem: str) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text(f"[discord]\n{body}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(config=config, data=tmp_path / "data", env={})
    assert problem in str(refused.value)


# -- the gateway -------------------------------------------------------------------------------


async def test_two_workers_split_two_shards_and_each_guild_is_answered_once_by_its_holder(
    fake: FakeDiscord,
    guilds: list[Guild],
    make_worker: Callable[..., Worker],
    pg_url: str,  # noqa: F811
) -> None:
    a = make_worker("a", GatewayLease(pg_url), pg_url)
    b = make_worker("b", GatewayLease(pg_url), pg_url)
    try:
        await a.start()
        await b.start()
        await ready(a, b)
        # "auto" asked Discord for the count; each worker holds one shard, with one IDENTIFY
        assert fake.requests_matching("GET", "/gateway/bot")
        assert {a.adapter.shards, b.adapter.shards} == {(0,), (1,)}
        assert identified_shards(fake) == [[0, 2], [1, 2]]
        holder = {w.adapter.shards[0]: w for w in (a, b)}

        for guild in guilds:
            # each worker's client knows only the guilds on its shard
            mine = holder[guild.shard].adapter.client
            assert mine is not None and mine.get_guild(int(guild.id)) is not None
            other = holder[1 - guild.shard].adapter.client
            assert other is not None and other.get_guild(int(guild.id)) is None

            start = len(fake.requests)
            question, sessions = await ask(fake, guild, "How do I reset my password?")
            assert sessions == 1  # Discord sends it on its guild's shard only
            assert await answered_by(fake, holder[guild.shard], question, after=start) == (
                holder[guild.shard].presence.id
            )
            await asyncio.gather(a.adapter.drain(5), b.adapter.drain(5))
            assert answers_in(fake, question, after=start) == 1
    finally:
        await asyncio.gather(a.stop(), b.stop())


async def test_a_dead_holders_shard_is_taken_over_and_its_missed_messages_answered(
    fake: FakeDiscord,
    guilds: list[Guild],
    make_worker: Callable[..., Worker],
    pg_url: str,  # noqa: F811
) -> None:
    dying = DyingLease(pg_url)
    a = make_worker("a", dying, pg_url)
    b = make_worker("b", GatewayLease(pg_url), pg_url)
    c = make_worker("c", GatewayLease(pg_url), pg_url)
    try:
        await a.start()
        await ready(a)
        await b.start()
        await ready(b)
        await c.start()
        assert c.adapter.hold is not None
        await asyncio.wait_for(c.adapter.hold.standing_by.wait(), 10)  # both sets are held
        plan = a.adapter.plan
        assert plan is not None and a.adapter.hold is not None
        lost = a.adapter.hold.name
        assert lost == plan.lease_name(plan.sets.index(a.adapter.shards))
        mine = next(g for g in guilds if g.shard == a.adapter.shards[0])
        theirs = next(g for g in guilds if g.shard == b.adapter.shards[0])

        # a conversation on each shard
        start = len(fake.requests)
        first, _ = await ask(fake, mine, "How do I reset my password?")
        assert await answered_by(fake, a, first, after=start) == a.presence.id
        second, _ = await ask(fake, theirs, "How do I reset my password?")
        assert await answered_by(fake, b, second, after=start) == b.presence.id

        # a dies without releasing its lease; a follow-up on its shard reaches no one
        dying.dead = True
        assert a.task is not None
        a.task.cancel()
        await asyncio.wait_for(asyncio.gather(a.task, return_exceptions=True), 10)
        start, frames = len(fake.requests), len(fake.frames)
        missed = fake.build_message_create("How long does a refund take?", channel_id=first)
        assert c.adapter.hold.standing_by.is_set()  # the dead holder's session still holds it

        await end_lease_session(pg_url, lost)
        await fake.wait_for_request("POST", MESSAGES, ok_post(first), timeout=20, after=start)
        await c.adapter.drain(5)
        assert claimed_by(c.runtime, missed["id"]) == c.presence.id  # caught up by the new holder
        assert c.adapter.shards == a.adapter.shards and c.adapter.hold.name == lost
        assert identified_shards(fake, after=frames) == [[mine.shard, 2]]  # only c connected
        # c caught up on its shard's conversations only; b's stays b's
        assert fake.requests_matching("GET", f"/channels/{first}/messages", after=start)
        assert not fake.requests_matching("GET", f"/channels/{second}/messages", after=start)

        # after the hand-over each guild is answered once, by its shard's live holder
        start = len(fake.requests)
        for guild, worker in ((mine, c), (theirs, b)):
            question, sessions = await ask(fake, guild, "How do I reset my password?")
            assert sessions == 1
            assert await answered_by(fake, worker, question, after=start) == worker.presence.id
            await asyncio.gather(b.adapter.drain(5), c.adapter.drain(5))
            assert answers_in(fake, question, after=start) == 1
    finally:
        await asyncio.gather(b.stop(), c.stop())
        dying.dead = False
        await dying.release()


async def test_with_no_standby_left_a_live_holder_adopts_the_dead_holders_shard(
    fake: FakeDiscord,
    guilds: list[Guild],
    make_worker: Callable[..., Worker],
    pg_url: str,  # noqa: F811
) -> None:
    dying = DyingLease(pg_url)
    a = make_worker("a", dying, pg_url)
    b = make_worker("b", GatewayLease(pg_url), pg_url, adopt_after=3)
    try:
        await a.start()
        await ready(a)
        await b.start()
        await ready(b)
        assert a.adapter.hold is not None and b.adapter.hold is not None
        lost = a.adapter.hold.name
        assert lost is not None
        mine = next(g for g in guilds if g.shard == a.adapter.shards[0])
        theirs = next(g for g in guilds if g.shard == b.adapter.shards[0])
        start = len(fake.requests)
        first, _ = await ask(fake, mine, "How do I reset my password?")
        assert await answered_by(fake, a, first, after=start) == a.presence.id
        assert b.adapter.adopted == []  # both sets held: nothing to adopt

        dying.dead = True
        assert a.task is not None
        a.task.cancel()
        await asyncio.wait_for(asyncio.gather(a.task, return_exceptions=True), 10)
        start, frames = len(fake.requests), len(fake.frames)
        missed = fake.build_message_create("How long does a refund take?", channel_id=first)
        await end_lease_session(pg_url, lost)

        # b keeps its own shard and connects a second client for the orphan, then catches up
        await fake.wait_for_request("POST", MESSAGES, ok_post(first), timeout=20, after=start)
        await b.adapter.drain(5)
        assert claimed_by(b.runtime, missed["id"]) == b.presence.id
        assert identified_shards(fake, after=frames) == [[mine.shard, 2]]
        assert len(b.adapter.adopted) == 1
        start = len(fake.requests)
        for guild in (mine, theirs):
            question, sessions = await ask(fake, guild, "How do I reset my password?")
            assert sessions == 1
            assert await answered_by(fake, b, question, after=start) == b.presence.id
            assert answers_in(fake, question, after=start) == 1
    finally:
        await b.stop()
        dying.dead = False
        await dying.release()
    assert b.adapter.adopted == [] and all(not c.open for c in fake.connections)


async def test_an_answer_in_flight_on_an_adopted_set_is_posted_when_the_lease_is_lost(
    fake: FakeDiscord,
    guilds: list[Guild],
    make_worker: Callable[..., Worker],
    pg_url: str,  # noqa: F811
) -> None:
    """B adopted the dead A's set and is answering a question there when its own lease session
    ends (a database blip): it finishes what is in flight on every set before it disconnects.
    Before, the adopted set's client was closed first, and the answer, the apology and the
    hand-off all failed ("Session is closed"): the question was lost."""
    dying = DyingLease(pg_url)
    gated = GatedExtractive(held=lambda q: "refund" in q.lower())
    a = make_worker("a", dying, pg_url)
    b = make_worker("b", GatewayLease(pg_url), pg_url, adopt_after=3, answerer=gated)
    try:
        await a.start()
        await ready(a)
        await b.start()
        await ready(b)
        assert a.adapter.hold is not None and a.adapter.hold.name is not None and a.task is not None
        lost = a.adapter.hold.name
        orphaned = next(g for g in guilds if g.shard == a.adapter.shards[0])
        dying.dead = True
        a.task.cancel()
        await asyncio.wait_for(asyncio.gather(a.task, return_exceptions=True), 10)
        await end_lease_session(pg_url, lost)
        await until(
            lambda: bool(b.adapter.adopted) and b.adapter.adopted[0].is_ready(), "adopted", timeout=20
        )
        start = len(fake.requests)
        question, sessions = await ask(fake, orphaned, "How long does a refund take?")
        assert sessions == 1
        await asyncio.wait_for(gated.asked.wait(), 10)
        assert b.adapter.hold is not None and b.adapter.hold.name is not None and b.task is not None
        await end_lease_session(pg_url, b.adapter.hold.name)
        await asyncio.sleep(0.5)  # the lease is lost; the answer is still being written
        gated.gate.set()
        [ended] = await asyncio.wait_for(asyncio.gather(b.task, return_exceptions=True), 15)
        assert isinstance(ended, PlatformError) and "lost the Discord gateway lease" in str(ended)
        assert answers_in(fake, question, after=start) == 1
        [(status,)] = b.runtime.state.db.execute(
            "select status from inbox where key = ?", [f"discord:msg:{question}"]
        ).fetchall()
        assert status == "answered"
    finally:
        await b.adapter.close()
        dying.dead = False
        await dying.release()


async def test_alone_on_sqlite_one_worker_serves_every_shard(
    fake: FakeDiscord,
    guilds: list[Guild],
    make_worker: Callable[..., Worker],
) -> None:
    """Without a database to share there are no sets: one AutoShardedClient on all shards."""
    alone = make_worker("alone", None, None, extra="shards = 2\n")
    try:
        await alone.start()
        await ready(alone)
        assert alone.adapter.shards == (0, 1)
        assert identified_shards(fake) == [[0, 2], [1, 2]]
        for guild in guilds:
            start = len(fake.requests)
            question, sessions = await ask(fake, guild, "How do I reset my password?")
            assert sessions == 1
            await fake.wait_for_request("POST", MESSAGES, ok_post(question), timeout=20, after=start)
            await alone.adapter.drain(5)
            assert answers_in(fake, question, after=start) == 1
    finally:
        await alone.stop()
