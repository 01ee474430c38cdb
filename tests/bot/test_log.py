"""Logs carry structured context and never a credential."""

from __future__ import annotations

import logging

from bot.log import ContextFormatter
from tests.fakes.tokens import OPENAI_KEY, SLACK_BOT_TOKEN


def _format(message: str, **extra: object) -> str:
    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, message, (), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return ContextFormatter("%(message)s").format(record)


def test_context_is_appended_as_key_value() -> None:
    line = _format("answered", platform="slack", channel="C1", thread_id="1.2", ticket_id=7)
    assert line == "answered platform=slack channel=C1 thread_id=1.2 ticket_id=7"


def test_tokens_are_masked_even_if_logged_by_mistake() -> None:
    line = _format(f"auth failed for {SLACK_BOT_TOKEN} with key {OPENAI_KEY}")
    assert SLACK_BOT_TOKEN not in line and OPENAI_KEY not in line
    assert line.count("[redacted]") == 2


def test_a_secret_assigned_after_another_setting_is_masked() -> None:
    """Before the twenty-fourth session the formatter wrote a secret assigned after another
    `name=value` in one run of text (a query string, a connection string) as it was."""
    password = "Hunt" + "er2!x"
    line = _format(f"request failed: GET https://api.example.com/login?user=ann&password={password}")
    assert line == "request failed: GET https://api.example.com/login?user=ann&password=[redacted]"
    line = _format(f"connect failed: Server=db;Database=app;User Id=sa;Password={password};")
    assert line == "connect failed: Server=db;Database=app;User Id=sa;Password=[redacted]"
