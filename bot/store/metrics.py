"""The rows support metrics are computed from (knowledge/insights.md defines the figures).

It owns the queries behind `supportbot report` and `/support stats`: the questions of a
period with the asker's verdict on each, people's messages of the period (the questions
themselves, follow-ups, thank-yous), and the tickets of the period with their first staff
reply, resolution and rating. Everything is read "as of" the end of the period: what
happened after it is left out, so the report of a past week does not change with time.

SQL does the joins and picks the few columns needed; the definitions themselves (what is a
confirmed resolution, business minutes, percentiles) are pure Python in bot/insights/metrics.py.
Rows are NamedTuples rather than dataclasses: a report reads 100,000 of them and a tuple is
built several times faster, while staying immutable and typed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from bot.channel_types import Platform
from bot.store.store import Repository, iso, like_prefix

# a message longer than this is never a thank-you or an "ok": its text is not fetched
SHORT_MESSAGE_CHARS = 200
# a question answered just after the period starts was asked just before: its message is read too
QUESTION_LEAD = timedelta(hours=1)
# messages of periods up to this long are found through their `at` index, longer ones by a scan
BY_TIME_UP_TO = timedelta(days=2)


class QuestionRow(NamedTuple):
    id: int
    created_at: str  # when the bot answered (or abstained): the question's place in time
    conversation: str
    channel: str | None  # null on rows from before migration 0005; derived from conversation then
    asker_id: str | None
    language: str | None
    abstained: bool
    message_id: str | None  # the platform id of the asker's message (its time is in the messages)
    verdict: str | None  # the asker's own feedback, as of the end of the period
    # when the answers its asker's edits replaced were given, first first (those of the read;
    # None: none). The question counts once, as its last revision (this row), but the thread is
    # its own from its first answer on: a person or a follow-up asked for in between is about it
    revised_at: tuple[str, ...] | None = None


class AskerMessageRow(NamedTuple):
    conversation: str
    author_id: str
    at: str
    platform_id: str | None
    text: str | None  # only short messages; None for longer ones (always a follow-up)


class TicketRow(NamedTuple):
    id: int
    created_at: str
    conversation: str
    asker_id: str | None
    answer_id: int | None
    language: str | None
    direct: bool  # asked for a person before any answer in its thread: a question of its own
    first_staff_reply_at: str | None
    resolved_at: str | None
    rating: str | None


class TicketMoments(NamedTuple):
    """A ticket with the raw moments behind its figures, so that it can be seen as of any
    end within the period read (bot/insights/buckets.py); TicketRow is it as of one end."""

    id: int
    created_at: str
    conversation: str
    asker_id: str | None
    answer_id: int | None
    language: str | None
    direct: bool
    staff_reply_at: str | None  # the first staff message in its thread, before the period's end
    last_staff_reply_at: str | None  # stands in for it when the messages are gone (retention)
    resolved_at: str | None


class RatingRow(NamedTuple):
    ticket_id: int
    at: str
    rating: str


def channel_pattern(channel: str) -> str:
    """A LIKE pattern (escape '\\') for conversation keys in `channel`: a full channel key
    ("slack:T1:C1") or a bare channel id ("C1", matched between colons)."""
    if channel.count(":") >= 2:
        return like_prefix(channel + ":")
    return "%:" + like_prefix(channel + ":")


def workspace_clause(workspace: str, platform: str | None) -> tuple[str, list[Any]]:
    """ " and (...)" keeping the conversation keys of one workspace: "slack:T1", or "T1" on
    `platform` or (none given) on any. Always the key's second part, never a channel that
    happens to have that id."""
    keys = (
        [workspace]
        if ":" in workspace
        else [f"{p}:{workspace}" for p in ([platform] if platform else Platform)]
    )
    clause = " and (" + " or ".join("conversation like ? escape '\\'" for _ in keys) + ")"
    return clause, [like_prefix(key + ":") for key in keys]


def _scope(platform: str | None, channel: str | None, column: str = "conversation") -> tuple[str, list[Any]]:
    where, params = "", []
    if platform:
        where += f" and {column} like ? escape '\\'"
        params.append(like_prefix(platform + ":"))
    if channel:
        where += f" and {column} like ? escape '\\'"
        params.append(channel_pattern(channel))
    return where, params


def _with_revisions(questions: list[QuestionRow], revised: dict[int, tuple[int, str]]) -> list[QuestionRow]:
    """`questions` with the moments of the answers each one's edits replaced (`revised_at`);
    `revised`: the replaced answers read, each with the answer that replaced it and its moment.
    A revision replaces the newest answer to its message, so a chain of edits only climbs."""
    earlier: dict[int, list[str]] = {}
    for by, at in revised.values():
        while by in revised:
            by = revised[by][0]
        earlier.setdefault(by, []).append(at)
    return [
        row._replace(revised_at=tuple(sorted(earlier[row.id]))) if row.id in earlier else row
        for row in questions
    ]


# the answer a ticket escalated, as its question's last revision: a ticket opened from an answer
# its question's edit replaced still names the replaced one (the newest answer to the same
# message replaced it: bot/store/answers.py revised_statement)
_TICKET_ANSWER = (
    "coalesce((select max(b.id) from answers r join answers b on b.message_id = r.message_id "
    " and b.conversation = r.conversation where r.id = t.answer_id and r.revised_by is not null), t.answer_id)"
)


class MetricsRepository(Repository):
    def figures_version(self) -> tuple[int, ...]:
        """Changes when a question, a message, a ticket event or a rating is added: what
        tells the dashboard's background figures they are behind (bot/dashboard/warm.py).
        Each is the newest id of its table, an index lookup; edits and deletions do not
        change it (the dashboard also refreshes on a timer)."""
        row = self.db.execute(
            "select (select max(id) from answers), (select max(id) from messages), "
            "(select max(id) from ticket_events), (select max(id) from feedback)"
        ).fetchone()
        return tuple(int(value or 0) for value in row)

    @contextmanager
    def metrics_snapshot(self) -> Iterator[None]:
        """One read transaction: every query of a report sees the same state of the file,
        even while a running bot writes to it (WAL readers never block the writer)."""
        if self.db.conn.in_transaction:
            yield
            return
        self.db.execute("begin")
        try:
            yield
        finally:
            self.db.execute("commit")  # nothing was written: this only ends the snapshot

    def metric_questions(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> list[QuestionRow]:
        return self.metric_question_moments(since, until, platform, channel)[0]

    def metric_question_moments(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> tuple[list[QuestionRow], dict[int, str]]:
        """`metric_questions`, and when each verdict found was given (by answer id): as of an
        earlier end, a verdict given after it is not seen yet."""
        where, params = _scope(platform, channel, "a.conversation")
        rows = self.db.execute(
            "select a.id, a.created_at, a.conversation, a.channel, a.asker_id, a.language, a.abstained, "
            # revised_at: none but for an edited question's, below
            " a.message_id, f.value, cast(null as text), f.at, a.revised_by "
            # a scan, not the created_at index: a report reads most of the table, and fetching
            # row after row through the index is 2-3 times slower than reading it in order
            "from answers a not indexed left join feedback f on f.answer_id = a.id "
            " and f.user_id = a.asker_id and f.at < ? "
            "where a.created_at >= ? and a.created_at < ?" + where,
            [iso(until), iso(since), iso(until), *params],
        ).fetchall()
        given = {row[0]: row[10] for row in rows if row[10] is not None}
        # an answer replaced when its question was edited: the question counts once, as its revision
        questions = [QuestionRow._make(row[:10]) for row in rows if row[11] is None]
        revised = {row[0]: (row[11], row[1]) for row in rows if row[11] is not None}
        return (_with_revisions(questions, revised) if revised else questions), given

    def metric_asker_messages(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> list[AskerMessageRow]:
        """People's messages sent in the period (and the hour before it, where the first
        questions were asked): the questions themselves (when they were sent), and the
        follow-ups and thank-yous that decide what became of an answer."""
        where, params = _scope(platform, channel, "m.conversation")
        # the `at` index pays for a short period (a day: 2x faster); over a week or more,
        # fetching row after row through it is 2-3 times slower than reading the table in order
        hint = " not indexed" if until - since > BY_TIME_UP_TO else ""
        rows = self.db.execute(
            "select m.conversation, m.author_id, m.at, m.platform_id, "
            f" case when length(m.text) <= {SHORT_MESSAGE_CHARS} then m.text end "
            f"from messages m{hint} where m.role = 'user' and m.author_id is not null and m.at >= ? and m.at < ?"
            + where,
            [iso(since - QUESTION_LEAD), iso(until), *params],
        ).fetchall()
        return list(map(AskerMessageRow._make, rows))

    def metric_tickets(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> list[TicketRow]:
        where, params = _scope(platform, channel, "t.conversation")
        end = iso(until)
        rows = self.db.execute(
            f"select t.id, t.created_at, t.conversation, t.asker_id, {_TICKET_ANSWER}, t.language, "
            " t.answer_id is null and not exists (select 1 from answers a where a.conversation = t.conversation "
            "   and a.created_at <= t.created_at), "
            # the first reply by a person of the team in the ticket's thread (bot posts excluded);
            # last_staff_reply_at stands in when the messages are gone (retention)
            " coalesce((select min(m.at) from messages m where m.conversation = t.conversation "
            "   and m.role = 'staff' and m.at >= t.created_at and m.at < ?), "
            "   case when t.last_staff_reply_at < ? then t.last_staff_reply_at end), "
            " case when t.resolved_at < ? then t.resolved_at end, "
            " (select e.detail from ticket_events e where e.ticket_id = t.id and e.event = 'rated' "
            "   and e.at < ? order by e.id desc limit 1) "
            "from tickets t where t.created_at >= ? and t.created_at < ?" + where,
            [end, end, end, end, iso(since), end, *params],
        ).fetchall()
        return list(map(TicketRow._make, rows))

    def metric_ticket_moments(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> tuple[list[TicketMoments], list[RatingRow]]:
        """The tickets of `metric_tickets` with their raw moments, and their ratings before
        `until`, oldest first (the latest before an end is the ticket's rating as of then)."""
        where, params = _scope(platform, channel, "t.conversation")
        end = iso(until)
        tickets = self.db.execute(
            f"select t.id, t.created_at, t.conversation, t.asker_id, {_TICKET_ANSWER}, t.language, "
            " t.answer_id is null and not exists (select 1 from answers a where a.conversation = t.conversation "
            "   and a.created_at <= t.created_at), "
            " (select min(m.at) from messages m where m.conversation = t.conversation "
            "   and m.role = 'staff' and m.at >= t.created_at and m.at < ?), "
            " t.last_staff_reply_at, t.resolved_at "
            "from tickets t where t.created_at >= ? and t.created_at < ?" + where,
            [end, iso(since), end, *params],
        ).fetchall()
        ratings = self.db.execute(
            "select e.ticket_id, e.at, e.detail from ticket_events e where e.event = 'rated' and e.at < ? "
            " and e.ticket_id in (select t.id from tickets t where t.created_at >= ? and t.created_at < ?"
            + where
            + ") order by e.id",
            [end, iso(since), end, *params],
        ).fetchall()
        return list(map(TicketMoments._make, tickets)), list(map(RatingRow._make, ratings))

    def top_questions(
        self,
        since: datetime,
        until: datetime,
        platform: str | None = None,
        channel: str | None = None,
        limit: int = 10,
        workspace: str | None = None,
    ) -> list[tuple[str, int]]:
        """The questions asked most often in the period (same words, case and spaces aside),
        of one `workspace` ("T1" or "slack:T1") when given: its people's words are its own."""
        where, params = _scope(platform, channel, "conversation")
        if workspace:
            clause, more = workspace_clause(workspace, platform)
            where += clause
            params.extend(more)
        rows = self.db.execute(
            # a scan for the same reason as metric_questions (here 3 times faster than the index)
            "select min(question), count(*) as n from answers not indexed "
            # a question emptied by retention or forget-me has no words left to list
            "where created_at >= ? and created_at < ? and question != '' and revised_by is null"
            + where
            + " group by lower(trim(question)) order by n desc, max(created_at) desc limit ?",
            [iso(since), iso(until), *params, limit],
        ).fetchall()
        return [(str(row[0]), int(row[1])) for row in rows]
