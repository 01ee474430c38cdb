"""The documentation is the knowledge folder: it must name every command and every setting."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import get_args, get_origin, get_type_hints

from bot.app import build_asking
from bot.commands import REGISTRY
from bot.config import FileSettings, Section, load_settings
from bot.types import DocVisibility

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
    for page in KNOWLEDGE.glob("*.md"):
        for target in re.findall(r"\]\(([a-z0-9-]+\.md)\)", page.read_text(encoding="utf-8")):
            assert (KNOWLEDGE / target).exists(), f"{page.name} links to missing {target}"


ROOT = KNOWLEDGE.parent

# the section each first question the guide tells people to ask is meant to be answered from
FIRST_ANSWERS = {"How do I connect Slack?": ("faq.md", "How do I connect the bot to Slack?")}


def _first_questions() -> dict[str, str]:
    """Where each first question is documented, and the question: the README's first command,
    Getting started's, and the one knowledge/installation.md checks the installation with."""
    texts = {
        "README.md": (ROOT / "README.md").read_text(encoding="utf-8"),
        "getting-started.md": (KNOWLEDGE / "getting-started.md").read_text(encoding="utf-8"),
        "installation.md": (KNOWLEDGE / "installation.md")
        .read_text(encoding="utf-8")
        .split("## Check the installation")[1],
    }
    questions = {}
    for where, text in texts.items():
        found = re.search(r'supportbot ask "([^"]+)"', text)
        assert found, f"{where} asks no first question"
        questions[where] = found.group(1)
    return questions


async def test_the_first_questions_are_answered_by_the_sections_meant_to(tmp_path: Path) -> None:
    """Each first question, asked of the bundled guide offline as a new install asks it, is
    answered from the section meant to answer it (installation.md's check question was
    answered by the FAQ's install entry, which quoted it, not the overview it was asking for)."""
    questions = _first_questions()
    unplanned = {where: q for where, q in questions.items() if q not in FIRST_ANSWERS}
    assert not unplanned, f"say in FIRST_ANSWERS which section answers {unplanned}"
    asking = build_asking(load_settings(knowledge=KNOWLEDGE, data=tmp_path, env={}, cwd=tmp_path))
    try:
        for question in sorted(set(questions.values())):
            answer, _ = await asking.answers.ask(question, DocVisibility.INTERNAL)
            assert not asking.answers.is_abstention(answer), question
            first = answer.citations[0]
            assert (first.path, first.heading) == FIRST_ANSWERS[question], (question, answer.citations)
    finally:
        await asking.aclose()
        asking.close()


# Korean how-to questions in the form people ask them ("…하나요?"), and the FAQ entry that
# answers each (titled "…하려면 어떻게 하나요?"): one verb's endings must strip to one stem
KOREAN_HOW_TOS = {
    "디스코드 봇은 어떻게 연결하나요?": "디스코드에 봇을 초대하고 연결하려면 어떻게 하나요?",
    "슬랙은 어떻게 연결하나요?": "슬랙에 연결하려면 어떻게 하나요?",
    "문서를 고친 뒤 답변은 어떻게 갱신하나요?": "문서를 고친 뒤 답변을 갱신하려면 어떻게 하나요?",
}


async def test_korean_how_to_questions_are_answered_by_their_faq_entries(tmp_path: Path) -> None:
    """A change of this session stripped the connective "…하려면" from a word but not the question
    ending "…하나요", so 연결하려면 (the FAQ's heading) and 연결하나요 (the question) no longer met,
    and "디스코드 봇은 어떻게 연결하나요?" was handed to people; a fresh install's check caught it."""
    asking = build_asking(load_settings(knowledge=KNOWLEDGE, data=tmp_path, env={}, cwd=tmp_path))
    try:
        for question, heading in KOREAN_HOW_TOS.items():
            answer, _ = await asking.answers.ask(question, DocVisibility.PUBLIC)
            assert not asking.answers.is_abstention(answer), question
            assert (answer.citations[0].path, answer.citations[0].heading) == ("faq-ko.md", heading), question
    finally:
        await asking.aclose()
        asking.close()
