"""When two questions are the same question, and grouping questions into clusters.

This module owns the measure that bursts, knowledge-gap clusters and known-issue notices share:
`signature` (what is stored per question), `similarity` / `similar`, `best_match` (assigning a
new question to an existing cluster) and `cluster` (grouping a set).

Two signals, both cheap and both already computed when a question is answered:
- the words: the analysed content terms of the question (retrieval's analyser, so English
  stems and Korean character bigrams), without the question words ("how", "what"...), which
  say how something is asked, not what. Compared by Jaccard overlap;
- the retrieval neighbourhood: the passages the index ranked first for it, each weighted by
  how far its BM25 score stands above the first passage left out (score minus the score of
  passage NEIGHBOURS + 1, normalised to sum 1). Paraphrases that share few words usually land
  on the same passages; the scores say how sure retrieval was of each, so two near-tied
  passages weigh nearly alike (ranks 1 and 2 weighed 1 and 1/2 whatever the scores), and a
  question whose best passage stands far ahead is about that passage. Compared by cosine.
  Signatures without scores (stored before they were kept) weigh the passages 1/rank.

The similarity is a weighted mean of the two; the weight and the threshold were chosen by
5-fold cross-validation over question groups (`python -m bench.clusters`), requiring pairwise
precision >= 0.9 on the training folds. Against rank-weighted Jaccard of the top 5 ids (the
previous version), the score-weighted neighbourhood raised recall at that precision on every
clustering tried (average linkage, leader, pairwise); bench/README.md has the figures. IDF
word weights, document-level neighbours, softmax weights and pseudo-relevance-feedback term
expansion did no better in trial runs on the same set, so the signature stays a set of terms
and a short list of (passage id, weight): compact, self-contained (no index needed to compare).

Clustering is average linkage: two groups merge only when their members are similar *on
average*, so a chain of near pairs (A~B, B~C, A and C unrelated) does not become one cluster,
which leader or single-linkage clustering allows. A false merge is what costs (a wrong alert,
a wrong notice), so precision comes first.
"""

from __future__ import annotations

import heapq
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.retrieval.confidence import QUESTION_WORDS
from bot.retrieval.tokenize import analyze_query

# passages kept per question; the next one's score is the floor their weights stand on, so the
# caller passes NEIGHBOURS + 1 scores (8 to 15 measured alike; 9 keeps that within the 10
# passages an answer always retrieves)
NEIGHBOURS = 9
WORDS_WEIGHT = 0.5  # share of the words in the similarity; the rest is the neighbourhood
SIMILAR = 0.48  # chosen by cross-validation in bench/clusters.py
_DIGITS = 3  # stored weights are rounded: enough for a cosine, and short in JSON


def _rank_weight(rank: int) -> float:
    return 1.0 / (rank + 1)


@dataclass(frozen=True, kw_only=True)
class Signature:
    """What a question is about, in a form that can be stored and compared."""

    terms: frozenset[str]
    neighbours: tuple[str, ...]  # passage ids, best first
    # each neighbour's share of the retrieval evidence (sums to 1); empty when the scores were
    # not kept (older signatures), and then each weighs 1/rank
    weights: tuple[float, ...] = ()
    # derived once, for cheap comparisons: passage id -> weight scaled to unit length
    _near: dict[str, float] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        weights = self.weights if len(self.weights) == len(self.neighbours) else ()
        near: dict[str, float] = {}
        for rank, chunk in enumerate(self.neighbours):
            weight = weights[rank] if weights else _rank_weight(rank)
            near[chunk] = near.get(chunk, 0.0) + weight  # a repeated id: one passage, its weights summed
        norm = math.sqrt(sum(w * w for w in near.values()))
        object.__setattr__(
            self, "_near", {chunk: w / norm for chunk, w in near.items() if w > 0.0} if norm else {}
        )

    def to_json(self) -> str:
        data: dict[str, object] = {"terms": sorted(self.terms), "neighbours": list(self.neighbours)}
        if self.weights:
            data["weights"] = list(self.weights)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Signature:
        data = json.loads(text or "{}")
        return cls(
            terms=frozenset(str(t) for t in data.get("terms", ())),
            neighbours=tuple(str(n) for n in data.get("neighbours", ())),
            weights=tuple(float(w) for w in data.get("weights", ())),
        )


def neighbour_weights(scores: Sequence[float]) -> tuple[float, ...]:
    """The first NEIGHBOURS `scores` (retrieval's, best first) as shares of the evidence: each
    one's margin over the score of the first passage left out (0 when retrieval found no more:
    an unmatched passage scores 0), normalised to sum 1. All tied: equal shares."""
    kept = [max(0.0, float(s)) if math.isfinite(s) else 0.0 for s in scores[:NEIGHBOURS]]
    floor = max(0.0, float(scores[NEIGHBOURS])) if len(scores) > NEIGHBOURS else 0.0
    margins = [max(0.0, s - floor) for s in kept]
    total = sum(margins)
    if not kept:
        return ()
    if total <= 0.0:
        return tuple(round(1.0 / len(kept), _DIGITS) for _ in kept)
    return tuple(round(m / total, _DIGITS) for m in margins)


