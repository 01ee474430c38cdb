"""What the store reports kept survives a PostgreSQL crash (bot/inbox.py's rules rest on it).

A server of its own, whose log writer waits 10 s, so a commit that did not wait for its own
flush is still only in memory when the server is stopped with `-m immediate` (a crash: no
checkpoint, no flush). A review did this to an earlier group-commit design and lost an acked
claim and an answer's record; these tests keep any such design honest.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.answering.trips import record_answer
from bot.store import AsyncStore, StateStore
from bot.store.answers import answer_statement
from bot.types import ConversationRef
from tests.bot.store.answer_fields import answer_fields

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
THREAD = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.0")


@pytest.fixture(scope="module")
def slow_flushing_server() -> Iterator[Any]:
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="supportbot-pgcrash-"))
    server = pgserver.get_server(folder, cleanup_mode="stop")
    with psycopg.connect(str(server.get_uri()), autocommit=True) as conn:
        conn.execute("alter system set wal_writer_delay = '10s'")
        conn.execute("select pg_reload_conf()")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def _crash(server: Any) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "stop", "-m", "immediate"], pgdata=server.pgdata, user=server.system_user)
    server.ensure_postgres_running()


def _count(url: str, sql: str, key: object) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql, [key]).fetchone()
    return int(row[0]) if row else 0


async def test_a_claim_an_answer_and_a_finish_handed_back_survive_a_crash(slow_flushing_server: Any) -> None:
    url = str(slow_flushing_server.get_uri())
    store = AsyncStore(StateStore(url))
    try:
        assert await store.run(StateStore.claim_event, "slack:E1", "slack", "{}", NOW)
        statement = answer_statement(**answer_fields(THREAD, NOW))
        recorded = await store.run(record_answer, statement, None, None)
        _crash(slow_flushing_server)
    finally:
        store.close()
    # the claim was reported kept (the event is acked on it) and the answer's id handed out
    # (its buttons carry it): both are on disk
    assert _count(url, "select count(*) from inbox where key = %s", "slack:E1") == 1
    assert _count(url, "select count(*) from answers where id = %s", recorded.answer_id) == 1

    again = AsyncStore(StateStore(url))  # a new process after the crash
    try:
        assert not await again.run(StateStore.claim_event, "slack:E1", "slack", "{}", NOW)  # seen before
        await again.run(StateStore.finish_event, "slack:E1", NOW)
        _crash(slow_flushing_server)
    finally:
        again.close()
    assert _count(url, "select count(*) from inbox where key = %s and status = 'done'", "slack:E1") == 1
