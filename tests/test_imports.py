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
        json.dump(sorted(sys.modules), handle)
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


def test_ask_on_the_default_knowledge_loads_no_sdk_and_not_the_chat_core(tmp_path: Path) -> None:
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _ASK, str(tmp_path / "data"), str(out)],
        cwd=ROOT,  # the checkout's knowledge/ is the default folder
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert not answer["abstained"] and answer["answerer"] == "extractive"  # it really answered
    modules = json.loads(out.read_text(encoding="utf-8"))
    assert "bot.answering.pipeline" in modules and "tantivy" in modules  # the check sees imports
    assert _loaded(modules, NOT_FOR_ASK) == []
    # nothing recorded: a question from the terminal is not a conversation
    assert not (tmp_path / "data" / "state.db").exists()


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
