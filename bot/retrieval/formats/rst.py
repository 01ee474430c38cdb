"""reStructuredText and Sphinx markup, through docutils, into clean-Markdown sections.

docutils parses the file; Sphinx's roles and directives, which docutils does not know, are
registered here so they become ordinary nodes instead of error messages: cross-reference
roles become their text (`:class:`~flask.Flask`` -> `Flask` in backticks; a `:doc:` link the
linked page's title, read from the tree, or words for another project's page; a `:ref:` to a
label of the page its section's title), code directives
literal blocks with their language, version directives prose ("Added in version 2.0."),
autodoc and py-domain directives reference stubs (their own REFERENCE section), toctree
and friends nothing. Includes are read only from inside the allowed roots (a warning
otherwise). The doctree is then rendered to Markdown; system messages never reach the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from docutils import nodes, statemachine
from docutils.parsers.rst import Directive, directives, roles

from bot.retrieval.formats.common import ParseContext, Parsed, SectionBuilder, is_python, language_for
from bot.retrieval.formats.roles import CODE_ROLES, TEXT_ROLES, local_label, role_display
from bot.retrieval.formats.rst_render import Renderer, stub, switch_language
from bot.retrieval.sections import DocumentError

_VERSION_LEADS = {
    "versionadded": "Added in version {}.",
    "versionchanged": "Changed in version {}.",
    "deprecated": "Deprecated since version {}.",
    "versionremoved": "Removed in version {}.",
}
_STUB_DIRECTIVES = (  # noqa: SIM905
    "autoclass autofunction automodule autodata autoexception automethod autoattribute "
    "autoproperty autodecorator autosummary function class method attribute data exception "
    "module-function classmethod staticmethod property decorator decoratormethod"
).split()
_SILENT = "toctree index highlight sectionauthor codeauthor moduleauthor tabularcolumns testsetup testcleanup"
_DOCUTILS_DIRECTIVES = frozenset(
    (  # noqa: SIM905
        "note warning tip important hint caution attention danger error admonition topic sidebar "
        "line-block parsed-literal rubric epigraph highlights pull-quote compound container table "
        "csv-table list-table image figure math replace unicode date class role default-role title "
        "contents sectnum header footer target-notes meta raw"
    ).split()
)
_DOCUTILS_ROLES = frozenset(
    (  # noqa: SIM905
        "emphasis strong literal code math sub subscript sup superscript title-reference title t "
        "pep-reference pep rfc-reference rfc raw abbreviation ab acronym ac"
    ).split()
)
_ROLE_USE = re.compile(r"(?<![\w`]):((?:[\w-]+:)*[\w-]+):`")
_DIRECTIVE_USE = re.compile(r"^[ \t]*\.\.[ \t]+([\w:-]+)[ \t]*::", re.M)


@dataclass
class _State:
    """Per-file parse state, reached from directives through the document settings."""

    context: ParseContext
    module: str = ""
    includes: set[str] = field(default_factory=set)
    titles: dict[str, str | None] = field(default_factory=dict)  # of documents `:doc:` names


def _state(directive: Directive) -> _State:
    state: _State = directive.state.document.settings.supportbot_state
    return state


def _xref_role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Any,
    options: dict[str, Any] | None = None,
    content: list[str] | None = None,
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    state = getattr(inliner.document.settings, "supportbot_state", None)
    shown, code = role_display(
        name, text, (lambda target: _doc_title(state, target)) if isinstance(state, _State) else None
    )
    if name.rsplit(":", 1)[-1] in {"pep", "rfc"}:
        return [nodes.Text(shown)], []
    if code:
        return [nodes.literal(rawtext, shown)], []
    node = nodes.inline(rawtext, shown)
    label = local_label(name, text)
    if label is not None:  # its section's title once the page is read (_section_titles)
        node[_LABEL] = nodes.fully_normalize_name(label)
    return [node], []


_LABEL = "supportbot_label"


def _section_titles(tree: nodes.document) -> None:
    """A `:ref:` to a label on a section of this page shows that section's title, as Sphinx
    does; the label may come after the role, so this waits for the whole tree. A label of
    another page, or not on a section, keeps the words `role_display` gave."""
    for node in tree.findall(nodes.inline):
        if _LABEL not in node:
            continue
        target = tree.ids.get(tree.nameids.get(node[_LABEL]) or "")
        if isinstance(target, nodes.section) and isinstance(target[0], nodes.title):
            node.children = []
            node += nodes.Text(" ".join(target[0].astext().split()))


_TITLE = re.compile(
    r"^(?:([=\-~^\"'`#*+<>:._])\1{2,}[ \t]*\n)?[ \t]*(\S[^\n]*?)[ \t]*\n([=\-~^\"'`#*+<>:._])\3{2,}[ \t]*$",
    re.M,
)
_INLINE_MARKS = re.compile(r":[\w:+-]+:`([^`<]*?)\s*(?:<[^`]*>)?`|`+|\*+")


def _doc_title(state: _State, target: str) -> str | None:
    """The title of the document a `:doc:` link names, as Sphinx shows it (read once a parse)."""
    if target in state.titles:
        return state.titles[target]
    context = state.context
    base = context.root if target.startswith("/") else context.file.parent
    title = None
    for suffix in (".rst", ".txt"):
        text = context.read_linked(base / (target.lstrip("/") + suffix))
        if text is not None:
            found = _TITLE.search(text)
            if found:  # the title's words without their markup: ``flask run`` -> flask run
                words = _INLINE_MARKS.sub(lambda m: m.group(1) or "", found.group(2)).split()
                title = " ".join(words) or None
            break
    state.titles[target] = title
    return title


class _AnyOptions(dict[str, Any]):
    """Sphinx directives take options docutils cannot know; accept them all (unused)."""

    def __missing__(self, key: str) -> Any:
        return directives.unchanged


def _any_options() -> _AnyOptions:
    return _AnyOptions(name=directives.unchanged)  # non-empty: docutils skips empty specs


class _Code(Directive):  # type: ignore[misc]
    optional_arguments = 1
    has_content = True
    option_spec: ClassVar[dict[str, Any]] = _any_options()

    def run(self) -> list[nodes.Node]:
        code = "\n".join(self.content)
        node = nodes.literal_block(code, code)
        node["language"] = self.arguments[0] if self.arguments else ""
        return [node]


class _LiteralInclude(Directive):  # type: ignore[misc]
    required_arguments = 1
    final_argument_whitespace = True
    option_spec: ClassVar[dict[str, Any]] = _any_options()

    def run(self) -> list[nodes.Node]:
        context = _state(self).context
        target = self.arguments[0]
        bases = (context.root,) if target.startswith("/") else ()
        found = context.read_include(target, bases=bases)
        if found is None:
            return []
        path, text = found
        lines = text.splitlines()
        after, before = self.options.get("start-after"), self.options.get("end-before")
        if after:
            picked = [i for i, line in enumerate(lines) if after in line]
            lines = lines[picked[0] + 1 :] if picked else lines
        if before:
            picked = [i for i, line in enumerate(lines) if before in line]
            lines = lines[: picked[0]] if picked else lines
        if spans := self.options.get("lines"):
            chosen: list[str] = []
            for part in str(spans).split(","):
                first, _, last = part.strip().partition("-")
                if first.isdigit():
                    chosen.extend(lines[int(first) - 1 : int(last) if last.isdigit() else int(first)])
            lines = chosen
        code = "\n".join(lines)
        node = nodes.literal_block(code, code)
        node["language"] = self.options.get("language") or language_for(path)
        return [node]


class _Include(Directive):  # type: ignore[misc]
    required_arguments = 1
    final_argument_whitespace = True
    option_spec: ClassVar[dict[str, Any]] = _any_options()

    def run(self) -> list[nodes.Node]:
        state = _state(self)
        target = self.arguments[0].strip()
        if target.startswith("<"):
            return []  # docutils' own standard includes: nothing a reader asks about
        bases = (state.context.root,) if target.startswith("/") else ()
        found = state.context.read_include(target, bases=bases)
        if found is None or str(found[0]) in state.includes or len(state.includes) > 20:
            return []
        path, text = found
        state.includes.add(str(path))
        if "literal" in self.options or "code" in self.options:
            return [nodes.literal_block(text, text)]
        lines = statemachine.string2lines(text, 8, convert_whitespace=True)
        self.state_machine.insert_input(lines, str(path))
        return []


class _Version(Directive):  # type: ignore[misc]
    required_arguments = 1
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True

    def run(self) -> list[nodes.Node]:
        node = nodes.container()
        lead = _VERSION_LEADS[self.name].format(self.arguments[0])
        paragraph = nodes.paragraph("", lead)
        if len(self.arguments) > 1:
            inline, _ = self.state.inline_text(self.arguments[1], self.lineno)
            paragraph += [nodes.Text(" "), *inline]
        node += paragraph
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


class _SeeAlso(Directive):  # type: ignore[misc]
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True

    def run(self) -> list[nodes.Node]:
        node = nodes.admonition()
        node += nodes.title("", "See also")
        if self.arguments:
            inline, _ = self.state.inline_text(self.arguments[0], self.lineno)
            node += nodes.paragraph("", "", *inline)
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


class _Stub(Directive):  # type: ignore[misc]
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec: ClassVar[dict[str, Any]] = _any_options()

    def run(self) -> list[nodes.Node]:
        state = _state(self)
        signature = self.arguments[0] if self.arguments else ""
        name = re.split(r"[\s(\[]", signature.strip(), maxsplit=1)[0]
        if self.name.rsplit(":", 1)[-1] == "automodule" or self.name.endswith(":module"):
            state.module = name
        elif name and "." not in name.lstrip(".") and state.module:
            name = f"{state.module}.{name.lstrip('.')}"
        node = stub(name or self.name)
        if not self.name.rsplit(":", 1)[-1].startswith("auto"):
            self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


class _Module(Directive):  # type: ignore[misc]
    required_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = _any_options()
    has_content = True

    def run(self) -> list[nodes.Node]:
        _state(self).module = self.arguments[0].strip()
        return []


class _Silent(Directive):  # type: ignore[misc]
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec: ClassVar[dict[str, Any]] = _any_options()

    def run(self) -> list[nodes.Node]:
        if self.name == "highlight" and self.arguments:
            return [switch_language(self.arguments[0])]
        return []


_TABS = frozenset({"tab", "group-tab", "code-tab", "tab-item"})  # titled: their body is read as is


class _Generic(Directive):  # type: ignore[misc]
    """Any other directive (only, tabs, glossary, ...): its content, its markers gone."""

    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec: ClassVar[dict[str, Any]] = _any_options()

    def run(self) -> list[nodes.Node]:
        code = "\n".join(self.content)
        if self.name not in _TABS and is_python(code):
            # an extension's example or run directive (click:example, jupyter-execute): code
            # read as paragraphs would come out squashed onto one line
            block = nodes.literal_block(code, code)
            block["language"] = "python"
            return [block]
        node = nodes.container()
        if self.name in _TABS and self.arguments:
            # the title is inline markup (``netstat`` (Linux)), parsed as a heading's would be
            title, _ = self.state.inline_text(self.arguments[0], self.lineno)
            node += nodes.rubric("", "", *title)
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


def _register() -> None:
    for name in [*CODE_ROLES, *TEXT_ROLES, "pep", "rfc"]:
        for prefix in ("", "py:", "std:", "js:", "c:", "cpp:"):
            roles.register_local_role(prefix + name, _xref_role)
    for name in ("code-block", "sourcecode", "code", "doctest", "testcode", "testoutput"):
        directives.register_directive(name, _Code)
    directives.register_directive("literalinclude", _LiteralInclude)
    directives.register_directive("include", _Include)
    directives.register_directive("seealso", _SeeAlso)
    for name in _VERSION_LEADS:
        directives.register_directive(name, _Version)
    for name in _STUB_DIRECTIVES:
        directives.register_directive(name, _Stub)
        directives.register_directive(f"py:{name}", _Stub)
    for name in ("module", "currentmodule", "py:module", "py:currentmodule"):
        directives.register_directive(name, _Module)
    for name in _SILENT.split():
        directives.register_directive(name, _Silent)


_register()
_known_roles: set[str] = set()
_known_directives: set[str] = set()


def _register_unknown(text: str) -> None:
    """Markup from extensions we do not know: a generic role or directive keeps its text."""
    for name in set(_ROLE_USE.findall(text)) - _known_roles:
        _known_roles.add(name)
        kind = name.rsplit(":", 1)[-1]
        if name not in _DOCUTILS_ROLES and kind not in CODE_ROLES and kind not in TEXT_ROLES:
            roles.register_local_role(name, _xref_role)
    for name in set(_DIRECTIVE_USE.findall(text)) - _known_directives:
        _known_directives.add(name)
        if name not in _DOCUTILS_DIRECTIVES and directives._directives.get(name) is None:
            directives.register_directive(name, _Generic)


def parse(text: str, context: ParseContext) -> Parsed:
    from docutils.core import publish_doctree

    _register_unknown(text)
    state = _State(context=context)
    try:
        tree = publish_doctree(
            text,
            source_path=str(context.file),
            settings_overrides={
                "report_level": 5,
                "halt_level": 5,
                "file_insertion_enabled": False,
                "raw_enabled": False,
                "doctitle_xform": False,
                "supportbot_state": state,
                "syntax_highlight": "none",
            },
        )
    except Exception as exc:  # docutils raises many types for broken markup
        raise DocumentError(f"is not valid reStructuredText: {exc}") from None
    _section_titles(tree)
    builder = SectionBuilder()
    Renderer(builder).document(tree)
    sections = builder.finish()
    title = next((s.headings[0] for s in sections if s.headings), None)
    return Parsed(sections=sections, title=title, headings=builder.headings)
