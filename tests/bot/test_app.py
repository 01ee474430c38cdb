"""Wiring: the adapter supervisor and the SLA clock that `supportbot run` starts."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.console import ConsoleChannel
from bot import supervisor
from bot.app import Runtime, build_answerer, build_runtime
from bot.cluster import Presence
from bot.config import Settings
from bot.errors import ConfigError, FatalAdapterError
from bot.store.values import iso
from bot.supervisor import _run_clock, _supervise, enabled_adapters
from bot.types import Author, ConversationRef, DocVisibility, InboundMessage, Reply, Visibility
from tests.fakes.clock import FakeClock


class SignallingChannel(ConsoleChannel):
    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.reminded = asyncio.Event()

    async def send(self, reply: Reply):  # type: ignore[no-untyped-def]
        posted = await super().send(reply)
        if "still has no response" in reply.text:
            self.reminded.set()
        return posted


# a request for a person: it opens a ticket whose first-response reminder the clock posts
_HUMAN_PLEASE = InboundMessage(
    id="m1",
    conversation=ConversationRef(platform="slack", workspace="T", channel="C"),
    author=Author(id="U1"),
    text="I want to talk to a human",
    addressed=True,
    visibility=Visibility.INTERNAL,
    sent_at=datetime(2026, 11, 30, tzinfo=UTC),
)


class FakeAdapter:
    name = "slack"

    def __init__(self, channel: ConsoleChannel | None) -> None:
        self._channel = channel

    @property
    def channel(self) -> ConsoleChannel:
        if self._channel is None:
            raise RuntimeError("not connected")
        return self._channel


async def test_the_clock_fires_due_reminders_through_connected_adapters(
    make_runtime: Callable[..., Runtime], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = make_runtime('[slack]\nstaff_groups = ["S1"]\n')
    channel = SignallingChannel()
    message = _HUMAN_PLEASE
    await rt.bot.on_message(message, channel)
    clock.advance(minutes=16)
    monkeypatch.setattr(supervisor, "TICK_SECONDS", 0.01)
    not_connected = FakeAdapter(None)  # a second platform still connecting must not stop the clock
    not_connected.name = "discord"
    task = asyncio.create_task(_run_clock(rt.bot, [FakeAdapter(channel), not_connected]))  # type: ignore[list-item]
    try:
        await asyncio.wait_for(channel.reminded.wait(), 5)
    finally:
        task.cancel()
    assert len([r for _, r in channel.posted if "still has no response" in r.text]) == 1


async def test_a_fatal_adapter_error_stops_instead_of_restarting() -> None:
    class Broken:
        name = "slack"
        runs = 0

        async def run(self) -> None:
            Broken.runs += 1
            raise FatalAdapterError("the token was rejected")

    with pytest.raises(FatalAdapterError):
        await _supervise(Broken())  # type: ignore[arg-type]
    assert Broken.runs == 1


def test_adapters_are_enabled_by_the_environment(make_settings: Callable[..., object]) -> None:
    none = make_settings()
    assert enabled_adapters(none) == []  # type: ignore[arg-type]
    socket = make_settings(env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"})
    assert enabled_adapters(socket) == ["slack"]  # type: ignore[arg-type]
    bot_token_only = make_settings(env={"SLACK_BOT_TOKEN": "xoxb-1"})
    assert enabled_adapters(bot_token_only) == []  # type: ignore[arg-type]
    both = make_settings(env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "DISCORD_TOKEN": "d"})
    assert enabled_adapters(both) == ["slack", "discord"]  # type: ignore[arg-type]


async def test_a_running_bot_picks_up_edited_documents(
    make_runtime: Callable[..., Runtime],
    knowledge_dir,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    rt = make_runtime()
    before = await rt.bot.knowledge.search("store credit", DocVisibility.INTERNAL)
    assert not any("store credit" in p.text for p in before.passages)
    (knowledge_dir / "refunds.md").write_text(
        "# Refunds\n\nWe give store credit instead of cash refunds.\n", encoding="utf-8"
    )
    synced = asyncio.Event()
    real = rt.bot.knowledge.reindex

    async def reindex():  # type: ignore[no-untyped-def]
        report = await real()
        if report.changed:
            synced.set()
        return report

    monkeypatch.setattr(rt.bot.knowledge, "reindex", reindex)
    task = asyncio.create_task(supervisor._watch_knowledge(rt.bot, 0.01))
    try:
        await asyncio.wait_for(synced.wait(), 5)
    finally:
        task.cancel()
    after = await rt.bot.knowledge.search("store credit", DocVisibility.INTERNAL)
    assert after.passages[0].path == "refunds.md" and "store credit" in after.passages[0].text


class StalledChannel(ConsoleChannel):
    """A platform that has stopped answering (rate limited for minutes): every post waits."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.stalled = asyncio.Event()

    async def send(self, reply: Reply):  # type: ignore[no-untyped-def]
        self.stalled.set()
        await asyncio.Event().wait()  # never answered while the test looks


async def test_the_heartbeat_goes_on_while_a_tick_is_stuck_on_a_slow_platform(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    rt = make_runtime('[slack]\nstaff_groups = ["S1"]\n')
    asked = _HUMAN_PLEASE
    await rt.bot.on_message(asked, ConsoleChannel(io.StringIO()))
    clock.advance(minutes=16)  # the ticket's first-response reminder is due: the tick posts it
    presence = Presence(store=rt.store, clock=clock, platforms=["slack"])
    await presence.join()
    channel = StalledChannel()
    task = asyncio.create_task(_run_clock(rt.bot, [FakeAdapter(channel)], presence, every=0.01))  # type: ignore[list-item]
    try:
        await asyncio.wait_for(channel.stalled.wait(), 5)  # the tick is stuck on the reminder
        clock.advance(minutes=5)  # longer than a worker's lease: without beats it would look dead
        beat = "select heartbeat_at from workers where id = ?"
        for _ in range(500):
            if rt.state.db.execute(beat, [presence.id]).fetchone()[0] == iso(clock.now()):
                break
            await asyncio.sleep(0.01)
        assert rt.state.db.execute(beat, [presence.id]).fetchone()[0] == iso(clock.now())
        assert not task.done()  # still stuck in the tick
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_llm_mode_without_a_model_is_refused_before_anything_is_opened(
    make_settings: Callable[..., Settings],
) -> None:
    """knowledge/configuration.md: `[answer] mode = "llm"` always uses the model. Without an
    endpoint the bot refuses (run, chat, ask, eval) instead of quietly quoting the docs."""
    settings = make_settings('[answer]\nmode = "llm"\n')
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        build_answerer(settings)
    with pytest.raises(ConfigError, match='mode = "llm"'):
        build_runtime(settings)
    assert not settings.data_dir.exists()  # neither the state nor the index was opened
    endpoint = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    answerer, fallback = build_answerer(make_settings('[answer]\nmode = "llm"\n', env=endpoint))
    assert answerer.name == "llm" and fallback is not None
