"""Running a long-lived client (a discord.py Client, an adapter) for the length of a test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any


@asynccontextmanager
async def running_until_ready(
    run: Coroutine[Any, Any, Any], ready: Coroutine[Any, Any, Any], close: Callable[[], Awaitable[Any]]
) -> AsyncIterator[None]:
    """Start `run`, wait for `ready` (or surface the error `run` stopped with), and always
    close and await `run` afterwards, so no task outlives its test."""
    running = asyncio.create_task(run)
    readied = asyncio.create_task(ready)
    try:
        done, _ = await asyncio.wait({running, readied}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if running in done:
            running.result()  # surfaces the startup error
        assert readied in done, "never became ready"
        yield
    finally:
        readied.cancel()
        await close()
        await asyncio.wait_for(asyncio.gather(running, return_exceptions=True), 10)
