"""Hybrid retrieval: BM25 candidates re-ranked with embedding similarity, vectors cached in the index.

Turned on by `[llm] embeddings = true` with an OpenAI-compatible endpoint configured
(`Settings.embeddings_enabled`), whatever the answer mode: quoted answers can use hybrid
retrieval too. Off, nothing here runs and `openai` is never imported: the offline default
pays one `if` per file in `sync()`.

What is embedded: for each chunk, its title, heading path and text (`embedding_text`, cut
at MAX_EMBED_CHARS); for a question, the question. The `Embedder` (bot/ports/answering.py; the
OpenAI one lives in bot/answering/openai_client.py) does the network calls, batched (64
texts a request) with the client's retries.

The cache lives in the index's catalog (catalog.db: a rebuildable cache, never state.db):
- `chunks` maps each chunk id to the SHA-256 of its embedded text, written by
  `KnowledgeBase.sync()` in the same transaction as the file's row, only while embeddings
  are enabled (enabling them later costs one BM25 rebuild, no re-embedding of text that
  is already cached);
- `embeddings` holds one float32 vector (little-endian bytes, L2-normalised) per
  (model, text hash). So re-chunking, re-indexing or rebuilding an unchanged file finds
  its vectors again, identical text in two places is embedded once, and another model
  gets its own rows (the old model's are dropped at the next embedding pass).
- A sync that changes or removes files deletes the vectors no chunk refers to any more.

When vectors are computed (`Embeddings.sync_cache`): never inside `sync()`, which runs on
the knowledge thread and must not wait on the network. The core calls it after the BM25
sync: `SupportBot.reindex()`, the first search after start (or in the background when
`supportbot run` starts), and `supportbot eval` before its questions. It pages through
texts that have no vector (PAGE_SIZE at a time; reading the catalog and writing vectors
on the knowledge thread, embedding on the event loop), so progress is saved page by page
and a crash or an outage loses at most one page.

Query time (`rerank`), chosen to stay bounded at 100,000 chunks: the question is embedded
(at most QUERY_DEADLINE_SECONDS), BM25 returns its RERANK_CANDIDATES best chunks in the
channel's scope (internal chunks never enter a public search, so they cannot come back),
their cached vectors are read from SQLite by chunk id (50 rows of a few KB), and each
candidate gets

    fused = (1 - VECTOR_WEIGHT) * bm25 / bm25_best + VECTOR_WEIGHT * cosine.

No vector is held in memory between questions and no vector index is needed; the cost is
one embedding request plus 2-4 ms at 100,000 chunks (`bench/hybrid_eval.py --scale`: 50
candidates instead of 10 from tantivy, 50 SQLite rows, 50 dot products in Python). A full
vector search would need every vector in memory (100,000 x 384 floats = 150 MB, 600 MB at
1,536 dimensions) or a vector index beside tantivy, and its candidate recall is not needed
here: BM25's top 50 already held a gold document for 99-100% of the dev questions. The
limit: a passage that shares no word with the question cannot be found, as with BM25
alone. A weighted score was chosen over
Reciprocal Rank Fusion by measurement (dev sets, all-MiniLM-L6-v2): both lift the English
sets, but RRF trusts the vector ranking as much as BM25's even when the model does not
understand the language (English-only MiniLM on Korean: recall@1 0.92 -> 0.31), while raw
cosines from such a model barely differ between candidates and so barely move BM25's
order (0.923 -> 0.917). A candidate without a vector yet gets the mean cosine of the others
(no evidence either way); with no vectors at all the BM25 order stands.

Confidence stays BM25's (bot/retrieval/confidence.py, on the BM25 candidates), so the
answer/abstain decision is the same as without embeddings. Folding in the top passage's
cosine was measured on the eval hold-outs: it separated answerable from unanswerable
questions better on stackfaq_en (AUC 0.82 -> 0.90) but worse on xquad_en (0.92 -> 0.90)
and korquad_ko (0.89 -> 0.79), so it is not used.

Failure never breaks answering: an endpoint that fails or exceeds its deadline is logged,
that question is searched with BM25 alone, and query embedding pauses for
COOLDOWN_SECONDS so a dead endpoint does not slow every answer; texts left without
vectors are retried at the next reindex (or restart).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Protocol, TypeVar

from bot.errors import SupportBotError
from bot.retrieval.vectors import (
    EmbeddingReport,
    QueryVector,
    pack,
)

if TYPE_CHECKING:
    from bot.ports import Embedder
    from bot.retrieval.knowledge import KnowledgeBase  # typing only: knowledge imports the vectors, not this

log = logging.getLogger(__name__)

T = TypeVar("T")

QUERY_DEADLINE_SECONDS = 5.0
COOLDOWN_SECONDS = 30.0
PAGE_SIZE = 256  # texts read, embedded and stored per round of the cache pass


class EmbeddingsUnavailable(SupportBotError):
    """The embeddings endpoint failed (after the client's retries); the message says how."""


class OnKnowledgeThread(Protocol):
    """Runs `fn` on the core's knowledge thread (the only thread that touches the index)."""

    def __call__(self, fn: Callable[[], T], /) -> Awaitable[T]: ...


class Embeddings:
    """The core's side of hybrid retrieval: embeds questions, fills the vector cache."""

    def __init__(self, embedder: Embedder, *, query_deadline: float = QUERY_DEADLINE_SECONDS) -> None:
        self.embedder = embedder
        self.model = embedder.model
        self.query_deadline = query_deadline
        self._paused_until = 0.0
        self._lock = asyncio.Lock()  # one cache pass at a time

    def _pause(self, what: str, reason: str) -> None:
        self._paused_until = time.monotonic() + COOLDOWN_SECONDS
        log.warning(
            "embeddings endpoint failed while %s (%s); keyword search only for %.0f s",
            what,
            reason,
            COOLDOWN_SECONDS,
            extra={"event": "embeddings.unavailable"},
        )

    async def embed_query(self, question: str) -> QueryVector | None:
        """The question's packed vector, or None (endpoint paused, failed or too slow)."""
        if time.monotonic() < self._paused_until:
            return None
        try:
            async with asyncio.timeout(self.query_deadline):
                [vector] = await self.embedder.embed([question])
        except TimeoutError:
            self._pause("embedding a question", f"no answer within {self.query_deadline:g} s")
            return None
        except EmbeddingsUnavailable as exc:
            self._pause("embedding a question", str(exc))
            return None
        except Exception:  # a boundary: a broken embedder must not stop an answer
            log.exception("embedding a question failed; searching with keywords only")
            self._paused_until = time.monotonic() + COOLDOWN_SECONDS
            return None
        return QueryVector(model=self.model, vector=pack(vector))

    async def sync_cache(self, knowledge: KnowledgeBase, run: OnKnowledgeThread) -> EmbeddingReport:
        """Embed every chunk text that has no vector for this model yet. Never raises for
        an endpoint failure: it stops, keeps what was stored, and says why in the report."""
        async with self._lock:
            started = time.perf_counter()
            embedded = 0
            error: str | None = None
            catalog = knowledge.catalog
            await run(partial(catalog.prune_embeddings, keep_model=self.model))
            after = ""
            while True:
                page = await run(partial(knowledge.pending_embeddings, self.model, after, PAGE_SIZE))
                if not page:
                    break
                after = page[-1][0]
                todo = [(digest, text) for digest, text in page if text is not None]
                if not todo:
                    continue
                try:
                    vectors = await self.embedder.embed([text for _, text in todo])
                except EmbeddingsUnavailable as exc:
                    error = str(exc)
                except Exception as exc:  # a boundary, as for questions
                    log.exception("embedding passages failed")
                    error = type(exc).__name__
                if error is not None:
                    self._pause("embedding passages", error)
                    break
                rows = [(digest, len(v), pack(v)) for (digest, _), v in zip(todo, vectors, strict=True)]
                await run(partial(catalog.put_vectors, self.model, rows))
                embedded += len(rows)
            texts, with_vectors = await run(partial(catalog.embedding_counts, self.model))
            report = EmbeddingReport(
                model=self.model,
                embedded=embedded,
                texts=texts,
                with_vectors=with_vectors,
                error=error,
                seconds=time.perf_counter() - started,
            )
            if embedded or error:
                log.info(
                    "embeddings: %d embedded, %d of %d texts have vectors (%.1f s)%s",
                    embedded,
                    with_vectors,
                    texts,
                    report.seconds,
                    "; stopped: endpoint unavailable" if error else "",
                )
            return report

    async def close(self) -> None:
        await self.embedder.close()
