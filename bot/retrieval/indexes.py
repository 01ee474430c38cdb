"""One search index per knowledge folder, under the data dir's `index/`.

A data dir used to hold a single index, so pointing `--knowledge` at another folder and back
rebuilt the whole index each time. Now each folder has its own, keyed by a short hash of its
resolved absolute path:

    DATA/index/<key>/tantivy/       the search index
    DATA/index/<key>/catalog.db     what it holds, file by file
    DATA/index/<key>/index.json     the folder's path, last used, last sync, files and passages
    DATA/index/<key>/in-use.lock    held (shared) by every process that has the index open

Switching back to a folder indexed before is then the usual incremental sync (a stat of each
unchanged file). Indexes are caches, so old ones are removed when a folder is opened: the
KEEP most recently used stay, and so does any index another process holds open (its lock),
whatever its age, and the one being opened.

An install from before this layout has one index at `DATA/index/tantivy` + `catalog.db`, and
nothing in it names its folder. It is adopted (moved into the keyed layout) by the first folder
opened without an index of its own whose files it describes: at least half of its catalog's
files found there with the same size and modification time, the test the incremental sync
itself trusts. Any mismatch is then re-read by that sync. Until some folder matches it stays
where it is, listed as "folder unknown", and is pruned like the others.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bot.errors import StoreError
from bot.instance import LOCK_FILE
from bot.retrieval.knowledge import KnowledgeBase, unusable_index_dir
from bot.retrieval.knowledge_report import Progress, SyncReport
from bot.store import Catalog

log = logging.getLogger(__name__)

KEEP = 8  # indexes kept per data dir: a working set of folders, without growing without bound
META_FILE = "index.json"
IN_USE_FILE = "in-use.lock"
LEGACY = ("tantivy", "catalog.db", "catalog.db-wal", "catalog.db-shm")  # the old single index
_KEY = re.compile(r"[0-9a-f]{12}")


def index_key(folder: Path) -> str:
    """12 hex digits of the SHA-256 of the folder's resolved path: short, stable, one per folder."""
    return hashlib.sha256(str(folder.resolve()).encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True, kw_only=True)
class IndexInfo:
    key: str  # "" for the old single index
    directory: Path
    folder: Path | None  # None: the old single index, whose folder nothing records
    files: int | None  # as of the last sync; None if it never finished one
    chunks: int | None
    last_used: datetime
    last_sync: datetime | None
    current: bool


def _now() -> datetime:
    return datetime.now(UTC)


