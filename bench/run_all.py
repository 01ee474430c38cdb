"""Run every benchmark under bench/ and print one summary table against the targets.

    python bench/run_all.py            # the full sizes (about 10 minutes on 2 cores)
    python bench/run_all.py --quick    # small sizes, a smoke run (well under a minute)
    python bench/run_all.py --only retrieval reindex --json results.json

Each benchmark runs in its own process, one after the other (they would disturb each
other's timings on a small machine), and prints its own tables first: retrieval.py,
ask_cold.py, reindex.py, and the adapter latency benchmarks slack_latency.py and
discord_latency.py when they are present (their p50 / p99 are read from their output).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import machine, table  # noqa: E402

OURS = ("retrieval", "ask_cold", "reindex")
# (script, full arguments, quick arguments)
ADAPTERS = {
    "slack_latency": ([], ["--events", "20", "--concurrency", "1", "4"]),
    "discord_latency": ([], ["--messages", "20"]),
}


def _run(script: str, arguments: list[str]) -> tuple[int, str, float]:
    started = time.perf_counter()
    print(f"\n=== python bench/{script}.py {' '.join(arguments)}".rstrip(), flush=True)
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{script}.py"), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    print(done.stdout.rstrip(), flush=True)
    if done.returncode != 0:
        print(f"--- {script} failed ({done.returncode}):\n{done.stderr[-3000:]}", flush=True)
    return done.returncode, done.stdout, elapsed


def _numbers(line: str) -> list[float] | None:
    try:
        return [float(x) for x in line.split()]
    except ValueError:
        return None


def adapter_rows(script: str, output: str) -> list[dict[str, Any]]:
    """p50 / p99 lines from the adapter benchmarks' own tables (best effort): a row is a label
    followed by 7 (Slack: concurrency + 7) or 8 (Discord) numbers."""
    rows: list[dict[str, Any]] = []
    for line in output.splitlines():
        parts = line.split()
        if script == "slack_latency" and len(parts) == 8 and (n := _numbers(line)):
            rows.append(
                {
                    "metric": f"Slack mention -> answer posted, concurrency {int(n[0])}",
                    "value": f"p50 {n[4]:.1f} / p99 {n[5]:.1f} ms ({int(n[1])} events)",
                    "target": "",
                    "met": "",
                }
            )
        if script == "discord_latency" and len(parts) >= 9 and (n := _numbers(" ".join(parts[-8:]))):
            label = " ".join(parts[:-8])
            if label and _numbers(label) is None:
                rows.append(
                    {
                        "metric": f"Discord message -> answer posted, {label}",
                        "value": f"p50 {n[3]:.1f} / p99 {n[4]:.1f} ms ({int(n[0])} messages)",
                        "target": "",
                        "met": "",
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", nargs="+", choices=[*OURS, *ADAPTERS], help="run only these")
    parser.add_argument("--json", dest="json_out", help="write every benchmark's raw results to this file")
    args = parser.parse_args()
    chosen = args.only or [*OURS, *(name for name in ADAPTERS if (BENCH / f"{name}.py").exists())]
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="supportbot-bench-all-") as tmp:
        for name in chosen:
            if name in OURS:
                out = Path(tmp) / f"{name}.json"
                code, _, elapsed = _run(name, [*(["--quick"] if args.quick else []), "--json", str(out)])
                if code == 0 and out.exists():
                    raw[name] = json.loads(out.read_text(encoding="utf-8"))
                    rows += [dict(row, bench=name) for row in raw[name]["summary"]]
            else:
                full, quick = ADAPTERS[name]
                code, output, elapsed = _run(name, quick if args.quick else full)
                rows += [dict(row, bench=name) for row in adapter_rows(name, output)]
            raw.setdefault("seconds", {})[name] = elapsed
            if code != 0:
                failed.append(name)
    m = raw["machine"]
    print(
        f"\n=== Summary ({'quick' if args.quick else 'full'} sizes; {m['cpu']}, Python {m['python']}; "
        f"{time.perf_counter() - started:.0f} s in all)"
    )

    def met(value: object) -> str:
        return "yes" if value is True else "NO" if value is False else ""

    print(
        table(
            ["benchmark", "measure", "result", "target", "met"],
            [[r["bench"], r["metric"], r["value"], r["target"], met(r["met"])] for r in rows],
        )
    )
    if failed:
        print(f"failed: {', '.join(failed)}")
    if args.json_out:
        raw["summary"] = rows
        Path(args.json_out).write_text(json.dumps(raw, indent=2), encoding="utf-8")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
