"""Splitting a Document into chunks: the units that are indexed, ranked and cited.

A chunk is one section (the text under one heading) when it is short enough; a long
section is cut at paragraph boundaries into pieces of about `max_words` words, each
keeping the section's heading path so its citation still says where it came from. A code
block is never cut: a piece may run over `max_words` to keep one whole.

Each chunk carries the link a citation shows: the file's `url:` front matter when it has
one, else the published page (`bot.retrieval.site`; Docusaurus' `slug:`/`id:` front matter
may move it) with the anchor of the heading the section is under, built like the
documentation generator builds it: every heading of the page in order, the empty ones too,
each taking its explicit id or its slug.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.retrieval.sections import Document, Section, SectionKind
from bot.retrieval.site import Route, Site, anchored, page_url, slug_style
from bot.retrieval.slugs import heading_ids

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
    kind: SectionKind = SectionKind.PROSE
    audience: tuple[str, ...] = ()  # the document's audiences; () for everyone


def _words(text: str) -> int:
    return len(text.split())


def _heading_path(document: Document, section: Section) -> str:
    headings = list(section.headings)
    if headings and headings[0].strip().casefold() == document.title.strip().casefold():
        headings = headings[1:]
    return HEADING_SEPARATOR.join(h for h in headings if h)


_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|(?<=다\.)\s+")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def _paragraphs(text: str) -> Iterator[str]:
    """Paragraphs, with each fenced code block kept whole even when it holds blank lines."""
    current: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        marker = _FENCE.match(line)
        if fence is None and marker:
            fence = marker.group(1)
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None and not line.strip():
            if current:
                yield "\n".join(current)
            current = []
            continue
        current.append(line)
    if current:
        yield "\n".join(current)


def _pieces(text: str, max_words: int) -> Iterator[str]:
    if _words(text) <= max_words:
        yield text
        return
    buffer: list[str] = []
    size = 0
    for paragraph in _split_long(list(_paragraphs(text)), max_words):
        n = _words(paragraph)
        if buffer and size + n > max_words:
            yield "\n\n".join(buffer)
            buffer, size = [], 0
        buffer.append(paragraph)
        size += n
    if buffer:
        yield "\n\n".join(buffer)


def _split_long(paragraphs: list[str], max_words: int) -> Iterator[str]:
    """A prose paragraph longer than a chunk is cut at sentence ends, then at word counts."""
    for paragraph in paragraphs:
        if not paragraph.strip():
            continue
        if _words(paragraph) <= max_words or _FENCE.match(paragraph):
            yield paragraph.strip("\n")
            continue
        for sentence in _SENTENCE_END.split(paragraph.strip()):
            words = sentence.split()
            for start in range(0, len(words), max_words):
                yield " ".join(words[start : start + max_words])


def _links(document: Document, site: Site | None) -> list[str | None]:
    """The citation link of each section, in order."""
    if document.url or site is None:
        return [document.url] * len(document.sections)
    page = page_url(site, document.path, Route(slug=document.slug, id=document.doc_id))
    if page is None:
        return [None] * len(document.sections)
    # every heading of the page, empty ones included, as the generator numbers them
    headings = [(h.title, h.anchor) for h in document.headings]
    ids = heading_ids(slug_style(site, document.path), headings, toc=site.toc)
    return [_section_link(document, page, ids, section) for section in document.sections]


def _section_link(document: Document, page: str, ids: tuple[str, ...], section: Section) -> str:
    """The page, at the id of the heading the section is under; the page's own title and
    text before any heading link to the top."""
    if section.start is None or _is_page_title(document, section.start):
        return page
    return anchored(page, ids[section.start])


def _is_page_title(document: Document, index: int) -> bool:
    """The page's own title: its first heading, at the outermost level, named like the page
    or with no text above it. A page titled in its front matter starts at `##`, or puts text
    above its first `#` (a blog post's byline): those headings are sections with anchors."""
    if index != 0 or document.headings[0].level != 1:
        return False
    named_so = document.headings[0].title.strip().casefold() == document.title.strip().casefold()
    return named_so or not document.sections or document.sections[0].start is not None


def chunk_document(
    document: Document, max_words: int = MAX_WORDS, *, site: Site | None = None
) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section, url in zip(document.sections, _links(document, site), strict=True):
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
                    url=url,
                    visibility=str(document.visibility),
                    tags=document.tags,
                    kind=section.kind,
                    audience=document.audience,
                )
            )
    return chunks
