"""The connection: discord.py's Client, and the adapter the supervisor runs and closes.

This module owns getting the bot onto Discord and off it again:

* `DISCORD_TOKEN`, and clear fatal errors for a rejected token or a Message Content Intent
  that is off in the developer portal; reconnects are discord.py's;
* the four intents the bot needs (guilds, guild messages, DM messages, message content)
  and no more;
* endpoints from `DISCORD_API_URL` / `DISCORD_GATEWAY_URL` (`point_discord_py`), with the
  gateway asked of the API when only the API is given;
* registering buttons and syncing the slash commands (globally or per configured guild);
* replaying what a previous process left unfinished, once, when the gateway is ready;
* `DiscordAdapter.run` / `close` for the supervisor in `bot/app.py`: close lets in-flight
  events finish (up to `drain_timeout`) before disconnecting;
* with a gateway lease (state in PostgreSQL, several workers): connecting only while holding
  it, and catching up on a dead holder's conversations (`adapters/discord/standby.py`).

The events themselves are handled in `adapters/discord/events.py`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

from adapters.discord.channel import DiscordChannel, WebhookMessages
from adapters.discord.commands import SupportButton, build_command_groups
from adapters.discord.events import Events
from adapters.discord.standby import RETRY_SECONDS, GatewayHold, catch_up
from adapters.discord.translate import PLATFORM, MessageTranslator
from adapters.inflight import InFlight
from bot.config import Settings
from bot.errors import FatalAdapterError, PlatformError
from bot.ports import Core, Lease

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)

DEFAULT_API_BASE = "https://discord.com/api/v10"
API_VERSION_SUFFIX = "/api/v10"

TOKEN_REJECTED = (
    "the Discord token was rejected (401 Unauthorized). Set DISCORD_TOKEN to the bot token "
    "from the developer portal (your application > Bot > Reset Token); it is not the client "
    "secret or the application id"
)
INTENT_HOW = (
    "Enable it in the developer portal: https://discord.com/developers/applications > your "
    "application > Bot > Privileged Gateway Intents > Message Content Intent, save, then start "
    "the bot again. Without it the bot cannot read the questions people ask"
)
INTENT_MISSING = f"Discord refused the Message Content Intent (gateway close 4014). {INTENT_HOW}"


def support_intents() -> discord.Intents:
    """Exactly what the bot needs: guild structure (channels, threads, roles), guild and
    DM messages, and their content. No members or presences (privileged, not needed)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = True
    return intents


# -- endpoints ------------------------------------------------------------------------------


def api_base(url: str | None) -> str:
    """`DISCORD_API_URL` as discord.py needs it: ending in the API version (added when the
    URL is a bare host, as REST proxies are usually given)."""
    if not url:
        return DEFAULT_API_BASE
    url = url.rstrip("/")
    if re.search(r"/v\d+$", url):
        return url
    return url + ("/v10" if url.endswith("/api") else API_VERSION_SUFFIX)


def gateway_address(url: str) -> yarl.URL:
    """A gateway URL without a query: discord.py appends `?v=10&encoding=json&compress=...`."""
    return yarl.URL(url).with_query(None)


def point_discord_py(api_url: str | None, gateway_url: str | None) -> Callable[[], None]:
    """Point discord.py at `api_url` / `gateway_url` (either may be None: unchanged) and
    return a function that puts back what was there before.

    discord.py 2.x has no per-client setting for either endpoint; both are class
    attributes, hence process-wide:

    * `discord.http.Route.BASE` (default https://discord.com/api/v10) builds every REST
      URL, interaction callbacks and follow-up webhooks included;
    * `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` (a `yarl.URL`) is where a plain
      `Client` connects on IDENTIFY and after a non-resumable session; a plain Client never
      asks `GET /gateway/bot` (only AutoShardedClient does), so the adapter asks the API
      itself when only `DISCORD_API_URL` is set (`DiscordAdapter._discover_gateway`).
    """
    route, websocket = discord.http.Route, discord.gateway.DiscordWebSocket
    previous = (route.BASE, websocket.DEFAULT_GATEWAY)
    if api_url:
        route.BASE = api_base(api_url)
    if gateway_url:
        websocket.DEFAULT_GATEWAY = gateway_address(gateway_url)

    def restore() -> None:
        route.BASE, websocket.DEFAULT_GATEWAY = previous

    return restore


# -- the client and the adapter -------------------------------------------------------------


