"""Bursts and incidents: many people asking the same thing now, and the known issue staff declare.

It owns the recent questions burst detection reads, the burst alerts (one per cluster per
cooldown), incidents (open -> closed, each closed once) and the notices an incident put on
answers (one per thread, each told of the closing once). Signatures are stored as the JSON
`bot.insights.similarity` writes; this module does not read them. The SQL of the reads that
are also sent together with others is bot/store/incident_statements.py's.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.store.incident_statements import (
    askers_statement,
    burst_ids_statement,
    incidents_statement,
    recent_statement,
)
from bot.store.rows import insert_row, select_row, select_rows, transaction, update_row
from bot.store.store import IntegrityError, Repository, in_workspace, iso, parse_time
from bot.types import ConversationRef


class PostKind(StrEnum):
    """The posts claimed on their own row before they are made (bot/store/jobs.py claim_post)."""

    BURST_ALERT = "burst-alert"  # a burst's alert in the triage channel
    INCIDENT_CLOSED = "incident-closed"  # a thread shown an incident's notice, told it is over


@dataclass(frozen=True, kw_only=True)
class RecentQuestion:
    answer_id: int
    conversation: str
    asker_id: str
    question: str
    neighbours: tuple[str, ...]
    scores: tuple[float, ...]
    at: datetime


@dataclass(frozen=True, kw_only=True)
class BurstRecord:
    id: int
    platform: str
    representative: str
    signatures: str  # JSON list of the members' signatures
    askers: int
    channels: tuple[str, ...]
    threads: tuple[str, ...]
    alerted_at: datetime
    workspace: str | None = None  # None: recorded before bursts were kept per workspace


class IncidentStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, kw_only=True)
class IncidentRecord:
    id: int
    platform: str
    text: str
    signatures: str  # JSON list of signatures: the questions it covers
    status: str
    opened_by: str | None
    opened_at: datetime
    closed_at: datetime | None
    close_text: str | None
    burst_id: int | None
    workspace: str | None = None  # None: opened before incidents were kept per workspace


class IncidentRepository(Repository):
    # -- bursts ----------------------------------------------------------------------------

    def askers_since(self, platform: str, since: datetime, enough: int, workspace: str | None = None) -> int:
        """How many different people asked on `platform` since `since`, counted no further than
        `enough`: a burst needs several, and this one count spares loading the questions when
        there are too few. Stopping at `enough` keeps it cheap in a busy window, where a full
        distinct count would read every question of the window for every new one."""
        row = self.db.execute(*askers_statement(platform, since, enough, workspace)).fetchone()
        return int(row[0] or 0)

    def recent_questions(
        self,
        platform: str,
        since: datetime,
        limit: int = 2000,
        after_id: int = 0,
        workspace: str | None = None,
    ) -> list[RecentQuestion]:
        """Questions asked on `platform` since `since`, newest first (at most `limit`: a burst
        is judged on the recent past, never on an unbounded scan); with `after_id`, only those
        recorded after that answer (what a caller keeping the window in memory has not seen)."""
        statement = recent_statement(platform, since, limit, after_id, workspace)
        return recent_of(self.db.execute(*statement).fetchall())

    def blanked_questions(self, answer_ids: Collection[int]) -> set[int]:
        """Those of `answer_ids` whose question is no longer kept: blanked since it was read
        (forget-me, retention) or its row gone. What a window kept in memory (the burst watch)
        asks before it quotes or links a question it read minutes ago."""
        wanted = sorted(set(answer_ids))
        if not wanted:
            return set()
        marks = ", ".join("?" for _ in wanted)
        kept = self.db.execute(f"select id from answers where id in ({marks}) and question != ''", wanted)
        return set(wanted) - {row[0] for row in kept.fetchall()}

    def bursts_since(self, platform: str, since: datetime, workspace: str | None = None) -> list[BurstRecord]:
        """The bursts alerted since `since`: of `workspace` (and those from before bursts were
        kept per workspace) when given, else of the whole platform."""
        where, params = in_workspace("platform = ? and alerted_at >= ?", [platform, iso(since)], workspace)
        rows = self.db.table("bursts").rows_where(where, params, order_by="id desc")
        return [_burst(row) for row in rows]

    def burst_signatures_since(
        self, platform: str, since: datetime, workspace: str | None = None, known: Collection[int] = ()
    ) -> list[tuple[int, str | None]]:
        """The ids of the bursts `bursts_since` finds, newest first, each with its members'
        signatures (JSON) unless it is one of `known` (the caller parsed those already): what
        every answer in a busy window compares with, without reading every alert's threads,
        channels and signatures back each time."""
        ids = [row[0] for row in self.db.execute(*burst_ids_statement(platform, since, workspace)).fetchall()]
        return self.burst_signatures(ids, known)

    def burst_signatures(
        self, ids: Sequence[int], known: Collection[int] = ()
    ) -> list[tuple[int, str | None]]:
        """`burst_signatures_since` once its ids (`burst_ids_statement`) are read: the signatures
        of those not `known` are read now (a trip only when there are such)."""
        wanted = [burst_id for burst_id in ids if burst_id not in known]
        if not wanted:
            return [(burst_id, None) for burst_id in ids]
        marks = ", ".join("?" for _ in wanted)
        found = self.db.execute(f"select id, signature from bursts where id in ({marks})", wanted).fetchall()
        signatures = {row[0]: row[1] for row in found}
        return [(burst_id, signatures.get(burst_id)) for burst_id in ids]

    def record_burst(
        self,
        *,
        platform: str,
        representative: str,
        signatures: str,
        askers: int,
        channels: Sequence[str],
        threads: Sequence[str],
        at: datetime,
        workspace: str | None = None,
    ) -> BurstRecord:
        with transaction(self.db):
            new_id = insert_row(
                self.db,
                "bursts",
                {
                    "platform": platform,
                    "workspace": workspace,
                    "representative": representative,
                    "signature": signatures,
                    "askers": askers,
                    "channels": json.dumps(list(channels)),
                    "threads": json.dumps(list(threads)),
                    "alerted_at": iso(at),
                },
            )
        burst = self.burst(new_id)
        assert burst is not None
        return burst

    def burst(self, burst_id: int) -> BurstRecord | None:
        row = select_row(self.db, "bursts", "id", burst_id)
        return None if row is None else _burst(row)

    def unposted_bursts(self, platform: str, since: datetime) -> list[BurstRecord]:
        """The bursts of `platform` recorded since `since` whose alert is not posted yet (its
        worker died before posting it, or the post failed), oldest first."""
        rows = select_rows(  # on every tick: plain SQL, not rows_where's schema reads
            self.db,
            "select * from bursts where platform = ? and alerted_at >= ? and message_id is null order by id",
            [platform, iso(since)],
        )
        return [_burst(row) for row in rows]

    def set_burst_post(self, burst_id: int, message_id: str, conversation: ConversationRef) -> None:
        with transaction(self.db):
            update_row(
                self.db,
                "bursts",
                "id",
                burst_id,
                {"message_id": message_id, "alert_conversation": conversation.key},
            )

    # -- incidents -------------------------------------------------------------------------

    def open_incident(
        self,
        *,
        platform: str,
        text: str,
        signatures: str,
        by: str,
        at: datetime,
        burst_id: int | None = None,
        workspace: str | None = None,
    ) -> tuple[IncidentRecord, bool]:
        """Open an incident; from a burst, only once (a second press returns the first, on
        whichever worker it lands)."""
        with transaction(self.db):
            if burst_id is not None:
                # two presses on two workers: on PostgreSQL each transaction would find no
                # incident for the burst and insert one, so the second waits for the first's commit
                self._lock_until_commit(f"incident-of-burst:{burst_id}")
                row = self.db.execute("select id from incidents where burst_id = ?", [burst_id]).fetchone()
                if row is not None:
                    existing = self.incident(int(row[0]))
                    assert existing is not None
                    return existing, False
            new_id = insert_row(
                self.db,
                "incidents",
                {
                    "platform": platform,
                    "workspace": workspace,
                    "text": text,
                    "signature": signatures,
                    "status": IncidentStatus.OPEN,
                    "opened_by": by,
                    "opened_at": iso(at),
                    "burst_id": burst_id,
                },
            )
        incident = self.incident(new_id)
        assert incident is not None
        return incident, True

    def incident(self, incident_id: int) -> IncidentRecord | None:
        row = select_row(self.db, "incidents", "id", incident_id)
        return None if row is None else _incident(row)

    def incidents(
        self, platform: str, status: str | None = None, limit: int = 20, workspace: str | None = None
    ) -> list[IncidentRecord]:
        """Incidents of `workspace` (and those from before incidents were kept per workspace)
        when given, else of the whole platform; newest first."""
        return incidents_of(select_rows(self.db, *incidents_statement(platform, status, limit, workspace)))

    def close_incident(self, incident_id: int, *, by: str, at: datetime, text: str) -> bool:
        """Close an open incident; False if it was not open (closed once, whoever races)."""
        with transaction(self.db):
            cursor = self.db.execute(
                "update incidents set status = ?, closed_by = ?, closed_at = ?, close_text = ? "
                "where id = ? and status = ?",
                [IncidentStatus.CLOSED, by, iso(at), text, incident_id, IncidentStatus.OPEN],
            )
        return cursor.rowcount == 1

    def incidents_to_tell(self, platform: str, since: datetime) -> list[IncidentRecord]:
        """The incidents of `platform` closed since `since` with threads not yet told it is
        over (whoever closed one died part-way, or a thread's reply is being retried)."""
        return incidents_of(
            select_rows(
                self.db,
                "select * from incidents where platform = ? and status = ? and closed_at >= ? and exists "
                "(select 1 from incident_notices n where n.incident_id = incidents.id and n.closed_reply_at is null) "
                "order by id",
                [platform, IncidentStatus.CLOSED, iso(since)],
            )
        )

    def add_notice(
        self, incident_id: int, conversation: ConversationRef, at: datetime, language: str | None = None
    ) -> bool:
        """Remember that a thread was shown the incident's notice (once per thread), in
        `language`: the closing update is said in it."""
        row = {
            "incident_id": incident_id,
            "conversation": conversation.key,
            "at": iso(at),
            "language": language,
        }
        try:
            with transaction(self.db):
                insert_row(self.db, "incident_notices", row)
        except IntegrityError:
            return False
        return True

    def notices_to_close(self, incident_id: int) -> list[tuple[int, ConversationRef, str | None]]:
        """The threads shown this incident's notice that have not been told it is over, each
        with the language it was shown in (None: a notice given before that was kept)."""
        rows = self.db.execute(
            "select id, conversation, language from incident_notices "
            "where incident_id = ? and closed_reply_at is null order by id",
            [incident_id],
        ).fetchall()
        return [(int(row[0]), ConversationRef.from_key(row[1]), row[2]) for row in rows]

    def mark_notice_told(self, notice_id: int, at: datetime) -> bool:
        """Mark one thread told its incident is over (after the reply was posted, or failed
        for good); only one caller ever gets True."""
        with transaction(self.db):
            cursor = self.db.execute(
                "update incident_notices set closed_reply_at = ? where id = ? and closed_reply_at is null",
                [iso(at), notice_id],
            )
        return cursor.rowcount == 1


def _burst(row: dict[str, Any]) -> BurstRecord:
    alerted = parse_time(row["alerted_at"])
    assert alerted is not None
    return BurstRecord(
        id=row["id"],
        platform=row["platform"],
        representative=row["representative"],
        signatures=row["signature"],
        askers=row["askers"] or 0,
        channels=tuple(json.loads(row["channels"] or "[]")),
        threads=tuple(json.loads(row["threads"] or "[]")),
        alerted_at=alerted,
        workspace=row.get("workspace"),
    )


# -- the rows of the reads sent together with others (their SQL: bot/store/incident_statements.py) --


def recent_of(rows: Sequence[Sequence[Any]]) -> list[RecentQuestion]:
    return [
        RecentQuestion(
            answer_id=row[0],
            conversation=row[1],
            asker_id=row[2],
            question=row[3],
            neighbours=tuple(json.loads(row[4] or "[]")),
            scores=tuple(json.loads(row[6] or "[]")),
            at=datetime.fromisoformat(row[5]),
        )
        for row in rows
    ]


def incidents_of(rows: Sequence[dict[str, Any]]) -> list[IncidentRecord]:
    return [_incident(row) for row in rows]


def _incident(row: dict[str, Any]) -> IncidentRecord:
    opened = parse_time(row["opened_at"])
    assert opened is not None
    return IncidentRecord(
        id=row["id"],
        platform=row["platform"],
        text=row["text"],
        signatures=row["signature"],
        status=row["status"],
        opened_by=row["opened_by"],
        opened_at=opened,
        closed_at=parse_time(row["closed_at"]),
        close_text=row["close_text"],
        burst_id=row["burst_id"],
        workspace=row.get("workspace"),
    )
