"""The settings page: the configuration the bot runs with, as admins need to see it (read-only).

What `supportbot.toml` and the environment resolved to, section by section, each
`[slack.workspaces.T...]` override included, with where it came from (the file, the data and
knowledge folders, the state database). Secrets are never shown: the tokens and keys read from
the environment are listed by name as set or not set, and a URL's password is replaced by ***.
Changing a setting stays an edit of the file and a restart (or `supportbot doctor` first): a
web form writing the TOML would be a second way to configure the bot.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.config import FileSettings, Secrets, Settings
from bot.dashboard.auth import Rights
from bot.dashboard.context import DASHBOARD, PREFIX, RIGHTS, refuse, render
from bot.dashboard.refusals import Refusal
from bot.store.state import shown_target
from bot.store.urls import redact_url


@dataclass(frozen=True)
class Row:
    key: str  # dotted, as in the file: "escalation.first_response_minutes"
    value: str


def _shown(value: Any) -> str:
    """A setting's value as the file would spell it, any URL's password hidden."""
    if isinstance(value, Path):
        value = str(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return redact_url(text) if "://" in text else text


def _rows(prefix: str, values: Mapping[str, Any]) -> Iterator[Row]:
    for key, value in values.items():
        dotted = f"{prefix}.{key}"
        if isinstance(value, Mapping) and value:
            yield from _rows(dotted, value)
        else:
            yield Row(dotted, _shown(value))


def sections(settings: Settings) -> list[tuple[str, list[Row]]]:
    """Each section of the file, with every setting's effective value (defaults included)."""
    dumped = settings.model_dump(mode="json", include=set(FileSettings.model_fields))
    return [(name, list(_rows(name, dumped[name]))) for name in FileSettings.model_fields]


def secrets_set(settings: Settings) -> list[tuple[str, bool]]:
    """Each secret by its environment variable's name, and whether it is set: never its value."""
    return [(name.upper(), getattr(settings.secrets, name) is not None) for name in Secrets.model_fields]


async def settings_page(request: web.Request) -> web.Response:
    if request[RIGHTS] != Rights.ADMIN:
        return refuse(request, Refusal.SETTINGS_ADMIN)
    settings = request.app[DASHBOARD].settings
    return render(
        request,
        "settings.html",
        origin=[
            ("config", str(settings.config_path) if settings.config_path else "-"),
            ("knowledge", str(settings.knowledge_dir)),
            ("data", str(settings.data_dir)),
            ("state", shown_target(settings)),
        ],
        sections=sections(settings),
        secrets=secrets_set(settings),
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/settings", settings_page)
