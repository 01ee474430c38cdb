"""What every `supportbot` subcommand shares: the --knowledge/--config/--data options, how
Settings are resolved from them, and how a command fails. Kept apart from bot/cli.py so the
command groups in other modules (bot/cli_privacy.py) use the same ones without importing it."""

from __future__ import annotations

from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.core import SupportBot

T = TypeVar("T")

KnowledgeOpt = Annotated[
    Path | None, typer.Option("--knowledge", help="Knowledge folder (default: knowledge/ beside the config).")
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Config file (default: ./supportbot.toml).")
]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Data directory for state and index (default: .supportbot/ beside the config)."
    ),
]


def load(config: Path | None, knowledge: Path | None, data: Path | None) -> Settings:
    from bot.config import load_settings
    from bot.log import setup_logging

    settings = load_settings(config=config, knowledge=knowledge, data=data)
    setup_logging(settings.log_level if settings.log_level != "INFO" else "WARNING")
    return settings


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


async def closing(bot: SupportBot, work: Coroutine[Any, Any, T]) -> T:
    """Run `work`, then release the bot's connections in the same event loop."""
    try:
        return await work
    finally:
        await bot.aclose()


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(work)`, asyncio imported only by the commands that run an event loop: it was
    a quarter of `import bot.cli` (20 ms), paid by `init`, `index`, `report` and the rest too."""
    import asyncio

    return asyncio.run(work)
