"""Korean retrieval on held-out folds of korquad_ko: which analysis and weights generalise.

    python bench/korean_retrieval.py                      # every candidate, 5 folds
    python bench/korean_retrieval.py --folds 5 --set ../shared/eval/korquad_ko --json out.json

Why: the shipped Korean analysis was tuned on the whole dev set and then lost to plain character-bigram
BM25 on KorQuAD's hidden half. Here every candidate's free constants (field weights) are chosen on 4 folds
and measured on the 5th, so a method that only fits the dev questions shows it.

What runs:
1. Folds: the question groups (distinct gold sets) sorted by sha256 of the group, group i in fold i % k.
   Every fold searches all documents; only the questions are split.
2. Per candidate, one index: the product's reader and chunker, the product's `SearchIndex` (schema,
   whitespace analyzer, `replace_file`), with the candidate's analysis in place of `tokenize` while the
   chunks are written. Its fields are the product's three: `body` and `head` (words) and `bigram`.
3. Scoring: tantivy's BM25 per field (one boolean query of the question's terms on that field, every
   matching chunk), then a weighted sum over the fields. That is exactly what the product's boosted
   boolean query computes, so any weights can be tried without rebuilding; the run checks it against
   `SearchIndex.search` with the product's own constants. Chunks are ranked, the top 10 collapsed to
   documents, as `supportbot eval` does.
4. Per fold, the requirement is applied to the 4 training folds: of the weight settings whose
   recall@5 is at least the anchor's there, the one with the best recall@1 (ties: MRR@10, then the
   first in the grid); it is measured on the held-out fold. The table gives the mean over folds, the figure with weights fitted
   on all questions, and ratios to the anchor.

Anchor: plain character-bigram BM25. Hangul runs -> overlapping character bigrams (a one-syllable run
stays one token), other runs -> lower-cased words; one field, title merged into the body, no stemming,
no stop words. It has no free constant.

The kiwipiepy candidate runs only where kiwipiepy imports (the product's venv does not have it):
    python -m venv /tmp/kovenv --system-site-packages && /tmp/kovenv/bin/pip install kiwipiepy
    PYTHONPATH=.:.venv/lib/python3.11/site-packages /tmp/kovenv/bin/python bench/korean_retrieval.py
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import itertools
import json
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tantivy  # noqa: E402

from bench.corpus import EVAL, machine, table  # noqa: E402
from bot.evaluation import EvalQuestion, load_questions  # noqa: E402
from bot.retrieval import index as index_module  # noqa: E402
from bot.retrieval import tokenize as tk  # noqa: E402
from bot.retrieval.chunking import Chunk, chunk_document  # noqa: E402
from bot.retrieval.documents import SUPPORTED_SUFFIXES, read_document  # noqa: E402
from bot.retrieval.index import SearchIndex  # noqa: E402
from bot.types import DocVisibility  # noqa: E402

FIELDS = ("body", "head", "bigram")
TOP_CHUNKS = 10  # supportbot eval asks for 10 passages and collapses them to documents
Weights = tuple[float, float, float]  # body, head, bigram
Analysis = Callable[..., tk.Terms]  # tokenize(text, *, query=False) -> Terms

# -- analyses -----------------------------------------------------------------------------------------

_RUN = re.compile(r"[\uac00-\ud7a3]+|[^\W\uac00-\ud7a3]+")
_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")


def _plain_bigram(text: str, *, query: bool = False) -> tk.Terms:
    """The anchor. Everything goes to the bigram field; replace_file puts the title's terms there
    too, so title and body are one field."""
    out: list[str] = []
    for run in _RUN.findall(unicodedata.normalize("NFKC", text).lower()):
        out.extend(tk.char_bigrams(run) if _HANGUL_RUN.fullmatch(run) else [run])
    return tk.Terms(words=[], bigrams=out)


def _korean_variant(word_of: Callable[[str], list[str]], *, bigrams: bool = True) -> Analysis:
    """The product's analysis, with each Hangul run's word terms given by `word_of` (English as shipped)."""

    def analyse(text: str, *, query: bool = False) -> tk.Terms:
        shipped = tk.tokenize(text, query=query)
        hangul = [
            run
            for run in _RUN.findall(unicodedata.normalize("NFKC", text).lower().replace("’", "'"))
            if _HANGUL_RUN.fullmatch(run)
        ]
        stripped = {tk.ko_strip(run) for run in hangul}
        # the shipped words minus the Korean ones are the English stems, in order
        english = [w for w in shipped.words if not (_HANGUL_RUN.fullmatch(w) and w in stripped)]
        words: list[str] = []
        grams: list[str] = []
        for run in hangul:
            if query and (run in tk.QUERY_STOP_KO or tk.ko_strip(run) in tk.QUERY_STOP_KO):
                continue
            words.extend(word_of(run))
            if bigrams:
                grams.extend(tk.char_bigrams(run))
        return tk.Terms(words=words + english, bigrams=grams)

    return analyse


@lru_cache(maxsize=1)
def _kiwi() -> Any:
    from kiwipiepy import Kiwi  # type: ignore[import-not-found]

    return Kiwi()


_KIWI_TAGS = ("NNG", "NNP", "NR", "XR", "SL", "SH", "SN")


@lru_cache(maxsize=200_000)
def _kiwi_nouns(run: str) -> list[str]:
    nouns = [t.form for t in _kiwi().tokenize(run) if t.tag in _KIWI_TAGS]
    return nouns or [tk.ko_strip(run)]


def _kiwi_available() -> bool:
    try:
        import kiwipiepy  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


# -- candidates ---------------------------------------------------------------------------------------

# Weights are relative to the body field, which stays 1: English-only text has no bigrams, so
# its ranking and its scores (the confidence reads them) do not move whatever is chosen here.
_HEAD = (0.75,)  # English titles and headings use it too: it stays
_BIGRAM = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def _grid(head: Sequence[float], bigram: Sequence[float], first: Weights | None = None) -> list[Weights]:
    combos = [(1.0, h, g) for h, g in itertools.product(head, bigram)]
    return list(dict.fromkeys([first, *combos] if first else combos))


@dataclass(frozen=True)
class Candidate:
    name: str
    analysis: Analysis
    grid: list[Weights]  # the first one is the default (and the tie-break)
    note: str


def candidates(with_kiwi: bool) -> list[Candidate]:
    shipped = (
        index_module.WORD_FIELDS["body"],
        index_module.WORD_FIELDS["head"],
        index_module.BIGRAM_FIELDS["bigram"],
    )
    stripped = _korean_variant(lambda run: [tk.ko_strip(run)])
    bigrams_only = _korean_variant(lambda run: [])
    out = [
        Candidate("plain bigram BM25 (anchor)", _plain_bigram, [(0.0, 0.0, 1.0)], "one field, no constants"),
        Candidate(
            "product tokenize + index.py constants",
            tk.tokenize,
            [shipped],
            f"body/head/bigram = {_w(shipped)}, as in the working tree",
        ),
        Candidate(
            "v2: stripped words + bigrams, 1/0.75/0.3",
            stripped,
            [(1.0, 0.75, 0.3)],
            "ANALYZER_VERSION 2 and its dev-tuned constants",
        ),
        Candidate(
            "v2 analysis, weights refit",
            stripped,
            _grid(_HEAD, (0.0, *_BIGRAM), (1.0, 0.75, 0.3)),
            "particles stripped, bigrams; head and bigram weights on the grid",
        ),
        Candidate(
            "v2 analysis, bigram 1.0",
            stripped,
            [(1.0, 0.75, 1.0)],
            "bigrams weighted up to the words' weight, no fitting",
        ),
        Candidate(
            "bigrams + non-Hangul words, refit",
            bigrams_only,
            _grid(_HEAD, _BIGRAM),
            "Korean only as bigrams (titles merged in, as the anchor); other words as shipped",
        ),
        Candidate(
            "bigrams + non-Hangul words, 1/0.75/1",
            bigrams_only,
            [(1.0, 0.75, 1.0)],
            "the same, with the bigram field at the word fields' weight: nothing fitted",
        ),
        Candidate(
            "bigrams + non-Hangul words, 1/0.75/0.3",
            bigrams_only,
            [(1.0, 0.75, 0.3)],
            "the same with v2's bigram weight (the MRR@10 choice on every fold)",
        ),
        Candidate(
            "bigrams + whole words (no stripping), refit",
            _korean_variant(lambda run: [run]),
            _grid(_HEAD, _BIGRAM),
            "whole Hangul words, one-syllable ones too, as word terms",
        ),
        Candidate(
            "bigrams + syllable unigrams, refit",
            _korean_variant(lambda run: list(run)),
            _grid(_HEAD, _BIGRAM),
            "every Hangul syllable as a word term",
        ),
    ]
    out.append(
        Candidate(
            "bigrams + syllable trigrams, refit",
            _korean_variant(lambda run: [run[i : i + 3] for i in range(len(run) - 2)] or [run]),
            _grid(_HEAD, _BIGRAM),
            "overlapping syllable trigrams (a shorter run whole) as word terms",
        )
    )
    if with_kiwi:
        out.append(
            Candidate(
                "kiwipiepy nouns + bigrams, refit",
                _korean_variant(_kiwi_nouns),
                _grid(_HEAD, _BIGRAM, (1.0, 0.75, 0.3)),
                "kiwipiepy NNG/NNP/NR/XR/SL/SH/SN of each Hangul run as word terms",
            )
        )
    return out


# -- index and scoring --------------------------------------------------------------------------------


def read_chunks(knowledge: Path) -> list[Chunk]:
    chunks: list[Chunk] = []
    for file in sorted(knowledge.rglob("*")):
        if file.suffix.lower() in SUPPORTED_SUFFIXES:
            chunks.extend(chunk_document(read_document(knowledge, file, file.read_bytes())))
    return chunks


@contextmanager
def _analysed_by(analysis: Analysis) -> Iterator[None]:
    """SearchIndex.replace_file analyses with module-level `tokenize`; swap the candidate in for the build."""
    shipped = index_module.tokenize
    index_module.tokenize = analysis  # type: ignore[assignment]
    try:
        yield
    finally:
        index_module.tokenize = shipped


def build(directory: Path, chunks: Sequence[Chunk], analysis: Analysis) -> SearchIndex:
    index = SearchIndex(directory)
    by_path: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_path.setdefault(chunk.path, []).append(chunk)
    with _analysed_by(analysis):
        for path, group in by_path.items():
            index.replace_file(path, group)
    index.commit()
    return index


class FieldScores:
    """BM25 of every chunk for one question, field by field, from tantivy."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self.searcher = index._index.searcher()
        self.total = int(self.searcher.num_docs)
        self.paths: dict[tuple[int, int], str] = {}

    def _path(self, address: Any) -> str:
        key = (address.segment_ord, address.doc)
        if key not in self.paths:
            self.paths[key] = self.searcher.doc(address)["path"][0]
        return self.paths[key]

    def field(self, field: str, tokens: Sequence[str]) -> dict[tuple[int, int], float]:
        if not tokens:
            return {}
        make = tantivy.Query
        query = make.boolean_query(
            [
                (tantivy.Occur.Should, make.term_query(self.index.schema, field, t, index_option="freq"))
                for t in tokens
            ]
        )
        hits = self.searcher.search(query, limit=self.total, count=False).hits
        out = {}
        for score, address in hits:
            self._path(address)
            out[(address.segment_ord, address.doc)] = float(score)
        return out

    def question(self, terms: tk.Terms) -> list[tuple[str, float, float, float]]:
        """(path, body, head, bigram) for every chunk any field matched."""
        body = self.field("body", terms.words)
        head = self.field("head", terms.words)
        grams = self.field("bigram", terms.bigrams)
        keys = body.keys() | head.keys() | grams.keys()
        return [(self.paths[k], body.get(k, 0.0), head.get(k, 0.0), grams.get(k, 0.0)) for k in keys]


