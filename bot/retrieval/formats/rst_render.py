"""A docutils doctree (as `rst` parses it) rendered into clean-Markdown sections.

Owns the output side of reStructuredText: sections and their explicit `.. _label:` anchors,
paragraphs, `- `/`1. ` lists (their code at the margin), fenced literal and doctest blocks, admonitions as "Note: ..."
prose, definition and field lists as `**term**: text`, tables as `a | b` rows, and the
reference stubs that become REFERENCE sections. System messages are skipped and problematic
markup is reduced to its readable text, so docutils' complaints never reach an answer.
"""

from __future__ import annotations

import re

from docutils import nodes

from bot.retrieval.formats.common import (
    SectionBuilder,
    code_span,
    fence,
    list_item,
    markdown_text,
    table_lines,
)


class _Stub(nodes.Element):  # type: ignore[misc]
    """An API reference entry (autodoc, py domain); its children are the entry's description."""


class _Language(nodes.Element):  # type: ignore[misc]
    """`.. highlight:: lang`: the language of the `::` literal blocks that follow."""


def stub(name: str) -> nodes.Element:
    return _Stub("", name=name)


def switch_language(language: str) -> nodes.Element:
    return _Language("", language=language)


_ROLE_SOURCE = re.compile(r":[\w:+-]+:`([^`]*)`")
_LEADS = {
    "note": "Note",
    "warning": "Warning",
    "tip": "Tip",
    "important": "Important",
    "hint": "Hint",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
}
_SKIP = (
    nodes.system_message,
    nodes.comment,
    nodes.target,
    nodes.substitution_definition,
    nodes.raw,
    nodes.image,
    nodes.pending,
    nodes.transition,
)


def clean_problematic(text: str) -> str:
    """The source of markup docutils could not resolve, reduced to what a reader sees."""

    def role(match: re.Match[str]) -> str:
        inner = re.sub(r"^(.*?)\s*<[^<>]*>$", r"\1", match.group(1)).strip() or match.group(1)
        return code_span(inner.lstrip("~!"))

    text = _ROLE_SOURCE.sub(role, text)
    text = re.sub(r"`([^`]+)`_{1,2}", r"\1", text)
    text = re.sub(r"\|([^|]+)\|_{0,2}", r"\1", text)
    return text.replace("`", "") if text.count("`") % 2 else text


def _collapse(text: str) -> str:
    return " ".join(text.split())


