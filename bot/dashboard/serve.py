"""What `supportbot dashboard` does: print a one-time sign-in link, or serve the dashboard
alone over the data directory or database the settings name.

Standalone there are no chat connections, so tickets are read-only (see `Dashboard`);
the bot's own HTTP port serving it with its adapters' channels is the way to act on them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from functools import partial

from aiohttp import web

from bot.answering.pipeline import AnswerPipeline
from bot.clock import SystemClock
from bot.commands.registry import CommandHost
from bot.config import Settings
from bot.dashboard.app import build_app
from bot.dashboard.auth import LINK_TTL, hash_token, new_link_token
from bot.dashboard.context import PREFIX, Dashboard
from bot.errors import SupportBotError
from bot.escalation.tickets import Escalations
from bot.ports import Channel, Clock
from bot.store import AsyncStore, StateStore

log = logging.getLogger(__name__)


def issue_link(store: StateStore, *, platform: str, user_id: str, base_url: str, clock: Clock) -> str:
    """A one-time sign-in URL for `user_id`, valid for LINK_TTL. Only the token's hash is kept."""
    token, digest = new_link_token()
    assert digest == hash_token(token)
    now = clock.now()
    store.issue_dashboard_link(digest, platform, user_id, now + LINK_TTL, now)
    return f"{base_url.rstrip('/')}{PREFIX}/signin?token={token}"


def dashboard_for(
    settings: Settings,
    store: AsyncStore,
    clock: Clock,
    channels: Mapping[str, Channel] | None = None,
    escalations: Escalations | None = None,
    host: CommandHost | None = None,
    reader: Callable[[], AnswerPipeline] | None = None,
) -> Dashboard:
    return Dashboard(
        settings=settings,
        store=store,
        clock=clock,
        escalations=escalations or Escalations(settings=settings, store=store, clock=clock),
        channels=channels,
        host=host,
        reader=reader,
    )


async def serve_beside(dashboard: Dashboard, host: str, port: int) -> None:
    """Serve `dashboard` until cancelled: what `supportbot run` does with `[dashboard] enabled`."""
    runner = web.AppRunner(await build_app(dashboard, warm=True))
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("dashboard on http://%s:%d%s/", host, port, PREFIX)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def serve(
    settings: Settings,
    host: str,
    port: int,
    reader: Callable[[AsyncStore, Clock], AnswerPipeline] | None = None,
) -> None:
    """Serve the dashboard alone until cancelled; `reader` opens the knowledge index for
    reading (bot/knowledge_reader.py, which this package does not import: it needs bot/app.py's
    wiring, which sits above the dashboard)."""
    store = AsyncStore(StateStore.open(settings), reports=lambda: StateStore.open(settings))
    clock = SystemClock()
    opener = partial(reader, store, clock) if reader is not None else None
    runner = web.AppRunner(await build_app(dashboard_for(settings, store, clock, reader=opener), warm=True))
    await runner.setup()
    try:
        await _listen(runner, host, port)
        log.info("dashboard on http://%s:%d%s/", host, port, PREFIX)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        store.close()


async def _listen(runner: web.AppRunner, host: str, port: int) -> None:
    """Listen on `host`:`port`, or say which port could not be had and how to pick another:
    a port already in use (a second dashboard, the bot's own) is the first thing to meet."""
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        # asyncio's strerror repeats the address; the errno's own words are enough beside it
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise SupportBotError(
            f"cannot listen on {host}:{port} ({reason}); choose another port with --port N"
        ) from None
