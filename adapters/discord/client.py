"""The connection: the adapter the supervisor runs and closes.

This module owns getting the bot onto Discord and off it again:

* `DISCORD_TOKEN`, and clear fatal errors for a rejected token or a Message Content Intent
  that is off in the developer portal; reconnects are discord.py's;
* endpoints from `DISCORD_API_URL` / `DISCORD_GATEWAY_URL` (`adapters/discord/endpoints.py`),
  with the gateway asked of the API when only the API is given;
* registering buttons and syncing the slash commands (globally or per configured guild);
* after every fresh gateway session (READY: the first, or one after a RESUME Discord refused,
  per shard on a sharded client), replaying what was left unfinished and catching up on what
  was said meanwhile: Discord replays events only to a resumed session;
* `run` / `close` for `bot/supervisor.py`: close drains in-flight events, then disconnects;
* with a gateway lease (state in PostgreSQL, several workers): connecting only while holding
  it, and catching up on a dead holder's conversations (`adapters/discord/standby.py`);
* shards (`[discord] shards`): an `AutoShardedClient` on the set of shards this process
  holds (`adapters/discord/shards.py`).

The discord.py Client itself is `adapters/discord/support_client.py`'s; the events are handled
in `adapters/discord/events.py`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

import discord
import discord.gateway

from adapters.discord.channel import DiscordChannel
from adapters.discord.commands import SupportButton, build_command_groups, sync_commands
from adapters.discord.endpoints import api_base, gateway_address, point_discord_py
from adapters.discord.events import Events
from adapters.discord.missed import mark_keys
from adapters.discord.outgoing import WebhookMessages
from adapters.discord.read_backs import ChannelReadBacks
from adapters.discord.shards import ShardPlan, plan_shards
from adapters.discord.standby import ORPHAN_CHECKS, RETRY_SECONDS, GatewayHold, catch_up
from adapters.discord.support_client import (
    INTENT_MISSING,
    TOKEN_REJECTED,
    ShardedSupportClient,
    SupportClient,
)
from adapters.discord.translate import PLATFORM, MessageTranslator
from adapters.inflight import INDICATOR_AFTER_S, InFlight
from bot.config import Settings
from bot.errors import FatalAdapterError, PlatformError
from bot.ports import Core, Lease
from bot.types import InboundMessage

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)


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
        adopt_after: int = ORPHAN_CHECKS,
        typing_after: float = INDICATOR_AFTER_S,
    ) -> None:
        self.core = bot
        self.typing_after = typing_after
        self.settings = settings
        self.guild_ready_timeout = guild_ready_timeout
        self.drain_timeout = drain_timeout
        self.webhooks = WebhookMessages()
        self.client: SupportClient | None = None
        self._channel: DiscordChannel | None = None
        self._events: Events | None = None
        self._ready = asyncio.Event()
        self._inflight = InFlight()
        self.read_backs = ChannelReadBacks(bot, self._inflight)
        # the shards and their sets (resolved at each start: "auto" asks Discord), and the
        # set this process serves
        self.plan: ShardPlan | None = None
        self.shards: tuple[int, ...] = ()
        # clients on sets adopted besides this process's own (`GatewayHold.adopt`)
        self.adopted: list[SupportClient] = []
        self.left_over: list[InboundMessage] = []  # kept by a closed client (holes.py)
        # workers sharing a PostgreSQL state take turns on the gateway; alone, always connect
        self.hold = (
            GatewayHold(lease, retry=standby_retry, adopt_after=adopt_after) if lease is not None else None
        )

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
        api = api_base(self.settings.secrets.discord_api_url)
        plan = await plan_shards(
            self.settings.discord, api, token.get_secret_value(), rejected=TOKEN_REJECTED
        )
        self.plan = plan
        if self.hold is None:
            await self._serve(token.get_secret_value(), plan, tuple(range(plan.count)))  # no sets alone
            return
        try:
            held = await self.hold.acquire(plan.lease_names)
            if held is None:
                return  # closed while standing by
            await self._serve(token.get_secret_value(), plan, plan.sets[held])
        finally:
            await self.hold.release()  # also closes a standby's session

    async def _serve(self, token: str, plan: ShardPlan, shards: tuple[int, ...]) -> None:
        """Serve `shards` of `plan`: one client on them all."""
        secrets = self.settings.secrets
        restore = point_discord_py(secrets.discord_api_url, secrets.discord_gateway_url)
        self.shards = shards
        client = (
            SupportClient(self, guild_ready_timeout=self.guild_ready_timeout)
            if plan.count == 1
            else ShardedSupportClient(
                self,
                guild_ready_timeout=self.guild_ready_timeout,
                shard_ids=list(self.shards),
                shard_count=plan.count,
            )
        )
        self.client = client
        self._channel = DiscordChannel(client, self.webhooks)
        self._events = Events(
            self.core, self.settings, client, self._channel, self._inflight, typing_after=self.typing_after
        )
        client.events = self._events
        self._ready.clear()
        try:
            async with client:
                await self._login(client, token)
                await self._discover_gateway(client)
                if self.hold is None:
                    await self._connect(client)
                else:
                    await self._connect_while_held(client, self.hold, plan, token)
        finally:
            # closed: nothing may post through it (the clock's replays and reminders look here)
            self._channel = self._events = None
            restore()

    async def _adopt_orphans(self, token: str, plan: ShardPlan, hold: GatewayHold) -> None:
        """Also serve each set left without a holder (`GatewayHold.adopt`), a client each.
        One of them failing ends this, and so the whole gateway: the supervisor starts over."""
        held = {plan.sets.index(self.shards)}
        async with asyncio.TaskGroup() as group:
            while (index := await hold.adopt(plan.lease_names, held)) is not None:
                held.add(index)
                group.create_task(self._serve_adopted(token, plan, plan.sets[index]))
            await asyncio.Event().wait()  # closing: the adopted sets are served until cancelled

    async def _serve_adopted(self, token: str, plan: ShardPlan, shards: tuple[int, ...]) -> None:
        client = ShardedSupportClient(
            self, guild_ready_timeout=self.guild_ready_timeout, shard_ids=list(shards), shard_count=plan.count
        )
        channel = DiscordChannel(client, self.webhooks)
        client.events = Events(
            self.core, self.settings, client, channel, self._inflight, typing_after=self.typing_after
        )
        self.adopted.append(client)
        try:
            async with client:
                await self._login(client, token)
                await self._connect(client)
        finally:
            self.adopted.remove(client)

    async def _login(self, client: SupportClient, token: str) -> None:
        try:
            await client.login(token)
        except discord.LoginFailure:
            raise FatalAdapterError(TOKEN_REJECTED) from None
        assert client.user is not None
        client.handler.translator = MessageTranslator(self.settings, client.user.id)
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

    async def _connect_while_held(
        self, client: SupportClient, hold: GatewayHold, plan: ShardPlan, token: str
    ) -> None:
        """Serve while the lease holds, adopting sets no one holds. Losing it (its database
        session ended) means another worker may be on the gateway already: finish what is in
        flight and disconnect. A failing adopted set ends all, as a failing own set does."""
        serving = asyncio.create_task(self._connect(client), name="supportbot-discord-gateway")
        watching = asyncio.create_task(hold.lost(), name="supportbot-discord-lease")
        adopting = asyncio.create_task(
            self._adopt_orphans(token, plan, hold), name="supportbot-discord-adopt"
        )

        async def stop(*tasks: asyncio.Task[None]) -> None:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            done, _ = await asyncio.wait({serving, watching, adopting}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            await stop(serving, adopting)
            raise
        finally:
            await stop(watching)
        if serving.done():
            await stop(adopting)
            await serving  # closed, or failed: as without a lease
            return
        if watching not in done:  # an adopted set failed (that task never ends otherwise)
            log.error("serving an adopted set of shards failed; disconnecting", extra={"platform": PLATFORM})
            await self.drain(self.drain_timeout)
            await client.close()
            await asyncio.gather(serving, return_exceptions=True)
            await self._give_back()
            raise PlatformError("serving an adopted set of shards failed") from adopting.exception()
        log.error("lost the Discord gateway lease; disconnecting", extra={"platform": PLATFORM})
        # the adopted sets' clients stay open until what they are answering is out, as this one does
        await self.drain(self.drain_timeout)
        await stop(adopting)
        await client.close()
        await asyncio.gather(serving, return_exceptions=True)
        await self._give_back()
        raise PlatformError("lost the Discord gateway lease (its database session ended)")

    async def _give_back(self) -> None:
        """What a drain cut short (or left for a replay) goes to the worker that holds the
        gateway now: this one, standing by, has no client to answer it with, and while it
        beats nobody would take it as a dead worker's."""
        try:
            given = await self.core.give_back(PLATFORM)
        except Exception:  # the store is what failed: the events wait for this worker's next turn
            log.warning(
                "could not hand unfinished messages over", exc_info=True, extra={"platform": PLATFORM}
            )
            return
        if given:
            log.info("unfinished messages handed over: %d", given, extra={"platform": PLATFORM})

    async def setup(self, client: SupportClient) -> None:
        """After login, before the gateway: buttons and slash commands (synced once, by the
        client on this process's own shards)."""
        # before the gateway: nothing this client hears is recorded or noted yet
        client.marks.start(await client.heard.start(client.handler, self.plan, self._shards_of(client)))
        client.add_dynamic_items(SupportButton)
        support, admin = build_command_groups(client.handler)
        client.tree.add_command(support)
        client.tree.add_command(admin)
        if client is self.client:
            await sync_commands(client.tree, self.settings.discord.command_guilds)

    async def on_ready(self, client: SupportClient) -> None:
        """READY: a fresh session on all of `client`'s shards, the first or one after a RESUME
        Discord refused. Either way nothing said before it will be sent again: replay and
        catch up. A sharded client's later READYs are its shards' own (`on_shard_ready`)."""
        again, client.readied = client.readied, True
        if client is self.client:
            log.info(
                "connected to Discord",
                extra={"platform": PLATFORM, "guilds": len(client.guilds), "shards": list(self.shards)},
            )
        if not (again and isinstance(client, ShardedSupportClient)):
            await self._after_identify(client, self._shards_of(client), again=again)
        if client is self.client:
            self._ready.set()

    async def on_shard_ready(self, client: SupportClient, shard_id: int) -> None:
        """One shard's fresh session after the client's first READY (at the start every shard
        is ready before the client, which catches up on them all)."""
        if client.readied:
            await self._after_identify(client, (shard_id,), again=True)

    def _shards_of(self, client: SupportClient) -> tuple[int, ...]:
        return self.shards if client is self.client else tuple(getattr(client, "shard_ids", None) or ())

    async def _after_identify(self, client: SupportClient, shards: tuple[int, ...], *, again: bool) -> None:
        """Replay and catch up on `shards` (`again`: not the client's first session). In flight
        like any event, so close() waits for it; asyncio.wait, not await: one cancelled by a
        drain timeout must not cancel its handler."""
        task = self._replay_and_catch_up(client, shards, again=again)
        await asyncio.wait({self._inflight.start(task, name="supportbot-discord-catch-up")})

    async def _replay_and_catch_up(
        self, client: SupportClient, shards: tuple[int, ...], *, again: bool
    ) -> None:
        if client is self.client:  # the replay is the platform's, posted through this process's own
            try:
                replayed = await self.core.replay_pending(PLATFORM, self.channel)
                if replayed:
                    log.info("replayed %d unfinished message(s)", replayed, extra={"platform": PLATFORM})
            except Exception:
                log.exception("replaying unfinished messages failed", extra={"platform": PLATFORM})
        # a fresh session hears nothing said before it, whoever's session was cut short (this
        # process's, a dead or stopped one's): read back the conversations and the question
        # channels side by side; what the session hears is noted once they are read
        keys = mark_keys(client, shards)
        marks = client.marks.of(keys)
        client.marks.hearing(keys)
        await asyncio.gather(
            self._catching_up(catch_up(self.core, client.handler, client, plan=self.plan, shards=shards)),
            self.read_backs.read(client, marks, self.plan, shards),
        )

    async def _catching_up(self, reading: Awaitable[object]) -> None:
        try:
            await reading
        except Exception:
            log.exception("catching up on what was missed failed", extra={"platform": PLATFORM})

    async def on_disconnect(self, client: SupportClient, shard: int | None) -> None:
        """A session was lost: note the newest message heard on its shard with nothing unread
        before it, where a fresh session that follows (Discord may refuse to resume) reads
        back from."""
        if not client.marks.lost(shard):
            return  # lost already: its older mark stands
        client.marks.note(shard, client.heard.mark(shard))

    async def on_resumed(self, client: SupportClient, shard: int | None) -> None:
        client.marks.hearing((shard,))

    async def close(self) -> None:
        """Let in-flight answers finish (up to drain_timeout), then disconnect."""
        self.read_backs.cancel()
        if self.hold is not None:
            self.hold.stop()
        for client in (self.client, *self.adopted):
            if client is not None:  # what the store refused: one last try, drained below
                client.heard.holes.stop(last_try=True)
        await self.drain(self.drain_timeout)
        for client in [self.client, *self.adopted]:
            if client is not None and not client.is_closed():
                await client.close()
            if client is not None:
                client.skipped_dispatches.flush()  # the count of held-back lines, not lost

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
    typing_after: float = INDICATOR_AFTER_S,
) -> DiscordAdapter:
    """The entry point `bot.supervisor` loads; `host`/`port` (for HTTP adapters) are ignored.
    `lease` and `standby_retry`: workers sharing a PostgreSQL state; `typing_after`: seconds an
    answer may take before the typing indicator shows."""
    del host, port
    return DiscordAdapter(
        bot,
        settings,
        guild_ready_timeout=guild_ready_timeout,
        drain_timeout=drain_timeout,
        lease=lease,
        standby_retry=standby_retry,
        typing_after=typing_after,
    )
