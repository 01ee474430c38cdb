"""The ticket queue: tickets filtered the way a support lead triages them (status, platform,
channel, assignee, age, SLA state), counted and paged in SQL, so a queue over ten thousand
tickets reads only the rows it shows. Only the workspaces the viewer has rights in (`Reach`)
are ever read.

The SLA states are the branches of `bot.escalation.cards.sla_state` (the wording on the
triage card and in `/support tickets`), decided here from the same columns: a ticket that
is done, waiting for business hours, without a deadline, overdue, or on time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.store.rows import select_rows
from bot.store.store import Repository, iso, like_prefix
from bot.store.tickets import _ticket
from bot.types import SlaStage, Ticket, TicketStatus


class SlaState(StrEnum):
    OVERDUE = "overdue"  # a deadline has passed
    ON_TIME = "on-time"  # a deadline ahead
    WAITING = "waiting"  # opened out of business hours: the clock starts at opening time
    NO_DEADLINE = "no-deadline"  # past every automatic step, or nothing scheduled
    DONE = "done"  # resolved or closed


@dataclass(frozen=True, kw_only=True)
class Reach:
    """The workspaces of one platform whose tickets a viewer may see: every one but
    `excluded`, or, with `only`, just those. Rights are per workspace, as in the chat."""

    platform: str
    only: frozenset[str] | None = None
    excluded: frozenset[str] = frozenset()

    def covers(self, platform: str, workspace: str) -> bool:
        if platform != self.platform or workspace in self.excluded:
            return False
        return self.only is None or workspace in self.only

    def by_column(self) -> tuple[str, list[Any]]:
        """A condition on a table with `platform` and `workspace` columns. A null workspace
        (a row kept before rows had one, possibly of several) is only for a reach of every
        workspace of the platform."""
        if self.only is not None:
            marks = ", ".join("?" for _ in self.only) or "null"
            return f"(platform = ? and workspace in ({marks}))", [self.platform, *sorted(self.only)]
        if not self.excluded:
            return "(platform = ?)", [self.platform]
        marks = ", ".join("?" for _ in self.excluded)
        return f"(platform = ? and workspace not in ({marks}))", [self.platform, *sorted(self.excluded)]

    def sql(self) -> tuple[str, list[Any]]:
        """A condition on the tickets table (by the conversation key's workspace part)."""
        clauses = ["platform = ?"]
        params: list[Any] = [self.platform]
        if self.only is not None:
            inside = " or ".join("conversation like ? escape '\\'" for _ in self.only) or "0 = 1"
            clauses.append(f"({inside})")
            params += [like_prefix(f"{self.platform}:{w}:") for w in sorted(self.only)]
        for workspace in sorted(self.excluded):
            clauses.append("conversation not like ? escape '\\'")
            params.append(like_prefix(f"{self.platform}:{workspace}:"))
        return "(" + " and ".join(clauses) + ")", params


def reach_sql(reach: Sequence[Reach]) -> tuple[str, list[Any]]:
    """Tickets any of `reach` covers (none: a condition nothing meets)."""
    if not reach:
        return "0 = 1", []
    parts = [r.sql() for r in reach]
    return "(" + " or ".join(p[0] for p in parts) + ")", [v for p in parts for v in p[1]]


@dataclass(frozen=True, kw_only=True)
class TicketQuery:
    reach: tuple[Reach, ...]  # only there: rights are per workspace
    statuses: tuple[TicketStatus, ...] | None = None  # None: every status
    channel: str | None = None  # a `ConversationRef.channel_key`
    assignee: str | None = None  # a user id
    unassigned: bool = False
    older_than: timedelta = timedelta(0)
    sla: SlaState | None = None
    oldest_first: bool = False  # the ones waiting longest (a digest's), not the newest (a queue's)
    after: int | None = None  # the next page: the tickets past this id, in the order asked


@dataclass(frozen=True, kw_only=True)
class QueuePage:
    tickets: list[Ticket]  # in the query's order, at most the limit asked for
    total: int  # how many match (on every page)
    more: bool = False  # more match past the last of `tickets`: there is a next page


STAFF_TICKETS = 1000  # a workspace's newest tickets whose workers are offered to assign to
_ACTIVE_SQL = "status in ('open', 'claimed')"
_CLOCKED = f"{_ACTIVE_SQL} and coalesce(sla_stage, 0) != {SlaStage.WAITING_FOR_HOURS}"
_SLA_SQL = {
    SlaState.DONE: (f"not ({_ACTIVE_SQL})", False),
    SlaState.WAITING: (f"{_ACTIVE_SQL} and coalesce(sla_stage, 0) = {SlaStage.WAITING_FOR_HOURS}", False),
    SlaState.NO_DEADLINE: (f"{_CLOCKED} and next_action_at is null", False),
    SlaState.OVERDUE: (f"{_CLOCKED} and next_action_at <= ?", True),
    SlaState.ON_TIME: (f"{_CLOCKED} and next_action_at > ?", True),
}


def _where(query: TicketQuery, now: datetime) -> tuple[str, list[Any]]:
    scope, params = reach_sql(query.reach)
    where = [scope]
    if query.statuses is not None:
        where.append(f"status in ({', '.join('?' for _ in query.statuses)})")
        params += [str(s) for s in query.statuses]
    if query.channel:
        where.append("conversation like ? escape '\\'")
        params.append(like_prefix(query.channel + ":"))
    if query.unassigned:
        where.append("coalesce(assignee_id, '') = ''")
    elif query.assignee:
        where.append("assignee_id = ?")
        params.append(query.assignee)
    if query.older_than:
        where.append("created_at <= ?")
        params.append(iso(now - query.older_than))
    if query.sla is not None:
        clause, needs_now = _SLA_SQL[query.sla]
        where.append(clause)
        params += [iso(now)] if needs_now else []
    return " and ".join(where), params


class TicketQueueRepository(Repository):
    def ticket_queue(self, query: TicketQuery, now: datetime, limit: int = 200) -> QueuePage:
        """The tickets matching `query`, newest first (or oldest), and how many match in all.
        Paged by id (`after`), not by offset: a page reads only its rows, and a ticket opened
        meanwhile shifts no row onto the next page twice."""
        if not query.reach:
            return QueuePage(tickets=[], total=0)
        where, params = _where(query, now)
        total = self.db.execute(f"select count(*) from tickets where {where}", params).fetchone()[0]
        if query.after is not None:
            where += f" and id {'>' if query.oldest_first else '<'} ?"
            params = [*params, query.after]
        rows = select_rows(
            self.db,
            f"select * from tickets where {where} order by id {'asc' if query.oldest_first else 'desc'} limit ?",
            [*params, limit + 1],  # and one more: whether a next page has any
        )
        return QueuePage(
            tickets=[_ticket(row) for row in rows[:limit]], total=int(total), more=len(rows) > limit
        )

    def queue_people_and_channels(
        self, reach: Sequence[Reach], statuses: Sequence[TicketStatus] | None
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """The channel keys and the (id, name) of the assignees of the tickets in `reach` of
        these statuses: what a queue can be filtered by."""
        if not reach:
            return [], []
        where, params = reach_sql(reach)
        if statuses is not None:
            where += f" and status in ({', '.join('?' for _ in statuses)})"
            params += [str(s) for s in statuses]
        # the conversation key's thread part is the only part that differs within a channel,
        # so the distinct conversations are read, not the tickets
        conversations = self.db.execute(
            f"select distinct conversation from tickets where {where}", params
        ).fetchall()
        channels = sorted({str(row[0]).rsplit(":", 1)[0] for row in conversations})
        people = self.db.execute(
            f"select assignee_id, max(assignee_name) from tickets where {where} "
            "and coalesce(assignee_id, '') != '' group by assignee_id",
            params,
        ).fetchall()
        return channels, sorted((str(row[0]), str(row[1] or row[0])) for row in people)

    def workspace_staff(
        self, platform: str, workspace: str, recent: int = STAFF_TICKETS
    ) -> list[tuple[str, str]]:
        """The (id, name) of the people seen working `workspace`'s `recent` newest tickets: who
        claimed, resolved or reassigned one (rights there were checked when they did), who was
        assigned one, and who wrote in a ticket's thread as staff. Staff by a user group or
        role are known this way: the settings name the group, not its members. The newest
        only: an admin's ticket page asks on the bot's own lane, and a workspace's whole
        history is seconds of reading (today's team is who worked its recent tickets)."""
        rows = self.db.execute(
            # the newest by id, read from the primary key's end. By the conversation key alone
            # (it starts with the platform): a condition on `platform` would have SQLite read
            # all of the platform's tickets by its index, then sort them
            "with recent as (select id, conversation, assignee_id from tickets "
            "where conversation like ? escape '\\' order by id desc limit ?) "
            "select actor_id, null from ticket_events where ticket_id in (select id from recent) "
            f"and event in ({', '.join('?' for _ in _WORKED)}) and coalesce(actor_id, '') != '' "
            "union all "
            "select author_id, author_name from messages where conversation in "
            "(select conversation from recent) and role = 'staff' and coalesce(author_id, '') != '' "
            "union all "
            # whom an admin assigned: the event's detail, and the ticket's current assignee
            "select detail, null from ticket_events where ticket_id in (select id from recent) "
            "and event = 'reassigned' and coalesce(detail, '') != '' "
            "union all "
            "select assignee_id, null from recent where coalesce(assignee_id, '') != ''",
            [like_prefix(f"{platform}:{workspace}:"), recent, *_WORKED],
        ).fetchall()
        people: dict[str, str] = {}
        for person, name in rows:
            people[str(person)] = people.get(str(person)) or str(name or "")
        return sorted(people.items())


# the ticket events only staff (claim, resolve) or admins (reassign) of the ticket's workspace cause
_WORKED = (str(TicketStatus.CLAIMED), str(TicketStatus.RESOLVED), "reassigned")
