"""HTML pages (hand-written or built by Sphinx / MkDocs) into clean-Markdown sections.

Owns the page chrome that is not documentation (nav/header/footer, Sphinx sidebars and
relation bars, MkDocs Material header/sidebars/footer, ¶ header links, breadcrumbs, tables of
contents), headings with their `id` (or their enclosing section's) as the anchor, `<pre>`
as fenced code with its line breaks, lists as `- item`, tables as `a | b` rows. A page's text
is what it shows, so its Markdown characters are escaped (`markdown_text`): `2 * 3 * 4` is no
emphasis where a passage is quoted.
"""

from __future__ import annotations

from typing import Any

from selectolax.lexbor import LexborHTMLParser

from bot.retrieval.formats.common import (
    ParseContext,
    Parsed,
    SectionBuilder,
    code_span,
    fence,
    markdown_text,
    table_lines,
)

_CHROME = ", ".join(
    (
        "script, style, nav, header, footer, noscript, template, svg, button, form",
        "[role=navigation], [role=banner], [role=contentinfo], [role=search]",
        "div.sphinxsidebar, div.related, div.footer, .md-header, .md-sidebar, .md-footer, .md-tabs",
        ".headerlink, .breadcrumb, .breadcrumbs, .wy-breadcrumbs, .toc, #toc, .toctree-wrapper",
        ".md-nav, .wy-nav-side, .bd-sidebar, .bd-toc, [aria-label=breadcrumb], .md-source-file",
    )
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_CONTAINERS = frozenset(
    {"div", "section", "article", "main", "body", "aside", "details", "figure", "span", "dl", "center"}
)


def parse(text: str, context: ParseContext) -> Parsed:
    tree = LexborHTMLParser(text)
    for junk in tree.css(_CHROME):
        junk.decompose()
    title_node = tree.css_first("title")
    page_title = title_node.text(strip=True) if title_node else None
    builder = SectionBuilder()
    root = tree.body or tree.root
    if root is not None:
        _Walker(builder).children(root)
    sections = builder.finish()
    h1 = next((s.headings[0] for s in sections if s.headings), None)
    return Parsed(sections=sections, title=page_title or h1, headings=builder.headings)


class _Walker:
    def __init__(self, builder: SectionBuilder) -> None:
        self.builder = builder
        self.paragraph: list[str] = []

    def flush(self) -> None:
        text = " ".join("".join(self.paragraph).split())
        if text:
            self.builder.add(text)
        self.paragraph = []

    def children(self, node: Any) -> None:
        for child in node.iter(include_text=True):
            self.node(child)
        self.flush()

    def node(self, node: Any) -> None:
        tag = node.tag
        if tag == "-text":
            self.paragraph.append(markdown_text(node.text_content or ""))
        elif tag in _HEADINGS:
            self.flush()
            title = " ".join(node.text(separator="").split())
            if title:
                anchor = node.attributes.get("id") or _section_id(node)
                self.builder.heading(int(tag[1]), title, anchor)
        elif tag == "pre":
            self.flush()
            self.builder.add(fence(node.text(separator="").strip("\n"), _language(node)))
        elif tag in {"ul", "ol"}:
            self.flush()
            self.builder.add(self.list(node))
        elif tag == "table":
            self.flush()
            cells = [row.css("th, td") for row in node.css("tr")]
            rows = [
                [markdown_text(" ".join(cell.text(separator=" ").split())) for cell in row] for row in cells
            ]
            # a first row of <th> cells is the header: what the other rows' cells are
            header = bool(cells) and bool(cells[0]) and all(cell.tag == "th" for cell in cells[0])
            self.builder.add(table_lines(rows, header=header))
        elif tag in {"p", "blockquote", "dt", "dd", "li"} or tag in _CONTAINERS:
            self.flush()
            self.children(node)
        elif tag == "br":
            self.paragraph.append(" ")
        elif tag in {"img", "-comment", "hr"}:
            return
        else:
            self.paragraph.append(self.inline(node))

    def inline(self, node: Any) -> str:
        text = str(node.text(separator=""))
        if not text.strip():
            return text
        if node.tag == "code" or node.tag == "kbd":
            return code_span(text)
        # emphasis is dropped: page markup is too uneven to carry it over faithfully
        return markdown_text(text)

    def list(self, node: Any, depth: int = 0) -> str:
        lines: list[str] = []
        number = 1
        for item in node.iter():
            if item.tag != "li":
                continue
            marker = f"{number}. " if node.tag == "ol" else "- "
            number += 1
            text: list[str] = []
            nested: list[str] = []
            for part in item.iter(include_text=True):
                if part.tag in {"ul", "ol"}:
                    nested.append(self.list(part, depth + 1))
                elif part.tag == "-text":
                    text.append(markdown_text(part.text_content or ""))
                elif part.tag == "pre":
                    nested.append(fence(part.text(separator="").strip("\n"), _language(part)))
                else:
                    text.append(
                        self.inline(part)
                        if part.tag not in {"p", "div"}
                        else markdown_text(part.text(separator=""))
                    )
            pad = "  " * depth
            lines.append(pad + marker + " ".join("".join(text).split()))
            lines.extend("\n".join(pad + "  " + ln for ln in block.splitlines()) for block in nested)
        return "\n".join(lines)


def _section_id(node: Any) -> str | None:
    parent = node.parent
    if parent is not None and parent.tag in {"section", "div"}:
        first = next((c for c in parent.iter() if c.tag in _HEADINGS), None)
        if first is not None and first.html == node.html:
            value = parent.attributes.get("id")
            return str(value) if value else None
    return None


def _language(pre: Any) -> str:
    for candidate in (pre, pre.css_first("code"), pre.parent, pre.parent.parent if pre.parent else None):
        if candidate is None:
            continue
        for cls in (candidate.attributes.get("class") or "").split():
            for prefix in ("language-", "highlight-", "lang-"):
                if cls.startswith(prefix) and cls[len(prefix) :] not in {"default", "none"}:
                    return cls[len(prefix) :]
    return ""
