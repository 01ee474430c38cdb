"""What a Slack read-back reads in one workspace, and how it hands it over (adapters/slack/missed.py
says when it runs and from where).

- Channels: the public and private channels the bot is a member of (users.conversations,
  under the channels:read and groups:read scopes the app has: the only channels where it can
  be mentioned), every channel (DMs included) where it took part in a conversation within
  `ASKED_WINDOW` (`Core.active_channels`, however many conversations that was), and the
  configured channels; none whose mode is off.
- In a channel's history, the newest `HISTORY_CAP` messages after the mark, each that could
  be a question for the bot: it mentions the bot (a reply also sent to the channel too), it
  is in a DM, or its channel answers without a mention (auto-answer, draft). Not one a staff
  member already replied to in its thread (Slack's `reply_users`): a person is on it.
- The bot's threads whose last recorded message came within `FOLLOW_UP_WINDOW` before the
  mark: their replies after it (the newest `HISTORY_CAP`), one after another, each handled
  before the next as they were said (a staff reply makes the bot step back, as live), except
  a question a staff member answered later in the thread.
- The other threads of those channels with a reply after the mark, started after it or within
  `THREAD_LOOK_BACK` before it (a thread's replies never show in the channel's history; its
  root does, with `latest_reply`; the one read of the history, from that much earlier, stops
  once it holds a page and has passed the mark, so the roots before the mark it sees are at
  least the newest `PAGE` less the new messages): the bot's threads, a direct message's and
  those of questions asked after the mark whole (such a question is answered before its
  thread is read, as live), others only the replies that mention the bot (at most
  `THREADS_CAP` threads a channel, those replied to last).
- A read that got no answer (a 429 past slack_sdk's own retries, a 5xx, the network) is tried
  again after each of `RETRY_PAUSES`; a message the core could not record (the store was
  down) is handed over again, up to `RECORD_ATTEMPTS` times. Nothing else would: Slack has
  given up on it.

Not read back: a first DM from someone who never talked to the bot (listing DMs needs
im:read, which the app does not ask for), a reply in a thread started more than
`THREAD_LOOK_BACK` (or `PAGE` messages) before the mark, edits made while down, a workspace
never talked in (unless a question held there owes it: adapters/slack/heard.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from adapters.slack.client import PLATFORM, ctx, slack_error, split_message_id
from adapters.slack.directory import unreachable
from adapters.slack.events import SlackEvents
from adapters.slack.heard import slack_ts
from adapters.slack.mrkdwn import mentions_user
from bot.channel_types import ChannelMode, is_slack_im
from bot.config_platforms import SlackSettings
from bot.policy import is_staff
from bot.types import ConversationRef

log = logging.getLogger(__name__)

# the newest messages read of one channel or thread (older ones are left to people)
HISTORY_CAP = 500
PAGE = 200  # Slack's recommended page size for history reads
# channels and threads read at once: conversations.history is Tier 3 (about 50 a minute per
# workspace); slack_sdk waits out a 429's Retry-After, and a few at a time keep it rare
CONCURRENCY = 4
# a read with no answer is tried again after these pauses (seconds), then given up (logged)
RETRY_PAUSES: tuple[float, ...] = (30.0, 120.0)
# a message the core could not record is handed over at most this often, 2 s, 4 s... apart
RECORD_ATTEMPTS = 4
# the bot's threads whose last message came this soon before the outage may get follow-ups
FOLLOW_UP_WINDOW = timedelta(hours=1)
# other threads started this long before the outage may hold a mention of the bot said in it:
# a thread's replies mostly come within a day of its root
THREAD_LOOK_BACK = timedelta(days=1)
# the most threads of one channel read (each costs a Tier 3 read or more)
THREADS_CAP = 50
# what users.conversations lists: where the bot can be mentioned (no im:read, no mpim:read)
MEMBER_TYPES = "public_channel,private_channel"
# modes in which a message needs no mention to be answered
UNPROMPTED = frozenset({ChannelMode.AUTO_ANSWER, ChannelMode.DRAFT})

# a workspace's listeners, by its team id and its organisation's id ("" if none or unknown)
EventsOf = Callable[[str, str], Awaitable[SlackEvents | None]]
Place = tuple[str, str | None]  # a channel, and a thread's ts in it


@dataclass
class Tally:
    """What one read-back did, for its log lines."""

    handed: int = 0
    places: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # what failed -> how many times
    complete: bool = True  # nothing left that reading again could get

    def failed(self, what: str, *, complete: bool = True) -> None:
        """`what` failed; `complete=False` if trying again later might succeed."""
        self.failures[what] = self.failures.get(what, 0) + 1
        self.complete = self.complete and complete


async def read_workspace(
    events: SlackEvents,
    team: str,
    known: Sequence[str],
    threads: Sequence[tuple[ConversationRef, str | None]],
    after: float,
    tally: Tally,
    *,
    replies: Sequence[ConversationRef] = (),
) -> None:
    """Read back one workspace: `known` channels beside those the bot is in, `threads` (the
    bot's, with the last message recorded in each) and the threads of `replies` held for
    Slack to deliver again, after the ts `after`."""
    reader = _Reader(events, team, after, tally)
    channels = await reader.member_channels()
    for channel in (*known, *reader.view.channels):
        channels.setdefault(channel, "im" if is_slack_im(channel) else None)
    channels = {c: kind for c, kind in channels.items() if kind == "im" or reader.mode(c) != ChannelMode.OFF}
    recent = _recent_threads(threads, after)
    read = {(t.channel, t.thread) for t in recent}
    bot_threads = {(ref.channel, ref.thread) for ref, _ in threads}
    held = [t for t in replies if (t.channel, t.thread) not in read]
    # a held reply's thread is read with its channel's threads (its question answered first);
    # one in a channel not read here, on its own
    held_in: dict[str, list[str]] = {}
    for t in held:
        if t.channel in channels and t.thread:
            held_in.setdefault(t.channel, []).append(t.thread)
    alone = [t for t in held if t.channel not in channels]
    tally.places += len(channels) + len(recent) + len(alone)
    await asyncio.gather(
        *(reader.channel(c, kind, read, bot_threads, held_in.get(c, ())) for c, kind in channels.items()),
        *(reader.thread(t) for t in recent),
        *(
            reader.thread(
                t, mentions_only=not is_slack_im(t.channel) and (t.channel, t.thread) not in bot_threads
            )
            for t in alone
        ),
    )


def _recent_threads(
    threads: Sequence[tuple[ConversationRef, str | None]], after: float
) -> list[ConversationRef]:
    """The bot's threads whose last recorded message came within `FOLLOW_UP_WINDOW` before
    `after` (or later)."""
    since = after - FOLLOW_UP_WINDOW.total_seconds()
    found = []
    for ref, last in threads:
        parts = split_message_id(last)
        ts = None if parts is None else slack_ts(parts[1])
        if ref.thread is not None and ts is not None and ts >= since:
            found.append(ref)
    return found


class _Reader:
    def __init__(self, events: SlackEvents, team: str, after: float, tally: Tally) -> None:
        self.events = events
        self.team = team
        self.after = after
        self.tally = tally
        self.client = events.directory.client
        self.own = events.directory.identity
        slack: SlackSettings = events.settings.slack
        self.view = slack.for_workspace(team)
        self.turns = asyncio.Semaphore(CONCURRENCY)

    def mode(self, channel: str) -> ChannelMode:
        configured = self.view.channels.get(channel)
        return (configured.mode if configured is not None else None) or self.view.default_mode

    # -- which --------------------------------------------------------------------------

    async def member_channels(self) -> dict[str, str | None]:
        """The public and private channels the bot is in, each with its events' channel_type."""
        found: dict[str, str | None] = {}
        asked = {"types": MEMBER_TYPES, "exclude_archived": "true"}
        if self.own.org_wide:
            # an org-wide token is every workspace's of its organisation: this one's channels
            # (read under another team, a question would be filed there: Slack asks for the
            # team of an org token's listing)
            asked["team_id"] = self.team
        listed = await self._pages("users.conversations", asked, "channels", cap=None)
        for channel in listed:
            if isinstance(channel, dict) and channel.get("id"):
                found[str(channel["id"])] = "group" if channel.get("is_private") else "channel"
        return found

    def _own(self, message: Mapping[str, Any]) -> bool:
        return bool(
            (self.own.bot_user_id and message.get("user") == self.own.bot_user_id)
            or (self.own.bot_id and message.get("bot_id") == self.own.bot_id)
        )

    def _asks(self, message: Mapping[str, Any], channel: str, kind: str | None) -> bool:
        """Whether a top-level message of a channel's history could be a question for the bot."""
        text = str(message.get("text") or "")
        mentioned = mentions_user(text, self.own.bot_user_id)
        if message.get("thread_ts") not in (None, message.get("ts")):
            return mentioned and message.get("subtype") == "thread_broadcast"
        return mentioned or kind == "im" or is_slack_im(channel) or self.mode(channel) in UNPROMPTED

    async def _staff(self, user: Any) -> bool:
        if not isinstance(user, str) or not user or user == self.own.bot_user_id:
            return False
        author = await self.events.directory.author(user)
        return is_staff(author, PLATFORM, self.events.settings, self.team)

    async def _staff_replied(self, message: Mapping[str, Any], channel: str) -> bool:
        """Whether a staff member other than its author replied after it in its thread: the
        root's `reply_users`, or the thread read for a reply also sent to the channel."""
        author, ts, thread = message.get("user"), str(message.get("ts")), message.get("thread_ts")
        if thread in (None, ts):
            users = [u for u in message.get("reply_users") or [] if u != author]
        else:
            params = {"channel": channel, "ts": str(thread), "oldest": ts}
            later = await self._pages("conversations.replies", params, "messages", cap=20 * HISTORY_CAP)
            users = [
                m.get("user")
                for m in later
                if isinstance(m, dict)
                and not m.get("bot_id")
                and m.get("user") != author
                and (slack_ts(m.get("ts")) or 0.0) > float(ts)
            ]
        return any([await self._staff(u) for u in users])

    # -- reading ------------------------------------------------------------------------

    async def channel(
        self,
        channel: str,
        kind: str | None,
        read: Collection[Place],
        bot_threads: Collection[Place],
        held: Collection[str] = (),
    ) -> None:
        """Read back `channel`: its new messages, then its threads replied to after the mark
        (not those in `read`: the bot's recent ones, read whole): the bot's, a direct
        message's and those of questions it asked now whole, the others' mentions of the bot."""
        # newest first, from the day before the mark: the new messages (at most `HISTORY_CAP`),
        # and of those before the mark what the pages they take hold, at least a page: the
        # roots of threads replied to since (a thread's replies are not in the history)
        oldest = self.after - THREAD_LOOK_BACK.total_seconds()
        found = await self._pages(
            "conversations.history",
            {"channel": channel, "oldest": f"{oldest:.6f}"},
            "messages",
            cap=None,
            enough=lambda found: (
                len(found) > HISTORY_CAP + PAGE or (len(found) >= PAGE and self._before(found[-1]))
            ),
        )
        dated = [m for m in found if isinstance(m, dict) and slack_ts(m.get("ts")) is not None]
        new = [m for m in dated if not self._before(m)]
        asked = []
        for message in new[:HISTORY_CAP]:  # newest first: the cap leaves out the oldest
            if self._own(message):
                continue
            if self._asks(message, channel, kind) and not await self._staff_replied(message, channel):
                asked.append({**message, "channel": channel, **({"channel_type": kind} if kind else {})})
        if len(new) > HISTORY_CAP:
            log.warning("read back only the newest %d messages of a channel", HISTORY_CAP, extra=ctx(channel))
        replied = {str(m["ts"]): latest for m in dated if (latest := self._replied_since(m)) is not None}
        for ts in held:  # a held reply's thread, whatever its root's age: replied to since
            replied.setdefault(ts, float("inf"))
        # each is a conversation of its own: side by side, as live (the core bounds how many);
        # one whose thread has replies since is answered before they are read, as live
        await asyncio.gather(
            *(
                self._hand(m, until_handled=m["ts"] in replied)
                for m in sorted(asked, key=lambda m: float(m["ts"]))
            )
        )
        whole = {str(m["ts"]) for m in asked}  # answered now: the bot's threads, as live
        threads = sorted(
            ((latest, ts) for ts, latest in replied.items() if (channel, ts) not in read), reverse=True
        )
        if len(threads) > THREADS_CAP:
            log.warning("read back only %d threads of a channel", THREADS_CAP, extra=ctx(channel))
        direct = kind == "im" or is_slack_im(channel)
        self.tally.places += len(threads[:THREADS_CAP])
        await asyncio.gather(
            *(
                self.thread(
                    ConversationRef(platform=PLATFORM, workspace=self.team, channel=channel, thread=ts),
                    mentions_only=not direct and (channel, ts) not in bot_threads and ts not in whole,
                )
                for _, ts in threads[:THREADS_CAP]
            )
        )

    def _before(self, message: Any) -> bool:
        """Whether a history message came at or before the mark."""
        ts = slack_ts(message.get("ts")) if isinstance(message, dict) else None
        return ts is not None and ts <= self.after

    def _replied_since(self, message: Any) -> float | None:
        """When the thread of a history message was last replied to, if after the mark."""
        if not isinstance(message, dict) or slack_ts(message.get("ts")) is None:
            return None
        latest = slack_ts(message.get("latest_reply"))
        return latest if latest is not None and latest > self.after else None

    async def thread(self, ref: ConversationRef, *, mentions_only: bool = False) -> None:
        """Hand over the replies of `ref` after the mark, in order (`mentions_only`: those
        that mention the bot, in a thread that is not the bot's)."""
        assert ref.thread is not None
        params = {"channel": ref.channel, "ts": ref.thread, "oldest": f"{self.after:.6f}"}
        # oldest first: read to the end (within reason), then keep the newest
        found = await self._pages("conversations.replies", params, "messages", cap=20 * HISTORY_CAP)
        replies = [
            {**m, "channel": ref.channel}
            for m in found
            if isinstance(m, dict) and m.get("ts") != ref.thread and slack_ts(m.get("ts")) is not None
        ]
        replies.sort(key=lambda m: float(m["ts"]))
        if len(replies) > HISTORY_CAP:
            log.warning(
                "read back only the newest %d replies of a thread", HISTORY_CAP, extra=ctx(ref.channel)
            )
            replies = replies[-HISTORY_CAP:]
        staff = [await self._staff(m.get("user")) if not m.get("bot_id") else False for m in replies]
        taken_over = False
        for i, message in enumerate(replies):
            if self._own(message) or (mentions_only and message.get("subtype") == "thread_broadcast"):
                continue  # the bot's; a reply also sent to the channel is read there
            # a question a staff member answered later in the thread is theirs; after a staff
            # reply the bot stays quiet unless mentioned (as live, and decided here rather than
            # by the order in which workers reading the same thread record the takeover)
            answered = not staff[i] and any(
                staff[j] and replies[j].get("user") != message.get("user") for j in range(i + 1, len(replies))
            )
            mentioned = mentions_user(str(message.get("text") or ""), self.own.bot_user_id)
            quiet = (taken_over and not staff[i] and not mentioned) or (mentions_only and not mentioned)
            taken_over = taken_over or (staff[i] and not mentioned)  # asking the bot is no takeover
            if not answered and not quiet:
                await self._hand(message, until_handled=True)  # in order, as it was said

    async def _pages(
        self,
        method: str,
        params: Mapping[str, str],
        key: str,
        *,
        cap: int | None = HISTORY_CAP,
        enough: Callable[[list[Any]], bool] = lambda found: False,
    ) -> list[Any]:
        """The pages of `method`'s `key` list until one goes past `cap` items (None: all) or
        what was read is `enough`, a read with no answer tried again after `RETRY_PAUSES`;
        what was read when it fails."""
        found: list[Any] = []
        cursor: str | None = None
        pauses = list(RETRY_PAUSES)
        while (cap is None or len(found) <= cap) and not (found and enough(found)):
            try:
                async with self.turns:
                    page = await self.client.api_call(
                        method,
                        http_verb="GET",
                        params={**params, "limit": PAGE, **({"cursor": cursor} if cursor else {})},
                    )
            except Exception as exc:
                if unreachable(exc) and pauses:
                    await asyncio.sleep(pauses.pop(0))
                    continue
                code = slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
                self.tally.failed(f"{method} {code}", complete=not unreachable(exc))
                return found
            items = page.get(key)
            found += items if isinstance(items, list) else []
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                break
        return found

    async def _hand(self, message: dict[str, Any], *, until_handled: bool = False) -> None:
        """Hand `message` to the core; again, after a pause, if it could not be recorded."""
        for attempt in range(RECORD_ATTEMPTS):
            handed = self.events.hand_over(self.team, {"type": "message", **message})
            if handed is None:
                return
            task, receipt = handed
            settled = asyncio.ensure_future(receipt.settled.wait())
            # asyncio.wait, not await: stopping the read-back must not cancel the adapter's task
            await asyncio.wait(
                {task} if until_handled else {task, settled}, return_when=asyncio.FIRST_COMPLETED
            )
            settled.cancel()
            if receipt.settled.is_set() and not receipt.failed:
                self.tally.handed += 1
                return
            if attempt + 1 < RECORD_ATTEMPTS:
                await asyncio.sleep(2.0 * 2**attempt)
        self.tally.failed("recording a message read back", complete=False)
