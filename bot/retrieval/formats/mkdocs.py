"""MkDocs (Material) and pymdownx block syntax, rewritten into plain CommonMark lines.

Owns the line-level constructs that CommonMark does not know and that would otherwise be
read as text or as indented code: admonitions (`!!! note "Title"`, `??? api`, `???+ tip`;
Docusaurus' `:::tip Title` ... `:::`), content tabs (`=== "Label"`), pymdownx blocks (`/// note | Title` ... `///`, `/// version-added
| v2.7`), mkdocstrings stubs (`::: dotted.path` with indented options), snippet includes
(`--8<-- "path"`, `--8<--` blocks) and FastAPI-style `{* path ln[3:10] *}` includes. Bodies are
dedented and kept; markers become a short bold lead; a stub becomes a marker comment that the
Markdown renderer turns into a reference section. Fenced code is passed through untouched
(except snippet lines inside it, which are replaced by the file, as pymdownx does).
"""

from __future__ import annotations

import re

from bot.retrieval.formats.common import ParseContext, fence, language_for

REFERENCE_MARK = "<!--supportbot:reference "  # ... dotted.path -->

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})")
_ADMONITION = re.compile(r'^(\s*)(?:!!!|\?\?\?\+?)\s+([\w-]+)((?:\s+[\w-]+)*)\s*(?:"(.*)")?\s*$')
_TAB = re.compile(r'^(\s*)===\+?\s+"(.*)"\s*$')
_STUB = re.compile(r"^(\s*):::\s+([\w.:-]+)\s*$")
# Docusaurus: `:::tip`, `:::tip Title` (v2), `:::tip[Title]{#id}` (v3), closed by a bare `:::`;
# four colons or more nest one inside another. The kind is written right after the colons:
# `::: name` with a space is an mkdocstrings stub
_COLON_FENCE = re.compile(
    r"^(\s*):{3,}(?:(note|tip|info|warning|danger|caution|important)(?:\[(.*)\]|[ \t]+(.*?))?(?:\{[^{}]*\})?)?[ \t]*$"
)
_BLOCK = re.compile(r"^(\s*)(/{3,})\s*([\w-]+)?\s*(?:\|\s*(.*?))?\s*$")
_SNIPPET = re.compile(r"""^(\s*)-{1,}8<-{1,}\s+(["'])(.+?)\2\s*$""")
_SNIPPET_BLOCK = re.compile(r"^(\s*)-{1,}8<-{1,}\s*$")
_FASTAPI = re.compile(r"^(\s*)\{\*\s+(\S+)(.*?)\*\}\s*$")
_LINE_RANGE = re.compile(r"ln\[([\d:,\s]+)\]")
_TRIGGER = frozenset("!?=:/-{")

_VERSION_LEADS = {
    "version-added": "Added in {}.",
    "version-changed": "Changed in {}.",
    "deprecated": "Deprecated since {}.",
    "version-removed": "Removed in {}.",
}


def _lead(kind: str, title: str | None) -> str:
    if title is not None:
        return f"**{title.strip()}**" if title.strip() else ""
    return f"**{kind.replace('-', ' ').capitalize()}:**"


def docusaurus_admonition(line: str) -> list[str]:
    """The lines a Docusaurus admonition fence `line` stands for: its opening a lead paragraph
    as an admonition here gets, its closing `:::` a blank line; none for any other line. The
    body between is read as it stands (one fence line at a time, so fences nest)."""
    m = _COLON_FENCE.match(line)
    if m is None:
        return []
    if m.group(2) is None:
        return [""]
    title = m.group(3) if m.group(3) is not None else m.group(4)
    lead = _lead(m.group(2), title or None)
    return ["", m.group(1) + lead, ""] if lead else [""]


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" \t"))


