"""No documentation markup reaches an answer: every question of the realdocs_dev sets
(upstream MkDocs, Sphinx and MDX trees, byte for byte) goes through the same `bot.answers.ask`
calls `supportbot eval` makes, offline, and every answer and citation is scanned for
leftovers of the source format.

Inside fenced code blocks only docutils system messages and include placeholders count:
code legitimately holds JSX, `::`, `{{ }}` and the like. Inline code spans are exempt from
the patterns that name things code talks about (JSX tags, template braces), since the docs
write "`<Suspense>`" on purpose.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.evaluation import eval_bot, index_set, load_questions, run_questions
from bot.retrieval.documents import read_document
from bot.retrieval.folder import skip_reason
from bot.types import Answer

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "shared/eval/realdocs_dev"
EVAL_DIR = Path(os.environ.get("SUPPORTBOT_EVAL_DIR") or DEFAULT_DIR)


def _sets() -> list[str]:
    if not EVAL_DIR.is_dir():
        return []
    return sorted(p.name for p in EVAL_DIR.iterdir() if (p / "questions.jsonl").is_file())


ABSENT = "(realdocs_dev absent)"
SETS = _sets() or [ABSENT]

# (name, pattern, counts inside fenced code, counts inside inline code)
PATTERNS: tuple[tuple[str, re.Pattern[str], bool, bool], ...] = (
    ("docutils system message", re.compile(r"\((?:ERROR|WARNING|INFO|SEVERE)/|<string>:\d+"), True, True),
    (
        "sphinx role",
        # not after a backtick: `:r:` is a code span of a colon, an r and a colon
        re.compile(r"(?<![\w:`]):(?:[A-Za-z][\w+.-]*:)?[A-Za-z][\w+.-]*:`[^`\n]+`"),
        False,
        True,
    ),
    ("rst directive", re.compile(r"(?m)^[ \t>]*\.\.[ \t]+[\w:.-]+::"), False, True),
    ("mkdocs heading attribute", re.compile(r"\{[ \t]*#[\w:.-]+[^{}\n]*\}"), False, True),
    ("/// block marker", re.compile(r"(?m)^[ \t>]*///(?:[ \t]|$)"), False, True),
    ("admonition marker", re.compile(r"(?:^|(?<=\s))(?:!!!|\?\?\?\+?)[ \t]+[\w\"']"), False, True),
    ("include placeholder", re.compile(r"\{\*.*?\*\}|--8<--"), True, True),
    ("::: stub", re.compile(r"(?:^|(?<=\s)):::[ \t]+[A-Za-z_][\w.]*"), False, True),
    ("mdx comment", re.compile(r"\{/\*.*?\*/\}", re.DOTALL), False, True),
    ("jsx tag", re.compile(r"</?[A-Z][\w.]*(?:\s[^<>]*?)?/?>"), False, False),
    ("macros braces", re.compile(r"\{\{.*?\}\}", re.DOTALL), False, False),
    # MDX `{'  '}` / {`npm i x`}: a JSX expression that is only a string. On the text with its
    # code spans blanked, a span is NUL and spaces: `{`와 `}` is two spans, no braces around one
    (
        "jsx string expression",
        re.compile(r"\{[ \t]*(?:'[^'\n]*'|\"[^\"\n]*\"|\x00 *)[ \t]*\}"),
        False,
        False,
    ),
    # reST's double-backtick literal: the renderer writes code spans as `x` or `` x ``
    ("rst inline literal", re.compile(r"(?<!`)``[^`\s](?:[^`\n]*[^`\s])?``(?!`)"), False, True),
    # an intersphinx target (`werkzeug:middleware/proxy_fix`) shown instead of its title
    (
        "cross-reference target",
        re.compile(r"(?<![\w/.:@-])[a-z][\w-]*:[a-z][\w.-]*(?:/[\w.-]+)+"),
        False,
        False,
    ),
    # a shell command read as prose: a terminal component's content that lost its code block
    (
        "shell command as prose",
        re.compile(
            r"(?m)^[ \t]*(?:\$[ \t]+)?(?:npm|npx|pnpm|yarn|pip3?|uv|poetry|brew|apt-get)[ \t]+"
            r"(?:install|add|i|create|ls|run|exec|dlx|remove|uninstall)\b[^\n]*$"
        ),
        False,
        False,
    ),
    # code quoted with the indentation of the list item it sat in: pasted, Python will not run it
    (
        "code indented as a whole",
        re.compile(
            r"(?m)^[ \t>]*(`{3,}|~{3,})[^\n`]*\n(?:[ \t]*\n)*(?:[ \t]+\S[^\n]*\n(?:[ \t]*\n)*)+[ \t>]*\1[ \t]*$"
        ),
        True,
        True,
    ),
    # MyST (Sphinx's Markdown): a role before its code span, a directive fence, a label line
    ("myst role", re.compile(r"(?:^|(?<=[\s(\[\"'/]))\{[A-Za-z][\w:.+-]*\}\x00"), False, False),
    ("myst directive", re.compile(r"(?m)^[ \t>]*(?:`{3,}|~{3,}|:{3,})\{[\w:.-]+\}"), True, True),
    ("myst label", re.compile(r"(?m)^[ \t]*\([\w:.-]+\)=[ \t]*$"), False, True),
    # a list's fence read as indented code comes out as a fence holding a fence
    (
        "fence in a fence",
        re.compile(r"(?m)^[ \t>]*(?:`{4,}|~{4,})[^\n]*\n[ \t>]*(?:`{3,}|~{3,})[\w-]+"),
        True,
        True,
    ),
)

_FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)


@dataclass(frozen=True, kw_only=True)
class Finding:
    question: str
    where: str  # "answer" or "citation <n> <field>"
    pattern: str
    snippet: str


def split_fences(text: str) -> tuple[str, str]:
    """(text outside fenced code blocks, text inside them); an unclosed fence runs to the end."""
    outside: list[str] = []
    inside: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
            inside.append(line)
        elif fence is not None:
            inside.append(line)
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
        else:
            outside.append(line)
    return "\n".join(outside), "\n".join(inside)


def _snippet(text: str, match: re.Match[str]) -> str:
    start, end = max(0, match.start() - 30), min(len(text), match.end() + 30)
    return " ".join(text[start:end].split())


def scan(text: str, *, code_aware: bool = True) -> list[tuple[str, str]]:
    """(pattern name, snippet) for every leftover in `text`. Citations are not Markdown, so
    they are scanned whole (`code_aware=False`)."""
    prose, code = split_fences(text) if code_aware else (text, "")
    bare = _INLINE_CODE.sub(lambda m: "\x00" + " " * (len(m.group(0)) - 1), prose) if code_aware else prose
    found = []
    for name, pattern, in_fences, in_inline in PATTERNS:
        targets = [prose if in_inline else bare] + ([code] if in_fences else [])
        for target in targets:
            found += [(name, _snippet(target, m)) for m in pattern.finditer(target)]
    return found


# an MDX picture (a component with an `alt` text) and its caption: `<Diagram alt="...">caption</Diagram>`
_PICTURE = re.compile(r"<([A-Z][\w.]*)\s[^<>]*?\balt=[^<>]*>(.*?)</\1\s*>", re.DOTALL)


def picture_captions(knowledge: Path) -> frozenset[str]:
    """The captions of the pictures in a tree's MDX pages: shown as prose without the picture
    they caption, they read as stray lines ("Prop drilling")."""
    captions: set[str] = set()
    for path in [*knowledge.rglob("*.md"), *knowledge.rglob("*.mdx")]:
        text = path.read_text(encoding="utf-8", errors="replace")
        if "alt=" in text:
            captions.update(" ".join(m.group(2).split()) for m in _PICTURE.finditer(text))
    return frozenset(c for c in captions if c)


def stray_captions(text: str, captions: frozenset[str]) -> list[tuple[str, str]]:
    prose, _ = split_fences(text)
    return [("picture caption", line.strip()) for line in prose.splitlines() if line.strip() in captions]


def findings_for(question_id: str, answer: Answer, captions: frozenset[str] = frozenset()) -> list[Finding]:
    out = [
        Finding(question=question_id, where="answer", pattern=p, snippet=s)
        for p, s in scan(answer.text) + stray_captions(answer.text, captions)
    ]
    for n, citation in enumerate(answer.citations, start=1):
        for field in ("title", "heading", "url", "path"):
            value = getattr(citation, field) or ""
            out += [
                Finding(question=question_id, where=f"citation {n} {field}", pattern=p, snippet=s)
                # titles and headings are Markdown text (inline code allowed); url and path are not
                for p, s in scan(value, code_aware=field in ("title", "heading"))
            ]
    return out


def _require_eval_dir() -> None:
    if EVAL_DIR.is_dir() and _sets():
        return
    reason = f"no eval sets in {EVAL_DIR} (set SUPPORTBOT_EVAL_DIR to the realdocs_dev folder)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI always has ../shared beside the repository", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def answers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[str, Answer]]:
    """Every question of one set with its answer, the set indexed once for the module."""
    _require_eval_dir()
    folder = EVAL_DIR / request.param
    data = tmp_path_factory.mktemp(request.param)
    # env={}: offline whatever the developer's shell exports (no model, no embeddings)
    settings = load_settings(knowledge=folder / "knowledge", data=data, env={}, cwd=data)
    questions = load_questions(folder / "questions.jsonl")
    knowledge, _ = index_set(settings)
    with eval_bot(settings, knowledge) as bot:

        async def ask_all() -> list[tuple[str, Answer]]:
            try:
                return [(run.question.id, run.answer) async for run in run_questions(bot, questions)]
            finally:
                await bot.aclose()

        return asyncio.run(ask_all())


def report(set_name: str, findings: list[Finding], questions: int, unit: str = "answers") -> str:
    by_pattern: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        by_pattern[f.pattern].add(f.question)
    counts = ", ".join(f"{name}: {len(ids)}" for name, ids in sorted(by_pattern.items()))
    lines = [
        f"{set_name}: markup in {len({f.question for f in findings})} of {questions} {unit} "
        f"({unit} per pattern: {counts})"
    ]
    lines += [f"  {f.question} [{f.where}] {f.pattern}: {f.snippet!r}" for f in findings]
    return "\n".join(lines)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("answers", SETS, indirect=True)
def test_no_markup_reaches_an_answer_or_a_citation(
    answers: list[tuple[str, Answer]], request: pytest.FixtureRequest
) -> None:
    set_name = request.node.callspec.params["answers"]
    captions = picture_captions(EVAL_DIR / set_name / "knowledge")
    findings = [f for question_id, answer in answers for f in findings_for(question_id, answer, captions)]
    assert not findings, report(set_name, findings, len(answers))


@pytest.mark.parametrize("set_name", SETS)
def test_no_markup_in_any_section_an_answer_can_quote(set_name: str) -> None:
    """The same scan over every section the readers make of the set's tree: a leftover is found
    whichever questions the set asks and however the answers pick their sentences."""
    _require_eval_dir()
    knowledge = EVAL_DIR / set_name / "knowledge"
    captions = picture_captions(knowledge)
    findings: list[Finding] = []
    sections = 0
    for file in sorted(knowledge.rglob("*")):
        relative = file.relative_to(knowledge).as_posix()
        if not file.is_file() or file.suffix not in {".md", ".mdx", ".rst"} or skip_reason(relative, False):
            continue
        for section in read_document(knowledge, file, file.read_bytes()).sections:
            sections += 1
            where = f"{relative} {' › '.join(section.headings)}"
            findings += [
                Finding(question=where, where="section", pattern=p, snippet=s)
                for p, s in scan(section.text) + stray_captions(section.text, captions)
            ]
    assert not findings, report(set_name, findings, sections, unit="sections")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("See :class:`~flask.Flask` and :py:meth:`x.y`.", ["sphinx role", "sphinx role"]),
        (".. note::\n   Be careful.", ["rst directive"]),
        ("<string>:12: (ERROR/3) Unknown directive", ["docutils system message", "docutils system message"]),
        (
            '## Models {#models}\n!!! note "Title"\n/// version-added\n',
            [
                "mkdocs heading attribute",
                "/// block marker",
                "admonition marker",
            ],
        ),
        ("::: pydantic.main.BaseModel", ["::: stub"]),
        ('<Pitfall>\nDo not.\n</Pitfall> <Diagram name="x" />', ["jsx tag", "jsx tag", "jsx tag"]),
        ("제목 {/*title*/}", ["mdx comment"]),
        ('{* ../docs_src/app.py *} and --8<-- "x.md"', ["include placeholder", "include placeholder"]),
        ("Version {{ version }}", ["macros braces"]),
        ("````\n  ```python\n  x = 1\n  ```\n````", ["fence in a fence", "code indented as a whole"]),
        ("```python\n  import sys\n\n  print(sys.path)\n```", ["code indented as a whole"]),
        ("Run:\n\nnpm install -D babel-plugin-react-compiler@beta", ["shell command as prose"]),
        ("{`npm install react`} and {'  '}at App", ["jsx string expression", "jsx string expression"]),
        ("**``netstat`` (Linux)**", ["rst inline literal"]),
        ("wrap it with the werkzeug:middleware/proxy_fix middleware", ["cross-reference target"]),
        # legitimate: code talks about components, templates and Python's `::`
        ("Wrap it in `<Suspense>` and use `{{ url_for('x') }}`.", []),
        ("```jsx\n<Sandpack>{x}</Sandpack>\n```\nDone: a[::2].", []),
        ("```\n<string>:3: (WARNING/2) oops\n```", ["docutils system message", "docutils system message"]),
        ("Plain prose, a time 10:30, a URL https://x.y/z and 3 < 4 > 2.", []),
        ("React 19.2 changes the prefix from `:r:`(19.0.0) to `_r_`.", []),
        ("Use `{`와 `}`, `` a`b ``, `pkg:mod/x`, localhost:5000/x and:\n\n```\nnpm install x\n```", []),
        ("```python\ndef f():\n    return 1\n```", []),
    ],
)
def test_the_scanner_finds_markup_and_only_markup(text: str, expected: list[str]) -> None:
    assert sorted(name for name, _ in scan(text)) == sorted(expected)


def test_a_picture_caption_is_found_only_as_a_line_of_prose(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text(
        '<DiagramGroup>\n\n<Diagram name="a" height={160} alt="A tree.">\n\nProp drilling\n\n</Diagram>\n'
        '<Illustration alt="x" src="/i.png" />\n</DiagramGroup>\n',
        encoding="utf-8",
    )
    captions = picture_captions(tmp_path)
    assert captions == {"Prop drilling"}
    assert stray_captions("Intro.\n\nProp drilling\n\nMore.", captions) == [
        ("picture caption", "Prop drilling")
    ]
    assert stray_captions('"Prop drilling" is a pattern.\n```\nProp drilling\n```', captions) == []
