"""Forget-me on a big data directory: `StateStore.forget` against plain SQL anchors, same run.

    python bench/forget.py [--messages 100000] [--runs 5]

Builds one state.db (through StateStore, so the schema is the product's) holding `--messages`
messages from 2,000 people in 20,000 threads, an answer for every fifth message, a ticket for
every tenth answer, feedback, gap questions, reply drafts and memory. The person forgotten wrote
50 messages, 10 questions and 2 tickets. Each run forgets them on a fresh copy of the file (the
OS cache is warm after the first copy). Anchors, on fresh copies too: a plain
`DELETE FROM messages WHERE author_id = ?` (what any forget must at least do) and a full scan of
the message text (`instr`, what finding them in others' words costs). After the last run every
column of every table is searched for the person's id and words: "trace" must be 0.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import machine, table  # noqa: E402
from bot.store import StateStore  # noqa: E402

TARGET = "U0TARGET42"
TARGET_WORD = "xylophonic"  # a word only the target wrote
PEOPLE = 2000
THREADS = 20000


def build(path: Path, messages: int) -> None:
    StateStore(path).close()  # the product's schema, migrated
    db = sqlite3.connect(path)
    at = "2026-11-30T10:00:00.000+00:00"
    with db:
        db.executemany(
            "insert into conversations (key, platform, workspace, channel, thread, started_at, asker_id) "
            "values (?, 'slack', 'T1', 'C1', ?, ?, ?)",
            [(f"slack:T1:C1:{t}", str(t), at, f"U{t % PEOPLE:06d}") for t in range(THREADS)],
        )
        rows = []
        for n in range(messages):
            thread = n % THREADS
            author = f"U{thread % PEOPLE:06d}" if n >= 50 else TARGET
            text = f"question {n} about exports and invoices" + (
                f" {TARGET_WORD}" if author == TARGET else ""
            )
            rows.append((f"slack:T1:C1:{thread}", str(n), author, "name", "user", text, at))
        db.executemany(
            "insert into messages (conversation, platform_id, author_id, author_name, role, text, at) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        answers = [
            (r[0], r[1], r[2], r[5], "an answer", 0.8, "en", "extractive", 0, "[]", at, "slack:T1:C1")
            for r in rows[::5]
        ] + [
            (
                rows[i][0],
                f"t{i}",
                TARGET,
                f"{TARGET_WORD} question {i}",
                "an answer",
                0.8,
                "en",
                "x",
                0,
                "[]",
                at,
                "slack:T1:C1",
            )
            for i in range(10)
        ]
        db.executemany(
            "insert into answers (conversation, message_id, asker_id, question, answer, confidence, language, "
            "answerer, abstained, sources, created_at, channel) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            answers,
        )
        db.execute(
            "insert into tickets (conversation, platform, asker_id, asker_name, question, reason, status, "
            "created_at, updated_at) select conversation, 'slack', asker_id, 'name', question, 'low_confidence', "
            "'resolved', created_at, created_at from answers where id % 10 = 0 or asker_id = ?",
            [TARGET],
        )
        db.execute(
            "insert into ticket_events (ticket_id, at, actor_id, event, detail) "
            "select id, created_at, asker_id, 'opened', question from tickets"
        )
        db.execute(
            "insert into feedback (answer_id, user_id, value, at) select id, asker_id, 'helpful', created_at "
            "from answers where id % 3 = 0 or asker_id = ?",
            [TARGET],
        )
        db.execute(
            "insert into gaps (platform, kind, representative, signature, status, asks, created_at) "
            "values ('slack', 'hard', 'q', '[]', 'open', 1, '2026')"
        )
        db.execute(
            "insert into gap_questions (answer_id, gap_id, question, at) "
            "select id, 1, question, created_at from answers where id % 7 = 0 or asker_id = ?",
            [TARGET],
        )
        db.execute(
            "insert into reply_drafts (conversation, asker_id, question, answer, status, created_at) "
            "select conversation, asker_id, question, 'draft', 'pending', created_at from answers where id % 11 = 0 or asker_id = ?",
            [TARGET],
        )
        db.executemany(
            "insert into user_memory (platform, user_id, enabled, facts, updated_at) values ('slack', ?, 1, ?, ?)",
            [(f"U{p:06d}", '[{"kind": "language", "text": "en", "at": ""}]', at) for p in range(PEOPLE)]
            + [(TARGET, f'[{{"kind": "plan", "text": "{TARGET_WORD} plan", "at": ""}}]', at)],
        )
    db.close()


def timed_copy(source: Path, work: Path, action: str) -> float:
    copy = work / f"run-{action}.db"
    shutil.copyfile(source, copy)
    if action == "forget":
        store = StateStore(copy)
        start = time.perf_counter()
        store.forget("slack", TARGET, datetime.now(UTC))
        elapsed = time.perf_counter() - start
        store.close()
    else:
        db = sqlite3.connect(copy)
        start = time.perf_counter()
        with db:
            if action == "delete":
                db.execute("delete from messages where author_id = ?", [TARGET])
            else:
                db.execute("select count(*) from messages where instr(text, ?) > 0", [TARGET]).fetchone()
        elapsed = time.perf_counter() - start
        db.close()
    return elapsed * 1000


def traces(path: Path) -> int:
    db = sqlite3.connect(path)
    found = 0
    for (name,) in db.execute("select name from sqlite_master where type = 'table'").fetchall():
        for row in db.execute(f'select * from "{name}"'):
            found += sum(
                1 for cell in row if isinstance(cell, str) and (TARGET in cell or TARGET_WORD in cell)
            )
    db.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "state.db"
        build(source, args.messages)
        timings: dict[str, list[float]] = {"forget": [], "delete": [], "scan": []}
        for _ in range(args.runs):
            for action in timings:
                timings[action].append(timed_copy(source, work, action))
        left = traces(work / "run-forget.db")
        before = traces(source)
    anchor = statistics.median(timings["delete"])
    names = {
        "forget": "StateStore.forget (every table, one transaction)",
        "delete": "anchor: DELETE FROM messages WHERE author_id = ?",
        "scan": "anchor: full scan of message text (instr)",
    }
    rows = [
        (names[a], statistics.median(t), max(t), statistics.median(t) / anchor) for a, t in timings.items()
    ]
    print(f"forget-me on {args.messages:,} messages, {args.runs} runs; {machine()['cpu']}")
    print(table(["operation", "median ms", "max ms", "x anchor (DELETE)"], rows))
    print(f"cells holding the person's id or words: {before:,} before, {left:,} after forget (target: 0)")
    print(
        f"target: forget under 1,000 ms -> {'met' if max(timings['forget']) < 1000 and left == 0 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
