"""`supportbot privacy ...`: what admins do about people's data from the command line
(purge what retention says must go, forget a person, export what is kept about them).
Each command reads the same data directory as a running bot (see knowledge/privacy.md)."""

# No `from __future__ import annotations`: typer reads these commands' annotations at every start (bot/cli.py).

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from bot.channel_types import Platform  # an enum alone: cheap enough for every command's start
from bot.cli_options import ConfigOpt, DataOpt, fail, load

privacy_app = typer.Typer(
    help="People's data: purge old text, forget a person, export their data.", no_args_is_help=True
)


# -- forget and export (bot/privacy/people.py; the same rules as `/support forget-me`, `my-data`) --

# a choice, as `report --platform`: a mistyped one (Slack, slak) is refused by both commands
# alike, never exported as an empty record of a person the store knows under "slack"
PlatformOpt = Annotated[Platform, typer.Option("--platform", "-p", help="The person's platform.")]
UserOpt = Annotated[str, typer.Option("--user", "-u", help="The person's platform user id (e.g. U0123ABCD).")]


@privacy_app.command("forget")
def forget_command(
    platform: PlatformOpt,
    user: UserOpt,
    config: ConfigOpt = None,
    data: DataOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Forget a person: delete their messages, questions, memory and feedback; keep anonymous counts."""
    from bot.store import StateStore

    settings = load(config, None, data)
    store = StateStore.open_recorded(settings)  # before asking: no state there, nothing to confirm
    try:
        if not yes and not typer.confirm(f"Forget {platform} user {user}? This cannot be undone."):
            raise typer.Exit(1)
        counts = store.forget(str(platform), user, datetime.now(UTC))
    finally:
        store.close()
    # the tombstone is written whatever was kept (as the chat's "Done" counts): not an erasure
    erased = {table: rows for table, rows in sorted(counts.items()) if table != "tombstones"}
    if not erased:  # a mistyped id, or one forgotten before: exits 0 as `export` of it does
        typer.echo(
            f"Nothing is kept about {platform} user {user}: no row deleted or anonymised. "
            "Check the id if you expected some."
        )
        return
    for table, rows in erased.items():
        typer.echo(f"{table:<16} {rows:>8}")
    typer.echo(f"Forgot {platform} user {user}: {sum(erased.values())} row(s) deleted or anonymised.")


@privacy_app.command("export")
def export_command(
    platform: PlatformOpt,
    user: UserOpt,
    config: ConfigOpt = None,
    data: DataOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the JSON here (default: stdout).")
    ] = None,
) -> None:
    """Export everything kept about a person as JSON (what `/support my-data` sends them)."""
    from bot.store import StateStore

    settings = load(config, None, data)
    store = StateStore.open_recorded(settings)
    try:
        exported = store.export_person(str(platform), user)
    finally:
        store.close()
    text = json.dumps(exported, ensure_ascii=False, indent=2, default=str)
    if output is None:
        typer.echo(text)
        return
    try:
        _write_private(output, text + "\n")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    typer.echo(f"Wrote {output}")


def _write_private(path: Path, text: str) -> None:
    """`text` into `path`, its folder created (`-o exports/U0123.json`), readable by its owner
    alone: it is a person's data, not to be left to everyone on the machine to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8") as handle:
        if hasattr(os, "fchmod"):  # a file that was there keeps its mode through O_CREAT
            os.fchmod(descriptor, 0o600)
        handle.write(text)


# -- purge (bot/privacy/retention.py; the same purge the running bot makes on its clock) --


@privacy_app.command("purge")
def purge_command(
    config: ConfigOpt = None,
    data: DataOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would be purged; change nothing.")
    ] = False,
) -> None:
    """Empty message text older than [privacy] retention_days now; ids and counts stay."""
    from bot.privacy.retention import cutoff
    from bot.store import StateStore

    settings = load(config, None, data)
    now = datetime.now(UTC)
    before = cutoff(settings.privacy, now)
    if before is None:
        typer.echo("Retention is off ([privacy] retention_days = 0): nothing is purged.")
        return
    store = StateStore.open_recorded(settings)
    try:
        counts = store.purge_text(before, now, dry_run=dry_run)
    finally:
        store.close()
    for kind, rows in counts.items():
        if rows:
            typer.echo(f"{kind:<16} {rows:>8}")
    total = sum(counts.values())
    when = f"before {before:%Y-%m-%d %H:%M} UTC ({settings.privacy.retention_days} days)"
    if dry_run:
        typer.echo(f"Would purge the text of {total} row(s) written {when}. Nothing was changed.")
    else:
        typer.echo(f"Purged the text of {total} row(s) written {when}; ids and counts are kept.")
