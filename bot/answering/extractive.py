"""The offline answerer: quotes the documentation, picking the part that answers the question.

No model, no network. `bot.answering.picker` chooses the quote among the best passages (the
how-to: the steps, the code block with the sentence that introduces it, the parameter); this
module turns it into an Answer: the quote, a lead naming the section it comes from, and the
citations, the quoted passage first. Below the confidence threshold it abstains, and the
core hands over to a person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.answering.picker import pick
from bot.answering.safety import redact_secrets
from bot.messages import say
from bot.policy import detect_language
from bot.ports import StreamSink
from bot.types import Answer, Citation, Passage, RetrievalHints, Turn


def excerpt(
    question: str, passage: Passage, passages: Sequence[Passage], idf: Mapping[str, float] | None = None
) -> str:
    """The part of `passage` that answers `question` (the whole section if it is short)."""
    quote = pick(question, [passage], idf)
    return quote.text if quote is not None else passage.text.strip()


def _section_name(passage: Passage) -> str:
    return " › ".join(part for part in (passage.title, *passage.heading.split(" > ")) if part.strip())


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
        *,
        hints: RetrievalHints | None = None,
    ) -> Answer:
        return self.answer_now(question, passages, language, confidence, hints=hints)

    def _abstain(self, language: str, confidence: float) -> Answer:
        return Answer(
            text=say("abstain", language),
            citations=(),
            confidence=confidence,
            language=language,
            answerer=self.name,
            abstained=True,
        )

    def answer_now(
        self,
        question: str,
        passages: Sequence[Passage],
        language: str,
        confidence: float,
        *,
        hints: RetrievalHints | None = None,
    ) -> Answer:
        if not passages or confidence < self.threshold:
            return self._abstain(language, confidence)
        hints = hints or RetrievalHints()
        # passages ordered by meaning are not re-ranked by their words: quote the first one
        quote = pick(question, passages[:1] if hints.reranked else passages, hints.term_weights)
        if quote is None:
            return self._abstain(language, confidence)
        source = quote.passage
        # documents are written by people: a pasted credential must not be re-posted. Mentions
        # are left to the adapters, which defuse them without changing what the text says.
        text = redact_secrets(quote.text)
        if detect_language(text) != language:
            text = f"{say('quoted_original', language)}\n\n{text}"
        if source.heading:
            text = f"{say('quote_from', language, section=_section_name(source))}\n\n{text}"
        citations: list[Citation] = [source.citation()]
        best_score = passages[0].score
        # other files that also match well are worth a look, but never the same file twice
        for passage in passages:
            if len(citations) >= self.max_sources:
                break
            if passage.score >= 0.75 * best_score and passage.path not in {c.path for c in citations}:
                citations.append(passage.citation())
        return Answer(
            text=text,
            citations=tuple(citations),
            confidence=confidence,
            language=language,
            answerer=self.name,
        )
