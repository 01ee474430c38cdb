"""The knowledge folder is a boundary: a symbolic link cannot bring a file from outside it into
the index, the answers or the search results; links inside it work as before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.config import Settings
from bot.retrieval.knowledge import KnowledgeBase
from bot.retrieval.knowledge_report import SyncReport
from bot.types import DocVisibility

SECRET_WORD = "zanzibarquokka"
OUTSIDE = "links outside the knowledge folder"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    (folder / "private").mkdir(parents=True)
    (folder / "secret.md").write_text(
        f"# Secret\n\nThe root password is {SECRET_WORD} and must never be quoted.\n", encoding="utf-8"
    )
    (folder / "private" / "keys.md").write_text(f"# Keys\n\nSigning key {SECRET_WORD}.\n", encoding="utf-8")
    return folder


@pytest.fixture
def linked(knowledge_dir: Path, outside: Path) -> Path:
    """The shared knowledge folder, plus links out of it (relative, absolute, through a link
    inside, to a folder) and links within it."""
    (knowledge_dir / "leak.md").symlink_to(Path("..") / "outside" / "secret.md")
    (knowledge_dir / "absolute.md").symlink_to(outside / "secret.md")
    (knowledge_dir / "hop.md").symlink_to("leak.md")  # inside -> inside -> outside
    (knowledge_dir / "outdir").symlink_to(outside / "private", target_is_directory=True)
    (knowledge_dir / "refund-alias.md").symlink_to("refunds.md")
    (knowledge_dir / "internal" / "up.md").symlink_to(Path("..") / "password-reset.md")
    return knowledge_dir


def _open(folder: Path, index: Path, **options: object) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase(folder, index, **options)  # type: ignore[arg-type]
    try:
        yield kb
    finally:
        kb.close()


def _secret_found(kb: KnowledgeBase) -> list[str]:
    return [p.path for p in kb.search(SECRET_WORD, DocVisibility.INTERNAL, 10).passages]


def _outside_links(report: SyncReport) -> dict[str, str]:
    return {path: why for path, why in report.skipped if why == OUTSIDE}


def test_links_out_of_the_folder_are_skipped_and_reported(
    runtime_factory: Callable[..., Runtime], linked: Path
) -> None:
    rt = runtime_factory()
    report = rt.last_sync
    assert _outside_links(report) == {
        "absolute.md": OUTSIDE,
        "hop.md": OUTSIDE,
        "leak.md": OUTSIDE,
        "outdir/": OUTSIDE,
    }
    assert not {"leak.md", "absolute.md", "hop.md"} & set(report.added)
    assert not any(path.startswith("outdir/") for path in report.added)
    assert _secret_found(rt.knowledge) == []
    assert "links outside the knowledge folder" in report.describe()


def test_links_inside_the_folder_still_work(runtime_factory: Callable[..., Runtime], linked: Path) -> None:
    rt = runtime_factory()
    assert {"refund-alias.md", "internal/up.md"} <= set(rt.last_sync.added)
    found = rt.knowledge.search("refund business days", DocVisibility.INTERNAL, 10).passages
    assert "refund-alias.md" in {p.path for p in found}


def test_a_link_swapped_to_point_outside_is_dropped_on_the_next_sync(
    tmp_path: Path, knowledge_dir: Path, outside: Path
) -> None:
    alias = knowledge_dir / "alias.md"
    alias.symlink_to("refunds.md")
    for kb in _open(knowledge_dir, tmp_path / "index"):
        assert "alias.md" in kb.sync().added
        alias.unlink()
        alias.symlink_to(outside / "secret.md")
        report = kb.sync()
        assert report.removed == ["alias.md"] and ("alias.md", OUTSIDE) in report.skipped
        assert _secret_found(kb) == []


def test_following_links_walks_linked_folders_but_never_out_of_the_folder(
    tmp_path: Path, linked: Path
) -> None:
    (linked / "docs-mirror").symlink_to("internal", target_is_directory=True)
    (linked / "internal" / "loop").symlink_to("..", target_is_directory=True)  # a cycle
    for kb in _open(linked, tmp_path / "index", follow_symlinks=True):
        report = kb.sync()
        assert "docs-mirror/oncall.md" in report.added  # a linked folder inside is walked
        assert ("internal/loop/", "links to a folder that is indexed already") in report.skipped
        assert _outside_links(report).keys() == {"absolute.md", "hop.md", "leak.md", "outdir/"}
        assert _secret_found(kb) == []


def test_following_links_may_reach_include_root_only(tmp_path: Path, linked: Path, outside: Path) -> None:
    for kb in _open(linked, tmp_path / "index", follow_symlinks=True, include_root=outside):
        report = kb.sync()
        assert {"leak.md", "absolute.md", "hop.md", "outdir/keys.md"} <= set(report.added)
        assert _outside_links(report) == {}
    # without follow_symlinks, include_root is for includes only: links there stay out
    for kb in _open(linked, tmp_path / "index2", include_root=outside):
        assert _outside_links(kb.sync()).keys() == {"absolute.md", "hop.md", "leak.md", "outdir/"}
        assert _secret_found(kb) == []


def test_a_knowledge_folder_reached_through_a_link_is_walked_normally(
    tmp_path: Path, knowledge_dir: Path
) -> None:
    entrance = tmp_path / "docs-link"
    entrance.symlink_to(knowledge_dir, target_is_directory=True)
    for kb in _open(entrance, tmp_path / "index"):
        report = kb.sync()
        assert len(report.added) == 5 and report.skipped == []


def test_follow_symlinks_is_a_knowledge_setting(make_settings: Callable[..., Settings]) -> None:
    assert make_settings().knowledge.follow_symlinks is False
    assert make_settings("[knowledge]\nfollow_symlinks = true\n").knowledge.follow_symlinks is True


@pytest.fixture
def runtime_factory(make_runtime: Callable[..., Runtime]) -> Callable[..., Runtime]:
    return make_runtime


def test_an_include_cannot_read_what_the_folder_rules_leave_out(tmp_path: Path) -> None:
    from bot.retrieval.documents import read_document

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / ".env").write_text("DB_HOST=db.internal.example\n", encoding="utf-8")
    (folder / "conf.py").write_text("project = 'x'  # generator configuration\n", encoding="utf-8")
    (folder / "snippet.py").write_text("print('allowed')\n", encoding="utf-8")
    page = folder / "page.md"
    page.write_text(
        '# Page\n\nSettings:\n\n--8<-- ".env"\n\n--8<-- "conf.py"\n\n--8<-- "snippet.py"\n', encoding="utf-8"
    )
    document = read_document(folder, page, page.read_bytes())
    text = "\n".join(section.text for section in document.sections)
    assert "db.internal" not in text and "generator configuration" not in text
    assert "print('allowed')" in text  # an ordinary file inside the folder is still included
    assert len(document.warnings) == 2


def test_an_include_cannot_read_what_the_exclude_globs_leave_out(tmp_path: Path, outside: Path) -> None:
    """`[knowledge] exclude = ["private/**"]` keeps the folder from the index, and from every
    page that would include a file of it."""
    folder = tmp_path / "docs"
    (folder / "private").mkdir(parents=True)
    (folder / "private" / "keys.md").write_text(f"# Keys\n\nSigning key {SECRET_WORD}.\n", encoding="utf-8")
    (folder / "snippet.md").write_text("Allowed snippet text.\n", encoding="utf-8")
    (folder / "page.md").write_text(
        '# Page\n\nKeys:\n\n--8<-- "private/keys.md"\n\n--8<-- "snippet.md"\n', encoding="utf-8"
    )
    for kb in _open(folder, tmp_path / "index", exclude_globs=("private/**",)):
        report = kb.sync()
        assert ("private/", "matches [knowledge] exclude 'private/**'") in report.skipped
        assert _secret_found(kb) == []
        # an ordinary include still comes through
        assert "page.md" in [p.path for p in kb.search("allowed snippet", DocVisibility.INTERNAL, 5).passages]


def test_a_file_swapped_for_a_link_out_while_the_sync_reads_is_not_read_through_it(
    tmp_path: Path, outside: Path
) -> None:
    """The walk saw a plain file; before the reader opens it, it becomes a link out of the
    folder (a sync job, a git checkout, someone who can write to the folder): what is checked
    is the file actually opened, so the text outside never reaches the index."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"p{i}.md").write_text(f"# Page {i}\n\nOrdinary text number {i}.\n", encoding="utf-8")

    def swap_after_the_first(done: int, total: int, relative: str) -> None:
        if relative == "p0.md":  # the sync's own progress: p0 is read, p2 is not yet
            (folder / "p2.md").unlink()
            (folder / "p2.md").symlink_to(outside / "secret.md")

    for kb in _open(folder, tmp_path / "index", workers=0):
        report = kb.sync(swap_after_the_first)
        assert _secret_found(kb) == []
        assert ("p2.md", OUTSIDE) in report.failed
        assert [p.path for p in kb.search("ordinary text", DocVisibility.INTERNAL, 5).passages] != []
