"""Shared helpers: read one fixture of tests/fixtures/docs/<format>/ as the bot would."""

from __future__ import annotations

from pathlib import Path

from bot.retrieval.documents import Document, read_document

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "docs"


def read_fixture(kind: str, name: str, *, include_root: Path | None = None) -> Document:
    root = FIXTURES / kind
    file = root / name
    return read_document(root, file, file.read_bytes(), include_root=include_root)


def section(document: Document, *headings: str) -> str:
    return "\n\n".join(s.text for s in document.sections if s.headings == headings and s.kind == "prose")
