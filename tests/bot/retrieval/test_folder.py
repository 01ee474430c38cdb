"""The walk of the knowledge folder (bot/retrieval/folder.py): a link that leads nowhere (to
itself, round a cycle, to nothing) is one bad entry, skipped and reported; it never stops the
index, the bot's start, /support reindex or the periodic walk. Build output is left out where
it is build output, not wherever a folder has its name."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.retrieval.knowledge import KnowledgeBase
from bot.types import DocVisibility
from tests.conftest import write_docs

NOWHERE = "a link that loops or is broken"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "kb"
    (docs / "partners").mkdir(parents=True)
    (docs / "refunds.md").write_text("# Refunds\n\nRefunds take five days.\n", encoding="utf-8")
    (docs / "partners" / "pricing.md").write_text(
        "# Pricing\n\nThe wholesale discount is 40%.\n", encoding="utf-8"
    )
    return docs


def _open(folder: Path, index: Path, *, follow_symlinks: bool = False) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase(folder, index, follow_symlinks=follow_symlinks)
    try:
        yield kb
    finally:
        kb.close()


def _everyone_finds(kb: KnowledgeBase, words: str) -> list[str]:
    return [p.path for p in kb.search(words, DocVisibility.INTERNAL, 10).passages]


@pytest.mark.parametrize("follow_symlinks", [False, True])
def test_a_link_to_itself_is_skipped_and_reported(
    tmp_path: Path, folder: Path, follow_symlinks: bool
) -> None:
    os.symlink("loop.md", folder / "loop.md")  # following it fails with ELOOP
    for kb in _open(folder, tmp_path / "index", follow_symlinks=follow_symlinks):
        report = kb.sync()
        assert ("loop.md", NOWHERE) in report.skipped
        assert sorted(report.added) == ["partners/pricing.md", "refunds.md"]
        assert _everyone_finds(kb, "refunds") == ["refunds.md"]


def test_links_pointing_at_each_other_and_a_broken_link_are_reported(tmp_path: Path, folder: Path) -> None:
    os.symlink("b.md", folder / "a.md")
    os.symlink("a.md", folder / "b.md")
    os.symlink("gone", folder / "partners" / "old")  # its folder was deleted
    os.symlink(".hidden", folder / ".hidden")  # hidden: left out, as ever, without a word
    for kb in _open(folder, tmp_path / "index", follow_symlinks=True):
        report = kb.sync()
        assert report.skipped == [("a.md", NOWHERE), ("b.md", NOWHERE), ("partners/old", NOWHERE)]
        assert NOWHERE in report.describe()


def test_a_loop_made_after_the_start_leaves_the_next_sync_working(tmp_path: Path, folder: Path) -> None:
    """What /support reindex and the periodic walk of a running bot do."""
    for kb in _open(folder, tmp_path / "index"):
        kb.sync()
        os.symlink("loop.md", folder / "loop.md")
        (folder / "refunds.md").write_text("# Refunds\n\nRefunds take seven days.\n", encoding="utf-8")
        report = kb.sync()
        assert report.updated == ["refunds.md"] and ("loop.md", NOWHERE) in report.skipped


@pytest.mark.parametrize("name", [".audience", "_audience.yml"])
def test_a_folder_audience_file_that_loops_closes_its_folder(tmp_path: Path, folder: Path, name: str) -> None:
    """Who may read the folder cannot be known: its documents are nobody's, never everybody's."""
    os.symlink(name, folder / "partners" / name)
    for kb in _open(folder, tmp_path / "index"):
        report = kb.sync()
        assert "symbolic link" in dict(report.failed)["partners/pricing.md"]
        assert _everyone_finds(kb, "wholesale discount") == []
        assert _everyone_finds(kb, "refunds") == ["refunds.md"]


def test_the_bot_starts_with_a_link_loop_in_its_folder(
    make_runtime: Callable[..., Runtime], knowledge_dir: Path
) -> None:
    """`supportbot run`, `chat`, `ask` and `doctor` build the runtime, which walks the folder."""
    os.symlink("b.md", knowledge_dir / "a.md")
    os.symlink("a.md", knowledge_dir / "b.md")  # a leftover pair of links pointing at each other
    rt = make_runtime()
    assert {("a.md", NOWHERE), ("b.md", NOWHERE)} <= set(rt.last_sync.skipped)
    assert rt.last_sync.added


def test_a_docs_folder_named_site_is_indexed(tmp_path: Path) -> None:
    """Before, every folder named `site` was skipped as MkDocs' build output, at any depth:
    `admin/site/custom-domain.md` (a CMS's site settings, a hosting guide) was never indexed.
    Only the `site` beside an mkdocs.yml is build output."""
    repo = write_docs(
        tmp_path / "repo",
        {
            "mkdocs.yml": "site_name: Demo\ndocs_dir: docs\n",
            "site/guide/index.html": "<h1>Built</h1><p>Point a CNAME record at pelican.acme.test.</p>",
            "docs/index.md": "# Home\n\nWelcome.\n",
            "docs/admin/site/custom-domain.md": "# Custom domain\n\nPoint a CNAME record at pelican.acme.test.\n",
        },
    )
    for kb in _open(repo, tmp_path / "index"):
        report = kb.sync()
        assert _everyone_finds(kb, "CNAME record pelican") == ["docs/admin/site/custom-domain.md"]
        assert ("site/", "build output or templates, not documentation") in report.skipped
        # what the watcher reports is judged by the same rule
        (repo / "docs/admin/site/custom-domain.md").write_text(
            "# Custom domain\n\nPoint a CNAME record at heron.acme.test.\n", encoding="utf-8"
        )
        kb.sync(only=["docs/admin/site/custom-domain.md"])
        assert _everyone_finds(kb, "CNAME record heron") == ["docs/admin/site/custom-domain.md"]
