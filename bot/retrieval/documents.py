"""Reading one knowledge file into a Document: its metadata and its sections by heading.

This module is the public entry; the parsers for each format live in
`bot.retrieval.formats` (Markdown and MkDocs, MDX, reStructuredText and Sphinx, HTML, plain
text and, with the `pdf` extra, PDF). Every parser produces the same shape: sections of
clean Markdown (fenced code, `- ` lists, no source markup), each with the heading path that
leads to it and the heading's explicit anchor, so a citation can say where an answer came
from. Problems that do not stop a file from being read (an include that is missing or
outside the folder) are collected in `Document.warnings` for the admin; a file that cannot
be read at all raises DocumentError with a message that says what is wrong and what to do.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.retrieval.audience import AudienceError, audience_names
from bot.retrieval.sections import Document, DocumentError, Section, SectionKind
from bot.types import DocVisibility

if TYPE_CHECKING:
    from bot.retrieval.formats.common import ParseContext, Parsed

# bump whenever a parser's (or the chunker's) output changes: every file is then read again
FORMATS_VERSION = "10"
SUPPORTED_SUFFIXES = (".md", ".markdown", ".mdx", ".txt", ".text", ".rst", ".html", ".htm", ".pdf")


def read_document(
    root: Path, file: Path, data: bytes, *, include_root: Path | None = None, globs: tuple[str, ...] = ()
) -> Document:
    """Parse `data` (the bytes of `file`, which lies under `root`). Files it includes are
    read only from inside `root` or `include_root`, and never one `globs` ([knowledge]
    exclude) leave out of the index."""
    from bot.retrieval.formats.common import ParseContext

    relative = file.relative_to(root).as_posix()
    suffix = file.suffix.lower()
    context = ParseContext(root=root, file=file, include_root=include_root, globs=globs)
    if suffix == ".pdf":
        from bot.retrieval.formats.pdf import parse as parse_pdf

        parsed = parse_pdf(data)
    else:
        parsed = _parse_text(suffix, _decode(data), context)
    document = _with_meta(relative, file, parsed, tuple(context.warnings))
    return replace(document, includes=tuple(context.included.values())) if context.included else document


def _parse_text(suffix: str, text: str, context: ParseContext) -> Parsed:
    if suffix in {".md", ".markdown", ".mdx"}:
        from bot.retrieval.formats.markdown import parse as parse_markdown
        from bot.retrieval.formats.mdx import looks_like_mdx
        from bot.retrieval.formats.mdx import parse as parse_mdx
        from bot.retrieval.formats.myst import uses_myst

        # MyST pages show `<class 'str'>` in doctest output too: a directive or role says MyST
        if suffix == ".mdx" or (looks_like_mdx(text) and not uses_myst(text)):
            return parse_mdx(text, context)
        return parse_markdown(text, context)
    if suffix == ".rst":
        from bot.retrieval.formats.rst import parse as parse_rst

        return parse_rst(text, context)
    if suffix in {".html", ".htm"}:
        from bot.retrieval.formats.html import parse as parse_html

        return parse_html(text, context)
    from bot.retrieval.formats.text import parse as parse_plain

    return parse_plain(text)


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


_TAG_IN_TITLE = re.compile(r"(?<!`)(</?[A-Za-z][\w.]*\s*/?>|<>|</>)(?!`)")


def _code_spans(title: str) -> str:
    """A title that names a component (`<Fragment>`) shows it as code, as the page does;
    bare, it would read as markup to every renderer downstream."""
    return _TAG_IN_TITLE.sub(lambda m: f"`{m.group(1)}`", title)


def _with_meta(relative: str, file: Path, parsed: Parsed, warnings: tuple[str, ...]) -> Document:
    meta = parsed.meta
    title = _code_spans(str(meta.get("title") or parsed.title or _default_title(file)).strip())
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
    slug, doc_id = meta.get("slug"), meta.get("id")
    try:
        audience = audience_names(meta.get("audience"), "audience: in its front matter")
    except AudienceError as exc:
        raise DocumentError(f"has {exc}") from None
    return Document(
        path=relative,
        title=title,
        url=str(url) if url else None,
        slug=slug if isinstance(slug, str) else None,  # Docusaurus takes strings only
        doc_id=doc_id if isinstance(doc_id, str) else None,
        visibility=visibility,
        tags=tags,
        audience=audience,
        sections=parsed.sections,
        headings=parsed.headings,
        warnings=warnings,
    )


__all__ = [
    "FORMATS_VERSION",
    "SUPPORTED_SUFFIXES",
    "Document",
    "DocumentError",
    "Section",
    "SectionKind",
    "read_document",
]
