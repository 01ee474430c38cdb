"""The Slack Web API client's logger: slack_sdk's debug lines are built only when they are printed.

slack_sdk formats each call's parameters and body, and the response's headers and body, for a
debug line whenever its logger's *own* level is DEBUG or lower; a logger left at NOTSET always
is. `make_web_client` gives the logger the level in effect, so nothing is formatted for a
line no handler prints, and a process that does log slack_sdk at DEBUG still gets the lines.
Real slack_sdk calls against the local fake Slack.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapters.slack.client import make_web_client, web_logger
from adapters.slack.manifest import BOT_SCOPES
from bot.config import load_settings
from tests.fakes.slack_server import FakeSlack

SDK_LOGGER = "slack_sdk.web.async_base_client"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        yield server


@pytest.fixture
def fresh_logger() -> Iterator[logging.Logger]:
    """slack_sdk's logger as a new process finds it (no level of its own), restored after."""
    logger = logging.getLogger(SDK_LOGGER)
    kept = logger.level
    logger.setLevel(logging.NOTSET)
    yield logger
    logger.setLevel(kept)


async def _post(fake: FakeSlack, tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": fake.bot_token, "SLACK_API_URL": fake.api_url}
    settings = load_settings(knowledge=tmp_path, data=tmp_path / "data", env=env, cwd=tmp_path)
    client = make_web_client(settings)
    response = await client.chat_postMessage(channel="C111", text="hello")
    assert response["ok"]
    assert client.logger is web_logger()


async def test_with_debug_off_slack_sdk_builds_no_debug_line(
    fake: FakeSlack, tmp_path: Path, fresh_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)  # the root's level, as `supportbot run` sets it
    await _post(fake, tmp_path)
    # slack_sdk's own test before it formats a request or a response for its debug line
    assert not fresh_logger.level <= logging.DEBUG
    assert not [r for r in caplog.records if r.name == SDK_LOGGER]


async def test_with_debug_on_slack_sdk_still_logs_its_requests(
    fake: FakeSlack, tmp_path: Path, fresh_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="slack_sdk")
    await _post(fake, tmp_path)
    lines = [r.getMessage() for r in caplog.records if r.name == SDK_LOGGER]
    assert any(line.startswith("Sending a request") for line in lines)
    assert any(line.startswith("Received the following response") for line in lines)
