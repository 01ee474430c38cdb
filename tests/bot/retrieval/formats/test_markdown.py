"""MkDocs Material Markdown: every construct of tests/fixtures/docs/markdown/guide.md."""

from __future__ import annotations

from pathlib import Path

from bot.retrieval.documents import SectionKind, read_document

from .helpers import FIXTURES, read_fixture, section

DOC = read_fixture("markdown", "guide.md")
TOP = section(DOC, "Models")


def test_heading_attributes_become_anchors_and_leave_the_title() -> None:
    assert DOC.title == "Models guide" and DOC.tags == ("models",)
    assert [(s.headings, s.anchor) for s in DOC.sections][:2] == [
        (("Models",), "models-page"),
        (("Models", "Includes"), "includes"),
    ]


def test_links_macros_comments_and_images_keep_only_readable_text() -> None:
    assert TOP.startswith("Use `model_dump` or the docs with .\nSee validators too.")
    for residue in ("{{", "][", "](", "<!--", "TODO", "diagram.png", "{ #"):
        assert residue not in TOP, residue


def test_admonitions_tabs_and_blocks_keep_body_and_title_as_prose() -> None:
    assert "**Be careful**\n\nFields are validated in order." in TOP
    assert "**API Documentation**\n\n`pydantic.main.BaseModel`" in TOP
    assert "**Tip:**\n\nUse strict mode." in TOP
    assert "Added in v2.7.\n\nNamed type aliases are supported." in TOP
    assert "**Pymdown note**\n\nBlocks keep their text." in TOP
    assert "**Python 3.9+**" in TOP
    for marker in ("!!!", "???", "///", "==="):
        assert marker not in TOP, marker


def test_code_is_fenced_with_its_language_and_annotations_move_out() -> None:
    assert "```python\nfrom typing import List\nx: List[int] = []\n```\n\n1. The annotation text." in TOP


def test_includes_inside_the_folder_are_fenced_and_the_rest_warned_about() -> None:
    text = section(DOC, "Models", "Includes")
    assert text == (
        "```python\ndef first():\n    return 1\ndef second():\n    return 2\n```\n\n"
        "```python\n    return 1\ndef second():\n```"
    )
    assert DOC.warnings == (
        "includes ../../../../../etc/hostname, which is not inside the knowledge folder; it was left out",
        "includes ../outside.py, which is not inside the knowledge folder; it was left out",
        "includes snippets/missing.py, which does not exist; it was left out",
    )


def test_an_include_root_widens_where_includes_may_read() -> None:
    wider = read_fixture("markdown", "guide.md", include_root=FIXTURES)
    assert not any("../outside.py, which is not inside" in w for w in wider.warnings)


def test_mkdocstrings_stub_is_a_reference_section_without_its_options() -> None:
    references = [s for s in DOC.sections if s.kind is SectionKind.REFERENCE]
    assert [(s.headings, s.text) for s in references] == [
        (("Models", "Reference"), "API reference: `pydantic.main.BaseModel`")
    ]
    assert "show_root_heading" not in "".join(s.text for s in DOC.sections)
    assert section(DOC, "Models", "Reference") == "- one\n- two"


def test_a_fence_nested_under_a_list_item_by_indentation_is_code_not_a_fence_in_a_fence(
    tmp_path: Path,
) -> None:
    # Python-Markdown lists indent by four; CommonMark reads the fence below as indented code
    source = (
        "# Serializers\n\n* **Wrap** serializers:\n\n    Such serializers take a handler.\n\n"
        "      ```python\n      def f(handler):\n          return handler(1)\n      ```\n"
    )
    file = tmp_path / "serializers.md"
    file.write_text(source, encoding="utf-8")
    text = "\n".join(s.text for s in read_document(tmp_path, file, file.read_bytes()).sections)
    # the list item's code at the margin, as it runs: chat Markdown nests no code in a list
    assert (
        "  Such serializers take a handler.\n\n```python\ndef f(handler):\n    return handler(1)\n```" in text
    )
    assert "````" not in text and text.count("```") == 2


