"""Logging setup, used by the CLI only: one line per record, with its structured context.

Modules log with `logging.getLogger(__name__)` and pass ids in `extra=` (platform,
channel, thread, ticket_id, ...); this formatter appends them as key=value. As a last
line of defence it masks anything shaped like a token, so a secret that reaches a log
message by mistake is not written out.
"""

from __future__ import annotations

import logging
import re
import sys

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

_SECRET = re.compile(
    r"(xox[abposr]-[0-9A-Za-z-]{6,}|xapp-[0-9A-Za-z-]{6,}|sk-[A-Za-z0-9_-]{12,}|"
    r"[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,})"
)


def redact(text: str) -> str:
    return _SECRET.sub(lambda m: m.group(0)[:5] + "…[redacted]", text)


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
