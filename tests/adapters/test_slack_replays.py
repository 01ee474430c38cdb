"""A replay after kill -9 looks for what its predecessor posted (adapters/slack/find_reply.py):
a look Slack gave no answer to (rate limited past slack_sdk's retries, Slack failing) is the
replay's failure, tried again at a later pass, never "no post", which would post a second
answer beside the one already in the thread; the next pass that can look finds it.

The real adapter (slack-bolt, slack_sdk) against the fake Slack, the real core and store.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.app import Runtime
from tests.adapters.test_slack import TOML, _left_pending, fake, posts, rt, running, slack_env  # noqa: F401
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.slack_server import FakeSlack


@pytest.mark.parametrize("fault", ["ratelimited", "internal_error", "http503"])
async def test_a_replay_whose_look_got_no_answer_does_not_answer_twice(
    fake: FakeSlack,  # noqa: F811
    rt: Runtime,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    fault: str,
) -> None:
    question = _left_pending(fake, rt, "How do I reset my password?")
    # killed after its answer went out (an older version's, with no label) and before the
    # inbox noted it
    fake.add_message("C111", "To reset your password …", user=fake.bot_user_id, thread_ts=question["ts"])
    if fault == "ratelimited":
        fake.rate_limit("conversations.replies", times=4, retry_after=0)  # slack_sdk's 3 retries spent
    elif fault == "http503":
        fake.http_error("conversations.replies", status=503, times=3)
    else:
        fake.fail("conversations.replies", fault)
    async with running(rt):
        pass  # the start's replay pass: its look fails
    assert posts(fake) == []
    assert rt.state.pending_events("slack")  # left for a later pass
    rt.close()
    clock.advance(seconds=1)
    again = make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())  # a restart
    async with running(again) as adapter:  # Slack answers again: the post is found, not repeated
        assert await adapter.drain(10)
    assert posts(fake) == []
    assert not again.state.pending_events("slack")