def _query_terms(analysis: Analysis, question: str) -> tk.Terms:
    terms = analysis(question, query=True)  # deduplicated, as analyze_query does
    return tk.Terms(words=list(dict.fromkeys(terms.words)), bigrams=list(dict.fromkeys(terms.bigrams)))


def rank_of(rows: Sequence[tuple[str, float, float, float]], w: Weights, gold: frozenset[str]) -> int | None:
    """Rank (1-10) of the first gold document among the documents of the top chunks, or None."""
    scored = ((w[0] * b + w[1] * h + w[2] * g, path) for path, b, h, g in rows)
    top = heapq.nlargest(TOP_CHUNKS, ((s, p) for s, p in scored if s > 0), key=lambda x: x[0])
    docs = list(dict.fromkeys(p for _, p in top))
    for i, doc in enumerate(docs[:10], start=1):
        if doc in gold:
            return i
    return None


@dataclass(frozen=True)
class Metrics:
    r1: float
    r5: float
    mrr: float

    @staticmethod
    def of(ranks: Sequence[int | None]) -> Metrics:
        n = len(ranks)
        return Metrics(
            r1=sum(r == 1 for r in ranks) / n,
            r5=sum(r is not None and r <= 5 for r in ranks) / n,
            mrr=sum(1 / r for r in ranks if r is not None) / n,
        )


