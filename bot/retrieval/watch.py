"""A running bot's index kept in step with its folder: edited documents are answered from
within a second, not a minute.

The operating system reports what changed (inotify on Linux, FSEvents on macOS, through
watchfiles), and only those files are looked at and re-read (`KnowledgeBase.sync(only=...)`:
about 10 ms for one file in a 10,000-file folder, where walking the folder costs 50-80 ms).
A walk of the whole folder every `[knowledge] watch_seconds` stays as the safety net: a
watcher can miss changes (a network file system, an overflowing event queue), the walk
cannot. Without a watcher (none available, or it fails), the walk alone keeps the index
current, as it did before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

from bot.retrieval.audience import AUDIENCE_FILES
from bot.retrieval.service import KnowledgeService

log = logging.getLogger(__name__)

DEBOUNCE_MS = 200  # an editor's save is several events: they are taken together


async def keep_in_step(
    knowledge: KnowledgeService,
    every: float,
    *,
    ignore: Iterable[Path] = (),
    stop: asyncio.Event | None = None,
) -> None:
    """Until cancelled (or `stop` is set): sync what the watcher reports as it happens, and
    walk the whole folder every `every` seconds. Paths under `ignore` (the bot's own data
    directory, when it lies inside the folder) are never a reason to sync."""
    poll = asyncio.create_task(_walk_every(knowledge, every), name="supportbot-knowledge-walk")
    try:
        await _watch(knowledge, [p.resolve() for p in ignore], stop)
    except Exception as exc:  # the walk still keeps the index current
        log.warning(
            "cannot watch the knowledge folder for changes (%s); re-reading it every %g s instead",
            type(exc).__name__,
            every,
        )
        if stop is None:
            await poll
        else:
            await stop.wait()
    finally:
        poll.cancel()


async def _watch(knowledge: KnowledgeService, ignore: list[Path], stop: asyncio.Event | None) -> None:
    from watchfiles import awatch  # only a running bot watches: `supportbot ask` never imports it

    root = knowledge.folder.resolve()
    async for changes in awatch(root, debounce=DEBOUNCE_MS, recursive=True, stop_event=stop):
        relatives = sorted(
            {r for _, path in changes if (r := relative(root, Path(path), ignore)) is not None}
        )
        if not relatives:
            continue
        try:
            report = await knowledge.reindex(only=relatives)
        except Exception:
            log.exception("re-reading changed documents failed; the next walk of the folder retries")
            continue
        if report.changed:
            log.info("knowledge folder changed: %s", report.describe().splitlines()[0])


def relative(root: Path, path: Path, ignore: Iterable[Path] = ()) -> str | None:
    """`path` relative to the folder, as the index names files; None for what is never
    indexed (hidden files and folders, the bot's own data) or lies outside the folder.
    A folder's `.audience` file is hidden but counts: it says who may read the folder, and
    a change to it must reach the index now, not at the next walk of the whole folder."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return None
    if not parts or _hidden(parts[-1]) or any(part.startswith(".") for part in parts[:-1]):
        return None
    if any(path.is_relative_to(place) for place in ignore):
        return None
    return "/".join(parts)


def _hidden(name: str) -> bool:
    return name.startswith(".") and name not in AUDIENCE_FILES


async def _walk_every(knowledge: KnowledgeService, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            report = await knowledge.reindex()
            if report.changed:
                log.info("knowledge folder changed: %s", report.describe().splitlines()[0])
        except Exception:
            log.exception("re-reading the knowledge folder failed; trying again later")
