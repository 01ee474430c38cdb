"""When two questions are the same question, and grouping questions into clusters.

This module owns the measure that bursts, knowledge-gap clusters and known-issue notices share:
`signature` (what is stored per question), `similarity` / `similar`, `best_match` (assigning a
new question to an existing cluster) and `cluster` (grouping a set).

Two signals, both cheap and both already computed when a question is answered:
- the words: the analysed content terms of the question (retrieval's analyser, so English
  stems and Korean character bigrams), without the question words ("how", "what"...), which
  say how something is asked, not what. Compared by the cosine of their character 3- to
  5-grams (each term padded with spaces), so a typo, a compound written apart or an
  inflection the stemmer misses ("archived" / "archiving", "e-mail" / "mails") still counts
  in part, where a set overlap of whole terms counts nothing;
- the retrieval neighbourhood: the passages the index ranked first for it, each weighted by
  how far its BM25 score stands above the first passage left out (score minus the score of
  passage NEIGHBOURS + 1, normalised to sum 1). Paraphrases that share few words usually land
  on the same passages; the scores say how sure retrieval was of each. Compared by cosine.
  Signatures without scores (stored before they were kept) weigh the passages 1/rank.

The similarity is a weighted mean of the two. Clustering is complete linkage: two groups merge
only when *every* pair across them is similar, so a cluster never holds two questions that are
not similar themselves (the same test bursts and best_match apply to one pair), and a chain of
near pairs (A~B, B~C, A and C unrelated) never becomes one cluster. A false merge is what costs
(a wrong alert, a wrong notice), so precision comes first.

The weight and the threshold were chosen by 5-fold cross-validation over question groups on
stackfaq_en (`python -m bench.clusters`, which prints the fitted and held-out figures per fold,
over repeated random splits and against the previous version: Jaccard of whole terms, average
linkage). The rule: the highest threshold whose recall still meets the requirement (0.6), so
everything beyond it goes to precision. Recall is what every group in a sample informs; a
sample's precision depends on whether it happens to hold look-alike questions about one
feature, and the former rule (the most recall with precision >= 0.9) let a sample holding few
pull the threshold down to 0.2, under which the look-alikes then merged. On all 252 questions
clustered at once (every other group a possible false merge) no threshold gives both
precision 0.9 and recall 0.6: there this one gives 0.874 / 0.606. IDF weights of the words
(from the questions themselves, or from the index), n-gram Jaccard, a weighted Jaccard or the
shared mass of the neighbourhoods, a geometric mean of the two signals, a wider or differently
weighted neighbourhood, document-level neighbours, and a logistic model over several of these
signals did no better held-out. A mutual-k-nearest-neighbour graph did far better there, but
only with k = 3 on a set whose paraphrase groups all have 4 questions: under complete linkage
it caps a cluster at k + 1 questions, and a burst needs 5 askers or more.
"""

from __future__ import annotations

import heapq
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from bot.retrieval.confidence import QUESTION_WORDS
from bot.retrieval.tokenize import analyze_query

# passages kept per question; the next one's score is the floor their weights stand on, so the
# caller passes NEIGHBOURS + 1 scores (8 to 15 measured alike; 9 keeps that within the 10
# passages an answer always retrieves)
NEIGHBOURS = 9
WORDS_WEIGHT = 0.4  # share of the words in the similarity; the rest is the neighbourhood
SIMILAR = 0.49  # chosen by cross-validation in bench/clusters.py
GRAMS = (3, 4, 5)  # character n-gram lengths of the padded terms
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

    @cached_property
    def _grams(self) -> frozenset[str]:
        """The terms' character n-grams: made when first compared, since most comparisons end
        on the neighbourhoods (`_score`'s bound, `may_be_similar`'s set test) and a stored
        burst's members are read back by the hundred for a few comparisons."""
        return char_grams(self.terms)

    def to_json(self) -> str:
        data: dict[str, object] = {"terms": sorted(self.terms), "neighbours": list(self.neighbours)}
        if self.weights:
            data["weights"] = list(self.weights)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Signature:
        return cls.from_data(json.loads(text or "{}"))

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Signature:
        """From `to_json`'s object, already parsed (an element of a stored list of them)."""
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


@dataclass(frozen=True)
class Asked:
    """A question and the passages retrieval found for it (with their scores, and the next
    one's: see `signature`): what its Signature is made from, handed to the parts that may
    need it, each of which makes it only when it does."""

    text: str
    neighbours: tuple[str, ...]
    scores: tuple[float, ...] = ()

    def signature(self) -> Signature:
        return self._signature

    @cached_property
    def _signature(self) -> Signature:
        # made once: the burst watch, known-issue notices and similar tickets may each need it
        return signature(self.text, self.neighbours, scores=self.scores)


