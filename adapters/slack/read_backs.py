"""The read-backs a running Slack adapter starts (adapters/slack/missed.py `read_back` reads):
the one at start, those after a Socket Mode gap, and those a hold owes while the process runs
(adapters/slack/heard.py), whose timing is `OwedReader`'s: after Slack's retries are spent,
then again while something is still owed, at a steady pace while the state fails before Slack
is asked anything, and further apart each time after a read that asked Slack.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Coroutine, Sequence
from typing import Any

from adapters.read_back import since
from adapters.slack.client import PLATFORM, ctx
from adapters.slack.heard import TEAMS, Heard, HeldIn
from adapters.slack.missed import EventsOf, Read, earliest, named, read_back
from bot.ports import Core

log = logging.getLogger(__name__)

# Slack's last retry of an event comes about five minutes after it; past this, only a
# read-back finds a message left to those retries
RETRIES_SPENT = 360.0
RETRY_OWED_AT_MOST = 3600.0  # the longest wait before what is still owed is read back again


class OwedReader:
    """Reads back, while the process runs, what a hold owes (adapters/slack/heard.py): a
    message not recorded whose redeliveries may all fail, or that came on Slack's last try (a
    store outage longer than Slack's retries, the workers up all along). Once Slack's last retry is past
    (`RETRIES_SPENT` after the first hold of a batch), one read-back from the earliest point
    owed, in the state or still in memory; what was redelivered meanwhile is in the inbox and
    answered once. While something is still owed after it, again later: after a read that
    asked Slack (`Read.UNREAD`: a history Slack never gave, or what it gave the state did not
    take), each time twice as late, at most `RETRY_OWED_AT_MOST`, not to press on Slack; after
    one the state failed before Slack was asked (`Read.STATE`: still down), `RETRIES_SPENT`
    later each time, the grown wait kept for the next read that asks Slack: that costs Slack
    nothing, and what a long outage held is read within `RETRIES_SPENT` of the state's return,
    not up to an hour after it."""

    def __init__(
        self,
        core: Core,
        heard: Heard,
        read_backs: ReadBacks,
        events_of: EventsOf,
        teams: Sequence[str] | None,
    ) -> None:
        self.core = core
        self.heard = heard
        self.read_backs = read_backs
        self.events_of = events_of
        self.teams = teams
        self._due: float | None = None  # when the next read is set to begin (loop time)
        self._timer: asyncio.Task[None] | None = None
        self._delay = RETRIES_SPENT

    def owed(self) -> None:
        self._again(self._delay)

    def _again(self, delay: float) -> None:
        """The next read `delay` from now, unless one is set to begin sooner. One set later
        (a hold came while a read ran, at the wait grown against a Slack that refused; then
        that read was answered whole) is moved up: it waited on Slack, which answers now."""
        due = asyncio.get_running_loop().time() + delay
        if self._due is not None and self._due <= due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._due = due
        self._timer = self.read_backs.start_later(delay, self._now)

    async def _now(self) -> None:
        self._due = self._timer = None  # a hold from now on sets another
        await self.heard.flush()  # a point whose write failed goes to the state first
        after = await self._owed()
        teams = set(self.heard.teams)
        read = Read.DONE
        if after is not None:
            read = await read_back(self.core, after, self.events_of, self.teams, also=teams)
        if read is Read.UNREAD:
            self._delay = min(2 * self._delay, RETRY_OWED_AT_MOST)
        elif read is Read.DONE:  # Slack gave all it was asked: a refusal before is past
            self._delay = RETRIES_SPENT
        if await self._owed() is not None:
            # the state failed: soon again (Slack's own wait kept for when Slack is asked again)
            self._again(RETRIES_SPENT if read is Read.STATE else self._delay)
        else:
            self.heard.teams -= teams  # read; a hold since then keeps its own
            self._delay = RETRIES_SPENT

    async def _owed(self) -> float | None:
        """The earliest point owed, in the state or in memory; Slack's last retry past if the
        state cannot say (something is owed, or this would not run)."""
        try:
            stored = earliest(
                await self.core.owed_read_back(PLATFORM), *(await self.core.owed_read_backs(TEAMS)).values()
            )
        except Exception:
            log.warning("could not read what is owed; trying again later", extra=ctx())
            return since(time.time() - RETRIES_SPENT)
        points = [p for p in (stored, self.heard.pending) if p is not None]
        return min(points) if points else None


class ReadBacks:
    """The adapter's read-backs: the one at start, those after a Socket Mode gap and those a
    hold owes while it runs (`OwedReader`); stopped, not waited for, at shutdown (the messages
    they handed over are the adapter's in-flight work, and are), and none begun after it."""

    def __init__(self, core: Core, heard: Heard) -> None:
        self.core = core
        self.heard = heard
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.Task[None]] = set()  # read-backs to come: not waited for
        self._closed = False

    def begin(self, after: float | None, events_of: EventsOf, teams: Sequence[str] | None) -> None:
        """The adapter serves: read back from `after`, and from each hold's point hereafter."""
        self._closed = False
        self.read(after, events_of, teams)
        self.heard.when_owed = OwedReader(self.core, self.heard, self, events_of, teams).owed
        if self.heard.held:
            # a hold made while the adapter served before this (its replays of unfinished work)
            # found no reader: one looks once Slack's retries are spent, and reads what is owed
            self.heard.when_owed()

    def read(
        self,
        after: float | None,
        events_of: EventsOf,
        teams: Sequence[str] | None,
        also: Collection[str] = (),
    ) -> None:
        """Read back from `after` (`read_back`) in the background. One that ends without reading
        everything (the state down when it began: nothing says it is owed; a history Slack did
        not give) leaves its point owed (`Heard.owe`), in each workspace it named too (`teams`,
        `also`: one the bot has not talked in for a while is read by no other read-back): read
        again while the process runs, by `OwedReader`, not only at the next start, which what
        this process hears meanwhile would move past it."""

        async def reading() -> None:
            if after is None or await read_back(self.core, after, events_of, teams, also) is Read.DONE:
                return
            places: list[HeldIn | None] = [HeldIn(team) for team in named(teams, also)]
            for held in places or [None]:
                self.heard.owe(after, held)

        self.start(reading())

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        if self._closed:
            work.close()
            return
        task = asyncio.create_task(work, name="supportbot-slack-read-back")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start_later(
        self, delay: float, work: Callable[[], Coroutine[Any, Any, None]]
    ) -> asyncio.Task[None] | None:
        """Start `work()` after `delay` seconds; the timer (cancel it to call that off), or None
        once shut down."""
        if self._closed:
            return None

        async def timer() -> None:
            await asyncio.sleep(delay)
            self.start(work())

        task = asyncio.create_task(timer(), name="supportbot-slack-read-back-later")
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)
        return task

    def cancel(self) -> None:
        self._closed = True
        self.heard.when_owed = None
        for task in [*self._tasks, *self._timers]:
            task.cancel()

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until every read-back running has ended; False if `timeout` ran out first."""
        if not self._tasks:
            return True
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        return not pending
