"""`supportbot store copy` on a big install: state.db into PostgreSQL, against anchors in the same run.

    python -m bench.store_copy [--messages 100000] [--tickets 10000] [--runs 3] [--url postgresql://...]

Builds one state.db (the product's schema, migrated by StateStore) holding `--messages` messages
in 20,000 threads, an answer for every fourth message, `--tickets` tickets with two events each,
feedback and gap questions. Each run copies it into a fresh PostgreSQL schema with the
product's `copy_state` (migrations, the emptiness check, COPY in batches, identities, one
transaction). PostgreSQL is a pgserver started here unless --url (or
SUPPORTBOT_TEST_DATABASE_URL) names one. Anchors, each in the same run:

* SQLite's own backup of the file (what `.backup` does): a copy that needs no conversion at all;
* a plain `select *` of every table: reading alone, the least any copy must do;
* the same rows written with `executemany` inserts (10,000 a batch) instead of COPY, into a
  migrated schema: the other way a copy could be written.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.corpus import machine, table  # noqa: E402
from bench.schemas import fresh_schema  # noqa: E402
from bot.store import StateStore  # noqa: E402
from bot.store.copy import copy_order, copy_state  # noqa: E402
from bot.store.store import open_readonly  # noqa: E402

THREADS = 20_000
AT = "2026-11-30T10:00:00.000+00:00"


def build(path: Path, messages: int, tickets: int) -> None:
    StateStore(path).close()  # the product's schema, migrated
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "insert into conversations (key, platform, workspace, channel, thread, started_at, asker_id) "
            "values (?, 'slack', 'T1', 'C1', ?, ?, ?)",
            [(f"slack:T1:C1:{t}", str(t), AT, f"U{t % 2000:06d}") for t in range(THREADS)],
        )
        db.executemany(
            "insert into messages (conversation, platform_id, author_id, author_name, role, text, at) "
            "values (?, ?, ?, 'name', 'user', ?, ?)",
            [
                (f"slack:T1:C1:{n % THREADS}", str(n), f"U{n % 2000:06d}", f"question {n} about exports", AT)
                for n in range(messages)
            ],
        )
        db.execute(
            "insert into answers (conversation, message_id, asker_id, question, answer, confidence, language, "
            "answerer, abstained, sources, created_at, channel) select conversation, platform_id, author_id, "
            "text, 'an answer', 0.8, 'en', 'extractive', 0, '[]', at, 'slack:T1:C1' from messages where id % 4 = 0"
        )
        db.execute(
            "insert into tickets (conversation, platform, asker_id, asker_name, question, reason, status, "
            "created_at, updated_at) select conversation, 'slack', asker_id, 'name', question, "
            "'low_confidence', 'resolved', created_at, created_at from answers order by id limit ?",
            [tickets],
        )
        for event in ("opened", "resolved"):
            db.execute(
                "insert into ticket_events (ticket_id, at, actor_id, event, detail) "
                "select id, created_at, asker_id, ?, question from tickets",
                [event],
            )
        db.execute(
            "insert into feedback (answer_id, user_id, value, at) "
            "select id, asker_id, 'helpful', created_at from answers where id % 3 = 0"
        )
        db.execute(
            "insert into gaps (platform, kind, representative, signature, status, asks, created_at) "
            "values ('slack', 'hard', 'q', '[]', 'open', 1, '2026')"
        )
        db.execute(
            "insert into gap_questions (answer_id, gap_id, question, at) "
            "select id, 1, question, created_at from answers where id % 7 = 0"
        )
    db.close()


@contextmanager
def server(given: str | None) -> Iterator[str]:
    if given:
        yield given
        return
    import pgserver

    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)  # pgserver runs the server as its own user when started as root
        pg = pgserver.get_server(Path(folder), cleanup_mode="stop")
        try:
            yield str(pg.get_uri())
        finally:
            pg.cleanup()


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def sqlite_backup(source: Path, work: Path) -> None:
    destination = work / f"backup-{uuid.uuid4().hex}.db"
    src, dst = sqlite3.connect(source), sqlite3.connect(destination)
    src.backup(dst)
    src.close()
    dst.close()
    destination.unlink()


def read_everything(source: Path) -> int:
    db = sqlite3.connect(source)
    rows = 0
    for (name,) in db.execute(
        "select name from sqlite_master where type = 'table' and name != '_migrations'"
    ):
        rows += len(db.execute(f'select * from "{name}"').fetchall())
    db.close()
    return rows


def executemany_copy(source: Path, url: str) -> None:
    """The rows written with batched inserts into a migrated schema, in one transaction."""
    StateStore(url).close()  # migrate the schema
    db = open_readonly(source)
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        for name in copy_order(db):
            columns = list(db.table(name).columns_dict)
            statement = (
                f'insert into "{name}" ({", ".join(columns)}) values ({", ".join(["%s"] * len(columns))})'
            )
            rows = db.execute(f'select {", ".join(columns)} from "{name}"')
            while chunk := rows.fetchmany(10_000):
                cursor.executemany(statement, chunk)
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", default=os.environ.get("SUPPORTBOT_TEST_DATABASE_URL"))
    args = parser.parse_args()
    timings: dict[str, list[float]] = {"copy": [], "backup": [], "read": [], "executemany": []}
    with tempfile.TemporaryDirectory() as tmp, server(args.url) as url:
        work = Path(tmp)
        source = work / "state.db"
        build(source, args.messages, args.tickets)
        total = read_everything(source)
        copied = 0
        for _ in range(args.runs):
            timings["backup"].append(timed(lambda: sqlite_backup(source, work)))
            timings["read"].append(timed(lambda: read_everything(source)))
            with fresh_schema(url) as target:
                start = time.perf_counter()
                copied = copy_state(source, target).total
                timings["copy"].append((time.perf_counter() - start) * 1000)
            with fresh_schema(url) as other:
                timings["executemany"].append(timed(lambda: executemany_copy(source, other)))
        size = source.stat().st_size
    anchor = statistics.median(timings["backup"])
    names = {
        "copy": "supportbot store copy (copy_state: migrate, COPY, identities)",
        "backup": "anchor: SQLite backup of the file (.backup)",
        "read": "anchor: select * of every table (read only)",
        "executemany": "alternative: executemany inserts, 10,000 a batch",
    }
    rows = [
        (names[k], statistics.median(t), max(t), statistics.median(t) / anchor) for k, t in timings.items()
    ]
    print(
        f"store copy of {args.messages:,} messages, {args.tickets:,} tickets ({copied:,} rows in all, "
        f"{size / 1e6:.0f} MB state.db), {args.runs} runs; {machine()['cpu']}"
    )
    print(table(["operation", "median ms", "max ms", "x anchor (backup)"], rows))
    print(f"rows copied: {copied:,} of the source's {total:,} (without _migrations)")


if __name__ == "__main__":
    main()
