"""The clusterers bench/clusters.py compares: the shipped one and the alternatives it is measured
against (the previous average linkage, the two signals crossed with both linkages, gaps.py's
placement, the plain-Jaccard anchor). Each maps (questions, words weight) to the groups at every
threshold of THRESHOLDS, from one clustering run where the linkage allows it.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from bot.insights import similarity as sim
from bot.retrieval.tokenize import analyze_query

THRESHOLDS = [round(0.2 + 0.01 * i, 2) for i in range(71)]  # 0.20 .. 0.90
# (questions, weight) -> {threshold: groups}: one clustering run gives every threshold
Clusterer = Callable[[Sequence[int], float], dict[float, list[list[int]]]]


@contextmanager
def words_weight(weight: float) -> Iterator[None]:
    """similarity() reads the module constant: set it for one evaluation."""
    shipped = sim.WORDS_WEIGHT
    sim.WORDS_WEIGHT = weight
    try:
        yield
    finally:
        sim.WORDS_WEIGHT = shipped


def product(signatures: Sequence[sim.Signature]) -> Clusterer:
    """The shipped `cluster()`: complete linkage of `similarity()` (sim.merges, then cut)."""

    def run(questions: Sequence[int], weight: float) -> dict[float, list[list[int]]]:
        with words_weight(weight):
            done = sim.merges([signatures[i] for i in questions], THRESHOLDS[0])
        return {t: [[questions[i] for i in g] for g in sim.cut(len(questions), done, t)] for t in THRESHOLDS}

    return run


def previous_similarity(a: sim.Signature, b: sim.Signature, weight: float) -> float:
    """The version before: Jaccard of whole terms with the same neighbourhood cosine."""
    words = sim.term_jaccard(a, b)
    if not a.neighbours and not b.neighbours:
        return words
    return weight * words + (1.0 - weight) * sim.neighbour_overlap(a, b)


def average_merges(n: int, pairs: dict[tuple[int, int], float], floor: float) -> list[tuple[float, int, int]]:
    """Average linkage down to `floor` (the previous cluster()): two groups merge while the
    mean similarity of their cross pairs is at least it; merges in order, as sim.merges gives."""
    link: dict[int, dict[int, float]] = defaultdict(dict)  # sums of the cross pairs
    for (i, j), value in pairs.items():
        link[i][j] = link[j][i] = value
    size = dict.fromkeys(range(n), 1)
    heap = [(-value, i, j) for (i, j), value in pairs.items() if value >= floor]
    heapq.heapify(heap)
    done: list[tuple[float, int, int]] = []
    while heap:
        negative, a, b = heapq.heappop(heap)
        if a not in size or b not in size or link[a].get(b, 0.0) / (size[a] * size[b]) != -negative:
            continue
        done.append((-negative, a, b))
        size[a] += size.pop(b)
        for other, value in link.pop(b).items():
            if other != a:
                link[a][other] = link[a].get(other, 0.0) + value
                del link[other][b]
                link[other][a] = link[a][other]
        link[a].pop(b, None)
        for other, total in link[a].items():
            mean = total / (size[a] * size[other])
            if mean >= floor:
                heapq.heappush(heap, (-mean, min(a, other), max(a, other)))
    return done


def linkage(
    signatures: Sequence[sim.Signature],
    measure: Callable[[sim.Signature, sim.Signature, float], float],
    *,
    complete: bool,
) -> Clusterer:
    """Complete (sim's own merge loop) or average linkage of any `measure`: to compare signals
    and linkages apart."""

    def run(questions: Sequence[int], weight: float) -> dict[float, list[list[int]]]:
        n = len(questions)
        sigs = [signatures[i] for i in questions]
        pairs = {}
        for x in range(n):
            for y in range(x + 1, n):
                if sim.may_be_similar(sigs[x], sigs[y]):
                    value = measure(sigs[x], sigs[y], weight)
                    if value > 0.0:
                        pairs[(x, y)] = value
        merge = sim._merges if complete else average_merges
        done = merge(n, pairs, THRESHOLDS[0])
        return {t: [[questions[i] for i in g] for g in sim.cut(n, done, t)] for t in THRESHOLDS}

    return run


def product_similarity(a: sim.Signature, b: sim.Signature, weight: float) -> float:
    with words_weight(weight):
        return sim.similarity(a, b)


def placed(signatures: Sequence[sim.Signature]) -> Clusterer:
    """How bot/insights/gaps.py groups: in order, each question joins the group whose first
    question it is most similar to (`best_match`), or starts one."""

    def run(questions: Sequence[int], weight: float) -> dict[float, list[list[int]]]:
        out = {}
        with words_weight(weight):
            for t in THRESHOLDS:
                groups: list[list[int]] = []
                firsts: list[sim.Signature] = []
                for i in questions:
                    match = sim.best_match(signatures[i], firsts, t)
                    if match is None:
                        groups.append([i])
                        firsts.append(signatures[i])
                    else:
                        groups[match].append(i)
                out[t] = groups
        return out

    return run


def anchor(texts: Sequence[str]) -> Clusterer:
    """Plain Jaccard of analyze_query's terms, leader clustering: the provisional first version."""
    terms = []
    for text in texts:
        t = analyze_query(text)
        terms.append(frozenset(t.words) | frozenset(t.bigrams))

    def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
        return len(a & b) / len(a | b) if a and b else 0.0

    def run(questions: Sequence[int], weight: float) -> dict[float, list[list[int]]]:
        out = {}
        for t in THRESHOLDS:
            groups: list[list[int]] = []
            for i in questions:
                for g in groups:
                    if jaccard(terms[g[0]], terms[i]) >= t:
                        g.append(i)
                        break
                else:
                    groups.append([i])
            out[t] = groups
        return out

    return run
