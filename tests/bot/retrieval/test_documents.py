"""Reading knowledge files: formats, front matter, headings, and clear errors for bad files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.retrieval.chunking import chunk_document
from bot.retrieval.documents import DocumentError, read_document
from bot.types import DocVisibility


def _read(tmp_path: Path, name: str, content: str | bytes):  # type: ignore[no-untyped-def]
    file = tmp_path / name
    data = content.encode("utf-8") if isinstance(content, str) else content
    file.write_bytes(data)
    return read_document(tmp_path, file, data)


def test_markdown_front_matter_and_heading_paths(tmp_path: Path) -> None:
    doc = _read(
        tmp_path,
        "guide.md",
        "---\ntitle: The Guide\nurl: https://x.test/guide\nvisibility: internal\ntags: [a, b]\n---\n"
        "Intro text.\n\n# Setup\n\nStep one.\n\n## Tokens\n\nPut **tokens** in [env](https://e.test).\n\n"
        "```bash\n# not a heading\nexport A=1\n```\n\n# Other\n\nMore.\n",
    )
    assert (doc.title, doc.url, doc.visibility, doc.tags) == (
        "The Guide",
        "https://x.test/guide",
        DocVisibility.INTERNAL,
        ("a", "b"),
    )
    assert [s.headings for s in doc.sections] == [(), ("Setup",), ("Setup", "Tokens"), ("Other",)]
    assert "# not a heading" in doc.sections[2].text  # fenced code is not split as a heading


def test_title_falls_back_to_first_heading_then_file_name(tmp_path: Path) -> None:
    assert _read(tmp_path, "a.md", "# Real Title\n\ntext").title == "Real Title"
    assert _read(tmp_path, "release-notes.md", "just text").title == "Release notes"


def test_bad_front_matter_says_where(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="invalid YAML front matter at line"):
        _read(tmp_path, "bad.md", "---\ntitle: [oops\n---\ntext")


def test_unknown_visibility_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="use public or internal"):
        _read(tmp_path, "v.md", "---\nvisibility: secret\n---\ntext")


def test_binary_and_invalid_utf8_are_refused_with_advice(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="binary"):
        _read(tmp_path, "x.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(DocumentError, match=r"not valid UTF-8 .*offset 6"):
        _read(tmp_path, "y.txt", b"hello \xff\xfe world")


def test_restructuredtext_sections(tmp_path: Path) -> None:
    doc = _read(tmp_path, "r.rst", "Install\n=======\n\nRun pip.\n\nUpgrade\n-------\n\nRun pip again.\n")
    assert doc.title == "Install"
    texts = {s.headings: s.text for s in doc.sections}
    assert texts[("Install",)] == "Run pip."
    assert texts[("Install", "Upgrade")] == "Run pip again."


def test_html_sections_skip_scripts_and_navigation(tmp_path: Path) -> None:
    doc = _read(
        tmp_path,
        "p.html",
        "<html><head><title>Help</title><script>var secret=1</script></head><body><nav>Home | About</nav>"
        "<h1>Billing</h1><p>Invoices are <b>monthly</b>.</p><h2>Refunds</h2><ul><li>Within 30 days</li></ul></body></html>",
    )
    assert doc.title == "Help"
    assert [(s.headings, s.text) for s in doc.sections] == [
        (("Billing",), "Invoices are monthly."),
        (("Billing", "Refunds"), "- Within 30 days"),
    ]


def test_pdf_through_the_optional_extra(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": "Blank"})
    buffer = io.BytesIO()
    writer.write(buffer)
    doc = _read(tmp_path, "b.pdf", buffer.getvalue())
    assert doc.title == "Blank"
    assert doc.sections == ()  # a page with no text yields no section, not an empty one
    with pytest.raises(DocumentError, match="not a readable PDF"):
        _read(tmp_path, "broken.pdf", b"%PDF-1.4 nonsense")


def test_long_sections_are_chunked_with_their_heading(tmp_path: Path) -> None:
    paragraph = " ".join(f"word{i}" for i in range(100)) + "."
    doc = _read(tmp_path, "long.md", "# Title\n\n## Part\n\n" + "\n\n".join([paragraph] * 5))
    chunks = chunk_document(doc, max_words=220)
    assert len(chunks) == 3
    assert all(c.heading == "Part" and c.title == "Title" for c in chunks)
    assert all(len(c.text.split()) <= 220 for c in chunks)
    assert [c.id for c in chunks] == ["long.md#0", "long.md#1", "long.md#2"]


def test_a_giant_paragraph_is_cut_at_sentences(tmp_path: Path) -> None:
    sentence = " ".join(["alpha"] * 30) + "."
    doc = _read(tmp_path, "giant.txt", " ".join([sentence] * 20))
    chunks = chunk_document(doc, max_words=100)
    assert sum(len(c.text.split()) for c in chunks) == 600
    assert all(len(c.text.split()) <= 100 for c in chunks)
