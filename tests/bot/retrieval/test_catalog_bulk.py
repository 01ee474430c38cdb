"""A sync's catalog writes in one statement per table (Catalog.record_sync): the same rows the
per-file calls wrote, still never a file the tantivy index was not committed with, and no file
in the index that a crash between the two commits hid from every later sync."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import faults
from bot.retrieval.knowledge import KnowledgeBase
from bot.retrieval.reading import ReadJob, read_files
from bot.store import Catalog
from bot.store.catalog import FileRecord
from bot.types import DocVisibility
from tests.conftest import write_docs

DOCS = {
    "plain.md": "# Plain\n\nThe walrus manual.\n\n## Setup\n\nInstall the walrus.\n",
    "tagged.md": (
        "---\ntitle: Tagged page\ntags: [billing, refunds]\nvisibility: internal\n---\n\n"
        "# Refunds\n\nRefund within 30 days.\n"
    ),
    "gold.md": "---\naudience: [gold]\n---\n\n# Gold\n\nThe gold rebate.\n",
    "partners/_audience.yml": "[partners]\n",
    "partners/deal.md": "# Deal\n\nThe partner deal.\n",
    "broken.md": "---\ntitle: [unclosed\n---\n\n# Broken\n",
    "big.md": "# Big\n\n" + "padding words here. " * 200,
}


def _rows(catalog: Catalog) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every row of `files` (but when it was written) and of `chunks`, in path order."""
    conn = catalog.conn
    files = conn.execute(
        "select path, sha256, size, mtime_ns, title, url, visibility, tags, chunks, error, audience, "
        "folder_audience from files order by path"
    ).fetchall()
    chunks = conn.execute("select chunk_id, path, text_hash from chunks order by chunk_id").fetchall()
    return files, chunks


def _per_file(kb: KnowledgeBase, catalog: Catalog, paths: list[str]) -> None:
    """What a sync wrote before record_sync: put_file and put_chunks, one call per file."""
    stats = dict(kb._walk())
    folders = kb._folder_audiences()
    jobs = [
        ReadJob(
            relative=path,
            size=stats[path].st_size,
            mtime_ns=stats[path].st_mtime_ns,
            known_sha256=None,
            folder_audience=folders.for_file(path),
        )
        for path in paths
    ]
    now = datetime.now(UTC)
    for job, outcome in zip(jobs, read_files(kb._read_settings(), jobs, 1), strict=True):
        record = FileRecord(
            path=job.relative,
            sha256=outcome.digest,
            size=job.size,
            mtime_ns=job.mtime_ns,
            chunks=len(outcome.chunks),
            error=outcome.error,
            folder_audience=folders.key(job.relative),
        )
        catalog.put_file(record, at=now, **outcome.meta)  # type: ignore[arg-type]
        if outcome.hashes is not None:
            catalog.put_chunks(job.relative, outcome.hashes)


def test_a_sync_writes_exactly_the_rows_the_per_file_calls_wrote(tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "knowledge", DOCS)
    kb = KnowledgeBase(folder, tmp_path / "index", embeddings=True, max_file_bytes=2000)
    reference = Catalog(tmp_path / "reference.db")
    try:
        report = kb.sync()
        assert report.failed and {path for path, _ in report.failed} >= {"big.md"}
        _per_file(kb, reference, sorted(dict(kb._walk())))
        files, chunks = _rows(kb.catalog)
        assert len(files) == 6 and len(chunks) >= 4  # every row kind is there to compare
        assert any(row[10] == '["gold"]' for row in files) and any(row[11] for row in files)
        assert (files, chunks) == _rows(reference)

        # then a change, a save without change, and a deletion: upserts, mtimes, removals
        (folder / "plain.md").write_text("# Plain\n\nA new walrus manual.\n", encoding="utf-8")
        gold = folder / "gold.md"
        os.utime(gold, ns=(gold.stat().st_atime_ns, gold.stat().st_mtime_ns + 5_000_000))
        (folder / "tagged.md").unlink()
        report = kb.sync()
        assert report.updated == ["plain.md"] and report.removed == ["tagged.md"]
        _per_file(kb, reference, ["plain.md"])
        reference.touch_file("gold.md", gold.stat().st_mtime_ns)
        reference.remove_files(["tagged.md"])
        assert _rows(kb.catalog) == _rows(reference)
        assert not any(row[0] == "tagged.md" for row in _rows(kb.catalog)[1])
    finally:
        kb.close()
        reference.close()


