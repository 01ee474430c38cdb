"""Reading back the questions asked in Slack while no worker of ours was taking events.

Slack delivers each event to the app and, while nobody acknowledges it, tries again three
times over about five minutes; then it drops the event. An outage longer than that (a crash
loop, a deploy that failed, a machine down overnight) lost every question asked meanwhile.
When the adapter starts, and when a Socket Mode connection returns after a gap Slack's
retries may not cover (adapters/slack/socket_mode.py `Outages`, from when the lost connection
was last alive), this reads them back, in the background once it serves:

- From where: `MARGIN` before the newest message recorded on Slack before this process began
  (`Core.last_heard`, read before the adapter connects: another worker that kept hearing has
  moved it on, and then there is little to read), but not before `MISSED_WINDOW` ago.
  Nothing is read on a fresh install (nothing was ever heard).
- Which workspaces: the token's one; with installs, those the bot talked in within
  `ASKED_WINDOW`.
- Which channels: the public and private channels the bot is a member of (users.conversations,
  under the channels:read and groups:read scopes the app has: the only channels where it can
  be mentioned), the DMs of people who talked to it within `ASKED_WINDOW`, and the configured
  channels; none whose mode is off.
- Which messages: at most `HISTORY_CAP` a channel (the newest), each one that could be a
  question for the bot: it mentions the bot, or it is in a DM, or its channel answers without
  a mention (auto-answer, draft). And the replies in the bot's threads that were active within
  `FOLLOW_UP_WINDOW` before the outage began (follow-ups need no mention, and a staff reply
  among them makes the bot step back, so all of them are handed over, in order).

Each is handed to the core as its live event would be (`SlackEvents.hand_over`). Reading
earlier than needed is safe: a message's inbox key is its channel and ts, which the events and
the history share, so one handled before (or delivered again by Slack's own retries) is
answered once.

Not read back: a first DM from someone who never talked to the bot (listing DMs needs
im:read, which the app does not ask for), a mention in a thread the bot is not in, edits made
while down, a workspace installed but never talked in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from adapters.read_back import ASKED_WINDOW, MARGIN, MISSED_WINDOW
from adapters.slack.client import PLATFORM, ctx, slack_error, split_message_id
from adapters.slack.events import SlackEvents
from adapters.slack.workspaces import NotInstalled, Workspaces
from bot.channel_types import ChannelMode
from bot.ports import Core
from bot.types import ConversationRef

log = logging.getLogger(__name__)

# the newest messages read of one channel or thread (older ones are left to people)
HISTORY_CAP = 500
PAGE = 200  # Slack's recommended page size for history reads
# channels and threads read at once: conversations.history is Tier 3 (about 50 a minute per
# workspace); slack_sdk waits out a 429's Retry-After, and a few at a time keep it rare
CONCURRENCY = 4
# the bot's threads whose last message came this soon before the outage may get follow-ups
FOLLOW_UP_WINDOW = timedelta(hours=1)
# what users.conversations lists: where the bot can be mentioned (no im:read, no mpim:read)
MEMBER_TYPES = "public_channel,private_channel"
# modes in which a message needs no mention to be answered
UNPROMPTED = frozenset({ChannelMode.AUTO_ANSWER, ChannelMode.DRAFT})

EventsOf = Callable[[str], Awaitable[SlackEvents | None]]


def heard_ts(heard: str | None) -> float | None:
    """`Core.last_heard`'s Slack id (channel:ts, an edit's with a suffix) as epoch seconds."""
    parts = split_message_id(heard)
    if parts is None:
        return None
    try:
        return float(parts[1])
    except ValueError:
        return None


def start_after(heard: str | None, now: datetime | None = None) -> float | None:
    """The ts to read after: `MARGIN` before the newest message heard, but not before
    `MISSED_WINDOW` ago; None when nothing was ever heard (nothing can have been missed)."""
    newest = heard_ts(heard)
    return None if newest is None else since(newest, now)


def since(alive: float, now: datetime | None = None) -> float:
    """The ts to read after when everything said until `alive` was heard: `MARGIN` before
    it, but not before `MISSED_WINDOW` ago."""
    oldest = ((now or datetime.now(UTC)) - MISSED_WINDOW).timestamp()
    return max(alive - MARGIN.total_seconds(), oldest)


@dataclass
class _Tally:
    handed: int = 0
    places: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # Slack's error -> how many reads

    def failed(self, code: str) -> None:
        self.failures[code] = self.failures.get(code, 0) + 1


def one_workspace(events: SlackEvents) -> EventsOf:
    """The listeners of the one workspace a bot token serves."""

    async def of(team: str) -> SlackEvents | None:
        return events

    return of


def installed(workspaces: Workspaces) -> EventsOf:
    """Each workspace's listeners with its own install's token; None once uninstalled."""

    async def of(team: str) -> SlackEvents | None:
        try:
            return await workspaces.get(team)
        except NotInstalled:
            return None

    return of


async def heard_before(core: Core) -> str | None:
    """The mark to read back from, taken before the adapter connects; None (nothing read
    back) when the state cannot say."""
    try:
        return await core.last_heard(PLATFORM)
    except Exception:
        log.exception(
            "could not find where Slack was last heard; nothing said while down is read back", extra=ctx()
        )
        return None


async def read_back(
    core: Core, after: float | None, events_of: EventsOf, teams: Sequence[str] | None = None
) -> None:
    """Hand the core what was said after the ts `after` (from `start_after`, or `Outages`) in
    the workspaces `teams` (all the bot talked in within `ASKED_WINDOW` when None), each
    through `events_of(team)`'s listeners (some handled before: answered once). One log line
    says how many."""
    if after is None:
        return
    try:
        points = await core.active_conversations(PLATFORM, ASKED_WINDOW)
    except Exception:
        log.exception("could not read back what was said while down: the state is unreachable", extra=ctx())
        return
    by_team: dict[str, list[tuple[ConversationRef, str | None]]] = {}
    for ref, last in points:
        by_team.setdefault(ref.workspace, []).append((ref, last))
    tally = _Tally()
    for team in teams if teams is not None else sorted(by_team):
        events = await events_of(team)
        if events is not None:
            await _workspace(events, team, by_team.get(team, []), after, tally)
    if tally.handed or tally.failures:
        log.info(
            "read back %d message(s) in %d channel(s) and thread(s) said while no worker took Slack's events",
            tally.handed,
            tally.places,
            extra=ctx(),
        )
    if tally.failures:
        log.warning(
            "could not read back some channels or threads: %s",
            ", ".join(f"{code} ×{n}" for code, n in sorted(tally.failures.items())),
            extra=ctx(),
        )


async def _workspace(
    events: SlackEvents,
    team: str,
    points: Sequence[tuple[ConversationRef, str | None]],
    after: float,
    tally: _Tally,
) -> None:
    view = events.settings.slack.for_workspace(team)

    def mode(channel: str) -> ChannelMode:
        configured = view.channels.get(channel)
        return (configured.mode if configured is not None else None) or view.default_mode

    channels: dict[str, str | None] = await _member_channels(events, tally)  # id -> channel_type
    for ref, _ in points:
        channels.setdefault(ref.channel, "im" if ref.channel.startswith("D") else None)
    for channel in view.channels:
        channels.setdefault(channel, None)
    channels = {c: kind for c, kind in channels.items() if kind == "im" or mode(c) != ChannelMode.OFF}
    threads = _recent_threads(points, after)
    turns = asyncio.Semaphore(CONCURRENCY)
    own = events.directory.identity

    def worth_reading(message: Mapping[str, Any], channel: str, kind: str | None) -> bool:
        text = str(message.get("text") or "")
        return (
            f"<@{own.bot_user_id}>" in text
            or kind == "im"
            or channel.startswith("D")
            or mode(channel) in UNPROMPTED
        )

    async def channel_history(channel: str, kind: str | None) -> list[dict[str, Any]]:
        async with turns:
            found = await _read(events, "conversations.history", {"channel": channel}, after, tally)
        picked = [
            m for m in found if m.get("thread_ts") in (None, m.get("ts")) and worth_reading(m, channel, kind)
        ]
        return [{**m, "channel": channel, **({"channel_type": kind} if kind else {})} for m in picked]

    async def thread_replies(ref: ConversationRef) -> list[dict[str, Any]]:
        assert ref.thread is not None
        async with turns:
            found = await _read(
                events, "conversations.replies", {"channel": ref.channel, "ts": ref.thread}, after, tally
            )
        return [{**m, "channel": ref.channel} for m in found if m.get("ts") != ref.thread]

    read = await asyncio.gather(
        *(channel_history(c, kind) for c, kind in channels.items()), *(thread_replies(t) for t in threads)
    )
    tally.places += len(channels) + len(threads)
    for batch in read:
        # oldest first, each in flight as a live event is (the core bounds how many at once)
        for message in sorted(batch, key=lambda m: float(m.get("ts") or 0)):
            if _own(message, own.bot_user_id, own.bot_id):
                continue
            if events.hand_over(team, {"type": "message", **message}):
                tally.handed += 1


def _own(message: Mapping[str, Any], bot_user_id: str, bot_id: str) -> bool:
    return bool(
        (bot_user_id and message.get("user") == bot_user_id) or (bot_id and message.get("bot_id") == bot_id)
    )


def _recent_threads(
    points: Collection[tuple[ConversationRef, str | None]], after: float
) -> list[ConversationRef]:
    """The bot's threads whose last recorded message came within `FOLLOW_UP_WINDOW` before
    `after` (or later)."""
    since = after - FOLLOW_UP_WINDOW.total_seconds()
    found = []
    for ref, last in points:
        ts = heard_ts(last)
        if ref.thread is not None and ts is not None and ts >= since:
            found.append(ref)
    return found


async def _member_channels(events: SlackEvents, tally: _Tally) -> dict[str, str | None]:
    """The public and private channels the bot is in, each with its events' channel_type;
    none (and a failure counted) when Slack will not list them."""
    client = events.directory.client
    found: dict[str, str | None] = {}
    cursor: str | None = None
    try:
        while True:
            page = await client.users_conversations(
                types=MEMBER_TYPES, exclude_archived=True, limit=PAGE, cursor=cursor
            )
            for channel in page.get("channels") or []:
                if isinstance(channel, dict) and channel.get("id"):
                    found[str(channel["id"])] = "group" if channel.get("is_private") else "channel"
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return found
    except SlackApiError as exc:
        tally.failed(f"users.conversations {slack_error(exc)}")
    except Exception as exc:  # the network: the channels known from the state are still read
        tally.failed(f"users.conversations {type(exc).__name__}")
    return found


async def _read(
    events: SlackEvents, method: str, params: Mapping[str, str], after: float, tally: _Tally
) -> list[dict[str, Any]]:
    """The newest `HISTORY_CAP` messages of a channel's history or a thread after `after`
    (newest first, as Slack pages them); none (and a failure counted) when Slack refuses."""
    client = events.directory.client
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    try:
        while len(found) < HISTORY_CAP:
            page = await client.api_call(
                method,
                http_verb="GET",
                params={
                    **params,
                    "oldest": f"{after:.6f}",
                    "limit": PAGE,
                    **({"cursor": cursor} if cursor else {}),
                },
            )
            found += [m for m in page.get("messages") or [] if isinstance(m, dict)]
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                break
    except SlackApiError as exc:
        tally.failed(f"{method} {slack_error(exc)}")
        return found
    except Exception as exc:
        tally.failed(f"{method} {type(exc).__name__}")
        return found
    if len(found) >= HISTORY_CAP:
        log.warning(
            "read back only the newest %d messages of %s; older ones are not read",
            HISTORY_CAP,
            params["channel"],
            extra=ctx(params["channel"]),
        )
    return found[:HISTORY_CAP] if method == "conversations.history" else found
