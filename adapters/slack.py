"""The Slack adapter: slack-bolt's AsyncApp over Socket Mode or HTTP, and the Slack Channel.

This module owns the door between Slack and the core, and nothing of the core's decisions:

* transports: Socket Mode (`SLACK_APP_TOKEN`, no public URL) or the HTTP Events API
  (`SLACK_SIGNING_SECRET`; aiohttp server with `POST /slack/events` and `GET /healthz`);
  every Web API call goes to `SLACK_API_URL` (default https://slack.com/api/) with
  slack_sdk's retry handlers for rate limits (Retry-After), 5xx and connection errors;
* translation: `app_mention` / `message` events into `InboundMessage`, `block_actions` on
  `supportbot:*` buttons into `ActionEvent`, the slash command into `Command`;
* lookups, cached: channel visibility (Slack Connect -> public), user names and workspace
  admin flags, membership of the configured staff/admin user groups;
* the thinking reaction, added before the core runs and always removed afterwards;
* `SlackChannel`: the core's Channel (send / edit / open_thread) over chat.postMessage,
  chat.update, chat.postEphemeral and slash-command response URLs;
* `doctor_checks`: token, scopes and Socket Mode checks for `supportbot doctor`.

Every listener acks at once and hands the work to a tracked task, so Slack's 3-second
deadline holds whatever the answer costs; `close()` waits for those tasks. Rendering
(mrkdwn, Block Kit, mention neutralisation, splitting) lives in `adapters/slack_render.py`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
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
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack_manifest import BOT_SCOPES
from adapters.slack_render import (
    SlackMessage,
    action_from_id,
    mentions_user,
    plain_from_slack,
    plain_text,
    render_reply,
    render_single,
)
from bot.checks import Check
from bot.config import Settings
from bot.core import SupportBot
from bot.errors import FatalAdapterError, PlatformError
from bot.messages import say
from bot.policy import detect_language
from bot.types import (
    ActionEvent,
    Author,
    Command,
    ConversationRef,
    InboundMessage,
    Platform,
    Posted,
    Reply,
    ReplyKind,
    Visibility,
)

log = logging.getLogger(__name__)

PLATFORM = str(Platform.SLACK)
DEFAULT_API_URL = "https://slack.com/api/"
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
THINKING_REACTION = "eyes"
_TOKEN_HELP = "copy the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page"

# Errors after which retrying with the same token cannot help: stop instead of restarting.
_FATAL_AUTH_ERRORS = frozenset(
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
# Errors about the blocks themselves: the message can still go out as plain text.
_BLOCK_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_too_long", "too_many_blocks"})
# A slash command used where the bot is not a member: answer through the response URL.
_NOT_IN_CHANNEL = frozenset({"not_in_channel", "channel_not_found"})
# Message subtypes that are people writing; every other subtype (joins, topic changes,
# deletions...) is not something to answer or record.
_HUMAN_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "me_message"})

Mode = Literal["socket", "http"]
EventKind = Literal["mention", "message", "bot", "edit"]


# -- small helpers ----------------------------------------------------------------------------


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


def make_web_client(
    settings: Settings,
    *,
    session: aiohttp.ClientSession | None = None,
    retry_interval: float | None = None,
) -> AsyncWebClient:
    token = settings.secrets.slack_bot_token
    return AsyncWebClient(
        token=token.get_secret_value() if token else None,
        base_url=api_url(settings),
        session=session,
        timeout=30,
        retry_handlers=retry_handlers(retry_interval),
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


def _ctx(channel: str | None = None, **more: object) -> dict[str, object]:
    return {"platform": PLATFORM, "channel": channel, **more}


V = TypeVar("V")


class _TtlCache(Generic[V]):
    """A tiny async cache: entries expire after their TTL, and concurrent misses for one key
    share a single lookup (200 questions from one person must not cost 200 users.info)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, V]] = {}
        self._pending: dict[str, asyncio.Future[V]] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[tuple[V, float]]]) -> V:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value, ttl = await load()  # loaders return a fallback instead of raising
        except BaseException:
            future.cancel()
            raise
        finally:
            self._pending.pop(key, None)
        self._entries[key] = (time.monotonic() + ttl, value)
        future.set_result(value)
        return value


def configured_groups(settings: Settings) -> tuple[str, ...]:
    """Every user group `[slack]` names (staff_groups, admin_groups and any other `*_groups`
    list): policy decides what each means; the adapter only reports membership."""
    groups: list[str] = []
    for name, value in settings.slack:
        if name.endswith("_groups") and isinstance(value, tuple):
            groups += [str(group) for group in value]
    return tuple(dict.fromkeys(groups))


# -- what the adapter knows about the workspace ---------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SlackIdentity:
    """Who the bot is, from auth.test."""

    team_id: str
    team: str
    bot_user_id: str
    bot_id: str
    url: str  # the workspace URL, e.g. https://acme.slack.com/


@dataclass(frozen=True, kw_only=True)
class _UserFacts:
    name: str
    is_bot: bool
    workspace_admin: bool
    outsider: bool = False  # a guest, or someone from another organisation (Slack Connect)


