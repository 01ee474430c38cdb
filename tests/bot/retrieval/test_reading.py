"""Indexing fast without changing what is indexed: the reader pool, the analysis caches, the
plain-text short cut of the Markdown parser, and the catalog kept between syncs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import tantivy
from markdown_it import MarkdownIt

from bot.retrieval import tokenize as tokenize_module
from bot.retrieval.formats.markdown import parser
from bot.retrieval.knowledge import KnowledgeBase
from bot.retrieval.knowledge_report import SyncReport
from bot.retrieval.reading import POOL_MIN_FILES, pool_size
from bot.retrieval.tokenize import RUN_CACHE_SIZE, analyze, analyze_query, tokenize
from bot.types import DocVisibility
from tests.conftest import write_docs

VARIED = {
    "guide.md": """\
        ---
        title: The guide
        tags: [setup, slack]
        ---
        # The guide

        Connect the *bot* to Slack: see [the app page](https://x.test) and run `supportbot run`.
        A second line of the same paragraph,
        and no hard break here.
        Then the end.

        ## Tokens

        Paste the `xoxb-` token & the signing secret.
        """,
    "plain.md": "# Plain\n\nNothing but words, a hard break  \n  then wrapped\nover lines\n\n## Next\n\nMore words.\n",
    "internal/oncall.md": "---\nvisibility: internal\n---\n# On call\n\nPage the on-call engineer.\n",
    "ko/faq.md": "# 자주 묻는 질문\n\n환불은 어떻게 받나요? 결제 후 7일 안에 요청하세요. Refund via the app.\n",
    "api.rst": "API\n===\n\nThe ``connect`` function.\n\nOptions\n-------\n\nNone at all.\n",
    "team/_audience.yml": "audience: [staff]\n",
    "team/notes.md": "# Team notes\n\nOnly for staff.\n",
    "page.html": "<html><head><title>Page</title></head><body><h1>Page</h1><p>Some text.</p></body></html>",
}


def _everything(kb: KnowledgeBase) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """Every stored document of the index and every catalog row but the time it was written."""
    searcher = kb.index._index.searcher()
    hits = searcher.search(tantivy.Query.all_query(), limit=10_000).hits
    docs = sorted((searcher.doc(address).to_dict() for _, address in hits), key=lambda d: d["chunk_id"][0])
    rows = [
        tuple(row)
        for row in kb.catalog.conn.execute(
            "select path, sha256, size, mtime_ns, title, url, visibility, tags, chunks, error, audience, "
            "folder_audience from files order by path"
        )
    ]
    return docs, rows


def _build(folder: Path, index: Path, workers: int) -> tuple[SyncReport, Any, list[str]]:
    kb = KnowledgeBase(folder, index, workers=workers, embeddings=True)
    try:
        report = kb.sync()
        found = {
            q: [p.chunk_id for p in kb.search(q, DocVisibility.INTERNAL, 10).passages] for q in QUESTIONS
        }
        chunks = [tuple(r) for r in kb.catalog.conn.execute("select * from chunks order by chunk_id")]
        return report, (_everything(kb), chunks), [str(found)]
    finally:
        kb.close()


QUESTIONS = ("connect slack token", "환불 요청", "on-call engineer", "connect function options")


def test_the_pool_indexes_exactly_what_one_process_does(tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "knowledge", VARIED)
    (folder / "broken.md").write_bytes(b"# Broken\n\n\xff\xfe not utf-8")
    serial, serial_contents, serial_found = _build(folder, tmp_path / "serial", workers=1)
    pooled, pooled_contents, pooled_found = _build(folder, tmp_path / "pooled", workers=2)
    assert serial_contents[0][0], "nothing was indexed"
    assert pooled_contents == serial_contents  # stored fields, catalog rows, chunk text hashes
    assert pooled_found == serial_found  # and so the same ranking
    assert (pooled.added, pooled.failed, pooled.warnings) == (serial.added, serial.failed, serial.warnings)
    assert [path for path, _ in pooled.failed] == ["broken.md"]


def test_a_pool_runs_only_for_a_large_sync_on_several_cores() -> None:
    assert pool_size(10, workers=None) == 0  # a few changed files: read here
    assert pool_size(POOL_MIN_FILES, workers=1) == 0
    assert pool_size(3, workers=2) == 2  # asked for explicitly
    assert pool_size(0, workers=4) == 0
    expected = 0 if (os.cpu_count() or 1) < 2 else pool_size(POOL_MIN_FILES, workers=None)
    assert pool_size(POOL_MIN_FILES, workers=None) == expected


def test_analysis_is_the_same_cached_or_not() -> None:
    texts = [
        "I can't log in to my e-mail account, it's not working",
        "환불을 요청했습니다 and a refund_id",
        "How do I turn off notifications? Please, any way?",
        "무엇 어떻게 하나요 환불은",
    ]
    first = [(tokenize(t), tokenize(t, query=True), analyze(t), analyze_query(t)) for t in texts]
    again = [(tokenize(t), tokenize(t, query=True), analyze(t), analyze_query(t)) for t in texts]
    assert first == again
    assert first[0][0].words == ["not", "log", "e", "mail", "email", "account", "not", "work"]
    assert first[1][0].bigrams == ["환불", "불을", "요청", "청했", "했습", "습니", "니다"]
    assert first[1][2] == ["환불", "요청", "refund", "id", "refund_id"]  # Korean words first, as ever
    assert "way" not in first[2][1].words and "way" in first[2][0].words  # query stop words per mode


def test_the_analysis_caches_stay_bounded() -> None:
    for batch in range(2 * RUN_CACHE_SIZE // 1000 + 1):
        words = " ".join(f"w{batch}x{i}" for i in range(1000))
        assert len(tokenize(words).words) == 1000
        tokenize(f"{words} 환불")  # a text with Hangul takes the other cache
    assert all(len(cache) <= RUN_CACHE_SIZE for cache in tokenize_module._STEM_CACHES.values())
    assert all(len(cache) <= RUN_CACHE_SIZE for cache in tokenize_module._RUN_CACHES.values())
    assert tokenize("logging in").words == ["log"]  # and still right after being emptied


SAMPLES = [
    "Plain words only",
    "two lines\nof text",
    "a hard break  \nafter two spaces",
    "one space \nthen a line",
    "spaces and a tab\n \t after",
    "trailing   \n\t  \nempty middle",
    "*emphasis* and `code` and [a link](x) & an entity",
    "a backslash \\\nbreak",
    "| a | b |\n| - | - |\n| plain | *not* |",
    "- item one\n- item two\n  continued",
    "# Heading {#anchor}\n\ntext",
    "~~gone~~ and <b>html</b>",
]


@pytest.mark.parametrize("source", SAMPLES)
def test_plain_text_parses_as_markdown_it_parses_it(source: str) -> None:
    def shape(md: MarkdownIt) -> list[Any]:
        return [
            (t.type, t.content, [(c.type, c.content) for c in t.children or []]) for t in md.parse(source)
        ]

    assert shape(parser()) == shape(MarkdownIt("commonmark").enable(["table", "strikethrough"]))


def test_a_file_changed_in_place_is_found_though_its_folder_did_not_change(tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "knowledge", {"a/one.md": "# One\n\nfirst text\n", "a/two.md": "# Two\n"})
    kb = KnowledgeBase(folder, tmp_path / "index")
    try:
        kb.sync()
        stat = (folder / "a").stat()
        (folder / "a" / "one.md").write_text("# One\n\nrewritten marker\n", encoding="utf-8")
        os.utime(folder / "a", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the folder looks untouched
        report = kb.sync()
        assert report.updated == ["a/one.md"]
        assert [p.path for p in kb.search("rewritten marker", DocVisibility.INTERNAL, 5).passages] == [
            "a/one.md"
        ]
    finally:
        kb.close()


def test_a_sync_by_another_connection_is_seen_by_an_open_knowledge_base(tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "knowledge", {"one.md": "# One\n\ntext\n"})
    first = KnowledgeBase(folder, tmp_path / "index")
    try:
        first.sync()
        (folder / "two.md").write_text("# Two\n\nadded elsewhere\n", encoding="utf-8")
        (folder / "one.md").write_text("# One\n\nchanged elsewhere\n", encoding="utf-8")
        other = KnowledgeBase(folder, tmp_path / "index")  # as another process would
        try:
            report = other.sync()
            assert report.added == ["two.md"] and report.updated == ["one.md"]
        finally:
            other.close()
        again = first.sync()  # its kept copy of the catalog is stale: it must read it again
        assert not again.changed and again.unchanged == 2
        (folder / "one.md").unlink()
        assert first.sync().removed == ["one.md"]
        assert first.sync().unchanged == 1  # what it wrote itself is kept without a reload
    finally:
        first.close()


KILLED_SYNC = """
import multiprocessing, sys, time
from pathlib import Path
from bot.retrieval.knowledge import KnowledgeBase

def stop_here(done: int, total: int, path: str) -> None:
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
    time.sleep(120)  # killed here, mid-sync, with its workers running

if __name__ == "__main__":
    KnowledgeBase(Path(sys.argv[1]), Path(sys.argv[2]), workers=2).sync(stop_here)
"""


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status  # exited, not yet reaped by whoever adopted it


def test_kill_9_mid_sync_leaves_no_workers_and_the_next_sync_finishes(tmp_path: Path) -> None:
    folder = write_docs(
        tmp_path / "knowledge", {f"d{i}/f{i}.md": f"# File {i}\n\nword{i} text\n" for i in range(40)}
    )
    script = tmp_path / "sync.py"
    script.write_text(KILLED_SYNC, encoding="utf-8")
    root = Path(__file__).resolve().parents[3]
    child = subprocess.Popen(
        [sys.executable, str(script), str(folder), str(tmp_path / "index")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert child.stdout is not None
    workers = [int(pid) for pid in child.stdout.readline().split()]
    assert len(workers) == 2
    child.send_signal(signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 30
    while not all(_gone(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(pid) for pid in workers), "pool workers outlived the killed sync"
    kb = KnowledgeBase(folder, tmp_path / "index", workers=1)
    try:
        report = kb.sync()
        assert len(report.added) == 40 and not report.failed
        assert [p.path for p in kb.search("word7", DocVisibility.INTERNAL, 3).passages] == ["d7/f7.md"]
    finally:
        kb.close()


UNGUARDED_SYNC = """
import sys
from pathlib import Path
from bot.retrieval.knowledge import KnowledgeBase

# no `if __name__ == "__main__":` guard: each spawned worker runs this again and dies starting
kb = KnowledgeBase(Path(sys.argv[1]), Path(sys.argv[2]), workers=2)
print(len(kb.sync().added))
"""


def test_when_the_pool_cannot_run_the_files_are_read_in_the_process(tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "knowledge", {f"f{i}.md": f"# File {i}\n\nword{i}\n" for i in range(20)})
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED_SYNC, encoding="utf-8")
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, str(script), str(folder), str(tmp_path / "index")],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "20"
    assert "reading the rest in this process" in done.stderr


def test_fields_only_shown_are_stored_but_make_no_terms(tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "knowledge", {"guide.md": "# Guide\n\n## Setup\n\nInstall the bot.\n"})
    kb = KnowledgeBase(folder, tmp_path / "index")
    try:
        kb.sync()
        [passage] = kb.search("install", DocVisibility.INTERNAL, 5).passages
        assert (passage.title, passage.heading, passage.text) == ("Guide", "Setup", "Install the bot.")
        searcher = kb.index._index.searcher()
        assert searcher.doc_freq("text", "Install the bot.") == 0  # indexing whole passages cost the most
        assert searcher.doc_freq("title", "Guide") == 0
        assert searcher.doc_freq("chunk_id", passage.chunk_id) == 1  # looked up by value: indexed
        assert searcher.doc_freq("heading", "Setup") == 1
    finally:
        kb.close()
