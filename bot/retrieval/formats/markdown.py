"""Markdown (CommonMark, GitHub, MkDocs Material) into clean-Markdown sections.

The MkDocs block syntax is first rewritten into CommonMark by `mkdocs.expand`; markdown-it
then parses the result and this module renders its tokens back into the Markdown a chat
reply can quote: `- ` / `1. ` lists (their code at the margin: `common.list_item`), fenced
code with its language and exact line breaks, single-backtick inline code, link text without
the address, no images, HTML comments, raw HTML tags, reference-style links, heading
attributes (`{#id}`, kept as the anchor), mkdocs-macros placeholders or code-annotation markers
(inline code keeps what it holds, `{{ .Values.x }}` too, as written).
Backslash escapes stay as written (`\\_\\_init\\_\\_.py`), so the characters show, not markup.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from bot.retrieval.formats import mkdocs, myst
from bot.retrieval.formats.common import (
    ParseContext,
    Parsed,
    SectionBuilder,
    code_span,
    fence,
    list_item,
    split_front_matter,
    strip_tags,
    table_lines,
)
from bot.retrieval.formats.roles import role_display

# the characters at which an inline rule of these parsers can start (newlines are handled below)
_INLINE_SYNTAX = frozenset("\\&*_~[!<`")


def _plain_inline(content: str) -> list[Token] | None:
    """What markdown-it's inline parser makes of `content` that holds no inline syntax: its
    text, with a soft break at each newline (hard after two spaces), the spaces around it
    dropped as its `newline` rule drops them. None when there is syntax to parse. Most
    paragraphs of documentation are plain text, and the full parser walks them rule by rule."""
    if not _INLINE_SYNTAX.isdisjoint(content):
        return None
    tokens: list[Token] = []
    lines = content.split("\n")
    last = len(lines) - 1
    for i, line in enumerate(lines):
        if i:
            line = line.lstrip(" \t")
        hard = False
        if i < last and line.endswith(" "):
            stripped = line.rstrip(" ")
            hard = len(line) - len(stripped) >= 2
            line = stripped if hard else line[:-1]
        if line:
            text = Token("text", "", 0)
            text.content = line
            tokens.append(text)
        if i < last:
            tokens.append(Token("hardbreak" if hard else "softbreak", "br", 0))
    return tokens


def _inline(state: StateCore) -> None:
    """markdown-it's core `inline` rule, with plain text taken the short way (_plain_inline)."""
    for token in state.tokens:
        if token.type == "inline":
            if token.children is None:
                token.children = []
            plain = _plain_inline(token.content)
            if plain is None:
                state.md.inline.parse(token.content, state.md, state.env, token.children)
            else:
                token.children.extend(plain)


def parser() -> MarkdownIt:
    """CommonMark with tables and strikethrough, as the documentation generators read it.
    Escapes stay tokens of their own (`text_special`, not joined into the text around them),
    so a passage keeps them: an escaped `\\_` must not become emphasis where it is quoted."""
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"]).disable("text_join")
    md.core.ruler.at("inline", _inline)
    return md


_MARKDOWN = parser()

_ATTRIBUTES = re.compile(r"\s*\{:?\s*([#.][^{}]*)\}")
_ANCHOR_IN_ATTRIBUTES = re.compile(r"(?:^|\s)#([\w:.-]+)")
_REFERENCE_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\[([^\[\]]*)\]")
_MACRO = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
# an indented code block that is one whole fenced block: ```lang ... ``` (or ~~~)
_FENCED_INSIDE = re.compile(
    r"\A(?P<marker>`{3,}|~{3,})(?P<info>[^\n`]*)\n(?P<code>.*?\n)?(?P=marker)[`~]*[ \t]*\n?\Z", re.S
)
_ANNOTATION = re.compile(r"[ \t]*(?:#|//|/\*|<!--|--)[ \t]*\(\d+\)!?(?:[ \t]*(?:\*/|-->))?[ \t]*$", re.M)
_JSX_TAG = re.compile(r"</?[A-Z][\w.]*(?:\s[^<>]*)?/?>")
_WHITESPACE = re.compile(r"[ \t]+")


def parse(text: str, context: ParseContext) -> Parsed:
    meta, body = split_front_matter(text)
    uses_myst = myst.uses_myst(body)
    if uses_myst:
        body = myst.expand(body, context)
    return render(mkdocs.expand(body, context), meta, myst=uses_myst)


