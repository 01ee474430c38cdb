"""Slack's thinking reaction: the 👀 a question gets while its answer is slow to come.

It owns when the reaction goes up (once an answer has taken `after` seconds with no reply
posted: a quicker answer is its own acknowledgement), how often (at most `per_minute` for the
workspace, Slack's rate for reactions.add), and taking it off again. Its failures are logged
and never stop an answer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter
from slack_sdk.errors import SlackApiError

from adapters.inflight import INDICATOR_AFTER_S
from adapters.slack.channel import SlackChannel
from adapters.slack.client import ctx, slack_error

log = logging.getLogger(__name__)

THINKING_REACTION = "eyes"
# Slack rates each Web API method per workspace in tiers: reactions.add is Tier 3 (50+ calls a
# minute), and every reaction added is removed again with reactions.remove, which we take at
# Tier 2's 20+ a minute, the lower of the two. In a burst of questions every answer is slow,
# and a reaction for each asks Slack for more than that: the calls past it come back 429 and
# the retries land after the answer, or never. So each running bot shows a workspace at most
# this many a minute (a leaky bucket a minute deep); the rest of a burst goes without, and its
# answers come sooner for it.
THINKING_PER_MINUTE = 20.0


class ThinkingReaction:
    """The reaction for one workspace (its channel's client)."""

    def __init__(
        self,
        channel: SlackChannel,
        *,
        name: str = THINKING_REACTION,
        after: float = INDICATOR_AFTER_S,
        per_minute: float = THINKING_PER_MINUTE,
    ) -> None:
        self.channel = channel
        self.name = name
        self.after = after
        self._budget = AsyncLimiter(per_minute, 60.0)

    async def show_if_slow(
        self, channel: str, ts: str, work: asyncio.Future[Any], replied: asyncio.Event
    ) -> bool:
        """Add the reaction once `work` has run `after` seconds without a reply posted (nor
        finishing), if the minute's budget allows; True if it was added (and so must be removed)."""
        if self.after > 0:
            answered = asyncio.ensure_future(replied.wait())
            try:
                done, _ = await asyncio.wait({work, answered}, timeout=self.after)
            except asyncio.CancelledError:
                work.cancel()  # as awaiting it would have: the handler's cancellation reaches it
                raise
            finally:
                answered.cancel()
            if done:
                return False
        if not self._budget.has_capacity():
            log.debug("no thinking reaction: this minute's are spent", extra=ctx(channel))
            return False
        await self._budget.acquire()  # at once: there is capacity
        return await self._add(channel, ts)

    async def _add(self, channel: str, ts: str) -> bool:
        try:
            await self.channel.client.reactions_add(channel=channel, timestamp=ts, name=self.name)
        except SlackApiError as exc:
            code = slack_error(exc)
            if code == "already_reacted":
                return True  # ours from an earlier attempt: still ours to remove
            log.warning("could not add the thinking reaction: %s", code, extra=ctx(channel))
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not add the thinking reaction: %s", type(exc).__name__, extra=ctx(channel))
            return False
        return True

    async def remove(self, channel: str, ts: str) -> None:
        try:
            await self.channel.client.reactions_remove(channel=channel, timestamp=ts, name=self.name)
        except SlackApiError as exc:
            log.warning("could not remove the thinking reaction: %s", slack_error(exc), extra=ctx(channel))
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not remove the thinking reaction: %s", type(exc).__name__, extra=ctx(channel))
