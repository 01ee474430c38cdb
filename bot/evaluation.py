"""`supportbot eval`: retrieval and answer quality on a question set with gold documents.

A set is a folder with `knowledge/` and `questions.jsonl` ({"id", "question", "gold":
[file names], "answers": [strings]}). Every question goes through the same search and
answerer as a chat message, timed one by one. With a hold-out fraction the gold
documents of a deterministic share of the question groups are left out of the index, so
the report also says whether the confidence separates answerable from unanswerable.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core import SupportBot
from bot.errors import SupportBotError
from bot.types import DocVisibility


@dataclass(frozen=True, kw_only=True)
class EvalQuestion:
    id: str
    question: str
    gold: tuple[str, ...]
    answers: tuple[str, ...]


def load_questions(path: Path) -> list[EvalQuestion]:
    if not path.is_file():
        raise SupportBotError(
            f"{path} does not exist; an eval set needs questions.jsonl (or pass --questions FILE)"
        )
    questions = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                questions.append(
                    EvalQuestion(
                        id=str(row.get("id", number)),
                        question=str(row["question"]),
                        gold=tuple(row.get("gold") or ()),
                        answers=tuple(row.get("answers") or ()),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise SupportBotError(f"{path}, line {number}: not a question object ({exc})") from None
    if not questions:
        raise SupportBotError(f"{path} holds no questions")
    return questions


def held_out_documents(questions: Sequence[EvalQuestion], fraction: float) -> frozenset[str]:
    """The gold documents of the first `fraction` of question groups (a group is one gold
    set), ordered by the SHA-256 of the group: the same every run, on every machine."""
    groups = sorted(
        {"\n".join(sorted(q.gold)) for q in questions if q.gold},
        key=lambda g: hashlib.sha256(g.encode("utf-8")).hexdigest(),
    )
    chosen = groups[: math.ceil(fraction * len(groups))]
    return frozenset(doc for group in chosen for doc in group.split("\n"))


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _ranked_documents(paths: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(paths))


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


async def evaluate(
    bot: SupportBot,
    questions: Sequence[EvalQuestion],
    *,
    k: int = 10,
    held_out: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    hits1 = hits5 = 0
    reciprocal = 0.0
    scored = 0  # questions whose gold is in the index
    abstained = 0
    contains = with_answers = 0
    answerable = answered_answerable = unanswerable = abstained_unanswerable = 0
    timings: list[float] = []
    for q in questions:
        started = time.perf_counter()
        answer, result = await bot.ask(q.question, DocVisibility.INTERNAL, k=k)
        timings.append((time.perf_counter() - started) * 1000)
        docs = _ranked_documents(p.path for p in result.passages)
        present = [g for g in q.gold if g not in held_out]
        gave_up = bot.is_abstention(answer)
        abstained += gave_up
        if present:
            scored += 1
            ranks = [i for i, doc in enumerate(docs[:10], start=1) if doc in present]
            if ranks:
                reciprocal += 1 / ranks[0]
                hits1 += ranks[0] == 1
                hits5 += ranks[0] <= 5
            answerable += 1
            answered_answerable += not gave_up
        elif q.gold:
            unanswerable += 1
            abstained_unanswerable += gave_up
        if q.answers and present:
            with_answers += 1
            text = normalise(answer.text)
            contains += any(normalise(a) in text for a in q.answers if a.strip())
    report: dict[str, Any] = {
        "questions": len(questions),
        "recall@1": _rate(hits1, scored),
        "recall@5": _rate(hits5, scored),
        "mrr@10": round(reciprocal / scored, 4) if scored else None,
        "abstain_rate": _rate(abstained, len(questions)),
        "answer_contains": _rate(contains, with_answers),
        "p50_ms": round(statistics.median(timings), 3),
        "p99_ms": round(_percentile(timings, 99), 3),
    }
    if held_out:
        report["held_out_documents"] = len(held_out)
        report["answered_when_answerable"] = _rate(answered_answerable, answerable)
        report["abstained_when_unanswerable"] = _rate(abstained_unanswerable, unanswerable)
    return report


def _percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]
