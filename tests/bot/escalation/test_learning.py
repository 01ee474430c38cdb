"""An approved draft becomes a Markdown file of its own (bot/escalation/learning.py), even
when approvals run at once in several workers sharing one knowledge folder: no approval ever
writes into a file it did not create, so none loses another's page or deletes it."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.escalation.learning import write_entry
from bot.types import DocVisibility, Draft

TODAY = date(2026, 12, 7)
TITLE = "How do I reset 2FA?"
FIRST = "learned/2026-12-07-how-do-i-reset-2fa.md"


def _draft(number: int) -> Draft:
    return Draft(
        id=number,
        ticket_id=100 + number,
        title=TITLE,
        question=f"question {number}",
        answer=f"answer of draft {number}",
        visibility=DocVisibility.PUBLIC,
        status="pending",
    )


@pytest.fixture
def eager_switching() -> Iterator[None]:
    """Threads switch as often as the interpreter can, so approvals really overlap."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_a_name_taken_by_a_link_is_not_written_through(tmp_path: Path) -> None:
    """A link left under the name (to nowhere yet) is a name taken, not a way to write elsewhere."""
    folder = tmp_path / "kb"
    (folder / "learned").mkdir(parents=True)
    (folder / FIRST).symlink_to(tmp_path / "elsewhere.md")
    assert write_entry(folder, _draft(1), TODAY) == FIRST.replace(".md", "-2.md")
    assert not (tmp_path / "elsewhere.md").exists()


def _approve_at_once(folder: Path, drafts: int) -> list[str]:
    """The paths `drafts` same-titled approvals, started together on threads, wrote to."""
    start = threading.Barrier(drafts)
    paths: list[str] = []

    def approve(number: int) -> None:
        start.wait()
        paths.append(write_entry(folder, _draft(number), TODAY))

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(drafts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return paths


@pytest.mark.usefixtures("eager_switching")
def test_approvals_at_the_same_moment_never_share_a_file(tmp_path: Path) -> None:
    """Each round, four approvals of same-titled drafts start together (threads here; workers
    are processes, which race the same way on the folder they share)."""
    shared = 0
    for round_ in range(100):
        folder = tmp_path / f"kb{round_}"
        paths = _approve_at_once(folder, 4)
        texts = [(folder / path).read_text(encoding="utf-8") for path in set(paths)]
        if len(set(paths)) < 4 or any(text.count("answer of draft") != 1 for text in texts):
            shared += 1
    assert shared == 0, f"in {shared} of 100 rounds two approvals wrote the same file"
