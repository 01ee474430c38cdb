"""Splitting a Document into chunks: the units that are indexed, ranked and cited.

A chunk is one section (the text under one heading) when it is short enough; a long
section is cut at paragraph boundaries into pieces of about `max_words` words, each
keeping the section's heading path so its citation still says where it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.retrieval.documents import Document, Section

MAX_WORDS = 220
HEADING_SEPARATOR = " > "


@dataclass(frozen=True, kw_only=True)
class Chunk:
    id: str  # path#ordinal: stable while the file does not change
    path: str
    ordinal: int
    title: str
    heading: str  # heading path below the title, " > "-joined; may be empty
    text: str
    url: str | None
    visibility: str
    tags: tuple[str, ...]


def _words(text: str) -> int:
    return len(text.split())


def _heading_path(document: Document, section: Section) -> str:
    headings = list(section.headings)
    if headings and headings[0].strip().casefold() == document.title.strip().casefold():
        headings = headings[1:]
    return HEADING_SEPARATOR.join(h for h in headings if h)


_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|(?<=다\.)\s+")


def _pieces(text: str, max_words: int) -> Iterator[str]:
    if _words(text) <= max_words:
        yield text
        return
    buffer: list[str] = []
    size = 0
    for paragraph in _split_long(_PARAGRAPH_BREAK.split(text), max_words):
        n = _words(paragraph)
        if buffer and size + n > max_words:
            yield "\n\n".join(buffer)
            buffer, size = [], 0
        buffer.append(paragraph)
        size += n
    if buffer:
        yield "\n\n".join(buffer)


def _split_long(paragraphs: list[str], max_words: int) -> Iterator[str]:
    """A paragraph longer than a chunk is cut at sentence ends, then at word counts."""
    for paragraph in paragraphs:
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if _words(paragraph) <= max_words:
            yield paragraph
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            words = sentence.split()
            for start in range(0, len(words), max_words):
                yield " ".join(words[start : start + max_words])


def chunk_document(document: Document, max_words: int = MAX_WORDS) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in document.sections:
        heading = _heading_path(document, section)
        for piece in _pieces(section.text, max_words):
            chunks.append(
                Chunk(
                    id=f"{document.path}#{len(chunks)}",
                    path=document.path,
                    ordinal=len(chunks),
                    title=document.title,
                    heading=heading,
                    text=piece,
                    url=document.url,
                    visibility=str(document.visibility),
                    tags=document.tags,
                )
            )
    return chunks
