"""The dashboard's knowledge gaps: the clusters of questions the documentation does not
answer yet, one cluster with its questions and tickets, dismissing one, and starting a
knowledge draft from it.

The list shows the clusters as stored, "as of" the last placement: placing new questions
(and marking what the documentation now answers) is the running bot's clock work
(`Gaps.tick`, about every half minute), never the request's, so the page's time does not
grow with how many questions came in since (a backlog of 13,000 took 3 s to place). Changes
go through the running core as `/support gaps dismiss|draft` does: dismissing is
`Gaps.dismiss`, and "draft from cluster" is the command's own `draft_from_gap`. Standalone
(no core) the clusters are shown read-only.
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from bot.commands.insights import draft_from_gap
from bot.dashboard.context import DASHBOARD, PREFIX, refuse, render, viewer_locale
from bot.dashboard.inputs import path_id, redirect, status_of
from bot.dashboard.notices import Notice, notice
from bot.dashboard.pages import record
from bot.dashboard.reach import reach_of
from bot.dashboard.refusals import Refusal
from bot.escalation.cards import age
from bot.insights.gaps import ALL
from bot.privacy.redaction import quoted_plain
from bot.store import StateStore
from bot.store.gaps import GapKind, GapRecord, GapStatus
from bot.store.queue import Reach

# what the pages say for each status and kind: English, the key of its Korean (i18n.py)
STATUS_LABELS = {
    GapStatus.OPEN: "open",
    GapStatus.ADDRESSED: "answered by the docs now",
    GapStatus.DISMISSED: "dismissed",
    "all": "all",
}
KIND_LABELS = {GapKind.HARD: "unanswered", GapKind.SOFT: "answered, did not help"}
LISTED = 200
QUESTIONS = 50  # of one gap, newest first


def _statuses(given: str | None) -> tuple[GapStatus, ...]:
    if given == "all":
        return ALL
    try:
        return (GapStatus(given or GapStatus.OPEN.value),)
    except ValueError:
        return (GapStatus.OPEN,)


async def gaps_list(request: web.Request) -> web.Response:
    dash = request.app[DASHBOARD]
    statuses = _statuses(request.query.get("status"))
    found = await dash.store.run(StateStore.visible_gaps, reach_of(request), statuses, LISTED)
    placed_at = await dash.store.run(StateStore.gaps_placed_at)
    return render(
        request,
        "gaps.html",
        gaps=[replace(g, representative=quoted_plain(g.representative)) for g in found[:LISTED]],
        statuses=[s.value for s in GapStatus],
        chosen="all" if statuses == ALL else statuses[0].value,
        live=dash.host is not None,
        placed_at=placed_at,
        labels=STATUS_LABELS,
        kinds=KIND_LABELS,
    )


async def _gap(request: web.Request) -> GapRecord:
    """The gap in the path, if it is in a workspace the viewer has rights in (one without a
    workspace, from before gaps had them: if they see every workspace of the platform)."""
    dash = request.app[DASHBOARD]
    gap = await dash.store.run(StateStore.gap, path_id(request))
    if gap is None or not any(_covers(r, gap) for r in reach_of(request)):
        raise web.HTTPNotFound()
    return gap


def _covers(reach: Reach, gap: GapRecord) -> bool:
    """As `visible_gaps` decides: a gap without a workspace only for a reach of every one."""
    if gap.workspace is None:
        return reach.platform == gap.platform and reach.only is None and not reach.excluded
    return reach.covers(gap.platform, gap.workspace)


async def gap_page(request: web.Request) -> web.Response:
    dash = request.app[DASHBOARD]
    gap = await _gap(request)
    now = dash.clock.now()
    questions = await dash.store.run(StateStore.gap_questions, gap.id, QUESTIONS)
    tickets = await dash.store.run(StateStore.gap_tickets, gap.id)
    language = viewer_locale(request).value
    return render(
        request,
        "gap.html",
        gap=replace(gap, representative=quoted_plain(gap.representative)),
        questions=[(quoted_plain(question), age(now - at, language)) for question, at in questions],
        tickets=tickets[:20],
        live=dash.host is not None,
        reopen_asks=dash.settings.insights.gap_reopen_asks,
        message=status_of(request),
        labels=STATUS_LABELS,
        kinds=KIND_LABELS,
    )


def _back(request: web.Request, gap: GapRecord, message: str) -> web.Response:
    return redirect(request, request.app.router["gap"].url_for(id=str(gap.id)), message)


def _not_running(request: web.Request) -> web.Response:
    return refuse(request, Refusal.GAPS_STANDALONE, status=409)


async def dismiss(request: web.Request) -> web.Response:
    dash = request.app[DASHBOARD]
    gap = await _gap(request)
    if dash.host is None:
        return _not_running(request)
    if not await dash.host.insights.gaps.dismiss(gap.id):
        return _back(request, gap, notice(request, Notice.GAP_ALREADY_DISMISSED, gap=gap.id))
    await record(request, "gap dismiss", f"gap #{gap.id}")
    asks = dash.settings.insights.gap_reopen_asks
    return _back(request, gap, notice(request, Notice.GAP_DISMISSED, gap=gap.id, asks=asks))


async def draft(request: web.Request) -> web.Response:
    """`/support gaps draft N`: a draft from what staff answered in one of the gap's tickets."""
    dash = request.app[DASHBOARD]
    gap = await _gap(request)
    if dash.host is None:
        return _not_running(request)
    message = await draft_from_gap(dash.host, gap.id)
    # the command says what it did (a new draft, one brought up to date, one there already, or
    # nothing to draft from) and only says it: the audit keeps its first sentence
    await record(request, "gap draft", f"gap #{gap.id}: {message.split('. ')[0]}")
    return _back(request, gap, message)


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/gaps", gaps_list)
    app.router.add_get(f"{PREFIX}/gaps/{{id}}", gap_page, name="gap")
    app.router.add_post(f"{PREFIX}/gaps/{{id}}/dismiss", dismiss)
    app.router.add_post(f"{PREFIX}/gaps/{{id}}/draft", draft)
