"""The `[store]` section, where state lives, and `[dashboard]`, the web dashboard over it
(knowledge/configuration.md documents both)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from bot.config_platforms import _Section

DATABASE_URL_SCHEMES = ("postgresql://", "postgres://")


class StoreSettings(_Section):
    """Where state lives. No URL: state.db (SQLite) in the data directory."""

    # a PostgreSQL URL: it may hold a password, so it is kept secret (never in repr or logs)
    url: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _postgresql(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(DATABASE_URL_SCHEMES):
            raise ValueError("must be a PostgreSQL URL such as postgresql://user:password@host/database")
        return value


class DashboardSettings(_Section):
    """The web dashboard (bot/dashboard/, knowledge/dashboard.md): off unless turned on, so
    nothing is served to anyone who did not ask for it."""

    enabled: bool = False
    # where `supportbot run` serves it, beside its adapters (whose channels claim and resolve
    # post through); loopback by default: put a TLS proxy in front to reach it from elsewhere
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)
    # the address people open it at (behind a proxy: the https one), for Sign in with Slack /
    # Discord's redirect URIs; "" means http://host:port
    public_url: str = ""
    # the Discord server whose roles count at Discord sign-in; "" means the only
    # `[discord] command_guilds` entry, if there is exactly one
    discord_guild: str = ""

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http://), e.g. https://support.example.com")
        return value
