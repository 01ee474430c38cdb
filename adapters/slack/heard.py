"""How far this process has heard Slack: the newest event's ts, kept in the state.

A read-back after an outage (adapters/slack/missed.py) starts just before what was last heard.
The newest message recorded says it only for what the bot kept: chatter it heard and judged
not for it, a join, a reaction leave no message behind, so a quiet bot's mark would lag hours
behind what it heard, and a restart would read all of that again (and, had a channel been
switched to auto-answer meanwhile, answer it). So every event's ts is noted here, and the
newest is written to the state at most once every `NOTE_EVERY` seconds (a write per event
would cost the event path a transaction); `MARGIN` before it covers the lag.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from adapters.inflight import InFlight
from adapters.slack.client import PLATFORM, ctx
from bot.ports import Core

log = logging.getLogger(__name__)

NOTE_EVERY = 10.0  # seconds; well inside adapters/read_back.py's MARGIN
# Slack's ts: seconds and microseconds, fixed width, so marks sort as text
_TS = re.compile(r"^\d{10}\.\d{6}$")


def slack_ts(value: Any) -> float | None:
    """A Slack ts as epoch seconds; None for anything else."""
    text = str(value or "")
    return float(text) if _TS.match(text) else None


class Heard:
    """The newest event ts this process heard, noted in the state (`Core.note_heard`)."""

    def __init__(
        self, core: Core, in_flight: InFlight, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.core = core
        self.in_flight = in_flight
        self.clock = clock
        self._newest: str | None = None
        self._noted: str | None = None
        self._noted_at: float | None = None

    def saw(self, event: Mapping[str, Any]) -> None:
        """An event arrived (any kind): its ts is heard."""
        ts = str(event.get("event_ts") or event.get("ts") or "")
        if slack_ts(ts) is None or (self._newest is not None and ts <= self._newest):
            return
        self._newest = ts
        now = self.clock()
        if self._noted_at is None or now - self._noted_at >= NOTE_EVERY:
            self._noted_at = now
            self.in_flight.start(self._note(ts), name="supportbot-slack-heard")

    async def _note(self, ts: str) -> None:
        try:
            await self.core.note_heard(PLATFORM, ts)
        except Exception as exc:  # the next event notes it again; a read-back reads a little more
            log.warning("could not note what was heard: %s", type(exc).__name__, extra=ctx())
