"""Reading back what no connection heard (adapters/discord/missed.py) with shards: a set's new
holder reads back from the newest message recorded on its own shards, whatever another set's
holder heard since (workers sharing a real PostgreSQL); in one process holding two shards, a
shard's fresh session reads back from its own mark, whatever the other shard heard or lost
since (tests/adapters/test_discord_shards.py's workers, the fake Discord)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from adapters.discord import read_backs
from bot import faults
from bot.store.leases import GatewayLease
from tests.adapters.test_discord_adapter import MESSAGES, ok_post
from tests.adapters.test_discord_shards import (  # noqa: F401
    SHARDED,
    Guild,
    Worker,
    answered_by,
    ask,
    end_lease_session,
    fake,
    guilds,
    make_worker,
    ready,
)
from tests.adapters.test_discord_standby import DyingLease
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401
from tests.fakes.clock import FakeClock
from tests.fakes.discord_server import ChannelType, FakeDiscord

pytestmark = pytest.mark.timeout(90)

MINUTE = 60_000 << 22  # a snowflake's time is its top bits, in ms


async def _shard_0_down(server: FakeDiscord, client: Any, gate: asyncio.Event) -> None:
    """Discord ends shard 0's session and the client's new IDENTIFY waits for `gate`: shard 0
    hears nothing until then, while the other shards hear on."""
    held = asyncio.Event()
    identify = client.before_identify_hook

    async def hold_shard_0(shard_id: int | None, *, initial: bool = False) -> None:
        if shard_id == 0 and not initial:
            held.set()
            await gate.wait()
        await identify(shard_id, initial=initial)

    client.before_identify_hook = hold_shard_0
    await server.invalidate_session(shard=0)
    await asyncio.wait_for(held.wait(), 10)


async def _restarted_on_auto_answer(
    server: FakeDiscord, make: Callable[..., Worker], auto_answer: tuple[Guild, ...], question: str
) -> int:
    """Worker "a" starts again on its data dir with `auto_answer`'s #support on auto-answer
    and answers `question`; how many requests the fake had seen before it started."""
    auto = "".join(f'[discord.channels."{g.channel}"]\nmode = "auto-answer"\n' for g in auto_answer)
    b = make("a", None, None, SHARDED + auto)  # the same data dir
    start = len(server.requests)
    try:
        await b.start()
        await server.wait_for_request("POST", MESSAGES, ok_post(question), after=start, timeout=20)
        await ready(b)
        await b.adapter.drain(5)
    finally:
        await b.stop()
    return start


@pytest.mark.parametrize("noted", [True, False], ids=["its-marks-noted", "died-before-any-note"])
async def test_a_question_in_a_dead_holders_set_is_read_back_whatever_the_other_set_heard(
    fake: FakeDiscord,  # noqa: F811
    guilds: list[Guild],  # noqa: F811
    make_worker: Callable[..., Worker],  # noqa: F811
    pg_url: str,  # noqa: F811
    clock: FakeClock,
    noted: bool,
) -> None:
    """A set's holder dies (its last marks written as it stops, or never: gone before its first
    write); a question is said in its guild; the other set's holder hears its own guild later and
    notes it. The set's next holder reads from the dead one's marks, or from what it recorded,
    never from the other set's later mark."""
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
        await asyncio.wait_for(c.adapter.hold.standing_by.wait(), 10)
        assert a.adapter.hold is not None
        lost = a.adapter.hold.name
        mine = next(g for g in guilds if g.shard == a.adapter.shards[0])
        theirs = next(g for g in guilds if g.shard == b.adapter.shards[0])
        start = len(fake.requests)
        first, _ = await ask(fake, mine, "How do I reset my password?")
        assert await answered_by(fake, a, first, after=start) == a.presence.id

        # a's host vanishes: its lease lasts until the server's keepalives notice (~30 s)
        dying.dead = True
        assert a.task is not None
        gone = faults.crash_at("heard.noting", error=OSError("gone"), times=10**6)
        with contextlib.nullcontext() if noted else gone:  # gone: no write as it stops
            a.task.cancel()
            await asyncio.gather(a.task, return_exceptions=True)
        # a new question in a's guild, heard by no one
        missed = fake.build_message_create(
            "How long does a refund take?", channel_id=mine.channel, mention_bot=True
        )
        # 45 s on (keepalives ~30 s + a standby's retry + login), b still hears its guild
        fake._ids._last += 45_000 << 22  # the fake's snowflakes move on with the clock
        clock.advance(seconds=45)
        start = len(fake.requests)
        other, _ = await ask(fake, theirs, "How do I reset my password?")
        assert await answered_by(fake, b, other, after=start) == b.presence.id
        assert b.adapter.client is not None
        await b.adapter.client.heard.flush()  # b's next write (every 10 s): its mark past the question

        start = len(fake.requests)
        await end_lease_session(pg_url, lost)  # now c takes a's set
        await asyncio.wait_for(c.adapter.wait_until_ready(), 20)
        await fake.wait_for_request("POST", MESSAGES, ok_post(missed["id"]), after=start, timeout=20)
        await c.adapter.drain(5)
        assert fake.requests_matching("GET", f"/channels/{mine.channel}/messages", after=start)
    finally:
        await asyncio.gather(b.stop(), c.stop())
        dying.dead = False
        await dying.release()


