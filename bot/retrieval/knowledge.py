"""The knowledge base: keeps the search index in step with the folder, and searches it.

`sync()` is incremental: a file whose size and modification time match the catalog is not
opened; a file that changed is hashed and re-read only if its content really changed; a
deleted file's chunks are removed. Files are processed one at a time and the index
writer has a bounded buffer, so a folder of 10,000 files never sits in memory at once.
A file that cannot be read is recorded with the reason and skipped; it never stops the
rest of the folder from being indexed.

With embeddings enabled (`embeddings=True`), sync() also records the hash of each chunk's
embedded text and drops cached vectors nothing refers to any more, and search() re-ranks
BM25's candidates when given the question's vector. It never calls the embeddings endpoint
itself: bot/retrieval/embeddings.py explains who does, and the rest of the design.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import KnowledgeError
from bot.retrieval.audience import AUDIENCE_FILES, AudienceError, FolderAudiences, read_folder_files
from bot.retrieval.chunking import chunk_document
from bot.retrieval.confidence import (
    QUESTION_WORDS,
    Evidence,
    absent_share,
    confidence,
    coverage,
    heading_covers,
    names,
)
from bot.retrieval.documents import FORMATS_VERSION, SUPPORTED_SUFFIXES, DocumentError, read_document
from bot.retrieval.folder import link_reason, skip_reason
from bot.retrieval.index import SearchIndex
from bot.retrieval.site import detect_site
from bot.retrieval.tokenize import (
    ANALYZER_VERSION,
    Terms,
    analyze,
    analyze_query,
    char_bigrams,
    tokenize,
    topic_words,
)
from bot.retrieval.vectors import (
    EMBEDDING_TEXT_VERSION,
    RERANK_CANDIDATES,
    EmbeddingReport,
    QueryVector,
    embedding_text,
    rerank,
    text_hash,
)
from bot.store import Catalog, FileRecord
from bot.types import DocVisibility, Passage, RetrievalHints, SearchResult

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (files done, files total, current path)
ChunkHashes = list[tuple[str, str]]  # (chunk id, hash of its embedded text)


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why it is not indexed)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, problem in a file read)
    chunks: int = 0  # chunks written in this sync
    embeddings: EmbeddingReport | None = None  # the vector cache pass after it, when enabled

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def describe(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.removed)} removed",
            f"{self.unchanged} unchanged",
        ]
        text = "Knowledge folder synced: " + ", ".join(parts) + "."
        if self.failed:
            text += f"\n{len(self.failed)} file(s) could not be read:"
            text += "".join(f"\n- {path}: {reason}" for path, reason in self.failed[:20])
            if len(self.failed) > 20:
                text += f"\n- ... and {len(self.failed) - 20} more"
        for label, entries in (("file(s) read with warnings", self.warnings), ("skipped", self.skipped)):
            if entries:
                text += f"\n{len(entries)} {label}:"
                text += "".join(f"\n- {path}: {reason}" for path, reason in entries[:20])
                if len(entries) > 20:
                    text += f"\n- ... and {len(entries) - 20} more"
        if self.embeddings is not None:
            text += "\n" + self.embeddings.describe()
        return text


@dataclass(frozen=True, kw_only=True)
class KnowledgeSummary:
    folder: Path
    files: int
    chunks: int
    errors: int


_HANGUL_WORD = re.compile(r"[\uac00-\ud7a3]")
TITLED_WITHIN = 5  # how far down a section titled by the question is brought to the top


def titled_first(query: str, passages: list[Passage]) -> list[Passage]:
    """A section among the best few whose headings name every word of the question was written
    to answer it (an FAQ entry, a how-to titled by its task): it goes first, the rest keep
    their order. The same rule makes such a section confident (bot/retrieval/confidence.py)."""
    asked = [w for w in topic_words(query) if w not in QUESTION_WORDS]
    for i, passage in enumerate(passages[:TITLED_WITHIN]):
        if heading_covers(asked, set(analyze(f"{passage.title} {passage.heading}"))):
            return [passage, *passages[:i], *passages[i + 1 :]] if i else passages
    return passages


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
    ) -> None:
        self.folder = folder
        self.follow_symlinks = follow_symlinks  # [knowledge] follow_symlinks: walk linked folders too
        self.max_file_bytes = max_file_bytes
        self.exclude = exclude  # relative paths left out on purpose (evaluation hold-outs)
        self.exclude_globs = exclude_globs  # [knowledge] exclude: relative-path globs
        self.include_root = include_root  # where `--8<--` / `.. include::` may also read from
        self.base_url = base_url  # where the documentation is published, for citation links
        self.site = detect_site(folder, base_url=base_url) if folder.is_dir() else None
        self._skipped: list[tuple[str, str]] = []
        self._audience_files: list[tuple[str, bool]] = []  # (path, is a link) of each audience file
        self.embeddings = embeddings  # keep chunk text hashes for the vector cache
        index_dir.mkdir(parents=True, exist_ok=True)
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
        """What the stored chunks depend on besides the analyzer: how files are parsed and the
        links citations carry. When it changes, every chunk is rebuilt."""
        return f"formats={FORMATS_VERSION};site={self.site!r}"

    def _reset(self) -> None:
        self.index.clear()
        self.index.commit()
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
        if not self.folder.exists():
            raise KnowledgeError(
                f"the knowledge folder {self.folder} does not exist. Create it and put Markdown "
                "files in it, or point to another one with --knowledge DIR or [knowledge] path "
                "in supportbot.toml."
            )
        if not self.folder.is_dir():
            raise KnowledgeError(f"{self.folder} is a file, not a folder; --knowledge needs a folder")
        root = self.folder.resolve()
        roots = [root]
        if self.follow_symlinks and self.include_root is not None:
            roots.append(self.include_root.resolve())
        walked = {root}  # real paths of the folders walked: a link back to one is not walked again
        stack = [self.folder]
        while stack:
            current = stack.pop()
            try:
                entries = sorted(os.scandir(current), key=lambda e: e.name)
            except PermissionError:
                log.warning("cannot list %s: permission denied", current)
                continue
            for entry in entries:
                relative = Path(entry.path).relative_to(self.folder).as_posix()
                link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=link)  # a link is what it points to
                real = Path(os.path.realpath(entry.path)) if link or is_dir else None
                if entry.name in AUDIENCE_FILES and not is_dir:
                    self._audience_files.append((relative, link))  # read by _folder_audiences
                    continue
                reason = skip_reason(relative, is_dir, self.exclude_globs)
                if reason is None and link and real is not None:
                    reason = link_reason(real, is_dir, roots, self.follow_symlinks)
                    if reason is None and is_dir and real in walked:
                        reason = "links to a folder that is indexed already"
                if reason is not None:
                    if not entry.name.startswith("."):  # .git and our own data folder: not news
                        self._skipped.append((relative + ("/" if is_dir else ""), reason))
                elif is_dir and real is not None:
                    walked.add(real)
                    stack.append(Path(entry.path))
                elif (
                    entry.is_file()
                    and Path(entry.name).suffix.lower() in SUPPORTED_SUFFIXES
                    and relative not in self.exclude
                ):
                    yield relative, entry.stat()

    def sync(self, progress: Progress | None = None) -> SyncReport:
        report = SyncReport()
        known = self.catalog.files()
        on_disk = dict(self._walk())
        report.skipped = sorted(self._skipped)
        folders = self._folder_audiences()
        pending: list[tuple[FileRecord, dict[str, object], ChunkHashes | None]] = []
        touched: list[tuple[str, int]] = []
        total = len(on_disk)
        for done, (relative, stat) in enumerate(sorted(on_disk.items()), start=1):
            if progress is not None:
                progress(done, total, relative)
            before = known.get(relative)
            if (
                before is not None
                and before.size == stat.st_size
                and before.mtime_ns == stat.st_mtime_ns
                and before.folder_audience == folders.key(relative)
            ):
                report.unchanged += 1
                if before.error:
                    report.failed.append((relative, before.error))
                continue
            self._read_one(relative, stat, before, report, pending, touched, folders)
        removed = sorted(set(known) - set(on_disk))
        self.index.remove_files(removed) if removed else None
        report.removed = removed
        try:
            self.index.commit()
        except BaseException:
            self.index.rollback()
            raise
        # the catalog follows the index: if we die before this, the next sync redoes the files
        now = datetime.now(UTC)
        with self.catalog.db.conn:
            for record, meta, hashes in pending:
                self.catalog.put_file(record, at=now, **meta)  # type: ignore[arg-type]
                if hashes is not None:
                    self.catalog.put_chunks(record.path, hashes)
            for relative, mtime in touched:
                self.catalog.touch_file(relative, mtime)
            self.catalog.remove_files(removed)
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

    def _read_one(
        self,
        relative: str,
        stat: os.stat_result,
        before: FileRecord | None,
        report: SyncReport,
        pending: list[tuple[FileRecord, dict[str, object], ChunkHashes | None]],
        touched: list[tuple[str, int]],
        folders: FolderAudiences,
    ) -> None:
        file = self.folder / relative
        folder_audience = folders.for_file(relative)
        error: str | None = None
        data = b""
        if stat.st_size > self.max_file_bytes:
            error = (
                f"is {stat.st_size / 1e6:.1f} MB, over the {self.max_file_bytes / 1e6:.0f} MB limit "
                "([knowledge] max_file_mb); split it into smaller files"
            )
        else:
            try:
                data = file.read_bytes()
            except OSError as exc:
                error = f"cannot be read: {exc.strerror}"
        digest = hashlib.sha256(data).hexdigest() if error is None else f"error:{stat.st_mtime_ns}"
        if before is not None and before.sha256 == digest and before.folder_audience == folders.key(relative):
            touched.append((relative, stat.st_mtime_ns))  # saved again without changes
            report.unchanged += 1
            return
        meta: dict[str, object] = {}
        chunks = []
        if isinstance(folder_audience, AudienceError):
            error = f"is in a folder whose {folder_audience}; fix it to index the folder"
        if error is None:
            try:
                document = read_document(self.folder, file, data, include_root=self.include_root)
                if isinstance(folder_audience, tuple) and folder_audience and not document.audience:
                    document = replace(document, audience=folder_audience)
                for warning in document.warnings:
                    report.warnings.append((relative, warning))
                    log.warning("knowledge file %s %s", relative, warning)
                chunks = chunk_document(document, site=self.site)
                meta = {
                    "title": document.title,
                    "url": document.url,
                    "visibility": str(document.visibility),
                    "tags": document.tags,
                    "audience": document.audience,
                }
            except DocumentError as exc:
                error = str(exc)
            except Exception as exc:  # a parser bug on one odd file must not stop the folder
                log.exception("unexpected error reading %s", relative)
                error = f"could not be parsed ({type(exc).__name__}); please report this file"
        if error is not None:
            report.failed.append((relative, error))
            log.warning("knowledge file %s %s", relative, error)
        self.index.replace_file(relative, chunks)
        report.chunks += len(chunks)
        (report.updated if before is not None else report.added).append(relative)
        pending.append(
            (
                FileRecord(
                    path=relative,
                    sha256=digest,
                    size=stat.st_size,
                    mtime_ns=stat.st_mtime_ns,
                    chunks=len(chunks),
                    error=error,
                    folder_audience=folders.key(relative),
                ),
                meta,
                [(c.id, text_hash(embedding_text(c.title, c.heading, c.text))) for c in chunks]
                if self.embeddings
                else None,
            )
        )

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
        passages, chunks = self.index.search(
            terms, scope, max(k, RERANK_CANDIDATES) if hybrid is not None else k, audiences=audiences
        )
        if not passages:
            return SearchResult(passages=(), confidence=0.0)
        passages = titled_first(query, passages)
        evidence = self.assess(query, terms, passages[0], chunks)
        sure = confidence(evidence)
        if hybrid is not None:
            vectors = self.catalog.vectors_for_chunks(hybrid.model, [p.chunk_id for p in passages])
            passages = rerank(passages, vectors, hybrid)[:k]
        return SearchResult(
            passages=tuple(passages),
            confidence=sure,
            hints=RetrievalHints(term_weights=self._word_weights(query, terms), reranked=hybrid is not None),
        )

    def assess(self, query: str, terms: Terms, best: Passage, chunks: int) -> Evidence:
        """What the search says about whether `best` answers `query` (analysed: `terms`)."""
        found = tokenize(f"{best.title} {best.heading}\n{best.text}")
        heading_words = set(analyze(f"{best.title} {best.heading}"))
        asked = [w for w in topic_words(query) if w not in QUESTION_WORDS]
        topic = [w for w in terms.words if w not in QUESTION_WORDS]
        word_idf = self.index.idf(topic)
        bigram_idf = self.index.idf(terms.bigrams, "bigram")
        return Evidence(
            korean=bool(terms.bigrams),
            top_score=best.score,
            chunks=chunks,
            query_terms=len(terms),
            word_coverage=coverage(topic, set(found.words), word_idf),
            bigram_coverage=coverage(terms.bigrams, set(found.bigrams), bigram_idf),
            absent=absent_share(topic, word_idf, chunks),
            reach=best.score / self.index.best_possible(word_idf, bigram_idf),
            heading_match=heading_covers(asked, heading_words),
            unknown_name=any(self._unknown(name, chunks) for name in names(query, bool(terms.bigrams))),
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

    def _word_weights(self, query: str, terms: Terms) -> dict[str, float]:
        """The corpus IDF of each question word, for choosing what to quote. Korean words are
        not indexed as words (search uses their bigrams), so a Korean word weighs the mean IDF
        of its character bigrams: a rare compound outweighs a common one, as in English."""
        weights = self.index.idf(terms.words)
        korean = [w for w in topic_words(query) if _HANGUL_WORD.match(w) and w not in weights]
        if korean:
            grams = {w: char_bigrams(w) for w in korean}
            idf = self.index.idf(sorted({g for gs in grams.values() for g in gs}), "bigram")
            for word, gs in grams.items():
                weights[word] = sum(idf[g] for g in gs) / len(gs)
        return weights

    def _unknown(self, name: str, chunks: int) -> bool:
        """No passage uses any of the words of `name`."""
        words = analyze_query(name).words
        return bool(words) and absent_share(words, self.index.idf(words), chunks) >= 0.999

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
