"""The supervisor of the platform adapters, and what runs beside them in `supportbot run`.

This module owns running the bot once it is built (bot/app.py builds it): which adapters the
environment configures and loading each by name (imported only when enabled, so the core and
the CLI's offline commands never load a platform SDK), keeping them running (a crash is
restarted with back-off, a fatal error ends the run), and the work beside them: the SLA clock
and the worker's heartbeat, the folder watcher, and the dashboard (on the Slack adapter's HTTP
port when it has one, else on its own).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.errors import FatalAdapterError
from bot.store.urls import is_database_url

# for annotations only: what is used at run time is imported where it is used
if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.cluster import Presence
    from bot.core import SupportBot
    from bot.dashboard.context import Dashboard
    from bot.ports import Adapter, Channel

log = logging.getLogger(__name__)


TICK_SECONDS = 30.0


def tick_seconds(settings: Settings) -> float:
    """How often the clock beats and replays: every TICK_SECONDS, or three times per worker
    lease when one is set shorter (bot/store/inbox.py: three missed beats mean a dead worker,
    so a live one must beat at least that often, and a dead one's work is taken within it)."""
    return min(TICK_SECONDS, settings.worker_lease_seconds / 3)


def enabled_adapters(settings: Settings) -> list[str]:
    """Which platforms the environment configures, in the order they start."""
    names = []
    secrets = settings.secrets
    if (
        secrets.slack_bot_token and (secrets.slack_app_token or secrets.slack_signing_secret)
    ) or settings.slack_oauth:
        names.append("slack")
    if secrets.discord_token:
        names.append("discord")
    return names


def load_adapter(name: str, bot: SupportBot, settings: Settings, **options: Any) -> Adapter:
    module = importlib.import_module(f"adapters.{name}")
    if name == "slack" and settings.slack_oauth:
        options = {**options, "store": bot.store}  # workspaces' installs live in the state database
    if name == "discord" and is_database_url(settings.state_target):
        from bot.store.leases import GatewayLease

        # workers sharing the state take turns on the gateway (adapters/discord/standby.py)
        options = {**options, "lease": GatewayLease(str(settings.state_target))}
    adapter: Adapter = module.build_adapter(bot, settings, **options)
    return adapter


async def run_adapters(runtime: Runtime, names: list[str], **options: Any) -> None:
    """Run the adapters until cancelled. One adapter failing does not stop the others;
    a crash is logged with its traceback and the adapter is restarted with back-off."""
    adapters = [load_adapter(name, runtime.bot, runtime.settings, **options) for name in names]
    runtime.bot.knowledge.start_embedding()  # fill the vector cache while the adapters connect; no-op without
    from bot import cluster

    # a worker among those sharing the state (bot/cluster.py): listed while it beats
    presence = await cluster.join(
        store=runtime.store,
        clock=runtime.bot.clock,
        platforms=names,
        lease=timedelta(seconds=runtime.settings.worker_lease_seconds),
        deliveries=runtime.bot.deliveries,
    )
    background = [
        asyncio.create_task(
            _run_clock(runtime.bot, adapters, presence, every=tick_seconds(runtime.settings)),
            name="supportbot-sla-clock",
        )
    ]
    dashboard = _place_dashboard(runtime, adapters) if runtime.settings.dashboard.enabled else None
    if dashboard is not None:
        background.append(asyncio.create_task(dashboard, name="supportbot-dashboard"))
    if runtime.settings.knowledge.watch_seconds:
        background.append(
            asyncio.create_task(
                _watch_knowledge(runtime.bot, runtime.settings.knowledge.watch_seconds),
                name="supportbot-watch",
            )
        )
    try:
        await asyncio.gather(*(_supervise(adapter) for adapter in adapters))
    finally:
        for task in background:
            task.cancel()
        for adapter in adapters:
            try:
                await adapter.close()
            except Exception:
                log.exception("error while closing the %s adapter", adapter.name)
        # replays still running are stopped before the worker leaves the list: once it has
        # left, a peer may take their events at once, and both would answer
        await runtime.bot.deliveries.aclose()
        try:
            await presence.leave()
        except Exception:  # a boundary: a row left behind only ages out
            log.exception("could not remove this worker's row")


class _LiveChannels(Mapping[str, "Channel"]):  # quoted: ports are imported for type checking only
    """The adapters' channels as they are at each look: one connects or reconnects while the
    dashboard runs, and a platform not connected yet is simply not there."""

    def __init__(self, adapters: list[Adapter]) -> None:
        self.adapters = adapters

    def __getitem__(self, platform: str) -> Channel:
        return _connected_channels(self.adapters)[platform]

    def __iter__(self) -> Iterator[str]:
        return iter(_connected_channels(self.adapters))

    def __len__(self) -> int:
        return len(_connected_channels(self.adapters))


def _place_dashboard(runtime: Runtime, adapters: list[Adapter]) -> Coroutine[Any, Any, None] | None:
    """`[dashboard] enabled`: the dashboard beside the adapters, acting through their channels
    and the core's own escalations (one SLA clock, one set of ticket locks). On the Slack
    adapter's HTTP port when it has one (one address for both): handed to it here, before it
    starts; else the coroutine that serves it on `[dashboard] port`."""
    from bot.dashboard.app import build_app
    from bot.dashboard.serve import dashboard_for  # aiohttp and jinja2: only when on
    from bot.ports import SharesHttp

    dashboard = dashboard_for(
        runtime.settings,
        runtime.store,
        runtime.bot.clock,
        channels=_LiveChannels(adapters),
        escalations=runtime.bot.escalations,
        host=runtime.bot,
    )
    for adapter in adapters:
        if isinstance(adapter, SharesHttp) and adapter.share_http(partial(build_app, dashboard, warm=True)):
            log.info("dashboard under /admin on the %s adapter's HTTP port", adapter.name)
            if not runtime.settings.dashboard.public_url:
                log.warning(
                    "the dashboard shares the %s HTTP port: set [dashboard] public_url to the address "
                    "people open it at, or sign-in links and redirects point at [dashboard] host:port",
                    adapter.name,
                )
            return None
    return _serve_dashboard(dashboard, runtime.settings)


async def _serve_dashboard(dashboard: Dashboard, settings: Settings) -> None:
    from bot.dashboard.serve import serve_beside

    try:
        await serve_beside(dashboard, settings.dashboard.host, settings.dashboard.port)
    except OSError as exc:  # the port is taken: the bot goes on answering without it
        log.error(
            "the dashboard could not open %s:%d: %s", settings.dashboard.host, settings.dashboard.port, exc
        )


def _connected_channels(adapters: list[Adapter]) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    for adapter in adapters:
        try:
            channels[adapter.name] = adapter.channel
        except RuntimeError:
            continue  # not connected yet: its reminders wait for the next tick
    return channels


async def _run_clock(
    bot: SupportBot, adapters: list[Adapter], presence: Presence | None = None, *, every: float | None = None
) -> None:
    """Beat, and fire due SLA reminders, every `every` seconds (TICK_SECONDS by default); a
    failure is logged and retried next time. The heartbeat has a loop of its own, started
    first (a worker still connecting is alive too): a tick that takes long (reminders posted
    to a slow or rate-limited platform) must not make a live worker look dead, or its peers
    would take over the questions it is answering."""
    period = TICK_SECONDS if every is None else every
    beating = asyncio.ensure_future(_beat(presence, period)) if presence is not None else None
    try:
        while True:
            try:
                channels = _connected_channels(adapters)
                if channels:
                    await bot.tick(channels)
            except Exception:
                log.exception("the SLA clock failed; retrying at the next tick")
            await asyncio.sleep(period)
    finally:
        if beating is not None:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)


