"""The indexing progress bar the commands show on a terminal: files read of files to read,
files per second and the time left, and the file being read.

rich is imported only when a bar is shown: `supportbot ask` on an index in step with its
folder never needs it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bot.cli_options import fail

if TYPE_CHECKING:
    from rich.console import Console

    from bot.retrieval.knowledge_report import Progress


STOPPED = "indexing stopped (Ctrl-C) before it finished"


@contextmanager
def progress_bar(
    enabled: bool = True, *, console: Console | None = None, clock: Callable[[], float] | None = None
) -> Iterator[Progress | None]:
    """A progress callback drawing the bar on `console` (stderr when it is a terminal);
    None when there is nothing to draw on. `clock` (seconds) times the rate and the ETA.
    Every command that indexes does it inside this bar, so a Ctrl-C while it runs ends the
    command here, with one line saying so and exit code 130, once the bar is cleared."""
    try:
        with _bar(enabled, console, clock) as update:
            yield update
    except KeyboardInterrupt:
        fail(STOPPED, code=130)


@contextmanager
def _bar(
    enabled: bool, console: Console | None, clock: Callable[[], float] | None
) -> Iterator[Progress | None]:
    if not enabled or (console is None and not sys.stderr.isatty()):
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class FilesPerSecond(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{task.speed:,.0f} files/s" if task.speed else "", style="progress.data.speed")

    bar = Progress(
        TextColumn("indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        FilesPerSecond(),
        TimeRemainingColumn(),
        TextColumn("{task.description}"),
        transient=True,
        console=console,
        get_time=clock,  # None: rich's own clock
    )
    task = bar.add_task("", total=None)
    with bar:

        def update(done: int, total: int, path: str) -> None:
            bar.update(task, completed=done, total=total, description=path[-40:])

        yield update