class SupportClient(discord.Client):
    """discord.Client with the bot's intents, no default pings, and its command tree."""

    def __init__(self, adapter: DiscordAdapter, *, guild_ready_timeout: float = 2.0) -> None:
        super().__init__(
            intents=support_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=guild_ready_timeout,
        )
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)

    @property
    def handler(self) -> Events:
        """Where events, slash commands and button presses (`SupportButton`) go."""
        return self.adapter.events

    async def setup_hook(self) -> None:
        await self.adapter.setup(self)

    async def on_ready(self) -> None:
        await self.adapter.on_ready()

    async def on_message(self, message: discord.Message) -> None:
        self.handler.on_message(message)

    async def on_message_edit(self, before: discord.Message, after: discord.Message) -> None:
        self.handler.on_message_edit(before, after)

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.handler.on_thread_create(thread)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # commands and buttons are routed by the tree and `SupportButton`; a submitted form
        # (the core's `ask_text`) has no stored handler, so that it survives restarts
        if interaction.type == discord.InteractionType.modal_submit:
            self.handler.on_modal_submit(interaction)


class DiscordAdapter:
    """The Discord side of the bot as the supervisor sees it (`bot.ports.Adapter`)."""

    name = PLATFORM

    def __init__(
        self,
        bot: Core,
        settings: Settings,
        *,
        guild_ready_timeout: float = 2.0,
        drain_timeout: float = 30.0,
        lease: Lease | None = None,
        standby_retry: float = RETRY_SECONDS,
    ) -> None:
        self.core = bot
        self.settings = settings
        self.guild_ready_timeout = guild_ready_timeout
        self.drain_timeout = drain_timeout
        self.webhooks = WebhookMessages()
        self.client: SupportClient | None = None
        self._channel: DiscordChannel | None = None
        self._events: Events | None = None
        self._ready = asyncio.Event()
        self._replayed = False
        self._inflight = InFlight()
        # workers sharing a PostgreSQL state take turns on the gateway; alone, always connect
        self.hold = GatewayHold(lease, retry=standby_retry) if lease is not None else None

    # -- lifecycle

    @property
    def channel(self) -> DiscordChannel:
        if self._channel is None:
            raise RuntimeError("the Discord adapter is not running")
        return self._channel

    @property
    def events(self) -> Events:
        if self._events is None:
            raise RuntimeError("the Discord adapter is not running")
        return self._events

    async def wait_until_ready(self) -> None:
        await self._ready.wait()

    async def run(self) -> None:
        """Connect and serve until closed. Raises FatalAdapterError when restarting cannot help.
        With a lease, stand by until it is ours; raises PlatformError if it is lost while
        serving, so the supervisor starts over (standing by again)."""
        token = self.settings.secrets.discord_token
        if token is None:
            raise FatalAdapterError("DISCORD_TOKEN is not set")
        if self.hold is None:
            await self._serve(token.get_secret_value())
            return
        try:
            if not await self.hold.acquire():
                return  # closed while standing by
            self._replayed = False  # another worker held the gateway meanwhile: replay and catch up
            await self._serve(token.get_secret_value())
        finally:
            await self.hold.release()  # also closes a standby's session

    async def _serve(self, token: str) -> None:
        secrets = self.settings.secrets
        restore = point_discord_py(secrets.discord_api_url, secrets.discord_gateway_url)
        client = SupportClient(self, guild_ready_timeout=self.guild_ready_timeout)
        self.client = client
        self._channel = DiscordChannel(client, self.webhooks)
        self._events = Events(self.core, self.settings, client, self._channel, self._inflight)
        self._ready.clear()
        try:
            async with client:
                await self._login(client, token)
                await self._discover_gateway(client)
                if self.hold is None:
                    await self._connect(client)
                else:
                    await self._connect_while_held(client, self.hold)
        finally:
            restore()

    async def _login(self, client: SupportClient, token: str) -> None:
        try:
            await client.login(token)
        except discord.LoginFailure:
            raise FatalAdapterError(TOKEN_REJECTED) from None
        assert client.user is not None
        self.events.translator = MessageTranslator(self.settings, client.user.id)
        log.info("logged in to Discord", extra={"platform": PLATFORM, "user_id": client.user.id})

    async def _discover_gateway(self, client: SupportClient) -> None:
        """With only DISCORD_API_URL set, ask that API where its gateway is."""
        secrets = self.settings.secrets
        if secrets.discord_gateway_url or not secrets.discord_api_url:
            return
        try:
            _, url, _ = await client.http.get_bot_gateway()
        except discord.GatewayNotFound as exc:
            raise PlatformError(
                f"{api_base(secrets.discord_api_url)} did not answer GET /gateway/bot; "
                "set DISCORD_GATEWAY_URL to the gateway's address"
            ) from exc
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway_address(url)
        log.info("gateway from the API", extra={"platform": PLATFORM, "gateway": str(gateway_address(url))})

    async def _connect(self, client: SupportClient) -> None:
        try:
            await client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            raise FatalAdapterError(INTENT_MISSING) from None
        except discord.ConnectionClosed as exc:
            if exc.code == 4004:
                raise FatalAdapterError(TOKEN_REJECTED) from None
            raise

    async def _connect_while_held(self, client: SupportClient, hold: GatewayHold) -> None:
        """Serve while the lease holds. Losing it (its database session ended) means another
        worker may be on the gateway already: finish what is in flight and disconnect."""
        serving = asyncio.create_task(self._connect(client), name="supportbot-discord-gateway")
        watching = asyncio.create_task(hold.lost(), name="supportbot-discord-lease")
        try:
            await asyncio.wait({serving, watching}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
            raise
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
        if serving.done():
            await serving  # closed, or failed: as without a lease
            return
        log.error("lost the Discord gateway lease; disconnecting", extra={"platform": PLATFORM})
        await self.drain(self.drain_timeout)
        await client.close()
        await asyncio.gather(serving, return_exceptions=True)
        raise PlatformError("lost the Discord gateway lease (its database session ended)")

    async def setup(self, client: SupportClient) -> None:
        """After login, before the gateway: buttons and slash commands."""
        client.add_dynamic_items(SupportButton)
        support, admin = build_command_groups(self.events)
        client.tree.add_command(support)
        client.tree.add_command(admin)
        try:
            await self._sync_commands(client)
        except discord.HTTPException as exc:
            # The bot still answers mentions and DMs; `supportbot doctor` says what is wrong.
            log.error(
                "could not register the slash commands (%s %s): %s",
                exc.status,
                exc.code,
                exc.text,
                extra={"platform": PLATFORM},
            )

    async def _sync_commands(self, client: SupportClient) -> None:
        guilds = self.settings.discord.command_guilds
        if not guilds:
            synced = await client.tree.sync()
            log.info(
                "slash commands registered globally", extra={"platform": PLATFORM, "commands": len(synced)}
            )
            return
        for guild_id in guilds:
            guild = discord.Object(id=int(guild_id))
            client.tree.copy_global_to(guild=guild)
            synced = await client.tree.sync(guild=guild)
            log.info(
                "slash commands registered",
                extra={"platform": PLATFORM, "guild": guild_id, "commands": len(synced)},
            )

    async def on_ready(self) -> None:
        client = self.client
        assert client is not None
        log.info("connected to Discord", extra={"platform": PLATFORM, "guilds": len(client.guilds)})
        if not self._replayed:
            self._replayed = True  # READY comes again after a full reconnect; replay once
            # In flight like any event, so close() waits for it; asyncio.wait, not await:
            # a replay cancelled by a drain timeout must not cancel this handler too.
            await asyncio.wait({self._inflight.start(self._replay(), name="supportbot-discord-replay")})
        self._ready.set()

    async def _replay(self) -> None:
        try:
            replayed = await self.core.replay_pending(PLATFORM, self.channel)
            if replayed:
                log.info("replayed %d unfinished message(s)", replayed, extra={"platform": PLATFORM})
        except Exception:
            log.exception("replaying unfinished messages failed", extra={"platform": PLATFORM})
        if self.hold is None or self.client is None:
            return  # alone on the state: no one else held the gateway while this one was away
        try:
            await catch_up(self.core, self.events, self.client)
        except Exception:
            log.exception("catching up on the conversations failed", extra={"platform": PLATFORM})

    async def close(self) -> None:
        """Let in-flight answers finish (up to drain_timeout), then disconnect."""
        if self.hold is not None:
            self.hold.stop()
        await self.drain(self.drain_timeout)
        if self.client is not None and not self.client.is_closed():
            await self.client.close()

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until no event is being handled; False if `timeout` ran out first (the events
        still running are then cancelled)."""
        return await self._inflight.drain(timeout)


def build_adapter(
    bot: Core,
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    guild_ready_timeout: float = 2.0,
    drain_timeout: float = 30.0,
    lease: Lease | None = None,
    standby_retry: float = RETRY_SECONDS,
) -> DiscordAdapter:
    """The entry point `bot.app` loads. `host`/`port` (for HTTP adapters) are ignored: the
    bot connects out to Discord. Options: `guild_ready_timeout`, `drain_timeout`, and with
    workers sharing a PostgreSQL state the gateway `lease` and `standby_retry`."""
    del host, port
    return DiscordAdapter(
        bot,
        settings,
        guild_ready_timeout=guild_ready_timeout,
        drain_timeout=drain_timeout,
        lease=lease,
        standby_retry=standby_retry,
    )
