"""A PostgreSQL outage longer than the worker lease, under two running workers.

Every worker's heartbeat fails while the database is away, the dead and the living alike; a
worker that could not beat itself does not take a peer's silence for death (bot/store/
workers.py `live_workers_now`). A server of this module's own, which the test stops and starts."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.answering.extractive import ExtractiveAnswerer
from bot.app import Runtime, build_runtime
from bot.cluster import Presence
from bot.config import load_settings
from bot.errors import StoreError
from bot.store import StateStore
from bot.store.postgres import CONNECT_TIMEOUT
from bot.store.workers import MAX_SKEW, WORKER_LEASE
from bot.types import Answer, Outcome
from tests.bot.store.conftest import in_schema
from tests.bot.test_exactly_once import Platform, question
from tests.fakes.clock import FakeClock


@pytest.fixture(scope="module")
def own_server() -> Iterator[Any]:
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="supportbot-pgoutage-"))
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield server
    finally:
        server.ensure_postgres_running()
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def _stop(server: Any) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)


class HeldAnswerer:
    """The offline answerer, each answer held until `release` (a slow model)."""

    name = "held"

    def __init__(self) -> None:
        self.inner = ExtractiveAnswerer(threshold=0.1, max_sources=3)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def answer(self, *args: Any, **kwargs: Any) -> Answer:
        self.entered.set()
        await self.release.wait()
        return await self.inner.answer(*args, **kwargs)


def _worker(tmp: Path, knowledge: Path, url: str, clock: FakeClock, name: str, **kw: Any) -> Runtime:
    config = tmp / f"{name}.toml"
    config.write_text(textwrap.dedent(""), encoding="utf-8")
    settings = load_settings(
        config=config, knowledge=knowledge, data=tmp / f"data-{name}", env={"SUPPORTBOT_DATABASE_URL": url}
    )
    return build_runtime(settings, clock=clock, **kw)


async def _beat_through(presence: Presence) -> None:
    """A beat that may fail (the database away, or its first statement after the restart)."""
    try:
        await presence.beat()
    except Exception:
        return


async def test_a_live_workers_question_is_not_taken_over_after_an_outage(
    own_server: Any, tmp_path: Path, knowledge_dir: Path, clock: FakeClock
) -> None:
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(str(own_server.get_uri()), autocommit=True) as conn:
        conn.execute(f"create schema {schema}")
    url = in_schema(str(own_server.get_uri()), schema)
    held = HeldAnswerer()
    a = _worker(tmp_path, knowledge_dir, url, clock, "a", answerer=held)
    b = _worker(tmp_path, knowledge_dir, url, clock, "b")
    try:
        pa = Presence(store=a.store, clock=clock, platforms=["slack"])
        pb = Presence(store=b.store, clock=clock, platforms=["slack"])
        await pa.join()
        await pb.join()
        platform = Platform()
        answering = asyncio.ensure_future(
            a.bot.on_message(question("How long does a refund take?", "q1"), platform)
        )
        await asyncio.wait_for(held.entered.wait(), 10)  # A is answering: its model is slow

        # away for longer than the worker lease and the clock skew allowed: no worker can beat
        _stop(own_server)
        clock.advance(seconds=(WORKER_LEASE + MAX_SKEW).total_seconds() + 60)
        for presence in (pa, pb):
            with pytest.raises((psycopg.OperationalError, StoreError)):  # the statement, or no connection
                await presence.beat()
        own_server.ensure_postgres_running()

        # back: B beats and ticks before A's next beat
        await _beat_through(pb)
        await _beat_through(pb)
        await b.bot.tick({"slack": platform})
        await b.bot.settle()
        held.release.set()
        assert await asyncio.wait_for(answering, 30) == Outcome.ANSWERED
        assert len(platform.answers()) == 1  # A's, and only A's

        # A beats within the lease it was given; had it died instead, B takes its question then
        clock.advance(seconds=30)
        await _beat_through(pa)
        await _beat_through(pa)
        await b.bot.tick({"slack": platform})
        await b.bot.settle()
        assert len(platform.answers()) == 1
    finally:
        a.close()
        b.close()


def test_calls_during_an_outage_fail_fast_and_leave_one_store_connection(own_server: Any) -> None:
    """Store calls made while the server is down fail (each within the connect timeout, not the
    pool's 30 s), and once it is back the store holds one connection, as before. Before, each
    failed call gave the same broken connection back to the pool again, and each return opened
    a replacement past the pool's size, left open for good."""
    uri = str(own_server.get_uri())
    schema = f"t_{uuid.uuid4().hex[:10]}"

    def connections() -> int:
        with psycopg.connect(uri, autocommit=True) as conn:
            row = conn.execute(
                "select count(*) from pg_stat_activity where backend_type = 'client backend' "
                "and pid <> pg_backend_pid()"
            ).fetchone()
        assert row is not None
        return int(row[0])

    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f"create schema {schema}")
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    store = StateStore(in_schema(uri, schema))
    try:
        assert store.claim_event("slack:E0", "slack", "{}", now)
        before = connections()
        _stop(own_server)
        for n in range(2):
            with pytest.raises(StoreError):
                store.claim_event(f"slack:E{n + 1}", "slack", "{}", now)
        own_server.ensure_postgres_running()
        for _ in range(12):  # the pool reconnects on its own back-off: a call may fail meanwhile
            try:
                assert store.claim_event("slack:E9", "slack", "{}", now)
                break
            except StoreError:
                continue
        else:
            raise AssertionError("the store did not come back after the server did")
        time.sleep(CONNECT_TIMEOUT)  # the pool's replacements, if any, connect meanwhile
        assert connections() == before
    finally:
        store.close()
