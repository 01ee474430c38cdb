"""What a model is given to answer from: whole sections, best first, within a token budget.

A chunk is cut to fit the index, not the reader: the how-to a question needs is often the
code block one chunk further down the same section. So the model gets each retrieved
passage's whole section (the knowledge base joins its chunks), best first and each once,
as long as it fits `budget_tokens`; a section too long for what is left of the budget is
given as just the chunk that matched.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.answering.prompt import estimate_tokens
from bot.types import Passage


def fit_sections(sections: Sequence[tuple[Passage, Passage]], budget_tokens: int) -> tuple[Passage, ...]:
    """From (matched chunk, whole section) pairs, best first, the passages to send."""
    chosen: list[Passage] = []
    used = 0
    for matched, whole in sections:
        for candidate in (whole, matched):
            cost = estimate_tokens(candidate.text)
            if used + cost <= budget_tokens:
                chosen.append(candidate)
                used += cost
                break
    return tuple(chosen)