def char_grams(terms: frozenset[str]) -> frozenset[str]:
    """The character n-grams (GRAMS) of each term padded with a space on both sides: a term
    shorter than the shortest n-gram still gives one, itself padded."""
    grams: set[str] = set()
    for term in terms:
        padded = f" {term} "
        for n in GRAMS:
            grams.update(padded[i : i + n] for i in range(len(padded) - n + 1))
        if len(padded) < GRAMS[0]:
            grams.add(padded)
    return frozenset(grams)


def word_overlap(a: Signature, b: Signature) -> float:
    """Cosine of the terms' character n-gram sets, in [0, 1]: shared n-grams over the
    geometric mean of the two counts."""
    if not a._grams or not b._grams:
        return 0.0
    return len(a._grams & b._grams) / math.sqrt(len(a._grams) * len(b._grams))


def term_jaccard(a: Signature, b: Signature) -> float:
    """Jaccard overlap of the whole terms, in [0, 1]: the previous words signal, kept for
    the benchmark's comparison."""
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
    it), the neighbourhood says nothing, and the words decide alone. Otherwise two questions
    sharing no term and no passage are unrelated (0), however alike some of their spelling:
    n-grams grade the words' evidence, they do not make it up (and `may_be_similar` can then
    skip such pairs with a set test)."""
    return _score(a, b, 0.0)


def _score(a: Signature, b: Signature, floor: float) -> float:
    """`similarity(a, b)`, or some value below `floor` when the similarity is certainly below
    it. The neighbourhoods are compared first (a few dict lookups); the words can add
    WORDS_WEIGHT at most, so when even that cannot reach `floor` their n-grams (the costly
    part) are never intersected. Exact: the bound is the same sum with the words' overlap
    at its maximum, 1, and rounding is monotonic."""
    if not may_be_similar(a, b):
        return 0.0
    if not a._near and not b._near:
        return word_overlap(a, b)
    near = (1.0 - WORDS_WEIGHT) * neighbour_overlap(a, b)
    if WORDS_WEIGHT + near < floor:
        return WORDS_WEIGHT + near
    return WORDS_WEIGHT * word_overlap(a, b) + near


def may_be_similar(a: Signature, b: Signature) -> bool:
    """False when `similarity(a, b)` is 0: they share no term and no passage (and, when both
    lack passages, no character n-gram). A set test, to skip most pairs cheaply."""
    if not a.terms.isdisjoint(b.terms) or not a._near.keys().isdisjoint(b._near.keys()):
        return True
    return not a._near and not b._near and not a._grams.isdisjoint(b._grams)


def similar(a: Signature, b: Signature, threshold: float = SIMILAR) -> bool:
    return _score(a, b, threshold) >= threshold


def best_match(sig: Signature, candidates: Sequence[Signature], threshold: float = SIMILAR) -> int | None:
    """Index of the candidate most similar to `sig`, if it is at least `threshold` (the first
    such on ties), else None: where a new question joins existing clusters' representatives."""
    best: int | None = None
    best_score = threshold
    for i, candidate in enumerate(candidates):
        score = _score(sig, candidate, best_score)
        if score > best_score or (best is None and score >= best_score):
            best, best_score = i, score
    return best


class Postings:
    """Which of `signatures` may be similar to a question (`may_be_similar`), found through the
    terms, passages and (of signatures without passages) character n-grams they share instead
    of a pass over all of them: most resolved tickets or window questions share nothing with
    a given one, and a set test each is still most of a pass's cost."""

    def __init__(self, signatures: Sequence[Signature]) -> None:
        self.signatures = signatures
        self._lists: dict[str, list[int]] = defaultdict(list)
        for i, sig in enumerate(signatures):
            for key in index_keys(sig):
                self._lists[key].append(i)

    def lists(self) -> list[list[int]]:
        """The signatures sharing each key, in order: every pair that may be similar is in one."""
        return list(self._lists.values())

    def near(self, sig: Signature) -> list[int]:
        """In order, the indices of the signatures `sig` may be similar to (a superset of those
        `may_be_similar` accepts; every other one's similarity to it is 0)."""
        found: set[int] = set()
        for key in index_keys(sig):
            found.update(self._lists.get(key, ()))
        return sorted(found)


