"""Synthetic knowledge folders for the benchmarks: real Markdown files on disk.

    python bench/corpus.py DIR [--files 20000] [--sections 5] [--lang en|ko]

Each file has YAML front matter (a title; `visibility: internal` on every fifth file, so
20% of the folder is internal) and `--sections` sections under `##` headings, each of about
200 words. A section stays under the chunker's limit (bot.retrieval.chunking.MAX_WORDS),
so every section is exactly one chunk: 20,000 files x 5 sections = 100,000 chunks.

The text is made of whole sentences sampled (seeded) from the eval documents in
../shared/eval/*_en/knowledge (English) or ../shared/eval/korquad_ko/knowledge (Korean);
when those folders are absent, from the repository's own knowledge/ pages (faq-ko.md for
Korean). Titles and headings are eval document titles. Every file is generated from its own
seed, so the same (seed, prefix, number) always gives the same file, whatever the order.

Questions for timing come from the same eval sets (questions.jsonl), or are sampled from
the text when the eval sets are absent.

The end of this module holds the few helpers every benchmark shares: percentiles, resident
memory, disk usage, the machine description and plain-text tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval"
REPO_KNOWLEDGE = ROOT / "knowledge"
EN_SETS = ("stackfaq_en", "xquad_en")
KO_SETS = ("korquad_ko",)
FILES_PER_DIR = 100
SEED = 20240601

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)


@dataclass(frozen=True)
class Source:
    """What synthetic files are made of."""

    language: str
    origin: str  # where the sentences came from, for the report
    sentences: tuple[str, ...]
    titles: tuple[str, ...]


def _eval_dirs(sets: tuple[str, ...]) -> list[Path]:
    return [EVAL / name / "knowledge" for name in sets if (EVAL / name / "knowledge").is_dir()]


def _split(text: str, min_words: int) -> Iterator[str]:
    for paragraph in text.split("\n"):
        paragraph = " ".join(paragraph.split())
        if not paragraph or paragraph.startswith(("#", "|", "```", "-", "*", ">")):
            continue
        for sentence in _SENTENCE.split(paragraph):
            if len(sentence.split()) >= min_words:
                yield sentence


def _from_eval(dirs: list[Path], language: str, min_words: int) -> Source:
    sentences: list[str] = []
    titles: list[str] = []
    for folder in dirs:
        for file in sorted(folder.glob("*.md")):
            text = file.read_text(encoding="utf-8")
            first, _, rest = text.partition("\n")
            if first.startswith("# "):
                titles.append(first[2:].strip())
            else:
                rest = text
            sentences.extend(_split(rest, min_words))
    origin = ", ".join(f"../shared/eval/{d.parent.name}" for d in dirs)
    return Source(language, origin, tuple(sentences), tuple(titles))


def _from_repo(pages: list[Path], language: str, min_words: int) -> Source:
    sentences: list[str] = []
    titles: list[str] = []
    for page in pages:
        text = _FRONT_MATTER.sub("", page.read_text(encoding="utf-8"))
        titles.extend(line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#"))
        sentences.extend(_split(text, min_words))
    return Source(language, "knowledge/ (the eval sets are absent)", tuple(sentences), tuple(titles))


def english_source() -> Source:
    dirs = _eval_dirs(EN_SETS)
    if dirs:
        return _from_eval(dirs, "en", 3)
    pages = [p for p in sorted(REPO_KNOWLEDGE.glob("*.md")) if not p.stem.endswith("-ko")]
    return _from_repo(pages, "en", 3)


def korean_source() -> Source:
    dirs = _eval_dirs(KO_SETS)
    if dirs:
        return _from_eval(dirs, "ko", 2)
    return _from_repo(sorted(REPO_KNOWLEDGE.glob("*-ko.md")), "ko", 2)


def source(language: str) -> Source:
    return korean_source() if language == "ko" else english_source()


def _max_words() -> int:
    from bot.retrieval.chunking import MAX_WORDS

    return MAX_WORDS - 2


def _section(rnd: random.Random, src: Source, words: int, limit: int) -> str:
    parts: list[str] = []
    count = 0
    attempts = 0
    while count < words - 5 and attempts < 200:
        attempts += 1
        sentence = rnd.choice(src.sentences)
        n = len(sentence.split())
        if count + n > limit:
            continue
        parts.append(sentence)
        count += n
    return " ".join(parts)


def file_text(
    src: Source,
    *,
    seed: int,
    prefix: str,
    number: int,
    sections: int,
    words: int = 200,
    internal: bool | None = None,
    marker: str = "",
) -> str:
    """The Markdown of one synthetic file; `marker` (a unique word) is appended to its first section."""
    rnd = random.Random(f"{seed}:{prefix}:{number}")
    limit = _max_words() - (1 if marker else 0)
    if internal is None:
        internal = number % 5 == 0
    title = rnd.choice(src.titles)
    lines = ["---", f"title: {json.dumps(title, ensure_ascii=False)}"]
    if internal:
        lines.append("visibility: internal")
    lines += ["---", ""]
    for s in range(sections):
        body = _section(rnd, src, words, limit)
        if marker and s == 0:
            body = f"{body} {marker}"
        lines += [f"## {rnd.choice(src.titles)}", "", body, ""]
    return "\n".join(lines)


def relative_path(prefix: str, number: int) -> str:
    return f"{prefix}/d{number // FILES_PER_DIR:04d}/f{number:06d}.md"


@dataclass(frozen=True)
class Corpus:
    folder: Path
    files: int
    sections: int
    internal_files: int
    bytes: int
    origin: str


def write_corpus(
    folder: Path,
    *,
    files: int,
    sections: int = 5,
    words: int = 200,
    language: str = "en",
    prefix: str | None = None,
    seed: int = SEED,
    src: Source | None = None,
) -> Corpus:
    """Write `files` synthetic Markdown files under folder/prefix/ and describe them."""
    src = src or source(language)
    prefix = prefix or language
    total = internal = 0
    for number in range(files):
        path = folder / relative_path(prefix, number)
        if number % FILES_PER_DIR == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        data = file_text(
            src, seed=seed, prefix=prefix, number=number, sections=sections, words=words
        ).encode()
        path.write_bytes(data)
        total += len(data)
        internal += number % 5 == 0
    return Corpus(folder, files, sections, internal, total, src.origin)


# -- questions ---------------------------------------------------------------------------------


def _eval_questions(sets: tuple[str, ...]) -> list[str]:
    questions: list[str] = []
    for name in sets:
        path = EVAL / name / "questions.jsonl"
        if path.is_file():
            with path.open(encoding="utf-8") as handle:
                questions += [json.loads(line)["question"] for line in handle if line.strip()]
    return questions


def questions(language: str, count: int = 490, seed: int = SEED) -> tuple[list[str], str]:
    """Questions to time, and where they came from."""
    sets = KO_SETS if language == "ko" else EN_SETS
    found = _eval_questions(sets)
    if found:
        return found, " + ".join(f"{name}/questions.jsonl" for name in sets)
    src = source(language)
    rnd = random.Random(seed)
    made = []
    for _ in range(count):
        words = rnd.choice(src.sentences).split()
        start = rnd.randrange(max(1, len(words) - 8))
        made.append(" ".join(words[start : start + rnd.randint(4, 9)]))
    return made, f"{count} synthetic questions (word runs sampled from the corpus text)"


# -- shared helpers -----------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (the same definition as `supportbot eval`)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def rss_mb() -> float:
    """Resident memory of this process, in MB (psutil)."""
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def anon_mb() -> float:
    """Resident memory not backed by files (the heap): RSS minus shared/file-backed pages such as
    the memory-mapped index, which the OS can drop and re-read at will."""
    import psutil

    info = psutil.Process().memory_info()
    return float(info.rss - getattr(info, "shared", 0)) / 2**20


def revision() -> str:
    """The commit measured, and whether the working tree had changes."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=False
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux ru_maxrss is in KB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def disk_mb(path: Path) -> float:
    total = 0
    for directory, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(directory, name))
    return total / 2**20


def machine() -> dict[str, str]:
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        if names:
            model = f"{names[0]} x {len(names)}"
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "revision": revision(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table; numbers right-aligned."""

    def cell(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    body = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows) for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric, strict=True)
        )

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in body]
    return "\n".join(x.rstrip() for x in out)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic knowledge folder.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--sections", type=int, default=5)
    parser.add_argument("--lang", choices=("en", "ko"), default="en")
    args = parser.parse_args()
    corpus = write_corpus(args.folder, files=args.files, sections=args.sections, language=args.lang)
    print(
        f"wrote {corpus.files} files ({corpus.files * corpus.sections} sections, "
        f"{corpus.internal_files} internal, {corpus.bytes / 1e6:.1f} MB) to {corpus.folder} from {corpus.origin}"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
