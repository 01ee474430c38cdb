"""Bursts and known-issue notices end to end on Discord: real discord.py against the local fake
gateway and REST API, the real core and store. Two people asking the same thing raise one alert
in the triage channel with jump links to their threads; staff open an incident with its button;
the next similar answer carries the notice; `/support incident close` replies in that thread."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.app import Runtime
from bot.store.incidents import IncidentStatus
from tests.adapters import test_discord_adapter as d
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


async def test_a_burst_alert_an_incident_notice_and_its_closing_reply(
    fake: FakeDiscord, make_runtime: Callable[..., Runtime]
) -> None:
    runtime = make_runtime(
        d.discord_toml(fake, "[insights]\nburst_min_askers = 2\n"),
        env=d.discord_env(fake),
        answerer=ConfidentExtractive(),
    )
    async with d.running(runtime) as adapter:
        first, _ = await d.answered(fake, adapter, "How do I reset my password?")
        start = len(fake.requests)
        second = await d.mention(
            fake, "I forgot my password, how do I reset it?", author_id=fake.staff_user_id
        )
        alert = await fake.wait_for_request(
            "POST", d.MESSAGES, d.ok_post(fake.general_channel_id, "2 people asked"), after=start
        )
        await adapter.drain(5)
        content = alert.json["content"]
        for thread in (first, second["id"]):
            assert f"/channels/{fake.guild_id}/{thread})" in content  # a jump link to each thread
        assert f"Channels: <#{fake.text_channel_id}>" in content  # #support named, not a bare id
        [open_incident] = d.custom_ids(alert.json)
        assert open_incident.startswith("supportbot:open_incident:")

        start = len(fake.requests)
        await d.press(
            fake,
            open_incident,
            message_id=alert.response["id"],
            channel_id=fake.general_channel_id,
            user_id=fake.staff_user_id,
        )
        await fake.wait_for_request(
            "POST", d.MESSAGES, d.ok_post(fake.general_channel_id, "is open"), after=start
        )
        await adapter.drain(5)
        [incident] = runtime.state.incidents("discord", IncidentStatus.OPEN)

        third, answer = await d.answered(fake, adapter, "password reset, how?")
        assert answer.json["content"].startswith("**Known issue:** the team knows about this problem")

        start = len(fake.requests)
        _, reply = await d.slash(
            fake, "incident", {"action": "close", "text": "Fixed at 11:05."}, user_id=fake.staff_user_id
        )
        closing = await fake.wait_for_request(
            "POST", d.MESSAGES, d.ok_post(third, "Update on the known issue:** Fixed at 11:05."), after=start
        )
        assert closing.status == 200
        assert f"Incident #{incident.id} closed; 1 thread(s)" in reply.json["content"]
        assert runtime.state.incidents("discord", IncidentStatus.OPEN) == []
