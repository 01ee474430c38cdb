"""Question clustering on held-out folds of stackfaq_en: when two questions are "the same question".

    python -m bench.clusters                 # 5 folds
    python -m bench.clusters --folds 5 --set ../shared/eval/stackfaq_en --json out.json

What runs:
1. The product's `KnowledgeBase` indexes the set's `knowledge/` in a temporary data dir, and each
   question is searched as the bot does (`search(question, DocVisibility.INTERNAL, k)`); its
   `Signature` is `signature(question, [p.chunk_id for p in passages], scores=[p.score for p in
   passages])` (bot/insights/similarity.py), searching NEIGHBOURS + 1 passages as the bot's answers do.
2. Groups: questions whose ids share the `tNNN` part are paraphrases of one another. Pairwise scoring:
   a pair placed in the same cluster is a true positive when both are in one group. Precision = TP /
   pairs clustered together, recall = TP / pairs in the same group.
3. Folds: groups sorted by sha256 of the group id, group i in fold i % k. For each fold, the free
   constants (the words' weight and the threshold) are chosen on the other folds' questions, clustered
   together: of the settings with precision >= 0.9, the one with the most recall (ties: more precision,
   then the higher threshold). The held-out fold's questions are then clustered with them, and the
   held-out figures pool the true and false pairs over the folds. "Fitted" chooses on, and measures,
   all questions clustered together (a harder set: every other group is a possible false merge).
4. Methods: the product (`similarity.cluster`, both signals), the same with the words' weight fixed
   at 1 (words only) or 0 (neighbours only), the same without the retrieval scores (signatures stored
   before they were kept weigh their neighbours 1/rank), the product's similarity with the questions
   placed one by one as bot/insights/gaps.py places them (`best_match` against each group's first
   question), and the anchor: plain Jaccard of `analyze_query`'s terms with leader clustering (each
   question joins the first group whose first member it is similar to), the provisional first
   version, at its own cross-validated threshold.
5. Cost: `similarity()` over every pair of the set (median of 5 rounds, per pair), and `cluster()` of
   the whole set at the shipped constants (median of 5).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import EVAL, machine, table  # noqa: E402
from bot.evaluation import load_questions  # noqa: E402
from bot.insights import similarity as sim  # noqa: E402
from bot.retrieval.knowledge import KnowledgeBase  # noqa: E402
from bot.retrieval.tokenize import analyze_query  # noqa: E402
from bot.types import DocVisibility  # noqa: E402

PRECISION = 0.9  # the requirement: a false merge costs a wrong alert or notice
RECALL = 0.6
THRESHOLDS = [round(0.1 + 0.02 * i, 2) for i in range(41)]  # 0.10 .. 0.90: cosines run higher than Jaccard
# share of the words in the product's similarity: at most 0.5, so that two questions with no word
# in common but the same passages (a paraphrase) can still reach the threshold on those alone
# (0.6 / 0.42 fits as well on average linkage, but then no such pair is ever similar)
WEIGHTS = (0.3, 0.4, 0.5)
Clusterer = Callable[[Sequence[int], float, float], list[list[int]]]  # (questions, weight, threshold)


@dataclass(frozen=True)
class Counts:
    tp: int
    fp: int
    positives: int

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.positives + other.positives)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.positives if self.positives else 0.0


def score(groups: Sequence[Sequence[int]], group_of: Sequence[str], questions: Sequence[int]) -> Counts:
    tp = fp = 0
    for g in groups:
        for x, i in enumerate(g):
            for j in g[x + 1 :]:
                if group_of[i] == group_of[j]:
                    tp += 1
                else:
                    fp += 1
    sizes: dict[str, int] = {}
    for i in questions:
        sizes[group_of[i]] = sizes.get(group_of[i], 0) + 1
    return Counts(tp, fp, sum(s * (s - 1) // 2 for s in sizes.values()))


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
    def run(questions: Sequence[int], weight: float, threshold: float) -> list[list[int]]:
        with words_weight(weight):
            groups = sim.cluster([signatures[i] for i in questions], threshold)
        return [[questions[i] for i in g] for g in groups]

    return run


def placed(signatures: Sequence[sim.Signature]) -> Clusterer:
    """How bot/insights/gaps.py groups: in order, each question joins the group whose first
    question it is most similar to (`best_match`), or starts one."""

    def run(questions: Sequence[int], weight: float, threshold: float) -> list[list[int]]:
        groups: list[list[int]] = []
        firsts: list[sim.Signature] = []
        with words_weight(weight):
            for i in questions:
                match = sim.best_match(signatures[i], firsts, threshold)
                if match is None:
                    groups.append([i])
                    firsts.append(signatures[i])
                else:
                    groups[match].append(i)
        return groups

    return run


def anchor(texts: Sequence[str]) -> Clusterer:
    terms = []
    for text in texts:
        t = analyze_query(text)
        terms.append(frozenset(t.words) | frozenset(t.bigrams))

    def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
        return len(a & b) / len(a | b) if a and b else 0.0

    def run(questions: Sequence[int], weight: float, threshold: float) -> list[list[int]]:
        groups: list[list[int]] = []
        for i in questions:
            for g in groups:
                if jaccard(terms[g[0]], terms[i]) >= threshold:
                    g.append(i)
                    break
            else:
                groups.append([i])
        return groups

    return run


def folds(group_of: Sequence[str], k: int) -> list[int]:
    ordered = sorted(set(group_of), key=lambda g: hashlib.sha256(g.encode("utf-8")).hexdigest())
    fold_of = {g: i % k for i, g in enumerate(ordered)}
    return [fold_of[g] for g in group_of]


@dataclass
class Result:
    name: str
    fitted: Counts
    fitted_setting: tuple[float, float]
    held_out: Counts
    fold_settings: list[tuple[float, float]]


def choose(
    run: Clusterer, questions: Sequence[int], group_of: Sequence[str], weights: Sequence[float]
) -> tuple[tuple[float, float], Counts]:
    best: tuple[tuple[bool, float, float, float], tuple[float, float], Counts] | None = None
    for w in weights:
        for t in THRESHOLDS:
            c = score(run(questions, w, t), group_of, questions)
            key = (
                c.precision >= PRECISION,
                c.recall if c.precision >= PRECISION else c.precision,
                c.precision,
                t,
            )
            if best is None or key > best[0]:
                best = (key, (w, t), c)
    assert best is not None
    return best[1], best[2]


def evaluate(
    name: str,
    run: Clusterer,
    group_of: Sequence[str],
    fold_of: Sequence[int],
    k: int,
    weights: Sequence[float],
) -> Result:
    everything = list(range(len(group_of)))
    setting, fitted = choose(run, everything, group_of, weights)
    held = Counts(0, 0, 0)
    settings = []
    for f in range(k):
        train = [i for i in everything if fold_of[i] != f]
        test = [i for i in everything if fold_of[i] == f]
        (w, t), _ = choose(run, train, group_of, weights)
        settings.append((w, t))
        held = held + score(run(test, w, t), group_of, test)
    return Result(name, fitted, setting, held, settings)


def signatures_of(
    knowledge: Path, texts: Sequence[str]
) -> tuple[list[sim.Signature], list[sim.Signature], float]:
    """(signatures as the bot makes them, the same without scores as older stored ones are,
    seconds spent searching)."""
    with tempfile.TemporaryDirectory(prefix="clusters-bench-") as scratch:
        kb = KnowledgeBase(knowledge, Path(scratch))
        try:
            kb.sync()
            started = time.perf_counter()
            # one passage more than is kept: its score is the floor the neighbours' weights stand on
            found = [kb.search(t, DocVisibility.INTERNAL, sim.NEIGHBOURS + 1) for t in texts]
            search_s = time.perf_counter() - started
        finally:
            kb.close()
    with_scores = [
        sim.signature(t, [p.chunk_id for p in r.passages], scores=[p.score for p in r.passages])
        for t, r in zip(texts, found, strict=True)
    ]
    ranks_only = [
        sim.signature(t, [p.chunk_id for p in r.passages]) for t, r in zip(texts, found, strict=True)
    ]
    return with_scores, ranks_only, search_s


def costs(signatures: Sequence[sim.Signature]) -> tuple[float, float, int]:
    """(µs per similarity() call over every pair, ms to cluster the whole set, groups found)."""
    pairs = [(a, b) for x, a in enumerate(signatures) for b in signatures[x + 1 :]]
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for a, b in pairs:
            sim.similarity(a, b)
        rounds.append((time.perf_counter() - started) / len(pairs) * 1e6)
    timings = []
    groups: list[list[int]] = []
    for _ in range(5):
        started = time.perf_counter()
        groups = sim.cluster(signatures)
        timings.append((time.perf_counter() - started) * 1e3)
    return statistics.median(rounds), statistics.median(timings), len(groups)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--set", type=Path, default=EVAL / "stackfaq_en", help="eval set folder")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args(argv)

    rows = load_questions(args.set / "questions.jsonl")
    texts = [q.question for q in rows]
    group_of = [q.id.rsplit("-", 1)[0] for q in rows]  # stackfaq_en-t002-r05 -> stackfaq_en-t002
    fold_of = folds(group_of, args.folds)
    signatures, ranks_only, search_s = signatures_of(args.set / "knowledge", texts)
    print(
        f"{args.set.name}: {len(rows)} questions in {len(set(group_of))} groups, {args.folds} folds; "
        f"{sim.NEIGHBOURS} neighbours per question ({search_s / len(rows) * 1e3:.1f} ms a search); "
        f"shipped: words weight {sim.WORDS_WEIGHT}, threshold {sim.SIMILAR}"
    )
    ours = product(signatures)
    results = [
        evaluate(
            "anchor: words Jaccard, leader clustering", anchor(texts), group_of, fold_of, args.folds, (1.0,)
        ),
        evaluate("words only (product, weight 1)", ours, group_of, fold_of, args.folds, (1.0,)),
        evaluate("neighbours only (product, weight 0)", ours, group_of, fold_of, args.folds, (0.0,)),
        evaluate(
            "without scores (stored before them; 1/rank)",
            product(ranks_only),
            group_of,
            fold_of,
            args.folds,
            WEIGHTS,
        ),
        evaluate(
            "product's similarity, placed as gaps.py does",
            placed(signatures),
            group_of,
            fold_of,
            args.folds,
            WEIGHTS,
        ),
        evaluate("product: words + neighbours", ours, group_of, fold_of, args.folds, WEIGHTS),
    ]
    base = results[0]
    pair_us, cluster_ms, n_groups = costs(signatures)

    def met(c: Counts) -> str:
        return "yes" if c.precision >= PRECISION and c.recall >= RECALL else "no"

    print()
    print(
        table(
            [
                "method",
                "held-out P",
                "held-out R",
                "R / anchor",
                f"P>={PRECISION} & R>={RECALL}",
                "fitted P",
                "fitted R",
                "fitted weight/threshold",
                "per-fold weight/threshold",
            ],
            [
                [
                    r.name,
                    round(r.held_out.precision, 3),
                    round(r.held_out.recall, 3),
                    f"{r.held_out.recall / base.held_out.recall:.2f}x" if base.held_out.recall else "-",
                    met(r.held_out),
                    round(r.fitted.precision, 3),
                    round(r.fitted.recall, 3),
                    "{:g}/{:g}".format(*r.fitted_setting),
                    "  ".join("{:g}/{:g}".format(*s) for s in r.fold_settings),
                ]
                for r in results
            ],
        )
    )
    print()
    print(
        table(
            ["cost (shipped constants)", "value"],
            [
                ["similarity() per pair, µs (median of 5 rounds over all pairs)", round(pair_us, 2)],
                [f"cluster() of all {len(rows)} questions, ms (median of 5)", round(cluster_ms, 1)],
                ["groups found by cluster() at the shipped constants", n_groups],
            ],
        )
    )
    fitted = results[-1].fitted_setting
    if fitted != (sim.WORDS_WEIGHT, sim.SIMILAR):
        print(
            f"\nnote: the shipped constants differ from the ones fitted on all questions ({fitted[0]:g}/{fitted[1]:g})"
        )
    if args.json:
        payload = {
            "set": args.set.name,
            "folds": args.folds,
            "machine": machine(),
            "pair_us": pair_us,
            "cluster_ms": cluster_ms,
            "results": [
                {
                    "name": r.name,
                    "held_out": vars(r.held_out),
                    "fitted": vars(r.fitted),
                    "fitted_setting": r.fitted_setting,
                    "fold_settings": r.fold_settings,
                }
                for r in results
            ],
        }
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