def test_backslash_escapes_stay_escaped_and_a_title_reads_plain(tmp_path: Path) -> None:
    source = "# The \\_\\_init\\_\\_ file\n\nCreate \\_\\_init\\_\\_.py, `a\\_b`, \\<b\\> &amp; 1\\. \\x.\n"
    file = tmp_path / "packages.md"
    file.write_text(source, encoding="utf-8")
    doc = read_document(tmp_path, file, file.read_bytes())
    # what MkDocs shows as characters stays characters where the passage is quoted; code is as
    # written; `<` and `&` mean no markup to a chat renderer, so need no backslash
    assert [s.text for s in doc.sections] == [r"Create \_\_init\_\_.py, `a\_b`, <b> & 1\. \x."]
    assert doc.title == "The __init__ file"


def test_template_expressions_inside_inline_code_are_kept(tmp_path: Path) -> None:
    """`{{ ... }}` in a code span (GitHub Actions, Helm, Ansible, Jinja docs) is the literal text
    to type; it used to be stripped as an mkdocs-macros placeholder, leaving `$` or an empty
    span in the quoted answer (and an MDX page's `<Suspense>` as a JSX tag). A placeholder or
    a JSX tag in prose still goes."""
    texts = {}
    for name, source in {
        "ci.md": "Pass the token as `${{ secrets.ACME_DEPLOY_TOKEN }}` in the env block of {{ version }}.\n",
        "chart.mdx": "Reference `{{ .Values.image.repository }}` or `{.Values}`{: .code } in `<Suspense>`<Tag x={1}>.\n",
    }.items():
        file = tmp_path / name
        file.write_text(f"# Page\n\n{source}", encoding="utf-8")
        texts[name] = read_document(tmp_path, file, file.read_bytes()).sections[0].text
    assert texts == {
        "ci.md": "Pass the token as `${{ secrets.ACME_DEPLOY_TOKEN }}` in the env block of .",
        "chart.mdx": "Reference `{{ .Values.image.repository }}` or `{.Values}` in `<Suspense>`.",
    }


def test_docusaurus_admonitions_keep_their_title_and_text_without_the_colon_fences(tmp_path: Path) -> None:
    """A Docusaurus `.md` page's `:::warning Downtime` ... `:::` used to be quoted with its fence
    lines as text; now it reads as the MkDocs admonitions do, nested ones included, and the
    mkdocstrings stub `::: dotted.path` is still a reference entry."""
    file = tmp_path / "deploy.md"
    file.write_text(
        "# Deploying\n\n:::warning Downtime\n\nRotating the key logs every user out.\n\n:::\n\n"
        "::::tip[Before you start]\n\nBack up the database.\n\n:::danger\nNo undo.\n:::\n\n::::\n\n"
        "- Step one.\n\n  :::info\n\n  Takes a minute.\n\n  :::\n\n::: acme.deploy\n",
        encoding="utf-8",
    )
    doc = read_document(tmp_path, file, file.read_bytes())
    assert [(s.kind, s.text) for s in doc.sections] == [
        (
            SectionKind.PROSE,
            "**Downtime**\n\nRotating the key logs every user out.\n\n**Before you start**\n\n"
            "Back up the database.\n\n**Danger:**\n\nNo undo.\n\n- Step one.\n\n  **Info:**\n\n  Takes a minute.",
        ),
        (SectionKind.REFERENCE, "API reference: `acme.deploy`"),
    ]


def test_inline_code_with_two_subscripts_is_quoted_as_written(tmp_path: Path) -> None:
    """The reference-link rule used to run over code spans too: `settings["db"]["host"]` was
    quoted as `settings"db"`, `matrix[0][1]` as `matrix0`, and runs of spaces in code were
    squeezed. Code is as written; a reference link in prose, its text code or not, is its text."""
    file = tmp_path / "db.md"
    file.write_text(
        '# Database\n\nRead the host from `settings["db"]["host"]`; the port is in `matrix[0][1]`.\n'
        "Align with `a  =  1` as [`Settings`][api.Settings] and [the guide][guide] say.\n",
        encoding="utf-8",
    )
    doc = read_document(tmp_path, file, file.read_bytes())
    assert [s.text for s in doc.sections] == [
        'Read the host from `settings["db"]["host"]`; the port is in `matrix[0][1]`.\n'
        "Align with `a  =  1` as `Settings` and the guide say."
    ]
