"""What one statement costs the bot on PostgreSQL against SQLite: the floor under issue 14's ratio.

    python -m bench.statement_cost [--runs 2000] [--database-url postgresql://...]

A worker is CPU-bound on one core (bench/cluster_throughput.py), so what a store call costs
its process, not the server, decides how many questions it answers. In this one process,
against a pgserver started here (or `--database-url` / SUPPORTBOT_TEST_DATABASE_URL) and a
SQLite file, `--runs` times each:

* the product's store (`StateStore`): a one-row write transaction (`note_heard`) and a
  one-row read (`noted_heard`), as every question makes several of;
* the anchor: the driver alone, `select 1` on one connection (psycopg's binary build, the
  statement prepared after five runs as psycopg does; sqlite3's own), the least any store
  call costs.

Wall clock per call, and the process's CPU per call split into user and system (the
kernel's share is the socket round trip): the ratio PostgreSQL / SQLite beside each.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repository root: bot.*, bench.*

import psycopg  # noqa: E402

from bench.cluster_throughput import postgres  # noqa: E402
from bot.store import StateStore  # noqa: E402


@dataclass(frozen=True)
class Cost:
    """One call's average cost, in microseconds."""

    wall: float
    user: float
    system: float


def measure(call: Callable[[int], object], runs: int) -> Cost:
    """`call(i)` for i in range(runs), after a warm-up of a tenth as many."""
    for i in range(max(runs // 10, 10)):
        call(i)
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for i in range(runs):
        call(i)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    return Cost(
        wall=wall / runs * 1e6,
        user=(after.ru_utime - before.ru_utime) / runs * 1e6,
        system=(after.ru_stime - before.ru_stime) / runs * 1e6,
    )


def costs(store: StateStore, select_one: Callable[[], object], runs: int) -> dict[str, Cost]:
    return {
        "store write (one-row transaction)": measure(
            lambda i: store.note_heard("bench", f"{1796500000 + i}.000000"), runs
        ),
        "store read (one row)": measure(lambda i: store.noted_heard("bench"), runs),
        "driver alone: select 1": measure(lambda i: select_one(), runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--database-url", default=os.environ.get("SUPPORTBOT_TEST_DATABASE_URL"))
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="supportbot-bench-") as tmp,
        postgres(args.database_url, Path(tmp)) as url,
    ):
        lite = StateStore(Path(tmp) / "state.db")
        raw_lite = sqlite3.connect(Path(tmp) / "raw.db")
        sqlite = costs(lite, lambda: raw_lite.execute("select 1").fetchone(), args.runs)
        lite.close()
        raw_lite.close()
        pg = StateStore(url)
        with psycopg.connect(url, autocommit=True) as raw_pg:
            postgresql = costs(pg, lambda: raw_pg.execute("select 1").fetchone(), args.runs)
        pg.close()
    print(f"One call, microseconds, mean of {args.runs} (this process's CPU: user + system)")
    print(f"{'':36} {'SQLite wall/user/sys':>22} {'PostgreSQL wall/user/sys':>26} {'CPU ratio':>10}")
    for name, lite_cost in sqlite.items():
        pg_cost = postgresql[name]
        ratio = (pg_cost.user + pg_cost.system) / max(lite_cost.user + lite_cost.system, 1e-9)
        print(
            f"{name:36} {lite_cost.wall:8.0f}/{lite_cost.user:5.0f}/{lite_cost.system:5.0f}"
            f" {pg_cost.wall:12.0f}/{pg_cost.user:5.0f}/{pg_cost.system:5.0f} {ratio:9.1f}x"
        )


if __name__ == "__main__":
    main()
