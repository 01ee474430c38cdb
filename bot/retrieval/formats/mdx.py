"""MDX (Docusaurus, react.dev): JSX components and expressions around Markdown.

Owns what MDX adds to Markdown: `import`/`export` lines (dropped), JSX component tags on
their own lines (`<Pitfall>`, `<Sandpack>`, `<DeepDive>`, ...: the tags go, their content
stays, callouts get a short bold lead; self-closing ones such as `<Diagram ... />` go
entirely), Docusaurus admonitions (`:::tip Title` ... `:::`: a lead, as `mkdocs` gives one), and `{/* comments */}` (dropped, except `## Title {/*anchor*/}`, which gives the
heading's anchor). Three constructs are not Markdown inside and get their own rule:
a component with an `alt` attribute is a picture (react.dev `<Diagram>`, `<Illustration>`)
and goes whole with its caption, as images do in Markdown; the components of
`_CODE_COMPONENTS`, whose children are code rather than Markdown, become fenced code blocks;
and a JSX expression holding only a string literal (`{'  '}`, {`npm i x`}) becomes its
string. The rest is Markdown, rendered by `markdown.render` with indented code switched off,
as MDX does: component bodies are often indented.
"""

from __future__ import annotations

import re
import textwrap

from bot.retrieval.formats import markdown, mkdocs
from bot.retrieval.formats.common import ParseContext, Parsed, fence, split_front_matter

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
# Components of popular MDX sites whose children are the code itself, shown as a code block,
# with the fence language they imply (None: the tag's `language` attribute says). Any
# component may hold a single line of text, so no shape of the children can tell a code block
# from a callout: only the component's documented contract can, hence a table of names.
_CODE_COMPONENTS: dict[str, str | None] = {
    "TerminalBlock": "bash",  # react.dev: a shell command in a terminal frame
    "CodeBlock": None,  # Docusaurus @theme/CodeBlock, <CodeBlock language="jsx">{`...`}</CodeBlock>
}
# `alt` is HTML's text alternative of an image: a component that takes one is a picture
_ALT_ATTRIBUTE = re.compile(r"\salt\s*=")
_LANGUAGE_ATTRIBUTE = re.compile(
    r"""\slanguage\s*=\s*(?:"([^"]*)"|'([^']*)'|\{\s*["'`]([^"'`]*)["'`]\s*\})"""
)
# a JSX expression that is only a string literal; a template literal without `${}` may span lines
_STRING_EXPRESSION = re.compile(
    r"""\{[ \t]*(?:'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"|`((?:[^`\\$]|\\.|\$(?!\{))*)`)[ \t]*\}"""
)
# in prose, a code span is taken first where it starts first: `{`와 `}` is two code spans
_SPAN_OR_EXPRESSION = re.compile(rf"(`+)(?!`).*?(?<!`)\1(?!`)|{_STRING_EXPRESSION.pattern}")
_JS_ESCAPES = {"n": "\n", "t": "\t", "r": ""}
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>!&#|~])")
_COMPONENT_LINE = re.compile(r"^\s*</?[A-Z][\w.]*(?=[\s/>]|$)")
_HEADING_COMMENT = re.compile(r"^(#{1,6}\s.*?)\s*\{/\*\s*(.*?)\s*\*/\}\s*$")
_COMMENT = re.compile(r"\{/\*.*?\*/\}", re.S)
_MODULE_LINE = re.compile(r"^(?:import|export)\s")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_MDX_HINT = re.compile(r"^\s*</?[A-Z][\w.]*[\s/>]|\{/\*", re.M)
_FENCED = re.compile(r"^([ \t]*)(`{3,}|~{3,}).*?^\1\2", re.M | re.S)


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
        if admonition := mkdocs.docusaurus_admonition(line):
            out.extend(admonition)
            i += 1
            continue
        if "{/*" in line:
            heading = _HEADING_COMMENT.match(line)
            if heading:
                anchor = heading.group(2)
                line = f"{heading.group(1)} {{#{anchor}}}" if anchor else heading.group(1)
            else:
                i, line = _drop_comments(lines, i)
        if "{" in line:
            line = _SPAN_OR_EXPRESSION.sub(_literal_text, line)
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
        opening = name is not None and not tag.startswith("</") and not tag.rstrip(">").rstrip().endswith("/")
        if name and opening and (name.group(1) in _CODE_COMPONENTS or _ALT_ATTRIBUTE.search(tag)):
            whole = _whole(lines, end_line, text[stop:], name.group(1), tag, out)
            if whole is not None:
                return whole
        out.append("")
        if name and opening:
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


def _whole(lines: list[str], i: int, after: str, name: str, tag: str, out: list[str]) -> int | None:
    """A component read whole, from the text `after` its opening `tag` (which ends on line `i`)
    to its closing tag: a code component becomes a fenced block, a picture nothing. The index
    of the next line to read, or None when the component is never closed (read as any other)."""
    # its own name opened again inside it (nested) must be closed first
    tags = re.compile(rf"<(/?){re.escape(name)}(?:\s*>|(?=[\s/>]))")
    body: list[str] = []
    depth = 0
    text, k = after, i
    while True:
        for found in tags.finditer(text):
            if not found.group(1):
                depth += 1
            elif depth:
                depth -= 1
            else:
                body.append(text[: found.start()])
                _emit(name, tag, "\n".join(body), out)
                rest = text[found.end() :]
                if rest.strip():
                    lines[k] = rest  # what follows the closing tag on its line is read next
                    return k
                return k + 1
        body.append(text)
        k += 1
        if k >= len(lines):
            return None
        text = lines[k]


def _emit(name: str, tag: str, body: str, out: list[str]) -> None:
    out.append("")
    if name not in _CODE_COMPONENTS:
        return  # a picture: its caption means nothing without it
    whole = _STRING_EXPRESSION.fullmatch(body.strip())
    if whole:  # {`...`}: the string is the code, its lines as the literal holds them
        code = _decoded(whole, 1)
    else:
        code = textwrap.dedent(_STRING_EXPRESSION.sub(lambda m: _decoded(m, 1), body))
    language = _CODE_COMPONENTS[name]
    if language is None:
        attribute = _LANGUAGE_ATTRIBUTE.search(tag)
        language = next((g for g in attribute.groups() if g), "") if attribute else ""
    if code.strip():
        out.extend(fence(code, language).splitlines())
        out.append("")


def _decoded(match: re.Match[str], first: int) -> str:
    """The string a literal of `_STRING_EXPRESSION` (its groups from `first` on) stands for."""
    raw = next((g for g in match.groups()[first - 1 : first + 2] if g is not None), "")
    if "\\" not in raw:
        return raw
    return re.sub(r"\\(.)", lambda e: _JS_ESCAPES.get(e.group(1), e.group(1)), raw, flags=re.S)


def _literal_text(match: re.Match[str]) -> str:
    """A string expression in prose as the Markdown of its text; a code span as it is."""
    if match.group(1) is not None:
        return match.group(0)
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", _decoded(match, 2))