def folds(questions: Sequence[EvalQuestion], k: int) -> list[int]:
    """Fold of each question: its group's position in sha256 order, modulo k."""
    groups = sorted(
        {"\n".join(sorted(q.gold)) for q in questions},
        key=lambda g: hashlib.sha256(g.encode("utf-8")).hexdigest(),
    )
    fold_of = {g: i % k for i, g in enumerate(groups)}
    return [fold_of["\n".join(sorted(q.gold))] for q in questions]


@dataclass
class Result:
    name: str
    note: str
    held_out: Metrics
    held_out_ranks: list[int | None]
    per_fold: list[Metrics]
    fitted: Metrics
    fitted_weights: Weights
    fold_weights: list[Weights]
    build_s: float


def evaluate(
    candidate: Candidate,
    chunks: Sequence[Chunk],
    questions: Sequence[EvalQuestion],
    fold_of: Sequence[int],
    k: int,
    anchor: Sequence[int | None] | None,
) -> tuple[Result, SearchIndex, tempfile.TemporaryDirectory[str]]:
    scratch = tempfile.TemporaryDirectory(prefix="ko-bench-")
    started = time.perf_counter()
    index = build(Path(scratch.name), chunks, candidate.analysis)
    build_s = time.perf_counter() - started
    scores = FieldScores(index)
    rows = [scores.question(_query_terms(candidate.analysis, q.question)) for q in questions]
    golds = [frozenset(q.gold) for q in questions]
    # ranks[w][i]: every weight setting on every question, computed once
    ranks = [[rank_of(r, w, g) for r, g in zip(rows, golds, strict=True)] for w in candidate.grid]

    def best(indices: Sequence[int]) -> int:
        """The requirement, on the training questions: the most recall@1 among the settings whose
        recall@5 is at least the anchor's (all settings when none is); MRR@10, then grid order, break ties."""
        floor = sum(r is not None and r <= 5 for r in (anchor[i] for i in indices)) if anchor else 0

        def fit(wi: int) -> tuple[bool, int, float, int]:
            found = [r for r in (ranks[wi][i] for i in indices) if r is not None]
            return (
                sum(r <= 5 for r in found) >= floor,
                sum(r == 1 for r in found),
                sum(1 / r for r in found),
                -wi,
            )

        return max(range(len(candidate.grid)), key=fit)

    held: list[int | None] = [None] * len(questions)
    per_fold, fold_weights = [], []
    for f in range(k):
        train = [i for i, x in enumerate(fold_of) if x != f]
        test = [i for i, x in enumerate(fold_of) if x == f]
        wi = best(train)
        fold_weights.append(candidate.grid[wi])
        per_fold.append(Metrics.of([ranks[wi][i] for i in test]))
        for i in test:
            held[i] = ranks[wi][i]
    everything = best(range(len(questions)))
    mean = Metrics(
        r1=statistics.fmean(m.r1 for m in per_fold),
        r5=statistics.fmean(m.r5 for m in per_fold),
        mrr=statistics.fmean(m.mrr for m in per_fold),
    )
    result = Result(
        name=candidate.name,
        note=candidate.note,
        held_out=mean,
        held_out_ranks=held,
        per_fold=per_fold,
        fitted=Metrics.of(ranks[everything]),
        fitted_weights=candidate.grid[everything],
        fold_weights=fold_weights,
        build_s=build_s,
    )
    return result, index, scratch


