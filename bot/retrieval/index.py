"""The search index: chunks in a tantivy index on disk, ranked with BM25.

Tantivy was chosen by measurement (see bench/ and the README): it answers a query over
100,000 chunks in well under the 2 ms target, updates a single file in place (delete by
path, add, commit) instead of rebuilding, and keeps its postings memory-mapped on disk
rather than in the Python heap. We hand it text that our own analyzer has already
tokenized (English stems, Korean stems with particles stripped), joined by spaces and
indexed with tantivy's whitespace tokenizer, so both languages rank with one engine and
the same analysis runs on documents and queries.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tantivy

from bot.errors import StoreError
from bot.retrieval.chunking import Chunk
from bot.retrieval.tokenize import analyze
from bot.types import DocVisibility, Passage

log = logging.getLogger(__name__)

WRITER_HEAP_BYTES = 64 * 1024 * 1024  # tantivy flushes a segment when its buffer fills


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    # searched: analyzed terms, one field for the passage, one for where it sits (title, headings)
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("head", stored=False, tokenizer_name="whitespace", index_option="freq")
    # filters and keys: exact values
    builder.add_text_field("path", stored=True, tokenizer_name="raw")
    builder.add_text_field("visibility", stored=True, tokenizer_name="raw")
    # shown in answers and citations: stored only
    builder.add_text_field("chunk_id", stored=True, index_option="basic", tokenizer_name="raw")
    builder.add_text_field("title", stored=True, index_option="basic", tokenizer_name="raw")
    builder.add_text_field("heading", stored=True, index_option="basic", tokenizer_name="raw")
    builder.add_text_field("text", stored=True, index_option="basic", tokenizer_name="raw")
    builder.add_text_field("url", stored=True, index_option="basic", tokenizer_name="raw")
    builder.add_text_field("tags", stored=True, index_option="basic", tokenizer_name="raw")
    return builder.build()


@dataclass(frozen=True, kw_only=True)
class Hit:
    passage: Passage
    score: float


class SearchIndex:
    """A tantivy index in `directory`. Writes go through `writer()`; reads are lock-free."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.schema = _schema()
        self._index = self._open()
        self._writer: Any = None

    def _open(self) -> tantivy.Index:
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            return tantivy.Index(self.schema, path=str(self.directory), reuse=True)
        except ValueError:
            # a cache from another schema or a damaged one: it can always be rebuilt
            log.warning("search index at %s is unusable; rebuilding it", self.directory)
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory.mkdir(parents=True, exist_ok=True)
            return tantivy.Index(self.schema, path=str(self.directory), reuse=False)

    # -- writing --------------------------------------------------------------------------

    def _writer_or_open(self) -> Any:
        if self._writer is None:
            try:
                self._writer = self._index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
            except ValueError as exc:
                if "lock" in str(exc).lower():
                    raise StoreError(
                        f"the search index in {self.directory} is being written by another supportbot "
                        "process; stop it or give this one its own --data DIR"
                    ) from None
                raise
        return self._writer

    def replace_file(self, path: str, chunks: Sequence[Chunk]) -> None:
        writer = self._writer_or_open()
        writer.delete_documents_by_term("path", path)
        for chunk in chunks:
            writer.add_document(
                tantivy.Document(
                    body=" ".join(analyze(chunk.text)),
                    head=" ".join(analyze(f"{chunk.title} {chunk.heading}")),
                    path=chunk.path,
                    visibility=chunk.visibility,
                    chunk_id=chunk.id,
                    title=chunk.title,
                    heading=chunk.heading,
                    text=chunk.text,
                    url=chunk.url or "",
                    tags="\n".join(chunk.tags),
                )
            )

    def remove_files(self, paths: Iterable[str]) -> None:
        for path in paths:
            self._writer_or_open().delete_documents_by_term("path", path)

    def clear(self) -> None:
        self._writer_or_open().delete_all_documents()

    def commit(self) -> bool:
        """Make pending writes durable and visible; False if there was nothing to commit."""
        if self._writer is None:
            return False
        self._writer.commit()
        self._writer.wait_merging_threads()
        self._writer = None  # releases the lock so other processes may write
        self._index.reload()
        return True

    def rollback(self) -> None:
        if self._writer is not None:
            self._writer.rollback()
            self._writer = None

    # -- reading --------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return int(self._index.searcher().num_docs)

    def search(
        self, terms: Sequence[str], scope: DocVisibility, k: int
    ) -> tuple[list[Hit], dict[str, float]]:
        """Rank chunks for already analyzed query `terms`; also return each term's IDF,
        which the confidence needs."""
        searcher = self._index.searcher()
        total = searcher.num_docs
        if not terms or total == 0:
            return [], {}
        clauses: list[tuple[Any, Any]] = []
        idf: dict[str, float] = {}
        for term in dict.fromkeys(terms):
            for field in ("body", "head"):
                clauses.append((tantivy.Occur.Should, tantivy.Query.term_query(self.schema, field, term)))
            df = searcher.doc_freq("body", term)
            idf[term] = _idf(df, total)
        query = tantivy.Query.boolean_query(clauses)
        if scope == DocVisibility.PUBLIC:
            # a filter, not a scored term: it must not change the ranking
            public = tantivy.Query.term_query(self.schema, "visibility", str(DocVisibility.PUBLIC))
            query = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, query),
                    (tantivy.Occur.Must, tantivy.Query.const_score_query(public, 0.0)),
                ]
            )
        result = searcher.search(query, k)
        hits = []
        for score, address in result.hits:
            doc = searcher.doc(address)
            passage = Passage(
                chunk_id=doc["chunk_id"][0],
                path=doc["path"][0],
                title=doc["title"][0],
                heading=doc["heading"][0],
                text=doc["text"][0],
                score=float(score),
                url=doc["url"][0] or None,
                visibility=DocVisibility(doc["visibility"][0]),
                tags=tuple(t for t in doc["tags"][0].split("\n") if t),
            )
            hits.append(Hit(passage=passage, score=float(score)))
        return hits, idf


def _idf(df: int, total: int) -> float:
    import math

    return math.log(1.0 + (total - df + 0.5) / (df + 0.5))
