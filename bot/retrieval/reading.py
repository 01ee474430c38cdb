"""Reading knowledge files into analysed chunks: one file at a time, here or in worker processes.

`read_file` is the whole per-file job of a sync: read the bytes, hash them, skip the file if
its content is what the catalog holds, else parse, chunk and analyse it. The hash covers the
page's own bytes only: what its includes read is stamped instead (`FileOutcome.includes`), and
the sync passes no known hash when one of those changed, so the page is parsed again. It only
reads: the index and the catalog are written by the one process that holds the index's
writer, so a pool of readers changes nothing about what `kill -9` can leave behind.

`read_files` runs the jobs in order and yields their outcomes in the same order, so the
index receives its documents in the same order either way (ties in BM25 are broken by that
order). Parsing Markdown and analysing text are pure Python and hold the GIL, so on a
machine with more than one core a large sync reads through a process pool; a small one (a
few changed files) stays in this process, where starting workers would cost more than it
saves. The pool's processes are spawned, not forked: the parent has tantivy's threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.cpu_affinity import process_cpus
from bot.retrieval.audience import AudienceError
from bot.retrieval.documents import DocumentError, read_document
from bot.retrieval.folder import FileTooLarge, LinkedOutside, includes_key, read_confined
from bot.retrieval.index import AnalysedChunk, analyse_chunk
from bot.retrieval.site import Site
from bot.retrieval.vectors import embedding_text, text_hash

log = logging.getLogger(__name__)

POOL_MIN_FILES = 256  # fewer files to read than this: a pool costs more to start than it saves
MAX_WORKERS = 8
BATCH_FILES = 16  # files sent to a worker at a time: fewer round trips, still balanced
PARENT_CHECK_S = 0.5

ChunkHashes = list[tuple[str, str]]  # (chunk id, hash of its embedded text)


@dataclass(frozen=True, kw_only=True)
class ReadSettings:
    """What every file of one sync is read with."""

    folder: Path
    include_root: Path | None
    site: Site | None
    max_file_bytes: int
    embeddings: bool  # also hash each chunk's embedded text
    roots: tuple[Path, ...] = ()  # resolved: where a file read may lie (the walk's rule for links)
    globs: tuple[str, ...] = ()  # [knowledge] exclude: no include reaches what they leave out


@dataclass(frozen=True, kw_only=True)
class ReadJob:
    relative: str
    size: int
    mtime_ns: int
    known_sha256: str | None  # the catalog's hash when nothing else (audience, includes) changed
    folder_audience: tuple[str, ...] | AudienceError  # the folder declaration it is read under


@dataclass(frozen=True, kw_only=True)
class FileOutcome:
    relative: str
    digest: str
    unchanged: bool = False  # saved again with the same content: nothing to re-index
    error: str | None = None
    warnings: tuple[str, ...] = ()
    meta: dict[str, object] = field(default_factory=dict)  # the catalog's title, url, ...
    chunks: tuple[AnalysedChunk, ...] = ()
    hashes: ChunkHashes | None = None
    includes: str = ""  # the files its includes read, stamped (folder.includes_key)
    crash: str | None = None  # the traceback of a parser bug, for the log of the main process


def _too_large(what: str, limit: int) -> str:
    return (
        f"{what}, over the {limit / 1e6:.0f} MB limit ([knowledge] max_file_mb); split it into smaller files"
    )


def read_file(settings: ReadSettings, job: ReadJob) -> FileOutcome:
    """One file's outcome; never raises for a problem in the file itself."""
    relative = job.relative
    file = settings.folder / relative
    error: str | None = None
    data = b""
    if job.size > settings.max_file_bytes:
        error = _too_large(f"is {job.size / 1e6:.1f} MB", settings.max_file_bytes)
    else:
        try:
            data = read_confined(
                file, settings.roots or (settings.folder.resolve(),), settings.max_file_bytes
            )
        except LinkedOutside as exc:
            error = str(exc)
        except FileTooLarge:
            error = _too_large("grew while it was read", settings.max_file_bytes)
        except OSError as exc:
            error = f"cannot be read: {exc.strerror}"
    digest = hashlib.sha256(data).hexdigest() if error is None else f"error:{job.mtime_ns}"
    if job.known_sha256 == digest:
        return FileOutcome(relative=relative, digest=digest, unchanged=True)
    folder_audience = job.folder_audience
    if isinstance(folder_audience, AudienceError):
        error = f"is in a folder whose {folder_audience}; fix it to index the folder"
    if error is not None or isinstance(folder_audience, AudienceError):
        return FileOutcome(relative=relative, digest=digest, error=error)
    # imported with the first file to parse: a sync that finds nothing changed (each start of
    # `supportbot ask`) chunks nothing
    from bot.retrieval.chunking import chunk_document

    try:
        document = read_document(
            settings.folder, file, data, include_root=settings.include_root, globs=settings.globs
        )
        if folder_audience and not document.audience:
            document = replace(document, audience=folder_audience)
        chunks = chunk_document(document, site=settings.site)
    except DocumentError as exc:
        return FileOutcome(relative=relative, digest=digest, error=str(exc))
    except Exception as exc:  # a parser bug on one odd file must not stop the folder
        return FileOutcome(
            relative=relative,
            digest=digest,
            error=f"could not be parsed ({type(exc).__name__}); please report this file",
            crash=traceback.format_exc(),
        )
    return FileOutcome(
        relative=relative,
        digest=digest,
        warnings=document.warnings,
        meta={
            "title": document.title,
            "url": document.url,
            "visibility": str(document.visibility),
            "tags": document.tags,
            "audience": document.audience,
        },
        chunks=tuple(analyse_chunk(chunk) for chunk in chunks),
        hashes=[(c.id, text_hash(embedding_text(c.title, c.heading, c.text))) for c in chunks]
        if settings.embeddings
        else None,
        includes=includes_key(document.includes),
    )


