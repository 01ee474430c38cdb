"""reStructuredText and Sphinx: every construct of tests/fixtures/docs/rst/guide.rst."""

from __future__ import annotations

from pathlib import Path

from bot.retrieval.documents import SectionKind, read_document

from .helpers import read_fixture, section

DOC = read_fixture("rst", "guide.rst")
ALL = "\n".join(s.text for s in DOC.sections)


def test_roles_become_their_readable_text() -> None:
    assert section(DOC, "Flask Guide") == (
        # :doc:`tutorial/index`, a page not in the tree: its folder's name, as words
        "Create a `Flask` app and call `Flask.run`. See the quickstart, url building, "
        "tutorial and `unknown_role_target`. Set `FLASK_APP`, press `Ctrl+C`, "
        "read `app.py` and undefined."
    )


def test_no_system_message_or_directive_reaches_the_text() -> None:
    for residue in (
        "(ERROR/",
        "(WARNING/",
        "<string>:",
        ".. ",
        ":class:",
        "toctree",
        "maxdepth",
        ":members:",
    ):
        assert residue not in ALL, residue


def test_code_blocks_stay_fenced_with_their_line_breaks() -> None:
    text = section(DOC, "Flask Guide", "Installation")
    assert "```python\nfrom flask import Flask\n\napp = Flask(__name__)\n```" in text
    assert "Run it like this:\n\n```\n$ flask run\n* Running\n```" in text
    assert "```pycon\n>>> 1 + 1\n2\n```" in text
    assert '```python\ndef hello():\n    return "hello"\n```' in text  # literalinclude inside the root


def test_admonitions_and_version_notes_are_prose() -> None:
    text = section(DOC, "Flask Guide", "Installation")
    assert "**Note:** Debug mode is not for production." in text
    assert "Added in version 2.0. Async views." in text
    assert "Deprecated since version 2.3. Use something else." in text
    assert "Shown only in HTML." in text and "Unknown directive body stays." in text


def test_label_before_a_section_is_its_anchor() -> None:
    assert {s.headings: s.anchor for s in DOC.sections}[("Flask Guide", "Installation")] == "installing"


def test_include_outside_the_folder_is_a_warning_not_text() -> None:
    assert DOC.warnings == (
        "includes ../CHANGES.rst, which is not inside the knowledge folder; it was left out",
    )


def test_autodoc_and_py_domain_are_reference_sections() -> None:
    references = [(s.headings, s.text) for s in DOC.sections if s.kind is SectionKind.REFERENCE]
    assert references == [
        (("Flask Guide", "API"), "API reference: `flask.Flask`"),
        (("Flask Guide", "API"), "API reference: `flask.url_for`\n\nGenerates a URL to the given endpoint."),
    ]


def test_tables_and_definition_and_field_lists_are_readable() -> None:
    text = section(DOC, "Flask Guide", "Tables and lists")
    # the header row is followed by a rule, as in GFM: the answerer quotes a row with its header
    assert "Key | Meaning\n--- | ---\nDEBUG | Debug mode\nTESTING | Test mode" in text
    assert "- **term**: The definition of the term." in text
    assert "- **param name**: the name" in text
    assert "- first item\n- second item" in text


def _read(root: Path, source: str) -> str:
    file = root / "escapes.rst"
    file.write_text(source, encoding="utf-8")
    return "\n\n".join(s.text for s in read_document(root, file, file.read_bytes()).sections)


def test_an_escaped_space_joins_markup_to_the_word_after_it(tmp_path: Path) -> None:
    # the usual way to attach a Korean particle to markup: docutils shows "활성화하세요"
    text = _read(tmp_path, "제목\n====\n\n가상 환경을 먼저 **활성화**\\ 하세요.\n")
    assert text == "가상 환경을 먼저 **활성화**하세요."


def test_escaped_characters_stay_literal_in_the_markdown(tmp_path: Path) -> None:
    text = _read(tmp_path, "Title\n=====\n\nWrite \\*literal\\*, \\`tick\\`, *a\\*b* and my_name.\n")
    # escaped in the passage's Markdown, so they show as docutils shows them; an underscore
    # inside a word makes no markup and stays bare
    assert text == r"Write \*literal\*, \`tick\`, *a\*b* and my_name."


def test_a_table_without_header_rows_gets_no_header_rule(tmp_path: Path) -> None:
    """Every table is rendered as `a | b` rows; only the rows docutils puts in the table's head
    get the rule after them, so the first row of a plain listing is not quoted as a header."""
    source = "Title\n=====\n\n============  ============\n``rule``      the URL rule\n``endpoint``  the endpoint\n============  ============\n"
    assert _read(tmp_path, source) == "`rule` | the URL rule\n`endpoint` | the endpoint"