class Renderer:
    def __init__(self, builder: SectionBuilder) -> None:
        self.builder = builder
        self.language = ""

    # -- sections -----------------------------------------------------------------------------

    def document(self, tree: nodes.document) -> None:
        self._children(tree, level=0)

    def _children(self, parent: nodes.Element, level: int) -> None:
        for child in parent.children:
            if isinstance(child, nodes.section):
                title_node = child.next_node(nodes.title)
                title = _collapse(clean_problematic(title_node.astext())) if title_node else ""
                own = nodes.fully_normalize_name(title)
                labels = [n for n in child.get("names", []) if n != own]
                self.builder.heading(level + 1, title, labels[-1] if labels else None)
                self._children(child, level + 1)
            elif isinstance(child, nodes.title):
                continue
            elif isinstance(child, _Stub):
                self._stub(child)
            elif isinstance(child, nodes.Element):
                self.builder.add(self.block(child))

    def _stub(self, node: _Stub) -> None:
        nested = [c for c in node.children if isinstance(c, _Stub)]
        detail = self.blocks([c for c in node.children if not isinstance(c, _Stub)])
        self.builder.reference(node["name"], detail)
        for child in nested:
            self._stub(child)

    # -- blocks -------------------------------------------------------------------------------

    def blocks(self, children: list[nodes.Node], separator: str = "\n\n") -> str:
        parts = [self.block(c) for c in children if isinstance(c, nodes.Element)]
        return separator.join(p for p in parts if p.strip())

    def block(self, node: nodes.Element) -> str:
        if isinstance(node, _SKIP):
            return ""
        if isinstance(node, _Language):
            self.language = node["language"]
            return ""
        if isinstance(node, _Stub):
            entry = f"API reference: {code_span(node['name'])}"
            return "\n\n".join(p for p in (entry, self.blocks(node.children)) if p)
        if isinstance(node, nodes.paragraph | nodes.rubric | nodes.caption | nodes.attribution):
            text = _collapse(self.inline(node))
            return f"**{text}**" if isinstance(node, nodes.rubric) and text else text
        if isinstance(node, nodes.title):
            return f"**{_collapse(self.inline(node))}**"
        if isinstance(node, nodes.literal_block | nodes.doctest_block):
            return self._code(node)
        if isinstance(node, nodes.bullet_list | nodes.enumerated_list):
            return self._list(node)
        if isinstance(node, nodes.definition_list | nodes.field_list | nodes.option_list):
            return self._terms(node)
        if isinstance(node, nodes.table):
            return self._table(node)
        if isinstance(node, nodes.Admonition):
            return self._admonition(node)
        if isinstance(node, nodes.topic) and "contents" in node.get("classes", []):
            return ""  # a generated table of contents
        if isinstance(node, nodes.line_block):
            return "\n".join(_collapse(self.inline(line)) for line in node.findall(nodes.line))
        if isinstance(node, nodes.footnote | nodes.citation):
            label = node.next_node(nodes.label)
            body = self.blocks([c for c in node.children if not isinstance(c, nodes.label)])
            return f"[{label.astext()}] {body}" if label else body
        if isinstance(node, nodes.problematic):
            return clean_problematic(node.astext())
        if isinstance(node, nodes.math_block):
            return fence(node.astext(), "latex")
        if any(isinstance(c, nodes.Element) for c in node.children):
            return self.blocks(node.children)
        return _collapse(self.inline(node))

    def _code(self, node: nodes.Element) -> str:
        language = node.get("language")
        if language is None:
            classes = [c for c in node.get("classes", []) if c != "code"]
            language = classes[0] if classes else self.language
        if isinstance(node, nodes.doctest_block):
            language = "pycon"
        return fence(node.astext(), language or "")

    def _list(self, node: nodes.Element) -> str:
        ordered = isinstance(node, nodes.enumerated_list)
        number = int(node.get("start", 1))
        items: list[str] = []
        for item in node.children:
            if not isinstance(item, nodes.list_item):
                continue
            marker = f"{number}. " if ordered else "- "
            items.append(list_item(marker, self.blocks(item.children, "\n")))
            number += 1
        return "\n".join(items)

    def _terms(self, node: nodes.Element) -> str:
        items: list[str] = []
        for entry in node.children:
            if not isinstance(entry, nodes.Element):
                continue
            heads = [c for c in entry.children if isinstance(c, nodes.term | nodes.field_name)]
            if isinstance(entry, nodes.option_list_item):
                heads = [entry.children[0]] if entry.children else []
            bodies = [c for c in entry.children if c not in heads and not isinstance(c, nodes.classifier)]
            term = " ".join(_collapse(self.inline(h)) for h in heads if isinstance(h, nodes.Element))
            body = "\n".join(self.blocks(b.children, "\n") for b in bodies if isinstance(b, nodes.Element))
            items.append(list_item("- ", f"**{term}**: {body}" if body.strip() else f"**{term}**"))
        return "\n".join(items)

    def _table(self, node: nodes.Element) -> str:
        rows = [
            [_collapse(self.blocks(entry.children, " ")) for entry in row.children]
            for row in node.findall(nodes.row)
        ]
        # a reST table's header rows (`:header-rows:`, the rows above a grid's `=` rule) come first
        first = next(node.findall(nodes.row), None)
        header = first is not None and isinstance(first.parent, nodes.thead)
        return table_lines(rows, header=header)

    def _admonition(self, node: nodes.Element) -> str:
        title = node.next_node(nodes.title)
        lead = _collapse(title.astext()) if title is not None else _LEADS.get(node.tagname, "")
        body = self.blocks([c for c in node.children if not isinstance(c, nodes.title)])
        if not lead:
            return body
        if body and not body.startswith(("```", "- ", "1. ", "**")):
            return f"**{lead}:** {body}"
        return f"**{lead}:**\n\n{body}"

    # -- inline -------------------------------------------------------------------------------

    def inline(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.Text):
            # docutils keeps a backslash escape in the node as a NUL before the character
            # (`**a**\ b`: "\x00 b"); astext is what it shows: the escaped space gone, the
            # escaped `*` a literal one, which the passage's Markdown must escape in its turn
            return markdown_text(node.astext())
        if isinstance(node, nodes.system_message | nodes.footnote_reference | nodes.citation_reference):
            return ""
        if isinstance(node, nodes.image | nodes.raw | nodes.comment):
            return ""
        if isinstance(node, nodes.problematic):
            return clean_problematic(node.astext())
        if isinstance(node, nodes.literal | nodes.title_reference):
            return code_span(node.astext())
        inner = "".join(self.inline(c) for c in node.children)
        if isinstance(node, nodes.emphasis) and inner.strip():
            return f"*{inner}*"
        if isinstance(node, nodes.strong) and inner.strip():
            return f"**{inner}**"
        return inner
