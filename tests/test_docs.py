"""The documentation is the knowledge folder: it must name every command and every setting."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import get_args, get_origin, get_type_hints

from bot.commands import REGISTRY
from bot.config import FileSettings, Section

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"


def _all_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(KNOWLEDGE.glob("*.md")))


def test_every_command_is_documented_with_its_help() -> None:
    commands = (KNOWLEDGE / "commands.md").read_text(encoding="utf-8")
    flat = " ".join(commands.split())
    for spec in REGISTRY:
        assert f"### {spec.name}" in commands, spec.name
        assert spec.usage() in commands, spec.usage()
        assert spec.help in flat, f"help text of {spec.name} differs from knowledge/commands.md"


def test_every_setting_is_documented() -> None:
    reference = (KNOWLEDGE / "configuration.md").read_text(encoding="utf-8")
    for section, model in get_type_hints(FileSettings).items():
        if section not in {f.name for f in dataclasses.fields(FileSettings)}:
            continue  # a class attribute, not a table of the file
        if get_origin(model) is dict:  # a table of named sections, like [audiences.NAME]
            model = get_args(model)[1]
            section = f"{section}.NAME"
        assert f"## [{section}]" in reference, section
        assert isinstance(model, type) and issubclass(model, Section)
        body = reference.split(f"## [{section}]", 1)[1].split("\n## ", 1)[0]
        for key in (f.name for f in dataclasses.fields(model)):
            assert f"`{key}`" in body, f"[{section}] {key} is not documented in knowledge/configuration.md"


def test_every_environment_variable_is_documented() -> None:
    config_source = (Path(__file__).resolve().parent.parent / "bot" / "config.py").read_text(encoding="utf-8")
    import re

    names = set(re.findall(r'"((?:SLACK|DISCORD|OPENAI|SUPPORTBOT)_[A-Z_]+)"', config_source))
    reference = (KNOWLEDGE / "configuration.md").read_text(encoding="utf-8")
    assert names, "no environment variables found"
    for name in names:
        assert f"`{name}`" in reference, name


def test_there_is_a_korean_faq_and_the_guide_covers_the_basics() -> None:
    names = {p.name for p in KNOWLEDGE.glob("*.md")}
    for required in (
        "installation.md",
        "configuration.md",
        "slack-setup.md",
        "discord-setup.md",
        "escalation.md",
        "commands.md",
        "privacy.md",
        "faq.md",
        "faq-ko.md",
    ):
        assert required in names, required
    assert "자주 묻는 질문" in (KNOWLEDGE / "faq-ko.md").read_text(encoding="utf-8")


def test_internal_links_point_at_existing_pages() -> None:
    import re

    for page in KNOWLEDGE.glob("*.md"):
        for target in re.findall(r"\]\(([a-z0-9-]+\.md)\)", page.read_text(encoding="utf-8")):
            assert (KNOWLEDGE / target).exists(), f"{page.name} links to missing {target}"
