"""Logs carry structured context and never a credential."""

from __future__ import annotations

import logging

from bot.log import ContextFormatter


def _format(message: str, **extra: object) -> str:
    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, message, (), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return ContextFormatter("%(message)s").format(record)


def test_context_is_appended_as_key_value() -> None:
    line = _format("answered", platform="slack", channel="C1", thread_id="1.2", ticket_id=7)
    assert line == "answered platform=slack channel=C1 thread_id=1.2 ticket_id=7"


def test_tokens_are_masked_even_if_logged_by_mistake() -> None:
    line = _format("auth failed for xoxb-123456789012-abcdefghijkl with key sk-abcdefghijklmnopqrstu1234")
    assert "xoxb-123456789012" not in line and "abcdefghijklmnopqrstu1234" not in line
    assert line.count("[redacted]") == 2
