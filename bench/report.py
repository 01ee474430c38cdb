"""Support metrics: `supportbot report` over 100,000 questions and 10,000 tickets.

    python -m bench.report [--questions 100000] [--tickets 10000] [--runs 5] [--cli-runs 3]
    python -m bench.report --quick            # 10,000 questions, 1,000 tickets: a smoke run

A state.db is made with the product's own schema (StateStore runs the migrations) and filled,
seeded, with a month of support: each question is the asker's message, the bot's answer row
and (unless it abstained) the bot's post; a share of askers click Helpful / Not helpful /
Solved, thank the bot or follow up; every ticket gets the team's first reply in its thread,
most are resolved and some rated. Then, over the whole month:

- ours: `bot.insights.collect.collect` (every query, one snapshot, then the definitions in
  Python), the same call `/support stats` makes; and `supportbot report --format json` in a
  fresh process (interpreter start, settings, opening the store, the report, JSON);
- anchor: what reading the same rows costs at least, in the same run on the same file:
  `select count(*)` over the period's answers, messages and tickets (one scan each), and the
  old `StateStore.stats` (counts only, no outcomes, no times).

Medians over the runs; the ratio is ours divided by the anchor.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import SEED, machine, table  # noqa: E402

TARGET_S = 2.0
FOLLOW_UPS = (
    "thanks!",
    "ok",
    "감사합니다",
    "that did not work, the page still says 404",
    "thank you so much",
)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def fill(path: Path, questions: int, tickets: int, now: datetime) -> None:
    """A month of support in `path`, written with executemany (the bot's own writes would
    take minutes; the rows are the same shape)."""
    from bot.store import StateStore

    rnd = random.Random(SEED)
    store = StateStore(path)
    db = store.db
    answers, messages, feedback = [], [], []
    span = 30 * 24 * 3600
    ticket_for: list[tuple[int, str, str, datetime, str]] = []
    ticket_share = tickets / questions
    for n in range(1, questions + 1):
        platform = "slack" if n % 3 else "discord"
        channel = f"{platform}:W1:C{n % 40}"
        conversation = f"{channel}:{n}"
        asker = f"U{rnd.randrange(questions // 3)}"
        answered_at = now - timedelta(seconds=rnd.randrange(span))
        abstained = rnd.random() < ticket_share / 2
        language = "ko" if n % 10 == 0 else "en"
        answers.append(
            (
                n,
                conversation,
                channel,
                f"q{n}",
                asker,
                f"question {rnd.randrange(5000)}",
                "answer",
                0.8,
                language,
                "extractive",
                int(abstained),
                "[]",
                None,
                0,
                0,
                None if abstained else f"b{n}",
                _iso(answered_at),
            )
        )
        messages.append(
            (conversation, f"q{n}", asker, "user", "question", _iso(answered_at - timedelta(seconds=2)))
        )
        if not abstained:
            messages.append((conversation, f"b{n}", None, "bot", "answer", _iso(answered_at)))
            roll = rnd.random()
            if roll < 0.15:
                feedback.append(
                    (
                        n,
                        asker,
                        rnd.choice(("helpful", "helpful", "solved", "not_helpful")),
                        _iso(answered_at + timedelta(minutes=5)),
                    )
                )
            elif roll < 0.45:
                messages.append(
                    (
                        conversation,
                        f"f{n}",
                        asker,
                        "user",
                        rnd.choice(FOLLOW_UPS),
                        _iso(answered_at + timedelta(minutes=rnd.randrange(1, 600))),
                    )
                )
        if abstained or rnd.random() < ticket_share / 2:
            ticket_for.append((n, conversation, asker, answered_at, language))
    ticket_rows, events = [], []
    for t, (n, conversation, asker, opened, language) in enumerate(ticket_for[:tickets], start=1):
        reply = opened + timedelta(minutes=rnd.randrange(1, 3000))
        resolved = reply + timedelta(minutes=rnd.randrange(1, 5000)) if rnd.random() < 0.8 else None
        resolved = resolved if resolved and resolved < now else None
        rating = rnd.choice(("good", "good", "bad", None)) if resolved else None
        if reply < now:
            messages.append((conversation, f"s{t}", "STAFF", "staff", "on it", _iso(reply)))
        ticket_rows.append(
            (
                t,
                conversation,
                conversation.split(":", 1)[0],
                asker,
                "help",
                "low_confidence",
                "resolved" if resolved else "open",
                n,
                language,
                _iso(resolved) if resolved else None,
                rating,
                _iso(reply) if reply < now else None,
                _iso(opened),
                _iso(opened),
            )
        )
        events.append((t, _iso(opened), asker, "opened", ""))
        if rating and resolved:
            events.append((t, _iso(resolved + timedelta(minutes=1)), asker, "rated", rating))
    with db.conn:
        db.conn.executemany(
            "insert into answers (id, conversation, channel, message_id, asker_id, question, answer, confidence, "
            "language, answerer, abstained, sources, top_path, tokens_in, tokens_out, posted_message_id, "
            "created_at) values (" + ", ".join("?" * 17) + ")",
            answers,
        )
        db.conn.executemany(
            "insert into messages (conversation, platform_id, author_id, role, text, at) values (?, ?, ?, ?, ?, ?)",
            messages,
        )
        db.conn.executemany(
            "insert into feedback (answer_id, user_id, value, at) values (?, ?, ?, ?)", feedback
        )
        db.conn.executemany(
            "insert into tickets (id, conversation, platform, asker_id, question, reason, status, answer_id, "
            "language, resolved_at, rating, last_staff_reply_at, created_at, updated_at) values ("
            + ", ".join("?" * 14)
            + ")",
            ticket_rows,
        )
        db.conn.executemany(
            "insert into ticket_events (ticket_id, at, actor_id, event, detail) values (?, ?, ?, ?, ?)",
            events,
        )
    db.execute("analyze")
    store.close()


def _median_ms(action: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(runs):
        started = time.perf_counter()
        value = action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), value


def run(questions: int, tickets: int, runs: int, cli_runs: int) -> dict[str, Any]:
    from bot.hours import BusinessHours
    from bot.insights.collect import collect
    from bot.insights.metrics import Definitions, Period, Scope
    from bot.store import StateStore

    now = datetime.now(UTC)
    results: dict[str, Any] = {"machine": machine(), "questions": questions, "tickets": tickets}
    with tempfile.TemporaryDirectory(prefix="supportbot-bench-report-") as tmp:
        data = Path(tmp) / "data"
        started = time.perf_counter()
        fill(data / "state.db", questions, tickets, now)
        results["fill_s"] = time.perf_counter() - started
        store = StateStore(data / "state.db")
        period = Period(since=now - timedelta(days=31), until=now)
        definitions = Definitions(
            assume_after=timedelta(hours=24),
            hours=BusinessHours.parse("09:00-18:00", ("mon", "tue", "wed", "thu", "fri"), "UTC"),
        )
        since, until = _iso(period.since), _iso(period.until)

        def scan() -> int:
            total = 0
            for sql in (
                "select count(*) from answers where created_at >= ? and created_at < ?",
                "select count(*) from messages where at >= ? and at < ?",
                "select count(*) from tickets where created_at >= ? and created_at < ?",
            ):
                total += int(store.db.execute(sql, [since, until]).fetchone()[0])
            return total

        _median_ms(lambda: collect(store, period, Scope(), definitions), 1)  # warm the page cache
        results["collect_ms"], report = _median_ms(lambda: collect(store, period, Scope(), definitions), runs)
        results["scan_ms"], results["rows_scanned"] = _median_ms(scan, runs)
        results["stats_ms"], _ = _median_ms(lambda: store.stats(period.since), runs)
        results["metrics"] = report.metrics
        store.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTBOT_")}
        command = [
            sys.executable,
            "-m",
            "bot",
            "report",
            "--data",
            str(data),
            "--since",
            "31d",
            "--format",
            "json",
        ]

        def cli() -> None:
            done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"supportbot report failed:\n{done.stderr[-2000:]}")

        results["cli_ms"], _ = _median_ms(cli, cli_runs)
        version = [sys.executable, "-m", "bot", "--help"]
        results["cli_start_ms"], _ = _median_ms(
            lambda: subprocess.run(version, cwd=tmp, env=env, capture_output=True, check=False), cli_runs
        )
    return results


def report(r: dict[str, Any]) -> str:
    anchor = r["scan_ms"]
    m = r["metrics"]
    rows = [
        ["anchor: select count(*) over the period's answers, messages, tickets", anchor, 1.0],
        [
            "anchor: StateStore.stats (the old /support stats: counts only)",
            r["stats_ms"],
            r["stats_ms"] / anchor,
        ],
        [
            "ours: collect() (every figure, breakdowns, top questions, gaps)",
            r["collect_ms"],
            r["collect_ms"] / anchor,
        ],
        ["ours: `supportbot report --format json`, fresh process", r["cli_ms"], r["cli_ms"] / anchor],
        ["(for scale: `supportbot --help`, fresh process)", r["cli_start_ms"], r["cli_start_ms"] / anchor],
    ]
    return "\n".join(
        [
            f"Support report over {r['questions']:,} questions and {r['tickets']:,} tickets "
            f"({r['rows_scanned']:,} rows in the period; filled in {r['fill_s']:.1f}s)",
            f"machine: {r['machine']['cpu']}, Python {r['machine']['python']}, load {r['machine']['load_average']}",
            "",
            table(["what", "median ms", "x anchor"], rows),
            "",
            f"figures: {m.questions:,} questions, {m.confirmed_resolutions:,} confirmed / "
            f"{m.assumed_resolutions:,} assumed, {m.escalations:,} escalations, human first response p50 "
            f"{m.human_first_response_p50_minutes} business min",
            f"target: `supportbot report` < {TARGET_S:.0f} s: {r['cli_ms'] / 1000:.2f} s: "
            f"{'met' if r['cli_ms'] / 1000 < TARGET_S else 'NOT met'}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5, help="in-process runs of each (default 5)")
    parser.add_argument("--cli-runs", type=int, default=3, help="fresh `supportbot report` runs (default 3)")
    parser.add_argument("--quick", action="store_true", help="10,000 questions, 1,000 tickets")
    args = parser.parse_args()
    if args.quick:
        args.questions, args.tickets, args.runs, args.cli_runs = 10_000, 1_000, 3, 1
    print(report(run(args.questions, args.tickets, args.runs, args.cli_runs)))


if __name__ == "__main__":
    main()
