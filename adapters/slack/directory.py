"""What the adapter knows about the workspace, looked up through the Web API and cached.

This module owns the lookups and their caches: who the bot is (`SlackIdentity`, from
auth.test), a channel's visibility (DMs, internal channels, Slack Connect channels count
as public) and whether everyone of the workspace may open it, a user's name, admin flag and
guest status, and membership of the user groups `[slack]` configures. Lookups fail closed
(see `SlackDirectory`), and `TtlCache` makes concurrent misses for one key share a single call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import FATAL_AUTH_ERRORS, TOKEN_HELP, SlackCallError, ctx, slack_error
from bot.channel_types import is_slack_im
from bot.config import Settings
from bot.errors import FatalAdapterError
from bot.types import Author, Visibility

log = logging.getLogger(__name__)

V = TypeVar("V")


class TtlCache(Generic[V]):
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
        except asyncio.CancelledError:
            future.cancel()  # this lookup was cancelled; the waiters get to try again themselves
            raise
        except BaseException as exc:
            # the waiters see the same failure (and log it) instead of a silent cancellation
            future.set_exception(exc)
            future.exception()  # retrieved here, so asyncio does not warn when nobody waited
            raise
        finally:
            kept = self._pending.get(key) is future
            if kept:
                del self._pending[key]
        if kept:  # not dropped meanwhile: what it read may be from before the change
            self._entries[key] = (time.monotonic() + ttl, value)
        future.set_result(value)
        return value

    def drop(self, key: str) -> None:
        """Forget `key` (what was read is no longer so): its next use looks it up again,
        and a lookup already under way is not kept."""
        self._entries.pop(key, None)
        self._pending.pop(key, None)

    def put(self, key: str, value: V, ttl: float) -> None:
        """Know `key` without a lookup (told by something surer than what was read): a lookup
        already under way is not kept."""
        self.drop(key)
        self._entries[key] = (time.monotonic() + ttl, value)


class LookupFailed(Exception):
    """A lookup a directory made with `fail_closed=False` could not make: Slack's error code
    (or the exception's name), and the seconds a rate limit asked to wait, when it said."""

    def __init__(self, method: str, code: str, retry_after: float | None = None) -> None:
        super().__init__(f"{method}: {code}")
        self.retry_after = retry_after


def retry_after(exc: BaseException) -> float | None:
    """The Retry-After seconds of a rate-limited Web API call, or None."""
    response = getattr(exc, "response", None)
    given = (getattr(response, "headers", None) or {}).get("Retry-After")
    try:
        return float(given) if given is not None else None
    except ValueError:
        return None


# Slack's error codes for a call it could not serve now, which it may send with HTTP 200
_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def unreachable(exc: BaseException) -> bool:
    """Whether a failed Web API call got no answer (Slack down or rate limiting, the network, a
    timeout) rather than Slack's definite one (no_such_subteam, user_not_found, missing_scope)."""
    if not isinstance(exc, SlackApiError):
        return True
    status = getattr(exc.response, "status_code", 200)
    return (isinstance(status, int) and (status >= 500 or status == 429)) or slack_error(exc) in _TRANSIENT


# the configured groups a dashboard re-read found Slack refusing (deleted, mistyped), with the
# error: each re-read has a directory of its own, and a bad group is logged once, not per person
_REFUSED_GROUPS: dict[str, str] = {}


def configured_groups(settings: Settings, workspace: str | None = None) -> tuple[str, ...]:
    """Every user group `[slack]` names for `workspace` (staff_groups, admin_groups and any
    other `*_groups` list, with that workspace's overrides) and every `[audiences.NAME]
    slack_groups`: policy decides what each means; the adapter only reports membership."""
    groups: list[str] = []
    slack = settings.slack.for_workspace(workspace)
    for name, value in ((f.name, getattr(slack, f.name)) for f in fields(slack)):
        if name.endswith("_groups") and isinstance(value, tuple):
            groups += [str(group) for group in value]
    for audience in settings.audiences.values():
        groups += audience.slack_groups
    return tuple(dict.fromkeys(groups))


@dataclass(frozen=True, kw_only=True)
class SlackIdentity:
    """Who the bot is, from auth.test."""

    team_id: str
    team: str
    bot_user_id: str
    bot_id: str
    url: str  # the workspace URL, e.g. https://acme.slack.com/
    enterprise_id: str = ""  # the Enterprise Grid organisation, when installed in one
    # served by its organisation's org-wide install, whose token is every workspace's there
    org_wide: bool = False

    @classmethod
    def from_auth_test(cls, response: Mapping[str, Any]) -> SlackIdentity:
        """The identity auth.test's answer names."""
        return cls(
            team_id=str(response.get("team_id") or ""),
            team=str(response.get("team") or ""),
            bot_user_id=str(response.get("user_id") or ""),
            bot_id=str(response.get("bot_id") or ""),
            url=str(response.get("url") or ""),
            enterprise_id=str(response.get("enterprise_id") or ""),
        )


async def authenticate(client: AsyncWebClient) -> SlackIdentity:
    """Who the bot token is (auth.test); a token Slack refuses for good is a FatalAdapterError."""
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        code = slack_error(exc)
        if code in FATAL_AUTH_ERRORS:
            raise FatalAdapterError(
                f"Slack refused SLACK_BOT_TOKEN ({code}): {TOKEN_HELP}; see knowledge/slack-setup.md"
            ) from None
        raise SlackCallError("auth.test", code) from exc
    return SlackIdentity.from_auth_test(response.data if isinstance(response.data, dict) else {})


@dataclass(frozen=True, kw_only=True)
class _UserFacts:
    name: str
    is_bot: bool
    workspace_admin: bool
    outsider: bool = False  # a guest, or someone from another organisation (Slack Connect)


@dataclass(frozen=True, kw_only=True)
class _ChannelFacts:
    visibility: Visibility
    # everyone of the workspace may open it: not private, not a group DM nor a DM, not shared
    # with another organisation, and not one that could not be looked up
    open_to_workspace: bool = False


# what a message event's own envelope says of a Slack Connect channel (`is_ext_shared_channel`)
_EXT_SHARED = _ChannelFacts(visibility=Visibility.PUBLIC)


class SlackDirectory:
    """Cached lookups: a channel's visibility, a user's name and admin flag, group membership.

    Lookups fail closed: an unknown channel counts as public (public documents only) and an
    unknown user has no roles, so a Slack outage never widens what anyone can see or do.
    With `fail_closed=False` a user or group lookup that gets no answer (`unreachable`) raises
    `LookupFailed` instead (the dashboard's re-read keeps what it knew rather than take "no
    roles" for an answer); Slack's definite error (a deleted group) is still an answer.
    """

    USER_TTL = 600.0
    GROUP_TTL = 300.0
    CHANNEL_TTL = 600.0
    # an internal channel is read again sooner: once shared with another organisation it is
    # dropped at once (`forget_channel`), but only by the worker Slack's channel_shared event
    # reaches, and not at all when the event was missed (a message there says so itself:
    # `ext_shared`). Held INTERNAL too long, internal documents are quoted to outsiders; held
    # PUBLIC too long, some are only left out
    INTERNAL_TTL = 60.0
    FAILURE_TTL = 30.0

    def __init__(
        self, client: AsyncWebClient, settings: Settings, identity: SlackIdentity, *, fail_closed: bool = True
    ) -> None:
        self.client = client
        self.fail_closed = fail_closed
        self.settings = settings
        self.identity = identity
        self._users: TtlCache[_UserFacts] = TtlCache()
        self._groups: TtlCache[frozenset[str]] = TtlCache()
        self._channels: TtlCache[_ChannelFacts] = TtlCache()

    async def visibility(
        self, channel: str, channel_type: str | None = None, *, ext_shared: bool = False
    ) -> Visibility:
        """`ext_shared`: the event's own envelope says the channel is a Slack Connect channel
        (`is_ext_shared_channel`). That holds whatever was cached: channel_shared reaches one
        worker only, and none when the app's manifest predates the subscription."""
        # IM channel ids start with D; DMs need no lookup (and no im:read scope).
        if channel_type == "im" or is_slack_im(channel):
            return Visibility.DIRECT
        if ext_shared:
            self._channels.put(channel, _EXT_SHARED, self.CHANNEL_TTL)
            return Visibility.PUBLIC
        return (await self._channel(channel)).visibility

    async def open_to_workspace(self, channel: str) -> bool:
        """Whether everyone of the workspace may open `channel` (`bot.ports.KnowsOpenChannels`):
        a guest's ticket has a public document scope in a private channel or group DM too."""
        if is_slack_im(channel):
            return False
        return (await self._channel(channel)).open_to_workspace

    async def _channel(self, channel: str) -> _ChannelFacts:
        return await self._channels.get(channel, lambda: self._load_channel(channel))

    def forget_channel(self, channel: str) -> None:
        """Slack said the channel was shared with another organisation, or no longer is
        (channel_shared, channel_unshared): its visibility is read again at its next use."""
        self._channels.drop(channel)

    async def _load_channel(self, channel: str) -> tuple[_ChannelFacts, float]:
        try:
            info = (await self.client.conversations_info(channel=channel)).get("channel") or {}
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            code = slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning(
                "conversations.info failed (%s); treating the channel as public",
                code,
                extra=ctx(channel),
            )
            return _ChannelFacts(visibility=Visibility.PUBLIC), self.FAILURE_TTL
        if info.get("is_im"):
            return _ChannelFacts(visibility=Visibility.DIRECT), self.CHANNEL_TTL
        if info.get("is_ext_shared") or info.get("is_pending_ext_shared"):
            # Slack Connect: people from other orgs
            return _ChannelFacts(visibility=Visibility.PUBLIC), self.CHANNEL_TTL
        closed = info.get("is_private") or info.get("is_mpim") or info.get("is_group")
        return _ChannelFacts(visibility=Visibility.INTERNAL, open_to_workspace=not closed), self.INTERNAL_TTL

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
            log.warning("users.info failed (%s)", code, extra=ctx(user=user_id))
            if not self.fail_closed and unreachable(exc):
                raise LookupFailed("users.info", code, retry_after(exc)) from None
            # unknown person: treat as an outsider, so a DM cannot reach internal documents
            return _UserFacts(
                name=name_hint, is_bot=False, workspace_admin=False, outsider=True
            ), self.FAILURE_TTL
        profile = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or ""
        # guests and people of other organisations (Slack Connect)
        outsider = bool(
            user.get("is_restricted")
            or user.get("is_ultra_restricted")
            or user.get("is_stranger")
            or self._other_organisation(user)
        )
        facts = _UserFacts(
            name=str(name or user.get("name") or name_hint),
            is_bot=bool(user.get("is_bot")),
            # is_admin and is_owner are of the person's own workspace: a Slack Connect
            # partner's admin is an admin there, nobody here
            workspace_admin=bool(user.get("is_admin") or user.get("is_owner")) and not outsider,
            outsider=outsider,
        )
        return facts, self.USER_TTL

    def _other_organisation(self, user: dict[str, Any]) -> bool:
        """A Slack Connect user in a shared channel: another workspace's team_id (Slack sets
        is_stranger only for people the bot shares no channel with). Enterprise Grid
        colleagues of sibling workspaces also have another team_id, but our organisation's."""
        team = str(user.get("team_id") or "")
        if not team or not self.identity.team_id or team == self.identity.team_id:
            return False
        enterprise = str((user.get("enterprise_user") or {}).get("enterprise_id") or "")
        return not (self.identity.enterprise_id and enterprise == self.identity.enterprise_id)

    async def roles(self, user_id: str) -> frozenset[str]:
        """The configured user groups this user belongs to."""
        groups = configured_groups(self.settings, self.identity.team_id or None)
        members = await asyncio.gather(*(self.group_members(g) for g in groups))
        return frozenset(g for g, users in zip(groups, members, strict=True) if user_id in users)

    async def group_members(self, group: str) -> frozenset[str]:
        return await self._groups.get(group, lambda: self._load_group(group))

    async def _load_group(self, group: str) -> tuple[frozenset[str], float]:
        try:
            users = (await self.client.usergroups_users_list(usergroup=group)).get("users") or []
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            code = slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
            if not self.fail_closed and unreachable(exc):
                log.warning("usergroups.users.list failed for %s (%s)", group, code, extra=ctx())
                raise LookupFailed("usergroups.users.list", code, retry_after(exc)) from None
            # the dashboard's re-reads (a directory each) log a group Slack refuses only once
            if self.fail_closed or _REFUSED_GROUPS.get(group) != code:
                log.warning(
                    "usergroups.users.list failed for %s (%s); nobody counts as a member",
                    group,
                    code,
                    extra=ctx(),
                )
            if not self.fail_closed:
                _REFUSED_GROUPS[group] = code
            return frozenset(), self.FAILURE_TTL
        if not self.fail_closed:
            _REFUSED_GROUPS.pop(group, None)
        return frozenset(str(u) for u in users), self.GROUP_TTL

    def archive_url(self, channel: str, ts: str | None = None) -> str:
        base = self.identity.url or "https://slack.com/"
        if ts is None:
            return f"{base}archives/{channel}"
        return f"{base}archives/{channel}/p{ts.replace('.', '')}"


# -- the Channel the core posts through -----------------------------------------------------
