"""MDX (react.dev style): every construct of tests/fixtures/docs/mdx/useThing.mdx."""

from __future__ import annotations

from pathlib import Path

from bot.retrieval.documents import read_document

from .helpers import read_fixture, section

DOC = read_fixture("mdx", "useThing.mdx")
ALL = "\n".join(s.text for s in DOC.sections)


def test_comment_anchors_become_anchors_and_other_comments_go() -> None:
    assert [(s.headings, s.anchor) for s in DOC.sections] == [
        ((), None),
        (("레퍼런스",), "reference"),
        (("레퍼런스", "왜 그런가요?"), "why"),
        (("레퍼런스", "Counter"), "counter"),
    ]
    assert "{/*" not in ALL and "translator" not in ALL


def test_components_are_unwrapped_with_their_text() -> None:
    assert DOC.sections[0].text == "`useThing`는 컴포넌트에 state를 추가합니다."
    assert section(DOC, "레퍼런스").startswith("**Pitfall:**\n\nStrict Mode에서 두 번 호출됩니다.")
    assert "Because purity matters." in ALL
    assert section(DOC, "레퍼런스", "Counter") == "A counter.\n\n**Solution:**\n\nThe solution."
    for residue in ("<Intro", "<Pitfall", "<Diagram", "<InlineToc", "<CodeStep", "import ", "export const"):
        assert residue not in ALL, residue


def test_sandpack_code_stays_fenced() -> None:
    assert "```js\nexport default function App() {\n  return <h1>Hello</h1>;\n}\n```" in ALL


def test_a_md_file_with_components_is_read_as_mdx(tmp_path: Path) -> None:
    file = tmp_path / "page.md"
    file.write_text("## 제목 {/*title*/}\n\n<Note>\n\n본문.\n\n</Note>\n", encoding="utf-8")
    doc = read_document(tmp_path, file, file.read_bytes())
    assert [(s.headings, s.anchor, s.text) for s in doc.sections] == [
        (("제목",), "title", "**Note:**\n\n본문.")
    ]


def test_docusaurus_admonitions_keep_their_text_without_the_colon_fences(tmp_path: Path) -> None:
    """`:::tip` ... `:::` in an MDX page used to be quoted with its fence lines as text."""
    file = tmp_path / "tips.mdx"
    file.write_text(
        "# Tips\n\n:::tip\n\nRun the cache warmup job after every deploy.\n\n:::\n\n"
        ":::note Mind the gap\n<Note>\nInside a component.\n</Note>\n:::\n",
        encoding="utf-8",
    )
    doc = read_document(tmp_path, file, file.read_bytes())
    assert [s.text for s in doc.sections] == [
        "**Tip:**\n\nRun the cache warmup job after every deploy.\n\n**Mind the gap**\n\n**Note:**\n\nInside a component."
    ]
