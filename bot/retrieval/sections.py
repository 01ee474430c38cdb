"""What every documentation parser produces: a Document of Sections, or a DocumentError.

Values only, so the parsers (bot/retrieval/formats/) and the entry that dispatches to
them (bot/retrieval/documents.py) both depend on this leaf and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.types import DocVisibility


class DocumentError(Exception):
    """A knowledge file that cannot be used; the message is shown to the admin as is."""


class SectionKind(StrEnum):
    PROSE = "prose"
    REFERENCE = "reference"  # an API reference stub: worth citing, not worth quoting


@dataclass(frozen=True, kw_only=True)
class Heading:
    """One heading of a page, in document order, whether or not any text follows it.

    Kept apart from the sections because a generator gives an id to every heading: one
    with no text of its own (a parent directly followed by its first child) still takes a
    slug, and so still moves the numbering of every later duplicate.
    """

    level: int  # 1 for the outermost (`#`, the reST title's style, <h1>)
    title: str
    anchor: str | None = None  # the id the source gives explicitly ({#id}, a reST label)


@dataclass(frozen=True, kw_only=True)
class Section:
    headings: tuple[str, ...]  # the heading path, outermost first
    text: str
    anchor: str | None = None  # the heading's id when the source gives one explicitly
    kind: SectionKind = SectionKind.PROSE
    # the heading this section is under, as an index into Document.headings; None for text
    # before the first heading and for formats without headings of their own (PDF pages)
    start: int | None = None


@dataclass(frozen=True, kw_only=True)
class IncludedFile:
    """A file a page's text was read from besides the page itself, as it was when read. The
    page's own size, time and hash do not change when it does, so the sync compares these."""

    path: str  # resolved, relative to the resolved knowledge folder (`../` for the include root)
    size: int  # -1: nothing was there (an include left out, or a name tried before the one found)
    mtime_ns: int


@dataclass(frozen=True, kw_only=True)
class Document:
    path: str  # relative to the knowledge folder, with forward slashes
    title: str
    url: str | None = None
    # Docusaurus front matter that moves the page's URL (bot/retrieval/site.py's Route)
    slug: str | None = None
    doc_id: str | None = None  # `id:`
    visibility: DocVisibility = DocVisibility.PUBLIC
    tags: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()  # who may see it (bot/retrieval/audience.py); () for everyone
    sections: tuple[Section, ...] = field(default=())
    headings: tuple[Heading, ...] = ()  # every heading, empty ones too, for the anchors
    warnings: tuple[str, ...] = ()  # for the admin (e.g. an include left out), never in the text
    includes: tuple[IncludedFile, ...] = ()  # what its includes read (or looked for), by path
