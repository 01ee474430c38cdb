"""Retrieval at scale: index build, search latency and memory over 100,000 chunks, the product's code.

    python bench/retrieval.py                 # 20,000 files x 5 sections = 100,000 chunks, + Korean
    python bench/retrieval.py --quick         # 800 files (4,000 chunks): a smoke run
    python bench/retrieval.py --files 20000 --ko-files 4000 --rounds 5 --rank-queries 20 --json out.json

What runs (each step in a fresh process, so memory numbers do not leak into each other):
1. bench/corpus.py writes the synthetic Markdown folder in a temporary directory (20% of the
   files `visibility: internal`).
2. build: `KnowledgeBase(folder, index_dir).sync()`, the path `supportbot index` takes: walk,
   read, parse front matter and headings, chunk, analyse, write the tantivy index and the
   catalog. Reports build time, files/s, chunks/s, RSS after the build and its peak.
3. serve: a fresh process that only opens the index (`KnowledgeBase(...)`) and times
   `KnowledgeBase.search(question, scope, k=10)` (query analysis, tantivy, fetching the
   top 10, confidence) for every eval question (stackfaq_en + xquad_en, 490), internal and
   public scope: one warm-up round, then `--rounds` rounds; the p50 / p99 of each round, and
   the median of those over the rounds. Then RSS, index size on disk, and the stat-only
   startup `sync()` a real bot process also does (with its RSS after).
4. bm25s (and rank_bm25 on a subsample of questions): the same chunks read through the
   product's reader and chunker and analysed by the product's tokenizer (body + title and
   heading words in one field; BM25 k1=1.2, b=0.75 as tantivy), queries analysed by
   `analyze_query`; timed per query including that analysis. Ratio = library / product.
5. Korean: a smaller Korean folder (korquad_ko sentences) is added to the same folder and
   indexed incrementally (`sync()` again); then a fresh serving process times English and
   Korean questions on the mixed index, and reports RSS and index size against English only.

Every public-scope result is checked: an internal chunk in it is counted as a violation.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import (  # noqa: E402
    anon_mb,
    disk_mb,
    machine,
    peak_rss_mb,
    percentile,
    questions,
    rss_mb,
    table,
    write_corpus,
)

# -- workers (each runs in its own process) ------------------------------------------------------


def _time_queries(search: Any, qs: list[str], rounds: int) -> dict[str, float]:
    """One warm-up round, then `rounds` rounds; the median over rounds of each round's p50/p99."""
    for q in qs:
        search(q)
    p50s, p99s, means = [], [], []
    for _ in range(rounds):
        lat = []
        for q in qs:
            started = time.perf_counter()
            search(q)
            lat.append((time.perf_counter() - started) * 1000)
        p50s.append(percentile(lat, 50))
        p99s.append(percentile(lat, 99))
        means.append(statistics.fmean(lat))
    return {
        "p50_ms": statistics.median(p50s),
        "p99_ms": statistics.median(p99s),
        "mean_ms": statistics.median(means),
        "p50_spread": [min(p50s), max(p50s)],
        "p99_spread": [min(p99s), max(p99s)],
        "queries": len(qs),
    }


def _kb_search_timings(kb: Any, sets: dict[str, list[str]], rounds: int) -> dict[str, Any]:
    from bot.types import DocVisibility

    out: dict[str, Any] = {}
    for lang, qs in sets.items():
        for scope in (DocVisibility.INTERNAL, DocVisibility.PUBLIC):
            out[f"{lang}_{scope}"] = _time_queries(lambda q, s=scope: kb.search(q, s, k=10), qs, rounds)
        violations = 0
        empty = 0
        for q in qs:
            result = kb.search(q, DocVisibility.PUBLIC, k=10)
            violations += sum(p.visibility != DocVisibility.PUBLIC for p in result.passages)
            empty += not result.passages
        out[f"{lang}_public_violations"] = violations
        out[f"{lang}_public_empty"] = empty
    return out


