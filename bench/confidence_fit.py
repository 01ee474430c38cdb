"""Fit the retrieval confidence (bot/retrieval/confidence.py) by cross-validation, and report it.

    python bench/confidence_fit.py                 # fit, print held-out and fitted figures
    python bench/confidence_fit.py --folds 5 --json out.json

Data: every eval set in ../shared/eval (or --eval DIR). A question is a positive when the
documents that answer it are in the index. Negatives are the questions the docs do not
answer: `gold: []` in realdocs_dev, and for the sets without such questions, hold-outs: the
question groups (one gold set each) are cut into five parts by hash, and each part's
questions are asked of an index built without that part's gold documents.

The model is a logistic regression per language (Korean when the question has Hangul) over
`confidence.features()`, each set weighted equally and, within a set, positives and
negatives weighted equally, so no set and no class dominates. Constants are chosen by k-fold
cross-validation over question groups (a group never straddles folds); the figures printed
as "held-out" are each question scored by the model fitted without its fold; "fitted" is
the model fitted on everything, which is what ships (printed at the end as CALIBRATION).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.retrieval.confidence import (  # noqa: E402
    HEADING_MATCH,
    LEAD_WINDOW,
    THRESHOLD,
    Calibration,
    Evidence,
    calibrated,
    features,
)
from bot.retrieval.evidence import asked_words, assess, titled_first  # noqa: E402
from bot.retrieval.knowledge import KnowledgeBase  # noqa: E402
from bot.retrieval.tokenize import analyze_query  # noqa: E402
from bot.types import DocVisibility  # noqa: E402

HOLDOUT_PARTS = 5
RIDGE = 0.05  # L2 penalty on the weights (not the intercept): keeps the fit stable on small sets


@dataclass(frozen=True)
class Sample:
    set: str
    group: str
    positive: bool
    evidence: Evidence
    docs: bool  # a documentation tree with its own unanswerable questions (realdocs_dev)


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16)


def _load(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _evidence(kb: KnowledgeBase, question: str) -> Evidence | None:
    terms = analyze_query(question)
    passages, chunks = kb.index.search(terms, DocVisibility.INTERNAL, LEAD_WINDOW)
    if not passages:
        return None
    asked = asked_words(question)
    return assess(kb.index, question, terms, titled_first(asked, passages), chunks, asked)


def _samples(set_dir: Path, scratch: Path) -> list[Sample]:
    name = set_dir.name
    questions = _load(set_dir / "questions.jsonl")
    out: list[Sample] = []

    def add(kb: KnowledgeBase, q: dict[str, object], positive: bool) -> None:
        gold = sorted(str(g) for g in q.get("gold") or [])  # type: ignore[attr-defined]
        evidence = _evidence(kb, str(q["question"]))
        group = "\n".join(gold) if gold else f"u:{q['id']}"
        if evidence is None:
            evidence = Evidence(
                korean=False,
                top_score=0,
                chunks=1,
                query_terms=1,
                word_coverage=0,
                bigram_coverage=0,
                absent=1,
                reach=0,
            )
        docs = any(not q.get("gold") for q in questions)
        out.append(Sample(name, f"{name}:{group}", positive, evidence, docs))

    full = KnowledgeBase(set_dir / "knowledge", scratch / name / "full")
    full.sync()
    for q in questions:
        add(full, q, bool(q.get("gold")))
    full.close()
    if any(not q.get("gold") for q in questions):
        return out  # the set has its own unanswerable questions
    groups = sorted({"\n".join(sorted(q["gold"])) for q in questions})  # type: ignore[arg-type]
    for part in range(HOLDOUT_PARTS):
        chosen = {g for g in groups if _hash(g) % HOLDOUT_PARTS == part}
        held = frozenset(doc for g in chosen for doc in g.split("\n"))
        kb = KnowledgeBase(set_dir / "knowledge", scratch / name / f"part{part}", exclude=held)
        kb.sync()
        for q in questions:
            if "\n".join(sorted(q["gold"])) in chosen:  # type: ignore[arg-type]
                add(kb, q, False)
        kb.close()
    return out


# -- logistic regression (Newton's method; a handful of features needs no library) --------


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-12:
            continue
        for r in range(n):
            if r != col:
                f = m[r][col] / m[col][col]
                for c in range(col, n + 1):
                    m[r][c] -= f * m[col][c]
    return [m[i][n] / m[i][i] if abs(m[i][i]) > 1e-12 else 0.0 for i in range(n)]


def fit(rows: list[tuple[tuple[float, ...], bool, float]]) -> Calibration:
    """Weighted, L2-penalised logistic regression: rows of (features, label, weight)."""
    dim = len(rows[0][0]) + 1
    beta = [0.0] * dim
    for _ in range(50):
        grad = [0.0] * dim
        hess = [[0.0] * dim for _ in range(dim)]
        for x, y, w in rows:
            v = (1.0, *x)
            z = sum(b * xi for b, xi in zip(beta, v, strict=True))
            p = 1 / (1 + math.exp(-max(-40, min(40, z))))
            for i in range(dim):
                grad[i] += w * (p - y) * v[i]
                for j in range(dim):
                    hess[i][j] += w * p * (1 - p) * v[i] * v[j]
        for i in range(1, dim):
            grad[i] += RIDGE * beta[i]
            hess[i][i] += RIDGE
        step = _solve(hess, grad)
        beta = [b - s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return Calibration(intercept=round(beta[0], 4), weights=tuple(round(b, 4) for b in beta[1:]))


DOCS_WEIGHT = 2.0  # --docs-weight: how much more a documentation set counts than a QA set


def _weighted(
    samples: list[Sample], docs_weight: float, share: float
) -> list[tuple[tuple[float, ...], bool, float]]:
    counts: dict[tuple[str, bool], int] = defaultdict(int)
    for s in samples:
        counts[(s.set, s.positive)] += 1
    return [
        (
            features(s.evidence, share),
            s.positive,
            (docs_weight if s.docs else 1.0) / counts[(s.set, s.positive)],
        )
        for s in samples
    ]


def _fit_by_language(samples: list[Sample], docs_weight: float, share: float) -> dict[str, Calibration]:
    models = {}
    for language in ("en", "ko"):
        mine = [s for s in samples if s.evidence.korean == (language == "ko")]
        if mine:
            models[language] = fit(_weighted(mine, docs_weight, share))
    return models


def _score(models: dict[str, Calibration], evidence: Evidence, share: float) -> float:
    model = models.get("ko" if evidence.korean else "en") or next(iter(models.values()))
    sure = calibrated(evidence, model, share)
    return max(sure, HEADING_MATCH) if evidence.heading_match else sure


UNKNOWN_SHARES = (1 / 3, 1 / 2, 2 / 3, 1.0)  # the shares of absent parts a name is unknown at


def _choose_share(samples: list[Sample], docs_weight: float, folds: int) -> float:
    """The share of absent parts that makes a name unknown: the one whose held-out (inner k-fold
    over question groups) weighted log-loss is least; ties go to the larger share."""

    def loss(share: float) -> float:
        total = 0.0
        weights = {
            id(s): w for s, (_, _, w) in zip(samples, _weighted(samples, docs_weight, share), strict=True)
        }
        for fold in range(folds):
            train = [s for s in samples if _hash(f"inner:{s.group}") % folds != fold]
            test = [s for s in samples if _hash(f"inner:{s.group}") % folds == fold]
            models = _fit_by_language(train, docs_weight, share)
            for s in test:
                p = min(max(_score(models, s.evidence, share), 1e-9), 1 - 1e-9)
                total -= weights[id(s)] * math.log(p if s.positive else 1 - p)
        return total

    return min(UNKNOWN_SHARES, key=lambda share: (round(loss(share), 9), -share))


CUTS = [round(0.3 + 0.025 * i, 3) for i in range(13)]  # 0.30 ... 0.60


def _best_cut(scored: list[tuple[Sample, float]]) -> float:
    def worst(cut: float) -> float:
        rates = []
        for name in {s.set for s, _ in scored if s.docs}:
            pos = [p for s, p in scored if s.set == name and s.positive]
            neg = [p for s, p in scored if s.set == name and not s.positive]
            rates += [sum(p >= cut for p in pos) / len(pos), sum(p < cut for p in neg) / len(neg)]
        return min(rates)

    return max(CUTS, key=lambda cut: (round(worst(cut), 6), cut))


def _shift(p: float, cut: float) -> float:
    """A score as it reads once the boundary `cut` is moved to 0.5."""
    z = math.log(max(p, 1e-12) / max(1 - p, 1e-12)) - math.log(cut / (1 - cut))
    return 1 / (1 + math.exp(-z))


def _auroc(pos: list[float], neg: list[float]) -> float | None:
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _rates(scored: list[tuple[Sample, float]]) -> dict[str, dict[str, float | None]]:
    by_set: dict[str, list[tuple[Sample, float]]] = defaultdict(list)
    for s, p in scored:
        by_set[s.set].append((s, p))
    table: dict[str, dict[str, float | None]] = {}
    for name, rows in sorted(by_set.items()):
        pos = [p for s, p in rows if s.positive]
        neg = [p for s, p in rows if not s.positive]
        table[name] = {
            "answered_when_answerable": round(sum(p >= THRESHOLD for p in pos) / len(pos), 3)
            if pos
            else None,
            "abstained_when_unanswerable": round(sum(p < THRESHOLD for p in neg) / len(neg), 3)
            if neg
            else None,
            "auroc": round(a, 3) if (a := _auroc(pos, neg)) is not None else None,
        }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--docs-weight", type=float, default=DOCS_WEIGHT)
    args = parser.parse_args()
    set_dirs = sorted(
        [p for p in args.eval.iterdir() if (p / "questions.jsonl").exists()]
        + [p for p in (args.eval / "realdocs_dev").iterdir() if (p / "questions.jsonl").exists()]
    )
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="confidence-fit-") as scratch:
        for set_dir in set_dirs:
            samples += _samples(set_dir, Path(scratch))
            print(f"{set_dir.name}: {sum(s.set == set_dir.name for s in samples)} samples", file=sys.stderr)
    held_out: list[tuple[Sample, float]] = []
    for fold in range(args.folds):
        train = [s for s in samples if _hash(s.group) % args.folds != fold]
        test = [s for s in samples if _hash(s.group) % args.folds == fold]
        share = _choose_share(train, args.docs_weight, args.folds)
        print(f"fold {fold}: unknown share {share:.3f}", file=sys.stderr)
        models = _fit_by_language(train, args.docs_weight, share)
        held_out += [(s, _score(models, s.evidence, share)) for s in test]
    # the boundary: the cut of the held-out scores that maximises the worst answered /
    # abstained rate over the documentation sets (ties: the higher cut, which abstains more);
    # it is folded into the intercepts, so 0.5 stays the boundary in the product
    cut = _best_cut(held_out)
    held_out = [(s, _shift(p, cut)) for s, p in held_out]
    final_share = _choose_share(samples, args.docs_weight, args.folds)
    final = {
        language: Calibration(
            intercept=round(model.intercept - math.log(cut / (1 - cut)), 4), weights=model.weights
        )
        for language, model in _fit_by_language(samples, args.docs_weight, final_share).items()
    }
    print(f"boundary chosen on the held-out scores: {cut:.3f} (folded into the intercepts)", file=sys.stderr)
    fitted = [(s, _score(final, s.evidence, final_share)) for s in samples]
    held, fit_rates = _rates(held_out), _rates(fitted)
    print(
        f"\n{'set':22} {'answered (held-out / fitted)':>30} {'abstained (held-out / fitted)':>31} {'AUROC':>7}"
    )
    for name in held:
        h, f = held[name], fit_rates[name]
        print(
            f"{name:22} {h['answered_when_answerable']!s:>14} / {f['answered_when_answerable']!s:<14}"
            f"{h['abstained_when_unanswerable']!s:>15} / {f['abstained_when_unanswerable']!s:<14} {f['auroc']!s:>7}"
        )
    print("\nCALIBRATION = {")
    for language, model in final.items():
        print(f'    "{language}": Calibration(intercept={model.intercept}, weights={model.weights}),')
    print("}")
    print(f"UNKNOWN_SHARE = {final_share:.4f}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"held_out": held, "fitted": fit_rates, "models": {k: vars(v) for k, v in final.items()}}
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
