"""Two Slack workers (Socket Mode) on one PostgreSQL both start after an outage and read back
the bot's thread, where staff took over ("I'll take this one.") and then the member asked on.

One worker alone hands a thread's replies over one after another, each handled before the next,
so the takeover lands before the follow-up is decided. With two, the one that did not claim the
staff reply finds it handled at once (a duplicate) and would hand the follow-up over while the
other still has the staff reply queued (its answer pool busy with the read-back's other
questions: modelled by holding its pool). The reader itself keeps the bot quiet after a staff
reply unless it is mentioned, whatever order the workers record them in
(adapters/slack/missed_reading.py).
"""

from __future__ import annotations

import asyncio
import textwrap
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from bot.app import Runtime, build_runtime
from bot.config import load_settings
from tests.adapters.test_slack import MEMBER, STAFF, deliver, fake, posts, running, slack_env  # noqa: F401
from tests.adapters.test_slack_missed import ALWAYS
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.timeout(90)


async def test_a_follow_up_after_staff_took_over_while_down_is_not_answered_by_either_worker(
    fake: FakeSlack,  # noqa: F811
    pg_url: str,  # noqa: F811
    tmp_path: Path,
    knowledge_dir: Path,
    clock: FakeClock,
) -> None:
    made: list[Runtime] = []

    def worker(name: str) -> Runtime:
        config = tmp_path / f"{name}.toml"
        config.write_text(textwrap.dedent(ALWAYS), encoding="utf-8")
        env = {**slack_env(fake), "SUPPORTBOT_DATABASE_URL": pg_url}
        settings = load_settings(config=config, knowledge=knowledge_dir, data=tmp_path / name, env=env)
        rt = build_runtime(settings, clock=clock, answerer=ConfidentExtractive())
        made.append(rt)
        return rt

    try:
        first = worker("a0")
        async with running(first) as adapter:
            await fake.wait_for_connection(1)
            asked = fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
            await deliver(fake, adapter, asked)
        thread_ts = str(asked["event"]["ts"])
        in_thread = lambda: [c for c in posts(fake, "C111") if c.params.get("thread_ts") == thread_ts]  # noqa: E731
        assert len(in_thread()) == 1

        # every worker down: staff step in, then the member asks on in the bot's thread
        staff = fake.add_message("C111", "I'll take this one.", user=STAFF, thread_ts=thread_ts)
        follow = fake.add_message(
            "C111", "And how long does a refund take?", user=MEMBER, thread_ts=thread_ts
        )

        a, b = worker("a"), worker("b")
        pool = a.bot.deliveries._workers
        busy = AsyncExitStack()
        for i in range(a.settings.answer.workers):  # worker a's pool is busy (other read-back answers)
            await busy.enter_async_context(pool.slot(f"elsewhere-{i}", late=False))
        staff_key = f"slack:msg:C111:{staff['ts']}"
        async with running(a) as adapter_a:
            # worker a claims the staff reply (in order, before the follow-up) and waits for a slot
            for _ in range(400):
                if a.state.db.execute("select 1 from inbox where key = ?", [staff_key]).fetchone():
                    break
                await asyncio.sleep(0.025)
            else:
                raise AssertionError("worker a never claimed the staff reply")
            async with running(b) as adapter_b:
                assert await adapter_b.drain(20)
                answered_by_b = len(in_thread())
                await busy.aclose()
                assert await adapter_a.drain(20)
        assert answered_by_b == 1 and len(in_thread()) == 1
        assert (
            a.state.db.execute(
                "select 1 from inbox where key = ?", [f"slack:msg:C111:{follow['ts']}"]
            ).fetchone()
            is None
        )
    finally:
        for rt in made:
            rt.close()
