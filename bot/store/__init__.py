"""Durable state through sqlite-utils (and the PostgreSQL driver); the knowledge catalog on the
sqlite3 driver it opens. Nothing outside this package speaks SQL.

`StateStore` keeps what must never be lost: the inbox of platform events, conversations,
messages, answers, tickets and feedback. `Catalog` describes the knowledge index, a cache
that can be rebuilt from the folder at any time; it lives in another file so that
deleting the index never touches state.

Database calls block, so async code goes through `AsyncStore`, which runs every call on one
dedicated thread (SQLite connections are not shared across threads).

State lives in SQLite (state.db, the default) or, with `SUPPORTBOT_DATABASE_URL` / `[store]
url`, in PostgreSQL: the same repositories and migrations run on both. The catalog always
stays a local SQLite file.

Modules, by concern:
  store.py          opening and migrating a database, the backend choice, the repositories' base
  sqlite_file.py    opening a SQLite file (pragmas, busy timeout, errors as advice) with the
                    standard library alone
  values.py         times and LIKE patterns as stored text
  postgres.py       the PostgreSQL backend: sqlite-utils' calls over the PostgreSQL driver
  postgres_connection.py  its connection: a deadline on each exchange, a session the server
                    ended found before a statement is sent to it
  postgres_session.py  what every PostgreSQL session gets: keepalives, deadlines
  postgres_migrating.py  migrating PostgreSQL beside running workers: one process at a time,
                    each step giving way to the sessions holding its tables
  dialect.py        the few SQLite spellings rewritten for PostgreSQL
  urls.py           database URLs, and showing them without the password
  copy.py           `supportbot store copy`: an install's state.db into PostgreSQL
  migrations.py     the numbered schema migrations of both databases (from 0005 on in
                    migrations_later.py)
  inbox.py          the durable event inbox and replay claims
  conversations.py  conversations, their flags and messages
  answers.py        answers, feedback, usage and model limits, /stats and knowledge gaps
  tickets.py        tickets and their events
  sla_clock.py      the SLA clock on tickets: deadlines due, reminders claimed and stepped
  ticket_posts.py   the messages that show a ticket (the note, staff's card)
  drafts.py         drafts of the learning loop
  jobs.py           once-only jobs, hourly claims, and `exclusive` (a cluster-wide advisory lock)
  workers.py        the running bots sharing this state, with their heartbeats
  state.py          StateStore (assembled from the repositories above) and AsyncStore
  catalog.py        Catalog, the rebuildable knowledge-index cache: plain SQL on the driver, so
                    `supportbot ask` loads sqlite-utils only to migrate an older catalog

Import from `bot.store`, not from the modules: the layout may change, these names will not.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.store.answers import AnswerRecord, AnswerRepository, Stats
    from bot.store.catalog import Catalog, FileRecord
    from bot.store.conversations import ConversationRepository, ConversationState
    from bot.store.drafts import DraftRepository
    from bot.store.inbox import REPLAY_LEASE, InboxRepository
    from bot.store.state import AsyncStore, StateStore
    from bot.store.store import DEFAULT_BUSY_TIMEOUT, open_database
    from bot.store.tickets import TicketRepository

# Each name is imported from its module on first use, so a command that needs only the
# catalog (`supportbot ask`) does not load every repository of the state store.
_HOME = {
    "AnswerRecord": "answers",
    "AnswerRepository": "answers",
    "Stats": "answers",
    "Catalog": "catalog",
    "FileRecord": "catalog",
    "ConversationRepository": "conversations",
    "ConversationState": "conversations",
    "DraftRepository": "drafts",
    "REPLAY_LEASE": "inbox",
    "InboxRepository": "inbox",
    "AsyncStore": "state",
    "StateStore": "state",
    "DEFAULT_BUSY_TIMEOUT": "store",
    "open_database": "store",
    "TicketRepository": "tickets",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "REPLAY_LEASE",
    "AnswerRecord",
    "AnswerRepository",
    "AsyncStore",
    "Catalog",
    "ConversationRepository",
    "ConversationState",
    "DraftRepository",
    "FileRecord",
    "InboxRepository",
    "StateStore",
    "Stats",
    "TicketRepository",
    "open_database",
]
