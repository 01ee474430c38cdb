"""What a model is given to answer from: the best passages, widened to whole sections, within a token budget.

A chunk is cut to fit the index, not the reader: the how-to a question needs is often the
code block one chunk further down the same section. So the model gets the retrieved
passages best first, each section once, and then, while the budget allows, each one
widened to its whole section (the knowledge base joins its chunks). Breadth comes first:
the right passage ranked eighth is worth more than the rest of the first one's section.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.answering.prompt import estimate_tokens
from bot.types import Passage


def fit_sections(sections: Sequence[tuple[Passage, Passage]], budget_tokens: int) -> tuple[Passage, ...]:
    """From (matched chunk, whole section) pairs, best first, the passages to send."""
    chosen: list[int] = []
    used = 0
    for i, (matched, _) in enumerate(sections):
        cost = estimate_tokens(matched.text)
        if used + cost <= budget_tokens:
            chosen.append(i)
            used += cost
    sent = {i: sections[i][0] for i in chosen}
    for i in chosen:
        matched, whole = sections[i]
        extra = estimate_tokens(whole.text) - estimate_tokens(matched.text)
        if extra > 0 and used + extra <= budget_tokens:
            sent[i] = whole
            used += extra
    return tuple(sent[i] for i in chosen)
