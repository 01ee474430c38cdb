"""What the format parsers share: the parse context, include resolution, fences, sections.

A parser never prints a problem into the text: it calls `ParseContext.warn`, and the
warnings travel on the Document to the admin. Included files are read only from inside the
knowledge folder (or the configured include root), so a documentation tree cannot pull in
arbitrary files from the machine the bot runs on.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from bot.markdown import escaped
from bot.retrieval.folder import skip_reason, stamp
from bot.retrieval.sections import DocumentError, Heading, IncludedFile, Section, SectionKind

_LANGUAGES = {
    ".py": "python",
    ".pyi": "python",
    ".js": "js",
    ".jsx": "jsx",
    ".mjs": "js",
    ".ts": "ts",
    ".tsx": "tsx",
    ".json": "json",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".sh": "bash",
    ".bash": "bash",
    ".html": "html",
    ".css": "css",
    ".sql": "sql",
    ".rs": "rust",
    ".go": "go",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".ini": "ini",
    ".cfg": "ini",
    ".rst": "rst",
    ".md": "markdown",
    ".txt": "",
}


def language_for(path: Path) -> str:
    return _LANGUAGES.get(path.suffix.lower(), path.suffix.lstrip(".").lower())


def fence(code: str, language: str = "") -> str:
    """A fenced block that survives backtick runs inside the code. Indentation every line
    shares is removed (an excerpt of a function body, code under a list item): it means
    nothing to the code, and Python pasted with it does not run."""
    code = code.strip("\n")
    if code[:1] in (" ", "\t"):  # dedent's regexes only when the first line is indented
        code = textwrap.dedent(code)
    longest = max((len(run) for run in re.findall(r"`{3,}", code)), default=2)
    marker = "`" * max(3, longest + 1)
    return f"{marker}{language}\n{code.rstrip()}\n{marker}"


def table_lines(rows: Sequence[Sequence[str]], *, header: bool) -> str:
    """Table rows as `a | b` lines, empty rows left out. When the first row is the table's header
    (what the other rows' cells are), a `--- | ---` rule follows it, as in GFM: the answerer
    quotes a row with its header. A one-column table gets none: its lines hold no `|` to be
    read as rows, and `---` under a line would make it a heading."""
    lines = [" | ".join(row) for row in rows if any(cell.strip() for cell in row)]
    if header and len(lines) > 1 and len(rows[0]) > 1 and any(cell.strip() for cell in rows[0]):
        lines.insert(1, " | ".join("---" for _ in rows[0]))
    return "\n".join(lines)


_FENCE_OPEN = re.compile(r"(`{3,}|~{3,})")


def list_item(marker: str, body: str) -> str:
    """`body` as one list item: its first line after `marker`, the others indented under it,
    except fenced code, which stays at the margin as it is: chat Markdown (Slack, Discord) does
    not nest code in list items, and a quoted or copied block must hold the code as it runs,
    not the list's indentation (Python would not run it)."""
    pad = " " * len(marker)
    out: list[str] = []
    fence_marker = ""
    for n, line in enumerate(body.splitlines() or [""]):
        if fence_marker:
            out.append(line)
            stripped = line.rstrip()
            if stripped.startswith(fence_marker) and not stripped.strip(fence_marker[0]):
                fence_marker = ""
        elif opened := _FENCE_OPEN.match(line):
            fence_marker = opened.group(1)
            out += [marker.rstrip(), line] if n == 0 else [line]  # an item that begins with code
        elif n == 0:
            out.append(marker + line)
        else:
            out.append(f"{pad}{line}" if line else "")
    return "\n".join(out)


def is_python(text: str) -> bool:
    """`text` is a Python program, not prose: it parses, and it holds a statement (an
    assignment, an import, a definition, a loop...) or a call. Prose that happens to parse is
    an expression without a call: a word, `Flask or Django`, `- Linux` (a unary minus), `A in
    B`. Sentences do not parse at all: "Run it now." fails."""
    if not text.strip():
        return False
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return any(
        not isinstance(node, ast.Expr) or isinstance(node.value, ast.Call | ast.Await) for node in tree.body
    )


# What makes Markdown in running text as the chat renderers read it: an escape, code, emphasis,
# a link's brackets. An underscore inside a word (snake_case) makes none in CommonMark, Discord
# or Slack, and stays bare; so does a single `~`, which strikes nothing in CommonMark or Discord.
_MARKUP_IN_TEXT = re.compile(r"[\\`*\[\]]|(?<![^\W_])_|_(?![^\W_])")


def markdown_text(text: str) -> str:
    """Text a document shows as it is (what docutils parsed out of the markup around it) as
    Markdown that shows the same: its markup characters escaped, so `*literal*` stays those
    characters, not italics, where a passage is quoted. Bare URLs are left as written."""
    return escaped(text, _MARKUP_IN_TEXT)


def code_span(text: str) -> str:
    if "`" not in text:
        return f"`{text}`"
    return f"`` {text} ``"


@dataclass(frozen=True, kw_only=True)
class Parsed:
    sections: tuple[Section, ...]
    title: str | None = None  # the title the markup itself gives, if any
    headings: tuple[Heading, ...] = ()  # every heading in order (SectionBuilder.headings)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParseContext:
    root: Path
    file: Path
    include_root: Path | None = None
    globs: tuple[str, ...] = ()  # [knowledge] exclude, relative to `root`
    warnings: list[str] = field(default_factory=list)
    # every file an include read or looked for, by path, as it was before it was read: the
    # sync reads the page again when one of them changes (bot/retrieval/knowledge.py)
    included: dict[str, IncludedFile] = field(default_factory=dict)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def _allowed(self, path: Path) -> bool:
        """Inside a root, and nothing the folder walk itself leaves out (hidden files such as
        .env, generator configuration, build output): an include must not reach what the
        admin's folder rules keep from the index, `[knowledge] exclude` globs included (they
        name paths in the knowledge folder, so they hold there)."""
        roots = [self.root] if self.include_root is None else [self.root, self.include_root]
        for n_root, root in enumerate(r.resolve() for r in roots):
            if path.is_relative_to(root):
                parts = path.relative_to(root).parts
                globs = self.globs if n_root == 0 else ()
                return all(
                    skip_reason("/".join(parts[: n + 1]), n < len(parts) - 1, globs, root=root) is None
                    for n in range(len(parts))
                )
        return False

    def read_linked(self, path: Path, limit: int = 8192) -> str | None:
        """The start of a file the page only links to (to show its title), inside the allowed
        roots; None, and no warning, when there is none: a dangling link is not this page's
        problem to report."""
        resolved = path.resolve()
        if not self._allowed(resolved) or not resolved.is_file():
            return None
        try:
            with resolved.open(encoding="utf-8-sig", errors="replace") as file:
                return file.read(limit)
        except OSError:
            return None

    def _stamp(self, path: Path) -> IncludedFile:
        """`path` (resolved) as it is now, kept in `included`; taken before the file is read,
        so an edit racing the read leaves a stamp that differs next time, never one that
        matches text the index does not hold."""
        found = stamp(path, self.root.resolve())
        self.included.setdefault(found.path, found)
        return found

    def read_include(self, target: str, *, bases: tuple[Path, ...] = ()) -> tuple[Path, str] | None:
        """Read an included file by the name the source gives, trying `bases` (default: the
        including file's folder, the knowledge folder, the include root) in turn."""
        if not bases:
            candidates = [self.file.parent, self.root]
            if self.include_root is not None:
                candidates.append(self.include_root)
            bases = tuple(candidates)
        name = target.strip()
        outside = False
        for base in bases:
            path = (base / name.lstrip("/")) if name.startswith("/") else (base / name)
            resolved = path.resolve()
            if not self._allowed(resolved):
                outside = True
                continue
            found = self._stamp(resolved)
            if found.size >= 0:
                try:
                    return resolved, resolved.read_text(encoding="utf-8-sig")
                except (OSError, UnicodeDecodeError):
                    self.warn(f"includes {name}, which cannot be read as UTF-8 text")
                    return None
        where = "the knowledge folder" if self.include_root is None else "the knowledge or include folder"
        if outside and not any(self._allowed((b / name).resolve()) for b in bases):
            self.warn(f"includes {name}, which is not inside {where}; it was left out")
        else:
            self.warn(f"includes {name}, which does not exist; it was left out")
        return None


class SectionBuilder:
    """Collects blocks under the current heading path and cuts a section at each heading.

    Every heading is kept in `headings`, also one no text follows: the anchors are counted
    over all of a page's headings, as the generators count them (bot/retrieval/chunking.py).
    """

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self._stack: list[tuple[int, str, str | None]] = []  # (level, title, anchor)
        self._blocks: list[str] = []
        self._anchor: str | None = None
        self._headings: list[Heading] = []

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(title for _, title, _ in self._stack)

    @property
    def headings(self) -> tuple[Heading, ...]:
        return tuple(self._headings)

    @property
    def _start(self) -> int | None:
        return len(self._headings) - 1 if self._headings else None

    def add(self, block: str) -> None:
        block = block.strip("\n")
        if block.strip():
            self._blocks.append(block)

    def flush(self) -> None:
        text = "\n\n".join(self._blocks).strip()
        if text:
            self.sections.append(
                Section(headings=self.path, text=text, anchor=self._anchor, start=self._start)
            )
        self._blocks = []

    def heading(self, level: int, title: str, anchor: str | None) -> None:
        self.flush()
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title, anchor))
        self._anchor = anchor
        self._headings.append(Heading(level=level, title=title, anchor=anchor))

    def reference(self, name: str, detail: str = "") -> None:
        """An API reference stub: its own section, cited but never quoted as prose."""
        self.flush()
        text = f"API reference: {code_span(name)}"
        if detail.strip():
            text += "\n\n" + detail.strip()
        self.sections.append(
            Section(
                headings=self.path,
                text=text,
                anchor=self._anchor,
                kind=SectionKind.REFERENCE,
                start=self._start,
            )
        )

    def finish(self) -> tuple[Section, ...]:
        self.flush()
        return tuple(self.sections)


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        return {}, text
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise DocumentError(
            f"has invalid YAML front matter{where}; fix the block between the --- lines"
        ) from None
    return dict(post.metadata), post.content


_TAG = re.compile(r"<!--.*?-->|<[A-Za-z/!?][^<>]*>", re.DOTALL)


def strip_tags(html: str) -> str:
    """Visible text of a small HTML fragment embedded in Markdown, whitespace collapsed."""
    import html as html_lib

    return " ".join(html_lib.unescape(_TAG.sub(" ", html)).split())
