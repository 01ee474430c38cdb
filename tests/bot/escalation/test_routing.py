"""Routing as pure functions of the settings: who is tagged, and when; and the per-platform
settings answering the same questions in their own words."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.config import DiscordSettings, Duty, People, Settings, SlackSettings
from bot.escalation import TicketRequest, business_hours, first_ping, staff_mentions
from bot.types import (
    Author,
    ConversationRef,
    EscalationReason,
    Mention,
    MentionKind,
    ReplyKind,
    SlaStage,
    TicketStatus,
)

CONFIG = """
[slack]
staff_groups = ["S-T1"]
staff_users = ["U-T1"]
second_tier_groups = ["S-T2"]
oncall_users = ["U-ONCALL"]
admin_groups = ["S-ADM"]
[slack.channels.C-BILLING]
staff_users = ["U-BILLING"]
staff_roles = ["ignored on slack"]
[discord]
staff_roles = ["R-T1"]
second_tier_roles = ["R-T2"]
admin_roles = ["R-ADM"]
forum_channels = ["F1"]
[discord.channels."7"]
staff_roles = ["R-CHAN"]
staff_groups = ["ignored on discord"]
[escalation]
business_hours = "09:00-18:00"
[escalation.tags.billing]
slack_staff_groups = ["S-BILLING"]
discord_staff_users = ["D-BILLING"]
"""

SATURDAY = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
MONDAY = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(CONFIG)


def where(platform: str, channel: str = "C-GEN") -> ConversationRef:
    return ConversationRef(platform=platform, workspace="W", channel=channel)


def test_each_platform_names_its_groups_its_own_way_but_answers_alike(settings: Settings) -> None:
    assert settings.slack.people(Duty.FIRST_TIER) == People(users=("U-T1",), groups=("S-T1",))
    assert settings.slack.people(Duty.ADMIN) == People(groups=("S-ADM",))
    assert settings.discord.people(Duty.SECOND_TIER) == People(groups=("R-T2",))
    assert not settings.discord.people(Duty.ONCALL)
    assert (SlackSettings.group_kind, DiscordSettings.group_kind) == (MentionKind.GROUP, MentionKind.ROLE)
    assert settings.discord.is_forum("F1") and not settings.slack.is_forum("F1")
    assert settings.slack.platform_admins_are_admins and settings.discord.platform_admins_are_admins
    route = settings.escalation.tags["billing"]
    assert settings.slack.tag_people(route) == People(groups=("S-BILLING",))
    assert settings.discord.tag_people(route) == People(users=("D-BILLING",))


def test_people_include_members_of_their_groups() -> None:
    people = People(users=("U1",), groups=("G1",))
    assert people.includes(Author(id="U1"))
    assert people.includes(Author(id="U2", roles=frozenset({"G1"})))
    assert not people.includes(Author(id="U3", roles=frozenset({"G2"})))


def test_routing_order_tag_then_channel_then_platform(settings: Settings) -> None:
    group, role, user = MentionKind.GROUP, MentionKind.ROLE, MentionKind.USER
    assert staff_mentions(settings, where("slack"), ("billing",)) == (Mention(kind=group, id="S-BILLING"),)
    # a channel's own staff: the platform's half of the channel's lists only
    assert staff_mentions(settings, where("slack", "C-BILLING")) == (Mention(kind=user, id="U-BILLING"),)
    assert staff_mentions(settings, where("discord", "7")) == (Mention(kind=role, id="R-CHAN"),)
    assert staff_mentions(settings, where("discord"), ("billing",)) == (Mention(kind=user, id="D-BILLING"),)
    assert staff_mentions(settings, where("slack"), ("other",)) == (
        Mention(kind=group, id="S-T1"),
        Mention(kind=user, id="U-T1"),
    )
    assert staff_mentions(settings, where("discord"), tier=Duty.SECOND_TIER) == (
        Mention(kind=role, id="R-T2"),
    )
    assert staff_mentions(settings, where("console")) == ()


def test_first_ping_in_hours_on_call_after_hours_or_wait(settings: Settings) -> None:
    hours = business_hours(settings)
    open_now = first_ping(settings, hours, where("slack"), (), MONDAY)
    assert open_now.stage == SlaStage.FIRST_RESPONSE and open_now.remind
    assert open_now.mentions[0] == Mention(kind=MentionKind.GROUP, id="S-T1")
    on_call = first_ping(settings, hours, where("slack"), (), SATURDAY)
    assert on_call.mentions == (Mention(kind=MentionKind.USER, id="U-ONCALL"),)
    waiting = first_ping(settings, hours, where("discord"), (), SATURDAY)
    assert waiting.mentions == () and waiting.stage == SlaStage.WAITING_FOR_HOURS
    assert waiting.due == datetime(2026, 12, 7, 9, 0, tzinfo=UTC) and waiting.remind


async def test_a_ticket_request_opens_one_ticket(make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime('[slack]\nstaff_groups = ["S-T1"]\n')
    channel = ConsoleChannel(io.StringIO())
    request = TicketRequest(
        conversation=ConversationRef(platform="slack", workspace="T", channel="C", thread="1.0"),
        asker=Author(id="U-ASK"),
        question="How do I rotate keys?",
        reason=EscalationReason.ASKED_FOR_HUMAN,
        language="en",
    )
    first = await rt.bot.escalations.open_request(request, channel)
    again = await rt.bot.escalations.open_request(request, channel)
    assert first.id == again.id and first.status == TicketStatus.OPEN
    notes = [r for _, r in channel.posted if r.kind == ReplyKind.ESCALATION]
    assert notes[0].mentions == (Mention(kind=MentionKind.GROUP, id="S-T1"),)
    assert "already" in notes[1].text
