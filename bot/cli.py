"""The `supportbot` command (also `python -m bot`).

Typer gives every subcommand its options, help and errors. Each command resolves
Settings the same way (--config, --knowledge, --data, then the environment), turns a
SupportBotError into one clear message and exit code 2, and imports heavy modules only
when it needs them, so `supportbot ask` starts quickly. Commands with a module of their own
(bot/cli_ask.py, bot/cli_eval.py, bot/cli_dashboard.py, and the groups in bot/cli_setup.py,
bot/cli_privacy.py, bot/cli_store.py) are registered here, in the order `--help` lists them.
"""

# No `from __future__ import annotations` in the modules that define commands: typer reads every
# command's annotations each time the CLI starts, and string annotations make it compile and
# evaluate each one (twice) before any command runs; names imported only for type checking are
# quoted instead.

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from bot.channel_types import Platform  # an enum alone: cheap enough for every command's start
from bot.cli_ask import ask
from bot.cli_dashboard import dashboard
from bot.cli_eval import eval_
from bot.cli_options import ConfigOpt, DataOpt, KnowledgeOpt, closing, fail, load, run_async
from bot.cli_privacy import privacy_app
from bot.cli_progress import progress_bar
from bot.cli_setup import discord_app, slack_app
from bot.cli_store import store_app
from bot.errors import SupportBotError

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.config import Settings

