"""MyST Markdown (Sphinx's Markdown, myst-parser) block syntax, rewritten into CommonMark lines.

Sphinx projects that write Markdown (Click, Jupyter Book, many Python libraries) use MyST:
directives as fences whose info string is `{name}` (```` ```{note} ````, `:::{warning}` with
the colon-fence extension, options as `:key: value` lines or a `---` YAML block), `(label)=`
targets before headings, `%` comment lines, `+++` block breaks, and roles as `{name}` right
before a code span ({func}`click.echo`). This module owns the block level, as
`bot.retrieval.formats.mkdocs` does for MkDocs: code directives become fenced code with their
language, admonitions and version notes a bold lead and their (MyST) body, `eval-rst`
blocks go through the reStructuredText reader, autodoc directives become reference stubs,
a label becomes the anchor of the heading it names, and toctree and friends nothing. Roles
are inline, so the Markdown renderer asks `role` for what one shows.

Only a file that uses MyST syntax (a `{name}` fence or role) is rewritten: `%` lines and
`(x)=` lines mean something else in other Markdown.
"""

from __future__ import annotations

import re

from bot.retrieval.formats.common import ParseContext, fence, is_python, language_for
from bot.retrieval.formats.mkdocs import REFERENCE_MARK

_HINT = re.compile(
    r"^[ \t]*(?:`{3,}|~{3,}|:{3,})\{[\w:.-]+\}|(?:^|(?<=[\s(\[\"'/]))\{[A-Za-z][\w:.+-]*\}`", re.M
)
_OPEN = re.compile(
    r"^(?P<indent>[ \t]*)(?P<marker>`{3,}|~{3,}|:{3,})\{(?P<name>[\w:.-]+)\}[ \t]*(?P<arg>.*?)\s*$"
)
_PLAIN_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
# MyST's block syntax, like CommonMark's, is indented at most three spaces: four is code
_LABEL = re.compile(r"^ {0,3}\(([^()\s]+)\)=[ \t]*$")
_COMMENT_OR_BREAK = re.compile(r"^ {0,3}(?:%|\+\+\+[ \t]*$)")
_HEADING = re.compile(r"^(#{1,6}[ \t]+.*?)[ \t]*$")
_OPTION = re.compile(r"^[ \t]*:[\w-]+:(?:[ \t].*)?$")
MAX_INCLUDE_DEPTH = 20  # as the reST reader: includes within includes, no deeper
_ROLE_BEFORE_CODE = re.compile(r"(?:^|(?<=[\s(\[\"'/]))\{([A-Za-z][\w:.+-]*)\}$")

CODE = frozenset({"code-block", "code", "sourcecode", "code-cell", "doctest", "testcode", "testoutput"})
_SILENT = frozenset(
    (  # noqa: SIM905
        "toctree contents index currentmodule module highlight tableofcontents sectionauthor "
        "codeauthor moduleauthor tabularcolumns testsetup testcleanup image raw"
    ).split()
)
_STUBS = frozenset(
    (  # noqa: SIM905
        "autoclass autofunction automodule autodata autoexception automethod autoattribute "
        "autoproperty autodecorator autosummary function class method attribute data exception "
        "classmethod staticmethod property decorator"
    ).split()
)
_VERSION_LEADS = {
    "versionadded": "Added in version {}.",
    "versionchanged": "Changed in version {}.",
    "deprecated": "Deprecated since version {}.",
    "versionremoved": "Removed in version {}.",
}
# directives whose argument is the title shown above the body
_TITLED = frozenset({"admonition", "topic", "sidebar", "dropdown", "card", "tab-item", "grid-item-card"})


def uses_myst(text: str) -> bool:
    return "{" in text and _HINT.search(text) is not None


def role(text_before: str) -> tuple[str, str] | None:
    """When `text_before` (the text right before a code span) ends with a MyST role `{name}`:
    (that text without it, the role's name); else None."""
    found = _ROLE_BEFORE_CODE.search(text_before) if text_before.endswith("}") else None
    return (text_before[: found.start()], found.group(1)) if found else None


def expand(text: str, context: ParseContext) -> str:
    """`text` (which `uses_myst`) with MyST's block syntax rewritten into CommonMark."""
    return "\n".join(_expand(text.split("\n"), context, (str(context.file.resolve()),)))


def _expand(lines: list[str], context: ParseContext, included: tuple[str, ...]) -> list[str]:
    """`included`: the files being included on the way here (a file including itself stops)."""
    out: list[str] = []
    label: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        opened = _OPEN.match(line)
        if opened:
            end = _closing(lines, i + 1, opened.group("marker"))
            body = _dedent(lines[i + 1 : end], opened.group("indent"))
            out.extend(_directive(opened.group("name"), opened.group("arg"), body, context, included))
            i = end + 1
            continue
        plain = _PLAIN_FENCE.match(line)
        if plain:  # ordinary code: passed through untouched
            end = _closing(lines, i + 1, plain.group(1))
            out.extend(lines[i : end + 1])
            i = end + 1
            continue
        target = _LABEL.match(line)
        if target:
            label = target.group(1)
        elif _COMMENT_OR_BREAK.match(line):
            pass  # a MyST comment or block break
        elif label is not None and (heading := _HEADING.match(line)):
            out.append(f"{heading.group(1)} {{#{label}}}")
            label = None
        else:
            if line.strip():
                label = None  # a label names the heading right after it, or nothing
            out.append(line)
        i += 1
    return out


