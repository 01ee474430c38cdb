"""Audiences in retrieval: how documents declare them, and the filter before ranking.

Real files, the real KnowledgeBase (tantivy index and catalog) in a temporary folder."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from bot.retrieval.audience import AudienceError, FolderAudiences, read_folder_file
from bot.retrieval.knowledge import KnowledgeBase
from bot.types import DocVisibility

EVERYONE: frozenset[str] = frozenset()


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")


def doc(title: str, body: str, front: str = "") -> str:
    return (f"---\n{front}\n---\n" if front else "") + f"# {title}\n\n{body}\n"


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    folder = tmp_path / "docs"
    write(
        folder,
        {
            "open.md": doc("Open pricing", "Annual plans cost ten months of the monthly price."),
            "gold.md": doc("Gold pricing", "Gold annual plans get the walrus rebate.", "audience: [gold]"),
            "partners/_audience.yml": "[partners]\n",
            "partners/deal.md": doc("Partner deal", "Partners get the walrus rebate on annual plans."),
            "partners/both.md": doc(
                "Shared deal", "The walrus rebate for gold and partners.", "audience: gold"
            ),
            "ops/.audience": "staff  # the on-call team\nops\n",
            "ops/runbook.md": doc("Runbook", "Rotate the walrus keys weekly.", "visibility: internal"),
        },
    )
    base = KnowledgeBase(folder, tmp_path / "index")
    base.sync()
    yield base
    base.close()


def paths(
    kb: KnowledgeBase,
    query: str,
    audiences: frozenset[str] | None,
    scope: DocVisibility = DocVisibility.INTERNAL,
) -> set[str]:
    return {p.path for p in kb.search(query, scope, 10, audiences=audiences).passages}


def test_documents_declare_audiences_in_front_matter_or_by_folder_and_the_nearest_wins(
    kb: KnowledgeBase,
) -> None:
    assert paths(kb, "walrus rebate", EVERYONE) == set()  # not one candidate for an outsider
    assert paths(kb, "walrus rebate", frozenset({"gold"})) == {"gold.md", "partners/both.md"}
    assert paths(kb, "walrus rebate", frozenset({"partners"})) == {"partners/deal.md"}
    assert paths(kb, "walrus", None) >= {"gold.md", "partners/deal.md", "partners/both.md", "ops/runbook.md"}
    assert paths(kb, "walrus keys", frozenset({"ops"})) == {"ops/runbook.md"}
    assert paths(kb, "walrus keys", frozenset({"ops"}), DocVisibility.PUBLIC) == set()  # both filters hold
    assert paths(kb, "annual plans", EVERYONE) == {"open.md"}  # no audience: for everyone
    assert kb.catalog.audiences() == {
        "gold.md": ("gold",),
        "partners/deal.md": ("partners",),
        "partners/both.md": ("gold",),
        "ops/runbook.md": ("ops", "staff"),
    }


def test_a_changed_folder_declaration_rereads_the_files_beneath_it(kb: KnowledgeBase) -> None:
    (kb.folder / "partners" / "_audience.yml").write_text("audience: [resellers]\n", encoding="utf-8")
    report = kb.sync()
    assert sorted(report.updated) == ["partners/both.md", "partners/deal.md"]  # unchanged files, re-read
    assert paths(kb, "walrus rebate", frozenset({"partners"})) == set()
    assert paths(kb, "walrus rebate", frozenset({"resellers"})) == {"partners/deal.md"}
    (kb.folder / "partners" / "_audience.yml").unlink()
    kb.sync()
    assert "partners/deal.md" in paths(kb, "walrus rebate", EVERYONE)  # no declaration left: for everyone
    assert kb.sync().updated == []  # and then nothing more to do


def test_a_broken_folder_declaration_leaves_its_documents_out_rather_than_public(kb: KnowledgeBase) -> None:
    (kb.folder / "partners" / "_audience.yml").write_text("[partners\n", encoding="utf-8")
    report = kb.sync()
    failed = dict(report.failed)
    assert set(failed) == {"partners/deal.md", "partners/both.md"}
    assert "_audience.yml is not valid YAML" in failed["partners/deal.md"]
    assert not paths(kb, "walrus rebate", None) & {"partners/deal.md", "partners/both.md"}


def test_a_linked_folder_declaration_counts_as_broken(kb: KnowledgeBase, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.yml").write_text("[partners]\n", encoding="utf-8")
    (kb.folder / "partners" / "_audience.yml").unlink()
    os.symlink(tmp_path / "elsewhere.yml", kb.folder / "partners" / "_audience.yml")
    report = kb.sync()
    assert "symbolic link" in dict(report.failed)["partners/deal.md"]


def test_bad_names_are_refused_with_a_reason(kb: KnowledgeBase) -> None:
    write(kb.folder, {"odd.md": doc("Odd", "Walrus.", "audience: ['*']")})
    [(path, reason)] = kb.sync().failed
    assert path == "odd.md" and "audience names are letters, digits" in reason
    with pytest.raises(AudienceError):
        read_folder_file("_audience.yml", "audience: []\n")
    assert read_folder_file(".audience", "a, b\n# note\nc\n") == ("a", "b", "c")


def test_the_nearest_folder_declaration_applies() -> None:
    folders = FolderAudiences({"": ("all",), "a/b": ("deep",)})
    assert folders.for_file("top.md") == ("all",)
    assert folders.for_file("a/x.md") == ("all",)
    assert folders.for_file("a/b/c/y.md") == ("deep",)
    assert folders.key("a/b/y.md") == "deep"


def test_the_filter_still_fills_k_when_restricted_chunks_outrank_everything(tmp_path: Path) -> None:
    files = {
        f"gold/{n}.md": doc(f"Gold {n}", "otter otter otter otter rebate", "audience: [gold]")
        for n in range(40)
    }
    files |= {f"open/{n}.md": doc(f"Open {n}", f"otter notes number {n} and other things") for n in range(15)}
    write(tmp_path / "docs", files)
    base = KnowledgeBase(tmp_path / "docs", tmp_path / "index")
    base.sync()
    try:
        found = base.search("otter rebate", DocVisibility.INTERNAL, 10, audiences=EVERYONE).passages
        assert len(found) == 10 and all(p.path.startswith("open/") for p in found)
        gold = base.search("otter rebate", DocVisibility.INTERNAL, 10, audiences=frozenset({"gold"})).passages
        assert all(p.path.startswith("gold/") for p in gold)
    finally:
        base.close()


def test_the_welcome_never_links_a_document_for_some_audiences_only(kb: KnowledgeBase) -> None:
    opened = kb.index.first_passage("open.md")
    assert opened is not None and opened.title == "Open pricing"
    assert kb.index.first_passage("gold.md") is None
    assert kb.index.first_passage("partners/deal.md") is None  # by its folder's _audience.yml
