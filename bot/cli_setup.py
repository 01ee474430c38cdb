"""`supportbot slack ...` and `supportbot discord ...`: what setting up each platform's app
needs printed (the Slack manifest, the Discord invite link)."""

# No `from __future__ import annotations`: typer reads these commands' annotations at every start (bot/cli.py).

from typing import Annotated

import typer

from bot.cli_options import ConfigOpt, load

slack_app = typer.Typer(help="Slack setup helpers.", no_args_is_help=True)
discord_app = typer.Typer(help="Discord setup helpers.", no_args_is_help=True)


@slack_app.command("manifest")
def slack_manifest(config: ConfigOpt = None) -> None:
    """Print the Slack app manifest to paste into "Create app from manifest"."""
    from adapters.slack.manifest import manifest_yaml

    settings = load(config, None, None)
    typer.echo(manifest_yaml(settings))


@discord_app.command("invite")
def discord_invite(
    client_id: Annotated[
        str | None, typer.Option(help="The application id (default: read from the token's application).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Print the OAuth2 URL that adds the bot to a server with the permissions it needs."""
    from adapters.discord.invite import invite_url

    settings = load(config, None, None)
    typer.echo(invite_url(settings, client_id))
