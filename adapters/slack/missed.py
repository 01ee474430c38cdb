"""Reading back the questions asked in Slack while no worker of ours was taking events.

Slack delivers each event to the app and, while nobody acknowledges it, tries again three
times over about five minutes; then it drops the event. An outage longer than that (a crash
loop, a deploy that failed, a machine down overnight) lost every question asked meanwhile.
When the adapter starts, and when a Socket Mode connection returns after a gap Slack's
retries may not cover (adapters/slack/socket_mode.py `Outages`, from when the lost connection
was last alive), this reads them back, in the background once it serves; shutting down
stops it (a later start reads again).

- Whether: Slack was last heard (below) `[slack] read_back_after_seconds` ago or longer;
  its own retries deliver what was said in a shorter gap.
- From where (`read_back_from`, taken before the adapter connects): `MARGIN` before the
  later of the newest message recorded on Slack and the newest event any worker noted as
  heard (adapters/slack/heard.py: chatter and joins are heard but not recorded), but not
  before `MISSED_WINDOW` ago. Another worker that kept hearing has moved both on, and then
  there is little to read. Nothing is read on a fresh install (nothing was ever heard).
- Which workspaces: the token's one; with installs, those the bot talked in within
  `ASKED_WINDOW` and those a read-back is owed in (a question held in a workspace the bot
  never talked in: adapters/slack/heard.py), one it cannot find the install of named in the
  log line.
- Which channels and messages: adapters/slack/missed_reading.py.

A read-back is owed in the state (`Core.owe_read_back`) from when it starts until it ends
having read everything it could; so is one from just before a message not recorded (left
unacknowledged for Slack to redeliver, or Slack's last try: adapters/slack/heard.py). A start reads from the earliest point owed, due
or not by the gap: a read-back stopped by a shutdown or a crash, whose own answers and what the
process heard moved the marks past what it had not read yet, is read again.

Each message is handed to the core as its live event would be (`SlackEvents.hand_over`).
Reading earlier than needed is safe: a message's inbox key is its channel and ts, which the
events and the history share, so one handled before (or delivered again by Slack's own
retries) is answered once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

from adapters.read_back import ASKED_WINDOW, since
from adapters.slack.client import PLATFORM, ctx, split_message_id
from adapters.slack.events import SlackEvents
from adapters.slack.heard import TEAMS, HeldIn, slack_ts
from adapters.slack.missed_reading import EventsOf, Tally, read_workspace
from adapters.slack.workspaces import NotInstalled, Workspaces
from bot import faults
from bot.ports import Core
from bot.types import ConversationRef

log = logging.getLogger(__name__)

__all__ = [
    "EventsOf",
    "Read",
    "earliest",
    "installed",
    "mark",
    "named",
    "one_workspace",
    "read_back",
    "read_back_from",
]

# pauses (seconds) between tries to read the marks at start
MARK_READ_PAUSES = (0.5, 1.0, 2.0)


class Read(Enum):
    """How a read-back ended: whether anything is left owed, and whether Slack was asked."""

    DONE = "done"  # everything it could read, and noted so
    STATE = "state"  # the state failed before Slack was asked anything: trying again costs Slack nothing
    UNREAD = "unread"  # Slack asked, something left (Slack did not give it, or the state not take it)


def heard_ts(heard: str | None) -> float | None:
    """`Core.last_heard`'s Slack id (channel:ts, an edit's with a suffix) as epoch seconds;
    None for anything else (a slash command's question is kept under its trigger id)."""
    parts = split_message_id(heard)
    return None if parts is None else slack_ts(parts[1])


def mark(after: float) -> str:
    """A point to read after, as the state keeps marks (Slack's ts, fixed width)."""
    return f"{after:.6f}"


async def read_back_from(core: Core, after_gap: float, now: datetime | None = None) -> float | None:
    """The ts a read-back at start reads after (see the module's doc); None when nothing was
    ever heard and nothing is owed, or when Slack was heard less than `after_gap` seconds ago
    (its own retries deliver what was said since) and nothing is owed. A state that cannot
    say, asked a few times, gets the whole window read: an outage is never skipped for it."""
    for pause in (*MARK_READ_PAUSES, None):
        try:
            faults.point("read_back.marks")
            recorded = await core.last_heard(PLATFORM)
            noted = await core.noted_heard(PLATFORM)
            owed = earliest(
                await core.owed_read_back(PLATFORM), *(await core.owed_read_backs(TEAMS)).values()
            )
            break
        except Exception:
            if pause is None:
                log.exception(
                    "could not find where Slack was last heard; reading back the whole window", extra=ctx()
                )
                return since(float("-inf"), now)
            await asyncio.sleep(pause)
    marks = [t for t in (heard_ts(recorded), slack_ts(noted)) if t is not None]
    if marks:
        heard = max(marks)
        due = (now or datetime.now(UTC)).timestamp() - heard >= after_gap
        after = since(heard, now) if due else None
    else:
        # heard something, but cannot say when: read the whole window rather than nothing
        after = None if recorded is None and noted is None else since(float("-inf"), now)
    if owed is None:
        return after
    return max(min(owed, after if after is not None else owed), since(float("-inf"), now))


@dataclass
class _Workspace:
    """One set of listeners to read back with, and what to read with it."""

    team: str
    events: SlackEvents
    channels: list[str] = field(default_factory=list)
    threads: list[tuple[ConversationRef, str | None]] = field(default_factory=list)
    replies: list[ConversationRef] = field(default_factory=list)


async def _listeners(
    events_of: EventsOf,
    teams: Sequence[str],
    organisations: Mapping[str, str],
    known: Mapping[str, list[str]],
    threads: Mapping[str, list[tuple[ConversationRef, str | None]]],
    replies: Mapping[str, list[ConversationRef]],
    tally: Tally,
) -> list[_Workspace]:
    """Each set of listeners `teams` are served by, once, under the first team that has it,
    with the channels, threads and held replies of every team it serves: one bot token's
    events may name a workspace other than its own (an organisation's), and reading it again
    under that name would read the same channels twice and file what it hands over under the
    other team."""
    found: dict[int, _Workspace] = {}
    for team in teams:
        try:
            events = await events_of(team, organisations.get(team, ""))
        except Exception as exc:  # one workspace's failure is its own: the others are read
            log.warning("could not read back workspace %s", team, exc_info=exc, extra=ctx(workspace=team))
            tally.failed(f"workspace {team} {type(exc).__name__}", complete=False)
            continue
        if events is None:  # uninstalled, or its organisation never named by Slack
            tally.failed(f"workspace {team} not installed (nor known to be in an organisation that is)")
            continue
        workspace = found.setdefault(id(events), _Workspace(team, events))
        workspace.channels += [c for c in known.get(team, []) if c not in workspace.channels]
        workspace.threads += threads.get(team, [])
        workspace.replies += replies.get(team, [])
    return list(found.values())


def earliest(*points: str | None) -> float | None:
    owed = [t for p in points if (t := slack_ts(p)) is not None]
    return min(owed) if owed else None


def named(teams: Sequence[str] | None, also: Collection[str]) -> list[str]:
    """The workspaces a read-back names (`read_back`'s `teams` and `also`), each once."""
    return [team for team in dict.fromkeys([*(teams or ()), *also]) if team]


def one_workspace(events: SlackEvents) -> EventsOf:
    """The listeners of the one workspace a bot token serves."""

    async def of(team: str, enterprise: str) -> SlackEvents | None:
        return events

    return of


def installed(workspaces: Workspaces) -> EventsOf:
    """Each workspace's listeners with its install's token (its own, else its organisation's
    org-wide one: the organisation as Slack last named it, adapters/slack/workspaces.py);
    None once uninstalled."""

    async def of(team: str, enterprise: str) -> SlackEvents | None:
        try:
            return await workspaces.get(team, enterprise or None)
        except NotInstalled:
            return None

    return of


async def read_back(
    core: Core,
    after: float | None,
    events_of: EventsOf,
    teams: Sequence[str] | None = None,
    also: Collection[str] = (),
) -> Read:
    """Hand the core what was said after the ts `after` in the workspaces `teams` (all the
    bot talked in within `ASKED_WINDOW`, those a read-back is owed in, and `also`, when None),
    each through `events_of(team)`'s listeners (some handled before: answered once). Owed in
    the state until it ends having read everything it could (stopped, the next start reads
    again; left with reads Slack never answered, also the running worker: `Read`, and
    adapters/slack/read_backs.py), as are the workspaces' own points it read. One log line
    says how many."""
    if after is None:
        return Read.DONE
    # owed as given: a point older than the window, moved up to it below, would be a new row
    # at every try while the read keeps failing (the window moves with the clock)
    owed = mark(after)
    after = max(after, since(float("-inf")))  # nothing older than the window: people's now
    tally = Tally()
    # what was said until now, less the margin of events still arriving, is in the history
    # this reads: a point owed from then on (a message left unrecorded meanwhile) is not covered
    until = mark(since(time.time()))
    for pause in (*MARK_READ_PAUSES, None):
        try:
            faults.point("read_back.state")
            await core.owe_read_back(PLATFORM, owed)
            for team in named(teams, also):  # a restart reads these too, asked in lately or not
                await core.owe_read_back(HeldIn(team).place, owed)
            points = await core.active_conversations(PLATFORM, ASKED_WINDOW)
            channels = await core.active_channels(PLATFORM, ASKED_WINDOW)
            places = list(await core.owed_read_backs(TEAMS))
            break
        except Exception:
            if pause is None:
                log.exception(
                    "could not read back what was said while down: the state is unreachable", extra=ctx()
                )
                return Read.STATE
            await asyncio.sleep(pause)
    threads: dict[str, list[tuple[ConversationRef, str | None]]] = {}
    for ref, last in points:
        threads.setdefault(ref.workspace, []).append((ref, last))
    known: dict[str, list[str]] = {}
    for workspace, channel in channels:
        known.setdefault(workspace, []).append(channel)
    held = {place: h for place in places if (h := HeldIn.of_place(place)) is not None}
    for h in held.values():  # a first DM, a channel of a workspace never talked in
        if h.channel and h.channel not in known.get(h.team, []):
            known.setdefault(h.team, []).append(h.channel)
    # the workspaces held in are read whatever `teams` says: one token's events may name another
    asked = list(teams) if teams is not None else sorted(known.keys() | threads.keys() | set(also))
    read = [*asked, *sorted({h.team for h in held.values()} - set(asked))]
    organisations = {h.team: h.enterprise for h in held.values() if h.enterprise}
    replies: dict[str, list[ConversationRef]] = {}  # held replies' threads, whatever their roots' age
    for h in held.values():
        if h.channel and h.thread:
            replies.setdefault(h.team, []).append(
                ConversationRef(platform=PLATFORM, workspace=h.team, channel=h.channel, thread=h.thread)
            )
    workspaces = await _listeners(events_of, read, organisations, known, threads, replies, tally)
    for w in workspaces:
        try:
            await read_workspace(w.events, w.team, w.channels, w.threads, after, tally, replies=w.replies)
        except Exception as exc:  # one workspace's failure is its own: the others are read
            log.warning("could not read back workspace %s", w.team, exc_info=exc, extra=ctx(workspace=w.team))
            tally.failed(f"workspace {w.team} {type(exc).__name__}", complete=False)
    # nothing to read in (the installs unreadable, the state down) asked Slack nothing
    left = Read.UNREAD if workspaces else Read.STATE
    outcome = Read.DONE if tally.complete else left
    if tally.complete:
        # a point owed from before the window (nothing older is read) is covered as well
        covered_from = "" if after <= since(float("-inf")) + 1.0 else mark(after)
        try:
            await core.settle_read_back(PLATFORM, covered_from, until)
            for place in held:  # as stored: settled whatever its form
                await core.settle_read_back(place, covered_from, until)
        except Exception:
            log.warning("could not note a read-back as done; it is read again", extra=ctx())
            outcome = left
    if tally.handed or tally.failures:
        log.info(
            "read back %d message(s) in %d channel(s) and thread(s) said while no worker took Slack's events",
            tally.handed,
            tally.places,
            extra=ctx(),
        )
    if tally.failures:
        log.warning(
            "could not read back everything: %s",
            ", ".join(f"{what} ×{n}" for what, n in sorted(tally.failures.items())),
            extra=ctx(),
        )
    return outcome
