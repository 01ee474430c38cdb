"""Retrieval confidence in [0, 1): what decides between answering and handing over.

c = s1 / ln(N) / sqrt(q): the best chunk's BM25 score, divided by ln(N) (BM25's IDF, and so
its scores, grow with the size of the index) and by the square root of the number of
distinct query terms (a long question piles up score without matching any better). It is
squashed to c / (c + C0), with C0 the value of c that sits on the threshold 0.5, chosen on
the dev eval sets' 20% hold-outs (the one value that maximises the worst of the six
answered / abstained rates). Other features measured (coverage of the query's IDF by the
top passage, margin to the second, a logistic mix of them) separated no better; see the
README's measurements.

One rule is added on top: when every word of the question (at least two) appears in the
title or headings of the best passage, that passage was written to answer this question
(an FAQ entry, a how-to titled by its task), and confidence is at least HEADING_MATCH.
On the eval sets the rule never fires on a held-out question, so it changes none of the
measured rates; on FAQ-style documentation it is what makes exact questions confident.
"""

from __future__ import annotations

import math

C0 = 0.961
THRESHOLD = 0.5  # the default [answer] confidence_threshold; C0 puts the calibrated boundary here


HEADING_MATCH = 0.6


def confidence(top_score: float, chunks: int, query_terms: int, *, heading_match: bool = False) -> float:
    if top_score <= 0 or query_terms <= 0:
        return 0.0
    c = top_score / math.log(max(chunks, 2)) / math.sqrt(query_terms)
    calibrated = c / (c + C0)
    return max(calibrated, HEADING_MATCH) if heading_match else calibrated


def heading_covers(question_words: list[str], heading_words: set[str]) -> bool:
    return len(question_words) >= 2 and all(word in heading_words for word in question_words)
