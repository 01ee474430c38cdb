"""A running bot re-reads just the documents that changed (bot/retrieval/watch.py and
`KnowledgeBase.sync(only=...)`), and walks the whole folder when a change cannot be judged
alone."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.retrieval.folder import look_up
from bot.retrieval.knowledge import SUPPORTED_SUFFIXES, KnowledgeBase
from bot.retrieval.service import KnowledgeService
from bot.retrieval.watch import keep_in_step, relative
from bot.types import DocVisibility


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    for name, text in {
        "index.md": "# Home\n\nWelcome.\n",
        "guide/refunds.md": "# Refunds\n\nRefunds take five days.\n",
        "drafts/wip.md": "# Draft\n\nNot ready.\n",
    }.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def kb(docs: Path, tmp_path: Path) -> Iterator[KnowledgeBase]:
    base = KnowledgeBase(docs, tmp_path / "index", exclude_globs=("drafts/**",))
    yield base
    base.close()


def found(kb: KnowledgeBase, words: str) -> list[str]:
    return [p.path for p in kb.search(words, DocVisibility.INTERNAL).passages]


def test_a_sync_of_named_paths_reads_only_those(kb: KnowledgeBase, docs: Path) -> None:
    kb.sync()
    (docs / "guide/refunds.md").write_text("# Refunds\n\nRefunds take zebrafast days.\n", encoding="utf-8")
    (docs / "index.md").write_text("# Home\n\nWelcome, quokkas.\n", encoding="utf-8")  # changed, not named
    report = kb.sync(only=["guide/refunds.md"])
    assert report.updated == ["guide/refunds.md"] and report.removed == []
    assert found(kb, "zebrafast") == ["guide/refunds.md"]
    assert found(kb, "quokkas") == []  # not looked at: the next walk finds it
    assert kb.sync().updated == ["index.md"]


def test_named_paths_that_are_gone_new_or_left_out(kb: KnowledgeBase, docs: Path) -> None:
    kb.sync()
    (docs / "guide/refunds.md").unlink()
    (docs / "guide/new.md").write_text("# New\n\nA wombat page.\n", encoding="utf-8")
    (docs / "drafts/more.md").write_text("# More\n\nplatypus\n", encoding="utf-8")
    (docs / ".secret.md").write_text("# Hidden\n\nechidna\n", encoding="utf-8")
    report = kb.sync(only=["guide/refunds.md", "guide/new.md", "drafts/more.md", ".secret.md", "nowhere.md"])
    assert report.removed == ["guide/refunds.md"] and report.added == ["guide/new.md"]
    assert found(kb, "wombat") == ["guide/new.md"]
    assert found(kb, "platypus") == [] and found(kb, "echidna") == []  # excluded and hidden stay out


def test_the_first_sync_walks_even_when_paths_are_named(kb: KnowledgeBase) -> None:
    report = kb.sync(only=["index.md"])  # nothing known yet: who may read what is not known either
    assert sorted(report.added) == ["guide/refunds.md", "index.md"]


@pytest.mark.parametrize(
    "change",
    ["guide", "guide/_audience.yml", "../outside.md", "linked.md"],
)
def test_what_a_look_at_one_path_cannot_judge_asks_for_a_walk(
    docs: Path, tmp_path: Path, change: str
) -> None:
    (tmp_path / "outside.md").write_text("# Out\n", encoding="utf-8")
    os.symlink(tmp_path / "outside.md", docs / "linked.md")
    (docs / "guide/_audience.yml").write_text("audience: staff\n", encoding="utf-8")
    looked = look_up(docs, [change], suffixes=SUPPORTED_SUFFIXES, exclude=frozenset(), globs=())
    assert looked is None


def test_what_a_watcher_reports_is_named_as_the_index_names_files(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    data = root / "data"
    assert relative(root, root / "guide" / "a.md") == "guide/a.md"
    assert relative(root, root / ".git" / "index") is None  # hidden: never indexed
    assert relative(root, data / "index" / "meta.json", [data]) is None  # the bot's own writes
    assert relative(root, tmp_path / "elsewhere.md") is None


def test_a_folders_audience_file_is_the_one_hidden_name_a_watcher_passes_on(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    assert relative(root, root / "partners" / ".audience") == "partners/.audience"  # who may read it
    assert relative(root, root / ".audience") == ".audience"
    assert relative(root, root / "partners" / ".audience.swp") is None  # an editor's, still hidden
    assert relative(root, root / ".git" / ".audience") is None  # in a hidden folder: never read


async def test_a_running_bot_closes_a_folder_given_an_audience_file_without_waiting_for_the_walk(
    kb: KnowledgeBase, docs: Path
) -> None:
    kb.sync()
    service = KnowledgeService(kb)
    stop = asyncio.Event()
    watching = asyncio.create_task(keep_in_step(service, 3600.0, stop=stop))  # no walk for an hour
    try:
        assert found(kb, "refunds") == ["guide/refunds.md"]
        declaration = docs / "guide" / ".audience"
        for attempt in range(200):  # seconds at most; written again now and then, in case the
            if attempt % 10 == 0:  # watcher was not listening yet when it was first written
                declaration.write_text(f"partners\n# {attempt}\n", encoding="utf-8")
            if found(kb, "refunds") == []:
                break
            await asyncio.sleep(0.05)
        assert found(kb, "refunds") == []  # everyone's search: the folder is for partners now
        partners = kb.search("refunds", DocVisibility.INTERNAL, audiences=frozenset({"partners"}))
        assert [p.path for p in partners.passages] == ["guide/refunds.md"]
    finally:
        stop.set()
        await asyncio.wait_for(watching, 10)


async def test_a_running_bot_reads_an_edited_document_without_waiting_for_the_walk(
    kb: KnowledgeBase, docs: Path
) -> None:
    kb.sync()
    service = KnowledgeService(kb)
    stop = asyncio.Event()
    watching = asyncio.create_task(keep_in_step(service, 3600.0, stop=stop))  # no walk for an hour
    try:
        target = docs / "guide/refunds.md"
        for attempt in range(200):  # seconds at most; saved again now and then, in case the
            if attempt % 10 == 0:  # watcher was not listening yet when it was first saved
                target.write_text(f"# Refunds\n\nRefunds take narwhal days ({attempt}).\n", encoding="utf-8")
            if found(kb, "narwhal") == ["guide/refunds.md"]:
                break
            await asyncio.sleep(0.05)
        assert found(kb, "narwhal") == ["guide/refunds.md"]
    finally:
        stop.set()
        await asyncio.wait_for(watching, 10)


def test_a_folder_moved_out_takes_its_documents_with_it(
    kb: KnowledgeBase, docs: Path, tmp_path: Path
) -> None:
    kb.sync()
    (docs / "guide").rename(tmp_path / "trash")  # a watcher reports only "guide"
    report = kb.sync(only=["guide"])
    assert report.removed == ["guide/refunds.md"]
    assert found(kb, "refunds") == []
