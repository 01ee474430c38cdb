"""The ticket queue's filter form: what the query string of `/admin/tickets` asks for, as
the store's `TicketQuery` (bot/store/queue.py does the filtering, in SQL).

Every value comes from a GET form that works with JavaScript off, so anything unknown falls
back to "any" rather than failing, and the form shows back what was chosen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlencode

from bot.dashboard.inputs import id_of
from bot.escalation.values import ACTIVE
from bot.store.queue import Reach, SlaState, TicketQuery
from bot.text import scrub
from bot.types import TicketStatus

E = TypeVar("E", bound=StrEnum)
UNASSIGNED = "none"  # the assignee filter's value for tickets nobody has claimed


class StatusFilter(StrEnum):
    ACTIVE = "active"  # open or claimed: what still needs staff
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    CLOSED = "closed"
    ALL = "all"

    @property
    def statuses(self) -> tuple[TicketStatus, ...] | None:
        if self == StatusFilter.ACTIVE:
            return ACTIVE
        if self == StatusFilter.ALL:
            return None
        return (TicketStatus(self.value),)


class AgeFilter(StrEnum):
    """Older than: a queue is triaged oldest-waiting first."""

    ANY = ""
    HOUR = "1h"
    DAY = "1d"
    WEEK = "7d"

    @property
    def at_least(self) -> timedelta:
        return {
            AgeFilter.ANY: timedelta(0),
            AgeFilter.HOUR: timedelta(hours=1),
            AgeFilter.DAY: timedelta(days=1),
            AgeFilter.WEEK: timedelta(days=7),
        }[self]


class QueueOrder(StrEnum):
    """Newest first, or the ones waiting longest (past every page of newer ones otherwise)."""

    NEWEST = ""
    OLDEST = "oldest"


def _choice(kind: type[E], given: str | None, default: E) -> E:
    try:
        return kind(given if given is not None else default.value)
    except ValueError:
        return default


@dataclass(frozen=True, kw_only=True)
class QueueFilter:
    status: StatusFilter = StatusFilter.ACTIVE
    platform: str = ""  # "" is every platform the viewer has rights on
    channel: str = ""  # a `ConversationRef.channel_key`
    assignee: str = ""  # a user id, UNASSIGNED, or "" for anyone
    age: AgeFilter = AgeFilter.ANY
    sla: str = ""  # a `SlaState` value, or "" for any
    order: QueueOrder = QueueOrder.NEWEST
    after: int | None = None  # a page past the first: the tickets after this one, in `order`

    @classmethod
    def from_query(cls, query: Mapping[str, str], platforms: Sequence[str]) -> QueueFilter:
        platform = query.get("platform", "")
        sla = query.get("sla", "")
        return cls(
            status=_choice(StatusFilter, query.get("status") or None, StatusFilter.ACTIVE),
            platform=platform if platform in platforms else "",
            # compared with stored text in SQL: a NUL would fail PostgreSQL's query, not match
            channel=scrub(query.get("channel", "")).strip(),
            assignee=scrub(query.get("assignee", "")).strip(),
            age=_choice(AgeFilter, query.get("age"), AgeFilter.ANY),
            sla=sla if sla in {s.value for s in SlaState} else "",
            order=_choice(QueueOrder, query.get("order"), QueueOrder.NEWEST),
            after=id_of(query.get("after", "")),
        )

    def link(self, after: int | None = None) -> str:
        """The query string of these filters, of the page after ticket `after` (None: the
        first): what the queue's links to its pages carry, defaults left out."""
        given = {
            "status": self.status.value if self.status != StatusFilter.ACTIVE else "",
            "platform": self.platform,
            "channel": self.channel,
            "assignee": self.assignee,
            "age": self.age.value,
            "sla": self.sla,
            "order": self.order.value,
            "after": str(after) if after is not None else "",
        }
        return urlencode({name: value for name, value in given.items() if value})

    def reach(self, visible: Sequence[Reach]) -> tuple[Reach, ...]:
        """Where to ask the store about: what the viewer may see, on the platform chosen."""
        return tuple(r for r in visible if not self.platform or r.platform == self.platform)

    def query(self, visible: Sequence[Reach]) -> TicketQuery:
        return TicketQuery(
            reach=self.reach(visible),
            statuses=self.status.statuses,
            channel=self.channel or None,
            assignee=None if self.assignee in ("", UNASSIGNED) else self.assignee,
            unassigned=self.assignee == UNASSIGNED,
            older_than=self.age.at_least,
            sla=SlaState(self.sla) if self.sla else None,
            oldest_first=self.order == QueueOrder.OLDEST,
            after=self.after,
        )


# what the form and the table say for each value: English, the key of its Korean (i18n.py)
STATUS_LABELS: dict[str, str] = {
    StatusFilter.ACTIVE: "open or claimed",
    StatusFilter.OPEN: "open",
    StatusFilter.CLAIMED: "claimed",
    StatusFilter.RESOLVED: "resolved",
    StatusFilter.CLOSED: "closed",
    StatusFilter.ALL: "all",
}
AGE_LABELS: dict[str, str] = {
    AgeFilter.ANY: "any",
    AgeFilter.HOUR: "older than an hour",
    AgeFilter.DAY: "older than a day",
    AgeFilter.WEEK: "older than a week",
}
ORDER_LABELS: dict[str, str] = {
    QueueOrder.NEWEST: "newest first",
    QueueOrder.OLDEST: "oldest first",
}
SLA_LABELS: dict[str, str] = {
    "": "any",
    SlaState.OVERDUE: "overdue",
    SlaState.ON_TIME: "on time",
    SlaState.WAITING: "waiting for business hours",
    SlaState.NO_DEADLINE: "no deadline",
    SlaState.DONE: "done",
}