def signature(question: str, neighbours: Sequence[str], *, scores: Sequence[float] = ()) -> Signature:
    """`neighbours`: the chunk ids retrieval returned for `question`, best first; `scores`:
    their retrieval scores, in the same order, and if there is one the score of the passage
    after the last neighbour kept (NEIGHBOURS + 1 in all). Without scores the neighbours
    weigh 1/rank (what signatures stored before scores were kept do)."""
    terms = analyze_query(question)
    kept = tuple(neighbours[:NEIGHBOURS])
    weights = neighbour_weights(scores) if len(scores) >= len(kept) else ()
    return Signature(
        terms=frozenset(w for w in terms.words if w not in QUESTION_WORDS) | frozenset(terms.bigrams),
        neighbours=kept,
        weights=weights[: len(kept)] if kept else (),
    )


def word_overlap(a: Signature, b: Signature) -> float:
    """Jaccard overlap of the terms, in [0, 1]."""
    if not a.terms or not b.terms:
        return 0.0
    shared = len(a.terms & b.terms)
    return shared / (len(a.terms) + len(b.terms) - shared)


def neighbour_overlap(a: Signature, b: Signature) -> float:
    """Cosine of the two neighbourhoods' passage weights, in [0, 1]: 1 when both put the same
    shares on the same passages, 0 when they share none."""
    small, large = (a._near, b._near) if len(a._near) <= len(b._near) else (b._near, a._near)
    shared = 0.0
    for chunk, weight in small.items():
        other = large.get(chunk)
        if other is not None:
            shared += weight * other
    return min(1.0, shared)


def similarity(a: Signature, b: Signature) -> float:
    """In [0, 1]. When neither question found any passage (nothing in the knowledge matched
    it), the neighbourhood says nothing, and the words decide alone."""
    words = word_overlap(a, b)
    if not a.neighbours and not b.neighbours:
        return words
    return WORDS_WEIGHT * words + (1.0 - WORDS_WEIGHT) * neighbour_overlap(a, b)


def similar(a: Signature, b: Signature, threshold: float = SIMILAR) -> bool:
    return similarity(a, b) >= threshold


def best_match(sig: Signature, candidates: Sequence[Signature], threshold: float = SIMILAR) -> int | None:
    """Index of the candidate most similar to `sig`, if it is at least `threshold` (the first
    such on ties), else None: where a new question joins existing clusters' representatives."""
    best: int | None = None
    best_score = threshold
    for i, candidate in enumerate(candidates):
        score = similarity(sig, candidate)
        if score > best_score or (best is None and score >= best_score):
            best, best_score = i, score
    return best


def _pairs(signatures: Sequence[Signature]) -> dict[tuple[int, int], float]:
    """Similarity of every pair (i < j) that shares a term or a passage; any other pair's is
    0 (or, both without passages and sharing no term, also 0). An inverted index finds them,
    so a large set of unrelated questions costs far less than comparing every pair."""
    postings: dict[str, list[int]] = defaultdict(list)
    for i, sig in enumerate(signatures):
        for key in sig.terms:
            postings["w:" + key].append(i)
        for key in sig._near:
            postings["n:" + key].append(i)
    candidates: set[tuple[int, int]] = set()
    for members in postings.values():
        for x, i in enumerate(members):
            candidates.update((i, j) for j in members[x + 1 :])
    out: dict[tuple[int, int], float] = {}
    for i, j in sorted(candidates):
        score = similarity(signatures[i], signatures[j])
        if score > 0.0:
            out[(i, j)] = score
    return out


def cluster(signatures: Sequence[Signature], threshold: float = SIMILAR) -> list[list[int]]:
    """Groups of indices into `signatures`, largest first (ties: smallest index first). Each
    group's first index is its representative: the member most similar on average to the
    others (ties: the earliest); the rest follow in order. Average linkage: the closest two
    groups merge while their mean pairwise similarity is at least `threshold`. Deterministic:
    the same input gives the same groups."""
    n = len(signatures)
    pairs = _pairs(signatures)
    # link[a][b]: the sum of similarities between the members of groups a and b (a group is
    # named by its smallest index); absent means 0
    link: dict[int, dict[int, float]] = defaultdict(dict)
    for (i, j), score in pairs.items():
        link[i][j] = score
        link[j][i] = score
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    heap = [(-score, i, j) for (i, j), score in pairs.items() if score >= threshold]
    heapq.heapify(heap)
    while heap:
        negative, a, b = heapq.heappop(heap)
        if a not in members or b not in members:
            continue  # one of them has merged since: its entry is stale
        current = link[a].get(b, 0.0) / (len(members[a]) * len(members[b]))
        if current != -negative:
            continue  # stale: a newer entry for this pair is in the heap (or none qualifies)
        members[a] = sorted(members[a] + members.pop(b))
        # the merged group's sum with every other group is the sum of the two
        for other, score in link.pop(b).items():
            if other == a:
                continue
            link[a][other] = link[a].get(other, 0.0) + score
            del link[other][b]
            link[other][a] = link[a][other]
        link[a].pop(b, None)
        for other, total in link[a].items():
            mean = total / (len(members[a]) * len(members[other]))
            if mean >= threshold:
                heapq.heappush(heap, (-mean, min(a, other), max(a, other)))
    groups = [_representative_first(group, pairs) for group in members.values()]
    return sorted(groups, key=lambda g: (-len(g), min(g)))


def _representative_first(group: list[int], pairs: dict[tuple[int, int], float]) -> list[int]:
    if len(group) <= 2:
        return group
    totals = {i: sum(pairs.get((min(i, j), max(i, j)), 0.0) for j in group if j != i) for i in group}
    best = max(group, key=lambda i: (totals[i], -i))
    return [best, *(i for i in group if i != best)]
