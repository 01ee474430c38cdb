"""Chunks: the link each carries, and where a long table, list or code block is cut.

A citation link is the published page plus the anchor the generator gives the section.

The expected ids are what the tools themselves produce for these pages: Python-Markdown's
`toc` (MkDocs), docutils as Sphinx runs it (checked with docutils 0.23 `publish_doctree`,
`auto_id_prefix="id"`), and Docusaurus' headings plugin over github-slugger. Each tool gives
an id to every heading of the page, also to one that has no text of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.app import Runtime
from bot.retrieval.chunking import Chunk, chunk_document
from bot.retrieval.documents import read_document
from bot.retrieval.site import Generator, Site
from bot.types import DocVisibility

BASE = "https://docs.test/"


def _chunks(tmp_path: Path, name: str, text: str, generator: Generator) -> list[Chunk]:
    file = tmp_path / name
    file.write_text(text, encoding="utf-8")
    document = read_document(tmp_path, file, file.read_bytes())
    return chunk_document(document, site=Site(generator=generator, base_url=BASE))


def _url(chunks: list[Chunk], needle: str) -> str | None:
    """The link of the one chunk that holds `needle`."""
    [url] = [c.url for c in chunks if needle in c.text]
    return url


def test_mkdocs_heading_without_text_still_takes_its_number(tmp_path: Path) -> None:
    # toc slugs every heading: 가이드 -> _1, 설치 (no text of its own) -> _2, 리눅스 -> _3
    text = "# 가이드\n\n소개.\n\n## 설치\n\n### 리눅스\n\napt 로 설치합니다.\n\n### 윈도우\n\nwinget 을 씁니다.\n"
    chunks = _chunks(tmp_path, "guide.md", text, Generator.MKDOCS)
    assert _url(chunks, "apt") == f"{BASE}guide/#_3"
    assert _url(chunks, "winget") == f"{BASE}guide/#_4"


def test_sphinx_section_without_text_still_takes_its_id(tmp_path: Path) -> None:
    # docutils: 가이드 -> id1, 설치 -> id2, 리눅스 -> id3
    text = "가이드\n======\n\n소개.\n\n설치\n----\n\n리눅스\n~~~~~~\n\napt 로 설치합니다.\n"
    chunks = _chunks(tmp_path, "guide.rst", text, Generator.SPHINX)
    assert _url(chunks, "apt") == f"{BASE}guide.html#id3"


def test_docusaurus_heading_without_text_counts_for_duplicates(tmp_path: Path) -> None:
    text = "# Tool\n\nIntro.\n\n## Usage\n\n### Usage\n\nRun the tool.\n"
    chunks = _chunks(tmp_path, "tool.md", text, Generator.DOCUSAURUS)
    assert _url(chunks, "Run the tool") == f"{BASE}tool#usage-1"


def test_a_repeated_heading_under_the_same_parent_gets_its_own_anchor(tmp_path: Path) -> None:
    text = "# Guide\n\nIntro.\n\n## Example\n\nFirst example.\n\n## Example\n\nSecond example.\n"
    chunks = _chunks(tmp_path, "guide.md", text, Generator.MKDOCS)
    assert _url(chunks, "First example") == f"{BASE}guide/#example"
    assert _url(chunks, "Second example") == f"{BASE}guide/#example_1"


def test_mkdocs_explicit_id_leaves_the_text_slug_free(tmp_path: Path) -> None:
    # toc reserves the page's explicit ids first and never slugs a heading that has one
    text = (
        "# Guide\n\nIntro.\n\n## Server\n\n### Options {#server-options}\n\nServer flags.\n\n"
        "## Client\n\n### Options\n\nClient flags.\n"
    )
    chunks = _chunks(tmp_path, "guide.md", text, Generator.MKDOCS)
    assert _url(chunks, "Server flags") == f"{BASE}guide/#server-options"
    assert _url(chunks, "Client flags") == f"{BASE}guide/#options"


def test_sphinx_label_links_to_its_own_id_and_takes_it_before_its_section(tmp_path: Path) -> None:
    # docutils: a label's target takes its id where it stands, before its section's own:
    # my_label -> my-label (what :ref: links to); Hangul-only ids come from the counter in
    # document order: label 설치하기 -> id2, its title 설치 -> id3, 리눅스 -> id4
    text = (
        "가이드\n======\n\n소개.\n\n.. _my_label:\n\nSetup\n-----\n\nSet it up.\n\n"
        ".. _설치하기:\n\n설치\n----\n\napt 로 설치합니다.\n\n리눅스\n~~~~~~\n\n리눅스 설명.\n"
    )
    chunks = _chunks(tmp_path, "guide.rst", text, Generator.SPHINX)
    assert _url(chunks, "Set it up") == f"{BASE}guide.html#my-label"
    assert _url(chunks, "apt") == f"{BASE}guide.html#id2"
    assert _url(chunks, "리눅스 설명") == f"{BASE}guide.html#id4"


def test_a_page_titled_in_front_matter_links_its_top_level_sections(tmp_path: Path) -> None:
    # the usual Docusaurus page: the title in front matter, the sections start at "##"
    text = "---\ntitle: 설치\n---\n\n## 요구 사항\n\nNode 18 이상.\n\n## 설치하기\n\nnpm install acme.\n"
    chunks = _chunks(tmp_path, "install.md", text, Generator.DOCUSAURUS)
    assert _url(chunks, "Node 18") == f"{BASE}install#%EC%9A%94%EA%B5%AC-%EC%82%AC%ED%95%AD"
    assert _url(chunks, "npm install") == f"{BASE}install#%EC%84%A4%EC%B9%98%ED%95%98%EA%B8%B0"


def test_the_page_title_links_to_the_top_of_the_page(tmp_path: Path) -> None:
    chunks = _chunks(tmp_path, "guide.md", "# Guide\n\nIntro.\n\n## Part\n\nBody.\n", Generator.MKDOCS)
    assert _url(chunks, "Intro") == f"{BASE}guide/"
    assert _url(chunks, "Body") == f"{BASE}guide/#part"


def test_a_first_level_heading_below_text_is_a_section_not_the_title(tmp_path: Path) -> None:
    # a react.dev blog post: the title in front matter, a byline, then "# " sections
    text = "---\ntitle: Labs\n---\n\nApril 23.\n\n# New features {#new-features}\n\nView transitions.\n"
    chunks = _chunks(tmp_path, "labs.md", text, Generator.DOCUSAURUS)
    assert _url(chunks, "April 23") == f"{BASE}labs"
    assert _url(chunks, "View transitions") == f"{BASE}labs#new-features"


def test_text_after_a_reference_stub_keeps_its_heading_anchor(tmp_path: Path) -> None:
    # a mkdocstrings block cuts the section in two; both halves are under "## API"
    text = "# Guide\n\nIntro.\n\n## API\n\nBefore the stub.\n\n::: acme.run\n\nAfter the stub.\n"
    chunks = _chunks(tmp_path, "guide.md", text, Generator.MKDOCS)
    assert _url(chunks, "Before the stub") == f"{BASE}guide/#api"
    assert _url(chunks, "After the stub") == f"{BASE}guide/#api"


def _exporter(answer_row: int) -> str:
    """A table of 25 options, over one chunk's 220 words, with the answer in row `answer_row`."""
    rows = [
        f"| `option_{i}` | string | Sets the behaviour number {i} of the exporter when it runs nightly. |"
        for i in range(25)
    ]
    rows[answer_row] = "| `retention_days` | integer | How many days archived reports are kept. |"
    return (
        "# Exporter\n\n## Options\n\n| Option | Type | Description |\n| --- | --- | --- |\n"
        + "\n".join(rows)
        + "\n"
    )


