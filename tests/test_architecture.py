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
        model_client = path.parent.name == "answering" and path.name in ("llm.py", "openai_client.py")
        allowed = {"openai"} if model_client else set()
        if path.parent.name == "dashboard":  # DESIGN.md: the dashboard's routes are aiohttp's; no chat SDK
            allowed = {"aiohttp"}
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
        if "import sqlite3" in text or "sqlite_utils" in text or "psycopg" in text:
            speakers.add(path.name)
    # leases.py: a lease is a PostgreSQL session of its own (bot/store/leases.py); sqlite_file.py
    # opens a SQLite file and the catalog queries it with the driver alone (the cold `ask` path);
    # rows.py holds the transactions every repository opens; postgres_connection.py is the
    # store's psycopg connection (its deadline, its check for a session the server ended);
    # urls.py reads a database URL with libpq's own parser (psycopg.conninfo) so what it masks
    # is what libpq takes for the password; postgres_advice.py turns psycopg's errors into advice;
    # postgres_migrating.py tries a migration again when PostgreSQL's lock wait ran out
    assert speakers == {
        "store.py", "migrations.py", "migrations_later.py", "postgres.py", "postgres_table.py", "leases.py",
        "sqlite_file.py", "catalog.py", "rows.py", "postgres_connection.py", "urls.py", "postgres_advice.py",
        "postgres_migrating.py",
    }  # fmt: skip


def test_only_config_reads_the_environment() -> None:
    readers = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "bot").rglob("*.py")
        if "os.environ" in path.read_text(encoding="utf-8") or "getenv(" in path.read_text(encoding="utf-8")
    }
    assert readers == {"bot/config.py"}


def test_nothing_of_ours_shadows_the_discord_package() -> None:
    """Only the adapter package adapters/discord/ may carry the name (imported as adapters.discord)."""
    folders = ("bot", "adapters", "tests", "bench")
    modules = [p for folder in folders for p in (ROOT / folder).rglob("discord.py")]
    packages = [
        p for folder in folders for p in (ROOT / folder).rglob("discord") if (p / "__init__.py").is_file()
    ]
    assert modules == []
    assert packages == [ROOT / "adapters" / "discord"]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Every import between our modules in bot/ and adapters/, type-only ones included (a
    circle through TYPE_CHECKING is still a circle a reader has to untangle)."""
    paths = [p for top in ("bot", "adapters") for p in sorted((ROOT / top).rglob("*.py"))]
    modules = {_module_name(p): p for p in paths}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from bot import policy` imports the module bot.policy; `from bot.x import Y` imports bot.x
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_there_are_no_import_circles() -> None:
    assert _circles(_import_graph()) == []


def test_the_circle_check_finds_circles_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": set(), "f": {"f"}}
    assert _circles(graph) == [["a", "b", "c"]]
    assert _circles({"x": {"y"}, "y": set()}) == []