def render(
    source: str, meta: dict[str, object], *, md: MarkdownIt = _MARKDOWN, jsx: bool = False, myst: bool = False
) -> Parsed:
    """`myst`: the source is MyST Markdown (`myst.uses_myst`), whose roles are read."""
    tokens = md.parse(source)
    builder = SectionBuilder()
    renderer = _Renderer(jsx=jsx, myst=myst)
    first_h1: str | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        end = _close(tokens, i)
        if token.type == "heading_open":
            title, anchor = renderer.heading(tokens[i + 1].children or [])
            level = int(token.tag[1])
            if level == 1 and first_h1 is None:
                first_h1 = title
            builder.heading(level, title, anchor)
        elif token.type == "html_block" and token.content.startswith(mkdocs.REFERENCE_MARK):
            builder.reference(token.content.strip()[len(mkdocs.REFERENCE_MARK) : -3].strip())
        else:
            builder.add(renderer.block(tokens[i : end + 1]))
        i = end + 1
    return Parsed(sections=builder.finish(), title=first_h1, meta=dict(meta), headings=builder.headings)


def _close(tokens: Sequence[Token], i: int) -> int:
    """Index of the token that closes the one opened at `i` (itself if it opens nothing)."""
    if tokens[i].nesting != 1:
        return i
    depth = 0
    for j in range(i, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


class _Renderer:
    def __init__(self, *, jsx: bool, myst: bool = False) -> None:
        self.jsx = jsx
        self.myst = myst

    def heading(self, children: list[Token]) -> tuple[str, str | None]:
        text = self.inline(children, plain=True)
        anchor: str | None = None
        for attributes in _ATTRIBUTES.finditer(text):
            found = _ANCHOR_IN_ATTRIBUTES.search(attributes.group(1))
            if found:
                anchor = found.group(1)
        text = _ATTRIBUTES.sub("", text)
        return " ".join(text.split()), anchor

    def block(self, tokens: Sequence[Token]) -> str:
        """One block (its open token to its close token) as Markdown."""
        first = tokens[0]
        kind = first.type
        if kind == "paragraph_open":
            return self.inline(tokens[1].children or [])
        if kind == "heading_open":  # inside a list or quote: not a section of its own
            title = self.heading(tokens[1].children or [])[0]
            return f"**{title}**" if title else ""
        if kind in {"fence", "code_block"}:
            info, content = first.info, first.content
            if kind == "code_block" and (nested := _FENCED_INSIDE.match(textwrap.dedent(content))):
                # Python-Markdown (MkDocs) nests fences under list items by indentation that
                # CommonMark reads as an indented code block: the fence inside is the code
                info, content = nested.group("info"), nested.group("code") or ""
            info = info.strip().lstrip("{").lstrip(".")
            language = re.split(r"[\s{}.,]", info, maxsplit=1)[0] if info else ""
            return fence(_ANNOTATION.sub("", content), language)
        if kind == "html_block":
            return self.html(first.content)
        if kind in {"bullet_list_open", "ordered_list_open"}:
            return self.bullets(tokens)
        if kind == "blockquote_open":
            inner = self.blocks(tokens[1:-1])
            return "\n".join(f"> {line}" if line else ">" for line in inner.splitlines())
        if kind == "table_open":
            return self.table(tokens)
        return ""  # hr: a visual divider means nothing in a quoted passage

    def blocks(self, tokens: Sequence[Token], *, tight: bool = False) -> str:
        parts: list[str] = []
        i = 0
        while i < len(tokens):
            end = _close(tokens, i)
            if tokens[i].type == "html_block" and tokens[i].content.startswith(mkdocs.REFERENCE_MARK):
                name = tokens[i].content.strip()[len(mkdocs.REFERENCE_MARK) : -3].strip()
                part = f"API reference: {code_span(name)}"
            else:
                part = self.block(tokens[i : end + 1])
            if part.strip():
                parts.append(part)
            i = end + 1
        return ("\n" if tight else "\n\n").join(parts)

    def bullets(self, tokens: Sequence[Token]) -> str:
        ordered = tokens[0].type == "ordered_list_open"
        number = int(str(tokens[0].attrGet("start") or 1))
        items: list[str] = []
        i = 1
        tight = True
        while i < len(tokens) - 1:
            end = _close(tokens, i)
            inner = tokens[i + 1 : end]
            tight = tight and all(t.hidden for t in inner if t.type == "paragraph_open")
            body = self.blocks(inner, tight=tight)
            items.append(list_item(f"{number}. " if ordered else "- ", body))
            number += 1
            i = end + 1
        return ("\n" if tight else "\n\n").join(items)

    def table(self, tokens: Sequence[Token]) -> str:
        rows: list[list[str]] = []
        for token in tokens:
            if token.type == "tr_open":
                rows.append([])
            elif token.type == "inline" and rows:
                rows[-1].append(self.inline(token.children or []))
        return table_lines(rows, header=True)  # a GFM table's first row is always its header

    def html(self, content: str) -> str:
        if self.jsx:
            content = re.sub(r"\{/\*.*?\*/\}", "", content, flags=re.S)
        if re.match(r"\s*<pre[\s>]", content, re.I):
            import html as html_lib

            code = re.sub(r"<[^<>]+>", "", content)
            return fence(html_lib.unescape(code).strip("\n"))
        return strip_tags(content)

    def inline(self, children: list[Token], *, plain: bool = False) -> str:
        out: list[str] = []
        code: list[int] = []  # where in `out` code spans are: literal, no prose rule touches them
        role: str | None = None  # a MyST role written right before this code span: {func}`x`
        for n, token in enumerate(children):
            kind = token.type
            if kind == "text":
                content = token.content
                if self.myst and n + 1 < len(children) and children[n + 1].type == "code_inline":
                    found = myst.role(content)
                    if found is not None:
                        content, role = found
                out.append(content)
            elif kind == "text_special":
                out.append(_special(token, plain))
            elif kind == "code_inline" and role is not None:
                text, as_code = role_display(role, token.content)
                if as_code:
                    code.append(len(out))
                out.append(code_span(text) if as_code and not plain else text)
                role = None
            elif kind == "code_inline":
                code.append(len(out))
                out.append(token.content if plain else code_span(token.content))
            elif kind in {"softbreak", "hardbreak"}:  # the author's line breaks stay, as written
                out.append(" " if plain else "\n")
            elif plain:
                continue
            elif kind in {"em_open", "em_close"}:
                out.append("*")
            elif kind in {"strong_open", "strong_close"}:
                out.append("**")
            elif kind in {"s_open", "s_close"}:
                out.append("~~")
            elif kind == "html_inline" and token.content.lower().startswith("<br"):
                out.append(" ")
        # `${{ secrets.TOKEN }}`, `{{ .Values.x }}`, `<Suspense>`, `settings["db"]["host"]`: what a
        # code span holds is its text. Each stands as a placeholder while the prose rules run, so
        # a reference link whose text is code (`` [`Foo`][api.Foo] ``) still reads as one.
        pieces: list[str] = []
        start = 0
        for at in code:
            pieces += [self.prose("".join(out[start:at]), plain), _placeholder(at)]
            start = at + 1
        text = "".join([*pieces, self.prose("".join(out[start:]), plain)])
        if "][" in text:  # the least a reference link has: skip the search on most text
            text = _REFERENCE_LINK.sub(lambda m: m.group(1) or m.group(2), text)
        text = "\n".join(_squeeze(line) for line in text.split("\n")).strip()
        return _PLACEHOLDER.sub(lambda m: out[int(m.group(1))], text) if code else text

    def prose(self, text: str, plain: bool) -> str:
        """Inline text between code spans without mkdocs-macros placeholders (`{{ version }}`),
        attribute lists (`{: .class}`, unless `plain`) and, in MDX, JSX tags."""
        if "{" in text:
            text = _MACRO.sub("", text)
            if not plain:
                text = _ATTRIBUTES.sub("", text)
        if self.jsx and "<" in text:
            text = _JSX_TAG.sub("", text)
        return text


# NUL never reaches the tokens (markdown-it reads it as U+FFFD), so it marks a code span's place
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")


def _placeholder(at: int) -> str:
    return f"\x00{at}\x00"


# what an escape keeps from being HTML or an entity: nothing to the chat renderers, which read
# neither, so the character alone (a copy of the passage holds no needless backslash)
_HTML_ONLY = frozenset("<>&")


def _special(token: Token, plain: bool) -> str:
    """An escape (`\\_`) as the passage's Markdown writes it, so it shows the character where
    the passage is quoted, not markup; the character itself in plain text (a heading's title).
    An entity (`&amp;`) is its character, as before."""
    if plain or token.info != "escape" or token.content in _HTML_ONLY:
        return token.content
    return token.markup


def _squeeze(line: str) -> str:
    """Runs of spaces and tabs as one space; most lines have none, so no substitution."""
    return (_WHITESPACE.sub(" ", line) if "  " in line or "\t" in line else line).strip()
