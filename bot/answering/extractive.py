"""The offline answerer: quotes the documentation, picking what answers the question.

No model, no network. It takes the best passage and, when the passage is longer than an
answer should be, keeps the sentences that share the most (rare) words with the question,
with the sentence before a list or code block kept together with it. Below the confidence
threshold it abstains, and the core hands over to a person.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answering.safety import redact_secrets
from bot.messages import say
from bot.policy import detect_language
from bot.ports import StreamSink
from bot.retrieval.tokenize import analyze
from bot.types import Answer, Citation, Passage, Turn

SHORT_PASSAGE_WORDS = 90  # a section this short is shown whole: it is the answer
MAX_ANSWER_WORDS = 120


@dataclass(frozen=True)
class _Unit:
    text: str
    kind: str  # "sentence", "list", "code"
    paragraph: int


_FENCE = re.compile(r"^(```|~~~)")
_LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s+")
_SENTENCE = re.compile(r"(?<=[.!?。])\s+(?=[\"'(\[A-Z0-9가-힣`*])")


def _units(text: str) -> list[_Unit]:
    """Split Markdown into sentences, list items and code blocks, in order."""
    units: list[_Unit] = []
    paragraph = 0
    lines = text.splitlines()
    i = 0
    prose: list[str] = []

    def flush() -> None:
        nonlocal prose
        joined = " ".join(s.strip() for s in prose if s.strip())
        for sentence in _SENTENCE.split(joined):
            if sentence.strip():
                units.append(_Unit(sentence.strip(), "sentence", paragraph))
        prose = []

    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line.strip()):
            flush()
            fence = line.strip()[:3]
            block = [line]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                block.append(lines[i])
                i += 1
            if i < len(lines):
                block.append(lines[i])
            units.append(_Unit("\n".join(block), "code", paragraph))
            i += 1
            continue
        if not line.strip():
            flush()
            paragraph += 1
        elif _LIST_ITEM.match(line):
            flush()
            units.append(_Unit(line.rstrip(), "list", paragraph))
        elif units and units[-1].kind == "list" and line.startswith(("  ", "\t")) and not prose:
            last = units.pop()
            units.append(_Unit(f"{last.text} {line.strip()}", "list", last.paragraph))
        else:
            prose.append(line)
        i += 1
    flush()
    return units


def _weights(question: str, passages: Sequence[Passage]) -> dict[str, float]:
    """Question terms weighted by how rare they are among the retrieved passages."""
    terms = set(analyze(question))
    docs = [set(analyze(p.text)) for p in passages] or [set()]
    n = len(docs)
    return {t: math.log(1 + (n + 1) / (1 + sum(t in d for d in docs))) for t in terms}


def _select(units: list[_Unit], weights: dict[str, float]) -> list[_Unit]:
    scores = []
    for unit in units:
        terms = set(analyze(unit.text)) if unit.kind != "code" else set()
        scores.append(sum(weights.get(t, 0.0) for t in terms))
    best = max(range(len(units)), key=lambda i: (scores[i], -i))
    chosen = {best}
    words = len(units[best].text.split())
    # a sentence that introduces a list or code ("Run:", "Steps:") needs what follows it
    j = best + 1
    while j < len(units) and (
        units[j].kind in ("list", "code")
        and (units[best].text.rstrip().endswith(":") or units[best].kind == "list")
    ):
        chosen.add(j)
        words += len(units[j].text.split())
        j += 1
    # then the strongest neighbours, while the answer stays short
    for i in sorted(range(len(units)), key=lambda i: -scores[i]):
        if i in chosen or scores[i] <= 0:
            continue
        if not any(abs(i - c) <= 1 for c in chosen):
            continue
        size = len(units[i].text.split())
        if words + size > MAX_ANSWER_WORDS:
            continue
        chosen.add(i)
        words += size
    if (
        units[min(chosen)].kind == "list"
        and min(chosen) > 0
        and units[min(chosen) - 1].text.rstrip().endswith(":")
    ):
        chosen.add(min(chosen) - 1)
    return [units[i] for i in sorted(chosen)]


def _render(units: list[_Unit]) -> str:
    out: list[str] = []
    for previous, unit in zip([None, *units[:-1]], units, strict=True):
        if previous is None:
            out.append(unit.text)
        elif (
            unit.kind in ("list", "code")
            or previous.kind in ("list", "code")
            or unit.paragraph != previous.paragraph
        ):
            out.append(("\n" if unit.kind == "list" and previous.kind == "list" else "\n\n") + unit.text)
        else:
            out.append(" " + unit.text)
    return "".join(out).strip()


def excerpt(question: str, passage: Passage, passages: Sequence[Passage]) -> str:
    """The part of `passage` that answers `question`: the whole section if it is short."""
    if len(passage.text.split()) <= SHORT_PASSAGE_WORDS:
        return passage.text.strip()
    units = _units(passage.text)
    if not units:
        return passage.text.strip()
    return _render(_select(units, _weights(question, passages)))


class ExtractiveAnswerer:
    name = "extractive"
    description = "quoted from the documentation (offline, no model)"

    def __init__(self, *, threshold: float, max_sources: int = 3) -> None:
        self.threshold = threshold
        self.max_sources = max_sources

    async def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn],
        language: str,
        confidence: float,
        on_text: StreamSink | None = None,
    ) -> Answer:
        return self.answer_now(question, passages, language, confidence)

    def answer_now(
        self, question: str, passages: Sequence[Passage], language: str, confidence: float
    ) -> Answer:
        if not passages or confidence < self.threshold:
            return Answer(
                text=say("abstain", language),
                citations=(),
                confidence=confidence,
                language=language,
                answerer=self.name,
                abstained=True,
            )
        best = passages[0]
        # documents are written by people: a pasted credential must not be re-posted. Mentions
        # are left to the adapters, which defuse them without changing what the text says.
        text = redact_secrets(excerpt(question, best, passages))
        if detect_language(text) != language:
            text = f"{say('quoted_original', language)}\n\n{text}"
        citations: list[Citation] = [best.citation()]
        # other files that also match well are worth a look, but never the same file twice
        for passage in passages[1:]:
            if len(citations) >= self.max_sources:
                break
            if passage.score >= 0.75 * best.score and passage.path not in {c.path for c in citations}:
                citations.append(passage.citation())
        return Answer(
            text=text,
            citations=tuple(citations),
            confidence=confidence,
            language=language,
            answerer=self.name,
        )