app = typer.Typer(
    name="supportbot",
    help="A support bot for Slack and Discord that answers from a knowledge folder, cites its sources, "
    "and hands the rest to people.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(slack_app, name="slack")
app.add_typer(discord_app, name="discord")
app.add_typer(privacy_app, name="privacy")
app.add_typer(store_app, name="store")
app.command("dashboard")(dashboard)

T = TypeVar("T")


@contextmanager
def _runtime(settings: "Settings", *, progress: bool = True) -> "Iterator[Runtime]":
    from bot.app import build_runtime

    with progress_bar(progress) as update:
        runtime = build_runtime(settings, progress=update)
    try:
        yield runtime
    finally:
        runtime.close()


app.command("ask")(ask)
app.command("eval")(eval_)  # listed after `ask`, where it was defined before it had a module


@app.command()
def index(
    rebuild: Annotated[bool, typer.Option(help="Throw the index away and read every file again.")] = False,
    list_indexes: Annotated[
        bool,
        typer.Option(
            "--list",
            help="List the indexes in the data dir, one per knowledge folder; * marks this folder's.",
        ),
    ] = False,
    knowledge: KnowledgeOpt = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Bring the search index in step with the knowledge folder (only changed files)."""
    from bot.app import index_root, open_knowledge

    settings = load(config, knowledge, data)
    if list_indexes:
        from bot.retrieval.indexes import describe_indexes

        typer.echo(describe_indexes(index_root(settings), settings.knowledge_dir))
        return
    kb = open_knowledge(settings)
    try:
        with progress_bar() as update:
            report = kb.rebuild(update) if rebuild else kb.sync(update)
        summary = kb.summary()
    finally:
        kb.close()
    typer.echo(report.describe())
    typer.echo(f"Index: {summary.files} files, {summary.chunks} passages from {summary.folder}")


@app.command()
def chat(
    knowledge: KnowledgeOpt = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Talk to the bot in the terminal, with sources, buttons and tickets: each question is its own
    conversation; /thread follows one up, /new starts afresh."""
    from adapters.console import run_chat

    settings = load(config, knowledge, data)
    with _runtime(settings) as runtime:
        try:
            run_async(closing(runtime.bot, run_chat(runtime.bot, user=settings.console.user)))
        except KeyboardInterrupt:
            typer.echo("")


@app.command()
def run(
    host: Annotated[str, typer.Option(help="Slack HTTP mode: address to listen on.")] = "0.0.0.0",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Slack HTTP mode: port to listen on (0: any free port).")
    ] = 3000,
    knowledge: KnowledgeOpt = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Run the bot on every platform the environment configures."""
    from bot.log import setup_logging
    from bot.supervisor import enabled_adapters, run_adapters

    settings = load(config, knowledge, data)
    setup_logging(settings.log_level)
    names = enabled_adapters(settings)
    secrets = settings.secrets
    if secrets.slack_bot_token and "slack" not in names:
        fail(
            "SLACK_BOT_TOKEN is set but Slack needs one more: SLACK_APP_TOKEN (xapp-..., Socket Mode) "
            "or SLACK_SIGNING_SECRET (HTTP mode). See knowledge/slack-setup.md."
        )
    if not names:
        fail(
            "no platform is configured. Set SLACK_BOT_TOKEN with SLACK_APP_TOKEN (Socket Mode) or "
            "SLACK_SIGNING_SECRET (HTTP mode) for Slack, and/or DISCORD_TOKEN for Discord; see "
            "knowledge/slack-setup.md and knowledge/discord-setup.md. To try the bot without a "
            "platform, run: supportbot chat",
        )
    from bot.app import check_answer_mode
    from bot.cpu_affinity import CpuKeeper
    from bot.instance import InstanceLock

    lock = InstanceLock(settings.data_dir, shared=settings.store.url is not None)
    cpu = CpuKeeper(settings.run.cpu)
    try:
        check_answer_mode(settings)  # mode = "llm" without a model, said before the index is built
        cpu.check()  # a CPU number it may not use, said before the index is built
        lock.acquire()  # before the runtime: a second process must not even replay
    except (SupportBotError, ValueError) as exc:
        fail(str(exc))
    try:
        with _runtime(settings) as runtime:
            typer.echo(f"supportbot running on {', '.join(names)}; {runtime.last_sync.describe()}", err=True)
            cpu.start()  # after the index is built (its writer's threads keep every CPU)
            try:
                run_async(closing(runtime.bot, run_adapters(runtime, names, host=host, port=port)))
            except KeyboardInterrupt:
                typer.echo("stopped", err=True)
    finally:
        cpu.stop()
        lock.release()


@app.command()
def migrate(config: ConfigOpt = None, data: DataOpt = None) -> None:
    """Bring the state database (SQLite, or the PostgreSQL one of SUPPORTBOT_DATABASE_URL or
    [store] url) to the current schema, and say which migrations ran. `run` does it at start."""
    from bot.store import StateStore
    from bot.store.state import shown_target

    settings = load(config, None, data)
    try:
        applied = StateStore.migrate(settings)
    except SupportBotError as exc:
        fail(str(exc))
    where = shown_target(settings)
    if applied:
        typer.echo(f"applied {len(applied)} migration(s) to {where}: {', '.join(applied)}")
    else:
        typer.echo(f"{where} is up to date; nothing to apply")


@app.command()
def init(
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Write a commented supportbot.toml to start from."""
    from bot.config import CONFIG_FILE_NAME
    from bot.config_template import TEMPLATE

    target = config or Path.cwd() / CONFIG_FILE_NAME
    if target.exists() and not force:
        fail(f"{target} already exists; pass --force to overwrite it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # `-c conf/supportbot.toml` in a new project
        target.write_text(TEMPLATE, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {target}: {exc.filename}: {exc.strerror}")
    typer.echo(f"wrote {target}; edit it, then run: supportbot chat")


@app.command()
def doctor(
    knowledge: KnowledgeOpt = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Check the configuration, the knowledge folder, the tokens and the model endpoint."""
    from bot.doctor import run_checks

    settings = load(config, knowledge, data)
    results = run_async(run_checks(settings))
    failed = False
    for check in results:
        mark = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}[check.status]
        typer.echo(f"[{mark}] {check.name}: {check.detail}")
        failed |= check.status == "fail"
    if failed:
        raise typer.Exit(1)


class ReportFormatOption(StrEnum):
    """The choices of `report --format`: bot.insights.report.ReportFormat's (a test checks),
    repeated here because importing that module would slow every command's start (the store)."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"


@app.command()
def report(
    since: Annotated[
        str, typer.Option(help="Start: 1d, 7d, 30d (counted back from the end) or a date (2026-11-30).")
    ] = "7d",
    until: Annotated[
        str | None,
        typer.Option(help="End: a date (that whole day included) or a date and time. Default: now."),
    ] = None,
    platform: Annotated[Platform | None, typer.Option(help="Only this platform.")] = None,
    channel: Annotated[
        str | None, typer.Option(help="Only this channel: its id (C0123ABCD) or platform:workspace:channel.")
    ] = None,
    workspace: Annotated[
        str | None,
        typer.Option(help="Only this Slack workspace or Discord server: its id (T0123ABCD) or platform:id."),
    ] = None,
    fmt: Annotated[ReportFormatOption, typer.Option("--format", help="How to write it out.")] = (
        ReportFormatOption.TABLE
    ),
    knowledge: KnowledgeOpt = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Support metrics for a period: questions, resolutions, escalations, response times, CSAT and
    the most asked questions (definitions: knowledge/insights.md). Safe while the bot runs."""
    from datetime import UTC, datetime

    from bot.insights.report import ReportFormat, run_report

    settings = load(config, knowledge, data)
    try:
        text = run_report(
            settings,
            since=since,
            until=until,
            platform=None if platform is None else str(platform),
            channel=channel,
            fmt=ReportFormat(fmt),
            now=datetime.now(UTC),
            workspace=workspace,
        )
    except SupportBotError as exc:
        fail(str(exc))
    typer.echo(text)


def _guard(entry: Callable[[], T]) -> T:
    try:
        return entry()
    except SupportBotError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def _plain_help_flags(command: Any, ctx: Any) -> None:
    """Every flag in the help without a type beside it (a flag takes no value): typer shows a
    flag as `--json <bool>`, its own `--help` included. (Typed loosely: typer builds its
    commands on a click of its own.)"""
    for param in [*command.params, command.get_help_option(ctx)]:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for name, sub in getattr(command, "commands", {}).items():
        _plain_help_flags(sub, command.context_class(sub, info_name=name, parent=ctx))


# what Rich reads as a markup tag, with the backslashes before it: `[store]`, `[privacy]`
_RICH_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?\])")


def _escaped(text: str) -> str:
    """`text` with each `[name]` shown as written: each backslash before it doubled, then one more."""
    return _RICH_TAG.sub(lambda m: m.group(1) * 2 + "\\" + m.group(2), text)


def _literal_sections(command: Any) -> None:
    """Every help text's `[section]` names kept: typer renders help with Rich, which reads
    `[store]` as a style and drops it ("SUPPORTBOT_DATABASE_URL or  url"). Escaped here, once for
    every command and option, so docstrings keep naming settings as the file spells them."""
    if command.help:
        command.help = _escaped(command.help)
    for param in command.params:
        if getattr(param, "help", None):
            param.help = _escaped(param.help)
    for sub in getattr(command, "commands", {}).values():
        _literal_sections(sub)


def main() -> None:
    command = typer.main.get_command(app)
    _plain_help_flags(command, command.context_class(command, info_name="supportbot"))
    _literal_sections(command)
    _guard(lambda: command(standalone_mode=True))
