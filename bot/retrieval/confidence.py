"""Retrieval confidence in [0, 1]. PROVISIONAL: replaced by the measured formula."""

from __future__ import annotations

from collections.abc import Sequence

from bot.types import Passage


def confidence(terms: Sequence[str], idf: dict[str, float], passages: Sequence[Passage]) -> float:
    if not passages or not idf:
        return 0.0
    best = sum(idf.values()) * 2.2 * 2
    return max(0.0, min(1.0, passages[0].score / best))