@pytest.mark.parametrize("other_shard_blips", [False, True], ids=["steady", "other-blips"])
async def test_a_shard_whose_session_was_lost_reads_back_what_it_missed_whatever_the_other_heard(
    fake: FakeDiscord,  # noqa: F811
    guilds: list[Guild],  # noqa: F811
    make_worker: Callable[..., Worker],  # noqa: F811
    clock: FakeClock,
    other_shard_blips: bool,
) -> None:
    """Shard 0's session is refused and its new IDENTIFY held (discord.py's identify queue);
    a question is asked in shard 0's guild; shard 1 hears on, answers, and (one case) loses its
    connection and resumes: its loss must not move shard 0's mark past the question."""
    a = make_worker("a", None, None)
    try:
        await a.start()
        await ready(a)
        client = a.adapter.client
        assert client is not None and sorted(a.adapter.shards) == [0, 1]
        g0 = next(g for g in guilds if g.shard == 0)
        g1 = next(g for g in guilds if g.shard == 1)
        start = len(fake.requests)
        first, _ = await ask(fake, g0, "How do I reset my password?")
        await answered_by(fake, a, first, after=start)

        gate = asyncio.Event()
        await _shard_0_down(fake, client, gate)
        missed = fake.build_message_create(
            "How long does a refund take?", channel_id=g0.channel, mention_bot=True
        )
        fake._ids._last += 45_000 << 22  # the fake's snowflakes move on with the clock
        clock.advance(seconds=45)
        start = len(fake.requests)
        other, _ = await ask(fake, g1, "How do I reset my password?")
        await answered_by(fake, a, other, after=start)
        if other_shard_blips:
            # discord.py takes its shards' reconnections in turn: shard 1's, and the loss it
            # tells of, come right after shard 0's IDENTIFY, racing shard 0's READY
            await fake.drop_connection(shard=1)
        start = len(fake.requests)
        gate.set()
        await fake.wait_for_request("POST", MESSAGES, ok_post(missed["id"]), after=start, timeout=20)
    finally:
        await a.stop()


async def test_what_one_shard_heard_moves_only_its_own_mark_across_a_restart(
    fake: FakeDiscord,  # noqa: F811
    guilds: list[Guild],  # noqa: F811
    make_worker: Callable[..., Worker],  # noqa: F811
) -> None:
    """One process holds shards 0 and 1 (adapters/discord/heard.py). Shard 0 hears chatter in
    its guild's #support and then elsewhere; its session is lost and not back when a question
    is asked there; shard 1 hears chatter later; the process stops. Restarted with both
    #supports on auto-answer, it answers the question (shard 1's later mark must not pass it)
    and not the chatter shard 0 had heard (nor, before, did it answer any of it)."""
    g0 = next(g for g in guilds if g.shard == 0)
    g1 = next(g for g in guilds if g.shard == 1)
    chat = {g.shard: fake.add_channel("chat", ChannelType.GUILD_TEXT, guild_id=g.id)["id"] for g in guilds}
    a = make_worker("a", None, None)
    gate = asyncio.Event()
    try:
        await a.start()
        await ready(a)
        client = a.adapter.client
        assert client is not None and sorted(a.adapter.shards) == [0, 1]
        start = len(fake.requests)
        first, _ = await ask(fake, g0, "How do I reset my password?")
        await answered_by(fake, a, first, after=start)  # the newest message recorded
        fake._ids._last += 10 * MINUTE  # the fake's snowflakes move on with the clock
        chatter = fake.build_message_create("How long does a refund take?", channel_id=g0.channel)
        await fake.dispatch("MESSAGE_CREATE", chatter)
        fake._ids._last += 10 * MINUTE
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("Lunch?", channel_id=chat[0]))

        await _shard_0_down(fake, client, gate)  # until the process stops
        fake._ids._last += 10 * MINUTE
        missed = fake.build_message_create("How do I reset my password?", channel_id=g0.channel)
        fake._ids._last += 10 * MINUTE
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("Lunch!", channel_id=chat[1]))
        frames = len(fake.frames)
        await fake.request_heartbeat()  # answered after what shard 1 was sent: it has read it
        await fake.wait_for_frame("received", op=1, after=frames)
    finally:
        gate.set()
        await a.stop()
    a.runtime.close()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(chatter["id"]))

    start = await _restarted_on_auto_answer(fake, make_worker, (g0, g1), missed["id"])
    assert not fake.requests_matching("POST", MESSAGES, ok_post(chatter["id"]), after=start)


