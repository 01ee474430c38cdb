"""Schema of the two databases, as numbered migrations applied once each.

`state.db` holds what must never be lost (conversations, tickets, feedback, the inbox);
`catalog.db` describes the knowledge index, a cache that can always be rebuilt from the
folder. A migration runs inside one transaction and is recorded in `_migrations`, so a
crash mid-upgrade leaves the database at the previous version, never half-way.

Names and steps are append-only: a state.db in the field records the names it has seen,
so renaming or editing a released migration would make it run twice or never.
The same steps run on PostgreSQL (bot/store/postgres.py): raw SQL in a step must suit both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from sqlite_utils import Database

    from bot.store.postgres import PgDatabase

    StateDatabase: TypeAlias = Database | PgDatabase  # what steps and repositories run on

Migration = tuple[str, Callable[["StateDatabase"], None]]


def _state_v1(db: StateDatabase) -> None:
    db.table("inbox").create(
        {"key": str, "platform": str, "received_at": str, "status": str, "payload": str, "done_at": str},
        pk="key",
        not_null={"platform", "received_at", "status"},
    )
    db.table("inbox").create_index(["status", "platform"])
    db.table("conversations").create(
        {
            "key": str,
            "platform": str,
            "workspace": str,
            "channel": str,
            "thread": str,
            "started_at": str,
            "last_activity": str,
            "asker_id": str,
            "bot_participating": int,
            "human_takeover": int,
        },
        pk="key",
        not_null={"platform", "channel", "started_at"},
        defaults={"bot_participating": 0, "human_takeover": 0},
    )
    db.table("messages").create(
        {
            "id": int,
            "conversation": str,
            "platform_id": str,
            "author_id": str,
            "author_name": str,
            "role": str,
            "text": str,
            "at": str,
        },
        pk="id",
        not_null={"conversation", "role", "at"},
    )
    db.table("messages").create_index(["conversation", "id"])
    db.table("answers").create(
        {
            "id": int,
            "conversation": str,
            "message_id": str,
            "asker_id": str,
            "question": str,
            "answer": str,
            "confidence": float,
            "language": str,
            "answerer": str,
            "abstained": int,
            "sources": str,
            "top_path": str,
            "tokens_in": int,
            "tokens_out": int,
            "posted_message_id": str,
            "created_at": str,
        },
        pk="id",
        not_null={"conversation", "question", "created_at"},
    )
    db.table("answers").create_index(["created_at"])
    db.table("answers").create_index(["conversation"])
    db.table("tickets").create(
        {
            "id": int,
            "conversation": str,
            "platform": str,
            "asker_id": str,
            "asker_name": str,
            "question": str,
            "reason": str,
            "status": str,
            "assignee_id": str,
            "assignee_name": str,
            "answer_id": int,
            "language": str,
            "visibility": str,  # document scope of the channel: what a learned answer inherits
            "tags": str,  # JSON list: tags of the best document, for routing
            "sla_stage": int,
            "next_action_at": str,  # when the SLA clock next needs the bot; null when nothing is due
            "last_staff_reply_at": str,
            "resolved_at": str,
            "note": str,
            "rating": str,
            "rating_asked": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"conversation", "question", "reason", "status", "created_at", "updated_at"},
    )
    db.table("tickets").create_index(["status", "next_action_at"])
    db.table("tickets").create_index(["conversation"])
    db.table("ticket_events").create(
        {"id": int, "ticket_id": int, "at": str, "actor_id": str, "event": str, "detail": str},
        pk="id",
        not_null={"ticket_id", "at", "event"},
        foreign_keys=[("ticket_id", "tickets", "id")],
    )
    db.table("ticket_events").create_index(["ticket_id"])
    db.table("ticket_posts").create(
        {"id": int, "ticket_id": int, "conversation": str, "message_id": str, "kind": str},
        pk="id",
        not_null={"ticket_id", "conversation", "message_id", "kind"},
        foreign_keys=[("ticket_id", "tickets", "id")],
    )
    db.table("ticket_posts").create_index(["ticket_id"])
    db.table("drafts").create(
        {
            "id": int,
            "ticket_id": int,
            "title": str,
            "question": str,
            "answer": str,
            "visibility": str,
            "status": str,  # pending -> approved | rejected
            "path": str,  # where an approved draft was written, relative to the knowledge folder
            "created_at": str,
            "decided_by": str,
            "decided_at": str,
        },
        pk="id",
        not_null={"ticket_id", "title", "question", "answer", "status", "created_at"},
        foreign_keys=[("ticket_id", "tickets", "id")],
    )
    db.table("feedback").create(
        {"id": int, "answer_id": int, "user_id": str, "value": str, "at": str},
        pk="id",
        not_null={"answer_id", "user_id", "value", "at"},
        foreign_keys=[("answer_id", "answers", "id")],
    )
    db.table("feedback").create_index(["answer_id", "user_id"], unique=True)


def _catalog_v1(db: StateDatabase) -> None:
    db.table("files").create(
        {
            "path": str,
            "sha256": str,
            "size": int,
            "mtime_ns": int,
            "title": str,
            "url": str,
            "visibility": str,
            "tags": str,
            "chunks": int,
            "error": str,
            "indexed_at": str,
        },
        pk="path",
        not_null={"sha256", "size", "mtime_ns", "indexed_at"},
    )
    db.table("meta").create({"key": str, "value": str}, pk="key")


def _catalog_v2_embeddings(db: StateDatabase) -> None:
    """Vectors for hybrid retrieval (bot/retrieval/embeddings.py explains the design).

    `chunks` maps each indexed chunk to the SHA-256 of the text that is embedded for it; it is
    filled only while embeddings are enabled. `embeddings` holds one float32 vector per
    (model, text hash): unchanged text is never embedded twice, whatever file or chunk it
    sits in, and another model gets its own rows."""
    db.table("chunks").create(
        {"chunk_id": str, "path": str, "text_hash": str},
        pk="chunk_id",
        not_null={"path", "text_hash"},
    )
    db.table("chunks").create_index(["path"])
    db.table("chunks").create_index(["text_hash"])
    db.table("embeddings").create(
        {"model": str, "text_hash": str, "dim": int, "vector": bytes},
        pk=("model", "text_hash"),
        not_null={"dim", "vector"},
    )
    db.table("embeddings").create_index(["text_hash"])


def _catalog_v3_audiences(db: StateDatabase) -> None:
    """Who each file is for (bot/retrieval/audience.py): `audience`, the names it was indexed
    with (JSON), and `folder_audience`, the folder declaration it was read under, so that a
    changed `_audience.yml` re-reads the files beneath it although they did not change."""
    db.table("files").add_column("audience", str)
    db.table("files").add_column("folder_audience", str)


def _state_v2(db: StateDatabase) -> None:
    """What staff see stays complete, and racing escalations share one ticket."""
    db.table("tickets").add_column("context", str)  # JSON: what the bot answered, which sources
    db.table("ticket_posts").add_column("text", str)  # the first words of a message we edit later
    # one active ticket per thread, even when two escalations race. Channel-level conversations
    # (no thread: a platform where threads could not be made) keep one ticket per asker instead.
    db.execute(
        "create unique index tickets_one_active_per_thread on tickets(conversation) "
        "where status in ('open', 'claimed') and conversation not like '%:'"
    )
    db.table("drafts").add_column("updated_at", str)


def _state_v3(db: StateDatabase) -> None:
    """Edits revise the answer to the message they change: find it by the message's id."""
    db.table("answers").create_index(["message_id"])


