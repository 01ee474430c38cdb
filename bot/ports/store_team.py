"""The state store's part the team and the operation read: incidents and bursts,
follow-ups, metrics, gaps, jobs, revisions, workers, Slack installations, the
dashboard's sessions, retention and people.
"""

from __future__ import annotations

import typing
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from bot.types import ConversationRef

if typing.TYPE_CHECKING:
    from collections.abc import Iterable
    from contextlib import AbstractContextManager

    # from the modules, not the package: bot.store.state imports this package to check that
    # StateStore implements Store, and the package imports bot.store.state
    from bot.store.dashboard import AuditEntry, LinkOwner, SessionRecord
    from bot.store.followups import DueFollowup, FollowupClaim
    from bot.store.gaps import GapCandidate, GapRecord, GapStatus
    from bot.store.incidents import BurstRecord, IncidentRecord, PostKind, RecentQuestion
    from bot.store.metrics import AskerMessageRow, QuestionRow, RatingRow, TicketMoments, TicketRow
    from bot.store.queue import Reach
    from bot.store.revisions import RevisionTurn
    from bot.store.slack_installs import SlackInstallRecord
    from bot.store.workers import WorkerRecord


class IncidentStore(Protocol):
    """Recent questions, burst alerts, incidents and the notices they put on answers."""

    def askers_since(
        self, platform: str, since: datetime, enough: int, workspace: str | None = None
    ) -> int: ...

    def recent_questions(
        self,
        platform: str,
        since: datetime,
        limit: int = 2000,
        after_id: int = 0,
        workspace: str | None = None,
    ) -> list[RecentQuestion]: ...

    def blanked_questions(self, answer_ids: Collection[int]) -> set[int]: ...

    def bursts_since(
        self, platform: str, since: datetime, workspace: str | None = None
    ) -> list[BurstRecord]: ...

    def burst_signatures_since(
        self, platform: str, since: datetime, workspace: str | None = None, known: Collection[int] = ()
    ) -> list[tuple[int, str | None]]: ...

    def burst_signatures(
        self, ids: Sequence[int], known: Collection[int] = ()
    ) -> list[tuple[int, str | None]]: ...

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
    ) -> BurstRecord: ...

    def burst(self, burst_id: int) -> BurstRecord | None: ...

    def unposted_bursts(self, platform: str, since: datetime) -> list[BurstRecord]: ...

    def set_burst_post(self, burst_id: int, message_id: str, conversation: ConversationRef) -> None: ...

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
    ) -> tuple[IncidentRecord, bool]: ...

    def incident(self, incident_id: int) -> IncidentRecord | None: ...

    def incidents(
        self, platform: str, status: str | None = None, limit: int = 20, workspace: str | None = None
    ) -> list[IncidentRecord]: ...

    def close_incident(self, incident_id: int, *, by: str, at: datetime, text: str) -> bool: ...

    def incidents_to_tell(self, platform: str, since: datetime) -> list[IncidentRecord]: ...

    def add_notice(
        self, incident_id: int, conversation: ConversationRef, at: datetime, language: str | None = None
    ) -> bool: ...

    def notices_to_close(self, incident_id: int) -> list[tuple[int, ConversationRef, str | None]]: ...

    def mark_notice_told(self, notice_id: int, at: datetime) -> bool: ...


class FollowupStore(Protocol):
    """The one "Did this solve it?" per thread: scheduled, moved, cancelled, claimed once."""

    def schedule_followup(self, key: str, answer_id: int, due: datetime) -> bool: ...

    def postpone_followup(self, key: str, due: datetime) -> bool: ...

    def cancel_followup(self, key: str) -> bool: ...

    def due_followups(
        self, now: datetime, platforms: Iterable[str], limit: int = 100
    ) -> list[DueFollowup]: ...

    def claim_followup(self, key: str, answer_id: int, now: datetime) -> FollowupClaim: ...

    def followup_state(self, key: str) -> tuple[datetime | None, int | None, datetime | None] | None: ...


