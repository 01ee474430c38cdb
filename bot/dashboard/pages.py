"""The dashboard's pages and its one JSON route: sign-in, overview, tickets, one ticket
(with claim and resolve), and the audit log. Every handler here runs behind the guard in
app.py except sign-in; each reads through the store and services the bot itself uses, so
a figure or a ticket looks the same here as in `supportbot report` or on the triage card.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from markupsafe import Markup, escape

from bot.dashboard.auth import (
    COOKIE,
    SESSION_TTL,
    Rights,
    Session,
    hash_token,
    new_session,
    rights_of,
    sign_session,
)
from bot.dashboard.context import DASHBOARD, PREFIX, RIGHTS, SESSION, TEMPLATES, render
from bot.escalation.cards import age, card, sla_state
from bot.escalation.values import ACTIVE, Context
from bot.insights.metrics import Definitions, Scope, collect
from bot.insights.report import parse_period, to_json
from bot.store import StateStore
from bot.types import Ticket

PERIODS = ("1d", "7d", "30d")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _markdown_line(text: str) -> Markup:
    """A brief line's `**bold**` as <strong>, everything else escaped."""
    return Markup(_BOLD.sub(r"<strong>\1</strong>", str(escape(text))))


def _session(request: web.Request) -> Session:
    return request[SESSION]  # set by the guard on every guarded route


async def _audit(request: web.Request, session: Session, action: str, detail: str = "") -> None:
    dash = request.app[DASHBOARD]
    await dash.store.run(
        StateStore.add_audit, dash.clock.now(), session.platform, session.user_id, action, detail
    )


# -- sign-in ------------------------------------------------------------------------------


async def signin_page(request: web.Request) -> web.Response:
    # the link only shows a button: link previews (Slack unfurls it) fetch with GET, and
    # must not use up a one-time link
    return render(request, "signin.html", token=request.query.get("token", ""))


async def signin(request: web.Request) -> web.StreamResponse:
    dash = request.app[DASHBOARD]
    form = await request.post()
    now = dash.clock.now()
    owner = await dash.store.run(StateStore.use_dashboard_link, hash_token(str(form.get("token", ""))), now)
    if owner is None:
        return render(request, "signin.html", status=403, token="", failed=True)
    session = new_session(owner.platform, owner.user_id, now)
    if rights_of(dash.settings, owner.platform, owner.user_id) == Rights.NONE:
        await _audit(request, session, "signin refused", "no staff or admin rights")
        return render(request, "refused.html", status=403)
    await _audit(request, session, "signin")
    response = web.Response(status=302, headers={"Location": f"{PREFIX}/"})
    secure = request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    response.set_cookie(
        COOKIE,
        sign_session(dash.secret, session),
        max_age=int(SESSION_TTL.total_seconds()),
        path=PREFIX,
        httponly=True,
        samesite="Lax",
        secure=secure,
    )
    return response


async def signout(request: web.Request) -> web.StreamResponse:
    await _audit(request, _session(request), "signout")
    response = web.Response(status=302, headers={"Location": f"{PREFIX}/signin"})
    response.del_cookie(COOKIE, path=PREFIX)
    return response


# -- overview -----------------------------------------------------------------------------


async def _report(request: web.Request) -> tuple[str, dict[str, Any]]:
    """The figures of `supportbot report --since PERIOD --platform P --format json`."""
    dash = request.app[DASHBOARD]
    chosen = request.query.get("period", "7d")
    chosen = chosen if chosen in PERIODS else "7d"
    definitions = Definitions.from_settings(dash.settings)
    period = parse_period(chosen, None, now=dash.clock.now(), zone=definitions.hours.zone)
    scope = Scope(platform=_session(request).platform)
    report = await dash.store.run(collect, period, scope, definitions)
    return chosen, to_json(report)


async def overview(request: web.Request) -> web.Response:
    chosen, report = await _report(request)
    return render(request, "overview.html", periods=PERIODS, chosen=chosen, report=report)


async def overview_json(request: web.Request) -> web.Response:
    _, report = await _report(request)
    return web.json_response(report)


# -- tickets ------------------------------------------------------------------------------


