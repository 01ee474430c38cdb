"""HTML: chrome is dropped, <pre> is fenced, heading ids are anchors."""

from __future__ import annotations

from pathlib import Path

from bot.retrieval.documents import read_document

from .helpers import read_fixture

DOC = read_fixture("html", "page.html")


def test_chrome_is_dropped_and_content_kept() -> None:
    assert DOC.title == "Config"
    assert [(s.headings, s.anchor, s.text) for s in DOC.sections] == [
        (
            ("Configuration",),
            "configuration",
            'Set `DEBUG` to true.\n\n```python\napp = Flask(__name__)\napp.config["DEBUG"] = True\n```',
        ),
        (("Configuration", "Environment"), "env-vars", "- First\n- Second"),
    ]


def test_a_pages_text_keeps_its_markdown_characters_literal(tmp_path: Path) -> None:
    """A page's text went into the passage's Markdown as it was, so `2 * 3 * 4` showed " 3 " in
    italics, `[draft]` and `~~old~~` were markup, and the quoted table and list did the same."""
    page = tmp_path / "calc.html"
    page.write_text(
        "<h1>Calc</h1><p>Type 2 * 3 * 4 or [draft] <em>a*b</em>, keep my_name and <code>a*b</code>.</p>"
        "<ul><li>*all* files</li></ul><table><tr><td>`x`</td><td>[y]</td></tr></table>",
        encoding="utf-8",
    )
    doc = read_document(tmp_path, page, page.read_bytes())
    [calc] = doc.sections
    assert calc.text == (
        r"Type 2 \* 3 \* 4 or \[draft\] a\*b, keep my_name and `a*b`." + "\n\n"
        r"- \*all\* files" + "\n\n"
        r"\`x\` | \[y\]"
    )


def test_a_first_row_of_header_cells_is_followed_by_a_rule(tmp_path: Path) -> None:
    """Rows of `<th>` cells say what the other rows' cells are: a GFM rule marks the header, so
    the answerer can quote a row with it; a table of `<td>` rows only has none."""
    page = tmp_path / "plans.html"
    page.write_text(
        "<h1>Plans</h1><table><tr><th>Plan</th><th>Seats</th></tr><tr><td>Pro</td><td>10</td></tr></table>"
        "<table><tr><td>Free</td><td>1</td></tr><tr><td>Team</td><td>5</td></tr></table>",
        encoding="utf-8",
    )
    [plans] = read_document(tmp_path, page, page.read_bytes()).sections
    assert plans.text == "Plan | Seats\n--- | ---\nPro | 10\n\nFree | 1\nTeam | 5"
