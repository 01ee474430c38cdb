"""A slash command's or a button press's response URL: how the bot reaches the person who typed
or pressed where Slack will not let it post (a channel it is not in, a DM between two people).

This module owns what SlackChannel needs to use one: who and where it answers (`Responding`),
the post itself (`respond`), and the conversation a command's question starts when it is shown
through its URL. Such a post comes back without a ts, so nothing can be threaded under it: the
question is its own conversation all the same, keyed by the command (`bot.types.own_thread`),
a key Slack knows nothing of (its `platform_thread` is None). Without it, everyone's
`/support ask` in that channel was one conversation: each answer written with the others'
questions as its history, and one ticket for all of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.client import SlackCallError, ctx, retry_handlers
from adapters.slack.render import SlackMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Responding:
    """A response URL and the one it answers: `pressed` for a button press's (whose replies go
    over the Web API first: they can go in a thread, and the URL takes five posts), `thread`
    for a command's (the conversation a top-level post through the URL starts)."""

    url: str | None
    user_id: str
    channel_id: str
    thread: str | None = None
    pressed: bool = False


async def respond(
    url: str,
    message: SlackMessage,
    response_type: str,
    *,
    session: aiohttp.ClientSession | None,
    retry_interval: float | None,
) -> None:
    """Post `message` through `url` as a new message ("ephemeral" or "in_channel")."""
    webhook = AsyncWebhookClient(url, session=session, retry_handlers=retry_handlers(retry_interval))
    try:
        response = await webhook.send(
            text=message.text,
            blocks=message.blocks,
            response_type=response_type,
            replace_original=False,
            unfurl_links=False,
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SlackCallError("response URL post", type(exc).__name__) from exc
    if response.status_code != 200:
        # the URL itself is a credential of sorts: log the status, not the URL
        log.warning("response URL post failed: HTTP %s", response.status_code, extra=ctx())
        raise SlackCallError("response URL post", f"http_{response.status_code}")
