"""The weekly digest: how support went this week against last week, posted once.

`[insights] digest_channel` says where, `digest_weekday` and `digest_hour` when, in the
business-hours time zone. The week is the seven days before that moment. On each clock
tick, once the moment has passed (and for up to a day after it, so a bot that was down
at nine still posts at ten), the run is claimed in the store by its key: one process
posts it, once, across restarts. It holds the week's figures beside last week's (the
same figures as `supportbot report`), the open knowledge gaps and the unresolved tickets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from bot.config import Settings, digest_target
from bot.escalation import age
from bot.hours import DAYS
from bot.insights.collect import collect
from bot.insights.gaps import Gaps
from bot.insights.metrics import Definitions, Metrics, Period, Scope
from bot.ports import Channel, Clock
from bot.privacy.redaction import quoted
from bot.store import AsyncStore, StateStore
from bot.store.gaps import GapRecord
from bot.store.queue import QueuePage, Reach, TicketQuery
from bot.store.state import settle
from bot.types import ConversationRef, Reply, ReplyKind, Ticket, TicketStatus

log = logging.getLogger(__name__)

LATE_LIMIT = timedelta(days=1)  # a digest more than a day late is skipped, not posted on Thursday
STALE_CLAIM = timedelta(minutes=15)  # a claim this old without a post: its process died
SHOWN = 5  # gaps and tickets listed


def due_slot(now: datetime, settings: Settings) -> datetime | None:
    """The digest moment this tick may post for: the latest weekday/hour at or before `now`,
    if it was less than LATE_LIMIT ago."""
    definitions = Definitions.from_settings(settings)
    local = now.astimezone(definitions.hours.zone)
    weekday = DAYS.index(settings.insights.digest_weekday)
    back = (local.weekday() - weekday) % 7
    slot = (local - timedelta(days=back)).replace(
        hour=settings.insights.digest_hour, minute=0, second=0, microsecond=0
    )
    if slot > local:
        slot -= timedelta(days=7)
    return slot if local - slot < LATE_LIMIT else None


class Digest:
    def __init__(self, *, settings: Settings, store: AsyncStore, clock: Clock, gaps: Gaps) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.gaps = gaps

    async def tick(self, channels: Mapping[str, Channel]) -> int:
        """Post the digest if it is due and nobody has; returns 1 if this call posted it."""
        target = digest_target(self.settings.insights.digest_channel)
        if target is None or target.platform not in channels:
            return 0
        platform, channel_id = target.platform, target.channel
        now = self.clock.now()
        slot = due_slot(now, self.settings)
        if slot is None:
            return 0
        key = f"digest:{platform}:{channel_id}:{slot.date().isoformat()}"
        if not await self.store.run(StateStore.claim_job, key, now, STALE_CLAIM):
            return 0
        reply = await self.compose(platform, channel_id, slot, target.workspace)
        await channels[platform].send(reply)  # a failure leaves the claim to go stale: retried later
        # marked done or it is posted again once the claim goes stale: tried again if refused
        await settle(self.store, STALE_CLAIM, StateStore.finish_job, key, self.clock.now())
        log.info("weekly digest posted", extra={"platform": platform, "channel": channel_id})
        return 1

    async def compose(
        self, platform: str, channel_id: str, slot: datetime, workspace: str | None = None
    ) -> Reply:
        """The digest of the platform, or of one `workspace` of it (then posted there)."""
        definitions = Definitions.from_settings(self.settings)
        scope = Scope(platform=platform, workspace=workspace)
        week = Period(since=slot - timedelta(days=7), until=slot)
        before = Period(since=slot - timedelta(days=14), until=week.since)
        # two weeks of figures: long reads, on the reports' connection (AsyncStore.report)
        this = (await self.store.report(collect, week, scope, definitions)).metrics
        last = (await self.store.report(collect, before, scope, definitions)).metrics
        gaps = await self.gaps.refresh(platform, None if workspace is None else frozenset({workspace}))
        # the longest waiting, and how many wait in all: however many are open
        unresolved = TicketQuery(
            reach=(Reach(platform=platform, only=None if workspace is None else frozenset({workspace})),),
            statuses=(TicketStatus.OPEN, TicketStatus.CLAIMED),
            oldest_first=True,
        )
        page = await self.store.run(StateStore.ticket_queue, unresolved, slot, SHOWN)
        text = render(this, last, gaps, page, week, slot, definitions)
        where = ConversationRef(
            platform=platform, workspace=workspace or _workspace(page.tickets), channel=channel_id
        )
        return Reply(conversation=where, text=text, kind=ReplyKind.INFO)


def _workspace(tickets: Sequence[Ticket]) -> str:
    """Slack needs no workspace to post; Discord's guild is known from any conversation."""
    return tickets[0].conversation.workspace if tickets else ""


def _change(now: float | None, before: float | None, *, percent: bool = False) -> str:
    if now is None or before is None:
        return ""
    if percent:
        return f" ({(now - before) * 100:+.0f} pts)"
    if before == 0:
        return " (new)" if now else ""
    return f" ({(now - before) / before:+.0%})"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _minutes(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f} min" if value < 120 else f"{value / 60:.1f} h"


def render(
    this: Metrics,
    last: Metrics,
    gaps: Sequence[GapRecord],
    unresolved: QueuePage,
    week: Period,
    slot: datetime,
    definitions: Definitions,
) -> str:
    zone = definitions.hours.zone
    lines = [
        f"**Weekly support digest** (the 7 days to {week.until.astimezone(zone):%a %d %b %H:%M}; "
        "change against the 7 days before)",
        f"- Questions: {this.questions}{_change(this.questions, last.questions)}; "
        f"answered by the bot: {this.answered} ({_share(_of(this.answered, this.questions))})",
        f"- Resolutions: {this.confirmed_resolutions} confirmed{_change(this.confirmed_resolutions, last.confirmed_resolutions)}, "
        f"{this.assumed_resolutions} assumed{_change(this.assumed_resolutions, last.assumed_resolutions)} (counted apart)",
        f"- Escalations: {this.escalations} ({_share(this.escalation_rate)}"
        f"{_change(this.escalation_rate, last.escalation_rate, percent=True)})",
        f"- Staff first response p50: {_minutes(this.human_first_response_p50_minutes)} "
        f"(last week {_minutes(last.human_first_response_p50_minutes)}); time to resolution p50: "
        f"{_minutes(this.time_to_resolution_p50_minutes)}; business time",
        f"- CSAT: {_share(this.csat)} of {this.ratings_good + this.ratings_bad} ratings",
    ]
    if gaps:
        lines.append("**Top knowledge gaps** (write these pages next):")
        lines += [f"- #{g.id} ({g.asks}x) {quoted(g.representative, 100)}" for g in gaps[:SHOWN]]
    if unresolved.tickets:
        lines.append(f"**Unresolved tickets: {unresolved.total}** (oldest first):")
        lines += [
            f"- #{t.id} [{t.status}] {age(slot - t.created_at)} old: {quoted(t.question, 80)}"
            for t in unresolved.tickets[:SHOWN]
        ]
    else:
        lines.append("No unresolved tickets.")
    return "\n".join(lines)


def _of(part: int, whole: int) -> float | None:
    return part / whole if whole else None
