"""The dashboard's aiohttp application: its routes under `/admin`, and the guard every
request passes (session, rights, CSRF) before any handler reads the store.

The guard is one middleware rather than a check in each handler, so a page added later
cannot forget it: only the sign-in page and the stylesheet are open. Without a session a
page redirects to sign-in (302) and `/admin/api/...` answers 401; a signed-in user without
staff or admin rights sees a refusal (403) and no data, and may only sign out; a POST
without the session's CSRF token is refused (403) before its handler runs, so it changes
nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import jinja2
from aiohttp import web

from bot.dashboard import drafts, gaps, knowledge, oauth, pages, settings_page, tickets
from bot.dashboard.auth import COOKIE, Rights, Session, csrf_ok, session_id, session_rights
from bot.dashboard.context import (
    DASHBOARD,
    PREFIX,
    RIGHTS,
    SESSION,
    TEMPLATES,
    TEMPLATES_KEY,
    Dashboard,
    refuse,
)
from bot.dashboard.refusals import Refusal
from bot.dashboard.roles import ROLE_READS, add_role_reads
from bot.dashboard.warm import add_warming
from bot.store import StateStore

SIGNOUT = f"{PREFIX}/signout"
OPEN_PATHS = frozenset({f"{PREFIX}/signin", f"{PREFIX}/static/style.css", *oauth.OPEN_PATHS})


@web.middleware
async def guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.path in OPEN_PATHS or not request.path.startswith(PREFIX):
        # open pages, and what is not the dashboard's: served on the Slack adapter's port, its
        # /slack/events and /healthz are checked by the adapter (signatures), not by sessions
        return await handler(request)
    dash = request.app[DASHBOARD]
    sid = session_id(dash.secret, request.cookies.get(COOKIE))
    now = dash.clock.now()
    kept = None if sid is None else await dash.store.run(StateStore.dashboard_session, sid, now)
    session = None if kept is None else await request.app[ROLE_READS].session(dash, Session.of(kept), now)
    api = request.path.startswith(f"{PREFIX}/api/")
    if session is None:
        if api:
            return web.json_response({"error": "sign in first"}, status=401)
        raise web.HTTPFound(f"{PREFIX}/signin")
    rights = session_rights(dash.settings, session)
    request[SESSION] = session
    request[RIGHTS] = rights
    # signing out needs no rights: a session that lost them must still be able to end itself,
    # else its cookie works again once the rights come back (a shared computer)
    if rights == Rights.NONE and request.path != SIGNOUT:
        if api:
            return web.json_response({"error": "no rights"}, status=403)
        return refuse(request)
    if request.method == "POST":
        form = await pages.form_of(request)
        if not csrf_ok(dash.secret, session, str(form.get("csrf", ""))):
            return refuse(request, Refusal.NO_CSRF)
    return await handler(request)


async def build_app(dashboard: Dashboard, *, warm: bool = False) -> web.Application:
    """The application, its routes under /admin; the cookie secret is read from the store.
    `warm`: compute the overview's figures in the background from the start (warm.py), as a
    served dashboard does; tests that change the store under a page leave it off."""
    secret = await dashboard.store.run(StateStore.dashboard_secret)
    app = web.Application(middlewares=[guard])
    app[DASHBOARD] = replace(dashboard, secret=secret)
    app[TEMPLATES_KEY] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    add_role_reads(app)
    pages.add_routes(app)
    oauth.add_routes(app)
    tickets.add_routes(app)
    drafts.add_routes(app)
    gaps.add_routes(app)
    knowledge.add_routes(app)
    settings_page.add_routes(app)
    if warm:
        add_warming(app)
    return app
