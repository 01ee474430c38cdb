"""Switching `--knowledge` folders on one data dir: `supportbot ask` back on a folder indexed before.

    python bench/switch_folder.py [--runs 5] [--files 150]
    python bench/switch_folder.py --quick        # 2 runs: a smoke run

Folder A is a synthetic documentation folder of `--files` Markdown files (bench/corpus.py, five
sections each), folder B the repository's knowledge/. Each run takes a fresh data dir and times
three fresh `sys.executable -m bot ask` processes on it, spawn to exit, as bench/ask_cold.py does:

  1. ask on A: the first time, so the run indexes all of A (what every switch cost when a data
     dir held one index: it was rebuilt for each folder);
  2. ask on B: switching away (indexes B, not timed);
  3. ask on A again: switching back, which now finds A's own index and only stats its files;
  4. ask on A once more: no switch at all, the floor a warm `ask` costs (for comparison).

Then the same three steps in this process, timing `open_knowledge` + `sync` alone, which is the
part the index layout decides; the rest of a process's time is the interpreter and imports
(bench/ask_cold.py breaks those down). Reported: median and max of each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ask_cold import _env, _timed  # noqa: E402
from bench.corpus import machine, table, write_corpus  # noqa: E402

TARGET_S = 0.3  # the target for `ask` on a folder switched back to
QUESTION = "How do I reset my password?"
KNOWLEDGE = ROOT / "knowledge"


def _ask(folder: Path, data: Path) -> list[str]:
    return [sys.executable, "-m", "bot", "ask", QUESTION, "--knowledge", str(folder), "--data", str(data)]


def _in_process(folder: Path, data: Path) -> tuple[float, int, int]:
    """Seconds to open `folder`'s index and sync it, files added and files unchanged."""
    from bot.app import open_knowledge
    from bot.config import load_settings

    config = data.parent / "supportbot.toml"
    config.write_text("", encoding="utf-8")
    settings = load_settings(config=config, knowledge=folder, data=data, env=_env())
    started = time.perf_counter()
    kb = open_knowledge(settings)
    try:
        report = kb.sync()
    finally:
        kb.close()
    return time.perf_counter() - started, len(report.added), report.unchanged


def run(runs: int, files: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="supportbot-switch-") as tmp:
        scratch = Path(tmp)
        a = scratch / "docs-a"
        write_corpus(a, files=files)
        first, back, warm, first_sync, back_sync = [], [], [], [], []
        reread = 0
        for i in range(runs):
            data = scratch / f"data{i}"
            first.append(_timed(_ask(a, data), scratch)[0])
            _timed(_ask(KNOWLEDGE, data), scratch)
            back.append(_timed(_ask(a, data), scratch)[0])
            warm.append(_timed(_ask(a, data), scratch)[0])
            data = scratch / f"inproc{i}"
            seconds, added, _ = _in_process(a, data)
            assert added == files, f"{added} files indexed of {files}"
            first_sync.append(seconds)
            _in_process(KNOWLEDGE, data)
            seconds, added, unchanged = _in_process(a, data)
            reread += added + (files - unchanged)
            back_sync.append(seconds)
        return {
            "files": files,
            "runs": runs,
            "first": first,
            "back": back,
            "warm": warm,
            "first_sync": first_sync,
            "back_sync": back_sync,
            "reread": reread,
        }


def report(r: dict[str, object]) -> str:
    def cells(values: object, scale: float = 1.0) -> list[object]:
        assert isinstance(values, list)
        return [f"{statistics.median(values) * scale:.3f}", f"{max(values) * scale:.3f}"]

    back = r["back"]
    assert isinstance(back, list)
    info = machine()
    lines = [
        f"Switching folders on one data dir: folder A = {r['files']} synthetic Markdown files, folder B = "
        f"knowledge/; {r['runs']} runs, fresh data dir each",
        f"machine: {info['cpu']}, Python {info['python']}",
        "",
        table(
            ["wall time (s)", "median", "max"],
            [
                ["`supportbot ask` on A, first time (indexes A)", *cells(r["first"])],
                ["`supportbot ask` on A after B (A's index kept)", *cells(back)],
                ["`supportbot ask` on A again, no switch (warm floor)", *cells(r["warm"])],
                ["in process: open_knowledge + sync of A, first time", *cells(r["first_sync"])],
                ["in process: open_knowledge + sync of A after B", *cells(r["back_sync"])],
            ],
        ),
        f"files of A read again when switching back: {r['reread']} (over all runs)",
        f"target: ask switching back <= {TARGET_S} s: median {statistics.median(back):.2f} s, max "
        f"{max(back):.2f} s: {'met' if max(back) <= TARGET_S else 'NOT met'}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="runs of each kind (default 5)")
    parser.add_argument("--files", type=int, default=150, help="files in folder A (default 150)")
    parser.add_argument("--quick", action="store_true", help="2 runs: a smoke run")
    args = parser.parse_args()
    print(report(run(2 if args.quick else args.runs, args.files)))


if __name__ == "__main__":
    main()
