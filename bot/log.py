"""Logging setup, used by the CLI only: one line per record, with its structured context.

Modules log with `logging.getLogger(__name__)` and pass ids in `extra=` (platform,
channel, thread, ticket_id, ...); this formatter appends them as key=value. As a last
line of defence it masks anything shaped like a credential (the patterns of
bot/answering/secrets.py), so a secret that reaches a log message by mistake is not written out.
"""

from __future__ import annotations

import logging
import sys

from bot.answering.secrets import redact_secrets

CONTEXT_KEYS = (
    "platform",
    "workspace",
    "channel",
    "thread_id",  # not "thread": LogRecord has its own attribute of that name
    "message_id",
    "ticket_id",
    "answer_id",
    "command",
    "action",
    "event",
    "reason",
)


def redact(text: str) -> str:
    """The same patterns that keep credentials out of posted answers keep them out of logs."""
    return redact_secrets(text)


class ContextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        context = " ".join(
            f"{key}={getattr(record, key)}"
            for key in CONTEXT_KEYS
            if getattr(record, key, None) not in (None, "")
        )
        return redact(f"{base} {context}" if context else base)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # the SDKs are chatty at INFO (every HTTP call); their warnings still come through
    for noisy in ("slack_bolt", "slack_sdk", "discord", "httpx", "openai", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