def _read_batch(settings: ReadSettings, jobs: Sequence[ReadJob]) -> list[FileOutcome]:
    return [read_file(settings, job) for job in jobs]


def _exit_with(parent: int, cpus: frozenset[int] | None) -> None:
    """A worker's initializer: run on every CPU the indexing process had before it kept its
    threads on one (bot/cpu_affinity.py; a spawned process inherits its parent's CPU), and
    exit when that process is gone. A `kill -9` of the indexing process would otherwise leave
    its workers waiting for work forever (each holds both ends of the pool's queues, so they
    never see them close)."""
    if cpus is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, cpus)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@contextlib.contextmanager
def _starting_workers() -> Iterator[None]:
    """Around the code that starts the pool's workers. Ctrl-C in a terminal signals the whole
    process group: a worker it reaches dies or prints a traceback, and the pool, broken while
    this process is stopping it, can leave it waiting for ever. A spawned process keeps the
    signal mask it was started with, so SIGINT blocked here is never delivered to the workers,
    not even while they start (an initializer would come too late): only this process stops,
    and it stops the pool. Here it is held back until the workers are started, since a
    KeyboardInterrupt in the middle of starting one leaves it half told what to run; then it
    is raised again, to whatever handles it in this process."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks, no process groups
        yield
        return
    held: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    # Python runs signal handlers in the main thread only: elsewhere there is nothing to hold
    hold = threading.current_thread() is threading.main_thread() and previous is not None
    if hold:
        signal.signal(signal.SIGINT, lambda number, _: held.append(number))
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if hold and previous is not None:
            signal.signal(signal.SIGINT, previous)
        if held:
            signal.raise_signal(signal.SIGINT)


def available_cores() -> int:
    cpus = process_cpus()  # every CPU the process may use, whichever one its threads are kept on
    return len(cpus) if cpus is not None else os.cpu_count() or 1


def pool_size(files: int, workers: int | None) -> int:
    """How many worker processes read `files` files: 0 to read them here. `workers` None:
    one per core, if there are several and enough files; a number: that many, whatever
    the count (1 or less: none)."""
    if workers is None:
        cores = available_cores()
        return min(cores, MAX_WORKERS) if cores > 1 and files >= POOL_MIN_FILES else 0
    return workers if workers > 1 and files > 0 else 0


def read_files(settings: ReadSettings, jobs: Sequence[ReadJob], workers: int | None) -> Iterator[FileOutcome]:
    """The outcome of every job, in the order of `jobs`. If the pool breaks (a worker killed,
    out of memory, or processes cannot be started here), the rest is read in this process."""
    done = 0
    size = pool_size(len(jobs), workers)
    if size:
        from concurrent.futures import ProcessPoolExecutor  # not imported by what never indexes much
        from concurrent.futures.process import BrokenProcessPool
        from multiprocessing import get_context

        batches = [jobs[i : i + BATCH_FILES] for i in range(0, len(jobs), BATCH_FILES)]
        try:
            with ProcessPoolExecutor(
                max_workers=size,
                mp_context=get_context("spawn"),
                initializer=_exit_with,
                initargs=(os.getpid(), process_cpus()),
            ) as pool:
                try:
                    with _starting_workers():  # map submits every batch at once, which starts the workers
                        batched = pool.map(_read_batch, [settings] * len(batches), batches)
                    for outcomes in batched:
                        for outcome in outcomes:
                            yield outcome
                            done += 1
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)  # stopped early: drop the queued reads
                    raise
        except BrokenProcessPool as exc:
            log.warning(
                "the processes reading the knowledge folder stopped (%s) after %d of %d files; "
                "reading the rest in this process",
                exc,
                done,
                len(jobs),
            )
    for job in jobs[done:]:
        yield read_file(settings, job)
