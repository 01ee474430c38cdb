"""`supportbot ask`: a question answered from the knowledge folder in the terminal, with sources.

This module owns the command's options, reading questions one per line from stdin, and
printing each answer as text or as one JSON object per question. It builds only the index and
the answer pipeline (bot/app.py `build_asking`: no state store, no SupportBot), so a question
from the terminal starts quickly; tests/test_imports.py holds what it may load.
"""

# No `from __future__ import annotations`: typer reads these commands' annotations at every start (bot/cli.py).

import json
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli_options import ConfigOpt, DataOpt, KnowledgeOpt, fail, load, run_async
from bot.cli_progress import progress_bar

if TYPE_CHECKING:
    from bot.answering.pipeline import AnswerPipeline
    from bot.app import Asking
    from bot.config import Settings


@contextmanager
def _asking(settings: "Settings") -> "Iterator[Asking]":
    from bot.app import build_asking

    with progress_bar() as update:
        asking = build_asking(settings, progress=update)
    try:
        yield asking
    finally:
        asking.close()


def ask(
    question: Annotated[
        str | None, typer.Argument(help="The question. Omit it to read one per line from stdin.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: one object per question.")] = False,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="How many ranked passages to list.")] = 10,
    public: Annotated[
        bool,
        typer.Option("--public", help="Answer as in a public channel: public documents only."),
    ] = False,
    knowledge: KnowledgeOpt = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Answer one question from the knowledge folder, with sources."""
    settings = load(config, knowledge, data)
    from bot.types import DocVisibility

    scope = DocVisibility.PUBLIC if public else DocVisibility.INTERNAL
    if question is not None and not question.strip():
        fail('the question is empty; ask something, e.g. supportbot ask "How do I connect Slack?"')
    if question is None and sys.stdin.isatty() and not as_json:
        fail("give a question, or pipe questions (one per line) with --json")
    questions = [question] if question is not None else _stdin_questions()
    # the index and the answer pipeline only: no state store, no SupportBot (bot/app.py)
    with _asking(settings) as asking:
        # one event loop for every question: the model client's connections belong to it
        run_async(_answer_all(asking, questions, scope, k, as_json))


def _stdin_questions() -> Iterator[str | None]:
    """The questions piped in, one per line; None for a line not in stdin's encoding (UTF-8
    unless the locale says otherwise), which is answered with an error and the others as usual."""
    from bot.text import read_line

    for raw in sys.stdin.buffer:
        try:
            yield read_line(raw, sys.stdin.encoding).strip()
        except UnicodeDecodeError:
            yield None


_EMPTY_ANSWER = {
    "answer": "",
    "abstained": True,
    "confidence": 0.0,
    "language": "en",
    "sources": [],
    "passages": [],
    "answerer": None,
    "elapsed_ms": 0.0,
}


async def _answer_all(
    asking: "Asking", questions: Iterable[str | None], scope: Any, k: int, as_json: bool
) -> None:
    try:
        for number, text in enumerate(questions, start=1):
            if text is None:
                encoding = sys.stdin.encoding.upper()
                error = f"line {number} is not {encoding} text: save the questions as {encoding}"
                if as_json:  # its own object, as for an empty line: the answers stay aligned
                    typer.echo(json.dumps({**_EMPTY_ANSWER, "error": error}))
                else:
                    typer.echo(f"error: {error}", err=True)
            elif text:
                # what a model is sent is what the chat would send: the question as the core
                # keeps it, `[privacy] redact` applied
                await _print_answer(asking.answers, asking.redactor.redact(text), scope, k, as_json)
            elif as_json:
                # one object per input line, so answers stay aligned with their questions
                typer.echo(json.dumps({**_EMPTY_ANSWER, "error": "empty question"}))
            sys.stdout.flush()
    finally:
        await asking.aclose()


async def _print_answer(answers: "AnswerPipeline", question: str, scope: Any, k: int, as_json: bool) -> None:
    started = time.perf_counter()
    # the terminal is the team's: as an internal channel it sees every audience's documents,
    # and with --public, as a public channel, only everyone's
    from bot.types import DocVisibility

    audiences: frozenset[str] | None = frozenset() if scope == DocVisibility.PUBLIC else None
    answer, result = await answers.ask(question, scope, k=k, audiences=audiences)
    elapsed_ms = (time.perf_counter() - started) * 1000
    abstained = answers.is_abstention(answer)
    if as_json:
        best: dict[str, float] = {}
        for passage in result.passages:
            best.setdefault(passage.path, passage.score)
        payload = {
            "answer": answer.text,
            "abstained": abstained,
            "confidence": round(answer.confidence, 4),
            "language": answer.language,
            "sources": [{"path": c.path, "title": c.title, "heading": c.heading} for c in answer.citations],
            "passages": [{"path": path, "score": round(score, 4)} for path, score in list(best.items())[:k]],
            "answerer": answers.answerer_kind(answer),
            "elapsed_ms": round(elapsed_ms, 3),
        }
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    from adapters.console import render
    from bot.types import ConversationRef, Reply

    where = ConversationRef(platform="console", workspace="local", channel="cli")
    typer.echo(render(Reply(conversation=where, text=answer.text, citations=answer.citations)))
    if abstained:
        typer.echo("\n(No confident answer: in chat this question would go to a person.)")
