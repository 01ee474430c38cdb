"""`supportbot store ...`: where state lives. `store copy` moves an install's state.db into
PostgreSQL (the copying itself is bot/store/copy.py; knowledge/deployment.md is the guide)."""

# No `from __future__ import annotations`: typer reads these commands' annotations at every start (bot/cli.py).

import time
from contextlib import ExitStack
from typing import Annotated

import typer

from bot.cli_options import ConfigOpt, DataOpt, fail, load
from bot.errors import SupportBotError

store_app = typer.Typer(
    help="Where state lives: copy an install's state to PostgreSQL.", no_args_is_help=True
)


@store_app.command("copy")
def copy_command(
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="The SQLite state to copy: sqlite:PATH, a path to state.db, or a data directory "
            "(default: state.db in the data directory). It is only read.",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="The PostgreSQL URL to copy into (default: SUPPORTBOT_DATABASE_URL or [store] url, "
            "which keeps the password off the command line).",
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Delete the rows the target already holds first (else it is refused)."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count the rows to copy and check the target; change nothing.")
    ] = False,
    batch: Annotated[int, typer.Option(min=1, help="Rows read from SQLite at a time.")] = 10_000,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Copy state.db into an empty PostgreSQL database, in one transaction; prints rows per table."""
    from bot.instance import LOCK_FILE, InstanceLock
    from bot.store.copy import copy_state, source_path

    settings = load(config, None, data)
    url = target if target is not None else settings.state_target
    if not isinstance(url, str):
        fail("say where to copy to: --to postgresql://... or SUPPORTBOT_DATABASE_URL")
    started = time.perf_counter()
    try:
        path = source_path(source) if source is not None else settings.data_dir / "state.db"
        with ExitStack() as held:
            if not dry_run and (path.parent / LOCK_FILE).exists():
                # a bot running on this data directory would keep writing what is being copied
                held.enter_context(InstanceLock(path.parent))
            result = copy_state(
                path,
                url,
                replace=replace,
                dry_run=dry_run,
                batch=batch,
                on_table=lambda table, rows: typer.echo(f"copied {table} ({rows} rows)", err=True),
            )
    except SupportBotError as exc:
        fail(str(exc))
    seconds = time.perf_counter() - started
    typer.echo(f"{'table':<18} {'rows':>10}")
    for table, rows in result.rows.items():
        typer.echo(f"{table:<18} {rows:>10}")
    if result.upgraded:
        typer.echo(f"(read from an upgraded copy of {result.source}: {', '.join(result.upgraded)})")
    if result.dry_run:
        held_note = (
            f"it holds rows already ({sum(result.held.values())}): a copy needs --replace"
            if result.held
            else "it holds no supportbot rows"
        )
        typer.echo(f"Dry run: {result.total} rows would be copied to {result.target}; {held_note}.")
        return
    if result.held:
        typer.echo(f"Deleted {sum(result.held.values())} rows the target held before (--replace).")
    if result.scrubbed:
        where = ", ".join(f"{table}: {count}" for table, count in result.scrubbed.items())
        typer.echo(
            f"{sum(result.scrubbed.values())} text values held a NUL character, which PostgreSQL "
            f"cannot store; each was copied with U+FFFD in its place ({where})."
        )
    typer.echo(
        f"Copied {result.total} rows in {len(result.rows)} tables from {result.source} to {result.target} "
        f"in {seconds:.1f} s. {result.source} was not changed."
    )
