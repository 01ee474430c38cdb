"""What writes answers and what they are written from: the answerer and its stream, the
summarizer of a hand-off brief, the embedder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from bot.types import Answer, Passage, RetrievalHints, Turn


class StreamSink(Protocol):
    """Where a streaming answerer sends the text written so far (the whole of it, each time).

    `ready`: whether a text sent now would be shown (the first post, or an edit within the
    platform's budget). An answerer makes the text to send only then: making it is work over
    the whole text so far (citations, redaction), and made for every streamed chunk it grew
    with the square of a long answer's length and took the model's time."""

    def ready(self) -> bool: ...

    async def __call__(self, text_so_far: str) -> None: ...


class Answerer(Protocol):
    """Writes an Answer from retrieved passages. `confidence` is retrieval's; the answerer
    may lower it (a model that cites nothing) but an abstention is always `abstained=True`.
    Raises AnswererUnavailable when it cannot answer now; the core then falls back.
    `hints` (what retrieval knows beyond the passages) may guide what to quote."""

    name: str

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
    ) -> Answer: ...


@runtime_checkable
class Summarizer(Protocol):
    """Writes the summary at the top of a ticket's hand-off brief: the model's answerer when
    one is configured (bot/answering/llm.py). Raises AnswererUnavailable when it cannot."""

    async def summarize(self, turns: Sequence[Turn], language: str) -> str: ...


class Embedder(Protocol):
    """Turns texts into vectors, one per text, in order, through an embeddings endpoint.

    The only implementation speaks the OpenAI API (bot/answering/openai_client.py), so that retrieval
    and the core never import `openai`. Raises `bot.retrieval.embeddings.EmbeddingsUnavailable`
    when the endpoint fails; the core then searches with BM25 alone."""

    model: str

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    async def close(self) -> None: ...
