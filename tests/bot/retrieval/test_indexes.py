"""One index per knowledge folder: switching back is an incremental sync, old indexes are pruned
and an old single-index data dir keeps working."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import open_knowledge
from bot.config import Settings, load_settings
from bot.retrieval.indexes import IN_USE_FILE, META_FILE, index_key, list_indexes, open_folder_knowledge
from bot.retrieval.knowledge import KnowledgeBase
from bot.retrieval.knowledge_report import SyncReport
from bot.types import DocVisibility
from tests.bot.test_cli import run_cli
from tests.conftest import DOCS, write_docs

OTHER = {
    "billing.md": "# Billing\n\nInvoices are sent on the first day of each month by email.\n",
    "api/limits.md": "# Rate limits\n\nThe API allows 600 requests per minute for each token.\n",
}


def _settings(tmp_path: Path, folder: Path) -> Settings:
    config = tmp_path / "supportbot.toml"
    config.write_text("", encoding="utf-8")
    return load_settings(config=config, knowledge=folder, data=tmp_path / "data", env={})


def _sync(settings: Settings) -> SyncReport:
    kb = open_knowledge(settings)
    try:
        return kb.sync()
    finally:
        kb.close()


def test_switching_back_to_a_folder_reuses_its_index(tmp_path: Path) -> None:
    a, b = write_docs(tmp_path / "a"), write_docs(tmp_path / "b", OTHER)
    first = _sync(_settings(tmp_path, a))
    assert len(first.added) == len(DOCS)
    assert len(_sync(_settings(tmp_path, b)).added) == len(OTHER)
    again = _sync(_settings(tmp_path, a))
    assert again.added == [] and again.updated == [] and again.removed == []
    assert again.unchanged == len(DOCS)  # nothing re-read: a stat of each file
    # the layout: DATA/index/<key>/ with the index, its catalog and a file naming the folder
    home = tmp_path / "data" / "index" / index_key(a)
    assert (home / "tantivy").is_dir() and (home / "catalog.db").is_file()
    meta = json.loads((home / META_FILE).read_text(encoding="utf-8"))
    assert meta["folder"] == str(a.resolve()) and meta["files"] == len(DOCS) and meta["last_sync"]
    kb = open_knowledge(_settings(tmp_path, a))
    try:
        found = kb.search("How long does a refund take?", DocVisibility.INTERNAL).passages
        assert found and found[0].path == "refunds.md"  # A's documents, not B's
    finally:
        kb.close()


def test_index_list_shows_each_folder_and_marks_the_current_one(tmp_path: Path) -> None:
    a, b = write_docs(tmp_path / "a"), write_docs(tmp_path / "b", OTHER)
    data = str(tmp_path / "data")
    for folder in (a, b):
        assert run_cli("index", "--knowledge", str(folder), "--data", data, cwd=tmp_path).returncode == 0
    listed = run_cli("index", "--list", "--knowledge", str(a), "--data", data, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["folder", "files", "passages", "size", "last", "used"]
    row_a = next(line for line in lines if str(a.resolve()) in line)
    row_b = next(line for line in lines if str(b.resolve()) in line)
    assert row_a.startswith("*") and not row_b.startswith("*")
    passages = {info.folder: str(info.chunks) for info in list_indexes(tmp_path / "data" / "index")}
    assert row_a.split()[2:4] == [str(len(DOCS)), passages[a.resolve()]]  # files, passages
    assert row_b.split()[1:3] == [str(len(OTHER)), passages[b.resolve()]] and row_b.split()[4] == "MB"
    assert "2 index(es)" in listed.stdout
    # listing never builds anything: a folder without an index is only named
    other = run_cli("index", "--list", "--knowledge", str(tmp_path), "--data", data, cwd=tmp_path)
    assert "has no index yet" in other.stdout and "*" not in other.stdout


def test_pruning_keeps_the_most_recent_the_current_and_those_in_use(tmp_path: Path) -> None:
    root = tmp_path / "data" / "index"
    folders = [write_docs(tmp_path / f"f{i}", OTHER).resolve() for i in range(5)]
    start = datetime(2030, 1, 1, tzinfo=UTC)

    def use(i: int, hours: int, keep: int = 2) -> KnowledgeBase:
        return open_folder_knowledge(root, folders[i], keep=keep, now=start + timedelta(hours=hours))

    held = use(0, 0)  # stays open, as a running bot would hold it
    for i in (1, 2, 3):
        use(i, i).close()
    kept = {info.folder for info in list_indexes(root)}
    assert kept == {folders[3], folders[2], folders[0]}  # the two most recent, and the one in use
    held.close()
    # the current folder stays even when it is the least recently used of all
    use(1, -10).close()
    assert {info.folder for info in list_indexes(root)} == {folders[3], folders[2], folders[1]}
    use(4, 20).close()
    assert {info.folder for info in list_indexes(root)} == {folders[4], folders[3]}
    assert not (root / index_key(folders[0])).exists()
    # with the default of 8, five folders are all kept
    for i in range(5):
        open_folder_knowledge(root, folders[i]).close()
    assert len(list_indexes(root)) == 5
    assert all((info.directory / IN_USE_FILE).exists() for info in list_indexes(root))


def test_an_old_single_index_is_adopted_by_its_folder(tmp_path: Path) -> None:
    a, b = write_docs(tmp_path / "a"), write_docs(tmp_path / "b", OTHER)
    root = tmp_path / "data" / "index"
    old = KnowledgeBase(a, root)  # the layout before: DATA/index/tantivy + DATA/index/catalog.db
    assert len(old.sync().added) == len(DOCS)
    old.close()
    # another folder does not match it: indexed afresh, the old index left alone
    assert len(_sync(_settings(tmp_path, b)).added) == len(OTHER)
    assert (root / "catalog.db").exists()
    listed = run_cli("index", "--list", "--knowledge", str(b), "--data", str(tmp_path / "data"), cwd=tmp_path)
    assert "(old single index, folder unknown)" in listed.stdout
    # its own folder takes it over without reading a file again
    report = _sync(_settings(tmp_path, a))
    assert report.added == [] and report.unchanged == len(DOCS)
    assert not (root / "catalog.db").exists() and not (root / "tantivy").exists()
    assert (root / index_key(a) / "tantivy").is_dir()
    assert {info.folder for info in list_indexes(root)} == {a.resolve(), b.resolve()}


def test_an_old_single_index_that_no_folder_matches_is_pruned_in_time(tmp_path: Path) -> None:
    a = write_docs(tmp_path / "a")
    root = tmp_path / "data" / "index"
    old = KnowledgeBase(a, root)
    old.sync()
    old.close()
    kept, *gone = DOCS
    (a / kept).write_text("# Slack\n\nChanged since.\n", encoding="utf-8")
    for name in gone:
        (a / name).unlink()  # the folder it was built from has changed beyond recognition
    later = datetime.now(UTC) + timedelta(days=1)
    open_folder_knowledge(root, a, keep=1, now=later).close()
    assert not (root / "catalog.db").exists() and not (root / "tantivy").exists()
    assert [info.folder for info in list_indexes(root)] == [a.resolve()]
    report = _sync(_settings(tmp_path, a))
    assert report.added == [kept]  # rebuilt once, from the folder as it is now
