"""Reading one knowledge file into a Document: its metadata and its sections by heading.

Markdown (with optional YAML front matter: title, url, visibility, tags), plain text,
reStructuredText, HTML and, with the `pdf` extra, PDF. Each reader turns its format into
the same shape: a list of sections, each with the heading path that leads to it, so a
citation can say where in the file an answer came from. A file that cannot be read
raises DocumentError with a message that says what is wrong and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from markdown_it import MarkdownIt

from bot.types import DocVisibility

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".text", ".rst", ".html", ".htm", ".pdf")


class DocumentError(Exception):
    """A knowledge file that cannot be used; the message is shown to the admin as is."""


@dataclass(frozen=True, kw_only=True)
class Section:
    headings: tuple[str, ...]  # the heading path, outermost first
    text: str


@dataclass(frozen=True, kw_only=True)
class Document:
    path: str  # relative to the knowledge folder, with forward slashes
    title: str
    url: str | None = None
    visibility: DocVisibility = DocVisibility.PUBLIC
    tags: tuple[str, ...] = ()
    sections: tuple[Section, ...] = field(default=())


def read_document(root: Path, file: Path, data: bytes) -> Document:
    """Parse `data` (the bytes of `file`, which lies under `root`)."""
    relative = file.relative_to(root).as_posix()
    suffix = file.suffix.lower()
    if suffix == ".pdf":
        return _read_pdf(relative, file, data)
    text = _decode(data)
    reader = _READERS.get(suffix, _read_text)
    return reader(relative, file, text)


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentError("looks like a binary file, not text; remove it or convert it to Markdown")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"is not valid UTF-8 (bad byte at offset {exc.start}); save it as UTF-8"
        ) from None


def _default_title(file: Path) -> str:
    return re.sub(r"[-_]+", " ", file.stem).strip().capitalize() or file.name


# -- Markdown -----------------------------------------------------------------------------

_md = MarkdownIt("commonmark").enable("table")


def _read_markdown(relative: str, file: Path, text: str) -> Document:
    meta: dict[str, Any] = {}
    body = text
    if text.startswith("---"):
        try:
            post = frontmatter.loads(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise DocumentError(
                f"has invalid YAML front matter{where}; fix the block between the --- lines"
            ) from None
        meta, body = dict(post.metadata), post.content
    sections = tuple(_markdown_sections(body))
    first_h1 = next((s.headings[0] for s in sections if s.headings), None)
    return _with_meta(relative, file, meta, sections, first_h1)


def _markdown_sections(text: str) -> Iterator[Section]:
    lines = text.splitlines()
    tokens = _md.parse(text)
    # (line where the heading starts, line after it, level, heading text)
    headings: list[tuple[int, int, int, str]] = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            inline = tokens[i + 1].content if i + 1 < len(tokens) else ""
            headings.append((token.map[0], token.map[1], int(token.tag[1]), _inline_text(inline)))
    path: list[tuple[int, str]] = []
    cursor = 0
    current: tuple[str, ...] = ()
    for start, end, level, title in headings:
        body = _clean_markdown("\n".join(lines[cursor:start]))
        if body:
            yield Section(headings=current, text=body)
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, title))
        current = tuple(t for _, t in path)
        cursor = end
    body = _clean_markdown("\n".join(lines[cursor:]))
    if body:
        yield Section(headings=current, text=body)


_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)(?:\s+\"[^\"]*\")?\)")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _inline_text(markdown: str) -> str:
    text = _LINK.sub(lambda m: m.group(1), markdown)
    return re.sub(r"[*_`]+", "", text).strip()


def _clean_markdown(markdown: str) -> str:
    """Keep Markdown (answers show it) but drop what is noise in a chat reply."""
    text = _HTML_COMMENT.sub("", markdown)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)  # images cannot be shown in a chat answer
    return text.strip()


# -- plain text ---------------------------------------------------------------------------


def _read_text(relative: str, file: Path, text: str) -> Document:
    body = text.strip()
    sections = (Section(headings=(), text=body),) if body else ()
    return _with_meta(relative, file, {}, sections, None)


# -- reStructuredText -------------------------------------------------------------------------


def _read_rst(relative: str, file: Path, text: str) -> Document:
    from docutils import nodes
    from docutils.core import publish_doctree

    try:
        tree = publish_doctree(
            text,
            settings_overrides={
                "report_level": 5,
                "halt_level": 5,
                "file_insertion_enabled": False,
                "raw_enabled": False,
            },
        )
    except Exception as exc:  # docutils raises many types for broken markup
        raise DocumentError(f"is not valid reStructuredText: {exc}") from None

    sections: list[Section] = []

    def walk(node: nodes.Element, path: tuple[str, ...]) -> None:
        own: list[str] = []
        for child in node.children:
            if isinstance(child, nodes.section):
                title = child.next_node(nodes.title)
                walk(child, (*path, title.astext() if title else ""))
            elif isinstance(child, nodes.title):
                continue
            elif isinstance(child, nodes.Element):
                own.append(child.astext())
        body = "\n\n".join(p.strip() for p in own if p.strip())
        if body:
            sections.append(Section(headings=path, text=body))

    title_node = tree.next_node(nodes.title)
    declared: str | None = tree.get("title")
    doc_title = declared or (title_node.astext() if title_node else None)
    walk(tree, (declared,) if declared else ())
    return _with_meta(relative, file, {}, tuple(sections), doc_title)


# -- HTML -------------------------------------------------------------------------------------

_BLOCKS = "h1, h2, h3, h4, h5, h6, p, li, pre, td, th, blockquote, dt, dd"


def _read_html(relative: str, file: Path, text: str) -> Document:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(text)
    for junk in tree.css("script, style, nav, header, footer, noscript, template"):
        junk.decompose()
    title_node = tree.css_first("title")
    page_title = title_node.text(strip=True) if title_node else None
    root = tree.body or tree.root
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    buffer: list[str] = []

    def flush() -> None:
        body = "\n\n".join(b for b in buffer if b)
        if body:
            sections.append(Section(headings=tuple(t for _, t in path), text=body))
        buffer.clear()

    if root is not None:
        for node in root.css(_BLOCKS):
            # nested blocks (p inside li) would be read twice: keep the innermost
            # lexbor's css() includes the node itself, hence "more than one"
            if node.tag not in {"h1", "h2", "h3", "h4", "h5", "h6"} and len(node.css(_BLOCKS)) > 1:
                continue
            content = " ".join(node.text(separator="").split())
            if not content:
                continue
            if node.tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
                flush()
                level = int(node.tag[1])
                while path and path[-1][0] >= level:
                    path.pop()
                path.append((level, content))
            else:
                buffer.append(f"- {content}" if node.tag == "li" else content)
        flush()
    h1 = next((s.headings[0] for s in sections if s.headings), None)
    return _with_meta(relative, file, {}, tuple(sections), page_title or h1)


# -- PDF (optional extra) ---------------------------------------------------------------------


def _read_pdf(relative: str, file: Path, data: bytes) -> Document:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:
        raise DocumentError(
            "is a PDF; install the pdf extra to read PDFs (pip install 'supportbot[pdf]')"
        ) from None
    import io

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        info_title = reader.metadata.title if reader.metadata else None
    except (PdfReadError, ValueError, KeyError) as exc:
        raise DocumentError(f"is not a readable PDF: {exc}") from None
    sections = tuple(
        Section(headings=(f"Page {n}",), text=text.strip())
        for n, text in enumerate(pages, start=1)
        if text.strip()
    )
    return _with_meta(relative, file, {}, sections, info_title)


# -- shared -----------------------------------------------------------------------------------


def _with_meta(
    relative: str,
    file: Path,
    meta: dict[str, Any],
    sections: tuple[Section, ...],
    fallback_title: str | None,
) -> Document:
    title = str(meta.get("title") or fallback_title or _default_title(file)).strip()
    visibility_raw = str(meta.get("visibility", "public")).strip().lower()
    try:
        visibility = DocVisibility(visibility_raw)
    except ValueError:
        raise DocumentError(
            f"has visibility: {visibility_raw!r} in its front matter; use public or internal"
        ) from None
    tags_raw = meta.get("tags") or ()
    tags = (tags_raw,) if isinstance(tags_raw, str) else tuple(str(t) for t in tags_raw)
    url = meta.get("url")
    return Document(
        path=relative,
        title=title,
        url=str(url) if url else None,
        visibility=visibility,
        tags=tags,
        sections=sections,
    )


_READERS: dict[str, Callable[[str, Path, str], Document]] = {
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".txt": _read_text,
    ".text": _read_text,
    ".rst": _read_rst,
    ".html": _read_html,
    ".htm": _read_html,
}
