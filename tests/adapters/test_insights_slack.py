"""Bursts and known-issue notices end to end on Slack: real slack-bolt and slack_sdk against the
local fake Slack, the real core and store. A burst alert reaches the triage channel with links
to the threads; *Open incident* puts the notice on the next similar answer; closing it with the
slash command replies in that thread."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from adapters.slack import SlackAdapter
from adapters.slack.manifest import BOT_SCOPES
from bot.app import Runtime
from bot.store.incidents import IncidentStatus
from tests.adapters.test_slack import (
    MEMBER,
    STAFF,
    buttons,
    click,
    deliver,
    posts,
    press,
    running,
    section_text,
    slack_env,
)
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.slack_server import FakeSlack

THIRD = "W333"
TOML = """
[slack]
staff_groups = ["S111"]
triage_channel = "C222"
[insights]
burst_min_askers = 2
"""


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        yield server
        assert [c for c in server.api_calls if c.error == "missing_scope"] == []


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime], fake: FakeSlack) -> Runtime:
    fake.add_user(THIRD, "third", real_name="Third Member")
    return make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())


@pytest.fixture
async def slack(rt: Runtime, fake: FakeSlack) -> AsyncIterator[SlackAdapter]:
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        yield adapter


async def test_a_burst_alert_an_incident_notice_and_its_closing_reply(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    await deliver(
        fake, slack, fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
    )
    assert posts(fake, "C222") == []  # one asker is no burst
    await deliver(
        fake,
        slack,
        fake.user_message("C111", "I forgot my password, how do I reset it?", user=THIRD, mention=True),
    )
    [alert] = posts(fake, "C222")
    text = section_text(alert)
    assert "2 people asked about the same thing" in text and "#C111" in text
    permalinks = [c.response["permalink"] for c in fake.calls("chat.getPermalink") if c.ok]  # type: ignore[index]
    assert len(permalinks) >= 2 and all(f"<{p}|" in text for p in set(permalinks))
    assert [b["action_id"] for b in buttons(alert)] == ["supportbot:open_incident"]

    await click(fake, slack, press(fake, alert, "supportbot:open_incident", MEMBER, channel="C222"))
    assert rt.state.incidents("slack") == []  # members cannot
    await click(fake, slack, press(fake, alert, "supportbot:open_incident", STAFF, channel="C222"))
    [incident] = rt.state.incidents("slack", IncidentStatus.OPEN)
    assert f"Incident #{incident.id} is open" in posts(fake, "C222")[-1].params["text"]

    await deliver(fake, slack, fake.user_message("C111", "password reset, how?", user=MEMBER, mention=True))
    noticed = posts(fake, "C111")[-1]
    assert section_text(noticed).startswith("*Known issue:* the team knows about this problem")

    await fake.socket_send(
        "slash_commands",
        fake.slash_command("/support", "incident close Fixed at 11:05.", user_id=STAFF),
        timeout=3.0,
    )
    assert await slack.drain(timeout=15)
    closing = posts(fake, "C111")[-1]
    assert closing.params["thread_ts"] == noticed.params["thread_ts"]
    assert "Update on the known issue:* Fixed at 11:05." in section_text(closing)
    assert "closed; 1 thread(s)" in ((await fake.wait_for_response()).text or "")


DIGEST_TOML = """
[slack]
staff_groups = ["S111"]
[insights]
digest_channel = "C222"
digest_weekday = "mon"
digest_hour = 9
"""


async def test_the_weekly_digest_and_the_gaps_command_through_slack(
    fake: FakeSlack, make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    rt = make_runtime(DIGEST_TOML, env=slack_env(fake))
    async with running(rt) as slack:
        await fake.wait_for_connection(1)
        clock.current = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday
        for text in ("How do I export my invoices to CSV?", "Can I export invoices as a CSV file?"):
            await deliver(fake, slack, fake.user_message("C111", text, user=MEMBER, mention=True))
        await fake.socket_send(
            "slash_commands", fake.slash_command("/support", "gaps", user_id=STAFF), timeout=3.0
        )
        assert await slack.drain(timeout=15)
        listing = (await fake.wait_for_response()).text or ""
        assert "(2x, unanswered)" in listing and "invoices" in listing.lower()

        clock.current = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)  # Monday 09:05 UTC
        await rt.bot.tick({"slack": slack.channel})  # SLA reminders are due too by now
        await rt.bot.tick({"slack": slack.channel})
        [digest] = posts(fake, "C222")  # once
        text = section_text(digest)
        assert "Weekly support digest" in text and "Questions: 2" in text
        assert "Top knowledge gaps" in text and "Unresolved tickets: 2" in text


async def test_open_incident_pressed_after_its_incident_closed_says_so(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    """The alert's button pressed again once its incident was closed: the presser is told it
    was closed and how to open a new one (before: "already open", with nothing open)."""
    await deliver(
        fake, slack, fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
    )
    await deliver(
        fake,
        slack,
        fake.user_message("C111", "I forgot my password, how do I reset it?", user=THIRD, mention=True),
    )
    [alert] = posts(fake, "C222")
    await click(fake, slack, press(fake, alert, "supportbot:open_incident", STAFF, channel="C222"))
    closing = fake.slash_command("/support", "incident close Fixed.", user_id=STAFF)
    await fake.socket_send("slash_commands", closing, timeout=3.0)
    assert await slack.drain(timeout=15)
    [closed] = rt.state.incidents("slack", IncidentStatus.CLOSED)
    await click(fake, slack, press(fake, alert, "supportbot:open_incident", STAFF, channel="C222"))
    told = fake.last_call("chat.postEphemeral").params["text"]
    assert f"Incident #{closed.id} for this alert was closed" in told and "incident open" in told
    assert rt.state.incidents("slack", IncidentStatus.OPEN) == []
