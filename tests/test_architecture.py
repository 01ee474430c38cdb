"""The shape DESIGN.md asks for: the core imports no platform SDK, and dependencies point inward."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDKS = ("slack_bolt", "slack_sdk", "discord", "openai", "aiohttp")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_no_platform_sdk() -> None:
    offenders = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        allowed = {"openai"} if path.name == "llm.py" and path.parent.name == "answering" else set()
        for name in _imports(path):
            top = name.split(".")[0]
            if top in SDKS and top not in allowed:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_core_does_not_import_adapters_at_module_level() -> None:
    """bot/ may load an adapter by name when asked to run it, never depend on one."""
    offenders = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("adapters"):
                offenders.append(str(path.relative_to(ROOT)))
            if isinstance(node, ast.Import) and any(a.name.startswith("adapters") for a in node.names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_only_store_and_migrations_speak_sql() -> None:
    speakers = set()
    for path in sorted((ROOT / "bot").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "import sqlite3" in text or "sqlite_utils" in text:
            speakers.add(path.name)
    assert speakers == {"store.py", "migrations.py"}


def test_only_config_reads_the_environment() -> None:
    readers = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "bot").rglob("*.py")
        if "os.environ" in path.read_text(encoding="utf-8") or "getenv(" in path.read_text(encoding="utf-8")
    }
    assert readers == {"bot/config.py"}


def test_nothing_of_ours_shadows_the_discord_package() -> None:
    """Only adapters/discord.py may carry the name, and it is imported as adapters.discord."""
    ours = [
        p for folder in ("bot", "adapters", "tests", "bench") for p in (ROOT / folder).rglob("discord.py")
    ]
    assert ours == [ROOT / "adapters" / "discord.py"]
