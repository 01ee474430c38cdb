"""Reading the knowledge folder and searching it: ingest, chunking, analysis, index, search."""

from bot.retrieval.knowledge import KnowledgeBase, KnowledgeSummary, SyncReport

__all__ = ["KnowledgeBase", "KnowledgeSummary", "SyncReport"]