class SlackDirectory:
    """Cached lookups: a channel's visibility, a user's name and admin flag, group membership.

    Lookups fail closed: an unknown channel counts as public (public documents only) and an
    unknown user has no roles, so a Slack outage never widens what anyone can see or do.
    """

    USER_TTL = 600.0
    GROUP_TTL = 300.0
    CHANNEL_TTL = 600.0
    FAILURE_TTL = 30.0

    def __init__(self, client: AsyncWebClient, settings: Settings, identity: SlackIdentity) -> None:
        self.client = client
        self.settings = settings
        self.identity = identity
        self._users: _TtlCache[_UserFacts] = _TtlCache()
        self._groups: _TtlCache[frozenset[str]] = _TtlCache()
        self._channels: _TtlCache[Visibility] = _TtlCache()

    async def visibility(self, channel: str, channel_type: str | None = None) -> Visibility:
        # IM channel ids start with D; DMs need no lookup (and no im:read scope).
        if channel_type == "im" or channel.startswith("D"):
            return Visibility.DIRECT
        return await self._channels.get(channel, lambda: self._load_channel(channel))

    async def _load_channel(self, channel: str) -> tuple[Visibility, float]:
        try:
            info = (await self.client.conversations_info(channel=channel)).get("channel") or {}
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            code = slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning(
                "conversations.info failed (%s); treating the channel as public",
                code,
                extra=_ctx(channel),
            )
            return Visibility.PUBLIC, self.FAILURE_TTL
        if info.get("is_im"):
            return Visibility.DIRECT, self.CHANNEL_TTL
        if info.get("is_ext_shared") or info.get("is_pending_ext_shared"):
            return Visibility.PUBLIC, self.CHANNEL_TTL  # Slack Connect: people from other orgs
        return Visibility.INTERNAL, self.CHANNEL_TTL

    async def author(self, user_id: str, *, is_bot: bool = False, name_hint: str = "") -> Author:
        facts = await self._users.get(user_id, lambda: self._load_user(user_id, name_hint))
        return Author(
            id=user_id,
            name=facts.name or name_hint,
            is_bot=is_bot or facts.is_bot,
            roles=await self.roles(user_id),
            platform_admin=facts.workspace_admin,
            external=facts.outsider,  # the core shows guests public documents only, DMs included
        )

    async def _load_user(self, user_id: str, name_hint: str) -> tuple[_UserFacts, float]:
        try:
            user = (await self.client.users_info(user=user_id)).get("user") or {}
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            code = slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning("users.info failed (%s)", code, extra=_ctx(user=user_id))
            # unknown person: treat as an outsider, so a DM cannot reach internal documents
            return _UserFacts(
                name=name_hint, is_bot=False, workspace_admin=False, outsider=True
            ), self.FAILURE_TTL
        profile = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or ""
        facts = _UserFacts(
            name=str(name or user.get("name") or name_hint),
            is_bot=bool(user.get("is_bot")),
            workspace_admin=bool(user.get("is_admin") or user.get("is_owner")),
            # guests and people of other organisations (Slack Connect). Enterprise Grid colleagues
            # from sibling workspaces have another team_id but are not outsiders, so it is not used.
            outsider=bool(
                user.get("is_restricted") or user.get("is_ultra_restricted") or user.get("is_stranger")
            ),
        )
        return facts, self.USER_TTL

    async def roles(self, user_id: str) -> frozenset[str]:
        """The configured user groups this user belongs to."""
        groups = configured_groups(self.settings)
        members = await asyncio.gather(*(self.group_members(g) for g in groups))
        return frozenset(g for g, users in zip(groups, members, strict=True) if user_id in users)

    async def group_members(self, group: str) -> frozenset[str]:
        return await self._groups.get(group, lambda: self._load_group(group))

    async def _load_group(self, group: str) -> tuple[frozenset[str], float]:
        try:
            users = (await self.client.usergroups_users_list(usergroup=group)).get("users") or []
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            code = slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning(
                "usergroups.users.list failed for %s (%s); nobody counts as a member",
                group,
                code,
                extra=_ctx(),
            )
            return frozenset(), self.FAILURE_TTL
        return frozenset(str(u) for u in users), self.GROUP_TTL

    def archive_url(self, channel: str, ts: str | None = None) -> str:
        base = self.identity.url or "https://slack.com/"
        if ts is None:
            return f"{base}archives/{channel}"
        return f"{base}archives/{channel}/p{ts.replace('.', '')}"


# -- the Channel the core posts through -----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _CommandContext:
    """A slash command's response URL: where the invoker's ephemeral replies go."""

    response_url: str | None
    user_id: str
    channel_id: str


