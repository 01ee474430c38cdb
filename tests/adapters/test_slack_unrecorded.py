"""A Slack event the core has not recorded is never acknowledged, on either store.

Slack forgets an event once it is acknowledged, so an ack for a message that is in no inbox
yet (its claim waits on a store another writer holds, or on a rate-limited directory lookup)
leaves a crash, or the claim's failure, nobody to answer it. Not acknowledged, Slack delivers it
again, and the inbox answers it once if the slow claim landed after all. Each such delivery
costs one log line, not a traceback each. Real adapter, store and fake Slack throughout.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from adapters.slack import SlackAdapter
from bot import faults
from bot.app import Runtime
from tests.adapters.test_slack import MEMBER, TOML, deliver, fake, posts, rt, running, slack, slack_env  # noqa: F401
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401  (fixtures)
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.slack_server import FakeSlack, post_signed

QUESTION = "How long does a refund take to arrive?"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None for the SQLite file in the data dir, else a PostgreSQL schema of this test's own."""
    if request.param == "sqlite":
        return None
    pytest.importorskip("psycopg")
    url: str = request.getfixturevalue("pg_url")
    return url


@contextmanager
def inbox_locked(runtime: Runtime, database_url: str | None) -> Iterator[Callable[[], list[str]]]:
    """Another writer holds the inbox (a long write, a backup, a migration) for the block; what
    it yields reads the inbox's keys meanwhile (readers are not blocked)."""
    if database_url is None:
        path = runtime.settings.data_dir / "state.db"
        holder = sqlite3.connect(path, isolation_level=None, timeout=0)
        holder.execute("begin immediate")

        def keys() -> list[str]:
            reader = sqlite3.connect(path, timeout=0)
            try:
                return [row[0] for row in reader.execute("select key from inbox")]
            finally:
                reader.close()

        try:
            yield keys
        finally:
            holder.execute("rollback")
            holder.close()
        return
    import psycopg

    with psycopg.connect(database_url) as locker:
        locker.execute("lock table inbox in exclusive mode")

        def pg_keys() -> list[str]:
            with psycopg.connect(database_url) as reader:
                return [str(row[0]) for row in reader.execute("select key from inbox")]

        try:
            yield pg_keys
        finally:
            locker.rollback()


def make_rt(
    make_runtime: Callable[..., Runtime], slack_server: FakeSlack, database_url: str | None, **env: Any
) -> Runtime:
    more = {"SUPPORTBOT_DATABASE_URL": database_url} if database_url else {}
    return make_runtime(TOML, env={**slack_env(slack_server, **env), **more}, answerer=ConfidentExtractive())


async def test_a_socket_event_whose_claim_waits_on_a_locked_store_is_not_acked_and_is_answered_once(
    make_runtime: Callable[..., Runtime],
    fake: FakeSlack,  # noqa: F811
    database_url: str | None,
) -> None:
    runtime = make_rt(make_runtime, fake, database_url)
    body = fake.user_message("C111", QUESTION, user=MEMBER, mention=True)
    async with running(runtime) as adapter:
        await fake.wait_for_connection(1)
        with inbox_locked(runtime, database_url) as inbox:
            with pytest.raises(TimeoutError):  # past Slack's 3 s: no ack while the inbox lacks it
                await fake.socket_send("events_api", body, timeout=3.0)
            assert inbox() == []
        # the claim that waited lands now; Slack's redelivery is a duplicate of it
        await deliver(fake, adapter, body, retry_attempt=1, retry_reason="timeout")
    assert len(posts(fake, "C111")) == 1


async def test_an_http_event_whose_claim_waits_on_a_locked_store_gets_a_5xx_and_is_answered_once(
    make_runtime: Callable[..., Runtime],
    fake: FakeSlack,  # noqa: F811
    database_url: str | None,
) -> None:
    runtime = make_rt(make_runtime, fake, database_url, http=True)
    body = json.dumps(fake.user_message("C111", QUESTION, user=MEMBER, mention=True)).encode()
    async with running(runtime) as adapter:
        url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
        with inbox_locked(runtime, database_url) as inbox:
            status, _ = await post_signed(url, body, fake.signing_secret)
            assert status >= 500  # not a 2xx: Slack retries it
            assert inbox() == []
        status, _ = await post_signed(url, body, fake.signing_secret, retry_num=1, retry_reason="http_error")
        assert status == 200
        assert await adapter.drain(timeout=15)
    assert len(posts(fake, "C111")) == 1


async def test_a_crash_while_a_rate_limited_author_lookup_holds_the_claim_loses_nothing(
    fake: FakeSlack,  # noqa: F811
    rt: Runtime,  # noqa: F811
) -> None:
    """users.info answers 429 with Retry-After 3: slack_sdk waits it out, so the message is not
    recorded within the ack's bound; the process then dies at its claim. Unacknowledged, the
    event comes back to the restarted process and is answered."""
    fake.rate_limit("users.info", times=1, retry_after=3)
    body = fake.user_message("C111", QUESTION, user=MEMBER, mention=True)
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        with faults.crash_at("event.claiming"):
            with pytest.raises(TimeoutError):
                await fake.socket_send("events_api", body, timeout=3.0)
            await adapter.drain(timeout=15)  # ... and "kill -9" at the claim
    assert rt.state.pending_events("slack") == []  # nothing for a replay: Slack still has it
    async with running(rt) as adapter:
        await fake.wait_for_connection(2)
        await deliver(fake, adapter, body, retry_attempt=1, retry_reason="timeout")
    assert len(posts(fake, "C111")) == 1


async def test_a_delivery_that_cannot_be_recorded_costs_one_log_line_without_a_traceback(
    fake: FakeSlack,  # noqa: F811
    slack: SlackAdapter,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    body = fake.user_message("C111", QUESTION, user=MEMBER, mention=True)
    with faults.crash_at("event.claiming", error=OSError("disk full")), pytest.raises(TimeoutError):
        await fake.socket_send("events_api", body, timeout=2.5)
    assert await slack.drain(timeout=15)
    # the SDKs log at WARNING and above in production (bot/log.py); ours at INFO and above
    lines = [
        r
        for r in caplog.records
        if r.name.startswith("adapters.slack")
        or (r.name.startswith(("slack_bolt", "slack_sdk")) and r.levelno >= logging.WARNING)
    ]
    assert [(r.levelno, r.exc_info) for r in lines] == [(logging.WARNING, None)]
    assert "disk full" in lines[0].getMessage() and "delivers it again" in lines[0].getMessage()
