"""Wiring: from Settings to a running bot, and the supervisor of the platform adapters.

`build_runtime` opens the state store and the knowledge base, syncs the folder, picks the
answerer (and, with `[llm] embeddings`, the embedder) and builds the SupportBot. `build_asking`
builds only what `supportbot ask` uses (the index and the answer pipeline: no state store, no
SupportBot, none of their imports), so a question from the terminal starts quickly. Both are
synchronous and may run inside an event loop, so neither calls the embeddings endpoint:
the bot fills the vector cache on its first search, or in the background from
`run_adapters` (bot/retrieval/embeddings.py). `run_adapters` starts every adapter the environment
configures and keeps them running; adapters are imported only when enabled, so the core
and the CLI's offline commands never load a platform SDK.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.answering.extractive import ExtractiveAnswerer
from bot.answering.pipeline import AnswerPipeline
from bot.clock import SystemClock
from bot.config import Settings
from bot.errors import FatalAdapterError
from bot.retrieval.indexes import open_folder_knowledge
from bot.retrieval.knowledge import KnowledgeBase, Progress, SyncReport
from bot.retrieval.service import KnowledgeService
from bot.store.urls import is_database_url

# the core and the state store are imported where a runtime is built: `supportbot ask`
# needs neither, and together they are most of a cold start
if TYPE_CHECKING:
    from bot.cluster import Presence
    from bot.core import SupportBot
    from bot.dashboard.context import Dashboard
    from bot.ports import Adapter, Answerer, Channel, Clock, Embedder
    from bot.store import AsyncStore, StateStore

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """A running bot and what it stands on: settings, state store, index, core."""

    settings: Settings
    state: StateStore
    store: AsyncStore
    knowledge: KnowledgeBase
    bot: SupportBot
    last_sync: SyncReport
    closed: bool = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.bot.close()
        self.store.close()
        self.knowledge.close()


def index_root(settings: Settings) -> Path:
    """Where the search indexes live: one per knowledge folder (bot/retrieval/indexes.py)."""
    return settings.data_dir / "index"


def open_knowledge(settings: Settings, exclude: frozenset[str] = frozenset()) -> KnowledgeBase:
    """The knowledge folder's own index under the data dir, so switching --knowledge between
    folders and back costs an incremental sync instead of a rebuild each time."""
    return open_folder_knowledge(
        index_root(settings),
        settings.knowledge_dir,
        max_file_bytes=int(settings.knowledge.max_file_mb * 1024 * 1024),
        exclude=exclude,
        embeddings=settings.embeddings_enabled,
        exclude_globs=settings.knowledge.exclude,
        include_root=settings.knowledge.include_root,
        base_url=settings.knowledge.base_url,
        follow_symlinks=settings.knowledge.follow_symlinks,
    )


def build_embedder(settings: Settings) -> Embedder | None:
    """The embedder for hybrid retrieval, or None (the default: BM25 alone, no openai import)."""
    if not settings.embeddings_enabled:
        return None
    from bot.answering.llm import build_embedder as build  # imports openai: only when enabled

    return build(settings)


def build_answerer(settings: Settings) -> tuple[Answerer, Answerer | None]:
    """The answerer to use and the fallback for when it fails."""
    extractive = ExtractiveAnswerer(
        threshold=settings.answer.confidence_threshold, max_sources=settings.answer.max_sources
    )
    if settings.answer.mode == "extractive" or not settings.llm_configured:
        return extractive, None
    from bot.answering.llm import build_llm_answerer  # imports openai: only when configured

    return build_llm_answerer(settings), extractive


def open_synced_knowledge(
    settings: Settings, progress: Progress | None = None
) -> tuple[KnowledgeBase, SyncReport]:
    """The folder's index brought in step with the folder (closed again if that fails)."""
    knowledge = open_knowledge(settings)
    try:
        return knowledge, knowledge.sync(progress)
    except BaseException:
        knowledge.close()
        raise


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    answerer: Answerer | None = None,
    progress: Progress | None = None,
) -> Runtime:
    from bot.core import SupportBot
    from bot.store import AsyncStore, StateStore

    state = StateStore.open(settings)
    try:
        knowledge, report = open_synced_knowledge(settings, progress)
    except BaseException:
        state.close()
        raise
    chosen, fallback = (answerer, None) if answerer is not None else build_answerer(settings)
    # reports (the dashboard's overview, /support stats) read on a second connection of their own
    store = AsyncStore(state, reports=lambda: StateStore.open(settings))
    bot = SupportBot(
        settings=settings,
        store=store,
        knowledge=knowledge,
        answerer=chosen,
        fallback=fallback,
        clock=clock or SystemClock(),
        embedder=build_embedder(settings),
    )
    return Runtime(
        settings=settings, state=state, store=store, knowledge=knowledge, bot=bot, last_sync=report
    )


@dataclass
class Asking:
    """What `supportbot ask` answers with: the folder's index behind the knowledge service, and
    the answer pipeline every platform's answers go through. No state store: a question asked
    in the terminal is not a conversation, so nothing is recorded (and no model answers are
    counted against the hourly limits, which are for chat)."""

    knowledge: KnowledgeBase
    service: KnowledgeService
    answers: AnswerPipeline
    last_sync: SyncReport
    closed: bool = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.service.close()
        self.knowledge.close()

    async def aclose(self) -> None:
        """Release the answerers' and the embedder's connections, in the loop that opened them."""
        await self.answers.aclose()
        await self.service.aclose()


def build_asking(settings: Settings, *, progress: Progress | None = None) -> Asking:
    """The index, in step with the folder, and the answer pipeline, wired as `build_runtime`
    wires them into the SupportBot (the same answerer, fallback, embedder and timeouts)."""
    knowledge, report = open_synced_knowledge(settings, progress)
    answerer, fallback = build_answerer(settings)
    service = KnowledgeService(
        knowledge, embedder=build_embedder(settings), model_timeout=settings.llm.timeout_seconds
    )
    answers = AnswerPipeline(
        settings=settings,
        store=None,
        clock=SystemClock(),
        knowledge=service,
        answerer=answerer,
        fallback=fallback,
    )
    return Asking(knowledge=knowledge, service=service, answers=answers, last_sync=report)


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
    from bot.cluster import Presence

    # a worker among those sharing the state (bot/cluster.py): listed while it beats
    presence = Presence(store=runtime.store, clock=runtime.bot.clock, platforms=names)
    await presence.join()
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
