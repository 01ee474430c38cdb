"""Pure helpers of hybrid retrieval: what is embedded, how vectors are stored, how they re-rank.

No I/O and no endpoint: the knowledge base uses these at sync and search time, and
`bot.retrieval.embeddings` (which talks to the endpoint) builds on them. The design, the
weights and their measurements are in that module's docstring.
"""

from __future__ import annotations

import hashlib
import math
import operator
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.types import Passage

EMBEDDING_TEXT_VERSION = "1"  # change when embedding_text changes: chunk hashes are recomputed
MAX_EMBED_CHARS = 6000  # well inside any embedding model's input limit (8k tokens at OpenAI)
RERANK_CANDIDATES = 50
VECTOR_WEIGHT = 0.5


def embedding_text(title: str, heading: str, text: str) -> str:
    """What is embedded for a chunk: where it sits, then what it says."""
    head = "\n".join(part for part in (title.strip(), heading.strip()) if part)
    return (f"{head}\n\n{text.strip()}" if head else text.strip())[:MAX_EMBED_CHARS]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pack(vector: Sequence[float]) -> bytes:
    """L2-normalise and pack as little-endian float32, so a dot product is the cosine."""
    norm = math.sqrt(math.fsum(x * x for x in vector)) or 1.0
    return struct.pack(f"<{len(vector)}f", *(x / norm for x in vector))


def unpack(blob: bytes) -> tuple[float, ...]:
    return struct.unpack(f"<{len(blob) // 4}f", blob)


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return float(sum(map(operator.mul, a, b)))


@dataclass(frozen=True, kw_only=True)
class QueryVector:
    model: str
    vector: bytes  # packed, as stored


def rerank(passages: Sequence[Passage], vectors: dict[str, bytes], query: QueryVector) -> list[Passage]:
    """BM25 candidates (best first) re-ordered by the fused score, which becomes their score."""
    if not passages or not vectors:
        return list(passages)
    q = unpack(query.vector)
    size = len(query.vector)
    cosines = {chunk_id: _dot(q, unpack(blob)) for chunk_id, blob in vectors.items() if len(blob) == size}
    if not cosines:
        return list(passages)  # vectors of another size: cached under another setup
    neutral = sum(cosines.values()) / len(cosines)
    best = max(p.score for p in passages) or 1.0
    fused = [
        replace(
            p,
            score=(1 - VECTOR_WEIGHT) * p.score / best + VECTOR_WEIGHT * cosines.get(p.chunk_id, neutral),
        )
        for p in passages
    ]
    # sorted() is stable: equal scores keep BM25's order
    return sorted(fused, key=lambda p: -p.score)


@dataclass(frozen=True, kw_only=True)
class EmbeddingReport:
    model: str
    embedded: int = 0  # texts embedded in this pass
    texts: int = 0  # distinct chunk texts in the index
    with_vectors: int = 0  # of those, how many have a vector now
    error: str | None = None  # why the pass stopped early
    seconds: float = 0.0

    def describe(self) -> str:
        text = f"Embeddings ({self.model}): {self.with_vectors} of {self.texts} passages have vectors"
        text += f", {self.embedded} newly embedded." if self.embedded else "."
        if self.error:
            text += (
                f" The endpoint failed ({self.error}); the rest use keyword search until the next reindex."
            )
        return text