def transfer(
    analysis: Analysis, weights: Weights, chunks: Sequence[Chunk], questions: Sequence[EvalQuestion]
) -> Metrics:
    """Metrics on another set with weights fitted elsewhere."""
    with tempfile.TemporaryDirectory(prefix="ko-bench-") as scratch:
        scores = FieldScores(build(Path(scratch), chunks, analysis))
        return Metrics.of(
            [
                rank_of(scores.question(_query_terms(analysis, q.question)), weights, frozenset(q.gold))
                for q in questions
            ]
        )


def check_product(
    index: SearchIndex, questions: Sequence[EvalQuestion], analysis: Analysis
) -> tuple[int, int]:
    """How many questions' top-10 chunk lists from the decomposed scoring equal SearchIndex.search's own."""
    scores = FieldScores(index)
    w = (
        index_module.WORD_FIELDS["body"],
        index_module.WORD_FIELDS["head"],
        index_module.BIGRAM_FIELDS["bigram"],
    )
    same = 0
    for q in questions:
        terms = _query_terms(analysis, q.question)
        passages, _ = index.search(terms, DocVisibility.INTERNAL, TOP_CHUNKS)
        product = [p.path for p in passages]
        rows = scores.question(terms)
        top = heapq.nlargest(
            TOP_CHUNKS, ((w[0] * b + w[1] * h + w[2] * g, p) for p, b, h, g in rows), key=lambda x: x[0]
        )
        same += [p for _, p in top] == product
    return same, len(questions)


