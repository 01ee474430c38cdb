"""Odd INTERACTION_CREATE dispatches (adapters/discord/command_tree.py, interactions.py): an
invocation of a command the bot no longer has in that shape (renamed, removed, other
options: Discord shows people the last commands it was given) or one with no name is one
line and a private "this command changed" to the person, never a traceback or "The
application did not respond"; a form submitted with rows that are not objects reads as no
text.

The real discord.py client against the fake Discord gateway and REST API, the real core.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from adapters.discord import DiscordAdapter
from adapters.discord.commands import COMMAND_GROUP
from tests.adapters.test_discord_adapter import adapter, fake, runtime  # noqa: F401  (fixtures)
from tests.adapters.test_slack_http_hostile import tracebacks
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(60)


def _stale(server: FakeDiscord) -> dict[str, Any]:
    interaction = server.build_slash_command(COMMAND_GROUP, "status")
    interaction["data"]["options"][0]["name"] = "retired-command"
    return interaction


def _without_its_option(server: FakeDiscord) -> dict[str, Any]:
    interaction = server.build_slash_command(COMMAND_GROUP, "ask", {"question": "hello"})
    interaction["data"]["options"][0]["options"] = []
    return interaction


def _nameless(server: FakeDiscord) -> dict[str, Any]:
    interaction = server.build_slash_command(COMMAND_GROUP, "status")
    del interaction["data"]["name"]
    return interaction


def _odd_options(server: FakeDiscord) -> dict[str, Any]:
    interaction = server.build_slash_command(COMMAND_GROUP, "status")
    interaction["data"]["options"] = ["status", None]
    return interaction


async def _settled(bot: DiscordAdapter) -> None:
    await asyncio.sleep(0.5)  # discord.py runs the tree in a task of its own
    assert await bot.drain(5)


@pytest.mark.parametrize(
    ("build", "kind"),
    [
        (_stale, "CommandNotFound"),
        (_without_its_option, "CommandSignatureMismatch"),
        (_nameless, "a shape Discord does not send"),
        (_odd_options, "a shape Discord does not send"),
    ],
    ids=["stale-subcommand", "missing-required-option", "no-name", "options-not-objects"],
)
async def test_an_out_of_date_or_odd_command_is_one_line_and_the_person_is_told(
    fake: FakeDiscord,  # noqa: F811
    adapter: DiscordAdapter,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    build: Any,
    kind: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    interaction = build(fake)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    await _settled(adapter)
    assert tracebacks(caplog) == []
    said = [r.getMessage() for r in caplog.records if kind in r.getMessage()]
    assert len(said) == 1, said
    record = fake.interactions[interaction["id"]]
    assert record.callback_type == 4 and record.ephemeral  # answered, to them alone
    assert "/support help" in record.callback_data["content"]


async def test_the_person_is_told_in_their_language(
    fake: FakeDiscord,  # noqa: F811
    adapter: DiscordAdapter,  # noqa: F811
) -> None:
    interaction = _stale(fake)
    interaction["locale"] = "ko"
    await fake.dispatch("INTERACTION_CREATE", interaction)
    await _settled(adapter)
    content = fake.interactions[interaction["id"]].callback_data["content"]
    assert "명령" in content and "/support help" in content


@pytest.mark.parametrize(
    "components",
    [[None], ["row"], [{"type": 1, "components": [None]}], [{"type": 18, "component": "x"}], {"a": 1}],
    ids=["null-row", "string-row", "null-input", "string-label", "object"],
)
async def test_a_form_submitted_with_rows_that_are_not_objects_is_no_traceback(
    fake: FakeDiscord,  # noqa: F811
    adapter: DiscordAdapter,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    components: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = fake.channels[str(fake.text_channel_id)]
    payload = fake._interaction_base(5, user_id=str(fake.user_id), channel=channel)
    payload["data"] = {"custom_id": "supportbot:edit_draft:1", "components": components}
    await fake.dispatch("INTERACTION_CREATE", payload)
    await _settled(adapter)
    assert tracebacks(caplog) == []
    assert fake.interactions[payload["id"]].acknowledged_at is not None  # the form closed
