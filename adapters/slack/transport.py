"""`SlackAdapter`: the connection to one Slack workspace, over Socket Mode or HTTP.

This module owns the adapter's lifecycle and transports: authenticating the bot token
(auth.test), Socket Mode (`SLACK_APP_TOKEN`, no public URL; `adapters.slack.socket_mode` opens
it) or the HTTP Events API (`SLACK_SIGNING_SECRET`; an aiohttp server with `POST /slack/events`
and `GET /healthz`), Bolt's AsyncApp, replaying what a dead process left unanswered and reading
back what nobody heard (`adapters.slack.missed`), and shutdown: `close()` waits for the
in-flight tasks, then cancels what is left. In HTTP mode every request passes
`adapters.slack.http_guard` first (size, then timestamp and signature on the raw bytes, then
parsing: 413, 401 or 400, one rate-limited log line, never a 5xx) and Bolt checks the signature
once more; what aiohttp's own parser rejects is one rate-limited line too. With several
workspaces, the OAuth pages are `adapters.slack.install_pages`'; the listeners live in
`adapters.slack.events`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_sdk.web.async_client import AsyncWebClient

from adapters.inflight import INDICATOR_AFTER_S, InFlight
from adapters.rate_limited_log import quiet_malformed_http
from adapters.read_back import since
from adapters.slack.bolt_log import bolt_logger
from adapters.slack.channel import SlackChannel
from adapters.slack.client import PLATFORM, ctx, make_web_client
from adapters.slack.directory import SlackDirectory, authenticate
from adapters.slack.events import SlackEvents
from adapters.slack.heard import Heard
from adapters.slack.http_events import HttpEvents, Silences
from adapters.slack.http_guard import RateLimitedLog, SlackRequestGuard
from adapters.slack.http_guard import log as guard_log
from adapters.slack.install_pages import InstallPages
from adapters.slack.installations import INSTALL_PATH, REDIRECT_PATH, StoreInstallations, oauth_flow
from adapters.slack.missed import EventsOf, installed, one_workspace, read_back_from
from adapters.slack.read_backs import ReadBacks
from adapters.slack.routed_listeners import RoutedListeners
from adapters.slack.socket_mode import first_url, socket_handler
from adapters.slack.thinking import THINKING_PER_MINUTE, THINKING_REACTION
from adapters.slack.workspaces import Workspaces, WorkspacesChannel
from bot.config import Settings
from bot.errors import FatalAdapterError
from bot.messages import say
from bot.ports import Core
from bot.store import AsyncStore

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

Mode = Literal["socket", "http"]


class SlackAdapter:
    """Runs the bot in one Slack workspace: `run()` until `close()`."""

    name = PLATFORM

    def __init__(
        self,
        bot: Core,
        settings: Settings,
        *,
        host: str = "0.0.0.0",
        port: int = 3000,
        ping_interval: float = 10.0,
        retry_interval: float | None = None,
        thinking_reaction: str = THINKING_REACTION,
        thinking_after: float = INDICATOR_AFTER_S,
        thinking_per_minute: float = THINKING_PER_MINUTE,
        drain_timeout: float = 30.0,
        store: AsyncStore | None = None,
    ) -> None:
        secrets = settings.secrets
        # several workspaces, each installed through /slack/install: tokens from the store
        self.store = store if settings.slack_oauth else None
        if settings.slack_oauth and store is None:
            raise FatalAdapterError("multi-workspace Slack (SLACK_CLIENT_ID) needs the state store")
        if self.store is None and secrets.slack_bot_token is None:
            raise FatalAdapterError("SLACK_BOT_TOKEN is not set; see knowledge/slack-setup.md")
        if self.store is not None:
            self.mode: Mode = "http"  # the install pages need the HTTP server
        elif secrets.slack_app_token is not None:
            self.mode = "socket"
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
        self.thinking_after = thinking_after
        self.thinking_per_minute = thinking_per_minute
        self.drain_timeout = drain_timeout
        self.ready = asyncio.Event()
        self.http_port: int | None = None
        self._closed = asyncio.Event()
        self._refused: FatalAdapterError | None = None  # Slack refused the app token on a reconnect
        self._in_flight = InFlight()  # every event, command and press being handled
        self._heard = Heard(bot, self._in_flight)  # shared by every workspace's listeners
        self._read_backs = ReadBacks(bot, self._heard)  # stopped, not drained, at shutdown
        self._session: aiohttp.ClientSession | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        # routes to serve beside Slack's on the HTTP port (the dashboard: `share_http`)
        self._shared_app: Callable[[], Awaitable[Any]] | None = None
        self._client: AsyncWebClient | None = None
        self._directory: SlackDirectory | None = None
        self._channel: SlackChannel | WorkspacesChannel | None = None
        self._app: AsyncApp | None = None
        self._events: SlackEvents | None = None
        self.refusals = RateLimitedLog(guard_log, extra=ctx())

    # lifecycle -------------------------------------------------------------------------

    @property
    def channel(self) -> SlackChannel | WorkspacesChannel:
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
            if self._refused is not None:
                raise self._refused  # the app token, revoked while connected: retrying cannot cure it
        finally:
            await self._teardown()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._client = make_web_client(
            self.settings, session=self._session, retry_interval=self.retry_interval
        )
        # before connecting: what comes later is heard live
        after = await read_back_from(self.bot, self.settings.slack.read_back_after_seconds)
        if self.store is not None:
            await self._start_workspaces(self.store, self._client, after)
            return
        identity = await authenticate(self._client)
        self._directory = SlackDirectory(self._client, self.settings, identity)
        self._channel = SlackChannel(
            self._client, self._directory, session=self._session, retry_interval=self.retry_interval
        )
        self._events = events = SlackEvents(
            self.bot,
            self.settings,
            self._directory,
            self._channel,
            self._in_flight,
            thinking_reaction=self.thinking_reaction,
            thinking_after=self.thinking_after,
            thinking_per_minute=self.thinking_per_minute,
            heard=self._heard,
        )
        self._app = self._build_app(self._client, self._events)
        if self.mode == "socket":
            await self._start_socket_mode(self._app, self._client, one_workspace(events), identity.team_id)
        else:
            await self._start_http(self._app, one_workspace(events), [identity.team_id])
        if self._closed.is_set():
            return  # closed while connecting
        log.info(
            "connected to Slack team %s as %s (%s mode)",
            identity.team_id,
            identity.bot_user_id,
            self.mode,
            extra=ctx(workspace=identity.team_id),
        )
        await self._catch_up(after, one_workspace(events), [identity.team_id])

    async def _start_workspaces(self, store: AsyncStore, client: AsyncWebClient, after: float | None) -> None:
        """Multi-workspace HTTP mode: Bolt's OAuth flow on our stores; each request is
        authorized with its workspace's install, and answered with that install's token."""
        flow = oauth_flow(self.settings, store, retry_interval=self.retry_interval)
        installs = flow.settings.installation_store
        assert isinstance(installs, StoreInstallations)
        workspaces = Workspaces(
            self.bot,
            self.settings,
            installs,
            self._in_flight,
            session=self._session,
            retry_interval=self.retry_interval,
            thinking_reaction=self.thinking_reaction,
            thinking_after=self.thinking_after,
            thinking_per_minute=self.thinking_per_minute,
            heard=self._heard,
        )
        self._channel = WorkspacesChannel(workspaces)
        self._app = self._build_app(client, None, oauth=flow)
        # app_uninstalled / tokens_revoked: Bolt deletes the workspace's install from our store,
        # and the store tells `workspaces` to drop the token it keeps. Registered before
        # our listeners: Bolt runs the first that matches, and ours end in a catch-all
        self._app.enable_token_revocation_listeners()
        RoutedListeners(workspaces).register(self._app, self.settings.slack.slash_command)
        await self._start_http(self._app, installed(workspaces), None)
        log.info("serving installed Slack workspaces (HTTP mode, installs at %s)", INSTALL_PATH, extra=ctx())
        await self._catch_up(after, installed(workspaces), None)

    async def close(self) -> None:
        self._closed.set()
        await self._teardown()

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every read-back, event, command and button press so far is handled; False
        if `timeout` ran out first (the events still running are then cancelled)."""
        start = asyncio.get_running_loop().time()
        read = await self._read_backs.wait(timeout)  # its messages join the in-flight work
        left = None if timeout is None else max(0.0, timeout - (asyncio.get_running_loop().time() - start))
        return await self._in_flight.drain(left) and read

    async def _teardown(self) -> None:
        self.ready.clear()
        self._read_backs.cancel()
        await self._heard.flush()
        if self._socket is not None:
            socket, self._socket = self._socket, None
            try:
                # slack_bolt declares AsyncBaseSocketModeHandler.close_async without annotations
                await socket.close_async()  # type: ignore[no-untyped-call]
            except Exception:
                log.exception("error while closing the Socket Mode connection", extra=ctx())
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
            self.refusals.flush()
        if not await self.drain(self.drain_timeout):
            log.warning(
                "Slack handlers still running %.0f s into shutdown; cancelled them",
                self.drain_timeout,
                extra=ctx(),
            )
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def _start_socket_mode(
        self, app: AsyncApp, client: AsyncWebClient, back: EventsOf, team: str
    ) -> None:
        secret = self.settings.secrets.slack_app_token
        assert secret is not None
        token = secret.get_secret_value()
        url = await first_url(client, token)  # a refused token stops here, not in slack_sdk's retries
        handler = socket_handler(
            app,
            client,
            token,
            url,
            ping_interval=self.ping_interval,
            on_refused=self._stop_refused,
            # a connection down longer than Slack's retries cover: read back from when it was last alive
            on_back=lambda alive: self._read_backs.read(since(alive), back, [team]),
            read_back_after=self.settings.slack.read_back_after_seconds,
        )
        # kept before connecting: close() then stops a connect slack_sdk is still retrying
        self._socket = handler
        # slack_bolt declares AsyncBaseSocketModeHandler.connect_async without annotations
        await handler.connect_async()  # type: ignore[no-untyped-call]

    def _stop_refused(self, error: FatalAdapterError) -> None:
        self._refused = error
        self._closed.set()

    def share_http(self, make_app: Callable[[], Awaitable[Any]]) -> bool:
        """`bot.ports.SharesHttp`: in HTTP mode, serve `make_app`'s routes on this port too."""
        if self.mode != "http":
            return False
        self._shared_app = make_app
        return True

    async def _shared_web_app(self) -> web.Application:
        """The shared routes' application; if it cannot be built (its store is down, say),
        Slack's events still come in, on an application of their own."""
        assert self._shared_app is not None
        try:
            shared: web.Application = await self._shared_app()
        except Exception:
            log.exception(
                "the dashboard could not be set up on the HTTP port; serving Slack without it", extra=ctx()
            )
            return web.Application()
        return shared

    async def _start_http(self, app: AsyncApp, events_of: EventsOf, teams: list[str] | None) -> None:
        # the dashboard's application when it shares this port (its guard leaves Slack's paths
        # alone), else one of our own; made anew at each start: a started one cannot take routes
        web_app = await self._shared_web_app() if self._shared_app is not None else web.Application()
        web_app.router.add_post(EVENTS_PATH, self._http_events(app, events_of, teams).handle)
        web_app.router.add_get(HEALTH_PATH, self._http_health)
        if self.store is not None:
            assert app.oauth_flow is not None
            pages = InstallPages(app.oauth_flow)
            web_app.router.add_get(INSTALL_PATH, pages.handle)
            web_app.router.add_get(REDIRECT_PATH, pages.handle)
        quiet_malformed_http()  # aiohttp answers those 400 itself; its log line would be a flood
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
        log.info("HTTP mode: listening on %s:%d%s", self.host, self.http_port, EVENTS_PATH, extra=ctx())

    def _http_events(self, app: AsyncApp, events_of: EventsOf, teams: list[str] | None) -> HttpEvents:
        secret = self.settings.secrets.slack_signing_secret
        assert secret is not None
        guard = SlackRequestGuard(secret.get_secret_value())

        def back(start: float, team: str | None) -> None:
            # Slack could not reach us for longer than its retries cover: read back from then
            # to now, at once (a read-back owed from then could be settled by one already
            # running, which read before the outage ended), in the retried event's workspace too
            also = [team] if team else []
            self._read_backs.read(since(start), events_of, teams, also=also)

        silences = Silences(back, read_back_after=self.settings.slack.read_back_after_seconds)
        return HttpEvents(app, guard, self.refusals, self._heard, silences)

    async def _http_health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": True, "platform": PLATFORM, "mode": self.mode, "in_flight": len(self._in_flight)}
        )

    async def _catch_up(self, after: float | None, events_of: EventsOf, teams: list[str] | None) -> None:
        """Finish what was left unanswered, serve, then read back what nobody heard."""
        try:
            if replayed := await self.bot.replay_pending(PLATFORM, self.channel):
                log.info("replayed %d unfinished message(s)", replayed, extra=ctx())
        except Exception:
            log.exception("could not replay unfinished Slack messages", extra=ctx())
        self.ready.set()
        self._read_backs.begin(after, events_of, teams)

    def _build_app(
        self, client: AsyncWebClient, events: SlackEvents | None, *, oauth: AsyncOAuthFlow | None = None
    ) -> AsyncApp:
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
            logger=bolt_logger(),
            # with OAuth, Bolt authorizes each request with its workspace's install; what it
            # tells a person whose workspace's it cannot find (or could not read: the store
            # down) says both, not only "install the app"
            oauth_flow=oauth,
            user_facing_authorize_error_message=say("install_unread") if oauth else None,
        )
        if events is not None:
            events.register(app)
        return app


def build_adapter(bot: Core, settings: Settings, **options: Any) -> SlackAdapter:
    """The entry point `bot.supervisor` loads: options are `host` and `port` from `supportbot run`,
    plus `ping_interval`, `retry_interval`, `thinking_reaction`, `thinking_after` (seconds an
    answer may take before the thinking reaction shows), `thinking_per_minute` (how many
    thinking reactions a workspace may be shown a minute) and `drain_timeout`."""
    return SlackAdapter(bot, settings, **options)
