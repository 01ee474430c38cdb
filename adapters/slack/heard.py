"""How far this process has heard Slack: the newest event's ts, kept in the state.

A read-back after an outage (adapters/slack/missed.py) starts just before what was last heard.
The newest message recorded says it only for what the bot kept: chatter it heard and judged
not for it, a join, a reaction leave no message behind, so a quiet bot's mark would lag hours
behind what it heard, and a restart would read all of that again (and, had a channel been
switched to auto-answer meanwhile, answer it). So every event's ts is noted here, and the
newest is written to the state at most once every `NOTE_EVERY` seconds (a write per event
would cost the event path a transaction); `MARGIN` before it covers the lag.

A message left unrecorded is `hold`: unacknowledged, for Slack to deliver again, or on Slack's
last try acknowledged all the same (adapters/slack/retries.py). If every worker then stays
down past Slack's retries (or that was the last), the marks (the messages recorded and heard since)
would have moved past it. So a read-back from just before it is owed in the state
(`Core.owe_read_back`), before any later mark is noted: the next start reads it back
whatever the marks say (it is dropped only when a read-back covering it ends). It is owed in
the hold's workspace and channel too (`HeldIn`): a workspace the bot never talked in (its
first question, in a workspace just installed) or a first DM is read by no read-back otherwise.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.inflight import InFlight
from adapters.read_back import since
from adapters.slack.client import PLATFORM, ctx
from bot import faults
from bot.ports import Core

log = logging.getLogger(__name__)

NOTE_EVERY = 10.0  # seconds; well inside adapters/read_back.py's MARGIN
# Slack's ts: seconds and microseconds, fixed width, so marks sort as text
_TS = re.compile(r"^\d{10}\.\d{6}$")


def slack_ts(value: Any) -> float | None:
    """A Slack ts as epoch seconds; None for anything else."""
    text = str(value or "")
    return float(text) if _TS.match(text) else None


TEAMS = f"{PLATFORM}@"  # the places of the read-backs owed in one workspace's channel each


@dataclass(frozen=True)
class HeldIn:
    """Where a held message was said: its workspace, its channel (a first DM is in no channel
    a read-back knows of otherwise), the workspace's organisation, if any (an org-wide install
    is found by it), and its thread, if a reply (one whose root is older than a read-back's
    look-back is in no history it reads)."""

    team: str
    channel: str = ""
    enterprise: str = ""
    thread: str = ""

    @property
    def place(self) -> str:
        """Where a read-back owed there is kept (`Core.owe_read_back`'s place)."""
        return f"{TEAMS}{self.team}/{self.channel}/{self.enterprise}/{self.thread}"

    @classmethod
    def of_place(cls, place: str) -> HeldIn | None:
        team, channel, enterprise, thread, *_ = [*place.removeprefix(TEAMS).split("/"), "", "", ""]
        return cls(team, channel, enterprise, thread) if place.startswith(TEAMS) and team else None


class Heard:
    """The newest event ts this process heard, noted in the state (`Core.note_heard`)."""

    def __init__(
        self, core: Core, in_flight: InFlight, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.core = core
        self.in_flight = in_flight
        self.clock = clock
        self._newest: str | None = None
        self._noted: str | None = None  # the newest mark written
        self._noted_at: float | None = None
        self._owed: float | None = None  # the earliest point a read-back is owed from, not yet kept
        self._places_owed: dict[str, float] = {}  # the same, of each place held in (`HeldIn`)
        self._writing = False
        self._failures = 0  # writes failed in a row: an outage is warned of once, its end said
        # told of each hold, once the adapter serves: reads back what is owed while it runs
        self.when_owed: Callable[[], None] | None = None
        # the workspaces of the holds, and of the read-backs that could not read everything, since
        # the last read-back that read everything (in memory: a restart reads those the state owes)
        self.teams: set[str] = set()
        self.held = False  # anything owed by this process yet (before its read-backs began, say)

    def saw(self, event: Mapping[str, Any]) -> None:
        """An event arrived (any kind): its ts is heard."""
        ts = str(event.get("event_ts") or event.get("ts") or "")
        if slack_ts(ts) is None or (self._newest is not None and ts <= self._newest):
            return
        self._newest = ts
        now = self.clock()
        if self._noted_at is None or now - self._noted_at >= NOTE_EVERY or self._owed is not None:
            self._noted_at = now
            self._write()

    def hold(self, event: Mapping[str, Any], team: str | None, enterprise: str | None = None) -> bool:
        """A message event of workspace `team` not recorded (left for Slack to deliver again,
        or Slack's last try): a read-back from before it is owed. Whether it is a message
        (what has no ts is no message a read-back finds)."""
        ts = slack_ts(event.get("ts"))
        if ts is not None:
            thread = str(event.get("thread_ts") or "")
            where = (
                str(event.get("channel") or ""),
                enterprise or "",
                "" if thread == event.get("ts") else thread,
            )
            held = HeldIn(team, *where) if team else None
            self.owe(since(ts), held)
        return ts is not None

    def owe(self, after: float, held: HeldIn | None = None) -> None:
        """A read-back from the epoch time `after` is owed (before a held message, `MARGIN`
        before its ts; or where a read-back that could not read everything began), where `held`
        says too (a workspace or a channel the read-back might not know of yet: a first
        question there), from when Slack's retries are spent (`when_owed`)."""
        self._owed = after if self._owed is None else min(self._owed, after)
        self.held = True
        if held is not None:
            self.teams.add(held.team)
            self._places_owed[held.place] = min(self._places_owed.get(held.place, after), after)
        self._write()
        if self.when_owed is not None:
            self.when_owed()

    @property
    def pending(self) -> float | None:
        """The earliest point owed that the state has not taken yet."""
        points = [p for p in (self._owed, *self._places_owed.values()) if p is not None]
        return min(points) if points else None

    def _write(self) -> None:
        if not self._writing:  # one write at a time: an owed point is never passed by a later mark
            self._writing = True
            self.in_flight.start(self._note(), name="supportbot-slack-heard")

    async def flush(self) -> None:
        """Write what is owed now (at shutdown: a hold must not stay in memory only)."""
        if not self._writing and self.pending is not None:
            self._writing = True
            await self._note()

    async def _note(self) -> None:
        try:
            while True:
                # what is owed first, and again if a hold came while writing: never a mark past
                # it; each workspace's before the whole's (a start reads from the earliest of all)
                while self.pending is not None:
                    for held, point in list(self._places_owed.items()):
                        faults.point("heard.owing")
                        await self.core.owe_read_back(held, f"{point:.6f}")
                        if self._places_owed.get(held) == point:
                            del self._places_owed[held]
                    owed = self._owed
                    if owed is not None:
                        faults.point("heard.owing")
                        await self.core.owe_read_back(PLATFORM, f"{owed:.6f}")
                        if self._owed == owed:
                            self._owed = None
                newest = self._newest
                if newest is not None and newest != self._noted:
                    await self.core.note_heard(PLATFORM, newest)
                    self._noted = newest
                if self.pending is None:
                    if self._failures:  # an outage's end, said once as its start was
                        log.info(
                            "noting what was heard again after %d failed write(s)",
                            self._failures,
                            extra=ctx(),
                        )
                        self._failures = 0
                    return
        except Exception as exc:  # the next event writes again; meanwhile nothing passes the owed point
            self._failures += 1
            # every event of an outage tries again: one line says so, not one per event
            level = logging.WARNING if self._failures == 1 else logging.DEBUG
            log.log(
                level,
                "could not note what was heard (retried with each event): %s",
                type(exc).__name__,
                extra=ctx(),
            )
        finally:
            self._writing = False
