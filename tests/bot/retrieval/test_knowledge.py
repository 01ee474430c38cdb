"""Keeping the index in step with the folder, and searching it with visibility respected."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.errors import KnowledgeError
from bot.retrieval.confidence import name_parts
from bot.retrieval.documents import FORMATS_VERSION
from bot.retrieval.knowledge import KnowledgeBase
from bot.types import DocVisibility
from tests.conftest import write_docs


@pytest.fixture
def kb(tmp_path: Path, knowledge_dir: Path) -> KnowledgeBase:
    base = KnowledgeBase(knowledge_dir, tmp_path / "index")
    yield base  # type: ignore[misc]
    base.close()


def _paths(kb: KnowledgeBase, query: str, scope: DocVisibility = DocVisibility.INTERNAL) -> list[str]:
    return [p.path for p in kb.search(query, scope, 10).passages]


def test_first_sync_indexes_every_file(kb: KnowledgeBase) -> None:
    report = kb.sync()
    assert sorted(report.added) == sorted(
        ["slack-setup.md", "refunds.md", "password-reset.md", "faq-ko.md", "internal/oncall.md"]
    )
    assert not report.failed
    assert kb.summary().files == 5


def test_unchanged_files_are_not_read_again(
    kb: KnowledgeBase, knowledge_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb.sync()
    from bot.retrieval import reading

    reads: list[Path] = []
    original = reading.read_confined

    def counting(file: Path, roots: Sequence[Path], limit: int) -> bytes:
        reads.append(file)
        return original(file, roots, limit)

    monkeypatch.setattr(reading, "read_confined", counting)
    (knowledge_dir / "refunds.md").write_text("# Refunds\n\nChanged.\n", encoding="utf-8")
    report = kb.sync()
    assert reads == [knowledge_dir / "refunds.md"]
    assert report.unchanged == 4 and report.updated == ["refunds.md"]


def test_touched_but_identical_file_is_not_reindexed(kb: KnowledgeBase, knowledge_dir: Path) -> None:
    kb.sync()
    target = knowledge_dir / "refunds.md"
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10_000_000))
    report = kb.sync()
    assert not report.changed and report.unchanged == 5


def test_a_changed_file_is_reindexed_and_old_text_disappears(kb: KnowledgeBase, knowledge_dir: Path) -> None:
    kb.sync()
    assert "refunds.md" in _paths(kb, "refund within 30 days")
    (knowledge_dir / "refunds.md").write_text(
        "# Refunds\n\nWe offer store credit instead of cash.\n", encoding="utf-8"
    )
    report = kb.sync()
    assert report.updated == ["refunds.md"] and report.unchanged == 4
    assert "refunds.md" not in _paths(kb, "original payment method")
    assert _paths(kb, "store credit")[0] == "refunds.md"


def test_a_deleted_file_disappears_from_answers(kb: KnowledgeBase, knowledge_dir: Path) -> None:
    kb.sync()
    (knowledge_dir / "password-reset.md").unlink()
    report = kb.sync()
    assert report.removed == ["password-reset.md"]
    assert "password-reset.md" not in _paths(kb, "forgot password reset link")
    assert kb.summary().files == 4


def test_public_scope_never_sees_internal_documents(kb: KnowledgeBase) -> None:
    kb.sync()
    query = "failover password rotation on-call"
    assert _paths(kb, query, DocVisibility.INTERNAL)[0] == "internal/oncall.md"
    assert "internal/oncall.md" not in _paths(kb, query, DocVisibility.PUBLIC)
    for passage in kb.search(query, DocVisibility.PUBLIC, 50).passages:
        assert passage.visibility == DocVisibility.PUBLIC


def test_bad_files_are_reported_and_skipped_without_stopping_the_rest(
    kb: KnowledgeBase, knowledge_dir: Path
) -> None:
    (knowledge_dir / "binary.md").write_bytes(b"\x00\x01\x02garbage")
    (knowledge_dir / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (knowledge_dir / "image.png").write_bytes(b"\x89PNG")  # unsupported type: not even looked at
    report = kb.sync()
    failed = dict(report.failed)
    assert set(failed) == {"binary.md", "latin1.txt"}
    assert "binary" in failed["binary.md"] and "UTF-8" in failed["latin1.txt"]
    assert len(report.added) == 7
    assert kb.summary().errors == 2
    again = kb.sync()  # still reported on the next sync, without re-reading
    assert dict(again.failed) == failed


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    kb = KnowledgeBase(tmp_path / "nowhere", tmp_path / "index")
    with pytest.raises(KnowledgeError, match=r"does not exist\. Create it"):
        kb.sync()
    kb.close()


def test_hidden_files_and_folders_are_ignored(kb: KnowledgeBase, knowledge_dir: Path) -> None:
    write_docs(knowledge_dir, {".git/notes.md": "# secret\n\nx", ".draft.md": "# draft\n\ny"})
    report = kb.sync()
    assert not any(p.startswith(".") or "/." in p for p in report.added)


def test_index_survives_reopening(tmp_path: Path, knowledge_dir: Path) -> None:
    first = KnowledgeBase(knowledge_dir, tmp_path / "index")
    first.sync()
    first.close()
    second = KnowledgeBase(knowledge_dir, tmp_path / "index")
    report = second.sync()
    assert report.unchanged == 5 and not report.changed
    assert _paths(second, "refund")[0] == "refunds.md"
    second.close()


def test_exclusions_leave_files_out(tmp_path: Path, knowledge_dir: Path) -> None:
    kb = KnowledgeBase(knowledge_dir, tmp_path / "index", exclude=frozenset({"refunds.md"}))
    kb.sync()
    assert "refunds.md" not in _paths(kb, "refund")
    kb.close()


def test_korean_questions_find_korean_documents(kb: KnowledgeBase) -> None:
    kb.sync()
    assert _paths(kb, "환불을 받으려면 어떻게 해야 하나요?")[0] == "faq-ko.md"
    assert _paths(kb, "비밀번호를 잊어버렸는데 어떻게 하죠")[0] == "faq-ko.md"


def test_confidence_separates_known_from_unknown(kb: KnowledgeBase) -> None:
    kb.sync()
    known = kb.search("How do I get a refund for my purchase?", DocVisibility.INTERNAL, 10).confidence
    unknown = kb.search("What is the capital of Mongolia?", DocVisibility.INTERNAL, 10).confidence
    assert 0.0 <= unknown < known <= 1.0
    assert kb.search("", DocVisibility.INTERNAL, 10).confidence == 0.0


def test_compound_names_split_at_case_digits_and_underscores() -> None:
    assert name_parts("PydanticImportError") == ["Pydantic", "Import", "Error"]
    assert name_parts("HTTP2Server") == ["HTTP", "Server"]
    assert name_parts("read_json") == ["read", "json"]
    assert name_parts("POSTs") == ["POSTs"]  # an upper-case plural is one word
    assert name_parts("Kafka") == ["Kafka"]


def test_citations_link_to_the_published_page_and_section(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    docs = repo / "docs"
    (docs / "guide").mkdir(parents=True)
    (repo / "mkdocs.yml").write_text(
        "site_name: Demo\nsite_url: https://docs.example.org/demo/\n"
        "markdown_extensions:\n  - pymdownx.emoji:\n      emoji_index: !!python/name:material.extensions.emoji.twemoji\n",
        encoding="utf-8",
    )
    (docs / "guide" / "setup.md").write_text(
        "# Setup\n\nIntro.\n\n## Create the app\n\nOpen the dashboard and create the app.\n\n"
        "## Tokens { #bot-tokens }\n\nExport both tokens before starting.\n",
        encoding="utf-8",
    )
    kb = KnowledgeBase(docs, tmp_path / "index")
    kb.sync()
    by_heading = {
        p.heading: p
        for p in kb.search("create app tokens dashboard export", DocVisibility.INTERNAL, 10).passages
    }
    assert by_heading["Create the app"].url == "https://docs.example.org/demo/guide/setup/#create-the-app"
    assert (
        by_heading["Tokens"].url == "https://docs.example.org/demo/guide/setup/#bot-tokens"
    )  # explicit id wins
    kb.close()


def test_front_matter_url_wins_over_the_detected_site(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text(
        "---\nurl: https://wiki.example.org/page\n---\n# Page\n\n## Part\n\nRotate keys monthly.\n",
        encoding="utf-8",
    )
    kb = KnowledgeBase(docs, tmp_path / "index", base_url="https://docs.example.org/")
    kb.sync()
    [best, *_] = kb.search("rotate keys", DocVisibility.INTERNAL, 5).passages
    assert best.url == "https://wiki.example.org/page"
    kb.close()


def test_editing_site_url_in_mkdocs_yml_updates_citation_links_on_resync(tmp_path: Path) -> None:
    """Before, the site was read from mkdocs.yml once, when the bot started: after an edit of
    site_url, /support reindex and the periodic walk kept citing the old address until a
    restart. Each full sync reads it again, and a change re-reads the folder."""
    repo = write_docs(
        tmp_path / "repo",
        {
            "mkdocs.yml": "site_name: Demo\nsite_url: https://old.acme.test/\n",
            "docs/guide.md": "# Guide\n\n## Tokens\n\nExport the heron token first.\n",
        },
    )
    kb = KnowledgeBase(repo / "docs", tmp_path / "index")
    try:
        kb.sync()
        [before, *_] = kb.search("heron token", DocVisibility.INTERNAL, 5).passages
        assert before.url == "https://old.acme.test/guide/#tokens"
        (repo / "mkdocs.yml").write_text(
            "site_name: Demo\nsite_url: https://docs.acme.test/\n", encoding="utf-8"
        )
        assert kb.sync().added == ["guide.md"]  # read again under the new address
        [after, *_] = kb.search("heron token", DocVisibility.INTERNAL, 5).passages
        assert after.url == "https://docs.acme.test/guide/#tokens"
        assert kb.sync().unchanged == 1  # the same config: nothing is read again
    finally:
        kb.close()


def test_a_section_titled_by_the_question_comes_first_and_is_confident_in_korean_too(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "faq-ko.md").write_text(
        "# 자주 묻는 질문\n\n## 디스코드에 봇을 초대하고 연결하려면 어떻게 하나요?\n\n"
        "개발자 포털에서 봇을 만든 뒤 출력된 주소로 서버에 추가하세요.\n",
        encoding="utf-8",
    )
    (docs / "faq-en.md").write_text(
        "# FAQ\n\n## Which languages?\n\nKorean questions like 디스코드 봇 초대는 어떻게 해요 디스코드 봇 초대 "
        "are answered in Korean; 디스코드 봇 초대 디스코드.\n",
        encoding="utf-8",
    )
    kb = KnowledgeBase(docs, tmp_path / "index")
    kb.sync()
    result = kb.search("디스코드 봇 초대는 어떻게 해요?", DocVisibility.INTERNAL, 5)
    # the English page repeats the words, but the Korean entry is titled by the question
    assert result.passages[0].path == "faq-ko.md" and result.confidence >= 0.6
    kb.close()


def test_the_products_own_guide_answers_a_korean_invite_question(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    asked = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "ask",
            "--json",
            "--data",
            str(tmp_path),
            "디스코드 봇 초대는 어떻게 해요?",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )
    answer = json.loads(asked.stdout)
    assert not answer["abstained"] and "supportbot discord invite" in answer["answer"]


def test_korean_question_words_are_weighed_by_how_rare_they_are_in_the_docs(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(6):
        (docs / f"p{n}.md").write_text(
            f"# 문서 {n}\n\n설정 방법과 설정 화면을 설명합니다.\n", encoding="utf-8"
        )
    (docs / "rare.md").write_text("# 환불\n\n환불 정책은 설정에서 바꿀 수 있습니다.\n", encoding="utf-8")
    kb = KnowledgeBase(docs, tmp_path / "index")
    kb.sync()
    weights = kb.search("환불 설정은 어떻게 하나요?", DocVisibility.INTERNAL, 5).hints.term_weights
    # Korean words are searched by their bigrams, yet the answer picker still gets a weight
    # per word, from the corpus: the rare word counts more than the common one
    assert weights["환불"] > weights["설정"] > 0
    kb.close()


def _page(kb: KnowledgeBase, query: str, path: str) -> str:
    """The text `path` is found with for `query`, its passages joined."""
    return "\n".join(p.text for p in kb.search(query, DocVisibility.INTERNAL, 20).passages if p.path == path)


def test_an_edited_snippet_re_reads_the_pages_that_include_it(tmp_path: Path) -> None:
    folder = write_docs(
        tmp_path / "knowledge",
        {
            "snippets/limits.txt": "The upload limit is 10 megabytes.\n",
            "uploads.md": '# Uploads\n\n## Limits\n\n--8<-- "snippets/limits.txt"\n',
            "guide/setup.md": '# Setup\n\n## Notes\n\n--8<-- "snippets/notes.txt"\n',  # not there yet
        },
    )
    kb = KnowledgeBase(folder, tmp_path / "index")
    try:
        assert kb.sync().warnings  # "includes snippets/notes.txt, which does not exist"
        assert "10 megabytes" in _page(kb, "upload limit", "uploads.md")
        (folder / "snippets" / "limits.txt").write_text(
            "The upload limit is 99 gigabytes.\n", encoding="utf-8"
        )
        (folder / "snippets" / "notes.txt").write_text("Restart the kestrel daemon.\n", encoding="utf-8")
        report = kb.sync()
        # the pages themselves did not change: their includes did, or appeared
        assert report.updated == ["guide/setup.md", "snippets/limits.txt", "uploads.md"]
        page = _page(kb, "upload limit", "uploads.md")
        assert "99 gigabytes" in page and "10 megabytes" not in page
        assert "Restart the kestrel daemon" in _page(kb, "kestrel daemon", "guide/setup.md")
        assert not kb.sync().changed  # read once: the new stamps hold
        (folder / "snippets" / "limits.txt").unlink()
        # as the watcher reports it: the snippet's path alone, not the pages that show it
        report = kb.sync(only=["snippets/limits.txt"])
        assert report.removed == ["snippets/limits.txt"] and report.updated == ["uploads.md"]
        assert "gigabytes" not in _page(kb, "uploads", "uploads.md")
    finally:
        kb.close()


def test_an_edited_sphinx_include_re_reads_the_page_after_a_restart(tmp_path: Path) -> None:
    folder = write_docs(
        tmp_path / "knowledge",
        {
            "api.rst": (
                "API\n===\n\nConnecting\n----------\n\nConnect the client.\n\n"
                ".. literalinclude:: examples/client.py\n\n.. include:: parts/notice.rst\n"
            ),
            "examples/client.py": "client.connect(port=8080)\n",
            "parts/notice.rst": "The quokka service is deprecated.\n",
        },
    )
    kb = KnowledgeBase(folder, tmp_path / "index")
    kb.sync()
    kb.close()
    (folder / "examples" / "client.py").write_text("client.connect(port=9090)\n", encoding="utf-8")
    (folder / "parts" / "notice.rst").write_text("The quokka service was removed.\n", encoding="utf-8")
    kb = KnowledgeBase(folder, tmp_path / "index")  # the stamps are the catalog's, not the process's
    try:
        assert kb.sync().updated == ["api.rst", "parts/notice.rst"]
        page = _page(kb, "connect the client quokka", "api.rst")
        assert "port=9090" in page and "was removed" in page
        assert "8080" not in page and "deprecated" not in page
    finally:
        kb.close()


def test_raising_max_file_mb_reads_the_file_it_left_out(tmp_path: Path) -> None:
    folder = write_docs(
        tmp_path / "knowledge", {"big.md": "# Big\n\nThe narwhal procedure.\n" + "filler. " * 200}
    )
    kb = KnowledgeBase(folder, tmp_path / "index", max_file_bytes=1000)
    assert [path for path, _ in kb.sync().failed] == ["big.md"]
    kb.close()
    kb = KnowledgeBase(folder, tmp_path / "index", max_file_bytes=1_000_000)  # as the report advised
    try:
        report = kb.sync()
        assert report.failed == [] and report.added == ["big.md"]
        assert _paths(kb, "narwhal") == ["big.md"]
    finally:
        kb.close()


def test_setting_include_root_reads_the_include_it_left_out(tmp_path: Path) -> None:
    repo = write_docs(
        tmp_path / "repo",
        {
            "docs/tutorial.md": '# Tutorial\n\n## Example\n\n--8<-- "../docs_src/example.py"\n',
            "docs_src/example.py": "print('ocelot gateway')\n",
        },
    )
    kb = KnowledgeBase(repo / "docs", tmp_path / "index")
    assert kb.sync().warnings  # "includes ../docs_src/example.py, which is not inside ..."
    kb.close()
    kb = KnowledgeBase(repo / "docs", tmp_path / "index", include_root=repo)
    try:
        kb.sync()
        assert _paths(kb, "ocelot gateway") == ["tutorial.md"]
    finally:
        kb.close()


def test_dropping_an_exclude_glob_reads_the_include_it_kept_out(tmp_path: Path) -> None:
    folder = write_docs(
        tmp_path / "knowledge",
        {
            "guide.md": '# Guide\n\n## Keys\n\n--8<-- "private/note.txt"\n',
            "private/note.txt": "The pelican key opens the vault.\n",
        },
    )
    kb = KnowledgeBase(folder, tmp_path / "index", exclude_globs=("private/*",))
    kb.sync()
    assert _paths(kb, "pelican key") == []
    kb.close()
    kb = KnowledgeBase(folder, tmp_path / "index")
    try:
        kb.sync()
        assert "guide.md" in _paths(kb, "pelican key")
    finally:
        kb.close()


def test_an_index_from_before_include_stamps_reads_every_page_again_once(tmp_path: Path) -> None:
    folder = write_docs(
        tmp_path / "knowledge",
        {"page.md": '# Page\n\n## Part\n\n--8<-- "parts/a.py"\n', "parts/a.py": "heron = 1\n"},
    )
    kb = KnowledgeBase(folder, tmp_path / "index")
    kb.sync()
    with kb.catalog.conn:  # as the previous version left it: no stamps, and its layout
        kb.catalog.conn.execute("update files set includes = null")
    kb.catalog.set_meta("layout", f"formats={FORMATS_VERSION};site=None")
    kb.close()
    kb = KnowledgeBase(folder, tmp_path / "index")
    try:
        assert kb.sync().added == ["page.md"]
        (folder / "parts" / "a.py").write_text("heron = 2  # egret\n", encoding="utf-8")
        assert kb.sync().updated == ["page.md"]
    finally:
        kb.close()