class SlackChannel:
    """The core's Channel for Slack: answers in threads as Block Kit, ephemeral notes,
    ticket cards with a link to the thread, and edits through chat.update."""

    def __init__(
        self,
        client: AsyncWebClient,
        directory: SlackDirectory,
        *,
        session: aiohttp.ClientSession | None = None,
        retry_interval: float | None = None,
        command: _CommandContext | None = None,
    ) -> None:
        self.client = client
        self.directory = directory
        self._session = session
        self._retry_interval = retry_interval
        self._command = command
        self._permalinks: _TtlCache[str] = _TtlCache()

    def for_command(self, *, response_url: str | None, user_id: str, channel_id: str) -> SlackChannel:
        """The same channel, but replies to the command's invoker use its response URL."""
        view = SlackChannel(
            self.client,
            self.directory,
            session=self._session,
            retry_interval=self._retry_interval,
            command=_CommandContext(response_url=response_url, user_id=user_id, channel_id=channel_id),
        )
        view._permalinks = self._permalinks
        return view

    # Channel protocol ------------------------------------------------------------------

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        if message.conversation.thread is not None:
            return message.conversation
        parsed = split_message_id(message.id)
        return message.conversation.in_thread(parsed[1] if parsed else None)

    async def send(self, reply: Reply) -> Posted:
        messages = render_reply(reply, **await self._render_options(reply))
        if reply.ephemeral_to:
            return await self._send_ephemeral(reply, messages)
        command = self._command
        if (
            command is not None
            and command.response_url
            and reply.conversation.channel == command.channel_id
            and reply.conversation.thread is None
        ):
            try:
                return await self._post_all(reply, messages)
            except SlackCallError as exc:
                if exc.code not in _NOT_IN_CHANNEL:
                    raise
            # the bot is not in this channel: a slash command can still answer through its URL
            for message in messages:
                await self._respond(command.response_url, message, "in_channel")
            return Posted(message_id="", conversation=reply.conversation)
        return await self._post_all(reply, messages)

    async def edit(self, posted: Posted, reply: Reply) -> None:
        target = split_message_id(posted.message_id)
        if target is None:
            # ephemeral and response-URL messages cannot be updated through chat.update
            log.debug(
                "not editing a message without a channel ts",
                extra=_ctx(posted.conversation.channel),
            )
            return
        channel, ts = target
        message = render_single(reply, **await self._render_options(reply))
        try:
            await self.client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
        except SlackApiError as exc:
            code = slack_error(exc)
            if code not in _BLOCK_ERRORS:
                log.warning(
                    "chat.update failed: %s",
                    code,
                    extra=_ctx(channel, message_id=posted.message_id),
                )
                raise SlackCallError("chat.update", code) from exc
            log.warning(
                "chat.update refused the blocks (%s); updating as plain text",
                code,
                extra=_ctx(channel),
            )
            plain = plain_text(message)
            try:
                await self.client.chat_update(channel=channel, ts=ts, text=plain.text, blocks=[])
            except SlackApiError as again:
                raise SlackCallError("chat.update", slack_error(again)) from again

    # posting ---------------------------------------------------------------------------

    async def _render_options(self, reply: Reply) -> dict[str, Any]:
        permalink = await self._permalink(reply.refers_to) if reply.refers_to else None
        return {
            "permalink": permalink,
            "sources_label": say("sources", reply.language),
        }

    def _thread_ts(self, reply: Reply) -> str | None:
        if reply.conversation.thread:
            return reply.conversation.thread
        # an error or refusal about a top-level message goes in that message's thread
        parsed = split_message_id(reply.in_reply_to)
        if parsed and parsed[0] == reply.conversation.channel:
            return parsed[1]
        return None

    async def _post_all(self, reply: Reply, messages: list[SlackMessage]) -> Posted:
        channel = reply.conversation.channel
        thread_ts = self._thread_ts(reply)
        first_ts: str | None = None
        last: tuple[str, str] | None = None
        for message in messages:
            posted_channel, ts = await self._post(channel, message, thread_ts)
            first_ts = first_ts or ts
            last = (posted_channel, ts)
        assert last is not None  # render_reply always returns at least one message
        log.info(
            "posted %s in %d message(s)",
            reply.kind,
            len(messages),
            extra=_ctx(channel, thread_ts=thread_ts, message_id=message_id(*last)),
        )
        # a top-level post starts its own thread: replies to it belong to that conversation
        return Posted(
            message_id=message_id(*last),
            conversation=reply.conversation.in_thread(thread_ts or first_ts),
        )

    async def _post(self, channel: str, message: SlackMessage, thread_ts: str | None) -> tuple[str, str]:
        args: dict[str, Any] = {"channel": channel, "unfurl_links": False, "unfurl_media": False}
        if thread_ts:
            args["thread_ts"] = thread_ts
        try:
            response = await self.client.chat_postMessage(text=message.text, blocks=message.blocks, **args)
        except SlackApiError as exc:
            code = slack_error(exc)
            if code not in _BLOCK_ERRORS:
                log.warning("chat.postMessage failed: %s", code, extra=_ctx(channel, thread_ts=thread_ts))
                raise SlackCallError("chat.postMessage", code) from exc
            # Slack refused the layout, not the message: the words still reach the asker
            log.warning(
                "chat.postMessage refused the blocks (%s); posting plain text",
                code,
                extra=_ctx(channel, thread_ts=thread_ts),
            )
            try:
                response = await self.client.chat_postMessage(text=plain_text(message).text, **args)
            except SlackApiError as again:
                raise SlackCallError("chat.postMessage", slack_error(again)) from again
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "chat.postMessage failed: %s",
                type(exc).__name__,
                extra=_ctx(channel, thread_ts=thread_ts),
            )
            raise SlackCallError("chat.postMessage", type(exc).__name__) from exc
        return str(response.get("channel") or channel), str(response["ts"])

    async def _send_ephemeral(self, reply: Reply, messages: list[SlackMessage]) -> Posted:
        user = reply.ephemeral_to or ""
        channel = reply.conversation.channel
        command = self._command
        if command is not None and command.response_url and user == command.user_id:
            try:
                for message in messages:
                    await self._respond(command.response_url, message, "ephemeral")
                return Posted(message_id="", conversation=reply.conversation)
            except PlatformError:
                log.warning("response URL failed; falling back to chat.postEphemeral", extra=_ctx(channel))
        thread_ts = self._thread_ts(reply)
        ts = ""
        for message in messages:
            args: dict[str, Any] = {
                "channel": channel,
                "user": user,
                "text": message.text,
                "blocks": message.blocks,
            }
            if thread_ts:
                args["thread_ts"] = thread_ts
            try:
                response = await self.client.chat_postEphemeral(**args)
            except SlackApiError as exc:
                code = slack_error(exc)
                log.warning("chat.postEphemeral failed: %s", code, extra=_ctx(channel, thread_ts=thread_ts))
                raise SlackCallError("chat.postEphemeral", code) from exc
            ts = str(response.get("message_ts") or "")
        return Posted(message_id=f"ephemeral:{channel}:{ts}", conversation=reply.conversation)

    async def _respond(self, url: str, message: SlackMessage, response_type: str) -> None:
        webhook = AsyncWebhookClient(
            url, session=self._session, retry_handlers=retry_handlers(self._retry_interval)
        )
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
            log.warning("response URL post failed: HTTP %s", response.status_code, extra=_ctx())
            raise SlackCallError("response URL post", f"http_{response.status_code}")

    async def _permalink(self, ref: ConversationRef) -> str:
        if ref.thread is None:
            return self.directory.archive_url(ref.channel)
        thread = ref.thread
        return await self._permalinks.get(
            f"{ref.channel}:{thread}", lambda: self._load_permalink(ref.channel, thread)
        )

    async def _load_permalink(self, channel: str, ts: str) -> tuple[str, float]:
        try:
            response = await self.client.chat_getPermalink(channel=channel, message_ts=ts)
            return str(response["permalink"]), 3600.0
        except (SlackApiError, aiohttp.ClientError, TimeoutError, KeyError):
            log.warning("chat.getPermalink failed; linking the archive URL", extra=_ctx(channel))
            return self.directory.archive_url(channel, ts), 60.0


