"""The dashboard's general pages and its one JSON route: sign-in, overview and the audit
log, and what every page module shares (who is signed in, writing the audit log). Tickets,
drafts and gaps have their own modules. Every handler runs behind the guard in app.py
except sign-in; each reads through the store and services the bot itself uses, so a figure
looks the same here as in `supportbot report`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

from aiohttp import web

from bot.dashboard.auth import (
    COOKIE,
    SESSION_TTL,
    Rights,
    Session,
    hash_token,
    new_session,
    session_rights,
    sign_session,
)
from bot.dashboard.context import DASHBOARD, PREFIX, RIGHTS, SESSION, TEMPLATES, Dashboard, refuse, render
from bot.dashboard.figures import StaleWhileRevalidate
from bot.dashboard.i18n import locale_of, translator
from bot.dashboard.reach import PLATFORMS, full_admin, overview_scope
from bot.dashboard.refusals import Refusal
from bot.dashboard.trends import Trend, collect_trend, overview_charts
from bot.insights.metrics import Definitions, Scope
from bot.insights.report import parse_period, to_json
from bot.store import StateStore

log = logging.getLogger(__name__)

PERIODS = ("1d", "7d", "30d")
# the overview's figures by (platform, period), kept a minute (figures.py says why)
TRENDS = web.AppKey("trends", StaleWhileRevalidate[Trend])


def signed_in(request: web.Request) -> Session:
    """Who is signed in: set by the guard on every guarded route."""
    return request[SESSION]


async def audit_change(request: web.Request, session: Session, action: str, detail: str = "") -> None:
    """One line of the audit log: who (the session's user), what, and when (the bot's clock)."""
    dash = request.app[DASHBOARD]
    await dash.store.run(
        StateStore.add_audit, dash.clock.now(), session.platform, session.user_id, action, detail
    )


async def record(request: web.Request, action: str, detail: str = "") -> None:
    """`audit_change` for the signed-in user: what page modules call after a change."""
    await audit_change(request, signed_in(request), action, detail)


async def form_of(request: web.Request) -> Mapping[str, object]:
    """The POSTed form, or 400: aiohttp raises on a body it cannot parse, and not only
    ValueError (bytes that are not UTF-8, broken multipart): an unknown charset is a
    LookupError, an unknown Content-Transfer-Encoding a RuntimeError. Anyone can send any of
    them, so any failure to read is the sender's, logged in one line without a traceback.
    Read once here, aiohttp keeps it for the handler."""
    try:
        return await request.post()
    except web.HTTPException:
        raise  # aiohttp's own answer, e.g. 413 for a body over client_max_size
    except Exception as exc:
        log.info("refused a form that could not be read (%s)", type(exc).__name__)
        raise web.HTTPBadRequest(text="The form could not be read.") from None


# -- sign-in ------------------------------------------------------------------------------


async def signin_page(request: web.Request) -> web.Response:
    # the link only shows a button: link previews (Slack unfurls it) fetch with GET, and
    # must not use up a one-time link
    return render(request, "signin.html", token=request.query.get("token", ""))


CROSS_SITE = "This sign-in was sent by another site and was refused. Open your sign-in link yourself."


def cross_site(request: web.Request) -> bool:
    """A POST another site's page made the browser send (login CSRF: a form on evil.example
    posting its owner's own link token would sign this browser in as them). Browsers say so
    in Sec-Fetch-Site, and older ones in Origin, which must then be this dashboard's."""
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False  # not a browser's cross-origin POST: those always carry Origin
    ours = {request.host, urlsplit(request.app[DASHBOARD].settings.dashboard.public_url).netloc}
    return urlsplit(origin).netloc not in ours - {""}


async def signin(request: web.Request) -> web.StreamResponse:
    dash = request.app[DASHBOARD]
    if cross_site(request):  # refused before the link is used: its owner can still open it
        return render(request, "signin.html", status=403, token="", problem=CROSS_SITE)
    form = await form_of(request)
    now = dash.clock.now()
    owner = await dash.store.run(StateStore.use_dashboard_link, hash_token(str(form.get("token", ""))), now)
    if owner is None:
        return render(request, "signin.html", status=403, token="", failed=True)
    session = new_session(owner.platform, owner.user_id, now)
    if session_rights(dash.settings, session) == Rights.NONE:
        await audit_change(request, session, "signin refused", "no staff or admin rights")
        return refuse(request)
    await audit_change(request, session, "signin")
    return await signed_in_response(request, session)


