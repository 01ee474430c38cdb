"""`supportbot dashboard`: print a one-time sign-in link, or serve the web dashboard alone
(bot/dashboard/serve.py holds the logic; knowledge/dashboard.md the guide)."""

# No `from __future__ import annotations`: typer reads these commands' annotations at every start (bot/cli.py).

from enum import StrEnum
from functools import partial
from typing import Annotated

import typer

from bot.cli_options import ConfigOpt, DataOpt, fail, load, run_async


class LinkPlatform(StrEnum):
    SLACK = "slack"
    DISCORD = "discord"


def dashboard(
    link: Annotated[bool, typer.Option("--link", help="Print a one-time sign-in URL and exit.")] = False,
    user: Annotated[str | None, typer.Option(help="With --link: the user id to sign in.")] = None,
    platform: Annotated[
        LinkPlatform, typer.Option(help="With --link: the user's platform.")
    ] = LinkPlatform.SLACK,
    url: Annotated[
        str | None, typer.Option(help="With --link: the address the dashboard is served on.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Serve the web dashboard alone over the same data (tickets read-only), or with --link print
    a one-time sign-in URL (valid 10 minutes) for a staff member or admin."""
    from bot.clock import SystemClock
    from bot.dashboard.serve import issue_link, serve
    from bot.knowledge_reader import open_for_reading
    from bot.store import StateStore

    settings = load(config, None, data)
    if link:
        if not user:
            fail("--link needs --user ID: the platform user id of the person signing in")
        store = StateStore.open(settings)
        try:
            shown = issue_link(
                store,
                platform=str(platform),
                user_id=user,
                base_url=url or f"http://{host}:{port}",
                clock=SystemClock(),
            )
        finally:
            store.close()
        typer.echo(shown)
        return
    typer.echo(
        f"dashboard on http://{host}:{port}/admin/ (tickets read-only: the bot's chat is not connected)",
        err=True,
    )
    try:
        run_async(serve(settings, host, port, reader=partial(open_for_reading, settings)))
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)
