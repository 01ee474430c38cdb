"""Routing: who is tagged for a ticket, and when.

By knowledge tag, else by the channel's own staff, else the platform's staff; the second
tier when a ticket has waited too long; and outside business hours either the on-call
people at once or nobody until the team opens. Pure functions of the settings and the
clock's reading: nothing here posts or stores anything. Each platform's settings answer
for their own group names (`PlatformSettings.people` and friends), so nothing here asks
which platform it is looking at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot import policy
from bot.channel_types import is_direct
from bot.config import Duty, People, Settings
from bot.hours import BusinessHours
from bot.types import ConversationRef, Mention, MentionKind, SlaStage, Ticket, TicketStatus


def _mentions(people: People, group_kind: MentionKind) -> tuple[Mention, ...]:
    # groups first: one group ping reaches more people than the named users after it
    return tuple(Mention(kind=group_kind, id=g) for g in people.groups) + tuple(
        Mention(kind=MentionKind.USER, id=u) for u in people.users
    )


def staff_mentions(
    settings: Settings,
    conversation: ConversationRef,
    tags: Iterable[str] = (),
    tier: Duty = Duty.FIRST_TIER,
) -> tuple[Mention, ...]:
    """The staff to tag for a ticket: by knowledge tag, else by channel, else the platform's
    staff (the first tier); the platform's second tier or on-call people for those tiers."""
    ps = policy.platform_settings(settings, conversation.platform, conversation.workspace)
    if ps is None:
        return ()
    if tier != Duty.FIRST_TIER:
        return _mentions(ps.people(tier), ps.group_kind)
    for tag in tags:
        route = settings.escalation.tags.get(tag)
        if route is not None and (by_tag := ps.tag_people(route)):
            return _mentions(by_tag, ps.group_kind)
    channel = ps.channels.get(conversation.channel)
    if channel is not None and (by_channel := ps.channel_people(channel)):
        return _mentions(by_channel, ps.group_kind)
    return _mentions(ps.people(Duty.FIRST_TIER), ps.group_kind)


def direct_message(conversation: ConversationRef) -> bool:
    """Whether `conversation` is a direct message, which nobody of the team reads
    (`bot.channel_types.is_direct`): staff cannot be tagged or write there, so its ticket's
    pings and reminders go to the triage channel (`TicketPosts.for_staff`), and the asker is
    not told a person will reply in it."""
    return is_direct(conversation.platform, conversation.workspace, conversation.channel)


def business_hours(settings: Settings) -> BusinessHours:
    e = settings.escalation
    return BusinessHours.parse(e.business_hours, e.business_days, e.timezone)


@dataclass(frozen=True, kw_only=True)
class FirstPing:
    """Who a new ticket tags now, and where its SLA clock starts."""

    mentions: tuple[Mention, ...]  # empty: nobody now (after hours, or no staff configured)
    stage: int  # an SlaStage
    due: datetime  # the first deadline, or when the team opens
    remind: bool  # whether anyone could be reminded at all: without, the clock never runs


def first_ping(
    settings: Settings,
    hours: BusinessHours,
    conversation: ConversationRef,
    tags: Iterable[str],
    now: datetime,
) -> FirstPing:
    tags = tuple(tags)
    staff = staff_mentions(settings, conversation, tags)
    oncall = staff_mentions(settings, conversation, tier=Duty.ONCALL)
    remind = bool(staff or oncall)
    first_due = hours.add_minutes(now, settings.escalation.first_response_minutes)
    if hours.is_open(now):
        return FirstPing(mentions=staff, stage=SlaStage.FIRST_RESPONSE, due=first_due, remind=remind)
    if oncall:
        return FirstPing(mentions=oncall, stage=SlaStage.FIRST_RESPONSE, due=first_due, remind=remind)
    # nobody is in: do not ping now; the SLA clock pings when the team opens
    return FirstPing(mentions=(), stage=SlaStage.WAITING_FOR_HOURS, due=hours.next_open(now), remind=remind)


def card_tags(settings: Settings, hours: BusinessHours, ticket: Ticket, now: datetime) -> tuple[Mention, ...]:
    """Whom `ticket`'s card tags as it goes up: nobody, as its note tags staff, but for an open
    ticket of a direct message, whose note tags nobody: the staff its opening tags now."""
    if ticket.status != TicketStatus.OPEN or not direct_message(ticket.conversation):
        return ()
    return first_ping(settings, hours, ticket.conversation, ticket.tags, now).mentions