def behind_https(request: web.Request) -> bool:
    """The browser reached us over https (directly or through a TLS proxy): cookies say Secure."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


async def signed_in_response(request: web.Request, session: Session) -> web.Response:
    """The session kept, and to the overview carrying its cookie: signed, HttpOnly,
    SameSite=Lax, Secure behind https, scoped to the dashboard."""
    dash = request.app[DASHBOARD]
    await dash.store.run(StateStore.start_dashboard_session, session, dash.clock.now())
    response = web.Response(status=302, headers={"Location": f"{PREFIX}/"})
    response.set_cookie(
        COOKIE,
        sign_session(request.app[DASHBOARD].secret, session),
        max_age=int(SESSION_TTL.total_seconds()),
        path=PREFIX,
        httponly=True,
        samesite="Lax",
        secure=behind_https(request),
    )
    return response


async def signout(request: web.Request) -> web.StreamResponse:
    session = signed_in(request)
    # ended in the store, not only forgotten by this browser: a copy of the cookie (another
    # machine, a proxy's log, a shared computer) names nothing now
    await request.app[DASHBOARD].store.run(StateStore.end_dashboard_session, session.sid)
    await audit_change(request, session, "signout")
    response = web.Response(status=302, headers={"Location": f"{PREFIX}/signin"})
    response.del_cookie(COOKIE, path=PREFIX)
    return response


# -- overview -----------------------------------------------------------------------------


def _chosen(request: web.Request) -> str:
    """The period chosen (`supportbot report --since PERIOD`)."""
    chosen = request.query.get("period", "7d")
    return chosen if chosen in PERIODS else "7d"


def trend_of(dash: Dashboard, scope: Scope, chosen: str) -> Callable[[], Awaitable[Trend]]:
    """How to compute the overview's figures of `scope` for the period `chosen` ("7d"),
    ending when the computation starts."""

    async def compute() -> Trend:
        definitions = Definitions.from_settings(dash.settings)
        period = parse_period(chosen, None, now=dash.clock.now(), zone=definitions.hours.zone)
        return await dash.store.report(collect_trend, period, scope, definitions)

    return compute


def trend_key(scope: Scope, chosen: str) -> tuple[str | None, str | None, str]:
    return (scope.platform, scope.workspace, chosen)


async def _trend(request: web.Request, chosen: str, scope: Scope) -> Trend:
    """The figures of `supportbot report --since PERIOD --platform P [--workspace W]`, and per
    bucket, as kept (figures.py, warm.py): the page and its JSON show the same moment."""
    dash = request.app[DASHBOARD]
    return await request.app[TRENDS].get(trend_key(scope, chosen), trend_of(dash, scope, chosen))


async def overview(request: web.Request) -> web.Response:
    """The report's figures, and charts of them bucket by bucket (bot/dashboard/trends.py)."""
    scope = overview_scope(request)
    if scope is None:
        return refuse(request, Refusal.OVERVIEW_WORKSPACE, status=200)
    chosen = _chosen(request)
    trend = await _trend(request, chosen, scope)
    zone = Definitions.from_settings(request.app[DASHBOARD].settings).hours.zone
    return render(
        request,
        "overview.html",
        periods=PERIODS,
        chosen=chosen,
        report=to_json(trend.report),
        charts=overview_charts(trend, zone, translator(locale_of(request.headers.get("Accept-Language")))),
    )


async def overview_json(request: web.Request) -> web.Response:
    scope = overview_scope(request)
    if scope is None:
        return web.json_response({"error": str(Refusal.OVERVIEW_WORKSPACE)}, status=403)
    trend = await _trend(request, _chosen(request), scope)
    return web.json_response(to_json(trend.report))


# -- audit --------------------------------------------------------------------------------


async def audit(request: web.Request) -> web.Response:
    # every workspace's changes (who approved which draft, who signed in where): for the admins
    # of all of the platform, as the settings page is; and of that platform only (another's
    # names its people and servers), unless they are admins of all of that one too
    if request[RIGHTS] != Rights.ADMIN or not full_admin(request, signed_in(request).platform):
        return refuse(request, Refusal.AUDIT_ADMIN)
    platforms = [p for p in PLATFORMS if full_admin(request, p)]
    entries = await request.app[DASHBOARD].store.run(StateStore.audit_log, 500, platforms=platforms)
    return render(request, "audit.html", entries=entries)


async def stylesheet(_: web.Request) -> web.FileResponse:
    return web.FileResponse(TEMPLATES / "style.css")


async def root(_: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"{PREFIX}/")


async def _close_trends(app: web.Application) -> None:
    await app[TRENDS].aclose()


def add_routes(app: web.Application) -> None:
    app[TRENDS] = StaleWhileRevalidate()
    app.on_cleanup.append(_close_trends)
    app.router.add_get(f"{PREFIX}/signin", signin_page)
    app.router.add_post(f"{PREFIX}/signin", signin)
    app.router.add_post(f"{PREFIX}/signout", signout)
    app.router.add_get(PREFIX, root)
    app.router.add_get(f"{PREFIX}/", overview)
    app.router.add_get(f"{PREFIX}/api/overview", overview_json)
    app.router.add_get(f"{PREFIX}/audit", audit)
    app.router.add_get(f"{PREFIX}/static/style.css", stylesheet)
