"""Answerers for adapter tests: the real extractive answerer, made confident whenever
retrieval found a passage, because adapter tests are about the platform, not about the
retrieval's calibration (the core's own tests cover that)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from bot.answering.extractive import ExtractiveAnswerer
from bot.ports import StreamSink
from bot.types import Answer, Passage, RetrievalHints, Turn


class ConfidentExtractive:
    name = "extractive"

    def __init__(self) -> None:
        self.inner = ExtractiveAnswerer(threshold=0.0, max_sources=3)

    async def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn],
        language: str,
        confidence: float,
        on_text: StreamSink | None = None,
        *,
        hints: RetrievalHints | None = None,
    ) -> Answer:
        return await self.inner.answer(question, passages, history, language, 0.9 if passages else 0.0)


class RecordingExtractive:
    """The real extractive answerer, keeping what each question was answered from: the
    passages and the history. `confident`: as ConfidentExtractive, for tests about what the
    answerer is given rather than about retrieval's calibration."""

    name = "extractive"

    def __init__(self, *, confident: bool = False) -> None:
        self.inner = ExtractiveAnswerer(threshold=0.0, max_sources=3)
        self.confident = confident
        self.given: list[tuple[Passage, ...]] = []
        self.histories: list[list[Turn]] = []

    async def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn],
        language: str,
        confidence: float,
        on_text: StreamSink | None = None,
        *,
        hints: RetrievalHints | None = None,
    ) -> Answer:
        self.given.append(tuple(passages))
        self.histories.append(list(history))
        if self.confident:
            confidence = 0.9 if passages else 0.0
        return await self.inner.answer(question, passages, history, language, confidence, hints=hints)


class GatedExtractive(ConfidentExtractive):
    """ConfidentExtractive that answers only once the test opens the gate: a slow answer
    whose slowness the test controls, with no clock involved. `asked` is set as soon as a
    question the gate holds reaches it. `held` chooses those questions (all by default; the
    others are answered at once); `partial`, if given, is shown (streamed) before waiting."""

    def __init__(self, *, held: Callable[[str], bool] | None = None, partial: str | None = None) -> None:
        super().__init__()
        self.asked = asyncio.Event()
        self.gate = asyncio.Event()
        self.held = held or (lambda question: True)
        self.partial = partial

    async def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn],
        language: str,
        confidence: float,
        on_text: StreamSink | None = None,
        *,
        hints: RetrievalHints | None = None,
    ) -> Answer:
        if self.partial is not None and on_text is not None:
            await on_text(self.partial)
        if self.held(question):
            self.asked.set()
            await self.gate.wait()
        return await super().answer(question, passages, history, language, confidence, on_text, hints=hints)
