"""What the audience filter costs a search over 100,000 chunks (target: under 0.2 ms at p50).

    python bench/audience.py              # 20,000 files x 5 sections = 100,000 chunks
    python bench/audience.py --quick      # 800 files (4,000 chunks): a smoke run
    python bench/audience.py --files 20000 --share 10 --rounds 5 --json out.json

bench/corpus.py writes the synthetic folder (20% of files `visibility: internal`); then one
file in `--share` (10%) gets `audience: [partners]` in its front matter, and
`KnowledgeBase.sync()` indexes it, the path `supportbot index` takes. Every question of the
eval sets is then searched with `KnowledgeBase.search(question, scope, k=10)`, the product's
whole search (analysis, tantivy, fetching the top 10, confidence), in each scope:

- anchor: the same search without the audience filter (`audiences=None`, as staff tools
  search), measured in the same run, question by question interleaved with the others;
- non-member: `audiences=frozenset()`, the filter at work (every partner chunk left out);
- member: `audiences={"partners"}`.

One warm-up round, then `--rounds` rounds; each row is the median over rounds of each
round's p50 / p99, and "added" is the filtered p50 minus the anchor's. Every non-member
result is checked: a partner chunk in it is counted as a violation.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import FILES_PER_DIR, machine, percentile, questions, relative_path, table, write_corpus
from bot.retrieval.knowledge import KnowledgeBase
from bot.types import DocVisibility

TARGET_MS = 0.2
AUDIENCE = "partners"
CASES: dict[str, frozenset[str] | None] = {
    "anchor (no filter)": None,
    "non-member": frozenset(),
    "member": frozenset({AUDIENCE}),
}


def restrict(folder: Path, files: int, share: int) -> int:
    """Give every `share`-th file `audience: [partners]`; returns how many."""
    restricted = 0
    for number in range(3, files, share):
        path = folder / relative_path("en", number)
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("---\n", f"---\naudience: [{AUDIENCE}]\n", 1), encoding="utf-8")
        restricted += 1
    return restricted


def time_cases(kb: KnowledgeBase, qs: list[str], scope: DocVisibility, rounds: int) -> dict[str, Any]:
    """Interleaved per question, each case first in turn, so drift of the machine and warm
    caches touch every case alike."""
    searches: dict[str, Callable[[str], object]] = {
        name: (lambda q, a=audiences: kb.search(q, scope, 10, audiences=a))
        for name, audiences in CASES.items()
    }
    for q in qs:  # warm-up
        for search in searches.values():
            search(q)
    p50s: dict[str, list[float]] = {name: [] for name in searches}
    p99s: dict[str, list[float]] = {name: [] for name in searches}
    for _ in range(rounds):
        lat: dict[str, list[float]] = {name: [] for name in searches}
        for i, q in enumerate(qs):
            names = list(searches)
            for name in names[i % len(names) :] + names[: i % len(names)]:  # no case always first
                search = searches[name]
                started = time.perf_counter()
                search(q)
                lat[name].append((time.perf_counter() - started) * 1000)
        for name, values in lat.items():
            p50s[name].append(percentile(values, 50))
            p99s[name].append(percentile(values, 99))
    return {
        name: {"p50_ms": statistics.median(p50s[name]), "p99_ms": statistics.median(p99s[name])}
        for name in searches
    }


def violations(kb: KnowledgeBase, qs: list[str], scope: DocVisibility) -> tuple[int, int]:
    """(partner chunks in non-member results, partner chunks in unfiltered results)."""
    partner = set(kb.catalog.audiences())
    leaked = seen = 0
    for q in qs:
        leaked += sum(p.path in partner for p in kb.search(q, scope, 10, audiences=frozenset()).passages)
        seen += sum(p.path in partner for p in kb.search(q, scope, 10, audiences=None).passages)
    return leaked, seen


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="supportbot-audience-") as tmp:
        folder = Path(tmp) / "docs"
        print(f"writing {args.files} files ...", file=sys.stderr)
        corpus = write_corpus(folder, files=args.files, sections=5)
        restricted = restrict(folder, args.files, args.share)
        print("indexing ...", file=sys.stderr)
        kb = KnowledgeBase(folder, Path(tmp) / "index")
        started = time.perf_counter()
        kb.sync()
        built = time.perf_counter() - started
        chunks = kb.index.size
        qs, origin = questions("en")
        results: dict[str, Any] = {
            "files": corpus.files,
            "restricted_files": restricted,
            "chunks": chunks,
            "build_s": built,
            "questions": len(qs),
            "question_origin": origin,
            "rounds": args.rounds,
            "machine": machine(),
        }
        for scope in (DocVisibility.INTERNAL, DocVisibility.PUBLIC):
            print(f"timing {scope} ...", file=sys.stderr)
            results[str(scope)] = time_cases(kb, qs, scope, args.rounds)
            results[f"{scope}_violations"], results[f"{scope}_partner_hits"] = violations(kb, qs, scope)
        kb.close()
    return results


def report(r: dict[str, Any]) -> str:
    rows = []
    for scope in (DocVisibility.INTERNAL, DocVisibility.PUBLIC):
        cases = r[str(scope)]
        anchor = cases["anchor (no filter)"]["p50_ms"]
        for name, timing in cases.items():
            added = timing["p50_ms"] - anchor
            rows.append(
                (
                    str(scope),
                    name,
                    f"{timing['p50_ms']:.3f}",
                    f"{timing['p99_ms']:.3f}",
                    "-" if name.startswith("anchor") else f"{added:+.3f}",
                    f"{timing['p50_ms'] / anchor:.2f}",
                    "" if name.startswith("anchor") else ("ok" if added < TARGET_MS else "OVER"),
                )
            )
    lines = [
        f"Audience filter over {r['chunks']:,} chunks ({r['files']:,} files, {r['restricted_files']:,} "
        f"of them for `{AUDIENCE}` only), {r['questions']} questions ({r['question_origin']}), k=10, "
        f"median of {r['rounds']} rounds; index built in {r['build_s']:.0f} s.",
        "",
        table(
            ("scope", "search", "p50 ms", "p99 ms", "added p50 ms", "ratio to anchor", f"< {TARGET_MS} ms"),
            rows,
        ),
        "",
        "Partner chunks in non-member results: "
        + ", ".join(f"{s} {r[f'{s}_violations']}" for s in ("internal", "public"))
        + " (in the unfiltered top 10 of the same questions: "
        + ", ".join(f"{s} {r[f'{s}_partner_hits']}" for s in ("internal", "public"))
        + ").",
        "Machine: " + ", ".join(f"{k}={v}" for k, v in r["machine"].items()),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=20_000, help="files of 5 sections (one chunk each)")
    parser.add_argument("--share", type=int, default=10, help="one file in SHARE is for the audience")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help=f"{8 * FILES_PER_DIR} files, 2 rounds")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.files, args.rounds = 8 * FILES_PER_DIR, 2
    results = run(args)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
