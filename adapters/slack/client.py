"""The Slack Web API client and the vocabulary every other Slack module shares.

This module owns how the adapter talks to the Web API (base URL from `SLACK_API_URL`,
slack_sdk's retry handlers for 429 Retry-After, 5xx and connection errors), how a failed
call is reported (`slack_error`, `SlackCallError`, `PartlyPosted`, auth errors that make retrying pointless),
how a Slack message is named to the core (`message_id` = channel + ts) and the `extra`
fields every Slack log line carries (`ctx`).
"""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import (
    BackoffRetryIntervalCalculator,
    FixedValueRetryIntervalCalculator,
)
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.render import SlackMessage
from bot.channel_types import Platform
from bot.config import Settings
from bot.errors import ConversationGone, EditRefused, PlatformError, PostRefused
from bot.types import Reply

PLATFORM = str(Platform.SLACK)
DEFAULT_API_URL = "https://slack.com/api/"
TOKEN_HELP = "copy the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page"

# Errors after which retrying with the same token cannot help: stop instead of restarting.
FATAL_AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "not_allowed_token_type",
        "team_access_not_granted",
    }
)


def api_url(settings: Settings) -> str:
    url = settings.secrets.slack_api_url or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


def retry_handlers(retry_interval: float | None = None) -> list[AsyncRetryHandler]:
    """slack_sdk's own async retry handlers: Retry-After on 429, back-off on 5xx and on
    connection errors. `retry_interval` fixes the back-off (tests, benchmarks)."""
    interval: RetryIntervalCalculator = (
        FixedValueRetryIntervalCalculator(fixed_internal=retry_interval)
        if retry_interval is not None
        else BackoffRetryIntervalCalculator(backoff_factor=0.5)
    )
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=interval),
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=interval),
    ]


def web_logger() -> logging.Logger:
    """The logger the Web API clients write through: slack_sdk's own, with a level of its own.
    slack_sdk builds the debug lines of every call (its parameters and whole body, the
    response's headers and body) whenever `logger.level <= DEBUG`, the logger's own level, not
    the one in effect; a logger left at NOTSET (0) always passes, so each call paid for two
    lines nobody prints (5-10% of the event path's CPU). It gets the level in effect when the
    first client is made (setup_logging's for slack_sdk, else the root's): what is printed is
    unchanged."""
    logger = logging.getLogger("slack_sdk.web.async_base_client")  # the one slack_sdk uses by default
    if logger.level == logging.NOTSET:
        logger.setLevel(logger.getEffectiveLevel())
    return logger


def make_web_client(
    settings: Settings,
    *,
    session: aiohttp.ClientSession | None = None,
    retry_interval: float | None = None,
    token: str | None = None,
) -> AsyncWebClient:
    """A Web API client with SLACK_BOT_TOKEN, or `token` (an installed workspace's)."""
    configured = settings.secrets.slack_bot_token
    return AsyncWebClient(
        token=token or (configured.get_secret_value() if configured else None),
        base_url=api_url(settings),
        session=session,
        timeout=30,
        retry_handlers=retry_handlers(retry_interval),
        logger=web_logger(),
    )


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (never the request, which could carry a token)."""
    response = exc.response
    try:
        code = response.get("error") if response is not None else None
    except (AttributeError, TypeError):
        code = None
    if code:
        return str(code)
    status = getattr(response, "status_code", None)
    return f"http_{status}" if status else "unknown_error"


def message_id(channel: str, ts: str) -> str:
    """Slack identifies a message by channel + ts; the core gets both in one id."""
    return f"{channel}:{ts}"


def split_message_id(value: str | None) -> tuple[str, str] | None:
    if not value or value.startswith("ephemeral:"):
        return None
    channel, sep, ts = value.partition(":")
    if not sep or not channel or not ts:
        return None
    return channel, ts.split(":", 1)[0]


class SlackCallError(PlatformError):
    """A Web API call (or response URL post) failed after slack_sdk's retries."""

    def __init__(self, method: str, code: str) -> None:
        super().__init__(f"{method} failed: {code}")
        self.method = method
        self.code = code


class SlackEditRefused(SlackCallError, EditRefused):
    """chat.update refused (after slack_sdk's retries): the message is as it was."""


class SlackConversationGone(SlackCallError, ConversationGone):
    """chat.postMessage refused for good (`GONE_CODES`): the channel is gone, archived, or the
    bot is not in it. Never ConversationDeleted (nothing owed to anyone there): Slack answers
    channel_not_found for a deleted channel and a private one the bot is not in alike, and an
    archived channel is still read, so their people are owed a ticket."""


# chat.postMessage's errors that posting again will not cure
GONE_CODES = frozenset({"channel_not_found", "is_archived", "not_in_channel"})
# error codes Slack gives for a request it may have carried out in part (its docs say so of
# internal_error and fatal_error): the post may be out
MAYBE_APPLIED = frozenset({"internal_error", "fatal_error", "request_timeout", "service_unavailable"})


class SlackPostRefused(SlackCallError, PostRefused):
    """chat.postMessage refused with an error that says nothing was posted."""


class PartlyPosted(SlackCallError):
    """A reply of several messages failed after its first part(s) went out. Posting it again
    would repeat them: `SlackChannel.resume` posts `rest` (what had not gone out) instead.
    `first_ts` is the first part's ts ("" for ephemeral parts)."""

    def __init__(
        self, failed: SlackCallError, *, reply: Reply, rest: list[SlackMessage], first_ts: str
    ) -> None:
        super().__init__(failed.method, failed.code)
        self.reply = reply
        self.rest = rest
        self.first_ts = first_ts


def ctx(channel: str | None = None, **more: object) -> dict[str, object]:
    """The `extra` of a Slack log line: the platform, the channel and whatever else helps."""
    return {"platform": PLATFORM, "channel": channel, **more}
