"""Knowledge gaps: the questions the documentation does not answer yet, as clusters with a status.

A gap belongs to one workspace (Slack team, Discord server), as its questions do: with several
installed, one workspace's questions never show in another's list. A gap that mixed
workspaces before gaps kept theirs has none (null): it takes no new question, is listed in no
workspace, and only someone who sees every workspace of the platform sees it (the dashboard).

A gap question is an answer record the bot abstained on (a hard gap) or answered and then
saw rated not helpful, marked still stuck, or escalated (a soft gap). Each is assigned to
one gap cluster once (`gap_questions`, keyed by the answer); a cluster is open, addressed
(the documentation now answers it) or dismissed (hidden until enough new asks).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bot.store.rows import insert_row, select_row, transaction
from bot.store.store import Repository, iso, parse_time

if TYPE_CHECKING:
    from bot.store.queue import Reach

PLACED_KEY = "gaps_placed_at"  # in state_meta: when gap questions were last placed


class GapKind(StrEnum):
    HARD = "hard"  # the bot could not answer
    SOFT = "soft"  # it answered, and the answer did not help


class GapStatus(StrEnum):
    OPEN = "open"
    ADDRESSED = "addressed"
    DISMISSED = "dismissed"


@dataclass(frozen=True, kw_only=True)
class GapCandidate:
    answer_id: int
    platform: str
    workspace: str
    question: str
    neighbours: tuple[str, ...]
    scores: tuple[float, ...]
    kind: GapKind
    at: datetime


@dataclass(frozen=True, kw_only=True)
class GapRecord:
    id: int
    platform: str
    workspace: str | None  # None: from before gaps kept their workspace, and mixing several
    kind: GapKind
    representative: str
    signature: str  # JSON, bot.insights.similarity.Signature
    status: GapStatus
    asks: int
    asks_at_dismissal: int
    created_at: datetime
    updated_at: datetime


class GapRepository(Repository):
    def unassigned_gap_questions(self, limit: int = 500) -> list[GapCandidate]:
        """Gap questions not yet in a cluster, oldest first (so clusters grow in asking order)."""
        # `in (subquery)`, not a correlated `exists`: tickets.answer_id has no index, and SQLite
        # then scanned every ticket for every answer (3 s a batch at 100k answers, 10k tickets);
        # the subquery's ids are collected once (bench/dashboard.py: the gaps page)
        rows = self.db.execute(
            "select a.id, a.conversation, a.question, a.neighbours, a.created_at, a.abstained, a.neighbour_scores "
            "from answers a "
            # one replaced by an edit of its question is not a question any more: its revision is
            "where a.id not in (select answer_id from gap_questions) and a.question != '' and a.revised_by is null and ("
            "  a.abstained = 1"
            "  or a.id in (select f.answer_id from feedback f where f.value in ('not_helpful', 'still_stuck'))"
            "  or a.id in (select t.answer_id from tickets t where t.answer_id is not null)"
            ") order by a.id limit ?",
            [limit],
        ).fetchall()
        return [
            GapCandidate(
                answer_id=row[0],
                platform=row[1].split(":", 1)[0],
                workspace=row[1].split(":", 2)[1],
                question=row[2],
                neighbours=tuple(json.loads(row[3] or "[]")),
                scores=tuple(json.loads(row[6] or "[]")),
                kind=GapKind.HARD if row[5] else GapKind.SOFT,
                at=datetime.fromisoformat(row[4]),
            )
            for row in rows
        ]

    def record_gap_placement(self, at: datetime) -> None:
        """Every gap question asked before `at` is in a cluster now (what the gaps page is "as of")."""
        with transaction(self.db):
            self.db.execute(
                "insert into state_meta (key, value) values (?, ?) on conflict (key) do update "
                # never back in time: several workers place, with clocks a little apart
                "set value = excluded.value where excluded.value > state_meta.value",
                [PLACED_KEY, iso(at)],
            )

    def gaps_placed_at(self) -> datetime | None:
        """When gap questions were last placed; None before the first placement."""
        row = self.db.execute("select value from state_meta where key = ?", [PLACED_KEY]).fetchone()
        return parse_time(row[0]) if row else None

    def gaps(
        self,
        platform: str | None,
        statuses: tuple[GapStatus, ...],
        limit: int = 50,
        workspaces: frozenset[str] | None = None,
    ) -> list[GapRecord]:
        """Gaps with one of `statuses`, on one platform or (None) all, most asked first; with
        `workspaces`, theirs alone."""
        marks = ", ".join("?" for _ in statuses)
        where = f"(cast(? as text) is null or platform = ?) and status in ({marks})"
        params: list[Any] = [platform, platform, *statuses]
        if workspaces is not None:
            where += f" and workspace in ({', '.join('?' for _ in workspaces) or 'null'})"
            params.extend(sorted(workspaces))
        rows = self.db.table("gaps").rows_where(
            where,
            params,
            order_by="asks desc, updated_at desc",
            limit=limit,
        )
        return [_gap(row) for row in rows]

    def visible_gaps(
        self, reach: Sequence[Reach], statuses: tuple[GapStatus, ...], limit: int = 50
    ) -> list[GapRecord]:
        """Gaps with one of `statuses` in the workspaces `reach` covers, most asked first."""
        if not reach:
            return []
        parts = [r.by_column() for r in reach]
        marks = ", ".join("?" for _ in statuses)
        rows = self.db.table("gaps").rows_where(
            f"({' or '.join(p[0] for p in parts)}) and status in ({marks})",
            [*(v for p in parts for v in p[1]), *statuses],
            order_by="asks desc, updated_at desc",
            limit=limit,
        )
        return [_gap(row) for row in rows]

    def gap(self, gap_id: int) -> GapRecord | None:
        row = select_row(self.db, "gaps", "id", gap_id)
        return None if row is None else _gap(row)

    def create_gap(self, candidate: GapCandidate, signature: str, at: datetime) -> GapRecord:
        with transaction(self.db):
            new_id = insert_row(
                self.db,
                "gaps",
                {
                    "platform": candidate.platform,
                    "workspace": candidate.workspace,
                    "kind": candidate.kind,
                    "representative": candidate.question,
                    "signature": signature,
                    "status": GapStatus.OPEN,
                    "asks": 1,
                    "asks_at_dismissal": 0,
                    "created_at": iso(at),
                    "updated_at": iso(at),
                },
            )
            gap_id = new_id
            self._link(gap_id, candidate)
        gap = self.gap(gap_id)
        assert gap is not None
        return gap

    def add_to_gap(self, gap_id: int, candidate: GapCandidate, reopen_after: int, at: datetime) -> None:
        """Count one more ask; a dismissed gap shows again once `reopen_after` new asks came in,
        and an addressed one as soon as it is asked again (the fix did not cover this)."""
        with transaction(self.db):
            self._link(gap_id, candidate)
            self.db.execute(
                "update gaps set asks = asks + 1, updated_at = ?, status = case"
                "  when status = 'dismissed' and asks + 1 - asks_at_dismissal >= ? then 'open'"
                "  when status = 'addressed' then 'open'"
                "  else status end "
                "where id = ?",
                [iso(at), reopen_after, gap_id],
            )

    def _link(self, gap_id: int, candidate: GapCandidate) -> None:
        self.db.execute(
            "insert into gap_questions (answer_id, gap_id, question, at) values (?, ?, ?, ?) "
            "on conflict do nothing",
            [candidate.answer_id, gap_id, candidate.question, iso(candidate.at)],
        )

    def set_gap_status(self, gap_id: int, status: GapStatus, at: datetime) -> bool:
        with transaction(self.db):
            cursor = self.db.execute(
                "update gaps set status = ?, updated_at = ?, "
                "asks_at_dismissal = case when ? = 'dismissed' then asks else asks_at_dismissal end "
                "where id = ? and status != ?",
                [status, iso(at), status, gap_id, status],
            )
        return cursor.rowcount == 1

    def gap_questions(self, gap_id: int, limit: int = 10) -> list[tuple[str, datetime]]:
        """The questions of a gap, newest first."""
        rows = self.db.execute(
            "select question, at from gap_questions where gap_id = ? order by at desc limit ?",
            [gap_id, limit],
        ).fetchall()
        return [(row[0], datetime.fromisoformat(row[1])) for row in rows]

    def gap_tickets(self, gap_id: int) -> list[int]:
        """Tickets opened on the gap's questions (in their threads), most recently resolved first."""
        rows = self.db.execute(
            # exists rather than distinct: PostgreSQL sorts a distinct list only by what it selects
            "select t.id from tickets t where exists (select 1 from answers a "
            "join gap_questions g on g.answer_id = a.id where a.conversation = t.conversation and g.gap_id = ?) "
            "order by t.resolved_at is null, t.resolved_at desc, t.id desc",
            [gap_id],
        ).fetchall()
        return [int(row[0]) for row in rows]

    def public_gaps(self, gap_ids: Sequence[int]) -> set[int]:
        """Which of `gap_ids` people who see public documents only asked: a ticket in the
        thread of one of its questions was opened with that scope (a public channel, a guest;
        every gap question hands its thread to people, so there is one; an old ticket without
        a scope is public, as `Ticket.visibility` reads it)."""
        if not gap_ids:
            return set()
        marks = ", ".join("?" for _ in gap_ids)
        rows = self.db.execute(
            "select distinct g.gap_id from gap_questions g join answers a on a.id = g.answer_id "
            "join tickets t on t.conversation = a.conversation "
            f"where g.gap_id in ({marks}) and coalesce(t.visibility, 'public') = 'public'",
            list(gap_ids),
        ).fetchall()
        return {int(row[0]) for row in rows}


def _gap(row: dict[str, Any]) -> GapRecord:
    created = parse_time(row["created_at"])
    updated = parse_time(row["updated_at"]) or created
    assert created is not None and updated is not None
    return GapRecord(
        id=row["id"],
        platform=row["platform"],
        workspace=row.get("workspace"),
        kind=GapKind(row["kind"]),
        representative=row["representative"],
        signature=row["signature"],
        status=GapStatus(row["status"]),
        asks=row["asks"] or 0,
        asks_at_dismissal=row["asks_at_dismissal"] or 0,
        created_at=created,
        updated_at=updated,
    )