async def test_a_long_tables_first_row_is_quoted_under_its_header_without_the_rule(
    make_runtime: Callable[..., Runtime], knowledge_dir: Path
) -> None:
    """A table over a chunk was cut as prose, its lines joined with spaces: the answer quoted
    "Option | Type | Description --- | --- | --- `retention_days` | integer | ..." on one line."""
    (knowledge_dir / "exporter.md").write_text(_exporter(0), encoding="utf-8")
    rt = make_runtime()
    answer, _ = await rt.bot.answers.ask("How many days are archived reports kept?", DocVisibility.INTERNAL)
    assert not answer.abstained
    assert "Option | Type | Description\n`retention_days` | integer" in answer.text
    assert "---" not in answer.text


async def test_a_long_tables_later_row_is_quoted_under_its_header(
    make_runtime: Callable[..., Runtime], knowledge_dir: Path
) -> None:
    """The rows of a long table's later pieces had no header above them and were quoted bare."""
    (knowledge_dir / "exporter.md").write_text(_exporter(17), encoding="utf-8")
    rt = make_runtime()
    answer, _ = await rt.bot.answers.ask("How many days are archived reports kept?", DocVisibility.INTERNAL)
    assert not answer.abstained
    assert "Option | Type | Description\n`retention_days` | integer" in answer.text


def test_a_long_list_and_a_code_block_keep_their_lines(tmp_path: Path) -> None:
    """A list or a code block in a paragraph over a chunk was cut as prose, at sentence ends,
    its lines joined with spaces: items ran together on one line, and so did the fence and the
    code under it. Now a list is cut between its items and a code block not at all."""
    items = "\n".join(
        f"- Step {i}: open the panel, pick the workspace and press the button." for i in range(30)
    )
    code = "\n".join(f"client.export(report_{i}, format='csv', nightly=True)" for i in range(120))
    text = f"Do this:\n{items}\n\nRun it:\n```python\n{code}\n```\nThat is all.\n"
    chunks = _chunks(tmp_path, "guide.txt", text, Generator.MKDOCS)
    assert len(chunks) > 2
    assert [line for c in chunks for line in c.text.splitlines() if line] == [
        line for line in text.splitlines() if line
    ]
    [script] = [c.text for c in chunks if "```python" in c.text]
    assert f"Run it:\n```python\n{code}\n```" in script