async def tickets(request: web.Request) -> web.Response:
    dash = request.app[DASHBOARD]
    now = dash.clock.now()
    rows = await dash.store.run(
        StateStore.tickets, statuses=ACTIVE, platform=_session(request).platform, limit=500
    )
    shown = [{"ticket": t, "age": age(now - t.created_at), "sla": sla_state(t, now)} for t in rows]
    return render(request, "tickets.html", tickets=shown, can_act=dash.channels is not None)


async def _ticket(request: web.Request) -> Ticket:
    """The ticket in the path, if it is on the signed-in user's platform."""
    dash = request.app[DASHBOARD]
    try:
        ticket_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    ticket = await dash.store.run(StateStore.ticket, ticket_id)
    if ticket is None or ticket.conversation.platform != _session(request).platform:
        raise web.HTTPNotFound()
    return ticket


async def ticket_page(request: web.Request) -> web.Response:
    dash = request.app[DASHBOARD]
    ticket = await _ticket(request)
    now = dash.clock.now()
    saved = await dash.store.run(StateStore.ticket_context, ticket.id)
    context = Context(
        answer=saved.get("answer"), sources=tuple(saved.get("sources") or ()), summary=saved.get("summary")
    )
    previous = await dash.store.run(
        StateStore.asker_tickets, ticket.conversation.platform, ticket.asker_id, ticket.id
    )
    # the triage card's own text: the same status line and brief staff see in the chat
    lines = card(ticket, ticket.conversation, now, context, previous=previous).text.split("\n")
    history = await dash.store.run(StateStore.history, ticket.conversation, 200)
    events = await dash.store.run(StateStore.ticket_events, ticket.id)
    return render(
        request,
        "ticket.html",
        ticket=ticket,
        brief=[_markdown_line(line) for line in lines],
        history=history,
        events=events,
        can_act=dash.channels is not None,
        active=ticket.status in ACTIVE,
        message=request.query.get("message", ""),
    )


async def _act(request: web.Request, action: str) -> web.StreamResponse:
    dash = request.app[DASHBOARD]
    ticket = await _ticket(request)
    session = _session(request)
    channel = (dash.channels or {}).get(ticket.conversation.platform)
    if channel is None:
        return render(
            request, "refused.html", status=409, reason="Claim and resolve work only while the bot runs."
        )
    actor = session.author
    if action == "claim":
        result = await dash.escalations.claim(ticket.id, actor, channel, ticket.conversation.platform)
    else:
        result = await dash.escalations.resolve(ticket.id, actor, channel, ticket.conversation.platform)
    if result.changed:
        await _audit(request, session, action, f"ticket #{ticket.id}")
    raise web.HTTPFound(
        request.app.router["ticket"].url_for(id=str(ticket.id)).with_query(message=result.message)
    )


async def claim(request: web.Request) -> web.StreamResponse:
    return await _act(request, "claim")


async def resolve(request: web.Request) -> web.StreamResponse:
    return await _act(request, "resolve")


# -- audit --------------------------------------------------------------------------------


async def audit(request: web.Request) -> web.Response:
    if request[RIGHTS] != Rights.ADMIN:
        return render(request, "refused.html", status=403, reason="The audit log is for admins.")
    entries = await request.app[DASHBOARD].store.run(StateStore.audit_log, 500)
    return render(request, "audit.html", entries=entries)


async def stylesheet(_: web.Request) -> web.FileResponse:
    return web.FileResponse(TEMPLATES / "style.css")


async def root(_: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"{PREFIX}/")


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/signin", signin_page)
    app.router.add_post(f"{PREFIX}/signin", signin)
    app.router.add_post(f"{PREFIX}/signout", signout)
    app.router.add_get(PREFIX, root)
    app.router.add_get(f"{PREFIX}/", overview)
    app.router.add_get(f"{PREFIX}/api/overview", overview_json)
    app.router.add_get(f"{PREFIX}/tickets", tickets)
    app.router.add_get(f"{PREFIX}/tickets/{{id}}", ticket_page, name="ticket")
    app.router.add_post(f"{PREFIX}/tickets/{{id}}/claim", claim)
    app.router.add_post(f"{PREFIX}/tickets/{{id}}/resolve", resolve)
    app.router.add_get(f"{PREFIX}/audit", audit)
    app.router.add_get(f"{PREFIX}/static/style.css", stylesheet)