async def test_a_question_shard_0_missed_is_read_back_after_shard_1_recorded_later(
    fake: FakeDiscord,  # noqa: F811
    guilds: list[Guild],  # noqa: F811
    make_worker: Callable[..., Worker],  # noqa: F811
) -> None:
    """One process holds shards 0 and 1; shard 0's session is lost and not back while a
    question is asked in its guild, then a question in shard 1's guild is answered (recorded).
    At the next start shard 0 reads back from what it recorded or heard itself: shard 1's later
    answer says nothing of what shard 0 missed."""
    g0 = next(g for g in guilds if g.shard == 0)
    g1 = next(g for g in guilds if g.shard == 1)
    a = make_worker("a", None, None)
    gate = asyncio.Event()
    try:
        await a.start()
        await ready(a)
        client = a.adapter.client
        assert client is not None and sorted(a.adapter.shards) == [0, 1]
        start = len(fake.requests)
        first, _ = await ask(fake, g0, "How do I reset my password?")
        await answered_by(fake, a, first, after=start)

        await _shard_0_down(fake, client, gate)
        fake._ids._last += 10 * MINUTE
        missed = fake.build_message_create(
            "How do I reset my password?", channel_id=g0.channel, mention_bot=True
        )
        fake._ids._last += 10 * MINUTE
        start = len(fake.requests)
        other, _ = await ask(fake, g1, "How do I reset my password?")  # heard and recorded on shard 1
        await answered_by(fake, a, other, after=start)
    finally:
        gate.set()
        await a.stop()
    a.runtime.close()
    assert not fake.requests_matching("POST", MESSAGES, ok_post(missed["id"]))

    b = make_worker("a", None, None, SHARDED)  # the same data dir
    start = len(fake.requests)
    try:
        await b.start()
        await ready(b)
        await fake.wait_for_request("POST", MESSAGES, ok_post(missed["id"]), after=start, timeout=15)
        await b.adapter.drain(5)
    finally:
        await b.stop()


async def test_a_shards_drop_discord_resumes_leaves_nothing_owed(
    fake: FakeDiscord,  # noqa: F811
    guilds: list[Guild],  # noqa: F811
    make_worker: Callable[..., Worker],  # noqa: F811
) -> None:
    """Discord sends a resumed session what it missed: the loss owes no read-back, or the next
    start would read every question channel of the shard back from before it."""
    a = make_worker("a", None, None)
    try:
        await a.start()
        await ready(a)
        g1 = next(g for g in guilds if g.shard == 1)
        start = len(fake.requests)
        q, _ = await ask(fake, g1, "How do I reset my password?")
        await answered_by(fake, a, q, after=start)
        await a.adapter.drain(5)
        assert a.runtime.state.owed_read_backs("discord/") == {}
        frames = len(fake.frames)
        await fake.drop_connection(shard=1)
        await fake.wait_for_frame("sent", event="RESUMED", after=frames, timeout=20)
        await a.adapter.drain(5)
        start = len(fake.requests)
        q2, _ = await ask(fake, g1, "How long does a refund take?")  # the resumed session hears on
        await answered_by(fake, a, q2, after=start)
        await a.adapter.drain(5)
        assert a.runtime.state.owed_read_backs("discord/") == {}
    finally:
        await a.stop()


