"""One running bot per data dir: an operating-system lock held for the life of `supportbot run`.

Two processes on one data dir would both replay each other's live questions (and answer
them twice), and both write one search index. The lock is `flock` on a file in the data
dir: the kernel releases it when the process dies, `kill -9` included, so a crash never
leaves a stale lock behind. The holder writes its pid into the file, so a second process
can say who holds it. Scaling past one process is the PostgreSQL backend's job.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from bot.errors import SupportBotError

LOCK_FILE = "supportbot.lock"


class InstanceLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
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
            raise SupportBotError(
                f"another supportbot (pid {holder}) is already running on {self.path.parent}; stop it, "
                "or give this one its own data folder with --data DIR"
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
