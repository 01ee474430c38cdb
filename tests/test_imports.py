"""What a command loads: `supportbot ask` imports only what answering from the index needs, so it
starts quickly (the time itself is measured by bench/ask_cold.py, never asserted here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import bot.store

ROOT = Path(__file__).resolve().parents[1]

# what `ask` on the default knowledge folder, with no platform or model configured, must not load
NOT_FOR_ASK = (
    # platform SDKs, the model client, the web server and its templates, the PostgreSQL driver
    "slack_bolt",
    "slack_sdk",
    "discord",
    "openai",
    "aiohttp",
    "jinja2",
    "psycopg",
    "psycopg_pool",
    # only `[privacy] redact = ["phone"]` needs it
    "phonenumbers",
    # chat's machinery: the core, the state store's repositories, tickets, insights, commands
    "bot.core",
    "bot.actions",
    "bot.store.state",
    "bot.escalation",
    "bot.insights",
    "bot.commands",
    "bot.privacy.drafts",
    "bot.dashboard",
    "bot.cluster",
    "adapters.slack",
    "adapters.discord",
    # typer's rich help is for --help and errors only
    "rich",
    "pygments",
    # what only a model answer needs: its client, the prompt and the context it is given
    "httpx",
    "bot.answering.llm",
    "bot.answering.openai_client",
    "bot.answering.prompt",
    "bot.answering.context",
    # the conversation store, the folder watcher, other commands
    "bot.store.conversations",
    "bot.retrieval.watch",
    "watchfiles",
    "bot.doctor",
    "bot.evaluation",
    # every port's protocol: what answers imports them for type checking only (bot/clock.py
    # holds the real clock)
    "bot.ports",
    # the settings' validator: with no settings file and no tokens there is nothing to check,
    # and the defaults are valid by construction (tests/bot/test_config.py holds them so)
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "bot.config_validate",
)
# and, once the index is in step with the folder (every start after the first), what only a
# changed file needs: the parsers and the chunker
NOT_FOR_ASK_IN_STEP = (
    "yaml",
    "frontmatter",
    "selectolax",
    "docutils",
    "markdown_it",
    "bot.retrieval.formats",
    "bot.retrieval.chunking",
    # the catalog's migrations are written with it: only a new or older catalog.db needs it
    "sqlite_utils",
    # the package metadata reader (pydantic's plugin lookup used it; a parser may load it on a read)
    "importlib.metadata",
)

_ASK = textwrap.dedent(
    """
    import json, sys
    from bot.cli import main

    data, out = sys.argv[1:3]
    sys.argv = ["supportbot", "ask", "--json", "--data", data, "How do I connect Slack?"]
    try:
        main()
    except SystemExit as exc:
        if exc.code:
            raise
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"modules": sorted(sys.modules)}, handle)
    """
)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "OPENAI_", "SUPPORTBOT_"))
    }
    return {**env, **extra}


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules for n in names if m == n or m.startswith(n + "."))


def _ask(data: Path, out: Path) -> dict[str, list[str]]:
    """`supportbot ask` in a fresh interpreter: what it loaded."""
    done = subprocess.run(
        [sys.executable, "-c", _ASK, str(data), str(out)],
        cwd=ROOT,  # the checkout's knowledge/ is the default folder
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert not answer["abstained"] and answer["answerer"] == "extractive"  # it really answered
    loaded: dict[str, list[str]] = json.loads(out.read_text(encoding="utf-8"))
    assert "bot.answering.pipeline" in loaded["modules"] and "tantivy" in loaded["modules"]  # it sees imports
    return loaded


def test_ask_on_the_default_knowledge_loads_no_sdk_and_not_the_chat_core(tmp_path: Path) -> None:
    first = _ask(tmp_path / "data", tmp_path / "first.json")  # indexes the folder
    assert _loaded(first["modules"], NOT_FOR_ASK) == []
    assert "bot.retrieval.chunking" in first["modules"]  # it read the files: the parsers are needed
    # nothing recorded: a question from the terminal is not a conversation
    assert not (tmp_path / "data" / "state.db").exists()

    again = _ask(tmp_path / "data", tmp_path / "again.json")  # the index is in step: nothing to read
    assert _loaded(again["modules"], NOT_FOR_ASK + NOT_FOR_ASK_IN_STEP) == []


def test_the_cli_itself_loads_only_typer_and_its_command_modules() -> None:
    """What every command pays before it runs (`init`, `index`, `report` included): each command
    imports what it needs; the settings models, the event loop and the index come with it."""
    done = subprocess.run(
        [sys.executable, "-c", "import bot.cli, json, sys; print(json.dumps(sorted(sys.modules)))"],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout)
    assert "typer" in modules and "bot.cli_store" in modules  # the check sees imports
    heavy = ("asyncio", "pydantic", "bot.config", "bot.types", "bot.app", "bot.store", "tantivy", "rich")
    assert _loaded(modules, heavy) == []


def test_every_name_bot_store_exports_resolves() -> None:
    """bot/store/__init__.py imports each name on first use: each one it lists must exist."""
    for name in bot.store.__all__:
        value = getattr(bot.store, name)
        assert getattr(value, "__name__", name) == name or not callable(value)
    missing = "NoSuchRepository"
    try:
        getattr(bot.store, missing)
    except AttributeError as exc:
        assert missing in str(exc)
    else:
        raise AssertionError("an unknown name resolved")