def _body(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    """The lines after a block header that are indented past `indent` (blank lines included
    while more indented lines follow), dedented; and the index after them."""
    end = start
    last = start
    while end < len(lines):
        line = lines[end]
        if line.strip():
            if _indent(line.expandtabs(4)) <= indent:
                break
            last = end + 1
        end += 1
    body = []
    for line in lines[start:last]:
        line = line.expandtabs(4)
        body.append(line[min(_indent(line), indent + 4) :] if line.strip() else "")
    return body, last


def _reindent(lines: list[str], indent: int) -> list[str]:
    pad = " " * indent
    return [pad + line if line.strip() else "" for line in lines]


def expand(text: str, context: ParseContext) -> str:
    lines = text.splitlines()
    if not any(line.lstrip()[:1] in _TRIGGER for line in lines):
        return text
    return "\n".join(_expand(lines, context, 0))


def _expand(lines: list[str], context: ParseContext, depth: int) -> list[str]:
    out: list[str] = []
    fence_open: tuple[str, int] | None = None  # (marker character, length)
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if fence_open is not None:
            snippet = _SNIPPET.match(line)
            if snippet and depth < 5:
                out.extend(_included_lines(snippet.group(3), context, raw=True))
            else:
                out.append(line)
            if stripped.startswith(fence_open[0] * fence_open[1]) and not stripped.strip(fence_open[0]):
                fence_open = None
            i += 1
            continue
        opening = _FENCE.match(line)
        if opening:
            fence_open = (opening.group(2)[0], len(opening.group(2)))
            out.append(line)
            i += 1
            continue
        if stripped[:1] not in _TRIGGER:
            out.append(line)
            i += 1
            continue
        i = _special(lines, i, out, context, depth)
    return out


def _special(lines: list[str], i: int, out: list[str], context: ParseContext, depth: int) -> int:
    """Rewrite the construct at line `i` into `out`; the index of the next line to read."""
    line = lines[i]
    if (m := _ADMONITION.match(line)) or (m := _TAB.match(line)):
        indent = _indent(m.group(1).expandtabs(4))
        if m.re is _TAB:
            lead = f"**{m.group(2).strip()}**" if m.group(2).strip() else ""
        else:
            lead = _lead(m.group(2), m.group(4))
        body, end = _body(lines, i + 1, indent)
        inner = _expand(body, context, depth + 1)
        out.extend(["", *_reindent([lead, "", *inner], indent), ""])
        return end
    if docusaurus := docusaurus_admonition(line):
        out.extend(docusaurus)
        return i + 1
    if m := _STUB.match(line):
        indent = _indent(m.group(1))
        _, end = _body(lines, i + 1, indent)  # the YAML options: not prose
        out.extend(["", f"{REFERENCE_MARK}{m.group(2)}-->", ""])
        return end
    if (m := _BLOCK.match(line)) and m.group(3):
        return _pymdown_block(lines, i, m, out, context, depth)
    if m := _SNIPPET.match(line):
        indent = _indent(m.group(1))
        out.extend(_reindent(_included_lines(m.group(3), context, raw=False, depth=depth), indent))
        return i + 1
    if (m := _SNIPPET_BLOCK.match(line)) and depth < 5:
        end = i + 1
        while end < len(lines) and not _SNIPPET_BLOCK.match(lines[end]):
            name = lines[end].strip()
            if name and not name.startswith(";"):
                out.extend(_included_lines(name, context, raw=False, depth=depth))
            end += 1
        return end + 1
    if m := _FASTAPI.match(line):
        ranges = _LINE_RANGE.search(m.group(3))
        indent = _indent(m.group(1))
        out.extend(_reindent(_included_lines(m.group(2), context, raw=False, ranges=ranges), indent))
        return i + 1
    out.append(line)
    return i + 1


def _pymdown_block(
    lines: list[str], i: int, m: re.Match[str], out: list[str], context: ParseContext, depth: int
) -> int:
    indent, slashes, kind, title = len(m.group(1)), m.group(2), m.group(3).lower(), m.group(4)
    end = i + 1
    while end < len(lines) and lines[end].startswith("    ") and lines[end].strip():
        end += 1  # the block's YAML options (type:, attrs:, ...)
    start, nested = end, 0
    while end < len(lines):
        candidate = _BLOCK.match(lines[end])
        if candidate and candidate.group(2) == slashes:
            if candidate.group(3):
                nested += 1
            elif nested:
                nested -= 1
            else:
                break
        end += 1
    body = [line[indent:] if line[:indent].strip() == "" else line for line in lines[start:end]]
    inner = _expand(body, context, depth + 1)
    if kind in _VERSION_LEADS or kind == "deprecated-removed":
        versions = (title or "").split()
        if kind == "deprecated-removed" and len(versions) >= 2:
            lead = f"Deprecated in {versions[0]}, removed in {versions[1]}."
        elif kind == "deprecated-removed":
            lead = f"Deprecated in {' '.join(versions)}." if versions else "Deprecated."
        else:
            lead = _VERSION_LEADS[kind].format(title.strip()) if title else ""
        paragraph = [lead] if lead else []
    else:
        paragraph = [_lead(kind, title)] if kind not in {"html", "tab", "details"} or title else []
    out.extend(["", *_reindent([*paragraph, "", *inner], indent), ""])
    return end + 1


def _included_lines(
    name: str,
    context: ParseContext,
    *,
    raw: bool,
    ranges: re.Match[str] | None = None,
    depth: int = 0,
) -> list[str]:
    """The lines an include stands for: raw inside a code fence, included Markdown as
    Markdown (snippets are textual inclusion), any other file as a fenced code block."""
    target, _, span = name.partition(":") if re.search(r":\d", name) else (name, "", "")
    found = context.read_include(target)
    if found is None:
        return []
    path, content = found
    lines = content.splitlines()
    if span:
        start, _, stop = span.partition(":")
        lines = lines[max(int(start or 1) - 1, 0) : int(stop) if stop.isdigit() else None]
    if ranges is not None:
        picked: list[str] = []
        for part in ranges.group(1).split(","):
            first, _, last = part.strip().partition(":")
            if first.isdigit():
                picked.extend(lines[int(first) - 1 : int(last) if last.isdigit() else int(first)])
        lines = picked
    if raw:
        return lines
    if path.suffix.lower() in {".md", ".markdown"}:
        return ["", *_expand(lines, context, depth + 1), ""]
    return ["", *fence("\n".join(lines), language_for(path)).splitlines(), ""]
