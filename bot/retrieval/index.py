"""The search index: chunks in a tantivy index on disk, ranked with BM25.

Tantivy was chosen by measurement (bench/retrieval.py): over 100,000 chunks it answers in
about 1 ms (p50), updates one file in place (delete by path, add, commit) in tens of
milliseconds instead of rebuilding, and keeps its postings memory-mapped on disk rather
than in the Python heap. Text reaches it already analysed by bot/retrieval/tokenize.py and
joined by spaces, so both languages rank with one engine and documents and queries are
analysed by the same code. Each chunk has three searched fields: the passage, where it
sits (title and headings), and Korean character bigrams, each with its measured weight.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tantivy

from bot.errors import StoreError
from bot.retrieval.audience import EVERYONE, RESTRICTED
from bot.retrieval.sections import SectionKind
from bot.retrieval.tokenize import Terms, tokenize
from bot.types import DocVisibility, Passage

if TYPE_CHECKING:  # chunking is loaded by the files a sync reads, not by every search
    from bot.retrieval.chunking import Chunk

log = logging.getLogger(__name__)

WRITER_HEAP_BYTES = 64 * 1024 * 1024  # tantivy flushes a segment when its buffer fills
WORD_FIELDS = {"body": 1.0, "head": 0.75}  # the passage, and where it sits (title > headings)
# Korean character bigrams of both (Korean has no word terms: tokenize.py). Weighed like a word,
# the unfitted choice: bench/korean_retrieval.py's 5-fold cross-validation on korquad_ko gave
# held-out recall@1 / @5 0.913 / 0.990 against plain bigram BM25's 0.900 / 0.990; weights fitted
# on the training folds (0.75 in 4 folds, 0.3 in one) did no better held out (0.913 / 0.987).
# The old 0.3 with particle-stripped Korean words was fitted to these dev questions and lost
# to plain bigram BM25 on KorQuAD's hidden half. Word fields stay 1 / 0.75: English untouched.
BIGRAM_FIELDS = {"bigram": 1.0}
ANALYZER = "supportbot_ws"  # split on whitespace only: our analyzer has done the rest
STORED_ONLY = "supportbot_stored"  # makes no terms (tantivy-py indexes every text field)
MAX_SECTION_CHUNKS = 200  # a section longer than this many chunks is read in part
OVERFETCH = 3  # public searches fetch this many times k and filter (see search)
# bump with every schema change: an index of another version is rebuilt, and said so plainly
# (an upgrade), rather than found "unusable" (damage). 2: the audience field. 3: the fields
# that are only shown (title, text, url, tags, kind) no longer indexed as whole-value terms.
SCHEMA_VERSION = "3"
VERSION_FILE = "schema_version"


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for field in (*WORD_FIELDS, *BIGRAM_FIELDS):
        builder.add_text_field(field, stored=False, tokenizer_name=ANALYZER, index_option="freq")
    # filters and keys: exact values
    builder.add_text_field("path", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("visibility", stored=True, tokenizer_name="raw", index_option="basic")
    # one value per audience the chunk's document is for, or EVERYONE (bot/retrieval/audience.py)
    builder.add_text_field("audience", stored=True, tokenizer_name="raw", index_option="basic")
    # shown in answers and citations; chunk_id and heading are also looked up by exact value
    for field in ("chunk_id", "heading"):
        builder.add_text_field(field, stored=True, index_option="basic", tokenizer_name="raw")
    # stored only: a field that makes no terms costs nothing to index, where "raw" made each
    # whole passage a term (3-4x the CPU of indexing everything else, bench/retrieval.py)
    for field in ("title", "text", "url", "tags", "kind"):
        builder.add_text_field(field, stored=True, index_option="basic", tokenizer_name=STORED_ONLY)
    return builder.build()


@dataclass(frozen=True, slots=True)
class AnalysedChunk:
    """A chunk with its searched fields analysed: terms joined by spaces, as indexed."""

    chunk: Chunk
    body: str
    head: str
    bigram: str


def analyse_chunk(chunk: Chunk) -> AnalysedChunk:
    """The searched fields of `chunk`: pure, so any process can do it (bot/retrieval/reading.py)."""
    head = tokenize(f"{chunk.title} {chunk.heading}")
    body = tokenize(chunk.text)
    return AnalysedChunk(
        chunk=chunk,
        body=" ".join(body.words),
        head=" ".join(head.words),
        bigram=" ".join(head.bigrams + body.bigrams),
    )


def index_document(analysed: AnalysedChunk) -> tantivy.Document:
    """The tantivy document of one analysed chunk: its analysed fields, what is displayed, and
    who may see it (everyone, or its audiences plus the restricted marker)."""
    chunk = analysed.chunk
    document = tantivy.Document(
        body=analysed.body,
        head=analysed.head,
        bigram=analysed.bigram,
        path=chunk.path,
        visibility=chunk.visibility,
        chunk_id=chunk.id,
        title=chunk.title,
        heading=chunk.heading,
        text=chunk.text,
        url=chunk.url or "",
        tags="\n".join(chunk.tags),
        kind=str(chunk.kind),
    )
    for audience in (*chunk.audience, RESTRICTED) if chunk.audience else (EVERYONE,):
        document.add_text("audience", audience)
    return document


def _count(searcher: Any, query: Any) -> int:
    """How many live documents match `query`."""
    # SearchResult.count is tantivy-py's (count=True); its type stub leaves it out
    return int(searcher.search(query, limit=1, count=True).count or 0)


class SearchIndex:
    """A tantivy index in `directory`. Writes go through one writer; reads are lock-free."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.schema = _schema()
        self._index = self._open()
        self._writer: Any = None
        # (num_docs, num_segments) of the searcher it was counted on, and the mean
        self._mean_file_chunks: tuple[tuple[int, int], float] | None = None

    def _open(self) -> tantivy.Index:
        self.directory.mkdir(parents=True, exist_ok=True)
        marker = self.directory / VERSION_FILE
        found = marker.read_text(encoding="utf-8").strip() if marker.exists() else None
        if found != SCHEMA_VERSION and (self.directory / "meta.json").exists():
            log.info(
                "the search index format changed (%s -> %s); rebuilding it", found or "1", SCHEMA_VERSION
            )
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory.mkdir(parents=True, exist_ok=True)
        marker.write_text(SCHEMA_VERSION, encoding="utf-8")
        try:
            index = tantivy.Index(self.schema, path=str(self.directory), reuse=True)
        except ValueError:
            # a cache from another schema or a damaged one: it can always be rebuilt
            log.warning("search index at %s is unusable; rebuilding it", self.directory)
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory.mkdir(parents=True, exist_ok=True)
            index = tantivy.Index(self.schema, path=str(self.directory), reuse=False)
        # tantivy does not persist custom analyzers, so ours is registered on every open. The
        # built-in "whitespace" one also drops tokens over 40 bytes, which cuts long Korean words.
        index.register_tokenizer(
            ANALYZER, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
        )
        index.register_tokenizer(
            STORED_ONLY,
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
            .filter(tantivy.Filter.remove_long(0))
            .build(),
        )
        return index

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
        self.replace_analysed(path, [analyse_chunk(chunk) for chunk in chunks])

    def replace_analysed(self, path: str, chunks: Sequence[AnalysedChunk]) -> None:
        """Replace every chunk of `path` with `chunks` (analysed by `analyse_chunk`)."""
        writer = self._writer_or_open()
        writer.delete_documents_by_term("path", path)
        for analysed in chunks:
            writer.add_document(index_document(analysed))

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

    def _query(
        self, terms: Terms, scope: DocVisibility | None, audiences: frozenset[str] | None = None
    ) -> Any:
        occur, make = tantivy.Occur, tantivy.Query
        clauses = []
        for fields, tokens in ((WORD_FIELDS, terms.words), (BIGRAM_FIELDS, terms.bigrams)):
            for token in tokens:
                for field, boost in fields.items():
                    term = make.term_query(self.schema, field, token, index_option="freq")
                    clauses.append((occur.Should, term if boost == 1.0 else make.boost_query(term, boost)))
        query = make.boolean_query(clauses)
        # filters, not scored terms: they must not change the ranking
        filters = []
        if scope == DocVisibility.PUBLIC:
            filters.append(make.term_query(self.schema, "visibility", str(DocVisibility.PUBLIC)))
        if audiences is not None:
            seen = [make.term_query(self.schema, "audience", a) for a in (EVERYONE, *sorted(audiences))]
            filters.append(make.boolean_query([(occur.Should, term) for term in seen]))
        if filters:
            query = make.boolean_query(
                [(occur.Must, query), *((occur.Must, make.const_score_query(f, 0.0)) for f in filters)]
            )
        return query

    def search(
        self, terms: Terms, scope: DocVisibility, k: int, *, audiences: frozenset[str] | None = frozenset()
    ) -> tuple[list[Passage], int]:
        """The `k` best chunks for analysed query `terms` that `scope` and `audiences` allow,
        and how many chunks were searched. `audiences`: the asker's; a chunk whose document
        names an audience is left out unless one of them is the asker's. None: no audience
        filter (staff tools that must see every document); the default, none: everyone's only.

        Filters apply to an over-fetched unfiltered search, because a filter clause disables
        tantivy's block-max pruning and doubles latency: hits are read best first until `k`
        are allowed (a left-out hit costs one stored-document read). Only when too few of
        the best are allowed does it run the filtered query. Either way the result is the
        filtered ranking: a chunk left out is never read into a Passage."""
        searcher = self._index.searcher()
        total = int(searcher.num_docs)
        if not len(terms) or total == 0:
            return [], total
        public_only = scope == DocVisibility.PUBLIC
        # RESTRICTED marks every chunk that names an audience (deleted ones too, until merged):
        # without any, the audience filter has nothing to do and costs nothing
        audience_filter = audiences is not None and searcher.doc_freq("audience", RESTRICTED) > 0
        limit = k * OVERFETCH if public_only or audience_filter else k
        result = searcher.search(self._query(terms, None), limit=limit, count=False)
        passages = self._allowed(
            searcher, result.hits, k, public_only, audiences if audience_filter else None
        )
        if len(passages) < k and len(result.hits) == limit and limit > k:
            wanted = audiences if audience_filter else None
            result = searcher.search(self._query(terms, scope, wanted), limit=k, count=False)
            passages = self._allowed(searcher, result.hits, k, public_only, wanted)
        return passages, total

    @staticmethod
    def _allowed(
        searcher: Any, hits: Sequence[Any], k: int, public_only: bool, audiences: frozenset[str] | None
    ) -> list[Passage]:
        """The first `k` of `hits` that the scope and `audiences` (None: any) allow."""
        passages: list[Passage] = []
        for score, address in hits:
            # one conversion of the stored fields: reading them one by one costs 3x as much
            doc = searcher.doc(address).to_dict()
            if public_only and doc["visibility"][0] != DocVisibility.PUBLIC:
                continue
            if audiences is not None:
                named = doc["audience"]
                if EVERYONE not in named and audiences.isdisjoint(named):
                    continue
            passages.append(_from_doc(doc, score))
            if len(passages) == k:
                break
        return passages

    def idf(self, terms: Sequence[str], field: str = "body") -> dict[str, float]:
        """BM25's inverse document frequency of each analysed term in `field` (the passage
        words by default, or "bigram"): how much finding it says about a passage. A term no
        passage has gets the highest value."""
        searcher = self._index.searcher()
        total = int(searcher.num_docs)
        weights: dict[str, float] = {}
        for term in terms:
            df = int(searcher.doc_freq(field, term))
            weights[term] = math.log(1 + (total - df + 0.5) / (df + 0.5))
        return weights

    def file_chunks(self, path: str) -> int:
        """How many chunks the index holds of file `path`: live ones (doc_freq would also count
        the chunks an edit replaced, until their segment is merged)."""
        query = tantivy.Query.term_query(self.schema, "path", path)
        return _count(self._index.searcher(), query)

    def mean_file_chunks(self) -> float:
        """The index's chunks per file, on average: how long this folder's pages usually are.
        Counted again whenever the index changed (every file has a chunk `path#0`), whoever
        changed it: another process's sync, or another instance on the same directory."""
        searcher = self._index.searcher()
        generation = (int(searcher.num_docs), int(searcher.num_segments))
        if self._mean_file_chunks is None or self._mean_file_chunks[0] != generation:
            first = tantivy.Query.regex_query(self.schema, "chunk_id", ".*#0")
            files = _count(searcher, first)
            self._mean_file_chunks = (generation, generation[0] / files if files else 1.0)
        return self._mean_file_chunks[1]

    @staticmethod
    def best_possible(word_idf: Mapping[str, float], bigram_idf: Mapping[str, float]) -> float:
        """About the score of a passage of average length holding every query term once: with
        tf = 1 and an average length, BM25's term score is its IDF, times the field's boost."""
        words = sum(word_idf.values()) * max(WORD_FIELDS.values())
        bigrams = sum(bigram_idf.values()) * max(BIGRAM_FIELDS.values())
        return max(words + bigrams, 1e-9)

    def section(self, path: str, heading: str) -> list[Passage]:
        """Every chunk of the section `heading` of file `path`, in reading order."""
        occur, make = tantivy.Occur, tantivy.Query
        query = make.boolean_query(
            [
                (occur.Must, make.term_query(self.schema, "path", path)),
                (occur.Must, make.term_query(self.schema, "heading", heading)),
            ]
        )
        searcher = self._index.searcher()
        hits = searcher.search(query, limit=MAX_SECTION_CHUNKS, count=False).hits
        found = [_passage(searcher, 0.0, address) for _, address in hits]
        return sorted(found, key=lambda p: int(p.chunk_id.rsplit("#", 1)[1]))

    def chunk_texts(self, chunk_ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """(title, heading, text) of each of `chunk_ids` the index holds."""
        if not chunk_ids:
            return {}
        occur, make = tantivy.Occur, tantivy.Query
        query = make.boolean_query(
            [(occur.Should, make.term_query(self.schema, "chunk_id", chunk_id)) for chunk_id in chunk_ids]
        )
        searcher = self._index.searcher()
        found: dict[str, tuple[str, str, str]] = {}
        for _, address in searcher.search(query, limit=len(chunk_ids), count=False).hits:
            doc = searcher.doc(address)
            found[doc["chunk_id"][0]] = (doc["title"][0], doc["heading"][0], doc["text"][0])
        return found

    def first_passage(self, path: str) -> Passage | None:
        """The opening chunk of file `path` (its title and page link, as answers cite it), or
        None when the index does not hold that file or the file is for some audiences only (the
        onboarding welcome links it to anyone)."""
        searcher = self._index.searcher()
        query = tantivy.Query.term_query(self.schema, "chunk_id", f"{path}#0")
        hits = searcher.search(query, limit=1, count=False).hits
        if not hits or EVERYONE not in searcher.doc(hits[0][1])["audience"]:
            return None
        return _passage(searcher, 0.0, hits[0][1])


def _passage(searcher: Any, score: float, address: Any) -> Passage:
    return _from_doc(searcher.doc(address).to_dict(), score)


# stored value -> member: a look-up instead of the enum's constructor, once per hit read
_VISIBILITY = {member.value: member for member in DocVisibility}


def _from_doc(doc: Mapping[str, list[Any]], score: float) -> Passage:
    """A Passage from a stored document's fields (`Document.to_dict()`)."""
    return Passage(
        chunk_id=doc["chunk_id"][0],
        path=doc["path"][0],
        title=doc["title"][0],
        heading=doc["heading"][0],
        text=doc["text"][0],
        score=float(score),
        url=doc["url"][0] or None,
        visibility=_VISIBILITY[doc["visibility"][0]],
        tags=tuple(t for t in doc["tags"][0].split("\n") if t),
        reference=doc["kind"][0] == SectionKind.REFERENCE,
    )
