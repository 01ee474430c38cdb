"""One running bot per data dir: an operating-system lock held for the life of `supportbot run`.

Two processes on one data dir would both replay each other's live questions (and answer
them twice), and both write one search index. The lock is `flock` on a file in the data
dir: the kernel releases it when the process dies, `kill -9` included, so a crash never
leaves a stale lock behind. The holder writes its pid into the file, so a second process
can say who holds it.

With state in PostgreSQL, any number of processes run: one data dir per worker, one
database for all. The lock stays per data dir, because the data dir still holds what one
process owns (the tantivy index and catalog.db); what the workers share (the inbox, tickets,
timed jobs) is coordinated in the database (bot/cluster.py). So a second process with the
same data dir is refused on either backend, and one with its own data dir starts.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from bot.errors import SupportBotError

LOCK_FILE = "supportbot.lock"


class InstanceLock:
    def __init__(self, data_dir: Path, *, shared: bool = False) -> None:
        self.path = data_dir / LOCK_FILE
        self.shared = shared  # state in PostgreSQL: other workers are welcome, with their own data dir
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Hold the lock, or raise SupportBotError naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            advice = (
                "give each worker its own data folder with --data DIR: they share the database"
                if self.shared
                else "stop it, or give this one its own data folder with --data DIR"
            )
            raise SupportBotError(
                f"another supportbot (pid {holder}) is already running on {self.path.parent}; {advice}"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
