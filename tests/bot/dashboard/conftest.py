"""Fixtures of the dashboard's tests: a runtime with staff and admins, a console channel for
the chat side, and the dashboard served over loopback (served.py)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from tests.bot.dashboard.served import CONFIG, Client, start
from tests.bot.dashboard.signin_site import fake_discord, fake_slack, serve  # noqa: F401 (shared fixtures)
from tests.fakes.clock import FakeClock


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(CONFIG)


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


@pytest.fixture
async def client(rt: Runtime, clock: FakeClock, channel: ConsoleChannel) -> AsyncIterator[Client]:
    c = await start(rt, clock, channel)
    yield c
    await c.close()
