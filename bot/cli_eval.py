"""`supportbot eval`: retrieval and answer figures on a question set with gold documents
(bot/evaluation.py measures; this module reads the options and prints the tables)."""

# No `from __future__ import annotations`: typer reads these commands' annotations at every start (bot/cli.py).

import json
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli_options import ConfigOpt, DataOpt, closing, load, run_async
from bot.cli_progress import progress_bar

if TYPE_CHECKING:
    from bot.core import SupportBot


def eval_(
    directory: Annotated[Path, typer.Argument(help="An eval set: knowledge/ and questions.jsonl.")],
    questions: Annotated[
        Path | None, typer.Option(help="Questions file (default DIR/questions.jsonl).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    holdout: Annotated[
        float,
        typer.Option(min=0.0, max=0.9, help="Leave out the gold documents of this share of question groups."),
    ] = 0.0,
    k: Annotated[int, typer.Option("--k", min=1, max=100)] = 10,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Measure retrieval and answers on a question set with gold documents."""
    import tempfile

    from bot.evaluation import eval_bot, evaluate, held_out_documents, index_set, load_questions

    qs = load_questions(questions or directory / "questions.jsonl")
    held = held_out_documents(qs, holdout) if holdout else frozenset()
    with tempfile.TemporaryDirectory(prefix="supportbot-eval-") as scratch:
        settings = load(config, directory / "knowledge", data or Path(scratch))
        with progress_bar() as update:
            knowledge, index_seconds = index_set(settings, held, update)
        with eval_bot(settings, knowledge) as bot:
            report = run_async(closing(bot, _evaluate(bot, evaluate(bot, qs, k=k, held_out=held))))
    report = {"set": directory.name, **report, "index_seconds": round(index_seconds, 3)}
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    _print_eval_tables(directory, report)


# The figures in the order a reader checks them, with what each one means.
_EVAL_FIGURES = (
    ("questions", "questions asked"),
    ("answerable", "gold document in the index"),
    ("unanswerable", "gold: [] or held out"),
    ("recall@1", "gold document ranked first"),
    ("recall@5", "gold document in the first five"),
    ("mrr@10", "mean reciprocal rank of the gold document"),
    ("answer_contains", "answer holds a key string"),
    ("context_contains", "model prompt holds a key string"),
    ("answered_when_answerable", "answered when it should (higher is better)"),
    ("abstained_when_unanswerable", "gave up when it should (higher is better)"),
    ("abstain_rate", "gave up, all questions"),
    ("p50_ms", "median ms per question"),
    ("p99_ms", "99th percentile ms per question"),
)


def _print_eval_tables(directory: Path, report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    by_language: dict[str, dict[str, Any]] = report.get("by_language", {})
    languages = [name for name, part in by_language.items() if part["questions"]]
    table = Table(title=f"supportbot eval {directory}")
    # on a narrow terminal the explanations wrap; the names and the numbers never do
    table.add_column("figure", no_wrap=True)
    table.add_column("all", justify="right", no_wrap=True)
    for language in languages:
        table.add_column(language, justify="right", no_wrap=True)
    table.add_column("meaning", style="dim")
    for key, meaning in _EVAL_FIGURES:
        if key == "context_contains" and report.get(key) is None:
            continue  # no model configured: the prompt figure does not exist
        cells = [report.get(key), *(by_language[language].get(key) for language in languages)]
        table.add_row(key, *("n/a" if cell is None else str(cell) for cell in cells), meaning)
    run = Table(title="run")
    run.add_column("setting")
    run.add_column("value", justify="right")
    shown = {key for key, _ in _EVAL_FIGURES} | {"by_language"}
    for key, value in report.items():
        if key not in shown:
            run.add_row(key, "n/a" if value is None else str(value))
    console = Console()
    console.print(table)
    console.print(run)


async def _evaluate(bot: "SupportBot", work: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """With embeddings, fill the vector cache first (timed apart), then run the questions."""
    if bot.knowledge.embeddings is None:
        return {"retrieval": "bm25", **await work}
    started = time.perf_counter()
    embedding = await bot.knowledge.start_embedding()
    seconds = time.perf_counter() - started
    report = {"retrieval": f"hybrid ({bot.knowledge.embeddings.model})", **await work}
    report["embed_seconds"] = round(seconds, 3)
    if embedding is not None:
        report["embedded"] = embedding.embedded
        report["passages_with_vectors"] = f"{embedding.with_vectors}/{embedding.texts}"
        if embedding.error:
            report["embedding_error"] = embedding.error
    return report
