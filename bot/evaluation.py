"""`supportbot eval`: retrieval and answer quality on a question set with gold documents.

A set is a folder with `knowledge/` and `questions.jsonl` ({"id", "question", "gold":
[file names], "answers": [strings]}). Every question goes through the same search and
answerer as a chat message, timed one by one. A question with `gold: []` is one the
documentation should not answer; with a hold-out fraction the gold documents of a
deterministic share of the question groups are left out of the index, which turns those
questions unanswerable too. The report says how often the bot answered the answerable
ones and gave up on the rest, overall and per language.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
import unicodedata
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import policy
from bot.core import SupportBot
from bot.errors import SupportBotError
from bot.markdown import unescape_prose
from bot.types import Answer, DocVisibility, Passage, SearchResult

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.retrieval.knowledge import KnowledgeBase
    from bot.retrieval.knowledge_report import Progress

LANGUAGES = ("en", "ko")  # the product's two languages, as policy.detect_language names them
RANK_CUTOFF = 10  # recall and MRR look at the first ten distinct documents, whatever --k is


@dataclass(frozen=True, kw_only=True)
class EvalQuestion:
    id: str
    question: str
    gold: tuple[str, ...]
    answers: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class QuestionRun:
    """One question as eval saw it. The `*_contains` fields are None where the question does
    not count towards that figure (unanswerable, no `answers`, or no model for the context)."""

    question: EvalQuestion
    language: str
    answerable: bool
    answer: Answer
    result: SearchResult
    abstained: bool
    elapsed_ms: float
    gold_rank: int | None  # 1-based rank of the first gold document, None when not in the first ten
    answer_contains: bool | None
    context_contains: bool | None


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
                        gold=_strings(row, "gold"),
                        answers=_strings(row, "answers"),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise SupportBotError(f"{path}, line {number}: not a question object ({exc})") from None
    if not questions:
        raise SupportBotError(f"{path} holds no questions")
    return questions


def _strings(row: dict[str, Any], key: str) -> tuple[str, ...]:
    """A row's `gold` or `answers`: a list of strings, or one string, a list of one (taken as
    a list, a string was its letters: any answer "held" the key string "forty weeks")."""
    value = row.get(key) or []
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(
            f"`{key}` must be a list of strings, not {json.dumps(value, ensure_ascii=False)[:80]}"
        )
    return tuple(value)


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


def contains_any(text: str, answers: Iterable[str]) -> bool:
    """Whether Markdown `text` shows one of `answers`: read as its reader sees it, escapes
    taken back (a quoted `\\_\\_init\\_\\_.py` shows `__init__.py`)."""
    haystack = normalise(unescape_prose(text))
    return any(normalise(a) in haystack for a in answers if a.strip())


def _ranked_documents(paths: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(paths))


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _passage_as_prompted(passage: Passage) -> str:
    # the model sees the title and heading as the passage's source line, then its text
    return "\n".join((passage.title, passage.heading, passage.text))


def index_set(
    settings: Settings, held_out: frozenset[str] = frozenset(), progress: Progress | None = None
) -> tuple[KnowledgeBase, float]:
    """The index of `settings.knowledge_dir` without `held_out`, and the seconds it took."""
    from bot.app import open_knowledge

    started = time.perf_counter()
    knowledge = open_knowledge(settings, exclude=held_out)
    try:
        # a kept index may hold the documents this run leaves out: read everything again
        knowledge.rebuild(progress) if held_out else knowledge.sync(progress)
    except BaseException:
        knowledge.close()
        raise
    return knowledge, time.perf_counter() - started


@contextmanager
def eval_bot(settings: Settings, knowledge: KnowledgeBase) -> Iterator[SupportBot]:
    """The bot eval asks, answering as `settings` configure it; closes `knowledge` at the end.
    The caller awaits `bot.aclose()` in the event loop that asked."""
    from bot.app import build_answerer, build_embedder
    from bot.clock import SystemClock
    from bot.store import AsyncStore, StateStore

    try:
        store = AsyncStore(StateStore(settings.data_dir / "state.db"))
        try:
            answerer, fallback = build_answerer(settings)
            bot = SupportBot(
                settings=settings,
                store=store,
                knowledge=knowledge,
                answerer=answerer,
                fallback=fallback,
                clock=SystemClock(),
                embedder=build_embedder(settings),
            )
            try:
                yield bot
            finally:
                bot.close()
        finally:
            store.close()
    finally:
        knowledge.close()


async def run_questions(
    bot: SupportBot,
    questions: Iterable[EvalQuestion],
    *,
    k: int = 10,
    held_out: frozenset[str] = frozenset(),
) -> AsyncIterator[QuestionRun]:
    """Ask every question as a chat message in an internal channel would, one at a time:
    redacted by `[privacy] redact` as the core redacts a message (the answers it is scored
    against are the set's own)."""
    for q in questions:
        asked = bot.redactor.redact(q.question)
        started = time.perf_counter()
        # the whole knowledge folder is measured, whatever audience a document is for
        answer, result = await bot.answers.ask(asked, DocVisibility.INTERNAL, k=k, audiences=None)
        elapsed_ms = (time.perf_counter() - started) * 1000
        present = [g for g in q.gold if g not in held_out]
        answerable = bool(present)
        gold_rank = None
        if answerable:
            docs = _ranked_documents(p.path for p in result.passages)[:RANK_CUTOFF]
            gold_rank = next((i for i, doc in enumerate(docs, start=1) if doc in present), None)
        counts = answerable and any(a.strip() for a in q.answers)
        context_contains = None
        if counts:
            context = await bot.answers.model_context(asked, result)
            if context is not None:
                context_contains = any(contains_any(_passage_as_prompted(p), q.answers) for p in context)
        yield QuestionRun(
            question=q,
            language=policy.detect_language(q.question),
            answerable=answerable,
            answer=answer,
            result=result,
            abstained=bot.answers.is_abstention(answer),
            elapsed_ms=elapsed_ms,
            gold_rank=gold_rank,
            answer_contains=contains_any(answer.text, q.answers) if counts else None,
            context_contains=context_contains,
        )


def figures(runs: Sequence[QuestionRun]) -> dict[str, Any]:
    """The report's figures over `runs`: every rate is None when nothing counts towards it."""
    answerable = [r for r in runs if r.answerable]
    unanswerable = [r for r in runs if not r.answerable]
    ranks = [r.gold_rank for r in answerable if r.gold_rank is not None]
    with_answers = [r.answer_contains for r in runs if r.answer_contains is not None]
    with_context = [r.context_contains for r in runs if r.context_contains is not None]
    timings = [r.elapsed_ms for r in runs]
    return {
        "questions": len(runs),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "recall@1": _rate(sum(rank == 1 for rank in ranks), len(answerable)),
        "recall@5": _rate(sum(rank <= 5 for rank in ranks), len(answerable)),
        "mrr@10": round(sum(1 / rank for rank in ranks) / len(answerable), 4) if answerable else None,
        "answer_contains": _rate(sum(with_answers), len(with_answers)),
        "context_contains": _rate(sum(with_context), len(with_context)),
        "answered_when_answerable": _rate(sum(not r.abstained for r in answerable), len(answerable)),
        "abstained_when_unanswerable": _rate(sum(r.abstained for r in unanswerable), len(unanswerable)),
        "abstain_rate": _rate(sum(r.abstained for r in runs), len(runs)),
        "p50_ms": round(statistics.median(timings), 3) if timings else None,
        "p99_ms": round(_percentile(timings, 99), 3) if timings else None,
    }


async def evaluate(
    bot: SupportBot,
    questions: Sequence[EvalQuestion],
    *,
    k: int = 10,
    held_out: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    runs = [run async for run in run_questions(bot, questions, k=k, held_out=held_out)]
    report = figures(runs)
    report["by_language"] = {
        language: figures([r for r in runs if r.language == language]) for language in LANGUAGES
    }
    if held_out:
        report["held_out_documents"] = len(held_out)
    return report


def _percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]
