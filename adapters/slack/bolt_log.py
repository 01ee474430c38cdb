"""Bolt's own log lines that each request can write, held to one short line a second.

slack-bolt logs through its app's logger (`bolt_logger`), whose filters it copies to its
middlewares' loggers when the app is built. Two kinds of its lines come once per request, so
whoever can make Slack send requests, or an outage that fails every one, could fill the log
with them:

- "Unhandled request", several lines each with a suggested listener's code, for every signed
  request no listener matches (a command, shortcut or event the app does not handle);
- with installs, "Although the app should be installed ... AuthorizeResult ... was not
  found" (ERROR) for every request of a workspace whose install the state did not give (the
  state down, or the workspace not installed): a line per delivery through a store outage,
  beside the adapter's own, already one a second, which names the cause
  (adapters/slack/http_events.py). Bolt's INFO line with the cause ("Failed to call find_bot
  method") is below the WARNING bot/log.py sets for Bolt: left to whoever lowers that.

`BoltLines` drops them from Bolt's logger and writes the first line of each through a
`RateLimitedLog` (adapters/rate_limited_log.py) on this module's logger instead: at most one a
second per kind of line, the ones held back counted in the next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from adapters.rate_limited_log import RateLimitedLog

log = logging.getLogger(__name__)

BOLT_LOGGER = "slack_bolt.supportbot"  # the logger Bolt's AsyncApp gets (`bolt_logger`)


class BoltLines(logging.Filter):
    """Bolt's records whose message starts with one of `says`' keys: not passed on; each
    written as `says[key](its first line)` through `lines`, counted under its key."""

    def __init__(self, lines: RateLimitedLog, says: Mapping[str, Callable[[str], str]]) -> None:
        super().__init__()
        self.lines = lines
        self.says = dict(says)

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str):
            return True
        for prefix, say in self.says.items():
            if record.msg.startswith(prefix):
                first = record.getMessage().split("\n", 1)[0][:200]
                self.lines.write(prefix, say(first), last=first)
                return False
        return True


UNHANDLED = BoltLines(
    RateLimitedLog(log, more="%d more signed request(s) no listener handled, last: %s"),
    {"Unhandled request": lambda first: f"no listener for a signed request to /slack/events: {first}"},
)
INSTALLS = BoltLines(
    RateLimitedLog(log, more="%d more request(s) whose install Bolt found none of, last: %s"),
    {
        "Although the app should be installed": lambda _: (
            "Bolt found no install for a request's workspace (the state did not give it, or the "
            "workspace is not installed)"
        )
    },
)


def _filtered(name: str, *filters: BoltLines) -> logging.Logger:
    logger = logging.getLogger(name)
    for f in filters:
        if f not in logger.filters:  # once per process, however many apps or workspaces start
            logger.addFilter(f)
    return logger


def bolt_logger() -> logging.Logger:
    """The logger to give Bolt's app (`AsyncApp(logger=...)`)."""
    return _filtered(BOLT_LOGGER, UNHANDLED, INSTALLS)
