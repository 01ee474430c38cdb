"""When two questions are the same question, and grouping questions into clusters.

Two signals, both cheap and both already computed when a question is answered:
- the words: the analysed content terms of the question (retrieval's analyser, so English
  stems and Korean bigrams), compared by overlap;
- the retrieval neighbourhood: the passages the index ranked first for it. Paraphrases
  that share few words usually land on the same passages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from bot.retrieval.tokenize import analyze_query

NEIGHBOURS = 5  # passages kept per question
SIMILAR = 0.5  # provisional: chosen by cross-validation in bench/clusters.py


@dataclass(frozen=True, kw_only=True)
class Signature:
    """What a question is about, in a form that can be stored and compared."""

    terms: frozenset[str]
    neighbours: tuple[str, ...]  # passage ids, best first

    def to_json(self) -> str:
        return json.dumps(
            {"terms": sorted(self.terms), "neighbours": list(self.neighbours)}, ensure_ascii=False
        )

    @classmethod
    def from_json(cls, text: str) -> Signature:
        data = json.loads(text or "{}")
        return cls(terms=frozenset(data.get("terms", ())), neighbours=tuple(data.get("neighbours", ())))


def signature(question: str, neighbours: Sequence[str]) -> Signature:
    return Signature(
        terms=frozenset(analyze_query(question).words), neighbours=tuple(neighbours[:NEIGHBOURS])
    )


def similarity(a: Signature, b: Signature) -> float:
    """In [0, 1]: the mean of the two signals' overlaps."""
    words = len(a.terms & b.terms) / len(a.terms | b.terms) if a.terms and b.terms else 0.0
    near = (
        len(set(a.neighbours) & set(b.neighbours)) / len(set(a.neighbours) | set(b.neighbours))
        if a.neighbours and b.neighbours
        else 0.0
    )
    return (words + near) / 2


def similar(a: Signature, b: Signature, threshold: float = SIMILAR) -> bool:
    return similarity(a, b) >= threshold


def cluster(signatures: Sequence[Signature], threshold: float = SIMILAR) -> list[list[int]]:
    """Groups of indices into `signatures`, largest first; each group's first index is its
    representative. Deterministic: the same input gives the same groups."""
    groups: list[list[int]] = []
    for i, sig in enumerate(signatures):
        for group in groups:
            if similar(signatures[group[0]], sig, threshold):
                group.append(i)
                break
        else:
            groups.append([i])
    return sorted(groups, key=lambda g: (-len(g), g[0]))
