"""Wiring: from Settings to a bot ready to run.

`build_runtime` opens the state store and the knowledge base, syncs the folder, picks the
answerer (and, with `[llm] embeddings`, the embedder) and builds the SupportBot. `build_asking`
builds only what `supportbot ask` uses (the index and the answer pipeline: no state store, no
SupportBot, none of their imports), so a question from the terminal starts quickly. Both are
synchronous and may run inside an event loop, so neither calls the embeddings endpoint:
the bot fills the vector cache on its first search, or in the background from
`run_adapters` (bot/retrieval/embeddings.py). Running the built bot on its platforms
(`run_adapters`, the supervisor) is bot/supervisor.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.answering.extractive import ExtractiveAnswerer
from bot.answering.pipeline import AnswerPipeline
from bot.clock import SystemClock
from bot.config import Settings
from bot.errors import ConfigError
from bot.privacy.redaction import Redactor
from bot.retrieval.indexes import open_folder_knowledge
from bot.retrieval.knowledge import KnowledgeBase
from bot.retrieval.knowledge_report import Progress, SyncReport
from bot.retrieval.service import KnowledgeService

# the core and the state store are imported where a runtime is built: `supportbot ask`
# needs neither, and together they are most of a cold start
if TYPE_CHECKING:
    from bot.core import SupportBot
    from bot.ports import Answerer, Clock, Embedder
    from bot.store import AsyncStore, StateStore


@dataclass
class Runtime:
    """A running bot and what it stands on: settings, state store, index, core."""

    settings: Settings
    state: StateStore
    store: AsyncStore
    knowledge: KnowledgeBase
    bot: SupportBot
    last_sync: SyncReport
    closed: bool = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.bot.close()
        self.store.close()
        self.knowledge.close()


def index_root(settings: Settings) -> Path:
    """Where the search indexes live: one per knowledge folder (bot/retrieval/indexes.py)."""
    return settings.data_dir / "index"


def open_knowledge(settings: Settings, exclude: frozenset[str] = frozenset()) -> KnowledgeBase:
    """The knowledge folder's own index under the data dir, so switching --knowledge between
    folders and back costs an incremental sync instead of a rebuild each time."""
    return open_folder_knowledge(
        index_root(settings),
        settings.knowledge_dir,
        max_file_bytes=int(settings.knowledge.max_file_mb * 1024 * 1024),
        exclude=exclude,
        embeddings=settings.embeddings_enabled,
        exclude_globs=settings.knowledge.exclude,
        include_root=settings.knowledge.include_root,
        base_url=settings.knowledge.base_url,
        follow_symlinks=settings.knowledge.follow_symlinks,
    )


def build_embedder(settings: Settings) -> Embedder | None:
    """The embedder for hybrid retrieval, or None (the default: BM25 alone, no openai import)."""
    if not settings.embeddings_enabled:
        return None
    from bot.answering.openai_client import build_embedder as build  # imports openai: only when enabled

    return build(settings)


def check_answer_mode(settings: Settings) -> None:
    """Raise ConfigError when `[answer] mode = "llm"` has no model endpoint: called before
    anything is opened or indexed, so `run`, `chat` and `ask` refuse at once."""
    if (problem := settings.model_missing) is not None:
        raise ConfigError([problem], source=str(settings.config_path or "configuration"))


def build_answerer(settings: Settings) -> tuple[Answerer, Answerer | None]:
    """The answerer to use and the fallback for when it fails."""
    check_answer_mode(settings)
    extractive = ExtractiveAnswerer(
        threshold=settings.answer.confidence_threshold, max_sources=settings.answer.max_sources
    )
    if settings.answer.mode == "extractive" or not settings.llm_configured:
        return extractive, None
    from bot.answering.llm import build_llm_answerer  # imports openai: only when configured

    return build_llm_answerer(settings), extractive


def open_synced_knowledge(
    settings: Settings, progress: Progress | None = None
) -> tuple[KnowledgeBase, SyncReport]:
    """The folder's index brought in step with the folder (closed again if that fails)."""
    knowledge = open_knowledge(settings)
    try:
        return knowledge, knowledge.sync(progress)
    except BaseException:
        knowledge.close()
        raise


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    answerer: Answerer | None = None,
    progress: Progress | None = None,
) -> Runtime:
    from bot.core import SupportBot
    from bot.store import AsyncStore, StateStore

    if answerer is None:
        check_answer_mode(settings)
    state = StateStore.open(settings)
    try:
        # read before the sync: a change counted meanwhile (another worker's) is synced again
        synced_at = state.knowledge_generation()
        knowledge, report = open_synced_knowledge(settings, progress)
    except BaseException:
        state.close()
        raise
    chosen, fallback = (answerer, None) if answerer is not None else build_answerer(settings)
    # reports (the dashboard's overview, /support stats) read on a second connection of their own
    store = AsyncStore(state, reports=lambda: StateStore.open(settings))
    bot = SupportBot(
        settings=settings,
        store=store,
        knowledge=knowledge,
        answerer=chosen,
        fallback=fallback,
        clock=clock or SystemClock(),
        embedder=build_embedder(settings),
        synced_at=synced_at,
    )
    return Runtime(
        settings=settings, state=state, store=store, knowledge=knowledge, bot=bot, last_sync=report
    )


@dataclass
class Asking:
    """What `supportbot ask` answers with: the folder's index behind the knowledge service, and
    the answer pipeline every platform's answers go through. No state store: a question asked
    in the terminal is not a conversation, so nothing is recorded (and no model answers are
    counted against the hourly limits, which are for chat). A question is redacted by
    `[privacy] redact` before it is asked, as the core redacts one typed in the chat."""

    knowledge: KnowledgeBase
    service: KnowledgeService
    answers: AnswerPipeline
    redactor: Redactor
    last_sync: SyncReport
    closed: bool = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.service.close()
        self.knowledge.close()

    async def aclose(self) -> None:
        """Release the answerers' and the embedder's connections, in the loop that opened them."""
        await self.answers.aclose()
        await self.service.aclose()


def build_asking(settings: Settings, *, progress: Progress | None = None) -> Asking:
    """The index, in step with the folder, and the answer pipeline, wired as `build_runtime`
    wires them into the SupportBot (the same answerer, fallback, embedder and timeouts)."""
    check_answer_mode(settings)
    knowledge, report = open_synced_knowledge(settings, progress)
    answerer, fallback = build_answerer(settings)
    service = KnowledgeService(
        knowledge, embedder=build_embedder(settings), model_timeout=settings.llm.timeout_seconds
    )
    answers = AnswerPipeline(
        settings=settings,
        store=None,
        clock=SystemClock(),
        knowledge=service,
        answerer=answerer,
        fallback=fallback,
    )
    return Asking(
        knowledge=knowledge,
        service=service,
        answers=answers,
        redactor=Redactor.from_settings(settings.privacy),
        last_sync=report,
    )