def _read_meta(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_meta(directory: Path, data: dict[str, Any]) -> None:
    # replaced whole, so a reader (index --list, another process pruning) never sees half a file
    temporary = directory / f".{META_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(temporary, directory / META_FILE)


def _time(value: object, fallback: datetime) -> datetime:
    try:
        return datetime.fromisoformat(str(value)) if value else fallback
    except ValueError:
        return fallback


def _mtime(path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return datetime.fromtimestamp(0, UTC)


def _size(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        files = [path] if path.is_file() else [Path(p) / n for p, _, names in os.walk(path) for n in names]
        for file in files:
            try:
                total += file.stat().st_size
            except OSError:
                continue  # merged away by a process writing the index as we count
    return total


class IndexLease:
    """A folder's index directory, locked shared while this process has it open, so that no
    other process prunes it away underneath (flock: released by the kernel if we die)."""

    def __init__(self, directory: Path, folder: Path) -> None:
        self.directory = directory
        self.folder = folder
        self._lock: IO[str] | None = None
        while True:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                handle = (directory / IN_USE_FILE).open("a", encoding="utf-8")
            except OSError as exc:
                raise unusable_index_dir(directory, exc) from None
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)  # waits only while a pruner deletes it
            try:
                same = os.fstat(handle.fileno()).st_ino == (directory / IN_USE_FILE).stat().st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._lock = handle
                break
            handle.close()  # pruned while we waited: make it afresh

    def record(self, **fields: object) -> None:
        meta = _read_meta(self.directory)
        meta.update(fields, folder=str(self.folder))
        _write_meta(self.directory, meta)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None


class FolderKnowledgeBase(KnowledgeBase):
    """A KnowledgeBase in its folder's keyed index: records each sync in index.json (what
    `supportbot index --list` shows) and gives up its lease when closed."""

    def __init__(self, lease: IndexLease, folder: Path, **options: Any) -> None:
        self.lease = lease
        super().__init__(folder, lease.directory, **options)

    def sync(self, progress: Progress | None = None, *, only: Collection[str] | None = None) -> SyncReport:
        report = super().sync(progress, only=only)
        files, chunks, _ = self.catalog.summary()
        now = _now().isoformat()
        self.lease.record(last_sync=now, last_used=now, files=files, chunks=chunks)
        return report

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.lease.release()


def open_folder_knowledge(
    root: Path, folder: Path, *, keep: int = KEEP, now: datetime | None = None, **options: Any
) -> FolderKnowledgeBase:
    """The knowledge base of `folder` in its own index under `root` (DATA/index): the old single
    index adopted if it is this folder's, the folder marked as just used, and indexes beyond
    the `keep` most recently used removed. `options` go to KnowledgeBase."""
    directory = root / index_key(folder)
    fresh = not (directory / "catalog.db").exists()
    lease = IndexLease(directory, folder.resolve())
    try:
        if fresh:
            _adopt_legacy(root, directory, folder)
        lease.record(last_used=(now or _now()).isoformat())
        prune(root, keep=keep, current=directory)
        return FolderKnowledgeBase(lease, folder, **options)
    except BaseException:
        lease.release()
        raise


def _another_bot_runs(data_dir: Path) -> bool:
    """Whether another process may be a `supportbot run` on this data dir (bot/instance.py), of
    a version that has the old single index open. Read from the pid the lock file names, not
    by taking the lock: even a moment's hold would make such a bot starting now refuse to run.
    A stale pid that the system reused only delays the move."""
    try:
        pid = int((data_dir / LOCK_FILE).read_text(encoding="utf-8").strip() or 0)
    except (OSError, ValueError):
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return True


def _adopt_legacy(root: Path, directory: Path, folder: Path) -> None:
    """Move the old single index into `directory` if it describes `folder` (module docstring)."""
    if not (root / "catalog.db").exists() or not folder.is_dir() or _another_bot_runs(root.parent):
        return
    try:
        catalog = Catalog(root / "catalog.db")
    except StoreError:
        return  # locked or unreadable: try again at the next new folder
    try:
        known = list(catalog.files().values())
    finally:
        catalog.close()
    matching = 0
    for record in known:
        try:
            stat = (folder / record.path).stat()
        except OSError:
            continue
        matching += stat.st_size == record.size and stat.st_mtime_ns == record.mtime_ns
    if not known or matching * 2 < len(known):
        return
    for name in LEGACY:
        source, target = root / name, directory / name
        if source.exists() and not target.exists():
            os.replace(source, target)
    log.info("moved the old search index into %s for %s", directory, folder)


def list_indexes(root: Path, current_folder: Path | None = None) -> list[IndexInfo]:
    """Every index under `root`, most recently used first; the old single index too."""
    current = index_key(current_folder) if current_folder is not None else None
    found: list[IndexInfo] = []
    if root.is_dir():
        for directory in root.iterdir():
            if not (directory.is_dir() and _KEY.fullmatch(directory.name)):
                continue  # only what this module made: never anything else under index/
            meta = _read_meta(directory)
            last_sync = _time(meta.get("last_sync"), _now()) if meta.get("last_sync") else None
            found.append(
                IndexInfo(
                    key=directory.name,
                    directory=directory,
                    folder=Path(meta["folder"]) if meta.get("folder") else None,
                    files=meta.get("files") if last_sync else None,
                    chunks=meta.get("chunks") if last_sync else None,
                    last_used=_time(meta.get("last_used"), _mtime(directory)),
                    last_sync=last_sync,
                    current=directory.name == current,
                )
            )
        if (root / "catalog.db").exists():
            found.append(
                IndexInfo(
                    key="",
                    directory=root,
                    folder=None,
                    files=None,
                    chunks=None,
                    last_used=_mtime(root / "catalog.db"),
                    last_sync=None,
                    current=False,
                )
            )
    return sorted(found, key=lambda info: info.last_used, reverse=True)


def prune(root: Path, *, keep: int = KEEP, current: Path | None = None) -> list[Path]:
    """Remove the indexes beyond the `keep` most recently used, except `current` and any
    another process has open; returns the directories removed."""
    removed: list[Path] = []
    for info in list_indexes(root)[keep:]:
        if info.directory == current:
            continue
        if not info.key:  # the old single index: no lease protects it, so only when no bot runs
            if not _another_bot_runs(root.parent):
                for name in LEGACY:
                    path = root / name
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
                removed.append(root / "catalog.db")
            continue
        try:
            handle = (info.directory / IN_USE_FILE).open("a", encoding="utf-8")
        except OSError:
            continue
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # open in another process: it stays, however old
            shutil.rmtree(info.directory, ignore_errors=True)
            removed.append(info.directory)
    for path in removed:
        log.info("removed the search index %s (not used recently)", path)
    return removed


def index_size(info: IndexInfo) -> int:
    """Bytes on disk; counted only for --list, as opening a folder has no use for it."""
    return _size([info.directory] if info.key else [info.directory / name for name in LEGACY])


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def describe_indexes(root: Path, current_folder: Path) -> str:
    """`supportbot index --list`: one line per index, `*` on the current folder's."""
    infos = list_indexes(root, current_folder)
    if not infos:
        return f"No search index in {root} yet; `supportbot index` builds this folder's."
    rows = [("", "folder", "files", "passages", "size", "last used")]
    for info in infos:
        if info.folder is None:
            folder = "(old single index, folder unknown)"
        else:
            folder = str(info.folder) + ("" if info.folder.is_dir() else " (folder missing)")
        rows.append(
            (
                "*" if info.current else "",
                folder,
                "?" if info.files is None else str(info.files),
                "?" if info.chunks is None else str(info.chunks),
                _megabytes(index_size(info)),
                info.last_used.astimezone().strftime("%Y-%m-%d %H:%M"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.rjust(w) if i in (2, 3, 4) else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    if not any(info.current for info in infos):
        lines.append(f"{current_folder} has no index yet; `supportbot index` builds it.")
    lines.append(
        f"{len(infos)} index(es) in {root}; opening a folder keeps the {KEEP} most recently used "
        "and any another process has open."
    )
    return "\n".join(lines)
