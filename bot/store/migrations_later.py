"""The state migrations from 0005 on: proactive support, privacy, the workers of a cluster,
Slack installs and the web dashboard.

They were split from bot/store/migrations.py (which keeps the earlier steps, the list of
names and `migrate`) only to keep each module short; the names and order are unchanged and
append-only like the rest. Every step runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from sqlite_utils import Database

    from bot.store.postgres import PgDatabase

    # migrations.py's alias, spelled again: importing it from there would be an import circle
    StateDatabase: TypeAlias = Database | PgDatabase


def _state_v5_insights(db: StateDatabase) -> None:
    """Proactive support (bot/insights/): what retrieval saw for each answer, follow-ups,
    incidents and their notices, burst alerts, knowledge-gap clusters, and once-only jobs."""
    # the ids of the passages retrieval ranked first for the question, best first (JSON):
    # half of what makes two questions similar (the other half is their words)
    db.table("answers").add_column("neighbours", str)
    # their retrieval scores, and the next passage's (JSON): how sure retrieval was of each
    db.table("answers").add_column("neighbour_scores", str)
    db.table("answers").add_column("channel", str)  # platform:workspace:channel, for per-channel reports
    db.table("answers").create_index(["channel", "created_at"])
    # one "Did this solve it?" per thread: when it is due (null: nothing due), and when it went
    db.table("conversations").add_column("followup_due_at", str)
    db.table("conversations").add_column("followup_answer_id", int)
    db.table("conversations").add_column("followup_sent_at", str)
    db.table("conversations").create_index(["followup_due_at"])
    db.table("incidents").create(
        {
            "id": int,
            "platform": str,
            "text": str,
            "signature": str,  # JSON: the cluster it covers (terms and neighbours)
            "status": str,  # open -> closed
            "opened_by": str,
            "opened_at": str,
            "closed_by": str,
            "closed_at": str,
            "close_text": str,
            "burst_id": int,
        },
        pk="id",
        not_null={"platform", "text", "status", "opened_at"},
    )
    db.table("incidents").create_index(["status"])
    db.table("incident_notices").create(
        {"id": int, "incident_id": int, "conversation": str, "at": str, "closed_reply_at": str},
        pk="id",
        not_null={"incident_id", "conversation", "at"},
        foreign_keys=[("incident_id", "incidents", "id")],
    )
    db.table("incident_notices").create_index(["incident_id", "conversation"], unique=True)
    db.table("bursts").create(
        {
            "id": int,
            "platform": str,
            "representative": str,
            "signature": str,
            "askers": int,
            "channels": str,  # JSON list
            "threads": str,  # JSON list of conversation keys
            "alerted_at": str,
            "message_id": str,
            "alert_conversation": str,
        },
        pk="id",
        not_null={"platform", "representative", "signature", "alerted_at"},
    )
    db.table("bursts").create_index(["platform", "alerted_at"])
    db.table("gaps").create(
        {
            "id": int,
            "platform": str,
            "kind": str,  # hard (abstained) | soft (answered, then rated not helpful or escalated)
            "representative": str,
            "signature": str,
            "status": str,  # open | addressed | dismissed
            "asks": int,
            "asks_at_dismissal": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"platform", "kind", "representative", "signature", "status", "created_at"},
    )
    db.table("gaps").create_index(["platform", "status"])
    db.table("gap_questions").create(
        {"answer_id": int, "gap_id": int, "question": str, "at": str},
        pk="answer_id",
        not_null={"gap_id", "question", "at"},
        foreign_keys=[("gap_id", "gaps", "id"), ("answer_id", "answers", "id")],
    )
    db.table("gap_questions").create_index(["gap_id"])
    # a job that must run once per period (the weekly digest): its key is inserted first, and
    # only the process whose insert succeeded runs it, however many processes tick
    db.table("job_runs").create(
        {"key": str, "claimed_at": str, "done_at": str}, pk="key", not_null={"claimed_at"}
    )


def _state_v6_privacy(db: StateDatabase) -> None:
    """The personal but private assistant (bot/privacy/): opt-in memory, forget-me tombstones,
    the salt they are hashed with, draft replies awaiting staff, and who has been welcomed."""
    db.table("user_memory").create(
        {
            "platform": str,
            "user_id": str,
            "enabled": int,
            "facts": str,  # JSON list of {"kind", "text", "at"}: capped in count and size
            "updated_at": str,
        },
        pk=("platform", "user_id"),
        not_null={"enabled", "updated_at"},
        defaults={"enabled": 0},
    )
    # a person who asked to be forgotten: only a salted hash of platform and user id, so their
    # memory is never re-created (unless they opt in again) and the id itself is not kept
    db.table("tombstones").create({"hash": str, "at": str}, pk="hash", not_null={"at"})
    db.table("state_meta").create({"key": str, "value": str}, pk="key")  # e.g. the tombstone salt
    db.table("reply_drafts").create(
        {
            "id": int,
            "conversation": str,  # where the answer would go (the question's thread)
            "message_id": str,  # the question's platform id
            "asker_id": str,
            "question": str,
            "answer": str,
            "answer_id": int,
            "status": str,  # pending -> posted | discarded
            "card_message_id": str,
            "card_conversation": str,
            "posted_message_id": str,
            "decided_by": str,
            "created_at": str,
            "decided_at": str,
        },
        pk="id",
        not_null={"conversation", "question", "answer", "status", "created_at"},
    )
    db.table("reply_drafts").create_index(["status"])
    db.table("welcomed").create(
        {"platform": str, "user_id": str, "at": str}, pk=("platform", "user_id"), not_null={"at"}
    )


def _state_v7_workers(db: StateDatabase) -> None:
    """Several processes on one PostgreSQL database (bot/cluster.py): each running bot is a
    row, written at start and on every clock tick and removed on an orderly shutdown, so
    `supportbot doctor` and `/support status` can list the live ones. The inbox notes which
    worker holds a delivery: another worker takes it over only once that one has stopped
    beating (bot/store/inbox.py), however long the answer takes."""
    db.table("workers").create(
        {
            "id": str,  # a random id per process start
            "host": str,
            "pid": int,
            "started_at": str,
            "heartbeat_at": str,
            "version": str,
            "platforms": str,  # comma-separated: slack,discord
        },
        pk="id",
        not_null={"host", "pid", "started_at", "heartbeat_at"},
    )
    db.table("workers").create_index(["heartbeat_at"])
    db.table("inbox").add_column("worker", str)


def _state_v8_slack_installs(db: StateDatabase) -> None:
    """Slack across several workspaces (bot/store/slack_installs.py): each install from the
    OAuth flow, its bot token included, and the one-time states of installs under way."""
    db.table("slack_installations").create(
        {
            "enterprise_id": str,  # "" outside Enterprise Grid: part of the key, never null
            "team_id": str,  # "" for an organisation-wide install
            "team_name": str,
            "bot_user_id": str,
            "installed_at": str,
            "data": str,  # JSON: what oauth.v2.access returned, as slack_sdk's Installation (a secret)
        },
        pk=("enterprise_id", "team_id"),
        not_null={"enterprise_id", "team_id", "installed_at", "data"},
    )
    db.table("slack_installations").create_index(["team_id"])
    db.table("slack_oauth_states").create(
        {"state": str, "expires_at": str}, pk="state", not_null={"expires_at"}
    )


def _state_v9_dashboard(db: StateDatabase) -> None:
    """The web dashboard (bot/dashboard/, bot/store/dashboard.py): one-time sign-in links,
    kept only as hashes so a copy of the database signs nobody in, and the audit log of
    every change made through it. Its cookie-signing secret lives in `state_meta`."""
    db.table("dashboard_links").create(
        {"token_hash": str, "platform": str, "user_id": str, "expires_at": str, "used_at": str},
        pk="token_hash",
        not_null={"platform", "user_id", "expires_at"},
    )
    db.table("audit_log").create(
        {"id": int, "at": str, "platform": str, "user_id": str, "action": str, "detail": str},
        pk="id",
        not_null={"at", "platform", "user_id", "action"},
    )
    db.table("audit_log").create_index(["at"])


def _state_v10_messages_at(db: StateDatabase) -> None:
    """People's messages of a short period (a day's report, the dashboard's one-day overview)
    are found by time instead of by a scan of every message; a report of a week or more still
    scans (bot/store/metrics.py says why)."""
    db.table("messages").create_index(["at"])


def _state_v11_workspaces(db: StateDatabase) -> None:
    """Bursts and incidents belong to one workspace (Slack team, Discord server): with several
    installed, one workspace's questions must never show in another's alert or notice. Rows
    from before have none: they stay platform-wide."""
    db.table("bursts").add_column("workspace", str)
    db.table("incidents").add_column("workspace", str)


def _state_v12_gap_workspaces(db: StateDatabase) -> None:
    """Knowledge gaps belong to one workspace, as bursts and incidents do (0011). A gap kept
    before gets the workspace its questions were asked in; one whose questions came from
    several stays platform-wide (null), as it was."""
    db.table("gaps").add_column("workspace", str)
    backfill_gap_workspaces(db)


def _state_v13_message_ids(db: StateDatabase) -> None:
    """A platform message is recorded once per conversation (bot/store/conversations.py): the
    check finds it by its id instead of reading the whole conversation (a direct-message
    conversation without threads grows for as long as the person writes)."""
    db.table("messages").create_index(["conversation", "platform_id"])


def _state_v14_answer_events(db: StateDatabase) -> None:
    """An answer is recorded before it is posted: the inbox event it was given for keys its
    row, so a replay after a crash records over its dead predecessor's row instead of adding
    a second answer to one question (bot/store/answers.py `answer_statement`). Rows from
    before have none, and never conflict (nulls are distinct in a unique index)."""
    db.table("answers").add_column("event", str)
    db.table("answers").create_index(["event"], unique=True)


def _state_v15_ticket_messages(db: StateDatabase) -> None:
    """A ticket knows the platform message it was opened for (the question that abstained or
    failed, the request for a person), so a replay of that message after a crash finds its
    ticket whatever became of it since (staff may have resolved it meanwhile) and finishes
    only what of its opening is missing (bot/escalation/opening.py `complete`), instead of
    taking another asker's ticket in the thread for it or opening a second. Rows from before
    have none (a replay of a message from before the upgrade is handled again, as it was)."""
    db.table("tickets").add_column("message_id", str)
    db.table("tickets").create_index(["platform", "message_id"])


def _state_v16_dashboard_sessions(db: StateDatabase) -> None:
    """Dashboard sessions kept in the state (bot/store/dashboard.py): the cookie names one by
    its id, so signing out ends it for every copy of the cookie, and the groups or roles a
    sign-in read are re-read from the platform as the chat re-reads them. Cookies signed
    before name no session here: their holders sign in again."""
    db.table("dashboard_sessions").create(
        {
            "sid": str,
            "platform": str,
            "user_id": str,
            "expires_at": str,
            "read_at": str,
            "name": str,
            "roles": str,
            "platform_admin": int,
            "team": str,
            "enterprise": str,
        },
        pk="sid",
        not_null={"platform", "user_id", "expires_at", "read_at"},
    )
    db.table("dashboard_sessions").create_index(["expires_at"])
    db.table("dashboard_sessions").create_index(["platform", "user_id"])


def _state_v17_sla_claims(db: StateDatabase) -> None:
    """A reminder being said is claimed in a column of its own (`sla_claimed_until`,
    bot/escalation/sla.py), where the claim used to move the deadline ahead: `next_action_at`
    stays the deadline that cards, the ticket list and the dashboard's overdue filter read.
    A claim taken before the upgrade reads as a deadline a few minutes later, once."""
    db.table("tickets").add_column("sla_claimed_until", str)


def _state_v18_post_claims(db: StateDatabase) -> None:
    """A burst's alert and a thread's "the incident is over" reply are claimed on their own
    rows (`claimed_until`, bot/store/jobs.py `claim_post`), where each claim was a job_runs row
    kept for ever (burst-alert:N, incident-closed:N), dropped here. One of them held at the
    upgrade by a worker of the version before lapses at once: that post may be said twice."""
    db.table("bursts").add_column("claimed_until", str)
    db.table("incident_notices").add_column("claimed_until", str)
    db.execute("delete from job_runs where key like ? or key like ?", ["burst-alert:%", "incident-closed:%"])


def _state_v19_session_hashes(db: StateDatabase) -> None:
    """A dashboard session is kept by the SHA-256 of its id (`sid_hash`), as a sign-in link is
    by its token's (0009): with the id in clear beside the cookie secret in `state_meta`, a
    copy of the database (a backup, `supportbot store copy`, a dump) made any live session's
    cookie, an admin's too. The sessions kept before go rather than being hashed, since their
    ids may sit in such copies already: their holders sign in again. A worker of the version
    before, still running, finds no `sid` column: its dashboard fails until it is restarted,
    and never takes a hash for an id."""
    db.execute("drop table dashboard_sessions")
    db.table("dashboard_sessions").create(
        {
            "sid_hash": str,
            "platform": str,
            "user_id": str,
            "expires_at": str,
            "read_at": str,
            "name": str,
            "roles": str,
            "platform_admin": int,
            "team": str,
            "enterprise": str,
        },
        pk="sid_hash",
        not_null={"platform", "user_id", "expires_at", "read_at"},
    )
    db.table("dashboard_sessions").create_index(["expires_at"])
    db.table("dashboard_sessions").create_index(["platform", "user_id"])


def _state_v20_card_claims(db: StateDatabase) -> None:
    """A ticket's card is claimed until a time (`claimed_until`, bot/store/ticket_posts.py):
    a claim whose process died lapses, and the card is posted then, where it used to hold
    for ever and no card was ever posted. A claim with no time was left by the version before
    (this step waits for its workers to stop: bot/store/postgres_migrating.py): it has lapsed.
    The index finds the few claimed rows among the made ones."""
    db.table("ticket_posts").add_column("claimed_until", str)
    db.table("ticket_posts").create_index(["message_id", "claimed_until"])


def _state_v21_slack_organisations(db: StateDatabase) -> None:
    """Each Slack workspace's organisation (Enterprise Grid) as Slack's signed events named it
    (bot/store/slack_installs.py): work the core starts, a read-back after a restart or an SLA
    reminder, names the team alone, and a workspace served by its organisation's org-wide
    install was found by nothing until its next event taught the new process the organisation.
    A table of its own, only added to: workers of the version before run on beside it."""
    db.table("slack_organisations").create(
        {"team_id": str, "enterprise_id": str}, pk="team_id", not_null={"enterprise_id"}
    )


def _state_v22_revisions(db: StateDatabase) -> None:
    """Whose turn it is to revise an answer after its question was edited, and when the newest
    edit applied was made (bot/store/revisions.py): edits of one message reaching two workers
    took turns in each process's memory only, so an older edit could revise the answer back. A
    table of its own, only added to: workers of the version before run on beside it."""
    db.table("revisions").create(
        {"message": str, "made_at": str, "holder": str, "held_until": str},
        pk="message",
        not_null={"made_at"},
    )


def _state_v23_model_reservations(db: StateDatabase) -> None:
    """A model answer is reserved for a question before the model is asked, against its
    asker's and its channel's hourly share (bot/store/answers.py `reserve_model_answer`):
    counting only the answers already recorded, which are recorded once the model is done,
    let two questions asked at once (on two workers, or on one) both take the share's last
    answer. A reservation is released with its answer's record, and lapses at `expires_at`
    (its worker died). A table of its own, only added to: workers of the version before run
    on beside it, counting recorded answers alone as they did. No index: it holds the
    questions being answered at the moment, and the few reservations left by a dead worker
    until its person or channel asks again."""
    db.table("model_reservations").create(
        {"id": int, "asker_id": str, "channel": str, "expires_at": str},
        pk="id",
        not_null={"asker_id", "channel", "expires_at"},
    )


def _state_v24_draft_edits(db: StateDatabase) -> None:
    """When a person last saved a knowledge draft's answer (`edited_at`; the dashboard's
    editor): the learning loop brings a pending draft up to date with what staff wrote since
    (a reopen, "draft from this gap" pressed again), and wrote over an admin's reviewed text
    with the thread's. `updated_at` is the loop's last write alone from here on. A pending
    draft written to before the upgrade may have been either's: taken as edited, it is kept."""
    db.table("drafts").add_column("edited_at", str)
    db.execute("update drafts set edited_at = updated_at where status = 'pending' and updated_at is not null")


