"""The settings page: the configuration the bot runs with, as admins need to see it (read-only).

What `supportbot.toml` and the environment resolved to, section by section, each
`[slack.workspaces.T...]` override included, with where it came from (the file, the data and
knowledge folders, the state database). Secrets are never shown: the tokens and keys read from
the environment are listed by name as set or not set, and in any URL the user part and the
values of query parameters that may hold a secret are replaced by ***. The page is for admins
of every workspace of their platform (the other platform's section only if that holds there
too): a workspace's admin would otherwise read every other workspace's staff and channels.
Changing a setting stays an edit of the file and a restart (or `supportbot doctor` first): a
web form writing the TOML would be a second way to configure the bot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from aiohttp import web

from bot.channel_types import Platform
from bot.config import FileSettings, Secret, Secrets, Section, Settings
from bot.dashboard.auth import Rights
from bot.dashboard.context import DASHBOARD, PREFIX, RIGHTS, refuse, render
from bot.dashboard.pages import signed_in
from bot.dashboard.reach import full_admin
from bot.dashboard.refusals import Refusal
from bot.store.state import shown_target


@dataclass(frozen=True)
class Row:
    key: str  # dotted, as in the file: "escalation.first_response_minutes"
    value: str


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"',\]]+")
_SECRET_PARAM = re.compile(r"pass|secret|token|key|sig|auth|cred", re.IGNORECASE)


def _hidden(url: str) -> str:
    """`url` without whatever in it may be a credential: the user part and secret-looking
    query parameters (`?password=`, `?sslpassword=`, `?token=`...)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "&".join(
        f"{name}=***" if _SECRET_PARAM.search(name) else f"{name}={value}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _shown(value: Any) -> str:
    """A setting's value as the file would spell it, with every URL in it `_hidden`."""
    if isinstance(value, Secret | Enum):
        return str(value)  # a secret masked whole; an enum as the file spells it
    if isinstance(value, Path):
        value = str(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return _URL.sub(lambda m: _hidden(m.group()), text) if "://" in text else text


def _rows(prefix: str, values: Mapping[str, Any]) -> Iterator[Row]:
    for key, value in values.items():
        dotted = f"{prefix}.{key}"
        if isinstance(value, Mapping) and value:
            yield from _rows(dotted, value)
        else:
            yield Row(dotted, _shown(value))


def sections(settings: Settings) -> list[tuple[str, list[Row]]]:
    """Each section of the file, with every setting's effective value (defaults included)."""
    shown: list[tuple[str, list[Row]]] = []
    for name in (f.name for f in fields(FileSettings)):
        value = getattr(settings, name)  # a section, or a table of them ([audiences.NAME])
        table = asdict(value) if isinstance(value, Section) else {key: asdict(v) for key, v in value.items()}
        shown.append((name, list(_rows(name, table))))
    return shown


def secrets_set(settings: Settings) -> list[tuple[str, bool]]:
    """Each secret by its environment variable's name, and whether it is set: never its value."""
    return [(f.name.upper(), getattr(settings.secrets, f.name) is not None) for f in fields(Secrets)]


async def settings_page(request: web.Request) -> web.Response:
    if request[RIGHTS] != Rights.ADMIN or not full_admin(request, signed_in(request).platform):
        return refuse(request, Refusal.SETTINGS_ADMIN)
    settings = request.app[DASHBOARD].settings
    # a platform's section (its staff, channels, workspaces) only for the admins of all of it
    withheld = {p.value for p in (Platform.SLACK, Platform.DISCORD) if not full_admin(request, p)}
    return render(
        request,
        "settings.html",
        origin=[
            ("config", str(settings.config_path) if settings.config_path else "-"),
            ("knowledge", str(settings.knowledge_dir)),
            ("data", str(settings.data_dir)),
            ("state", _shown(shown_target(settings))),
        ],
        sections=[(name, rows) for name, rows in sections(settings) if name not in withheld],
        secrets=secrets_set(settings),
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/settings", settings_page)