def _floor_search_timings(kb: Any, qs: list[str], rounds: int) -> dict[str, Any]:
    """The floor for a search: plain tantivy on the product's own index, with the query the
    product builds (its analysed terms and field boosts, analysis included in the time), top
    10: once reading the 10 stored documents as the product does, once the addresses alone.
    What the product adds above it: the scope check, Passages, confidence, title-first order."""
    from bot.retrieval.tokenize import analyze_query

    index = kb.index

    def plain(q: str, read: bool = True) -> None:
        searcher = index._index.searcher()
        hits = searcher.search(index._query(analyze_query(q), None), limit=10, count=False).hits
        if read:
            for _, address in hits:
                searcher.doc(address).to_dict()

    return {
        "with_documents": _time_queries(plain, qs, rounds),
        "addresses": _time_queries(lambda q: plain(q, read=False), qs, rounds),
    }


def _question_sets(langs: list[str]) -> dict[str, list[str]]:
    return {lang: questions(lang)[0] for lang in langs}


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished children (the reader pool)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def worker_build(args: argparse.Namespace) -> dict[str, Any]:
    from bot.retrieval.knowledge import KnowledgeBase
    from bot.retrieval.reading import pool_size

    sets = _question_sets(args.langs)
    gc.collect()
    base = rss_mb()
    workers = None if args.workers is None else int(args.workers)
    kb = KnowledgeBase(Path(args.folder), Path(args.index), workers=workers)
    started, cpu = time.perf_counter(), _cpu_s()
    report = kb.sync()
    build_s = time.perf_counter() - started
    cpu_s = _cpu_s() - cpu
    after = rss_mb()
    summary = kb.summary()
    out = {
        "build_s": build_s,
        "cpu_s": cpu_s,
        "workers": pool_size(len(report.added) + len(report.updated), workers) or 1,
        "added": len(report.added),
        "failed": len(report.failed),
        "chunks_written": report.chunks,
        "files": summary.files,
        "chunks": summary.chunks,
        "rss_base_mb": base,
        "rss_after_build_mb": after,
        "peak_rss_mb": peak_rss_mb(),
    }
    out["search"] = _kb_search_timings(kb, sets, max(1, args.rounds // 2))
    out["rss_after_search_mb"] = rss_mb()
    kb.close()
    return out


def worker_serve(args: argparse.Namespace) -> dict[str, Any]:
    from bot.retrieval.knowledge import KnowledgeBase
    from bot.types import DocVisibility

    sets = _question_sets(args.langs)
    gc.collect()
    base = rss_mb()
    started = time.perf_counter()
    kb = KnowledgeBase(Path(args.folder), Path(args.index))
    open_s = time.perf_counter() - started
    first: dict[str, float] = {}
    for lang, qs in sets.items():
        started = time.perf_counter()
        kb.search(qs[0], DocVisibility.INTERNAL, k=10)
        first[lang] = (time.perf_counter() - started) * 1000
    out: dict[str, Any] = {
        "rss_base_mb": base,
        "open_s": open_s,
        "rss_after_open_mb": rss_mb(),
        "first_query_ms": first,
        "search": _kb_search_timings(kb, sets, args.rounds),
        "floor_search": _floor_search_timings(kb, sets["en"], args.rounds) if "en" in sets else {},
        "rss_after_search_mb": rss_mb(),
        "anon_after_search_mb": anon_mb(),
        "peak_rss_mb": peak_rss_mb(),
        "index_disk_mb": disk_mb(Path(args.index)),
        "tantivy_disk_mb": disk_mb(Path(args.index) / "tantivy"),
    }
    started = time.perf_counter()
    report = kb.sync()
    out["startup_sync_s"] = time.perf_counter() - started
    out["startup_sync_changed"] = report.changed
    out["rss_after_startup_sync_mb"] = rss_mb()
    out["anon_after_startup_sync_mb"] = anon_mb()
    kb.close()
    return out


def worker_floor(args: argparse.Namespace) -> dict[str, Any]:
    """The floor for the build: plain tantivy indexing the documents the product would write
    (its schema, its analysed terms, its stored fields), already analysed; no reading,
    parsing, analysis or catalog. Same writer settings (index.py)."""

    from bot.retrieval.index import WRITER_HEAP_BYTES, SearchIndex, index_document
    from bot.retrieval.reading import ReadJob, ReadSettings, read_files

    folder = Path(args.folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.md"))
    settings = ReadSettings(
        folder=folder, include_root=None, site=None, max_file_bytes=2**31, embeddings=False
    )
    jobs = [ReadJob(relative=r, size=0, mtime_ns=0, known_sha256=None, folder_audience=()) for r in files]
    documents = []
    for outcome in read_files(settings, jobs, None):
        for analysed in outcome.chunks:
            document = index_document(analysed)
            documents.append(document)
    index = SearchIndex(Path(args.index))  # only for its schema and tokenizers
    started, cpu = time.perf_counter(), _cpu_s()
    writer = index._index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
    for document in documents:
        writer.add_document(document)
    writer.commit()
    writer.wait_merging_threads()
    return {"build_s": time.perf_counter() - started, "cpu_s": _cpu_s() - cpu, "chunks": len(documents)}


def _analysed_chunks(folder: Path) -> tuple[list[list[str]], list[str], list[str], float]:
    """Every chunk through the product's reader, chunker and tokenizer, as index.py analyses it."""
    from bot.retrieval.chunking import chunk_document
    from bot.retrieval.documents import read_document
    from bot.retrieval.tokenize import tokenize

    tokens: list[list[str]] = []
    paths: list[str] = []
    visibility: list[str] = []
    started = time.perf_counter()
    for file in sorted(folder.rglob("*.md")):
        document = read_document(folder, file, file.read_bytes())
        for chunk in chunk_document(document):
            head = tokenize(f"{chunk.title} {chunk.heading}")
            body = tokenize(chunk.text)
            tokens.append(body.words + head.words)
            paths.append(chunk.path)
            visibility.append(chunk.visibility)
    return tokens, paths, visibility, time.perf_counter() - started


def worker_bm25s(args: argparse.Namespace) -> dict[str, Any]:
    import bm25s
    import numpy as np

    from bot.retrieval.tokenize import analyze_query

    qs = questions("en")[0]
    tokens, paths, visibility, analyse_s = _analysed_chunks(Path(args.folder))
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as handle:
            for toks, vis in zip(tokens, visibility, strict=True):
                handle.write(json.dumps([vis, " ".join(toks)]) + "\n")
    gc.collect()
    base = rss_mb()
    started = time.perf_counter()
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index(tokens, show_progress=False)
    build_s = time.perf_counter() - started
    gc.collect()
    after = rss_mb()
    vocab = retriever.vocab_dict
    public = np.array([v == "public" for v in visibility], dtype=np.float32)

    def search(q: str, mask: Any = None) -> list[str]:
        terms = [t for t in analyze_query(q).words if t in vocab]
        if not terms:
            return []
        docs, scores = retriever.retrieve([terms], k=10, show_progress=False, n_threads=0, weight_mask=mask)
        return [paths[d] for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    return {
        "chunks": len(tokens),
        "analyse_s": analyse_s,
        "build_s": build_s,
        "index_rss_mb": after - base,
        "rss_after_build_mb": after,
        "search": {
            "en_internal": _time_queries(search, qs, args.rounds),
            "en_public": _time_queries(lambda q: search(q, public), qs, args.rounds),
        },
    }


def worker_rank_bm25(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    from rank_bm25 import BM25Okapi

    from bot.retrieval.tokenize import analyze_query

    qs = questions("en")[0]
    step = max(1, len(qs) // args.rank_queries)
    sample = qs[::step][: args.rank_queries]
    with open(args.dump, encoding="utf-8") as handle:
        corpus = [json.loads(line)[1].split() for line in handle]
    gc.collect()
    base = rss_mb()
    started = time.perf_counter()
    ranker = BM25Okapi(corpus, k1=1.2, b=0.75)
    build_s = time.perf_counter() - started
    after = rss_mb()

    def search(q: str) -> list[int]:
        scores = ranker.get_scores(analyze_query(q).words)
        top = np.argpartition(-scores, 10)[:10]
        return top[np.argsort(-scores[top])].tolist()

    # fewer rounds: each query scans every document
    timings = _time_queries(search, sample, rounds=2)
    return {
        "chunks": len(corpus),
        "build_s": build_s,
        "index_rss_mb": after - base,
        "search": {"en_internal": timings},
    }


def worker_kiwi(_: argparse.Namespace) -> dict[str, Any]:
    """What a morphological analyser would add (not used by the product): load time and RSS."""
    gc.collect()
    base = rss_mb()
    started = time.perf_counter()
    try:
        from kiwipiepy import Kiwi
    except ImportError:
        return {"available": False}
    kiwi = Kiwi(num_workers=0)
    kiwi.tokenize("환불은 어떻게 받나요?")
    return {"available": True, "load_s": time.perf_counter() - started, "rss_mb": rss_mb() - base}


WORKERS = {
    "build": worker_build,
    "floor": worker_floor,
    "serve": worker_serve,
    "bm25s": worker_bm25s,
    "rank_bm25": worker_rank_bm25,
    "kiwi": worker_kiwi,
}


# -- orchestration -------------------------------------------------------------------------------


def _run_worker(name: str, **options: Any) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", name]
    for key, value in options.items():
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        command += [flag, *value] if isinstance(value, list) else [flag, str(value)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker {name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _progress(message: str) -> None:
    print(f"[retrieval] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    scratch = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="supportbot-bench-retrieval-"))
    folder, index, dump = scratch / "knowledge", scratch / "index", scratch / "tokens.jsonl"
    started = time.perf_counter()
    corpus = write_corpus(folder, files=args.files, sections=args.sections, language="en")
    _progress(f"wrote {corpus.files} files in {time.perf_counter() - started:.1f}s to {folder}")
    results: dict[str, Any] = {
        "machine": machine(),
        "corpus": {
            "files": corpus.files,
            "sections": corpus.sections,
            "internal_files": corpus.internal_files,
            "mb": corpus.bytes / 1e6,
            "origin": corpus.origin,
            "questions": questions("en")[1],
        },
    }
    rounds = args.rounds
    results["build"] = _run_worker(
        "build", folder=folder, index=index, rounds=rounds, langs=["en"], workers=args.workers
    )
    _progress(f"built: {results['build']['chunks']} chunks in {results['build']['build_s']:.1f}s")
    results["floor"] = _run_worker("floor", folder=folder, index=scratch / "floor")
    _progress(f"plain tantivy floor: {results['floor']['build_s']:.1f}s")
    shutil.rmtree(scratch / "floor", ignore_errors=True)
    results["serve"] = _run_worker("serve", folder=folder, index=index, rounds=rounds, langs=["en"])
    _progress("serving process measured")
    if not args.no_libraries:
        results["bm25s"] = _run_worker("bm25s", folder=folder, rounds=rounds, dump=dump)
        _progress(f"bm25s measured ({results['bm25s']['chunks']} chunks)")
        if args.rank_queries:
            results["rank_bm25"] = _run_worker("rank_bm25", dump=dump, rank_queries=args.rank_queries)
            _progress("rank_bm25 measured")
        dump.unlink(missing_ok=True)
    if args.ko_files:
        ko = write_corpus(folder, files=args.ko_files, sections=args.sections, language="ko")
        results["ko_corpus"] = {
            "files": ko.files,
            "mb": ko.bytes / 1e6,
            "origin": ko.origin,
            "questions": questions("ko")[1],
        }
        results["ko_build"] = _run_worker("build", folder=folder, index=index, rounds=1, langs=["ko"])
        _progress(f"Korean files added in {results['ko_build']['build_s']:.1f}s")
        results["ko_serve"] = _run_worker(
            "serve", folder=folder, index=index, rounds=rounds, langs=["en", "ko"]
        )
        if not args.no_kiwi:
            results["kiwi"] = _run_worker("kiwi")
        _progress("mixed index measured")
    if not args.dir and not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


TARGETS = {"p50_ms": 2.0, "p99_ms": 10.0, "rss_mb": 500.0}


def _ok(value: float, limit: float) -> str:
    return "yes" if value <= limit else "NO"


def report(r: dict[str, Any]) -> str:
    b, s = r["build"], r["serve"]
    chunks = b["chunks"]
    lines = [
        f"Retrieval benchmark: {r['corpus']['files']:,} files, {chunks:,} chunks "
        f"({r['corpus']['internal_files']:,} files internal, {r['corpus']['mb']:.0f} MB of Markdown, "
        f"text from {r['corpus']['origin']}); questions: {r['corpus']['questions']}",
        f"machine: {r['machine']['cpu']}, Python {r['machine']['python']}, "
        f"load average at the start {r['machine'].get('load_average', '?')}",
        "",
        f"Index build (KnowledgeBase.sync on an empty index, {b.get('workers', 1)} reading process(es) "
        f"on {r['machine'].get('cores', '?')} core(s))",
        table(
            [
                "files",
                "chunks",
                "build s",
                "files/s",
                "chunks/s",
                "CPU s",
                "RSS after MB",
                "peak RSS MB",
                "index on disk MB",
            ],
            [
                [
                    b["files"],
                    chunks,
                    b["build_s"],
                    b["files"] / b["build_s"],
                    chunks / b["build_s"],
                    b.get("cpu_s"),
                    b["rss_after_build_mb"],
                    b["peak_rss_mb"],
                    s["index_disk_mb"],
                ]
            ],
        ),
    ]
    if "floor" in r:
        f = r["floor"]
        lines += [
            "",
            "The floor: plain tantivy indexing the same documents (schema, analysed terms, stored fields), "
            "already analysed",
            table(
                ["build", "s", "chunks/s", "CPU s", "x floor (time)", "x floor (CPU)"],
                [
                    [
                        "supportbot (read, parse, chunk, analyse, index, catalog)",
                        b["build_s"],
                        chunks / b["build_s"],
                        b.get("cpu_s"),
                        b["build_s"] / f["build_s"],
                        (b.get("cpu_s") or 0) / f["cpu_s"],
                    ],
                    [
                        "plain tantivy, same documents",
                        f["build_s"],
                        f["chunks"] / f["build_s"],
                        f["cpu_s"],
                        1.0,
                        1.0,
                    ],
                ],
            ),
        ]
    lines.append("")
    rows: list[list[object]] = []
    prod = s["search"]
    for scope in ("internal", "public"):
        t = prod[f"en_{scope}"]
        rows.append(
            [
                f"supportbot KnowledgeBase.search, serving process ({scope})",
                t["p50_ms"],
                t["p99_ms"],
                f"{t['p50_spread'][0]:.2f}-{t['p50_spread'][1]:.2f}",
                1.0,
                1.0,
            ]
        )
    for scope in ("internal", "public"):
        t = b["search"][f"en_{scope}"]
        rows.append(
            [
                f"supportbot KnowledgeBase.search, build process ({scope})",
                t["p50_ms"],
                t["p99_ms"],
                f"{t['p50_spread'][0]:.2f}-{t['p50_spread'][1]:.2f}",
                None,
                None,
            ]
        )
    floor = s.get("floor_search") or {}
    for key, label in (
        ("with_documents", "plain tantivy, the same query on the same index, 10 documents read"),
        ("addresses", "plain tantivy, the same query on the same index, 10 addresses only"),
    ):
        if key in floor:
            t, ref = floor[key], prod["en_internal"]
            rows.append(
                [
                    label,
                    t["p50_ms"],
                    t["p99_ms"],
                    f"{t['p50_spread'][0]:.2f}-{t['p50_spread'][1]:.2f}",
                    t["p50_ms"] / ref["p50_ms"],
                    t["p99_ms"] / ref["p99_ms"],
                ]
            )
    for lib in ("bm25s", "rank_bm25"):
        if lib not in r:
            continue
        for scope in ("internal", "public"):
            t = r[lib]["search"].get(f"en_{scope}")
            if t is None:
                continue
            ref = prod[f"en_{scope}"]
            label = f"{lib} on the same tokens ({scope}, {t['queries']} questions)"
            rows.append(
                [
                    label,
                    t["p50_ms"],
                    t["p99_ms"],
                    f"{t['p50_spread'][0]:.2f}-{t['p50_spread'][1]:.2f}",
                    t["p50_ms"] / ref["p50_ms"],
                    t["p99_ms"] / ref["p99_ms"],
                ]
            )
    lines += [
        f"Search, top 10, {chunks:,} chunks, per question (ms; median over rounds of each round's p50/p99)",
        table(["engine", "p50", "p99", "p50 range", "p50 x product", "p99 x product"], rows),
        f"public-scope results holding an internal chunk: {prod['en_public_violations']} "
        f"(questions with no public result: {prod['en_public_empty']})",
        "",
        "Memory and start-up of the serving process (fresh: open the index, search)",
        table(
            [
                "interpreter+imports MB",
                "after open MB",
                "after searches MB",
                "after startup sync MB",
                "of which not file-backed MB",
                "open ms",
                "first query ms",
                "startup sync (stat only) s",
            ],
            [
                [
                    s["rss_base_mb"],
                    s["rss_after_open_mb"],
                    s["rss_after_search_mb"],
                    s["rss_after_startup_sync_mb"],
                    s.get("anon_after_startup_sync_mb"),
                    s["open_s"] * 1000,
                    s["first_query_ms"]["en"],
                    s["startup_sync_s"],
                ]
            ],
        ),
        "(RSS counts the pages of the memory-mapped index a search has touched; the OS may drop them)",
    ]
    libs = [[lib, r[lib]["build_s"], r[lib]["index_rss_mb"]] for lib in ("bm25s", "rank_bm25") if lib in r]
    if libs:
        lines += [
            "",
            f"Libraries: index build from tokens already analysed (analysis by the product's tokenizer took "
            f"{r['bm25s']['analyse_s']:.1f}s more), and the RSS the index adds",
            table(["library", "build s", "index RSS MB"], libs),
        ]
    if "ko_serve" in r:
        ks, kb, kc = r["ko_serve"], r["ko_build"], r["ko_corpus"]
        ko_chunks = kb["chunks"] - chunks
        lines += [
            "",
            f"Korean: {kc['files']:,} Korean files ({ko_chunks:,} chunks, text from {kc['origin']}) added to the "
            f"same folder, indexed incrementally in {kb['build_s']:.1f}s "
            f"({ko_chunks / kb['build_s']:,.0f} chunks/s); questions: {kc['questions']}",
        ]
        rows = []
        for lang, label in (("en", "English questions"), ("ko", "Korean questions")):
            for scope in ("internal", "public"):
                t = ks["search"][f"{lang}_{scope}"]
                before = s["search"].get(f"{lang}_{scope}")
                rows.append(
                    [
                        f"{label}, mixed index ({scope})",
                        t["p50_ms"],
                        t["p99_ms"],
                        None if before is None else t["p50_ms"] - before["p50_ms"],
                    ]
                )
        lines.append(table(["search", "p50 ms", "p99 ms", "p50 change vs English-only"], rows))
        lines.append(
            f"public-scope violations: en {ks['search']['en_public_violations']}, "
            f"ko {ks['search']['ko_public_violations']}"
        )
        mem = [
            ["English only", chunks, s["rss_after_open_mb"], s["rss_after_search_mb"], s["index_disk_mb"]],
            [
                "English + Korean",
                kb["chunks"],
                ks["rss_after_open_mb"],
                ks["rss_after_search_mb"],
                ks["index_disk_mb"],
            ],
            [
                "Korean adds",
                ko_chunks,
                ks["rss_after_open_mb"] - s["rss_after_open_mb"],
                ks["rss_after_search_mb"] - s["rss_after_search_mb"],
                ks["index_disk_mb"] - s["index_disk_mb"],
            ],
        ]
        lines.append(
            table(
                ["serving process", "chunks", "after open MB", "after searches MB", "index on disk MB"], mem
            )
        )
        lines.append(
            f"first Korean query in a fresh process: {ks['first_query_ms']['ko']:.1f} ms "
            "(no model to load: the Korean analysis is rule-based)"
        )
        kiwi = r.get("kiwi", {})
        if kiwi.get("available"):
            lines.append(
                f"for comparison, a morphological analyser the product does not use (kiwipiepy Kiwi()): "
                f"{kiwi['load_s']:.2f}s to load, +{kiwi['rss_mb']:.0f} MB RSS"
            )
    p50, p99 = prod["en_internal"]["p50_ms"], prod["en_internal"]["p99_ms"]
    rss = s["rss_after_startup_sync_mb"]
    lines += [
        "",
        "Targets",
        table(
            ["target", "result", "met"],
            [
                [f"search p50 <= 2 ms ({chunks:,} chunks)", f"{p50:.2f} ms", _ok(p50, TARGETS["p50_ms"])],
                [f"search p99 <= 10 ms ({chunks:,} chunks)", f"{p99:.2f} ms", _ok(p99, TARGETS["p99_ms"])],
                ["serving RSS < 500 MB", f"{rss:.0f} MB", _ok(rss, TARGETS["rss_mb"])],
                [
                    "build process RSS < 500 MB",
                    f"{b['peak_rss_mb']:.0f} MB peak",
                    _ok(b["peak_rss_mb"], TARGETS["rss_mb"]),
                ],
            ],
        ),
    ]
    return "\n".join(lines)


def summary(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for bench/run_all.py."""
    b, s = r["build"], r["serve"]
    chunks = b["chunks"]
    prod = s["search"]
    rows = [
        {
            "metric": f"index build, {chunks:,} chunks",
            "value": f"{b['build_s']:.1f} s ({b['files'] / b['build_s']:.0f} files/s, "
            f"{chunks / b['build_s']:.0f} chunks/s"
            + (f", {b['build_s'] / r['floor']['build_s']:.1f}x plain tantivy" if "floor" in r else "")
            + ")",
            "target": ">= 5,000 chunks/s",
            "met": chunks / b["build_s"] >= 5000,
        },
        {
            "metric": f"search p50 / p99, {chunks:,} chunks (internal)",
            "value": f"{prod['en_internal']['p50_ms']:.2f} / {prod['en_internal']['p99_ms']:.2f} ms",
            "target": "<= 2 / <= 10 ms",
            "met": _ok(prod["en_internal"]["p50_ms"], 2.0) == "yes"
            and _ok(prod["en_internal"]["p99_ms"], 10.0) == "yes",
        },
        {
            "metric": "search p50 / p99 (public scope)",
            "value": f"{prod['en_public']['p50_ms']:.2f} / {prod['en_public']['p99_ms']:.2f} ms",
            "target": "<= 2 / <= 10 ms",
            "met": _ok(prod["en_public"]["p50_ms"], 2.0) == "yes"
            and _ok(prod["en_public"]["p99_ms"], 10.0) == "yes",
        },
        {
            "metric": "serving RSS (open + search + startup sync)",
            "value": f"{s['rss_after_startup_sync_mb']:.0f} MB",
            "target": "< 500 MB",
            "met": s["rss_after_startup_sync_mb"] < 500,
        },
        {
            "metric": "build process peak RSS",
            "value": f"{b['peak_rss_mb']:.0f} MB",
            "target": "< 500 MB",
            "met": b["peak_rss_mb"] < 500,
        },
    ]
    if "bm25s" in r:
        t = r["bm25s"]["search"]["en_internal"]
        rows.append(
            {
                "metric": "bm25s p50 / p99 (same tokens)",
                "value": f"{t['p50_ms']:.2f} / {t['p99_ms']:.2f} ms "
                f"({t['p50_ms'] / prod['en_internal']['p50_ms']:.1f}x / "
                f"{t['p99_ms'] / prod['en_internal']['p99_ms']:.1f}x product)",
                "target": "",
                "met": "",
            }
        )
    if "ko_serve" in r:
        ks = r["ko_serve"]
        t = ks["search"]["ko_internal"]
        rows.append(
            {
                "metric": f"Korean questions, mixed index ({r['ko_build']['chunks']:,} chunks) p50 / p99",
                "value": f"{t['p50_ms']:.2f} / {t['p99_ms']:.2f} ms",
                "target": "",
                "met": "",
            }
        )
        rows.append(
            {
                "metric": "what Korean adds to serving RSS / disk",
                "value": f"{ks['rss_after_search_mb'] - s['rss_after_search_mb']:+.0f} MB / "
                f"{ks['index_disk_mb'] - s['index_disk_mb']:+.0f} MB",
                "target": "",
                "met": "",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=20_000, help="English files (default 20000)")
    parser.add_argument("--sections", type=int, default=5, help="sections (= chunks) per file (default 5)")
    parser.add_argument(
        "--ko-files", type=int, default=4_000, help="Korean files mixed in (default 4000; 0: none)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds over the questions (default 5)")
    parser.add_argument(
        "--rank-queries",
        type=int,
        default=20,
        help="questions for rank_bm25, which scans every chunk (default 20; 0: skip)",
    )
    parser.add_argument("--no-libraries", action="store_true", help="skip the bm25s / rank_bm25 comparison")
    parser.add_argument("--no-kiwi", action="store_true", help="skip the kiwipiepy load-cost reference")
    parser.add_argument(
        "--quick", action="store_true", help="800 files, 160 Korean, 2 rounds, no rank_bm25: a smoke run"
    )
    parser.add_argument(
        "--workers", type=int, help="reading processes for the build (default: one per core; 1: none)"
    )
    parser.add_argument("--dir", help="work in this folder instead of a temporary one (kept)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", dest="json_out", help="also write the raw results to this file")
    # internal: one measurement in a fresh process
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    parser.add_argument("--langs", nargs="+", default=["en"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return
    if args.quick:
        args.files, args.ko_files, args.rounds, args.rank_queries = 800, 160, 2, 0
        args.no_kiwi = True
    results = run(args)
    print(report(results))
    if args.json_out:
        results["summary"] = summary(results)
        Path(args.json_out).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
