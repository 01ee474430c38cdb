"""Finding what the bot already posted in answer to a message (`bot.ports.FindsReplies`) on Slack.

A process killed after its answer went out but before the inbox noted it leaves a replay
with no post to resume; this module reads the thread (conversations.replies) to find that
post, so the replay edits it instead of posting a second answer. `SlackChannel` labels the
first post of a reply to a question with the question's message id in its metadata
(`REPLY_EVENT`); that label is what this module looks for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import (
    FATAL_AUTH_ERRORS,
    SlackCallError,
    ctx,
    message_id,
    slack_error,
    split_message_id,
)
from adapters.slack.directory import SlackDirectory, SlackIdentity, unreachable
from bot.types import InboundMessage, Posted

# SlackChannel's logger: this is its find_reply, and its log lines keep the channel's name
log = logging.getLogger("adapters.slack.channel")

# the metadata event a reply to a question carries: {"question": the question's message id}
REPLY_EVENT = "supportbot_reply"


def from_bot(item: Mapping[str, Any], me: SlackIdentity) -> bool:
    """Whether a message Slack listed is the bot's own: posted as its user, or by its bot."""
    return bool(
        (me.bot_user_id and item.get("user") == me.bot_user_id)
        or (me.bot_id and item.get("bot_id") == me.bot_id)
    )


def _ts_order(ts: str) -> tuple[int, int]:
    """A message ts ("1712345678.000200") as a number to order by; unreadable ones sort first."""
    seconds, _, micros = ts.partition(".")
    return (int(seconds), int(micros or 0)) if seconds.isdigit() and (micros or "0").isdigit() else (0, 0)


async def find_reply(
    client: AsyncWebClient, directory: SlackDirectory, message: InboundMessage
) -> Posted | None:
    """`bot.ports.FindsReplies`: the bot's post in the thread after `message`
    (conversations.replies) that names it in its metadata (`SlackChannel.send` labels the
    first post of a reply to a question), the last such (an answer said anew below a message
    past editing names it too); a post without a label (an older version's) only when it is
    the bot's first and no person spoke before it: a later one may be answering them. For
    an edit, the posts that name the question as first sent (a revision is labelled so). A
    token Slack refuses, or a read that got no answer, raises SlackCallError: the caller reads
    the token again or retries."""
    asked = message.edit_of or message.id
    parsed = split_message_id(asked)
    if parsed is None:
        return None
    channel, ts = parsed
    thread = message.conversation.thread or ts
    try:
        found = await client.conversations_replies(
            channel=channel, ts=thread, oldest=ts, inclusive=False, limit=50, include_all_metadata=True
        )
    except SlackApiError as exc:
        code = slack_error(exc)
        log.warning("conversations.replies failed: %s", code, extra=ctx(channel))
        # "none" would have the replay post a second answer: a refused token, or no answer
        # (rate limited past slack_sdk's retries, Slack failing) is the replay's failure, tried
        # again at a later pass; only Slack's definite answer (no such thread, not in it) is none
        if unreachable(exc) or code in FATAL_AUTH_ERRORS:
            raise SlackCallError("conversations.replies", code) from exc
        return None
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("conversations.replies failed: %s", type(exc).__name__, extra=ctx(channel))
        raise SlackCallError("conversations.replies", type(exc).__name__) from exc
    me = directory.identity
    spoke = False
    named: str | None = None  # the last post that names the question
    for item in found.get("messages") or []:
        later = str(item.get("ts") or "")
        if _ts_order(later) <= _ts_order(ts):
            continue  # the thread's root, or the question itself
        if from_bot(item, me):
            label = item.get("metadata") or {}
            if label.get("event_type") == REPLY_EVENT:
                # a post that names its question: ours, wherever it is in the thread; the last
                # one, as an answer said anew below one past editing names it too
                if (label.get("event_payload") or {}).get("question") == asked:
                    named = later
                continue
            if named is None and not spoke:  # after someone spoke, it may be answering them
                named = later
                break
        elif item.get("user"):
            spoke = True
    if named is None:
        return None
    return Posted(message_id=message_id(channel, named), conversation=message.conversation.in_thread(thread))
