"""Hybrid retrieval (BM25 + embeddings) against BM25 alone, measured with a real embedding model.

    python bench/hybrid_eval.py                      # the three eval sets, off vs on, all + 20% hold-out
    python bench/hybrid_eval.py --sets xquad_en      # one set
    python bench/hybrid_eval.py --base-url http://127.0.0.1:8765/v1   # use a server already running
    python bench/hybrid_eval.py --scale 20000        # re-ranking cost over 100,000 chunks (no model)

Eval mode starts bench/embedding_server.py (all-MiniLM-L6-v2 on the CPU) with the Python of a
separate venv (`--emb-python`, default /work/venv-emb/bin/python; the server's docstring says
how to make it: PyTorch never goes into the product's venv), then runs, per set, the product's
own command with this Python:

    supportbot eval SET --json [--holdout 0.2] --config bm25.toml      (embeddings off)
    OPENAI_BASE_URL=... supportbot eval SET --json [--holdout 0.2] --config hybrid.toml

with `[answer] mode = "extractive"` in both and `[llm] embeddings = true` plus
`embedding_model` in the second. The first hybrid run starts from an empty data directory,
so its `embed_seconds` is the cost of embedding the whole set; the hold-out run reuses that
directory (a rebuild without the held-out files), so its `embed_seconds` shows the cache.
Latencies include embedding each question on this machine's CPU (`model_ms_per_question`
is the server's own share). Answered / abstained are on the hold-out: answered when the
gold document is indexed, abstained when it was left out.

Scale mode writes the synthetic corpus of bench/corpus.py (`--scale` files x 5 sections),
indexes it with embeddings off and on (the cost of recording chunk hashes), stores a random
unit vector of `--dim` floats per chunk text in the catalog, and times
`KnowledgeBase.search` without and with a query vector (the re-ranking of BM25's 50 best:
reading their vectors from SQLite and the dot products), with RSS and catalog size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import EVAL, anon_mb, machine, percentile, questions, rss_mb, table, write_corpus  # noqa: E402

SETS = ("stackfaq_en", "xquad_en", "korquad_ko")
MODEL = "all-MiniLM-L6-v2"


# -- eval mode ----------------------------------------------------------------------------------


def start_server(python: str, port: int) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [python, str(ROOT / "bench" / "embedding_server.py"), "--port", str(port), "--name", MODEL],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert server.stdout is not None
    line = server.stdout.readline()  # blocks until the model is loaded and the port bound
    if not line.startswith("listening on "):
        server.kill()
        raise SystemExit(f"the embedding server did not start: {line!r}")
    return server, line.split()[2]


def server_seconds(base_url: str) -> float | None:
    try:
        with urllib.request.urlopen(base_url.removesuffix("/v1") + "/stats", timeout=5) as response:
            return float(json.load(response)["busy_seconds"])
    except OSError:
        return None  # another server without the bench's /stats


def run_eval(name: str, config: Path, data: Path, holdout: float, base_url: str | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUPPORTBOT_"))}
    if base_url:
        env["OPENAI_BASE_URL"] = base_url
    command = [sys.executable, "-m", "bot", "eval", str(EVAL / name), "--json", "--config", str(config)]
    command += ["--data", str(data)]
    if holdout:
        command += ["--holdout", str(holdout)]
    busy = server_seconds(base_url) if base_url else None
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    report["wall_seconds"] = round(time.perf_counter() - started, 2)
    if busy is not None and base_url:
        after = server_seconds(base_url)
        if after is not None:
            report["server_seconds"] = round(after - busy, 2)
    return report


def eval_mode(args: argparse.Namespace) -> dict[str, Any]:
    server = None
    base_url = args.base_url
    if base_url is None:
        server, base_url = start_server(args.emb_python, args.port)
        print(f"embedding server at {base_url}", flush=True)
    results: dict[str, Any] = {"machine": machine(), "model": MODEL, "runs": []}
    try:
        with tempfile.TemporaryDirectory(prefix="supportbot-hybrid-") as scratch:
            work = Path(scratch)
            bm25 = work / "bm25.toml"
            bm25.write_text('[answer]\nmode = "extractive"\n', encoding="utf-8")
            hybrid = work / "hybrid.toml"
            hybrid.write_text(
                f'[answer]\nmode = "extractive"\n[llm]\nembeddings = true\nembedding_model = "{MODEL}"\n',
                encoding="utf-8",
            )
            for name in args.sets:
                for holdout in (0.0, args.holdout):
                    for mode, config, url in (("bm25", bm25, None), ("hybrid", hybrid, base_url)):
                        data = work / f"{name}-{mode}"  # the hybrid hold-out run reuses the vectors
                        report = run_eval(name, config, data, holdout, url)
                        report.update(mode=mode, holdout=holdout)
                        questions_run = report["questions"]
                        if "server_seconds" in report and questions_run:
                            embedded = report.get("embedded", 0)
                            share = report["server_seconds"] - (report.get("embed_seconds") or 0)
                            report["model_ms_per_question"] = round(max(share, 0) / questions_run * 1000, 1)
                            report["embedded_passages"] = embedded
                        results["runs"].append(report)
                        print(json.dumps(report, ensure_ascii=False), flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    print_eval(results)
    return results


def print_eval(results: dict[str, Any]) -> None:
    runs = results["runs"]
    rows = []
    for run in runs:
        if run["holdout"]:
            continue
        held = next(r for r in runs if r["set"] == run["set"] and r["mode"] == run["mode"] and r["holdout"])
        rows.append(
            [
                run["set"],
                run["mode"],
                run["recall@1"],
                run["recall@5"],
                run["mrr@10"],
                held.get("answered_when_answerable"),
                held.get("abstained_when_unanswerable"),
                run["p50_ms"],
                run["p99_ms"],
                run.get("model_ms_per_question"),
                run["index_seconds"],
                run.get("embed_seconds"),
                held.get("embed_seconds"),
            ]
        )
    print()
    print(
        table(
            [
                "set",
                "retrieval",
                "recall@1",
                "recall@5",
                "MRR@10",
                "answered*",
                "abstained*",
                "p50 ms",
                "p99 ms",
                "model ms/q",
                "BM25 index s",
                "embed s (cold)",
                "embed s (cached)",
            ],
            rows,
        )
    )
    print("* on the 20% hold-out: answered when the gold document is indexed, abstained when it is not.")


# -- scale mode ---------------------------------------------------------------------------------


def scale_mode(args: argparse.Namespace) -> dict[str, Any]:
    from bot.retrieval.knowledge import KnowledgeBase
    from bot.retrieval.vectors import QueryVector, pack
    from bot.types import DocVisibility

    rnd = random.Random(7)
    out: dict[str, Any] = {"machine": machine(), "files": args.scale, "dim": args.dim}
    with tempfile.TemporaryDirectory(prefix="supportbot-hybrid-scale-") as scratch:
        folder = Path(scratch) / "knowledge"
        write_corpus(folder, files=args.scale)
        for embeddings in (False, True):
            kb = KnowledgeBase(folder, Path(scratch) / f"index-{embeddings}", embeddings=embeddings)
            started = time.perf_counter()
            kb.sync()
            out[f"build_s_embeddings_{'on' if embeddings else 'off'}"] = round(
                time.perf_counter() - started, 2
            )
            if not embeddings:
                kb.close()
        chunks = kb.summary().chunks
        started = time.perf_counter()
        after = ""
        stored = 0
        while True:
            missing = kb.catalog.missing_vectors("bench", after, 5000)
            if not missing:
                break
            after = missing[-1][0]
            rows = []
            for digest, _ in missing:
                vector = [rnd.gauss(0, 1) for _ in range(args.dim)]
                rows.append((digest, args.dim, pack(vector)))
            stored += kb.catalog.put_vectors("bench", rows)
        out["chunks"] = chunks
        out["vectors"] = stored
        out["store_vectors_s"] = round(time.perf_counter() - started, 2)
        catalog = Path(scratch) / "index-True"
        out["catalog_mb"] = round(sum(f.stat().st_size for f in catalog.glob("catalog.db*")) / 2**20, 1)
        qs = questions("en")[0][:300]
        qv = {
            q: QueryVector(model="bench", vector=pack([rnd.gauss(0, 1) for _ in range(args.dim)])) for q in qs
        }
        for label, vector in (("bm25", False), ("hybrid", True)):
            heap_before = anon_mb()
            for scope in (DocVisibility.INTERNAL, DocVisibility.PUBLIC):
                for q in qs[:30]:  # warm-up
                    kb.search(q, scope, 10, query_vector=qv[q] if vector else None)
                lat = []
                for q in qs:
                    started = time.perf_counter()
                    kb.search(q, scope, 10, query_vector=qv[q] if vector else None)
                    lat.append((time.perf_counter() - started) * 1000)
                out[f"{label}_{scope}_p50_ms"] = round(percentile(lat, 50), 3)
                out[f"{label}_{scope}_p99_ms"] = round(percentile(lat, 99), 3)
                out[f"{label}_{scope}_mean_ms"] = round(statistics.fmean(lat), 3)
            out[f"{label}_heap_growth_mb"] = round(anon_mb() - heap_before, 1)
        out["rss_mb"] = round(rss_mb(), 1)
        out["heap_mb"] = round(anon_mb(), 1)
        kb.close()
    rows = [
        [
            label,
            out[f"{label}_internal_p50_ms"],
            out[f"{label}_internal_p99_ms"],
            out[f"{label}_public_p50_ms"],
            out[f"{label}_public_p99_ms"],
        ]
        for label in ("bm25", "hybrid")
    ]
    print(
        table(["search (k=10)", "internal p50 ms", "internal p99 ms", "public p50 ms", "public p99 ms"], rows)
    )
    print(
        f"{out['chunks']:,} chunks, {out['vectors']:,} vectors of {args.dim} floats: catalog {out['catalog_mb']} MB, "
        f"RSS {out['rss_mb']} MB, heap {out['heap_mb']} MB (grew {out['bm25_heap_growth_mb']} MB over the "
        f"BM25 searches, {out['hybrid_heap_growth_mb']} MB over the hybrid ones); "
        f"index build {out['build_s_embeddings_off']} s with embeddings off, "
        f"{out['build_s_embeddings_on']} s on (chunk hashes recorded)"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--emb-python", default="/work/venv-emb/bin/python")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--base-url", help="an embedding server already running (serving all-MiniLM-L6-v2)")
    parser.add_argument("--scale", type=int, help="scale mode: this many synthetic files of 5 sections")
    parser.add_argument("--dim", type=int, default=384, help="scale mode: vector size")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = scale_mode(args) if args.scale else eval_mode(args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