def test_a_catalog_write_that_fails_after_the_index_commit_is_redone_by_the_next_sync(
    tmp_path: Path,
) -> None:
    folder = write_docs(
        tmp_path / "knowledge", {f"f{i}.md": f"# File {i}\n\nword{i} text\n" for i in range(5)}
    )
    index = tmp_path / "index"
    kb = KnowledgeBase(folder, index, workers=1)
    assert len(kb.sync().added) == 5
    kb.close()
    (folder / "f1.md").write_text("# File 1\n\nrewritten zebra text\n", encoding="utf-8")
    (folder / "f9.md").write_text("# File 9\n\nword9 text\n", encoding="utf-8")

    kb = KnowledgeBase(folder, index, workers=1)
    locked = sqlite3.OperationalError("database is locked")  # another writer held the catalog
    with faults.crash_at("knowledge.committed", error=locked), pytest.raises(sqlite3.OperationalError):
        kb.sync()
    kb.close()  # as a crash would leave it: tantivy holds the new files, the catalog does not

    kb = KnowledgeBase(folder, index, workers=1)
    try:
        known = kb.catalog.files()
        assert "f9.md" not in known  # never claimed before it was written
        assert known["f1.md"].mtime_ns != (folder / "f1.md").stat().st_mtime_ns
        report = kb.sync()
        assert report.added == ["f9.md"] and report.updated == ["f1.md"] and report.unchanged == 4
        for word, path in (("zebra", "f1.md"), ("word9", "f9.md")):
            found = [p.path for p in kb.search(word, DocVisibility.INTERNAL, 10).passages]
            assert found == [path]  # indexed once: the redo replaced what the failed sync wrote
        assert not kb.search("word1", DocVisibility.INTERNAL, 10).passages
        assert kb.summary().files == 6
    finally:
        kb.close()


def _found(kb: KnowledgeBase, query: str) -> list[str]:
    return [p.path for p in kb.search(query, DocVisibility.INTERNAL, 10).passages]


def test_a_page_a_kill_left_unrecorded_is_removed_once_it_is_renamed(tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "knowledge", {"keep.md": "# Keep\n\nSomething else entirely.\n"})
    index = tmp_path / "index"
    kb = KnowledgeBase(folder, index)
    kb.sync()
    kb.close()
    (folder / "pricing.md").write_text("# Pricing\n\nThe zanzibar plan costs 40 dollars.\n", encoding="utf-8")
    kb = KnowledgeBase(folder, index)
    with faults.crash_at("knowledge.committed"), pytest.raises(faults.Crash):
        kb.sync()  # kill -9 after the index's commit, before the catalog's
    assert "pricing.md" not in kb.catalog.files()
    kb.close()

    (folder / "pricing.md").rename(folder / "plans.md")  # while the bot was down
    kb = KnowledgeBase(folder, index)
    try:
        report = kb.sync()
        assert report.removed == ["pricing.md"] and report.added == ["plans.md"]
        assert _found(kb, "zanzibar plan") == ["plans.md"]
        assert not kb.catalog.unrecorded() and not kb.sync().changed
    finally:
        kb.close()


def test_a_watched_deletion_after_a_failed_catalog_write_still_removes_the_page(tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "knowledge", {"keep.md": "# Keep\n\nSomething else entirely.\n"})
    kb = KnowledgeBase(folder, tmp_path / "index")
    try:
        kb.sync()
        (folder / "pricing.md").write_text("# Pricing\n\nThe zanzibar plan.\n", encoding="utf-8")
        full = OSError(28, "No space left on device")
        with faults.crash_at("knowledge.committed", error=full), pytest.raises(OSError):
            kb.sync(only=["pricing.md"])
        (folder / "pricing.md").unlink()
        # the watcher names the deleted path; the sync must not take "not in the catalog" for "nothing to do"
        assert kb.sync(only=["pricing.md"]).removed == ["pricing.md"]
        assert _found(kb, "zanzibar plan") == []
    finally:
        kb.close()
