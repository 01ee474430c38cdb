"""Finding a post of the bot's by a button it shows (`bot.ports.FindsPosts`) on Slack.

A process killed after a ticket's card went out but before the store noted it leaves a claim
that lapses; the claim that takes it over reads the channel's history (conversations.history)
for that card, so it is edited instead of posted a second time. A post is known by one of its
buttons: the same action (`render.action_from_id`) and the same value as `render` writes it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.client import FATAL_AUTH_ERRORS, SlackCallError, ctx, message_id, slack_error
from adapters.slack.directory import SlackDirectory, unreachable
from adapters.slack.find_reply import from_bot
from adapters.slack.render import BUTTON_VALUE_LIMIT, action_from_id
from bot.types import Button, ConversationRef, Posted

# SlackChannel's logger: this is its find_post, and its log lines keep the channel's name
log = logging.getLogger("adapters.slack.channel")

PAGE = 200  # Slack's recommended page size for history reads
# pages read, newest first, back to `after`: a card is looked for within minutes of its
# ticket's opening, and a triage channel far busier than this in that time is not looked through
PAGES = 3


async def find_post(
    client: AsyncWebClient, directory: SlackDirectory, where: ConversationRef, after: datetime, button: Button
) -> Posted | None:
    """`bot.ports.FindsPosts`: the bot's earliest message in `where` itself since `after`
    that shows `button`, among its newest PAGES pages. None when there is none, or Slack
    refuses the bot the channel for good (not in it, a missing scope, no such channel): then
    the card is posted. SlackCallError when Slack gave no answer (a 5xx, a rate limit past
    slack_sdk's retries, the network) or refused the token: the card is tried again later."""
    channel = where.channel
    value = button.value[:BUTTON_VALUE_LIMIT]  # what render put on the button
    found: Posted | None = None
    cursor: str | None = None
    for _ in range(PAGES):
        page = await _history(client, channel, f"{after.timestamp():.6f}", cursor)
        if page is None:
            return None
        for item in page.get("messages") or []:  # newest first: the last one that shows it is the earliest
            if (
                isinstance(item, dict)
                and item.get("thread_ts") in (None, item.get("ts"))  # not a reply also sent to the channel
                and from_bot(item, directory.identity)
                and _shows(item, button, value)
            ):
                found = Posted(message_id=message_id(channel, str(item["ts"])), conversation=where)
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            return found
    if found is None:  # one posted before these, if any, is not looked for: the card is posted
        log.warning("no post found in the newest %d messages", PAGES * PAGE, extra=ctx(channel))
    return found


def _shows(item: Mapping[str, Any], button: Button, value: str) -> bool:
    """Whether a message's actions blocks hold a button of `button`'s action with `value`."""
    return any(
        action_from_id(str(element.get("action_id") or "")) == button.action and element.get("value") == value
        for block in item.get("blocks") or []
        if isinstance(block, dict) and block.get("type") == "actions"
        for element in block.get("elements") or []
        if isinstance(element, dict)
    )


async def _history(
    client: AsyncWebClient, channel: str, oldest: str, cursor: str | None
) -> AsyncSlackResponse | None:
    """One page of `channel`'s history since `oldest`; None when Slack refuses the bot the
    channel for good (logged); SlackCallError when it gave no answer or refused the token."""
    try:
        # slack_sdk leaves out a None cursor: the first page
        return await client.conversations_history(channel=channel, oldest=oldest, limit=PAGE, cursor=cursor)
    except SlackApiError as exc:
        code = slack_error(exc)
        log.warning("conversations.history failed: %s", code, extra=ctx(channel))
        if unreachable(exc) or code in FATAL_AUTH_ERRORS:  # "none" would have the card posted twice
            raise SlackCallError("conversations.history", code) from exc
        return None  # not in the channel, a missing scope: waiting would not help
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("conversations.history failed: %s", type(exc).__name__, extra=ctx(channel))
        raise SlackCallError("conversations.history", type(exc).__name__) from exc
