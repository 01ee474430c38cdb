"""MyST Markdown (Sphinx's Markdown): every construct of tests/fixtures/docs/myst/guide.md."""

from __future__ import annotations

import re
from pathlib import Path

from bot.answering.units import split_units
from bot.retrieval.documents import SectionKind, read_document
from bot.retrieval.formats.common import is_python

from .helpers import read_fixture, section

DOC = read_fixture("myst", "guide.md")


def _page_text(folder: Path, name: str, source: str) -> str:
    """The text of the one section `source` makes, read as the file `name` in `folder`."""
    page = folder / name
    page.write_text(source, encoding="utf-8")
    return read_document(folder, page, page.read_bytes()).sections[0].text


ALL = "\n".join(s.text for s in DOC.sections)


def test_roles_become_their_readable_text() -> None:
    assert section(DOC, "Widget Guide") == (
        "Create a widget with `make` and catch `widget.WidgetError`. See\n"
        "the options page, install and PEP 8."
    )


def test_no_myst_markup_reaches_the_text() -> None:
    for residue in (
        "{func}",
        "{exc}",
        "{ref}",
        "{note}",
        ":::",
        "```{",
        ":caption:",
        "(making-widgets)=",
        "%",
        "+++",
    ):
        assert residue not in ALL, residue
    assert not re.search(r"\{[\w:.-]+\}`", ALL)
    assert "toctree" not in ALL and "maxdepth" not in ALL and "install/index" not in ALL


def test_directives_become_code_and_prose() -> None:
    text = section(DOC, "Widget Guide", "Making Widgets")
    assert "```python\nimport widget\nw = widget.make(size=3)\n```" in text  # options dropped
    assert "**Note:**\n\nWidgets are `widget.Widget` objects." in text
    assert "**Warning:**\n\nNever make more than **ten** widgets." in text
    assert "Added in version 2.0.\n\nThe `size` argument." in text
    assert "**Tip for large widgets**\n\nUse `Widget.shrink` first." in text


def test_a_label_is_the_anchor_of_the_heading_after_it() -> None:
    making = next(s for s in DOC.sections if s.headings[-1:] == ("Making Widgets",))
    assert making.anchor == "making-widgets"


def test_eval_rst_goes_through_the_rst_reader() -> None:
    stubs = [s.text for s in DOC.sections if s.kind == SectionKind.REFERENCE]
    assert stubs == ["API reference: `widget.Widget`"]  # currentmodule qualifies it
    assert "Widgets are made with `make`." in section(DOC, "Widget Guide", "Reference")


def test_an_unknown_directive_holding_python_stays_code() -> None:
    text = section(DOC, "Widget Guide", "Running")
    assert "```python\nimport widget\n\n@widget.command()\ndef run(name):\n    widget.echo(name)\n```" in text
    assert is_python("x = 1\nprint(x)") and is_python("invoke(cli, args=['--x'])")
    assert not is_python("Run it now.") and not is_python("Widgets") and not is_python("")


def test_a_quote_wrapped_over_lines_is_quoted_without_its_marks() -> None:
    quote = section(DOC, "Widget Guide", "Running").split("```\n\n", 1)[1]
    assert [u.text for u in split_units(quote)] == [
        "If a widget is split across two lines, the quote stays one sentence."
    ]


def test_markdown_that_is_not_myst_keeps_its_braces(tmp_path: Path) -> None:
    text = _page_text(
        tmp_path,
        "props.md",
        "# Props\n\nWith fallback={undefined}`null` and size={0}`y` after text.\n\n% of users\n",
    )
    assert text == "With fallback={undefined}`null` and size={0}`y` after text.\n\n% of users"


def test_a_page_whose_code_prints_angle_brackets_is_not_read_as_mdx(tmp_path: Path) -> None:
    """`<Signature ...>` at the start of a line of doctest output looks like a JSX component;
    inside a fence it is code (the fence finder once took the blank line before a fence for
    its indentation and paired the wrong fences), and a MyST page is never MDX."""
    code = "```python\n>>> inspect.signature(C)\n<Signature (self, fd: int) -> None>\n```"
    for name, role in (("plain.md", "`attrs.Converter`"), ("myst.md", "{class}`attrs.Converter`")):
        first = "```python\nimport inspect\n```"
        text = _page_text(tmp_path, name, f"# Init\n\nIntro.\n\n{first}\n\n{code}\n\nWrap it in a {role}.\n")
        assert text == f"Intro.\n\n{first}\n\n{code}\n\nWrap it in a `attrs.Converter`.", name


def test_includes_that_loop_stop_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\n```{include} b.md\n```\n\nFrom a.\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("From b {ref}`x`.\n\n```{include} a.md\n```\n", encoding="utf-8")
    page = tmp_path / "a.md"
    doc = read_document(tmp_path, page, page.read_bytes())
    assert [s.text for s in doc.sections] == ["From b x.\n\nFrom a."]
    assert doc.warnings == ("includes a.md within itself; the repeat was left out",)


def test_rst_text_in_eval_rst_keeps_its_angle_brackets_and_prose_stays_prose(tmp_path: Path) -> None:
    text = _page_text(
        tmp_path,
        "b.md",
        "# B\n\n```{eval-rst}\nSet <your-token> & use <b> tags.\n\n.. only:: html\n\n   - Linux\n   - macOS\n```\n\n"
        "```{jupyter-execute}\nimport x\nx.run()\n```\n\n```{note}\nFlask or Django\n```\n",
    )
    assert text == (
        "Set <your-token> & use <b> tags.\n\n- Linux\n- macOS\n\n"
        "```python\nimport x\nx.run()\n```\n\n**Note:**\n\nFlask or Django"
    )
    assert not is_python("Flask or Django") and not is_python("- Linux\n- macOS") and not is_python("A in B")


def test_lines_of_indented_code_are_code_not_comments_or_labels(tmp_path: Path) -> None:
    text = _page_text(
        tmp_path,
        "magic.md",
        "# Magic\n\nRun {func}`timeit`:\n\n    %timeit run()\n    (x)=\n\n% a comment\n(label)=\n",
    )
    assert text == "Run `timeit`:\n\n```\n%timeit run()\n(x)=\n```"