def _state_v25_notice_languages(db: StateDatabase) -> None:
    """The language a thread was shown an incident's notice in (bot/insights/incidents.py): the
    closing update guessed it again from the thread's first question, and a Korean asker
    answered in Korean from memory was told in English that it was over. Null for notices
    given before, and by workers of the version before, which run on beside it: guessed then."""
    db.table("incident_notices").add_column("language", str)


def _state_v26_revised_answers(db: StateDatabase) -> None:
    """The answer that replaced this one when its question was edited (`revised_by`; null:
    none, and for answers replaced before): a question fixed by an edit was two questions in
    the digest, the report, the stats and the gap candidates. Workers of the version before,
    which run on beside it, leave it null: their edits count twice, as they did."""
    db.table("answers").add_column("revised_by", int)


def backfill_gap_workspaces(db: StateDatabase) -> None:
    """Each gap without a workspace gets the one all its questions were asked in, if one."""
    asked: dict[int, set[str]] = {}
    for gap_id, conversation in db.execute(
        "select g.gap_id, a.conversation from gap_questions g join answers a on a.id = g.answer_id "
        "join gaps on gaps.id = g.gap_id where gaps.workspace is null"
    ).fetchall():
        asked.setdefault(int(gap_id), set()).add(str(conversation).split(":", 2)[1])
    for gap_id, workspaces in sorted(asked.items()):
        if len(workspaces) == 1:
            db.execute("update gaps set workspace = ? where id = ?", [workspaces.pop(), gap_id])