async def test_a_shards_read_back_refused_for_now_is_tried_again_though_another_shard_began_anew(
    fake: FakeDiscord,  # noqa: F811
    guilds: list[Guild],  # noqa: F811
    make_worker: Callable[..., Worker],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One 503 on shard 0's #support at the start; before the read-back is tried again, shard 1
    alone gets a fresh session (whose own read-back covers shard 1 only): shard 0's is still
    tried again, and the question asked there while the bot was down is answered."""
    monkeypatch.setattr(read_backs, "FIRST_AFTER", 1.5)
    g0 = next(g for g in guilds if g.shard == 0)
    g1 = next(g for g in guilds if g.shard == 1)
    a = make_worker("a", None, None)
    try:
        await a.start()
        await ready(a)
        for guild in (g0, g1):  # a mark on each shard
            start = len(fake.requests)
            asked, _ = await ask(fake, guild, "How do I reset my password?")
            await answered_by(fake, a, asked, after=start)
    finally:
        await a.stop()
    a.runtime.close()
    fake._ids._last += 10 * (60_000 << 22)
    missed = fake.build_message_create(
        "How long does a refund take?", channel_id=g0.channel, mention_bot=True
    )
    fake.fail("GET", f"/channels/{g0.channel}/messages", 503, 0, "Service Unavailable", times=1)
    b = make_worker("a", None, None)
    start = len(fake.requests)
    try:
        await b.start()
        await ready(b)
        await fake.wait_for_request("GET", f"/channels/{g0.channel}/messages", after=start, timeout=20)
        client = b.adapter.client
        assert client is not None

        async def at_once(shard_id: int | None, *, initial: bool = False) -> None:
            return None  # discord.py's public hook: no pause before the new IDENTIFY

        client.before_identify_hook = at_once
        later = len(fake.requests)
        await fake.invalidate_session(shard=1)
        await fake.wait_for_request("GET", f"/channels/{g1.channel}/messages", after=later, timeout=20)
        await fake.wait_for_request("POST", MESSAGES, ok_post(missed["id"]), after=start, timeout=20)
    finally:
        await b.stop()


async def test_a_shard_reads_back_from_its_own_mark_not_from_an_older_one_of_another_shard(
    fake: FakeDiscord,  # noqa: F811
    guilds: list[Guild],  # noqa: F811
    make_worker: Callable[..., Worker],  # noqa: F811
) -> None:
    """One process holds shards 0 and 1; shard 1 last heard something long before shard 0,
    which heard chatter in its guild's #support and then more elsewhere. Restarted with that
    #support on auto-answer, the read-back of shard 0's channels starts from shard 0's own
    mark: the chatter it heard and let pass is not judged again (read from shard 1's older
    mark, it was answered), while a question said in shard 1's guild while the process was
    stopped is answered from shard 1's."""
    g0 = next(g for g in guilds if g.shard == 0)
    g1 = next(g for g in guilds if g.shard == 1)
    chat0 = fake.add_channel("chat", ChannelType.GUILD_TEXT, guild_id=g0.id)["id"]
    a = make_worker("a", None, None)
    try:
        await a.start()
        await ready(a)
        start = len(fake.requests)
        first, _ = await ask(fake, g1, "How do I reset my password?")
        await answered_by(fake, a, first, after=start)  # shard 1's last
        fake._ids._last += 10 * MINUTE  # the fake's snowflakes move on with the clock
        chatter = fake.build_message_create("How long does a refund take?", channel_id=g0.channel)
        await fake.dispatch("MESSAGE_CREATE", chatter)
        fake._ids._last += 10 * MINUTE
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create("Lunch?", channel_id=chat0))
        frames = len(fake.frames)
        await fake.request_heartbeat()  # answered after what was sent before it: all read
        await fake.wait_for_frame("received", op=1, after=frames)
    finally:
        await a.stop()
    noted = a.runtime.state.noted_heards("discord/2/")
    a.runtime.close()
    assert len(noted) == 2  # each shard its own mark
    assert not fake.requests_matching("POST", MESSAGES, ok_post(chatter["id"]))
    missed = fake.build_message_create("Does the bot work without an API key?", channel_id=g1.channel)

    start = await _restarted_on_auto_answer(fake, make_worker, (g0, g1), missed["id"])
    assert not fake.requests_matching("POST", MESSAGES, ok_post(chatter["id"]), after=start)


async def _only_one_shard_heard(
    server: FakeDiscord, make: Callable[..., Worker], heard: Guild, extra: str
) -> None:
    """Worker "a" (both shards, `extra` settings) answers one question, in `heard`'s guild,
    and stops: its other shard has heard nothing."""
    a = make("a", None, None, extra)
    try:
        await a.start()
        await ready(a)
        start = len(server.requests)
        first, _ = await ask(server, heard, "How do I reset my password?")
        await answered_by(server, a, first, after=start)
    finally:
        await a.stop()
    a.runtime.close()


