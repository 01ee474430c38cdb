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
        str | None,
        typer.Option(
            help="With --link: the address the dashboard is served on "
            "(default: [dashboard] public_url, else http://host:port)."
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: [dashboard] host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port to listen on (default: [dashboard] port).")
    ] = None,
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
    # where `supportbot run` serves it too, so a link printed for either points where it listens
    host = host or settings.dashboard.host
    port = port or settings.dashboard.port
    if link:
        if not user:
            fail("--link needs --user ID: the platform user id of the person signing in")
        # a link is good only where the dashboard reads: never into a state.db made here now
        store = StateStore.open_recorded(settings)
        try:
            shown = issue_link(
                store,
                platform=str(platform),
                user_id=user,
                base_url=url or settings.dashboard.public_url or f"http://{host}:{port}",
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
