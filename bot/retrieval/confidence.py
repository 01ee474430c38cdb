"""Retrieval confidence in [0, 1): what decides between answering and handing over.

c = s1 / ln(N) / sqrt(q): the best chunk's BM25 score, divided by ln(N) (BM25's IDF, and so
its scores, grow with the size of the index) and by the square root of the number of
distinct query terms (a long question piles up score without matching any better). It is
squashed to c / (c + C0), with C0 the value of c that sits on the threshold 0.5, chosen on
the dev eval sets' 20% hold-outs (the one value that maximises the worst of the six
answered / abstained rates). Other features measured (coverage of the query's IDF by the
top passage, margin to the second, a logistic mix of them) separated no better; see the
README's measurements.
"""

from __future__ import annotations

import math

C0 = 0.961
THRESHOLD = 0.5  # the default [answer] confidence_threshold; C0 puts the calibrated boundary here


def confidence(top_score: float, chunks: int, query_terms: int) -> float:
    if top_score <= 0 or query_terms <= 0:
        return 0.0
    c = top_score / math.log(max(chunks, 2)) / math.sqrt(query_terms)
    return c / (c + C0)
