"""Schema of the two databases, as numbered migrations applied once each.

`state.db` holds what must never be lost (conversations, tickets, feedback, the inbox);
`catalog.db` describes the knowledge index, a cache that can always be rebuilt from the
folder. A migration runs inside one transaction and is recorded in `_migrations`, so a
crash mid-upgrade leaves the database at the previous version, never half-way.

Names and steps are append-only: a state.db in the field records the names it has seen,
so renaming or editing a released migration would make it run twice or never.
The same steps run on PostgreSQL (bot/store/postgres.py): raw SQL in a step must suit both.
There, workers of the version before keep running while a newer one migrates (a rolling
upgrade); a migration that changes how work is claimed, which both versions must agree on,
is named in bot/store/postgres_migrating.py EXCLUSIVE, and is refused while they run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, TypeAlias

from bot.errors import StoreError

# the steps from 0005 on live in migrations_later.py, a module of its own to stay short
from bot.store.migrations_later import (
    _state_v5_insights,
    _state_v6_privacy,
    _state_v7_workers,
    _state_v8_slack_installs,
    _state_v9_dashboard,
    _state_v10_messages_at,
    _state_v11_workspaces,
    _state_v12_gap_workspaces,
    _state_v13_message_ids,
    _state_v14_answer_events,
    _state_v15_ticket_messages,
    _state_v16_dashboard_sessions,
    _state_v17_sla_claims,
    _state_v18_post_claims,
    _state_v19_session_hashes,
    _state_v20_card_claims,
    _state_v21_slack_organisations,
    _state_v22_revisions,
    _state_v23_model_reservations,
    _state_v24_draft_edits,
    _state_v25_notice_languages,
    _state_v26_revised_answers,
)
from bot.store.rows import transaction
from bot.store.values import iso

if TYPE_CHECKING:
    from sqlite_utils import Database

    from bot.store.postgres import PgDatabase

    StateDatabase: TypeAlias = Database | PgDatabase  # what steps and repositories run on

Migration = tuple[str, Callable[["StateDatabase"], None]]

# the table in which each database records the migrations applied to it, by name
RECORD = "_migrations"


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


def _catalog_v4_includes(db: StateDatabase) -> None:
    """A page is more than its own bytes: `includes` (JSON) stamps the files its includes read
    or looked for, so an edited snippet re-reads the pages that include it; `unrecorded` holds
    the new paths a sync is committing to the search index until their rows are written, so
    a crash in between cannot leave the index a file no sync would remove
    (bot/store/catalog.py). Rows written before have no stamps: the layout fingerprint changed
    with this version too (bot/retrieval/knowledge.py), so every file is read again once."""
    db.table("files").add_column("includes", str)
    db.table("unrecorded").create({"path": str}, pk="path")


def _state_v2(db: StateDatabase) -> None:
    """What staff see stays complete, and racing escalations share one ticket."""
    db.table("tickets").add_column("context", str)  # JSON: what the bot answered, which sources
    db.table("ticket_posts").add_column("text", str)  # the first words of a message we edit later
    # one active ticket per thread, even when two escalations race. Channel-level conversations
    # (no thread: a platform where threads could not be made) keep one ticket per asker instead.
    _close_all_but_newest(db)
    db.execute(
        "create unique index tickets_one_active_per_thread on tickets(conversation) "
        "where status in ('open', 'claimed') and conversation not like '%:'"
    )
    db.table("drafts").add_column("updated_at", str)


def _close_all_but_newest(db: StateDatabase) -> None:
    """The first release let two escalations in one thread open two tickets, which the index
    of one active ticket per thread cannot be built over. The newest is the one the bot has
    worked since (bot/store/tickets.py `active_ticket`); each older one is closed, not deleted
    (what its asker said stays for staff), with an event in its timeline saying why. Added to
    a released step: where 0002 ran, there was no such pair, or it would have failed there."""
    rows = db.execute(
        "select t.id, max(n.id) from tickets t join tickets n on n.conversation = t.conversation "
        "and n.id > t.id and n.status in ('open', 'claimed') "
        "where t.status in ('open', 'claimed') and t.conversation not like '%:' group by t.id"
    ).fetchall()
    at = iso(datetime.now(UTC))
    for ticket_id, newest in rows:
        why = f"closed by the upgrade to one active ticket per thread: #{newest} is this thread's"
        db.execute(
            "update tickets set status = 'closed', next_action_at = null, updated_at = ? where id = ?",
            [at, ticket_id],
        )
        db.execute(
            "insert into ticket_events (ticket_id, at, event, detail) values (?, ?, 'closed', ?)",
            [ticket_id, at, why],
        )


def _state_v3(db: StateDatabase) -> None:
    """Edits revise the answer to the message they change: find it by the message's id."""
    db.table("answers").create_index(["message_id"])


def _state_v4(db: StateDatabase) -> None:
    """Exactly once: the post that shows an event's answer is known before it is finished,
    so a replay edits that post instead of posting a second answer."""
    db.table("inbox").add_column("post_id", str)
    db.table("inbox").add_column("post_conversation", str)