# -- report -------------------------------------------------------------------------------------------


def _w(w: Weights) -> str:
    return "/".join(f"{x:g}" for x in w)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--set", type=Path, default=EVAL / "korquad_ko", help="eval set folder")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--only", help="run only candidates whose name contains this (the anchor always runs)"
    )
    parser.add_argument(
        "--also",
        type=Path,
        default=EVAL / "realdocs_dev" / "react_ko",
        help="a second set, measured with the weights fitted on all of --set (no fitting on it)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args(argv)

    questions = [q for q in load_questions(args.set / "questions.jsonl") if q.gold]
    chunks = read_chunks(args.set / "knowledge")
    fold_of = folds(questions, args.folds)
    with_kiwi = _kiwi_available()
    print(
        f"{args.set.name}: {len(questions)} questions, {len({c.path for c in chunks})} documents, "
        f"{len(chunks)} chunks; {args.folds} folds of {sorted({fold_of.count(f) for f in range(args.folds)})} "
        f"questions; kiwipiepy {'present' if with_kiwi else 'absent (candidate skipped)'}"
    )
    also = [q for q in load_questions(args.also / "questions.jsonl") if q.gold] if args.also else []
    also_chunks = read_chunks(args.also / "knowledge") if args.also else []
    results: list[Result] = []
    side: list[Metrics | None] = []
    for candidate in candidates(with_kiwi):
        if args.only and not (results == [] or args.only in candidate.name):
            continue
        anchor_ranks = results[0].held_out_ranks if results else None
        result, index, scratch = evaluate(candidate, chunks, questions, fold_of, args.folds, anchor_ranks)
        if candidate.analysis is tk.tokenize:
            same, n = check_product(index, questions, tk.tokenize)
            print(
                f"check: weighted per-field scores give SearchIndex.search's top 10 on {same}/{n} questions"
            )
        scratch.cleanup()
        results.append(result)
        side.append(transfer(candidate.analysis, result.fitted_weights, also_chunks, also) if also else None)
        print(
            f"  {candidate.name}: {len(candidate.grid)} weight settings, index built in {result.build_s:.1f} s",
            flush=True,
        )

    anchor = results[0]
    rows = []
    for r, other in zip(results, side, strict=True):
        gained = sum(a != 1 and b == 1 for a, b in zip(anchor.held_out_ranks, r.held_out_ranks, strict=True))
        lost = sum(a == 1 and b != 1 for a, b in zip(anchor.held_out_ranks, r.held_out_ranks, strict=True))
        rows.append(
            [
                r.name,
                f"{r.held_out.r1:.3f}",
                f"{r.held_out.r5:.3f}",
                f"{r.held_out.mrr:.3f}",
                f"{r.held_out.r1 / anchor.held_out.r1:.3f}",
                f"{r.held_out.r5 / anchor.held_out.r5:.3f}",
                f"+{gained}/-{lost}",
                f"{min(m.r1 for m in r.per_fold):.3f}-{max(m.r1 for m in r.per_fold):.3f}",
                f"{r.fitted.r1:.3f}",
                f"{r.fitted.r5:.3f}",
                f"{r.fitted.mrr:.3f}",
                _w(r.fitted_weights),
                f"{other.r1:.3f} / {other.r5:.3f}" if other else "-",
            ]
        )
    print()
    print(
        table(
            [
                "method",
                "held-out r@1",
                "r@5",
                "MRR@10",
                "r@1 / anchor",
                "r@5 / anchor",
                "top-1 vs anchor",
                "r@1 per fold",
                "fitted-on-all r@1",
                "r@5",
                "MRR@10",
                "fitted weights b/h/bg",
                f"{args.also.name if args.also else 'other set'} r@1 / r@5 (fitted weights)",
            ],
            rows,
        )
    )
    print()
    print(
        table(
            ["method", "weights chosen per fold (body/head/bigram)"],
            [[r.name, "  ".join(_w(w) for w in r.fold_weights)] for r in results],
        )
    )
    if args.json:
        payload = {
            "set": args.set.name,
            "folds": args.folds,
            "machine": machine(),
            "results": [
                {
                    "name": r.name,
                    "note": r.note,
                    "held_out": vars(r.held_out),
                    "per_fold": [vars(m) for m in r.per_fold],
                    "fitted": vars(r.fitted),
                    "fitted_weights": r.fitted_weights,
                    "fold_weights": r.fold_weights,
                    "also": vars(other) if other else None,
                }
                for r, other in zip(results, side, strict=True)
            ],
        }
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
