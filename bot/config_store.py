"""The `[store]` section, where state lives, and `[dashboard]`, the web dashboard over it
(knowledge/configuration.md documents both)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from bot.config_rules import Bounds, Check, Secret, Section, keep_secrets

DATABASE_URL_SCHEMES = ("postgresql://", "postgres://")


def _postgresql(value: Secret | None) -> Secret | None:
    if value is not None and not value.get_secret_value().startswith(DATABASE_URL_SCHEMES):
        raise ValueError("must be a PostgreSQL URL such as postgresql://user:password@host/database")
    return value


def _public_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("must start with https:// (or http://), e.g. https://support.example.com")
    return value


@dataclass(frozen=True, kw_only=True)
class StoreSettings(Section):
    """Where state lives. No URL: state.db (SQLite) in the data directory."""

    # a PostgreSQL URL: it may hold a password, so it is kept secret (never in repr or logs)
    url: Annotated[Secret | None, Check(_postgresql)] = None

    def __post_init__(self) -> None:
        keep_secrets(self)


@dataclass(frozen=True, kw_only=True)
class DashboardSettings(Section):
    """The web dashboard (bot/dashboard/, knowledge/dashboard.md): off unless turned on, so
    nothing is served to anyone who did not ask for it."""

    enabled: bool = False
    # where `supportbot run` serves it, beside its adapters (whose channels claim and resolve
    # post through); loopback by default: put a TLS proxy in front to reach it from elsewhere
    host: str = "127.0.0.1"
    port: Annotated[int, Bounds(ge=1, le=65535)] = 8090
    # the address people open it at (behind a proxy: the https one), for Sign in with Slack /
    # Discord's redirect URIs; "" means http://host:port
    public_url: Annotated[str, Check(_public_url)] = ""
    # the Discord server whose roles count at Discord sign-in; "" means the only
    # `[discord] command_guilds` entry, if there is exactly one
    discord_guild: str = ""
