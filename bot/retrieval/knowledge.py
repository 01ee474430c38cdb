"""The knowledge base: keeps the search index in step with the folder, and searches it.

`sync()` is incremental: a file whose size and modification time match the catalog is not
opened; a file that changed is hashed and re-read only if its content really changed; a
deleted file's chunks are removed. A page is also re-read when a file its includes read (a
`--8<--` snippet, an `.. include::`) changed, was removed, or appeared where one was looked
for: the catalog stamps them (size and time, one stat each per sync), since the page's own
bytes stay the same. Settings that change what a file reads as (the size limit, the include
root, exclude globs, links) are part of the layout fingerprint (`_layout`): a change re-reads
every file rather than replay what the old settings made of it.

Files are read (parsed, chunked, analysed) by bot/retrieval/reading.py, in a pool of
processes when there are many, and written to the index one at a time by this process, whose
writer has a bounded buffer, so a folder of 10,000 files never sits in memory at once; their
catalog rows follow in one transaction once the index is committed (Catalog.record_sync). The
catalog's rows stay loaded between syncs of an open knowledge base (`_known`), so a one-file
change costs the walk and that file. A file that cannot be read is recorded with the reason
and skipped; it never stops the rest of the folder from being indexed. What a sync reports
(SyncReport, progress) is bot/retrieval/knowledge_report.py's.

The catalog follows the index, never the other way round: it is a cache that a rebuild
recreates from the folder. New files' paths are noted in it before the index's commit
(Catalog.mark_unrecorded), so a process killed between the two commits, which leaves the index
files no catalog row names, is caught up by the next sync: it walks the folder, reads those
still there and removes from the index those that are gone. Index and catalog converge.

With embeddings enabled (`embeddings=True`), sync() also records the hash of each chunk's
embedded text and drops cached vectors nothing refers to any more, and search() re-ranks
BM25's candidates when given the question's vector. It never calls the embeddings endpoint
itself: bot/retrieval/embeddings.py explains who does, and the rest of the design.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bot import faults
from bot.errors import StoreError
from bot.retrieval.audience import FolderAudiences, read_folder_files
from bot.retrieval.confidence import LEAD_WINDOW, confidence
from bot.retrieval.documents import FORMATS_VERSION, SUPPORTED_SUFFIXES
from bot.retrieval.evidence import asked_words, assess, titled_first, word_weights
from bot.retrieval.folder import included_names, includes_changed, link_roots, look_up, walk
from bot.retrieval.index import SearchIndex
from bot.retrieval.knowledge_report import KnowledgeSummary, Progress, SyncReport
from bot.retrieval.reading import FileOutcome, ReadJob, ReadSettings, read_files
from bot.retrieval.site import Site
from bot.retrieval.site_config import detect_site
from bot.retrieval.tokenize import (
    ANALYZER_VERSION,
    analyze_query,
)
from bot.retrieval.vectors import (
    EMBEDDING_TEXT_VERSION,
    RERANK_CANDIDATES,
    QueryVector,
    embedding_text,
    rerank,
    text_hash,
)
from bot.store import Catalog, FileRecord
from bot.store.catalog import FileEntry
from bot.types import DocVisibility, Passage, RetrievalHints, SearchResult

log = logging.getLogger(__name__)


def unusable_index_dir(directory: Path, exc: OSError) -> StoreError:
    """The error for an index folder that cannot be made or written (a read-only mount, no
    permission, a file where a folder should be): the person running the bot fixes it by
    giving it another data directory, so it names the folder and says how, not a traceback."""
    return StoreError(
        f"the index folder {directory} cannot be created or written ({exc.strerror}); "
        "give this bot a data directory it can write with --data DIR (or SUPPORTBOT_DATA)"
    )


def _with_includers(only: Collection[str], known: dict[str, FileRecord]) -> set[str]:
    """`only` and the pages whose includes read (or looked for) one of them: the watcher
    reports the edited snippet, and the pages that show it must be read again too."""
    named = set(only)
    return named | {path for path, record in known.items() if named & included_names(record.includes)}


class KnowledgeBase:
    def __init__(
        self,
        folder: Path,
        index_dir: Path,
        *,
        max_file_bytes: int = 20 * 1024 * 1024,
        exclude: frozenset[str] = frozenset(),
        embeddings: bool = False,
        exclude_globs: tuple[str, ...] = (),
        include_root: Path | None = None,
        base_url: str | None = None,
        follow_symlinks: bool = False,
        workers: int | None = None,
    ) -> None:
        self.folder = folder
        self.workers = workers  # processes that read files: None, one per core for a large sync
        self.follow_symlinks = follow_symlinks  # [knowledge] follow_symlinks: walk linked folders too
        self.max_file_bytes = max_file_bytes
        self.exclude = exclude  # relative paths left out on purpose (evaluation hold-outs)
        self.exclude_globs = exclude_globs  # [knowledge] exclude: relative-path globs
        self.include_root = include_root  # where `--8<--` / `.. include::` may also read from
        self.base_url = base_url  # where the documentation is published, for citation links
        self.site = self._detect_site()
        self._skipped: list[tuple[str, str]] = []
        self._walked = False  # a look at a few paths needs a walk first (it knows the audiences)
        self._audience_files: list[tuple[str, bool]] = []  # (path, is a link) of each audience file
        self.embeddings = embeddings  # keep chunk text hashes for the vector cache
        self._known_files: dict[str, FileRecord] | None = None  # the catalog's files (_known)
        self._known_version: tuple[int, int] | None = None
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise unusable_index_dir(index_dir, exc) from None
        self.catalog = Catalog(index_dir / "catalog.db")
        self.index = SearchIndex(index_dir / "tantivy")
        self._check_version()

    def close(self) -> None:
        self.catalog.close()

    def _check_version(self) -> None:
        """A change of analyzer makes every stored term stale: start the cache afresh. So does
        turning embeddings on (or changing what is embedded): every chunk's text hash is needed,
        and only reading the files gives them; vectors already cached are found again."""
        hashes = self.catalog.get_meta("embedding_text")
        if (
            self.catalog.get_meta("analyzer") != ANALYZER_VERSION
            or self.catalog.get_meta("layout") != self._layout()
            or (self.index.size == 0 and self.catalog.summary()[1] > 0)
            or (self.embeddings and hashes != EMBEDDING_TEXT_VERSION)
        ):
            self._reset()
        elif not self.embeddings and hashes is not None:
            # not kept up to date while embeddings are off: forget them rather than trust them later
            self.catalog.clear_chunks()
            self.catalog.delete_meta("embedding_text")

    def _layout(self) -> str:
        """What the stored chunks (and recorded errors) depend on besides the analyzer and the
        files' bytes: how files are parsed, the links citations carry, and every setting that
        changes what a file reads as: its size limit, where its includes and links may lead,
        what the exclude globs keep from includes. When it changes, every file is read again;
        otherwise a file left out as "over the 1 MB limit" would stay so at 50 MB."""
        include_root = self.include_root.resolve() if self.include_root is not None else None
        return (
            f"formats={FORMATS_VERSION};site={self.site!r};max_bytes={self.max_file_bytes};"
            f"include_root={include_root};links={self.follow_symlinks};"
            f"exclude={sorted(set(self.exclude_globs))!r}"
        )

    def _detect_site(self) -> Site | None:
        return detect_site(self.folder, base_url=self.base_url) if self.folder.is_dir() else None

    def _follow_site(self) -> None:
        """Read the generator's config again: an edited site_url (or docs route, or toc
        slugify) changes every citation link, and the stored chunks carry the old ones, so
        the layout (which holds the site) changed and every file is read again. A folder gone
        for now (an unmounted share) keeps its index: the walk reports it."""
        if not self.folder.is_dir():
            return
        self.site = self._detect_site()
        if self.catalog.get_meta("layout") != self._layout():
            self._reset()

    def _reset(self) -> None:
        self.index.clear()
        self.index.commit()
        self._known_files = None
        self._walked = False
        self.catalog.clear()
        self.catalog.set_meta("analyzer", ANALYZER_VERSION)
        self.catalog.set_meta("layout", self._layout())
        if self.embeddings:
            self.catalog.set_meta("embedding_text", EMBEDDING_TEXT_VERSION)

    # -- keeping the index in step with the folder ---------------------------------------

    def _walk(self) -> Iterator[tuple[str, os.stat_result]]:
        """The files to index; what is left out on purpose goes to `self._skipped` with why."""
        self._skipped = []
        self._audience_files = []
        self._walked = True
        return walk(
            self.folder,
            suffixes=SUPPORTED_SUFFIXES,
            exclude=self.exclude,
            globs=self.exclude_globs,
            include_root=self.include_root,
            follow_symlinks=self.follow_symlinks,
            skipped=self._skipped,
            audience_files=self._audience_files,
        )

    def sync(self, progress: Progress | None = None, *, only: Collection[str] | None = None) -> SyncReport:
        """Bring the index in step with the folder. `only`: the paths (relative to the folder)
        a watcher saw change, looked at alone instead of walking every file; when that cannot
        tell what changed (a folder, a link, an audience file), the whole folder is walked."""
        report = SyncReport()
        if only is None:  # a full sync (the periodic walk, a reindex) sees an edited config too
            self._follow_site()
        known = self._known()
        # new files a sync committed to the index before it died, unrecorded: only a walk
        # tells which of them are gone
        unrecorded = self.catalog.unrecorded() - known.keys()
        found = None
        if only is not None and self._walked and not unrecorded:
            only = _with_includers(only, known)
            found = look_up(
                self.folder, only, suffixes=SUPPORTED_SUFFIXES, exclude=self.exclude, globs=self.exclude_globs
            )
            prefixes = tuple(
                f"{relative}/" for relative in only if found is not None and relative not in found
            )
            if prefixes and any(known_path.startswith(prefixes) for known_path in known):
                found = None  # a folder that is gone (moved away): its files are, too
        if found is None:
            on_disk = dict(self._walk())
            gone = (set(known) | unrecorded) - set(on_disk)
        else:
            on_disk = found
            gone = {relative for relative in only or () if relative in known and relative not in found}
        report.skipped = sorted(self._skipped)
        folders = self._folder_audiences()
        pending: list[FileEntry] = []
        touched: list[tuple[str, int]] = []
        jobs: list[ReadJob] = []
        root = self.folder.resolve()  # what included files are named relative to
        for relative, stat in on_disk.items():  # unsorted: only the few files read need an order
            before = known.get(relative)
            audience_key = folders.key(relative)
            # what the page reads besides its own bytes is as it was: its hash may stand
            same = (
                before is not None
                and before.folder_audience == audience_key
                and not includes_changed(root, before.includes)
            )
            if (
                same
                and before is not None
                and (before.size, before.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
            ):
                report.unchanged += 1
                if before.error:
                    report.failed.append((relative, before.error))
                continue
            jobs.append(
                ReadJob(
                    relative=relative,
                    size=stat.st_size,
                    mtime_ns=stat.st_mtime_ns,
                    known_sha256=before.sha256 if same and before is not None else None,
                    folder_audience=folders.for_file(relative),
                )
            )
        jobs.sort(key=lambda job: job.relative)  # the index gets its documents in path order
        # progress counts the files read (those whose size or time changed), so a rate and an
        # ETA computed from it hold from the first file on
        outcomes = read_files(self._read_settings(), jobs, self.workers)
        for done, (job, outcome) in enumerate(zip(jobs, outcomes, strict=True), start=1):
            if progress is not None:
                progress(done, len(jobs), job.relative)
            self._apply(job, outcome, known.get(job.relative), report, pending, touched, folders)
        report.failed.sort()  # by path, unchanged files' errors among the new ones
        removed = sorted(gone)
        self.index.remove_files(removed) if removed else None
        report.removed = removed
        added = [entry.record.path for entry in pending if entry.record.path not in known]
        try:
            if added:
                self.catalog.mark_unrecorded(added)
            self.index.commit()
        except BaseException:
            self.index.rollback()
            raise
        faults.point("knowledge.committed")  # killed here: the index holds files the catalog lacks
        # the catalog follows the index: if we die before this, the next sync redoes the files
        # (and removes the new ones gone meanwhile: `unrecorded`)
        self.catalog.record_sync(pending, touched=touched, removed=removed, at=datetime.now(UTC))
        # what was just written, kept for the next sync (_known)
        known.update((entry.record.path, entry.record) for entry in pending)
        for relative, mtime in touched:
            known[relative] = replace(known[relative], mtime_ns=mtime)
        for relative in removed:
            known.pop(relative, None)  # an unrecorded file never had a row
        if self.embeddings and (report.updated or report.removed):
            self.catalog.prune_embeddings()  # vectors of text that is gone
        if report.changed or report.failed:
            log.info(
                "knowledge synced: %d added, %d updated, %d removed, %d unchanged, %d unreadable",
                len(report.added),
                len(report.updated),
                len(report.removed),
                report.unchanged,
                len(report.failed),
            )
        return report

    def _known(self) -> dict[str, FileRecord]:
        """The catalog's files. Loading 10,000 rows was a third of a one-file sync, so the
        dict is kept between syncs of this open knowledge base and updated with what each one
        writes (only sync() and _reset() write these rows). A commit by any other connection,
        another process's sync, changes SQLite's data_version, and then it is read again."""
        conn = self.catalog.conn
        version = (id(conn), conn.execute("PRAGMA data_version").fetchone()[0])
        if self._known_files is None or version != self._known_version:
            self._known_files = self.catalog.files()
            self._known_version = version
        return self._known_files

    def _read_settings(self) -> ReadSettings:
        return ReadSettings(
            folder=self.folder,
            include_root=self.include_root,
            site=self.site,
            max_file_bytes=self.max_file_bytes,
            embeddings=self.embeddings,
            roots=link_roots(self.folder, self.include_root, self.follow_symlinks),
            globs=self.exclude_globs,
        )

    def _apply(
        self,
        job: ReadJob,
        outcome: FileOutcome,
        before: FileRecord | None,
        report: SyncReport,
        pending: list[FileEntry],
        touched: list[tuple[str, int]],
        folders: FolderAudiences,
    ) -> None:
        """Write one file's outcome (bot/retrieval/reading.py) to the index; its catalog row
        waits in `pending` (or `touched`) until the index is committed."""
        relative = job.relative
        if outcome.unchanged:
            touched.append((relative, job.mtime_ns))  # saved again without changes
            report.unchanged += 1
            return
        for warning in outcome.warnings:
            report.warnings.append((relative, warning))
            log.warning("knowledge file %s %s", relative, warning)
        if outcome.crash is not None:
            log.error("unexpected error reading %s\n%s", relative, outcome.crash.rstrip())
        if outcome.error is not None:
            report.failed.append((relative, outcome.error))
            log.warning("knowledge file %s %s", relative, outcome.error)
        self.index.replace_analysed(relative, outcome.chunks)
        report.chunks += len(outcome.chunks)
        (report.updated if before is not None else report.added).append(relative)
        record = FileRecord(
            path=relative,
            sha256=outcome.digest,
            size=job.size,
            mtime_ns=job.mtime_ns,
            chunks=len(outcome.chunks),
            error=outcome.error,
            folder_audience=folders.key(relative),
            includes=outcome.includes,
        )
        pending.append(FileEntry(record=record, hashes=outcome.hashes, **outcome.meta))  # type: ignore[arg-type]

    def _folder_audiences(self) -> FolderAudiences:
        """The folder-level audience declarations _walk found (bot/retrieval/audience.py)."""
        return read_folder_files(self.folder, self._audience_files)

    def rebuild(self, progress: Progress | None = None) -> SyncReport:
        self._reset()
        return self.sync(progress)

    # -- searching -------------------------------------------------------------------------

    def search(
        self,
        query: str,
        scope: DocVisibility,
        k: int = 10,
        *,
        query_vector: QueryVector | None = None,
        audiences: frozenset[str] | None = frozenset(),
    ) -> SearchResult:
        """The `k` best passages in `scope` and BM25's confidence. With `query_vector` (and
        embeddings enabled), BM25's RERANK_CANDIDATES best are re-ranked with their cached
        vectors; the confidence stays BM25's (embeddings.py says why). `audiences`: the
        asker's (SearchIndex.search); documents of any other audience are never candidates."""
        terms = analyze_query(query)
        hybrid = query_vector if self.embeddings else None
        # the evidence reads at least LEAD_WINDOW passages (lead_share), whatever k is asked
        fetch = max(k, LEAD_WINDOW, RERANK_CANDIDATES if hybrid is not None else 0)
        passages, chunks = self.index.search(terms, scope, fetch, audiences=audiences)
        if not passages:
            return SearchResult(passages=(), confidence=0.0)
        asked = asked_words(query)  # analysed once for both
        passages = titled_first(asked, passages)
        idf = self.index.idf(terms.words)  # for the evidence and the quote's word weights
        evidence = assess(self.index, query, terms, passages, chunks, asked, idf)
        sure = confidence(evidence)
        if hybrid is not None:
            vectors = self.catalog.vectors_for_chunks(hybrid.model, [p.chunk_id for p in passages])
            passages = rerank(passages, vectors, hybrid)[:k]
        return SearchResult(
            passages=tuple(passages[:k]),
            confidence=sure,
            hints=RetrievalHints(
                term_weights=word_weights(self.index, query, terms, idf), reranked=hybrid is not None
            ),
        )

    def sections(self, passages: Sequence[Passage]) -> tuple[tuple[Passage, Passage], ...]:
        """Each of `passages` (each section once, best first) with its whole section: all
        the chunks under the same heading of the same file, code blocks and all, as one."""
        found: list[tuple[Passage, Passage]] = []
        seen: set[tuple[str, str]] = set()
        for passage in passages:
            key = (passage.path, passage.heading)
            if key in seen:
                continue
            seen.add(key)
            parts = self.index.section(passage.path, passage.heading) or [passage]
            found.append((passage, replace(passage, text="\n\n".join(p.text for p in parts))))
        return tuple(found)

    def pending_embeddings(self, model: str, after: str, limit: int) -> list[tuple[str, str | None]]:
        """Up to `limit` (text hash, text to embed) without a vector for `model`, in hash order
        after `after`; the text is None when the index no longer holds it (skip it)."""
        missing = self.catalog.missing_vectors(model, after, limit)
        stored = self.index.chunk_texts([chunk_id for _, chunk_id in missing])
        page: list[tuple[str, str | None]] = []
        for digest, chunk_id in missing:
            text = embedding_text(*stored[chunk_id]) if chunk_id in stored else None
            page.append((digest, text if text is not None and text_hash(text) == digest else None))
        return page

    def summary(self) -> KnowledgeSummary:
        files, chunks, errors = self.catalog.summary()
        return KnowledgeSummary(folder=self.folder, files=files, chunks=chunks, errors=errors)

    def errors(self) -> list[tuple[str, str]]:
        return list(self.catalog.errors())

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """What the last sync in this process left out on purpose, with why (SyncReport.skipped)."""
        return sorted(self._skipped)
