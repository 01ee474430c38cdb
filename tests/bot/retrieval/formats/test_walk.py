"""The folder walk skips build output and configuration, and honours [knowledge] exclude."""

from __future__ import annotations

from pathlib import Path

from bot.retrieval.knowledge import KnowledgeBase


def test_skips_are_reported_and_include_warnings_collected(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    for name in ("index.md", "_build/html/index.md", "drafts/wip.md", "notes.txt", "conf.py", "mkdocs.yml"):
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text("# Page\n\ntext\n", encoding="utf-8")
    (docs / "inc.md").write_text('# Inc\n\n--8<-- "../secret.py"\n', encoding="utf-8")
    (docs / "node_modules").mkdir()
    (docs / ".hidden.md").write_text("x", encoding="utf-8")
    kb = KnowledgeBase(
        docs, tmp_path / "index", exclude_globs=("drafts/**", "*.txt"), base_url="https://d.test/"
    )
    try:
        report = kb.sync()
    finally:
        kb.close()
    assert kb.base_url == "https://d.test/"
    assert sorted(report.added) == ["inc.md", "index.md"]
    assert dict(report.skipped) == {
        "_build/": "build output or templates, not documentation",
        "conf.py": "documentation generator configuration",
        "drafts/": "matches [knowledge] exclude 'drafts/**'",
        "mkdocs.yml": "documentation generator configuration",
        "node_modules/": "build output or templates, not documentation",
        "notes.txt": "matches [knowledge] exclude '*.txt'",
    }
    assert report.warnings == [
        ("inc.md", "includes ../secret.py, which is not inside the knowledge folder; it was left out")
    ]
    assert "1 file(s) read with warnings" in report.describe() and "6 skipped" in report.describe()
