"""`supportbot privacy ...`: what admins do about people's data from the command line
(purge what retention says must go, forget a person, export what is kept about them).
Each command reads the same data directory as a running bot (see knowledge/privacy.md)."""

from __future__ import annotations

import typer

privacy_app = typer.Typer(
    help="People's data: purge old text, forget a person, export their data.", no_args_is_help=True
)