def _state_v4(db: StateDatabase) -> None:
    """Exactly once: the post that shows an event's answer is known before it is finished,
    so a replay edits that post instead of posting a second answer."""
    db.table("inbox").add_column("post_id", str)
    db.table("inbox").add_column("post_conversation", str)


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


STATE_MIGRATIONS: list[Migration] = [
    ("0001_initial", _state_v1),
    ("0002_ticket_context", _state_v2),
    ("0003_answer_by_message", _state_v3),
    ("0004_inbox_post", _state_v4),
    ("0005_insights", _state_v5_insights),
    ("0006_privacy", _state_v6_privacy),
]
CATALOG_MIGRATIONS: list[Migration] = [
    ("0001_initial", _catalog_v1),
    ("0002_embeddings", _catalog_v2_embeddings),
    ("0003_audiences", _catalog_v3_audiences),
]


def migrate(db: StateDatabase, migrations: list[Migration]) -> list[str]:
    """Apply the migrations `db` has not seen yet; return the names applied."""
    if "_migrations" not in db.table_names():
        db.table("_migrations").create({"name": str, "applied_at": str}, pk="name")
    done = {row["name"] for row in db.table("_migrations").rows}
    applied: list[str] = []
    for name, step in migrations:
        if name in done:
            continue
        with db.conn:
            step(db)
            at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")  # as SQLite's datetime('now')
            db.execute("insert into _migrations (name, applied_at) values (?, ?)", [name, at])
        applied.append(name)
    return applied
