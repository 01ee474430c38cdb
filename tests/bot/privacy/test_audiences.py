"""Who belongs to which audience, and the history a non-member's model call may see."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot import policy
from bot.config import Settings
from bot.privacy.audiences import withholds
from bot.store import StateStore
from bot.types import Author, Completion, ConversationRef, Posted

TOML = """
[audiences.partners]
slack_groups = ["S555"]
slack_users = ["U9"]
discord_roles = ["42"]
discord_users = ["7"]

[audiences.gold]
slack_users = ["U1"]
"""


def test_membership_by_platform_user_and_group(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(TOML)
    assert policy.audiences(Author(id="U1"), "slack", settings) == {"gold"}
    assert policy.audiences(Author(id="U2", roles=frozenset({"S555"})), "slack", settings) == {"partners"}
    assert policy.audiences(Author(id="U9", roles=frozenset({"S1"})), "slack", settings) == {"partners"}
    assert policy.audiences(Author(id="8", roles=frozenset({"42"})), "discord", settings) == {"partners"}
    assert policy.audiences(Author(id="7"), "discord", settings) == {"partners"}
    # ids are per platform: a Slack group id means nothing on Discord
    assert policy.audiences(Author(id="U9", roles=frozenset({"S555"})), "discord", settings) == set()
    assert policy.audiences(Author(id="U3"), "slack", settings) == set()
    assert policy.audiences(Author(id="anyone"), "console", settings) == {"partners", "gold"}


def test_outsiders_and_bots_are_never_members(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(TOML)
    # a Slack Connect user (or a guest, or a profile that could not be read) listed by id
    assert policy.audiences(Author(id="U9", external=True), "slack", settings) == set()
    assert policy.audiences(Author(id="U1", is_bot=True), "slack", settings) == set()


def test_withholding(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(TOML)
    assert withholds(settings, frozenset({"gold"}))
    assert not withholds(settings, frozenset({"gold", "partners"}))
    assert not withholds(make_settings(""), frozenset())  # no audiences configured: nothing to hide


def test_history_for_a_non_member_keeps_only_the_bots_answers_to_them(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    thread = ConversationRef(platform="slack", workspace="T", channel="C", thread="1.0")
    at = datetime(2026, 11, 30, tzinfo=UTC)
    for n, (who, question, answer) in enumerate(
        [("U1", "partner question", "partner answer"), ("U2", "my question", "my answer")]
    ):
        store.record_message(
            thread, role="user", text=question, at=at, now=at, author=Author(id=who), platform_id=f"m{n}"
        )
        answer_id = store.record_answer(
            ref=thread,
            message_id=f"m{n}",
            asker_id=who,
            question=question,
            answer=answer,
            confidence=0.9,
            language="en",
            answerer="test",
            abstained=False,
            sources=(),
            top_path=None,
            at=at,
        )
        posted = Posted(message_id=f"b{n}", conversation=thread)
        store.complete_answer(Completion(answer_id=answer_id, posted=posted, text=answer, at=at))
    everything = [t.text for t in store.history(thread)]
    assert everything == ["partner question", "partner answer", "my question", "my answer"]
    assert [t.text for t in store.history(thread, answers_to="U2")] == [
        "partner question",
        "my question",
        "my answer",
    ]
    store.close()
