"""The interfaces the core depends on. Adapters and answerers implement them.

They are narrow on purpose: the core can post, edit and open a thread, and nothing else
of a platform; rendering (Block Kit, embeds, mention escaping, splitting long text) is
the adapter's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from bot.config import Settings
from bot.types import (
    ActionEvent,
    Answer,
    Command,
    ConversationRef,
    InboundMessage,
    Outcome,
    Passage,
    Posted,
    Reply,
    RetrievalHints,
    SearchResult,
    Turn,
    Visibility,
)


class Core(Protocol):
    """What an adapter may ask of the conversation core: hand it events, replay what a dead
    process left. Adapters depend on this, never on the concrete SupportBot."""

    settings: Settings

    async def on_message(self, message: InboundMessage, channel: Channel) -> Outcome: ...

    async def on_command(self, command: Command, channel: Channel) -> Outcome: ...

    async def on_action(self, event: ActionEvent, channel: Channel) -> Outcome: ...

    async def replay_pending(self, platform: str, channel: Channel) -> int: ...


class Adapter(Protocol):
    """One platform's connection: run it, reach its Channel, close it."""

    name: str  # the platform it serves: the key for its Channel

    @property
    def channel(self) -> Channel:
        """The adapter's Channel; raises RuntimeError until it is connected."""
        ...

    async def run(self) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class Channel(Protocol):
    """One platform's way of putting the core's replies in front of people."""

    async def send(self, reply: Reply) -> Posted:
        """Post a reply; raise on failure (the core decides what the user then sees)."""
        ...

    async def edit(self, posted: Posted, reply: Reply) -> None:
        """Replace a posted message (streamed answers, ticket cards, thinking indicators)."""
        ...

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        """Make (or find) the thread that replies to `message` go in and return its address.

        A message already in a thread returns that thread; a platform without threads
        returns the message's own conversation.
        """
        ...


class StreamSink(Protocol):
    """Where a streaming answerer sends the text written so far (the whole of it, each time)."""

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


class Embedder(Protocol):
    """Turns texts into vectors, one per text, in order, through an embeddings endpoint.

    The only implementation speaks the OpenAI API (bot/answering/llm.py), so that retrieval
    and the core never import `openai`. Raises `bot.retrieval.embeddings.EmbeddingsUnavailable`
    when the endpoint fails; the core then searches with BM25 alone."""

    model: str

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    async def close(self) -> None: ...


class Retriever(Protocol):
    def search(self, query: str, visibility: Visibility, k: int) -> SearchResult: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
