"""Several Slack workspaces in one adapter: each answered with its own install's token.

This module owns what differs when the app is installed through OAuth instead of running
with one SLACK_BOT_TOKEN: a `Workspace` (Web API client, directory, channel and listeners)
per installed team, built on first use from the installation store and rebuilt when a
reinstall changed the token; `WorkspacesChannel`, the adapter's Channel for work that starts
in the core (replays, SLA reminders), which posts with the conversation's workspace (the Bolt
listeners that hand each request to its team's `SlackEvents`: adapters/slack/routed_listeners.py).
An organisation-wide (Enterprise Grid) install serves each workspace of its organisation,
and only those: a workspace's organisation is what Slack says it is (the enterprise id of
its signed events), learned as its events arrive and kept in the state, so work the core
starts naming the team alone (a read-back after a restart, an SLA reminder) finds the
organisation's install before that workspace's next event, in any worker. A workspace
whose organisation Slack never named is served by its own install alone, or not at all
(NotInstalled).

A token is never trusted for long: an install saved or deleted through this process (a
reinstall, Bolt's uninstall and revocation listeners) drops it at once, one kept `TOKEN_TTL`
seconds is read again (what another worker changed), and one Slack refuses is dropped and
read again once before the call fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

import aiohttp
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.web.async_client import AsyncWebClient

from adapters.inflight import InFlight
from adapters.rate_limited_log import RateLimitedLog
from adapters.slack.channel import SlackChannel
from adapters.slack.client import (
    FATAL_AUTH_ERRORS,
    PartlyPosted,
    SlackCallError,
    api_url,
    ctx,
    retry_handlers,
    web_logger,
)
from adapters.slack.directory import SlackDirectory, SlackIdentity
from adapters.slack.events import SlackEvents
from adapters.slack.heard import Heard
from adapters.slack.installations import StoreInstallations
from bot.config import Settings
from bot.errors import PlatformError
from bot.ports import Core, PostChanged
from bot.types import Button, ConversationRef, InboundMessage, Posted, Reply

log = logging.getLogger(__name__)
T = TypeVar("T")


class NotInstalled(PlatformError):
    """A workspace the app has no install for (never installed, or uninstalled)."""


# How long a worker trusts a token it read from the store before reading it again: an
# uninstall or reinstall handled by another worker reaches this one within this bound, even
# for work no Slack event starts (reminders, replays)
TOKEN_TTL = 60.0


@dataclass(frozen=True)
class Workspace:
    token: str
    events: SlackEvents
    enterprise_id: str  # the install's organisation ("" outside Enterprise Grid)
    install_team: str  # the install's team: "" when the organisation installed org-wide
    read_at: float  # when the token was read from the store (Workspaces.clock)


class Workspaces:
    """The installed workspaces this process has talked to, by team id."""

    def __init__(
        self,
        core: Core,
        settings: Settings,
        installs: StoreInstallations,
        in_flight: InFlight,
        *,
        session: aiohttp.ClientSession | None,
        retry_interval: float | None = None,
        thinking_reaction: str,
        thinking_after: float,
        thinking_per_minute: float,
        heard: Heard | None = None,
        ttl: float = TOKEN_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.core = core
        self.settings = settings
        self.installs = installs
        self.in_flight = in_flight
        self.session = session
        self.retry_interval = retry_interval
        self.thinking_reaction = thinking_reaction
        self.thinking_after = thinking_after
        self.thinking_per_minute = thinking_per_minute
        self.heard = heard
        self.ttl = ttl
        self.clock = clock
        self._by_team: dict[str, Workspace] = {}
        # each team's organisation as the install that served it (its own, or an org-wide
        # one) or the state's record of signed events named it: what lets work the core
        # starts, which names the team alone, use the org-wide install. Not dropped with a
        # token: which organisation a workspace is in does not change when an install does
        self._enterprise_of: dict[str, str] = {}
        self._kept: dict[str, str] = {}  # what `learned` wrote to the state (this process)
        self._unkept = RateLimitedLog(log, interval=60.0, more="%d more organisation(s) not kept, last: %s")
        self._locks: dict[str, asyncio.Lock] = {}
        installs.on_change(self.forget)

    async def get(
        self,
        team_id: str,
        enterprise_id: str | None = None,
        token: str | None = None,
        *,
        is_enterprise_install: bool = False,
    ) -> SlackEvents:
        """The team's listeners; `token` (from Bolt's authorize) replaces a stale one."""
        return (await self.workspace(team_id, enterprise_id, token, is_enterprise_install)).events

    async def workspace(
        self,
        team_id: str,
        enterprise_id: str | None = None,
        token: str | None = None,
        is_enterprise_install: bool = False,
    ) -> Workspace:
        known = self._by_team.get(team_id)
        if self._usable(known, token):
            assert known is not None
            return known
        # two first events of a team build it once; other teams are not held up meanwhile
        async with self._locks.setdefault(team_id, asyncio.Lock()):
            known = self._by_team.get(team_id)
            if self._usable(known, token):
                assert known is not None
                return known
            # a reminder names the team alone
            enterprise_id = enterprise_id or self._enterprise_of.get(team_id)
            bot = await self._find(team_id, enterprise_id, is_enterprise_install)
            if bot is None and not enterprise_id:
                # its organisation as an earlier event named it, to this process or another;
                # read only when the workspace has no install of its own
                enterprise_id = await self.installs.organisation(team_id)
                if enterprise_id:
                    self._enterprise_of[team_id] = enterprise_id
                    bot = await self._find(team_id, enterprise_id, False)
            if bot is None:
                self._by_team.pop(team_id, None)
                raise NotInstalled(f"Slack workspace {team_id} has not installed the app")
            if bot.enterprise_id:
                # the organisation of the install that serves it: its own install's, or the
                # org-wide install's that took its request (a Slack Connect customer's
                # workspace), for this process's work in its conversations. Never the
                # organisation a request named: for a standalone workspace's install that is
                # the shared channel's home organisation or the submitter's, and kept, a
                # reminder after an uninstall found that organisation's install
                self._enterprise_of[team_id] = bot.enterprise_id
            now = self.clock()
            if known is not None and known.token == bot.bot_token:
                renewed = replace(known, read_at=now)  # unchanged: keep its client and caches
                self._by_team[team_id] = renewed
                return renewed
            identity = SlackIdentity(
                team_id=bot.team_id or team_id,
                team=bot.team_name or "",
                bot_user_id=bot.bot_user_id,
                bot_id=bot.bot_id,
                url="",
                enterprise_id=bot.enterprise_id or "",
                org_wide=bool(bot.is_enterprise_install),
            )
            built = Workspace(
                token=bot.bot_token,
                events=self._build(bot.bot_token, identity),
                enterprise_id=bot.enterprise_id or "",
                install_team="" if bot.is_enterprise_install else bot.team_id or "",
                read_at=now,
            )
            self._by_team[team_id] = built
            log.info("serving Slack workspace %s", team_id, extra=ctx(workspace=team_id))
            return built

    async def learned(self, team_id: str, enterprise_id: str) -> None:
        """A signed request said the workspace `team_id` is in the organisation `enterprise_id`
        (one payload's own pair: its team and its enterprise, never Bolt's context, which
        may take the team from one place and the organisation from another, as for a Slack
        Connect modal; the caller passes it only when that organisation's install took the
        request). Kept in the state when news to this process (once per workspace and
        start; after a failed write, at its next request), for work that names the team
        alone in a process that has not routed a request of it (`workspace` keeps the
        organisation of the install it found in memory)."""
        if self._kept.get(team_id) == enterprise_id:
            return
        try:
            await self.installs.note_organisation(team_id, enterprise_id)
        except Exception as exc:  # the request is served all the same; the next one notes it
            self._unkept.write(
                "organisation",
                f"could not keep Slack workspace {team_id}'s organisation ({type(exc).__name__})",
            )
            return
        self._kept[team_id] = enterprise_id

    def _usable(self, known: Workspace | None, token: str | None) -> bool:
        if known is None:
            return False
        if token is not None:
            return token == known.token  # Bolt has just read it from the store
        return self.clock() - known.read_at < self.ttl

    async def _find(self, team_id: str, enterprise_id: str | None, is_enterprise_install: bool) -> Bot | None:
        # an org-wide install is found by its organisation; a workspace by its own install,
        # else its organisation's when that is known (never a guess: see the module's doc)
        return await self.installs.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install and bool(enterprise_id),
        )

    def forget(self, enterprise_id: str, team_id: str) -> None:
        """Drop what is kept of an install saved or deleted here (a reinstall, an uninstall,
        a revocation): the next use reads the store. `team_id` "" is an organisation's
        org-wide install, which served every workspace of it this process has seen."""
        for team, known in list(self._by_team.items()):
            if team_id:
                gone = team == team_id or known.install_team == team_id
            else:
                gone = known.install_team == "" and known.enterprise_id == enterprise_id
            if gone:
                del self._by_team[team]

    def forget_channel(self, channel: str) -> None:
        """Slack said `channel` was shared with another organisation, or no longer is: every
        workspace's directory reads its visibility again (SlackDirectory.forget_channel)."""
        for known in self._by_team.values():
            known.events.directory.forget_channel(channel)

    async def after_refusal(self, team_id: str, refused: str) -> Workspace | None:
        """Slack refused the token `refused` (revoked, uninstalled): forget it, read the store
        once more, and give the workspace's install if it now has another token (a reinstall
        another worker saw), else None."""
        known = self._by_team.get(team_id)
        if known is not None and known.token == refused:
            del self._by_team[team_id]
        try:
            fresh = await self.workspace(team_id)  # its organisation, if learned, is kept
        except NotInstalled:
            return None
        return fresh if fresh.token != refused else None

    def _build(self, token: str, identity: SlackIdentity) -> SlackEvents:
        client = AsyncWebClient(
            token=token,
            base_url=api_url(self.settings),
            session=self.session,
            timeout=30,
            retry_handlers=retry_handlers(self.retry_interval),
            logger=web_logger(),
        )
        directory = SlackDirectory(client, self.settings, identity)
        channel = SlackChannel(client, directory, session=self.session, retry_interval=self.retry_interval)
        return SlackEvents(
            self.core,
            self.settings,
            directory,
            channel,
            self.in_flight,
            thinking_reaction=self.thinking_reaction,
            thinking_after=self.thinking_after,
            thinking_per_minute=self.thinking_per_minute,
            heard=self.heard,
        )


