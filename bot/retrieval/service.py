"""The knowledge base as the async core uses it: one thread for the index, and the vector cache.

The tantivy index and the catalog are not safe for concurrent writes, and reading them is
CPU work that must not block the event loop, so every call into the KnowledgeBase runs on
one dedicated thread, in order. Hybrid retrieval (bot/retrieval/embeddings.py) is driven
from here too: the question is embedded on the event loop, the cache is filled after each
sync, and the first search after start waits for the first pass over the cache.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.retrieval.embeddings import QUERY_DEADLINE_SECONDS, Embeddings
from bot.retrieval.knowledge import KnowledgeBase
from bot.retrieval.knowledge_report import KnowledgeSummary, SyncReport
from bot.retrieval.vectors import EmbeddingReport, QueryVector
from bot.types import DocVisibility, Passage, SearchResult

if TYPE_CHECKING:
    from bot.ports import Embedder

log = logging.getLogger(__name__)

T = TypeVar("T")
Sections = tuple[tuple[Passage, Passage], ...]  # (passage, its whole section), each section once


class KnowledgeService:
    def __init__(
        self, base: KnowledgeBase, *, embedder: Embedder | None = None, model_timeout: float | None = None
    ) -> None:
        self.base = base
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supportbot-knowledge")
        deadline = min(QUERY_DEADLINE_SECONDS, model_timeout or QUERY_DEADLINE_SECONDS)
        # hybrid retrieval; None: BM25 alone
        self.embeddings = Embeddings(embedder, query_deadline=deadline) if embedder is not None else None
        self._first_embedding: asyncio.Future[EmbeddingReport | None] | None = None

    @property
    def folder(self) -> Path:
        return self.base.folder

    async def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the knowledge thread, the only one that touches the index."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    async def search(
        self,
        question: str,
        scope: DocVisibility,
        k: int = 10,
        *,
        audiences: frozenset[str] | None = frozenset(),
    ) -> SearchResult:
        """`audiences`: the asker's (KnowledgeBase.search); None for staff tools that see all."""
        vector = await self._query_vector(question)
        return await self.run(
            partial(self.base.search, question, scope, k, query_vector=vector, audiences=audiences)
        )

    async def search_widened(
        self,
        question: str,
        scope: DocVisibility,
        k: int,
        *,
        widen: int,
        audiences: frozenset[str] | None = frozenset(),
    ) -> tuple[SearchResult, Sections]:
        """`search`, and the whole sections of its first `widen` passages (`sections`), in one
        trip to the knowledge thread: an answer always needs both, and each hop wakes that
        thread and then the event loop."""
        vector = await self._query_vector(question)

        def both() -> tuple[SearchResult, Sections]:
            result = self.base.search(question, scope, k, query_vector=vector, audiences=audiences)
            return result, self.base.sections(result.passages[:widen])

        return await self.run(both)

    async def _query_vector(self, question: str) -> QueryVector | None:
        """The question's embedding for hybrid retrieval; None when it is off."""
        if self.embeddings is None:
            return None
        if self._first_embedding is None:
            await asyncio.shield(self.start_embedding())  # the first question waits for the cache
        return await self.embeddings.embed_query(question)

    async def sections(self, passages: Sequence[Passage]) -> Sections:
        return await self.run(partial(self.base.sections, passages))

    async def reindex(self, only: Collection[str] | None = None) -> SyncReport:
        """Sync the index with the folder; `only`: just these changed paths (a watcher's)."""
        report = await self.run(partial(self.base.sync, only=only))
        report.embeddings = await self.sync_embeddings()
        return report

    async def sync_embeddings(self) -> EmbeddingReport | None:
        """Embed the passages that have no vector yet (after a sync); None without embeddings.
        An endpoint failure is logged and reported, never raised."""
        if self.embeddings is None:
            return None
        return await self.embeddings.sync_cache(self.base, self.run)

    def start_embedding(self) -> asyncio.Future[EmbeddingReport | None]:
        """The first pass over the vector cache after start, begun once: the first search
        awaits it; `supportbot run` starts it in the background so no question waits."""
        if self._first_embedding is None:
            self._first_embedding = asyncio.ensure_future(self._first_pass())
        return self._first_embedding

    async def _first_pass(self) -> EmbeddingReport | None:
        try:
            return await self.sync_embeddings()
        except Exception:  # a boundary: without vectors, search still works with BM25
            log.exception("filling the embeddings cache failed; keyword search only until the next reindex")
            return None

    async def summary(self) -> KnowledgeSummary:
        return await self.run(self.base.summary)

    async def write(self, writer: Callable[[Path, date], str], today: date) -> str:
        """Write a new file into the folder with `writer(folder, today)`; returns its path."""
        return await self.run(partial(writer, self.base.folder, today))

    async def remove(self, path: str) -> None:
        await self.run((self.base.folder / path).unlink)

    def close(self) -> None:
        self._thread.shutdown(wait=True)

    async def aclose(self) -> None:
        if self._first_embedding is not None and not self._first_embedding.done():
            self._first_embedding.cancel()
            await asyncio.gather(self._first_embedding, return_exceptions=True)
        if self.embeddings is not None:
            await self.embeddings.close()