def _closing(lines: list[str], start: int, marker: str) -> int:
    """The index of the line closing a fence opened with `marker` (the end if none does)."""
    closer = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
    for j in range(start, len(lines)):
        if closer.match(lines[j]):
            return j
    return len(lines)


def _dedent(lines: list[str], indent: str) -> list[str]:
    return [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines]


def _without_options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    """A directive's options (`:key: value` lines, or a `---` YAML block) and the rest."""
    options: dict[str, str] = {}
    if body and body[0].strip() == "---":
        close = next((j for j in range(1, len(body)) if body[j].strip() == "---"), None)
        if close is not None:
            for line in body[1:close]:
                key, _, value = line.partition(":")
                options[key.strip()] = value.strip()
            return options, body[close + 1 :]
    i = 0
    while i < len(body) and _OPTION.match(body[i]):
        key, _, value = body[i].strip()[1:].partition(":")
        options[key] = value.strip()
        i += 1
    return options, body[i:]


def _directive(
    name: str, arg: str, body: list[str], context: ParseContext, included: tuple[str, ...]
) -> list[str]:
    kind = name.rsplit(":", 1)[-1]
    options, content = _without_options(body)
    if kind in CODE:
        return [fence("\n".join(content).strip("\n"), arg.split()[0] if arg else ""), ""]
    if kind == "eval-rst":
        return [*_from_rst("\n".join(body), context), ""]
    if kind in _STUBS:
        return [f"{REFERENCE_MARK}{arg.split()[0]} -->", ""] if arg else []
    if kind in ("literalinclude", "include"):
        return _include(kind, arg, options, context, included)
    if kind in _SILENT:
        return []
    lead: list[str] = []
    if kind in _VERSION_LEADS:
        version, _, rest = arg.partition(" ")
        lead = [" ".join(filter(None, (_VERSION_LEADS[kind].format(version), rest.strip())))]
    elif kind in _TITLED and arg:
        lead = [f"**{arg}**"]
    elif kind in {"note", "warning", "tip", "important", "hint", "caution", "attention", "danger", "error"}:
        lead = [f"**{kind.capitalize()}:**"]
    elif kind == "seealso":
        lead = ["**See also:**"]
    elif kind == "rubric" and arg:
        return [f"**{arg}**", ""]
    elif kind == "math":
        return [fence("\n".join(content).strip("\n"), "latex"), ""]
    if is_python("\n".join(content)) and kind not in _TITLED:
        # an extension's code directive (jupyter-execute, ipython, plot): code, not prose
        return [fence("\n".join(content).strip("\n"), "python"), ""]
    expanded = _expand(content, context, included)
    return [*lead, "", *expanded, ""] if lead else ["", *expanded, ""]


def _from_rst(source: str, context: ParseContext) -> list[str]:
    """An `eval-rst` block: read by the reStructuredText reader, back as Markdown lines."""
    from bot.retrieval.formats.rst import parse as parse_rst
    from bot.retrieval.sections import DocumentError, SectionKind

    try:
        parsed = parse_rst(source, context)
    except DocumentError:
        context.warn("has an eval-rst block that is not valid reStructuredText; it was left out")
        return []
    lines: list[str] = []
    for section in parsed.sections:
        if section.kind is SectionKind.REFERENCE:
            name = section.text.split("\n", 1)[0].removeprefix("API reference: ").strip("` ")
            lines += [f"{REFERENCE_MARK}{name} -->", ""]
            continue
        if section.headings:
            lines += [f"**{section.headings[-1]}**", ""]
        lines += [*_as_text(section.text.split("\n")), ""]
    return lines


def _as_text(lines: list[str]) -> list[str]:
    """Markdown the reStructuredText reader wrote, safe to parse as Markdown again: in its prose
    a line starting with `#` is text (`# And how it works:`), not a heading, and `<...>` and
    `&` are text, not HTML."""
    out: list[str] = []
    fenced: str | None = None
    for line in lines:
        plain = _PLAIN_FENCE.match(line)
        if plain and (fenced is None or plain.group(1)[0] == fenced[0]):
            fenced = None if fenced is not None else plain.group(1)
        if fenced is None and not plain:
            # prose: `<your-token>` and `&amp;` are text there, not HTML for a second parse
            line = line.replace("&", "\\&").replace("<", "\\<")
            line = "\\" + line if line.startswith("#") else line
        out.append(line)
    return out


def _include(
    kind: str, arg: str, options: dict[str, str], context: ParseContext, included: tuple[str, ...]
) -> list[str]:
    found = context.read_include(arg.strip()) if arg.strip() else None
    if found is None:
        return []
    path, content = found
    if str(path) in included or len(included) >= MAX_INCLUDE_DEPTH:
        context.warn(f"includes {arg.strip()} within itself; the repeat was left out")
        return []
    if kind == "literalinclude":
        language = options.get("language") or language_for(path)
        return [fence(content.strip("\n"), language), ""]
    if path.suffix.lower() == ".rst":
        return _from_rst(content, context)
    return _expand(content.split("\n"), context, (*included, str(path)))