class WorkspacesChannel:
    """The core's Channel for every installed workspace: each call goes to the channel of
    the conversation's workspace (ConversationRef.workspace is the Slack team id)."""

    def __init__(self, workspaces: Workspaces) -> None:
        self.workspaces = workspaces

    async def _on_channel(
        self,
        conversation: ConversationRef,
        call: Callable[[SlackChannel], Awaitable[T]],
        resume: Callable[[SlackChannel, PartlyPosted], Awaitable[T]] | None = None,
    ) -> T:
        """`call` on the channel of the conversation's workspace. A token Slack refuses is
        dropped and the store read once more: a workspace reinstalled through another worker
        is served with its new token at once, an uninstalled one fails without a retry. A
        reply refused after some of its parts went out is finished by `resume`, never sent
        whole again (its first parts would appear twice); without `resume` it is not retried."""
        team = conversation.workspace
        workspace = await self.workspaces.workspace(team)
        try:
            return await call(workspace.events.channel)
        except SlackCallError as exc:
            if exc.code not in FATAL_AUTH_ERRORS:
                raise
            partial = exc if isinstance(exc, PartlyPosted) else None
            if partial is not None and resume is None:
                raise
            fresh = await self.workspaces.after_refusal(team, workspace.token)
            if fresh is None:
                log.warning(
                    "Slack refused workspace %s's token (%s) and no other is installed",
                    team,
                    exc.code,
                    extra=ctx(conversation.channel, workspace=team),
                )
                raise
        if partial is not None and resume is not None:
            return await resume(fresh.events.channel, partial)
        return await call(fresh.events.channel)

    async def send(self, reply: Reply) -> Posted:
        return await self._on_channel(
            reply.conversation,
            lambda channel: channel.send(reply),
            lambda channel, partial: channel.resume(partial),
        )

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        return await self._on_channel(
            posted.conversation, lambda channel: channel.edit(posted, reply, on_change)
        )

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        return await self._on_channel(
            message.conversation, lambda channel: channel.open_thread(message, title)
        )

    async def find_reply(self, message: InboundMessage) -> Posted | None:
        """`bot.ports.FindsReplies` in the message's workspace (SlackChannel.find_reply): a
        replay after a crash finishes the answer a dead process posted but had not noted,
        rather than posting a second. A token Slack refuses is read again and the thread looked
        at once more; with no other token, or no install any worker can tell serves the
        workspace yet (an org-wide install is known by its workspaces' events, and none of
        this one was seen since the workers kept them), the error is raised: the replay
        waits and is tried again (bot/replays.py REPLAY_ATTEMPTS), never taken for "no reply"."""
        return await self._on_channel(message.conversation, lambda channel: channel.find_reply(message))

    async def find_post(self, where: ConversationRef, after: datetime, button: Button) -> Posted | None:
        """`bot.ports.FindsPosts` in `where`'s workspace (SlackChannel.find_post), with a
        refused token read again as for `find_reply`."""
        return await self._on_channel(where, lambda channel: channel.find_post(where, after, button))

    async def open_to_workspace(self, where: ConversationRef) -> bool:
        """`bot.ports.KnowsOpenChannels` in `where`'s workspace (SlackChannel.open_to_workspace)."""
        return await self._on_channel(where, lambda channel: channel.open_to_workspace(where))