class MetricsStore(Protocol):
    """The rows support metrics are computed from (bot/insights/metrics.py), as of `until`."""

    def figures_version(self) -> tuple[int, ...]: ...

    def metrics_snapshot(self) -> AbstractContextManager[None]: ...

    def metric_questions(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> list[QuestionRow]: ...

    def metric_asker_messages(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> list[AskerMessageRow]: ...

    def metric_tickets(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> list[TicketRow]: ...

    def metric_question_moments(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> tuple[list[QuestionRow], dict[int, str]]: ...

    def metric_ticket_moments(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> tuple[list[TicketMoments], list[RatingRow]]: ...

    def top_questions(
        self,
        since: datetime,
        until: datetime,
        platform: str | None = None,
        channel: str | None = None,
        limit: int = 10,
        workspace: str | None = None,
    ) -> list[tuple[str, int]]: ...


class GapStore(Protocol):
    """Knowledge-gap clusters: the questions placed in them, their asks and status."""

    def unassigned_gap_questions(self, limit: int = 500) -> list[GapCandidate]: ...

    def record_gap_placement(self, at: datetime) -> None: ...

    def gaps_placed_at(self) -> datetime | None: ...

    def gaps(
        self,
        platform: str | None,
        statuses: tuple[GapStatus, ...],
        limit: int = 50,
        workspaces: frozenset[str] | None = None,
    ) -> list[GapRecord]: ...

    def visible_gaps(
        self, reach: Sequence[Reach], statuses: tuple[GapStatus, ...], limit: int = 50
    ) -> list[GapRecord]: ...

    def gap(self, gap_id: int) -> GapRecord | None: ...

    def create_gap(self, candidate: GapCandidate, signature: str, at: datetime) -> GapRecord: ...

    def add_to_gap(self, gap_id: int, candidate: GapCandidate, reopen_after: int, at: datetime) -> None: ...

    def set_gap_status(self, gap_id: int, status: GapStatus, at: datetime) -> bool: ...

    def gap_questions(self, gap_id: int, limit: int = 10) -> list[tuple[str, datetime]]: ...

    def gap_tickets(self, gap_id: int) -> list[int]: ...

    def public_gaps(self, gap_ids: Sequence[int]) -> set[int]: ...


class JobStore(Protocol):
    """Once-per-period jobs (the weekly digest, retention): claimed by key, taken over when
    stale; and `exclusive`, a block run by one process at a time cluster-wide."""

    def claim_job(self, key: str, now: datetime, stale_after: timedelta) -> bool: ...

    def finish_job(self, key: str, now: datetime) -> None: ...

    def job_done(self, key: str) -> bool: ...

    def claim_every(self, key: str, now: datetime, every: timedelta, stale_after: timedelta) -> bool: ...

    def release_claim(self, key: str, claimed_at: datetime) -> None: ...

    def drop_job(self, key: str) -> None: ...

    def claim_post(self, post: PostKind, row_id: int, now: datetime) -> bool: ...

    def retry_post(self, post: PostKind, row_id: int, now: datetime) -> None: ...

    def exclusive(self, name: str, *, wait: bool = True) -> AbstractContextManager[bool]: ...


class RevisionStore(Protocol):
    """Whose turn it is to revise an answer after its question was edited, across workers
    (bot/store/revisions.py)."""

    def take_revision(self, message: str, holder: str, made: datetime, now: datetime) -> RevisionTurn: ...

    def end_revision(self, message: str, holder: str) -> None: ...

    def prune_revisions(self, before: datetime) -> int: ...


class WorkerStore(Protocol):
    """The running bots sharing this state, with their heartbeats (bot/cluster.py)."""

    def register_worker(self, worker: WorkerRecord) -> None: ...

    def beat(self, now: datetime) -> None: ...

    def unregister_worker(self) -> None: ...

    def live_workers(self, since: datetime) -> list[WorkerRecord]: ...

    def live_workers_now(self, now: datetime) -> list[str]: ...

    def live_worker_records(self, now: datetime) -> list[WorkerRecord]: ...


class SlackInstallStore(Protocol):
    """Slack workspaces installed through OAuth, and the one-time states of installs under way
    (adapters/slack/installations.py adapts them to slack_sdk's stores)."""

    def save_slack_installation(self, record: SlackInstallRecord) -> None: ...

    def slack_installation(self, enterprise_id: str, team_id: str) -> SlackInstallRecord | None: ...

    def note_slack_organisation(self, team_id: str, enterprise_id: str) -> None: ...

    def slack_organisation(self, team_id: str) -> str: ...

    def slack_installations(self) -> list[SlackInstallRecord]: ...

    def delete_slack_installation(self, enterprise_id: str, team_id: str) -> int: ...

    def issue_oauth_state(self, state: str, expires_at: datetime, now: datetime, limit: int) -> bool: ...

    def consume_oauth_state(self, state: str, now: datetime) -> bool: ...


class DashboardStore(Protocol):
    """The web dashboard (bot/dashboard/): one-time sign-in links kept as hashes, its sessions,
    the audit log of changes made through it, and the secret its session cookies are signed with."""

    def issue_dashboard_link(
        self, token_hash: str, platform: str, user_id: str, expires_at: datetime, now: datetime
    ) -> None: ...

    def use_dashboard_link(self, token_hash: str, now: datetime) -> LinkOwner | None: ...

    def start_dashboard_session(self, session: SessionRecord, now: datetime) -> None: ...

    def dashboard_session(self, sid: str, now: datetime) -> SessionRecord | None: ...

    def reread_dashboard_session(
        self, sid: str, roles: frozenset[str], platform_admin: bool, read_at: datetime
    ) -> None: ...

    def end_dashboard_session(self, sid: str) -> None: ...

    def dashboard_secret(self) -> str: ...

    def add_audit(self, at: datetime, platform: str, user_id: str, action: str, detail: str = "") -> None: ...

    def audit_log(self, limit: int = 200, *, platforms: Sequence[str] | None = None) -> list[AuditEntry]: ...


class RetentionStore(Protocol):
    """Message text past `[privacy] retention_days` emptied; rows, ids and counts kept."""

    def purge_text(self, before: datetime, now: datetime, *, dry_run: bool = False) -> dict[str, int]: ...


class PeopleStore(Protocol):
    """What is kept about one person: opt-in memory, forget-me tombstones, forget and export."""

    def memory(self, platform: str, user_id: str) -> tuple[bool, list[dict[str, str]]]: ...

    def set_memory_enabled(self, platform: str, user_id: str, enabled: bool, at: datetime) -> None: ...

    def save_memory_facts(
        self, platform: str, user_id: str, facts: list[dict[str, str]], at: datetime
    ) -> bool: ...

    def is_tombstoned(self, platform: str, user_id: str) -> bool: ...

    def forget(self, platform: str, user_id: str, at: datetime) -> dict[str, int]: ...

    def export_person(self, platform: str, user_id: str) -> dict[str, typing.Any]: ...
