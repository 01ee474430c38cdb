"""The offline answerer: quotes the documentation, picking the part that answers the question.

No model, no network. `bot.answering.picker` chooses the quote among the best passages (the
how-to: the steps, the code block with the sentence that introduces it, the parameter); this
module turns it into an Answer: the quote, a lead naming the section it comes from, and the
citations, the quoted passage first. Below the confidence threshold it abstains, and the
core hands over to a person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot.answering.picker import Quote, pick, pick_all
from bot.answering.secrets import redact_secrets
from bot.messages import say
from bot.policy import detect_language
from bot.types import Answer, Citation, Passage, RetrievalHints, Turn

if TYPE_CHECKING:
    from bot.ports import StreamSink


def excerpt(
    question: str, passage: Passage, passages: Sequence[Passage], idf: Mapping[str, float] | None = None
) -> str:
    """The part of `passage` that answers `question` (the whole section if it is short)."""
    quote = pick(question, [passage], idf)
    return quote.text if quote is not None else passage.text.strip()


def _section_name(passage: Passage) -> str:
    # a heading is a document's text too: a credential in one is not repeated
    return redact_secrets(
        " › ".join(part for part in (passage.title, *passage.heading.split(" > ")) if part.strip())
    )


# a second quote is shown when its section scores at least this share of the first one's;
# chosen by leave-one-set-out CV on realdocs_dev (answer contains the key, without
# abstaining: 0.60 / 0.81 / 0.56 with one quote, 0.69 / 0.83 / 0.61 with this rule)
SECOND_QUOTE_RATIO = 0.7


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

    @staticmethod
    def _quoted(quote: Quote, language: str, *, lead: str) -> str:
        # documents are written by people: a pasted credential must not be re-posted. Mentions
        # are left to the adapters, which defuse them without changing what the text says.
        text = redact_secrets(quote.text)
        if quote.passage.heading or lead == "also_from":
            text = f"{say(lead, language, section=_section_name(quote.passage))}\n\n{text}"
        return text

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
        quotes = pick_all(question, passages[:1] if hints.reranked else passages, hints.term_weights)
        if not quotes:
            return self._abstain(language, confidence)
        quote = quotes[0]
        source = quote.passage
        text = self._quoted(quote, language, lead="quote_from")
        if detect_language(quote.text) != language:
            text = f"{say('quoted_original', language)}\n\n{text}"
        citations: list[Citation] = [source.citation()]
        # a second section that answers nearly as well is shown too, labelled: two short quotes
        # serve better than one that may be the wrong half
        second = next(
            (
                q
                for q in quotes[1:]
                if (q.passage.path, q.passage.heading) != (source.path, source.heading)
                and q.score >= SECOND_QUOTE_RATIO * quote.score
            ),
            None,
        )
        if second is not None:
            text += "\n\n" + self._quoted(second, language, lead="also_from")
            citations.append(second.passage.citation())
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
