"""What the dashboard's pages share: the services they act through (`Dashboard`), the keys
they are kept under on the application, and `render`, which fills a template with what
every page shows (who is signed in, the CSRF token for its forms)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from bot.answering.pipeline import AnswerPipeline
from bot.commands.registry import CommandHost
from bot.config import Settings
from bot.dashboard.auth import Rights, Session, csrf_token
from bot.dashboard.i18n import Locale, locale_of, translator
from bot.dashboard.refusals import Refusal
from bot.escalation.tickets import Escalations
from bot.ports import Channel, Clock
from bot.store import AsyncStore

PREFIX = "/admin"
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    """What the pages read and act through: the bot's own services.

    `channels` are the running adapters' (inside `supportbot run`): with them, claim and
    resolve update the chat thread exactly as the chat buttons do. Without them (standalone
    `supportbot dashboard`) tickets are shown read-only, since the chat could not be told.

    `host` is the running core (inside `supportbot run`): approving a draft and drafting
    from a gap go through the chat commands' own code paths with it, writing into and
    reindexing the knowledge the bot answers from. Standalone there is none, and those
    actions are read-only."""

    settings: Settings
    store: AsyncStore
    clock: Clock
    escalations: Escalations
    channels: Mapping[str, Channel] | None = None
    host: CommandHost | None = None
    # standalone: opens the knowledge index for reading (bot/knowledge_reader.py), on a thread
    reader: Callable[[], AnswerPipeline] | None = None
    secret: str = field(default="", repr=False)


DASHBOARD = web.AppKey("dashboard", Dashboard)
TEMPLATES_KEY = web.AppKey("templates", jinja2.Environment)
SESSION = web.RequestKey("session", Session)
RIGHTS = web.RequestKey("rights", Rights)


def viewer_locale(request: web.Request) -> Locale:
    """The language the viewer's browser asks for."""
    return locale_of(request.headers.get("Accept-Language"))


def render(request: web.Request, name: str, status: int = 200, **values: Any) -> web.Response:
    """A page from templates/, with what every page shows (who is signed in, the CSRF token,
    the viewer's language as `lang` and its translator as `t`)."""
    env = request.app[TEMPLATES_KEY]
    session = request.get(SESSION)
    dash = request.app[DASHBOARD]
    locale = viewer_locale(request)
    html = env.get_template(name).render(
        prefix=PREFIX,
        lang=locale.value,
        t=translator(locale),
        session=session,
        rights=request.get(RIGHTS, Rights.NONE),
        csrf=csrf_token(dash.secret, session) if session is not None else "",
        **values,
    )
    return web.Response(text=html, status=status, content_type="text/html")


def refuse(request: web.Request, reason: Refusal | None = None, *, status: int = 403) -> web.Response:
    """The refusal page: no rights (without `reason`), or why not; 409 for an action only the
    running bot can take, refused by the standalone dashboard."""
    if reason is None:
        return render(request, "refused.html", status=status)
    return render(request, "refused.html", status=status, reason=reason)