async def test_a_shard_that_never_heard_anything_keeps_its_start_point_when_its_read_back_is_tried_again(
    fake: FakeDiscord,  # noqa: F811
    guilds: list[Guild],  # noqa: F811
    make_worker: Callable[..., Worker],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One process holds shards 0 and 1; only one of them ever heard anything (the other's
    guild has a #support the bot has yet to hear a word in). A mention is said there while the
    process is stopped; at the restart its channel answers one 503. The read-back of that shard
    starts from the other shard's mark, and so does its next try, which answers it."""
    monkeypatch.setattr(read_backs, "FIRST_AFTER", 0.5)
    heard, quiet = guilds
    extra = SHARDED + f'[discord.channels."{quiet.channel}"]\nmode = "mention-only"\n'
    await _only_one_shard_heard(fake, make_worker, heard, extra)
    fake._ids._last += 10 * MINUTE
    missed = fake.build_message_create(
        "How long does a refund take?", channel_id=quiet.channel, mention_bot=True
    )
    async with _restarted_with_a_503_in(fake, make_worker, extra, quiet.channel, missed) as (_, start):
        pass
    assert len(fake.requests_matching("GET", f"/channels/{quiet.channel}/messages", after=start)) == 2


async def test_a_shard_never_noted_whose_read_back_failed_is_read_from_where_it_started_not_from_its_answers(
    fake: FakeDiscord,  # noqa: F811
    guilds: list[Guild],  # noqa: F811
    make_worker: Callable[..., Worker],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only one shard ever heard anything. While the process is stopped, a mention is said in
    the quiet shard's #support and, ten minutes later, one in its #other. At the restart
    #support answers a 503 (and the process stops before the next try) while #other is read
    and answered: that answer is recorded on the quiet shard, which is never noted. The start
    after reads that shard from where the one before started it (noted then), not from its
    newest recorded message, and answers the first mention. Meanwhile a fresh session of that
    shard would have read from there too, not from the moment its last one ended."""
    monkeypatch.setattr(read_backs, "FIRST_AFTER", 600.0)  # no second try before the stop
    heard, quiet = guilds
    other = fake.add_channel("other", ChannelType.GUILD_TEXT, guild_id=quiet.id)["id"]
    extra = SHARDED + "".join(
        f'[discord.channels."{c}"]\nmode = "mention-only"\n' for c in (quiet.channel, other)
    )
    await _only_one_shard_heard(fake, make_worker, heard, extra)
    missed = fake.build_message_create(
        "How long does a refund take?", channel_id=quiet.channel, mention_bot=True
    )
    fake._ids._last += 10 * MINUTE
    later = fake.build_message_create(
        "Does the bot work without an API key?", channel_id=other, mention_bot=True
    )
    async with _restarted_with_a_503_in(fake, make_worker, extra, quiet.channel, later) as (b, _):
        client = b.adapter.client
        assert client is not None
        again_from = client.heard.mark(quiet.shard)  # where a fresh session of it would read from
        assert again_from is not None and int(again_from) < int(missed["id"])
    assert int(b.runtime.state.noted_heards("discord/2/")[f"discord/2/{quiet.shard}"]) < int(missed["id"])
    b.runtime.close()
    c = make_worker("a", None, None, extra)
    start = len(fake.requests)
    try:
        await c.start()
        await fake.wait_for_request("POST", MESSAGES, ok_post(missed["id"]), after=start, timeout=20)
        await ready(c)
        await c.adapter.drain(5)
    finally:
        await c.stop()


@contextlib.asynccontextmanager
async def _restarted_with_a_503_in(
    fake: FakeDiscord,  # noqa: F811  (the fixture's name)
    make_worker: Callable[..., Worker],  # noqa: F811
    extra: str,
    channel: str,
    answered: dict[str, Any],
) -> AsyncIterator[tuple[Worker, int]]:
    """Worker "a" starts while `channel`'s history answers one 503, and answers `answered`:
    the running worker and the request count before it started; stopped after the block."""
    fake.fail("GET", f"/channels/{channel}/messages", 503, 0, "Service Unavailable", times=1)
    worker = make_worker("a", None, None, extra)
    start = len(fake.requests)
    try:
        await worker.start()
        await ready(worker)
        await fake.wait_for_request("POST", MESSAGES, ok_post(answered["id"]), after=start, timeout=20)
        await worker.adapter.drain(5)
        yield worker, start
    finally:
        await worker.stop()