async def _beat(presence: Presence, every: float) -> None:
    """The worker's heartbeat, every `every` seconds; a failure is logged and retried."""
    while True:
        try:
            await presence.beat()
        except Exception:
            log.exception("the heartbeat failed; retrying at the next beat")
        await asyncio.sleep(every)


async def _watch_knowledge(bot: SupportBot, every: float) -> None:
    """Keep a running bot in step with its folder: edited documents are answered from within
    a second (a watcher), and the folder is walked every `every` seconds as the safety net."""
    from bot.retrieval.watch import keep_in_step

    await keep_in_step(bot.knowledge, every, ignore=[bot.settings.data_dir])


RESTART_DELAY = 1.0  # seconds before restarting a crashed adapter the first time
RESTART_DELAY_MAX = 60.0  # the back-off doubles up to this
HEALTHY_SECONDS = 300.0  # a run this long was healthy: the next crash is a new story, not a loop


async def _supervise(
    adapter: Adapter,
    *,
    initial: float = RESTART_DELAY,
    maximum: float = RESTART_DELAY_MAX,
    healthy_after: float = HEALTHY_SECONDS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Run `adapter` until it returns, restarting it after a crash with a doubling delay. The
    delay starts again from `initial` after a run of `healthy_after` seconds or more, so a bot
    that lost its connection once a day does not wait a minute per reconnect for ever after.
    The timings and the clock are parameters so tests can drive them without real waiting."""
    delay = initial
    while True:
        started = monotonic()
        try:
            await adapter.run()
            return
        except asyncio.CancelledError:
            raise
        except FatalAdapterError:
            raise
        except Exception:
            if monotonic() - started >= healthy_after:
                delay = initial
            log.exception("the %s adapter crashed; restarting in %.0f s", adapter.name, delay)
            await sleep(delay)
            delay = min(delay * 2, maximum)