def index_keys(sig: Signature) -> list[str]:
    """What an inverted index files `sig` under: its terms and passages, and, without passages,
    its n-grams (two such signatures are compared on their words alone). Two signatures with
    no key in common are never similar (`may_be_similar`)."""
    keys = ["w:" + term for term in sig.terms] + ["n:" + chunk for chunk in sig._near]
    return keys if sig._near else keys + ["g:" + gram for gram in sig._grams]


def _pairs(signatures: Sequence[Signature]) -> dict[tuple[int, int], float]:
    """Similarity of every pair (i < j) that shares a term or a passage; any other pair's is
    0 (or, both without passages and sharing no term, also 0). An inverted index finds them,
    so a large set of unrelated questions costs far less than comparing every pair."""
    candidates: set[tuple[int, int]] = set()
    for members in Postings(signatures).lists():
        for x, i in enumerate(members):
            candidates.update((i, j) for j in members[x + 1 :])
    out: dict[tuple[int, int], float] = {}
    for i, j in sorted(candidates):
        score = similarity(signatures[i], signatures[j])
        if score > 0.0:
            out[(i, j)] = score
    return out


def merges(signatures: Sequence[Signature], floor: float = SIMILAR) -> list[tuple[float, int, int]]:
    """Complete linkage down to `floor`: the merges, in order, as (score, a, b), where a group
    is named by its smallest index, b joins a, and score is the least similarity of any pair
    across them. The closest two groups merge first, so scores never rise: the clusters at any
    threshold >= `floor` are those of the merges scoring at least it (`cut`)."""
    return _merges(len(signatures), _pairs(signatures), floor)


def _merges(n: int, pairs: dict[tuple[int, int], float], floor: float) -> list[tuple[float, int, int]]:
    # link[a][b]: the least similarity between the members of groups a and b, kept only while
    # it is at least `floor` (any pair below it, or sharing nothing, forbids the merge for good)
    link: dict[int, dict[int, float]] = defaultdict(dict)
    for (i, j), score in pairs.items():
        if score >= floor:
            link[i][j] = score
            link[j][i] = score
    alive = set(range(n))
    heap = [(-score, i, j) for (i, j), score in pairs.items() if score >= floor]
    heapq.heapify(heap)
    out: list[tuple[float, int, int]] = []
    while heap:
        negative, a, b = heapq.heappop(heap)
        if a not in alive or b not in alive or link[a].get(b) != -negative:
            continue  # stale: one of them has merged since, and its entry is gone or lower
        out.append((-negative, a, b))
        alive.discard(b)
        joined, left = link[a], link.pop(b)
        for other in set(joined) | set(left):
            if other in (a, b):
                continue
            link[other].pop(b, None)
            if other in joined and other in left:
                score = min(joined[other], left[other])
                joined[other] = link[other][a] = score
                heapq.heappush(heap, (-score, min(a, other), max(a, other)))
            else:  # some pair across the merged group and `other` is below the floor
                joined.pop(other, None)
                link[other].pop(a, None)
        joined.pop(b, None)
    return out


def cut(n: int, done: Sequence[tuple[float, int, int]], threshold: float) -> list[list[int]]:
    """The groups of indices 0..n-1 after the merges of `done` (from `merges`) that score at
    least `threshold`, each in index order."""
    parent = list(range(n))
    for score, a, b in done:
        if score < threshold:
            break
        parent[b] = a  # a and b name live groups: each is its own root when they merge
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        root = i
        while parent[root] != root:
            root = parent[root]
        groups[root].append(i)
    return list(groups.values())


def cluster(signatures: Sequence[Signature], threshold: float = SIMILAR) -> list[list[int]]:
    """Groups of indices into `signatures`, largest first (ties: smallest index first), in
    which every two questions are similar at `threshold` (complete linkage: the closest two
    groups merge while their least similar pair is). Each group's first index is its
    representative: the member most similar on average to the others (ties: the earliest);
    the rest follow in order. Deterministic: the same input gives the same groups."""
    n = len(signatures)
    pairs = _pairs(signatures)
    groups = [
        _representative_first(group, pairs) for group in cut(n, _merges(n, pairs, threshold), threshold)
    ]
    return sorted(groups, key=lambda g: (-len(g), min(g)))


def _representative_first(group: list[int], pairs: dict[tuple[int, int], float]) -> list[int]:
    if len(group) <= 2:
        return group
    totals = {i: sum(pairs.get((min(i, j), max(i, j)), 0.0) for j in group if j != i) for i in group}
    best = max(group, key=lambda i: (totals[i], -i))
    return [best, *(i for i in group if i != best)]
