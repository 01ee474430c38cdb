"""The knowledge index opened for reading by a process that is not the bot: the standalone
`supportbot dashboard`'s knowledge page and its "why did it answer that?" tool.

It is wired as `supportbot ask` wires it (bot/app.py: the folder's own index, the configured
answerer, fallback and embedder) but never syncs: the running bot or `supportbot index`
writes the index, and a second writer would contend with them for its lock. It lives
outside bot/dashboard/ because it needs bot/app.py's wiring, and the wiring sits above the
dashboard (bot/supervisor.py serves it): the dashboard is handed it (`Dashboard.reader`) rather
than importing it.
"""

from __future__ import annotations

from bot.answering.pipeline import AnswerPipeline
from bot.app import build_answerer, build_embedder, index_root, open_knowledge
from bot.config import Settings
from bot.ports import Clock
from bot.retrieval.indexes import index_key
from bot.retrieval.service import KnowledgeService
from bot.store import AsyncStore


def open_for_reading(settings: Settings, store: AsyncStore | None, clock: Clock) -> AnswerPipeline:
    """The answer pipeline over the existing index of the configured folder; LookupError when
    the folder was never indexed. Opening is sync I/O: call it on a thread."""
    if not (index_root(settings) / index_key(settings.knowledge_dir) / "catalog.db").exists():
        raise LookupError(
            f"the knowledge folder {settings.knowledge_dir} has no index yet: run supportbot index "
            "(or supportbot run) once"
        )
    base = open_knowledge(settings)
    try:
        answerer, fallback = build_answerer(settings)
        embedder = build_embedder(settings)
    except BaseException:
        base.close()
        raise
    knowledge = KnowledgeService(base, embedder=embedder, model_timeout=settings.llm.timeout_seconds)
    return AnswerPipeline(
        settings=settings, store=store, clock=clock, knowledge=knowledge, answerer=answerer, fallback=fallback
    )
