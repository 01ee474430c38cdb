"""Forget-me end to end on Discord: real discord.py against the local fake gateway and REST API,
the real core and store. The confirm button arrives on the ephemeral reply to /support forget-me;
another member's press forgets nobody; after the asker's, no cell of state.db holds them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.app import Runtime
from bot.messages import say
from tests.adapters import test_discord_adapter as d
from tests.adapters.test_privacy_e2e import cells_with
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.discord_server import FLAG_EPHEMERAL, FakeDiscord

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


async def test_forget_me_through_discord(fake: FakeDiscord, make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime(d.discord_toml(fake), env=d.discord_env(fake), answerer=ConfidentExtractive())
    state = runtime.settings.data_dir / "state.db"
    async with d.running(runtime) as adapter:
        _, reply = await d.slash(fake, "remember", {"setting": "on"})
        assert "Memory is on" in reply.json["content"]
        await d.answered(fake, adapter, "We're on the Gizmo plan: how do I reset my password?")
        await d.answered(fake, adapter, "How do I reset my password?")  # alice twice: two threads
        assert cells_with(state, fake.user_id)

        interaction, confirm = await d.slash(fake, "forget-me")
        assert confirm.json["flags"] == FLAG_EPHEMERAL and "cannot be undone" in confirm.json["content"]
        [button, *_] = d.custom_ids(confirm.json)
        assert button.startswith("supportbot:forget_me_confirm")
        start = len(fake.requests)
        refused = await d.press(
            fake,
            button,
            message_id=confirm.response["id"],
            channel_id=interaction["channel_id"],
            user_id=fake.staff_user_id,
        )
        note = await fake.wait_for_request("POST", f"/webhooks/{fake.app_id}/{refused['token']}", after=start)
        assert "Only the person who asked" in note.json["content"]
        await adapter.drain(5)
        assert cells_with(state, fake.user_id)  # bob's press forgot nobody

        start = len(fake.requests)
        pressed = await d.press(
            fake, button, message_id=confirm.response["id"], channel_id=interaction["channel_id"]
        )
        done = await fake.wait_for_request("POST", f"/webhooks/{fake.app_id}/{pressed['token']}", after=start)
        assert "deleted or anonymised" in done.json["content"]
        await adapter.drain(5)

    assert cells_with(state, fake.user_id) == []
    assert cells_with(state, "Gizmo") == [] and cells_with(state, "reset my password") == []


async def test_privacy_commands_answer_in_the_language_the_persons_discord_app_is_set_to(
    fake: FakeDiscord, make_runtime: Callable[..., Runtime]
) -> None:
    """Discord says each interaction's locale; without opt-in memory every reply was English,
    so someone whose app is in Korean was asked to confirm forgetting, and told it was done,
    in English."""
    runtime = make_runtime(d.discord_toml(fake), env=d.discord_env(fake), answerer=ConfidentExtractive())
    async with d.running(runtime):
        interaction, confirm = await d.slash(fake, "forget-me", locale="ko")
        assert "되돌릴 수 없" in confirm.json["content"]
        [button, *_] = d.custom_ids(confirm.json)
        start = len(fake.requests)
        pressed = await d.press(
            fake, button, message_id=confirm.response["id"], channel_id=interaction["channel_id"], locale="ko"
        )
        done = await fake.wait_for_request("POST", f"/webhooks/{fake.app_id}/{pressed['token']}", after=start)
        assert done.json["content"].startswith("완료: 관련 기록")  # and so its outcome, pressed in Korean
        _, reply = await d.slash(fake, "remember", {"setting": "on"}, locale="ko")
        assert reply.json["content"].startswith("기억 기능이 켜졌습니다.")
        _, reply = await d.slash(fake, "me", locale="en-GB")  # remembered nothing yet: the app decides
        assert reply.json["content"] == say("memory_empty", "en")
