"""What the knowledge base reports: a sync's outcome and its text, progress while files are
read, and the summary of what is indexed.

bot/retrieval/knowledge.py fills them in; the CLI, the app and the index service show them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.retrieval.vectors import EmbeddingReport

Progress = Callable[[int, int, str], None]  # (files read, files to read, the last one read)


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why it is not indexed)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, problem in a file read)
    chunks: int = 0  # chunks written in this sync
    embeddings: EmbeddingReport | None = None  # the vector cache pass after it, when enabled

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def describe(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.removed)} removed",
            f"{self.unchanged} unchanged",
        ]
        text = "Knowledge folder synced: " + ", ".join(parts) + "."
        if self.failed:
            text += f"\n{len(self.failed)} file(s) could not be read:"
            text += "".join(f"\n- {path}: {reason}" for path, reason in self.failed[:20])
            if len(self.failed) > 20:
                text += f"\n- ... and {len(self.failed) - 20} more"
        for label, entries in (("file(s) read with warnings", self.warnings), ("skipped", self.skipped)):
            if entries:
                text += f"\n{len(entries)} {label}:"
                text += "".join(f"\n- {path}: {reason}" for path, reason in entries[:20])
                if len(entries) > 20:
                    text += f"\n- ... and {len(entries) - 20} more"
        if self.embeddings is not None:
            text += "\n" + self.embeddings.describe()
        return text


@dataclass(frozen=True, kw_only=True)
class KnowledgeSummary:
    folder: Path
    files: int
    chunks: int
    errors: int