# -- translating Slack events -----------------------------------------------------------------


def event_kind(event: Mapping[str, Any]) -> EventKind | None:
    """What an event is to the adapter, or None for events it ignores (joins, deletions...)."""
    etype = event.get("type")
    if etype == "app_mention":
        return "mention"
    if etype != "message":
        return None
    subtype = event.get("subtype")
    if subtype == "bot_message":
        return "bot"
    if subtype == "message_changed":
        inner = event.get("message") or {}
        return "edit" if inner.get("subtype") in _HUMAN_SUBTYPES else None
    if subtype in _HUMAN_SUBTYPES:
        return "bot" if event.get("bot_id") else "message"
    return None


def _sent_at(ts: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)


class SlackAdapter:
    """Runs the bot in one Slack workspace: `run()` until `close()`."""

    name = PLATFORM

    def __init__(
        self,
        bot: SupportBot,
        settings: Settings,
        *,
        host: str = "0.0.0.0",
        port: int = 3000,
        ping_interval: float = 10.0,
        retry_interval: float | None = None,
        thinking_reaction: str = THINKING_REACTION,
        drain_timeout: float = 30.0,
    ) -> None:
        secrets = settings.secrets
        if secrets.slack_bot_token is None:
            raise FatalAdapterError("SLACK_BOT_TOKEN is not set; see knowledge/slack-setup.md")
        if secrets.slack_app_token is not None:
            self.mode: Mode = "socket"
        elif secrets.slack_signing_secret is not None:
            self.mode = "http"
        else:
            raise FatalAdapterError(
                "set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) next to "
                "SLACK_BOT_TOKEN; see knowledge/slack-setup.md"
            )
        self.bot = bot
        self.settings = settings
        self.host = host
        self.port = port
        self.ping_interval = ping_interval
        self.retry_interval = retry_interval
        self.thinking_reaction = thinking_reaction
        self.drain_timeout = drain_timeout
        self.ready = asyncio.Event()
        self.http_port: int | None = None
        self._closed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: set[str] = set()
        self._session: aiohttp.ClientSession | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._client: AsyncWebClient | None = None
        self._directory: SlackDirectory | None = None
        self._channel: SlackChannel | None = None
        self._app: AsyncApp | None = None

    # lifecycle -------------------------------------------------------------------------

    @property
    def channel(self) -> SlackChannel:
        if self._channel is None:
            raise RuntimeError("the Slack adapter is not started")
        return self._channel

    @property
    def directory(self) -> SlackDirectory:
        if self._directory is None:
            raise RuntimeError("the Slack adapter is not started")
        return self._directory

    async def run(self) -> None:
        """Connect, answer what was left unanswered, then serve until `close()`."""
        try:
            await self.start()
            await self._closed.wait()
        finally:
            await self._teardown()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._client = make_web_client(
            self.settings, session=self._session, retry_interval=self.retry_interval
        )
        identity = await self._authenticate(self._client)
        self._directory = SlackDirectory(self._client, self.settings, identity)
        self._channel = SlackChannel(
            self._client, self._directory, session=self._session, retry_interval=self.retry_interval
        )
        self._app = self._build_app(self._client)
        if self.mode == "socket":
            await self._start_socket_mode(self._app, self._client)
        else:
            await self._start_http(self._app)
        log.info(
            "connected to Slack team %s as %s (%s mode)",
            identity.team_id,
            identity.bot_user_id,
            self.mode,
            extra=_ctx(workspace=identity.team_id),
        )
        await self._replay()
        self.ready.set()

    async def close(self) -> None:
        self._closed.set()
        await self._teardown()

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every event, command and button press received so far is handled."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _teardown(self) -> None:
        self.ready.clear()
        if self._socket is not None:
            socket, self._socket = self._socket, None
            try:
                await socket.close_async()
            except Exception:
                log.exception("error while closing the Socket Mode connection", extra=_ctx())
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        try:
            await self.drain(self.drain_timeout)
        except TimeoutError:
            log.warning(
                "%d Slack handlers still running at shutdown; cancelling",
                len(self._tasks),
                extra=_ctx(),
            )
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def _authenticate(self, client: AsyncWebClient) -> SlackIdentity:
        try:
            response = await client.auth_test()
        except SlackApiError as exc:
            code = slack_error(exc)
            if code in _FATAL_AUTH_ERRORS:
                raise FatalAdapterError(
                    f"Slack refused SLACK_BOT_TOKEN ({code}): {_TOKEN_HELP}; see knowledge/slack-setup.md"
                ) from None
            raise SlackCallError("auth.test", code) from exc
        return SlackIdentity(
            team_id=str(response.get("team_id") or ""),
            team=str(response.get("team") or ""),
            bot_user_id=str(response.get("user_id") or ""),
            bot_id=str(response.get("bot_id") or ""),
            url=str(response.get("url") or ""),
        )

    async def _start_socket_mode(self, app: AsyncApp, client: AsyncWebClient) -> None:
        token = self.settings.secrets.slack_app_token
        assert token is not None
        handler = AsyncSocketModeHandler(
            app,
            app_token=token.get_secret_value(),
            web_client=client,
            ping_interval=self.ping_interval,
        )
        try:
            await handler.connect_async()
        except SlackApiError as exc:
            code = slack_error(exc)
            if code in _FATAL_AUTH_ERRORS or code == "missing_scope":
                raise FatalAdapterError(
                    f"Slack refused SLACK_APP_TOKEN ({code}). Create an app-level token with the "
                    "connections:write scope under Basic Information; see knowledge/slack-setup.md"
                ) from None
            raise SlackCallError("apps.connections.open", code) from exc
        self._socket = handler

    async def _start_http(self, app: AsyncApp) -> None:
        web_app = web.Application()
        web_app.router.add_post(EVENTS_PATH, self._http_events)
        web_app.router.add_get(HEALTH_PATH, self._http_health)
        runner = web.AppRunner(web_app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise FatalAdapterError(
                f"cannot listen on {self.host}:{self.port} ({exc.strerror}); pick another --port"
            ) from None
        self._runner = runner
        self.http_port = int(runner.addresses[0][1])
        log.info("HTTP mode: listening on %s:%d%s", self.host, self.http_port, EVENTS_PATH, extra=_ctx())

    async def _http_events(self, request: web.Request) -> web.Response:
        assert self._app is not None
        # Bolt checks the signature and timestamp (401 otherwise) before any listener runs.
        response = await self._app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _http_health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": True, "platform": PLATFORM, "mode": self.mode, "in_flight": len(self._tasks)}
        )

    async def _replay(self) -> None:
        try:
            replayed = await self.bot.replay_pending(PLATFORM, self.channel)
        except Exception:
            log.exception("could not replay unfinished Slack messages", extra=_ctx())
            return
        if replayed:
            log.info("replayed %d unfinished message(s)", replayed, extra=_ctx())

    # Bolt wiring -------------------------------------------------------------------------

    def _build_app(self, client: AsyncWebClient) -> AsyncApp:
        http = self.mode == "http"
        secret = self.settings.secrets.slack_signing_secret
        app = AsyncApp(
            client=client,
            # "" rather than None: Bolt would otherwise read the environment itself
            signing_secret=secret.get_secret_value() if (http and secret) else "",
            request_verification_enabled=http,
            url_verification_enabled=http,
            ssl_check_enabled=http,
            # listeners only schedule work, so processing first still acks within
            # milliseconds, and the work is registered before Slack sees the ack
            process_before_response=True,
            logger=logging.getLogger("slack_bolt.supportbot"),
        )
        app.event("app_mention")(self._on_event)
        app.event("message")(self._on_event)
        app.command(self.settings.slack.slash_command)(self._on_command)
        app.action(re.compile(r"^supportbot:"))(self._on_action)
        # Bolt leaves a request no listener matched without an ack, and Slack then redelivers
        # it (and disables apps that fail too often): acknowledge everything else, quietly.
        app.event(re.compile(r".*"))(self._on_other)
        app.action(re.compile(r".*"))(self._on_other)
        app.error(self._on_bolt_error)
        return app

    async def _on_event(self, body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        kind = event_kind(event)
        if kind is not None:
            self._spawn(self._handle_message_event(body, event, kind), what="event")

    async def _on_command(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]) -> None:
        await ack()
        self._spawn(self._handle_command(body), what="command")

    async def _on_action(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]) -> None:
        await ack()
        self._spawn(self._handle_action(body), what="action")

    async def _on_other(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any]) -> None:
        await ack()
        event = body.get("event") or {}
        log.debug("ignoring %s", event.get("type") or body.get("type"), extra=_ctx())

    async def _on_bolt_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error(
            "Bolt could not handle a request (%s)",
            type(error).__name__,
            exc_info=error,
            extra=_ctx(),
        )

    def _spawn(self, work: Coroutine[Any, Any, None], *, what: str) -> None:
        task = asyncio.create_task(self._guard(work, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guard(work: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await work
        except Exception:
            # the boundary: nothing raises out of a Slack listener
            log.exception("failed to handle a Slack %s", what, extra=_ctx(event=what))

    # messages ----------------------------------------------------------------------------

    async def translate(
        self, body: Mapping[str, Any], event: Mapping[str, Any], kind: EventKind
    ) -> InboundMessage | None:
        """A Slack message event as the core's InboundMessage (None if there is nothing to read)."""
        identity = self.directory.identity
        source: Mapping[str, Any] = (event.get("message") or {}) if kind == "edit" else event
        channel = str(event.get("channel") or "")
        ts = str(source.get("ts") or "")
        user = str(source.get("user") or "")
        if not channel or not ts or not (user or kind == "bot"):
            return None
        is_bot = kind == "bot" or bool(source.get("bot_id"))
        raw_text = str(source.get("text") or "")
        thread = source.get("thread_ts")
        thread = str(thread) if thread and thread != ts else None  # a thread root is top-level
        visibility = await self.directory.visibility(channel, event.get("channel_type"))
        if user:
            author = await self.directory.author(user, is_bot=is_bot)
        else:
            author = Author(
                id=str(source.get("bot_id") or "bot"),
                name=str(source.get("username") or ""),
                is_bot=True,
            )
        ident = message_id(channel, ts)
        if kind == "edit":
            edited = (source.get("edited") or {}).get("ts") or event.get("ts") or ""
            ident = f"{ident}:edited:{edited}"  # an edit must never take its original's inbox slot
        return InboundMessage(
            id=ident,
            conversation=ConversationRef(
                platform=PLATFORM,
                workspace=str(body.get("team_id") or event.get("team") or identity.team_id),
                channel=channel,
                thread=thread,
            ),
            author=author,
            text=plain_from_slack(raw_text, identity.bot_user_id),
            addressed=kind == "mention"
            or visibility == Visibility.DIRECT
            or mentions_user(raw_text, identity.bot_user_id),
            visibility=visibility,
            sent_at=_sent_at(ts),
            edited=kind == "edit",
            raw=dict(event),
        )

    async def _handle_message_event(
        self, body: Mapping[str, Any], event: Mapping[str, Any], kind: EventKind
    ) -> None:
        message = await self.translate(body, event, kind)
        if message is None:
            return
        # The app_mention and message copies of one mention (and Slack's retries) share an
        # id: the core's inbox answers it once; here only the first copy shows "thinking".
        first = message.id not in self._in_flight
        self._in_flight.add(message.id)
        channel, ts = message.conversation.channel, message.id.split(":")[1]  # "C:ts[:edited:...]"
        thinking = first and message.addressed and not message.author.is_bot and not message.edited
        reacted = False
        try:
            if thinking:
                reacted = await self._react(channel, ts)
            outcome = await self.bot.on_message(message, self.channel)
            log.info(
                "message %s",
                outcome,
                extra=_ctx(channel, thread_ts=message.conversation.thread, message_id=message.id),
            )
        except Exception:
            # The core reports its own failures to the asker; getting here means even that
            # failed. Someone who addressed the bot still gets a visible outcome.
            log.exception("the core failed on a message", extra=_ctx(channel, message_id=message.id))
            if message.addressed and not message.author.is_bot and not message.edited:
                language = detect_language(message.text)
                await self._apologise(
                    Reply(
                        conversation=message.conversation,
                        text=say("error_no_ticket", language),
                        kind=ReplyKind.ERROR,
                        in_reply_to=message.id,
                    )
                )
        finally:
            if reacted:
                await self._unreact(channel, ts)
            if first:
                self._in_flight.discard(message.id)

    async def _react(self, channel: str, ts: str) -> bool:
        """The thinking indicator; its failure is logged and never stops the answer."""
        try:
            await self.channel.client.reactions_add(
                channel=channel, timestamp=ts, name=self.thinking_reaction
            )
        except SlackApiError as exc:
            code = slack_error(exc)
            if code == "already_reacted":
                return True  # ours from an earlier attempt: still ours to remove
            log.warning("could not add the thinking reaction: %s", code, extra=_ctx(channel))
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not add the thinking reaction: %s", type(exc).__name__, extra=_ctx(channel))
            return False
        return True

    async def _unreact(self, channel: str, ts: str) -> None:
        try:
            await self.channel.client.reactions_remove(
                channel=channel, timestamp=ts, name=self.thinking_reaction
            )
        except SlackApiError as exc:
            log.warning("could not remove the thinking reaction: %s", slack_error(exc), extra=_ctx(channel))
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "could not remove the thinking reaction: %s",
                type(exc).__name__,
                extra=_ctx(channel),
            )

    # slash commands --------------------------------------------------------------------

    async def _handle_command(self, body: Mapping[str, Any]) -> None:
        channel_id = str(body.get("channel_id") or "")
        user_id = str(body.get("user_id") or "")
        text = plain_from_slack(
            str(body.get("text") or ""), self.directory.identity.bot_user_id, keep_user_mentions=True
        )
        words = text.split(None, 1)
        name = words[0].lower() if words else "help"  # a bare /support is a request for help
        conversation = ConversationRef(
            platform=PLATFORM,
            workspace=str(body.get("team_id") or self.directory.identity.team_id),
            channel=channel_id,
        )
        command = Command(
            id=str(body.get("trigger_id") or f"{channel_id}:{user_id}:{time.time()}"),
            name=name,
            args=words[1].strip() if len(words) > 1 else "",
            invoker=await self.directory.author(user_id, name_hint=str(body.get("user_name") or "")),
            conversation=conversation,
            visibility=await self.directory.visibility(channel_id),
        )
        channel = self.channel.for_command(
            response_url=body.get("response_url"), user_id=user_id, channel_id=channel_id
        )
        try:
            outcome = await self.bot.on_command(command, channel)
            log.info("command %s: %s", name, outcome, extra=_ctx(channel_id, command=name))
        except Exception:
            log.exception("slash command failed", extra=_ctx(channel_id, command=name))
            await self._apologise(self._sorry(conversation, user_id), channel)

    # buttons -----------------------------------------------------------------------------

    async def _handle_action(self, body: Mapping[str, Any]) -> None:
        user_id = str((body.get("user") or {}).get("id") or "")
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel_id = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
        message_ts = container.get("message_ts") or message.get("ts")
        thread = message.get("thread_ts") or container.get("thread_ts")
        conversation = ConversationRef(
            platform=PLATFORM,
            workspace=str((body.get("team") or {}).get("id") or self.directory.identity.team_id),
            channel=channel_id,
            thread=str(thread) if thread else None,
        )
        actor = await self.directory.author(
            user_id, name_hint=str((body.get("user") or {}).get("name") or "")
        )
        visibility = await self.directory.visibility(channel_id)
        for action in body.get("actions") or []:
            action_id = str(action.get("action_id") or "")
            kind = action_from_id(action_id)
            if kind is None:
                continue
            event = ActionEvent(
                # one id per press: Slack never resends a block action, a user may press twice
                id=f"{action.get('action_ts') or body.get('trigger_id')}:{user_id}:{action_id}",
                conversation=conversation,
                actor=actor,
                action=kind,
                value=str(action.get("value") or ""),
                visibility=visibility,
                message_id=message_id(channel_id, str(message_ts)) if message_ts else None,
            )
            try:
                outcome = await self.bot.on_action(event, self.channel)
                log.info("button %s: %s", kind, outcome, extra=_ctx(channel_id, action=str(kind)))
            except Exception:
                log.exception("button press failed", extra=_ctx(channel_id, action=str(kind)))
                await self._apologise(self._sorry(conversation, user_id))

    @staticmethod
    def _sorry(conversation: ConversationRef, user_id: str) -> Reply:
        return Reply(
            conversation=conversation,
            text=say("error_no_ticket"),
            kind=ReplyKind.ERROR,
            ephemeral_to=user_id,
        )

    async def _apologise(self, reply: Reply, channel: SlackChannel | None = None) -> None:
        try:
            await (channel or self.channel).send(reply)
        except Exception:
            log.exception("could not tell the user about the failure", extra=_ctx(reply.conversation.channel))


def build_adapter(bot: SupportBot, settings: Settings, **options: Any) -> SlackAdapter:
    """The entry point `bot.app` loads: options are `host` and `port` from `supportbot run`,
    plus `ping_interval`, `retry_interval`, `thinking_reaction` and `drain_timeout`."""
    return SlackAdapter(bot, settings, **options)


# -- supportbot doctor --------------------------------------------------------------------------

_UNREACHABLE = (aiohttp.ClientError, TimeoutError, OSError)


def _check(name: str, status: Literal["ok", "warn", "fail"], *parts: str) -> Check:
    return Check(name=name, status=status, detail="".join(parts))


async def doctor_checks(settings: Settings) -> list[Check]:
    """Token, scopes, transport, and the configured groups and triage channel, each with
    what to do about a problem."""
    async with aiohttp.ClientSession() as session:
        client = make_web_client(settings, session=session, retry_interval=0.5)
        return await _doctor(settings, client)


async def _doctor(settings: Settings, client: AsyncWebClient) -> list[Check]:
    if settings.secrets.slack_bot_token is None:
        return [_check("slack token", "fail", "SLACK_BOT_TOKEN is not set")]
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        code = slack_error(exc)
        return [_check("slack token", "fail", f"Slack refused SLACK_BOT_TOKEN ({code}); ", _TOKEN_HELP)]
    except _UNREACHABLE as exc:
        return [
            _check(
                "slack token",
                "fail",
                f"cannot reach the Slack Web API at {api_url(settings)} ({type(exc).__name__}); ",
                "check the network, a proxy, or SLACK_API_URL",
            )
        ]
    who = f"team {auth.get('team')} ({auth.get('team_id')}), "
    bot = f"bot @{auth.get('user')} ({auth.get('user_id')})"
    return [
        _check("slack token", "ok", who, bot),
        _scope_check(auth.headers),
        await _transport_check(settings, client),
        *await _workspace_checks(settings, client),
    ]


def _scope_check(headers: Mapping[str, Any]) -> Check:
    header = next((str(v) for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
    if header is None:
        return _check("slack scopes", "warn", "Slack did not report the granted scopes")
    granted = {scope.strip() for scope in header.split(",") if scope.strip()}
    missing = [scope for scope in BOT_SCOPES if scope not in granted]
    if missing:
        return _check(
            "slack scopes",
            "fail",
            f"missing: {', '.join(missing)}. Add them under OAuth & Permissions (or recreate ",
            "the app from `supportbot slack manifest`), then reinstall the app to the workspace",
        )
    return _check("slack scopes", "ok", f"all {len(BOT_SCOPES)} scopes the bot uses are granted")


async def _transport_check(settings: Settings, client: AsyncWebClient) -> Check:
    app_token = settings.secrets.slack_app_token
    if app_token is None:
        if settings.secrets.slack_signing_secret is None:
            return _check("slack transport", "fail", "set SLACK_APP_TOKEN or SLACK_SIGNING_SECRET")
        return _check(
            "slack transport",
            "ok",
            f"HTTP mode: Slack must reach POST https://<your host>{EVENTS_PATH} ",
            "(supportbot run --host/--port); requests are checked with SLACK_SIGNING_SECRET",
        )
    try:
        await client.apps_connections_open(app_token=app_token.get_secret_value())
    except SlackApiError as exc:
        return _check(
            "slack socket mode",
            "fail",
            f"SLACK_APP_TOKEN cannot open a connection ({slack_error(exc)}); create an app-level ",
            "token with the connections:write scope and turn Socket Mode on",
        )
    except _UNREACHABLE as exc:
        return _check("slack socket mode", "fail", f"cannot reach Slack ({type(exc).__name__})")
    return _check("slack socket mode", "ok", "the app-level token can open a connection")


async def _workspace_checks(settings: Settings, client: AsyncWebClient) -> list[Check]:
    checks: list[Check] = []
    slack = settings.slack
    for group in configured_groups(settings):
        name = f"slack group {group}"
        try:
            users = (await client.usergroups_users_list(usergroup=group)).get("users") or []
        except SlackApiError as exc:
            checks.append(
                _check(
                    name,
                    "warn",
                    f"cannot read this user group ({slack_error(exc)}); ",
                    "check the id (S...) in supportbot.toml",
                )
            )
        else:
            checks.append(_check(name, "ok", f"{len(users)} member(s)"))
    if slack.triage_channel:
        checks.append(await _triage_check(slack.triage_channel, client))
    return checks


async def _triage_check(channel: str, client: AsyncWebClient) -> Check:
    name = "slack triage channel"
    try:
        info = (await client.conversations_info(channel=channel)).get("channel") or {}
    except SlackApiError as exc:
        return _check(
            name,
            "warn",
            f"cannot see {channel} ({slack_error(exc)}); ",
            "check the channel id and invite the bot",
        )
    if not info.get("is_member"):
        return _check(name, "warn", f"the bot is not in #{info.get('name')}; /invite it there")
    return _check(name, "ok", f"#{info.get('name')} ({channel})")


__all__ = [
    "SlackAdapter",
    "SlackChannel",
    "SlackDirectory",
    "SlackIdentity",
    "api_url",
    "build_adapter",
    "doctor_checks",
    "event_kind",
    "make_web_client",
]
