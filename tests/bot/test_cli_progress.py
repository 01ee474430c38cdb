"""The indexing progress bar (bot/cli_progress.py): files read of files to read, the rate in
files per second and the time left, drawn on a terminal and nowhere else."""

from __future__ import annotations

import io
import re

from rich.console import Console

from bot.cli_progress import progress_bar


def test_the_bar_shows_files_per_second_and_the_time_left() -> None:
    out = io.StringIO()
    now = [100.0]
    with progress_bar(
        console=Console(file=out, force_terminal=True, width=160), clock=lambda: now[0]
    ) as update:
        assert update is not None
        for done in range(1, 51):
            now[0] += 0.02  # 50 files a second
            update(done, 200, f"docs/guide/page-{done}.md")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "50/200" in text
    assert "50 files/s" in text
    assert "0:00:03" in text  # 150 files left at 50 a second
    assert "page-50.md" in text


def test_nothing_is_drawn_when_disabled() -> None:
    with progress_bar(False) as update:
        assert update is None