STATE_MIGRATIONS: list[Migration] = [
    ("0001_initial", _state_v1),
    ("0002_ticket_context", _state_v2),
    ("0003_answer_by_message", _state_v3),
    ("0004_inbox_post", _state_v4),
    ("0005_insights", _state_v5_insights),
    ("0006_privacy", _state_v6_privacy),
    ("0007_workers", _state_v7_workers),
    ("0008_slack_installations", _state_v8_slack_installs),
    ("0009_dashboard", _state_v9_dashboard),
    ("0010_messages_at", _state_v10_messages_at),
    ("0011_workspaces", _state_v11_workspaces),
    ("0012_gap_workspaces", _state_v12_gap_workspaces),
    ("0013_message_ids", _state_v13_message_ids),
    ("0014_answer_events", _state_v14_answer_events),
    ("0015_ticket_messages", _state_v15_ticket_messages),
    ("0016_dashboard_sessions", _state_v16_dashboard_sessions),
    ("0017_sla_claims", _state_v17_sla_claims),
    ("0018_post_claims", _state_v18_post_claims),
    ("0019_session_hashes", _state_v19_session_hashes),
    ("0020_card_claims", _state_v20_card_claims),
    ("0021_slack_organisations", _state_v21_slack_organisations),
    ("0022_revisions", _state_v22_revisions),
    ("0023_model_reservations", _state_v23_model_reservations),
    ("0024_draft_edits", _state_v24_draft_edits),
    ("0025_notice_languages", _state_v25_notice_languages),
    ("0026_revised_answers", _state_v26_revised_answers),
]
CATALOG_MIGRATIONS: list[Migration] = [
    ("0001_initial", _catalog_v1),
    ("0002_embeddings", _catalog_v2_embeddings),
    ("0003_audiences", _catalog_v3_audiences),
    ("0004_includes", _catalog_v4_includes),
]


def pending(conn: sqlite3.Connection, migrations: list[Migration]) -> bool:
    """Whether a SQLite database has any of `migrations` to apply, or records one they do not
    hold (a newer version's, which `migrate` refuses), read with the driver alone: opening
    the catalog on the `supportbot ask` path needs no sqlite-utils."""
    try:
        done = {row[0] for row in conn.execute(f"select name from {RECORD}")}
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return True  # a new file
        raise
    return done != {name for name, _ in migrations}


# how a migration is tried: given its name and a call that applies it (False when another
# process already had), it calls that once, or on PostgreSQL again while another session
# holds a table the step changes (bot/store/postgres_migrating.py)
Attempts = Callable[[str, Callable[[], bool]], bool]


def migrate(
    db: StateDatabase,
    migrations: list[Migration],
    *,
    where: str = "the database",
    attempts: Attempts | None = None,
) -> list[str]:
    """Apply the migrations `db` has not seen yet; return the names applied. A database `check`
    refuses is refused before anything is written to it (`where` names it in the StoreError).
    No migrations: nothing is read or written (the database is only opened)."""
    if not migrations:
        return []
    done = check(db, migrations, where=where)
    applied: list[str] = []
    for name, step in migrations:
        if name in done:
            continue
        apply = partial(_apply, db, name, step)
        if attempts(name, apply) if attempts is not None else apply():
            applied.append(name)
    return applied


def _apply(db: StateDatabase, name: str, step: Callable[[StateDatabase], None]) -> bool:
    """One migration in a transaction of its own; False when another process had applied it."""
    with transaction(db):
        if RECORD not in db.table_names():
            # made in the first step's transaction: a step that fails (a login that may not
            # create tables) leaves no trace, and on SQLite the write lock is waited for
            # (BEGIN IMMEDIATE) where a CREATE on its own failed at once when others raced
            db.table(RECORD).create({"name": str, "applied_at": str}, pk="name")
        elif db.execute(f"select 1 from {RECORD} where name = ?", [name]).fetchone() is not None:
            # read again under the step's write lock: another process (`supportbot migrate` or
            # `doctor` beside a starting `run`) may have applied it while this one waited
            return False
        step(db)
        at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")  # as SQLite's datetime('now')
        db.execute(f"insert into {RECORD} (name, applied_at) values (?, ?)", [name, at])
    return True


def check(db: StateDatabase, migrations: list[Migration], *, where: str = "the database") -> set[str]:
    """The names of the migrations `db` records (none for an empty database), read without
    changing it; a StoreError for a database these migrations must not touch: one holding
    tables but no record of ours (another application's), one whose record is not of these
    migrations (another application's, or supportbot's other database), or one recording a
    migration they do not hold (a newer supportbot's, whose schema this code does not know:
    running on it could write what the newer code cannot read)."""
    tables = db.table_names()
    if RECORD not in tables:
        theirs = [t for t in tables if not t.startswith("sqlite_")]
        if theirs:
            raise StoreError(
                f"{where} holds tables that are not supportbot's ({_few(theirs)}) and no record of "
                "supportbot's migrations: is it another application's database? Nothing was "
                "changed. Give supportbot an empty database of its own."
            )
        return set()
    done = {str(row[0]) for row in db.execute(f"select name from {RECORD}").fetchall()}
    known = {name for name, _ in migrations}
    unknown = sorted(done - known)
    if unknown and not known <= done:
        # migrations run in order and are never renamed, so a newer supportbot's database
        # records every one this version knows: this one is something else (another
        # application's, or supportbot's other database, whose names partly match)
        state = migrations[0][1] is _state_v1
        kind = "a supportbot state database" if state else "supportbot's search catalog"
        raise StoreError(
            f"{where} is not {kind}: its {RECORD} table records {_few(unknown)}. Is it another "
            "application's database, or supportbot's other one (state.db and index/catalog.db "
            "in the data directory)? Nothing was changed."
        )
    if unknown:
        raise StoreError(
            f"{where} was written by a newer supportbot (migration {_few(unknown)}, unknown to "
            "this version): upgrade this worker to the release that wrote it, or a later one. "
            "Nothing was changed."
        )
    return done


def _few(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
