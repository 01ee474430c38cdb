"""Per-workspace settings (`[slack.workspaces.T...]`, `[discord.workspaces.GUILD]`): one bot in
several workspaces, each with its own triage channel, staff, admins and channels."""

from __future__ import annotations

import dataclasses
import io
import itertools
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.console import ConsoleChannel
from bot import policy
from bot.app import Runtime
from bot.channel_types import ChannelMode, DocVisibility, Visibility
from bot.commands import REGISTRY
from bot.config_platforms import DiscordSettings, SlackSettings
from bot.config_validate import SettingsInvalid, validate
from bot.core import Outcome
from bot.types import Author, Command, ConversationRef, InboundMessage, Mention, MentionKind, ReplyKind

CONFIG = """
[slack]
staff_groups = ["S-SHARED"]
admin_users = ["U-BOSS"]
triage_channel = "C-TRIAGE-A"
[slack.workspaces.T-B]
staff_groups = ["S-B-STAFF"]
admin_users = ["U-B-ADMIN"]
triage_channel = "C-TRIAGE-B"
default_mode = "auto-answer"
default_visibility = "public"
"""

_ids = itertools.count(1)


def ask(text: str, workspace: str, author: Author) -> InboundMessage:
    return InboundMessage(
        id=f"w{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace=workspace, channel="C-GEN"),
        author=author,
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 12, 5, 10, 0, tzinfo=UTC),
    )


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(CONFIG)


def test_a_workspace_overrides_only_what_it_names() -> None:
    slack = validate(
        SlackSettings,
        {"staff_groups": ["S1"], "triage_channel": "C1", "workspaces": {"T2": {"triage_channel": "C2"}}},
    )
    there = slack.for_workspace("T2")
    assert (there.triage_channel, there.staff_groups) == ("C2", ("S1",))  # staff shared
    assert slack.for_workspace("T1") is slack and slack.for_workspace(None) is slack
    assert slack.for_workspace("T2") is there  # merged once


@pytest.mark.parametrize(
    ("section", "override", "says"),
    [
        (SlackSettings, {"slash_command": "/help"}, "cannot set slash_command"),
        (DiscordSettings, {"shards": 2}, "cannot set shards"),
        (SlackSettings, {"default_mode": "loud"}, "workspaces.T2: default_mode"),
        (SlackSettings, {"staff_groups": "S1"}, "workspaces.T2: staff_groups"),
    ],
)
def test_a_workspace_setting_that_cannot_apply_is_refused_by_name(
    section: type[SlackSettings] | type[DiscordSettings], override: dict[str, object], says: str
) -> None:
    with pytest.raises(SettingsInvalid, match=says):
        validate(section, {"workspaces": {"T2": override}})


def test_staff_admins_and_channels_are_those_of_the_workspace(rt: Runtime) -> None:
    settings = rt.settings
    b_staff = Author(id="U-1", roles=frozenset({"S-B-STAFF"}))
    shared_staff = Author(id="U-2", roles=frozenset({"S-SHARED"}))
    assert policy.is_staff(b_staff, "slack", settings, "T-B")
    assert not policy.is_staff(b_staff, "slack", settings, "T-A")  # staff of B only
    assert policy.is_staff(shared_staff, "slack", settings, "T-A")
    assert not policy.is_staff(shared_staff, "slack", settings, "T-B")  # B names its own
    assert policy.is_admin(Author(id="U-B-ADMIN"), "slack", settings, "T-B")
    assert not policy.is_admin(Author(id="U-B-ADMIN"), "slack", settings, "T-A")
    in_a = ConversationRef(platform="slack", workspace="T-A", channel="C-GEN")
    in_b = ConversationRef(platform="slack", workspace="T-B", channel="C-GEN")
    assert policy.channel_mode(settings, in_a, Visibility.INTERNAL) == ChannelMode.MENTION_ONLY
    assert policy.channel_mode(settings, in_b, Visibility.INTERNAL) == ChannelMode.AUTO_ANSWER
    assert policy.document_scope(settings, in_a, Visibility.INTERNAL) == DocVisibility.INTERNAL
    assert policy.document_scope(settings, in_b, Visibility.INTERNAL) == DocVisibility.PUBLIC


async def test_each_workspace_hears_of_its_tickets_in_its_own_triage_channel(rt: Runtime) -> None:
    channel = ConsoleChannel(io.StringIO())
    for workspace in ("T-A", "T-B"):
        outcome = await rt.bot.on_message(
            ask("I want to talk to a human please", workspace, Author(id=f"U-ASK-{workspace}")), channel
        )
        assert outcome == Outcome.ESCALATED
    cards = {r.conversation.workspace: r for _, r in channel.posted if r.kind == ReplyKind.TICKET}
    assert cards["T-A"].conversation.channel == "C-TRIAGE-A"
    assert cards["T-B"].conversation.channel == "C-TRIAGE-B"
    tagged = {
        r.conversation.workspace: r.mentions for _, r in channel.posted if r.kind == ReplyKind.ESCALATION
    }
    assert tagged["T-A"] == (Mention(kind=MentionKind.GROUP, id="S-SHARED"),)
    assert tagged["T-B"] == (Mention(kind=MentionKind.GROUP, id="S-B-STAFF"),)


def test_an_admin_command_is_allowed_only_in_the_workspace_that_names_the_admin(rt: Runtime) -> None:
    admin = Author(id="U-B-ADMIN", name="Bea")
    reindex = REGISTRY.get("reindex")
    assert reindex is not None and reindex.admin_only
    for workspace, allowed in (("T-B", True), ("T-A", False)):
        command = Command(
            id=f"c-{workspace}",
            name="reindex",
            args="",
            conversation=ConversationRef(platform="slack", workspace=workspace, channel="C-GEN"),
            invoker=admin,
            visibility=Visibility.INTERNAL,
        )
        assert rt.bot.commands.may_run(reindex, command) is allowed


def test_a_copy_with_other_settings_does_not_answer_from_the_original() -> None:
    slack = validate(SlackSettings, {"staff_users": ["U1"], "workspaces": {"T2": {"triage_channel": "C2"}}})
    assert slack.for_workspace("T2").staff_users == ("U1",)
    copied = dataclasses.replace(slack, staff_users=("U2",))
    assert copied.for_workspace("T2").staff_users == ("U2",)
    assert slack.for_workspace("T2").staff_users == ("U1",)


async def test_nobody_works_a_ticket_from_another_workspace(rt: Runtime) -> None:
    channel = ConsoleChannel(io.StringIO())
    await rt.bot.on_message(ask("I want to talk to a human please", "T-B", Author(id="U-ASK")), channel)
    [ticket] = rt.state.tickets()
    assert ticket.conversation.workspace == "T-B"
    # a workspace admin of T-A (admins by Slack's own flag, as workspace_admins_are_admins says)
    admin_of_a = Author(id="U-A-OWNER", platform_admin=True, roles=frozenset({"S-SHARED"}))
    from_a = ConversationRef(platform="slack", workspace="T-A", channel="C-GEN")
    refused = await rt.bot.escalations.claim(ticket.id, admin_of_a, channel, from_a)
    assert not refused.changed and "another workspace" in refused.message
    assert rt.state.ticket(ticket.id).status.value == "open"  # type: ignore[union-attr]
    staff_of_b = Author(id="U-B-1", roles=frozenset({"S-B-STAFF"}))
    from_b = ConversationRef(platform="slack", workspace="T-B", channel="C-GEN")
    assert (await rt.bot.escalations.claim(ticket.id, staff_of_b, channel, from_b)).changed
