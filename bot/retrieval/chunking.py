"""Splitting a Document into chunks: the units that are indexed, ranked and cited.

A chunk is one section (the text under one heading) when it is short enough; a long
section is cut at paragraph boundaries into pieces of about `max_words` words, each
keeping the section's heading path so its citation still says where it came from. A
paragraph longer than a piece is cut too: prose at sentence ends, a table or a list only
between its rows or items, which keep their line breaks. A table's pieces each start with
its header row and rule, so a row is still quoted under the header that says what its cells
are. A code block is never cut, nor is a row or an item: a piece may run over `max_words`
to keep one whole.

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

from bot.retrieval.lines import FENCE, LIST_ITEM, TABLE_ROW, TABLE_RULE
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


def _paragraphs(text: str) -> Iterator[str]:
    """Paragraphs, with each fenced code block kept whole even when it holds blank lines."""
    current: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        marker = FENCE.match(line)
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
    piece = ""
    size = 0
    for atom in _atoms(list(_paragraphs(text)), max_words):
        n = _words(atom.text)
        # a sentence that leads into the rest of its paragraph ("Run it:") is not left behind
        leads_in = atom.joint == "\n" and piece.rstrip().endswith(":")
        joint = atom.joint
        if piece and size + n > max_words and not leads_in:
            yield piece
            piece, size, joint = atom.head, _words(atom.head), "\n"
        piece = f"{piece}{joint}{atom.text}" if piece else atom.text
        size += n
    if piece:
        yield piece


@dataclass(frozen=True)
class _Atom:
    """What pieces are packed from: a paragraph, or a part of one too long for a piece. `joint`
    goes between it and the atom before: a blank line between paragraphs, a line break inside
    one. A piece that starts at a table's row repeats `head`, the header row and its rule: the
    answerer quotes a row under them."""

    text: str
    joint: str = "\n\n"
    head: str = ""


def _atoms(paragraphs: list[str], max_words: int) -> Iterator[_Atom]:
    """The paragraphs, each one longer than a piece cut: prose at sentence ends, then at word
    counts; a table or a list only between its rows or items, keeping its line breaks."""
    for paragraph in paragraphs:
        if not paragraph.strip():
            continue
        if _words(paragraph) <= max_words:
            yield _Atom(paragraph.strip("\n"))
            continue
        blocks = _blocks(paragraph.strip("\n"), max_words)
        if all(block.prose for block in blocks):
            yield from (_Atom(sentence) for block in blocks for sentence in block.atoms)
            continue
        joint = "\n\n"
        for block in blocks:
            for n, text in enumerate(block.atoms):
                yield _Atom(text, joint, head=block.head if n else "")
                joint = "\n"


@dataclass(frozen=True)
class _Block:
    """A run of lines of one kind in a long paragraph, as the atoms it is cut into: rows, items,
    sentences, or a whole code block. `head` is a table's header row and rule, if it has one."""

    atoms: tuple[str, ...]
    head: str = ""
    prose: bool = False


def _blocks(paragraph: str, max_words: int) -> list[_Block]:
    """The paragraph's code blocks, tables, lists and prose, its lines read as
    bot/answering/units.py reads them."""
    lines = paragraph.splitlines()
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        j = i + 1
        if opened := FENCE.match(line):
            marker = opened.group(1)
            while j < len(lines) and not lines[j].strip().startswith(marker):
                j += 1
            j += 1  # past the closing fence; an unclosed block runs to the paragraph's end
            blocks.append(_Block(atoms=("\n".join(lines[i:j]),)))
        elif TABLE_ROW.match(line):
            while j < len(lines) and TABLE_ROW.match(lines[j]):
                j += 1
            rows = lines[i:j]
            headed = len(rows) > 2 and TABLE_RULE.match(rows[1]) and not TABLE_RULE.match(rows[0])
            cut = 3 if headed else 1  # the header and its rule stay with the first row
            head = "\n".join(rows[:2]) if headed else ""
            blocks.append(_Block(atoms=("\n".join(rows[:cut]), *rows[cut:]), head=head))
        elif LIST_ITEM.match(line):
            items = [line]
            while j < len(lines) and not (FENCE.match(lines[j]) or TABLE_ROW.match(lines[j])):
                if LIST_ITEM.match(lines[j]):
                    items.append(lines[j])
                elif lines[j].startswith(("  ", "\t")):  # the item goes on, as units.py reads it
                    items[-1] += "\n" + lines[j]
                else:
                    break
                j += 1
            blocks.append(_Block(atoms=tuple(items)))
        else:
            while j < len(lines) and not any(p.match(lines[j]) for p in (FENCE, TABLE_ROW, LIST_ITEM)):
                j += 1
            text = "\n".join(lines[i:j])
            sentences = [text] if _words(text) <= max_words else list(_sentences(text, max_words))
            blocks.append(_Block(atoms=tuple(sentences), prose=True))
        i = j
    return blocks


def _sentences(text: str, max_words: int) -> Iterator[str]:
    for sentence in _SENTENCE_END.split(text.strip()):
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
