"""MDX (Docusaurus, react.dev): JSX components and expressions around Markdown.

Owns what MDX adds to Markdown: `import`/`export` lines (dropped), JSX component tags on
their own lines (`<Pitfall>`, `<Sandpack>`, `<DeepDive>`, ...: the tags go, their content
stays, callouts get a short bold lead; self-closing ones such as `<Diagram ... />` go
entirely), and `{/* comments */}` (dropped, except `## Title {/*anchor*/}`, which gives the
heading's anchor). The rest is Markdown, rendered by `markdown.render` with indented code
switched off, as MDX does: component bodies are often indented.
"""

from __future__ import annotations

import re

from bot.retrieval.formats import markdown
from bot.retrieval.formats.common import ParseContext, Parsed, split_front_matter

_MDX = markdown.parser().disable("code")

_LEADS = {
    "Pitfall": "Pitfall:",
    "Note": "Note:",
    "Hint": "Hint:",
    "DeepDive": "Deep dive:",
    "Wip": "Work in progress:",
    "Canary": "Canary:",
    "Experimental": "Experimental:",
    "Solution": "Solution:",
    "Recap": "Recap:",
    "YouWillLearn": "You will learn:",
    "LearnMore": "Learn more:",
}
_COMPONENT_LINE = re.compile(r"^\s*</?[A-Z][\w.]*(?=[\s/>]|$)")
_HEADING_COMMENT = re.compile(r"^(#{1,6}\s.*?)\s*\{/\*\s*(.*?)\s*\*/\}\s*$")
_COMMENT = re.compile(r"\{/\*.*?\*/\}", re.S)
_MODULE_LINE = re.compile(r"^(?:import|export)\s")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_MDX_HINT = re.compile(r"^\s*</?[A-Z][\w.]*[\s/>]|\{/\*", re.M)
_FENCED = re.compile(r"^(\s*)(`{3,}|~{3,}).*?^\1\2", re.M | re.S)


def looks_like_mdx(text: str) -> bool:
    """A `.md` file written for an MDX toolchain: it has components or MDX comments."""
    if "<" not in text and "{/*" not in text:  # what every match holds: most files end here
        return False
    return _MDX_HINT.search(text) is not None and _MDX_HINT.search(_FENCED.sub("", text)) is not None


def parse(text: str, context: ParseContext) -> Parsed:
    meta, body = split_front_matter(text)
    return markdown.render(to_markdown(body), meta, md=_MDX, jsx=True)


def _tag_end(text: str, start: int) -> int:
    """Index just past the JSX tag opening at `start`, skipping quoted and braced values."""
    depth = 0
    quote = ""
    i = start + 1
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == ">" and depth <= 0:
            return i + 1
        i += 1
    return len(text)


def to_markdown(text: str) -> str:
    lines = text.splitlines()
    out: list[str] = []
    fence_marker = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if fence_marker:
            out.append(line)
            if line.strip().startswith(fence_marker) and not line.strip().strip(fence_marker[0]):
                fence_marker = ""
            i += 1
            continue
        opening = _FENCE.match(line)
        if opening:
            fence_marker = opening.group(1)
            out.append(line)
            i += 1
            continue
        if _MODULE_LINE.match(line):
            i = _skip_statement(lines, i)
            continue
        if _COMPONENT_LINE.match(line):
            i = _component(lines, i, out)
            continue
        if "{/*" in line:
            heading = _HEADING_COMMENT.match(line)
            if heading:
                anchor = heading.group(2)
                line = f"{heading.group(1)} {{#{anchor}}}" if anchor else heading.group(1)
            else:
                i, line = _drop_comments(lines, i)
        out.append(line)
        i += 1
    return "\n".join(out)


def _skip_statement(lines: list[str], i: int) -> int:
    """Past an import/export statement, which may run over several lines."""
    depth = 0
    while i < len(lines):
        depth += lines[i].count("{") + lines[i].count("(") - lines[i].count("}") - lines[i].count(")")
        i += 1
        if depth <= 0:
            break
    return i


def _drop_comments(lines: list[str], i: int) -> tuple[int, str]:
    """The line with its comments removed; a comment left open swallows the lines up to its end."""
    text = lines[i]
    while "{/*" in _COMMENT.sub("", text) and i + 1 < len(lines):
        i += 1
        text += "\n" + lines[i]
    return i, _COMMENT.sub("", text).strip() if "\n" in text else _COMMENT.sub("", text)


def _component(lines: list[str], i: int, out: list[str]) -> int:
    """Replace the component tag(s) that begin line `i` by blank lines (and a lead)."""
    text = lines[i]
    end_line = i
    position = len(text) - len(text.lstrip())
    while True:
        while _tag_end(text, position) >= len(text) and not text.rstrip().endswith(">"):
            if end_line + 1 >= len(lines):
                break
            end_line += 1
            text += "\n" + lines[end_line]
        stop = _tag_end(text, position)
        tag = text[position:stop]
        name = re.match(r"</?([\w.]+)", tag)
        out.append("")
        if name and not tag.startswith("</") and not tag.rstrip(">").rstrip().endswith("/"):
            lead = _LEADS.get(name.group(1))
            if lead:
                out.extend([f"**{lead}**", ""])
        rest = text[stop:]
        position = stop + len(rest) - len(rest.lstrip())
        if not rest.strip():
            return end_line + 1
        if not re.match(r"</?[A-Z]", rest.lstrip()):
            # text after the tag on the same line, e.g. `<Intro>Short intro</Intro>`
            tail = re.sub(r"</[A-Z][\w.]*>\s*$", "", rest.strip())
            out.extend([tail, ""])
            return end_line + 1
