"""The dashboard's tickets: the filterable queue, one ticket (its brief, transcript and
timeline), and claim, resolve, assign and reopen.

Each action calls the `Escalations` method its chat equivalent calls (the Claim and
Resolve buttons, `/support resolve N note`, `/support assign N @person`, the asker's reply
that reopens), with the channel of the running adapter, so the thread and the triage card
change exactly as they would from the chat; each change is written to the audit log.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Any

from aiohttp import web
from markupsafe import Markup, escape

from bot import policy
from bot.channel_types import DM_WORKSPACE
from bot.commands.handlers import NOTE_LIMIT
from bot.config import PlatformSettings, Settings
from bot.dashboard.auth import Rights
from bot.dashboard.context import DASHBOARD, PREFIX, refuse, render, viewer_locale
from bot.dashboard.inputs import path_id, redirect, status_of, typed
from bot.dashboard.notices import Notice, notice
from bot.dashboard.pages import record, signed_in
from bot.dashboard.queue import (
    AGE_LABELS,
    ORDER_LABELS,
    SLA_LABELS,
    STATUS_LABELS,
    UNASSIGNED,
    AgeFilter,
    QueueFilter,
    QueueOrder,
    StatusFilter,
)
from bot.dashboard.reach import acting_from, can_see, reach_of, rights_in
from bot.dashboard.refusals import Refusal
from bot.escalation.cards import age, card, sla_state
from bot.escalation.values import ACTIVE, Context, TransitionResult
from bot.markdown import unescape
from bot.ports import Channel
from bot.privacy.redaction import quoted_plain
from bot.store import StateStore
from bot.store.queue import Reach
from bot.text import parse_user_id
from bot.types import Author, ConversationRef, Ticket, TicketStatus, Turn

SHOWN = 200  # rows of a page of the queue; the next page is a link away
QUOTED = 200  # characters of a question the queue quotes (its template shows 160, cut at a word)
_BOLD = re.compile(r"\*\*(.+?)\*\*")
# what the transcript and the timeline say for a speaker and an event as stored: English
# (the stored word itself), the key of its Korean (i18n.py); an event not listed shows as stored
ROLE_LABELS = {"user": "user", "bot": "bot", "staff": "staff"}
EVENT_LABELS = {
    "opened": "opened",
    **{str(s): str(s) for s in TicketStatus},  # a move to that status
    "reassigned": "reassigned",
    "reopened": "reopened",
    "sla": "sla",  # a step of the SLA clock (bot/store/sla_clock.py)
    "rated": "rated",
}


def _markdown_line(text: str) -> Markup:
    """A brief line's `**bold**` as <strong>, its Markdown escapes (what people wrote, quoted
    `literal`ly) as the characters they stand for, everything else escaped."""
    strong = _BOLD.sub(r"<strong>\1</strong>", str(escape(text)))
    return Markup(unescape(strong))


def _named(ps: PlatformSettings) -> list[str]:
    """The users these settings name for tickets: whom one may assign to."""
    channel_staff = [u for c in ps.channels.values() for u in c.staff_users]
    return [*ps.staff_users, *ps.second_tier_users, *ps.oncall_users, *ps.admin_users, *channel_staff]


def _named_in(settings: Settings, reach: tuple[Reach, ...]) -> list[str]:
    """The people the settings name in the workspaces of `reach`: the queue's assignee filter
    offers no one of a workspace the viewer may not see."""
    people: list[str] = []
    for r in reach:
        shared = policy.platform_settings(settings, r.platform)
        if shared is None:
            continue
        if r.only is not None:
            # the direct messages' settings are the shared ones, whose people are those of
            # every workspace without its own, which the viewer may not see
            views = [shared.for_workspace(w) for w in sorted(r.only - {DM_WORKSPACE})]
        else:  # the shared settings serve every workspace without its own: one of them is seen
            views = [shared, *(shared.for_workspace(w) for w in shared.workspaces if w not in r.excluded)]
        people += [person for ps in views for person in _named(ps)]
    return list(dict.fromkeys(people))


async def _team(request: web.Request, where: ConversationRef) -> dict[str, str]:
    """Id -> name (or "") of whom a ticket may be assigned to from `where` (its workspace, or
    for a direct message's the one the admin acts from: `acting_from`): the people
    its settings name (its `[slack.workspaces.T...]` over the shared ones), those seen working
    its tickets (staff by a group or role, whom the settings cannot list), and the admin
    assigning. No one of another workspace: they could not see the thread they are tagged in."""
    dash = request.app[DASHBOARD]
    ps = policy.platform_settings(dash.settings, where.platform, where.workspace)
    # and the people tag routes send tickets to (`[tags.NAME] slack_staff_users`...)
    routed = (
        [u for route in dash.settings.escalation.tags.values() for u in ps.tag_people(route).users]
        if ps
        else []
    )
    named = dict.fromkeys([*(_named(ps) if ps is not None else []), *routed], "")
    seen = await dash.store.run(StateStore.workspace_staff, where.platform, where.workspace)
    me = signed_in(request).user_id
    return {me: ""} | named | {person: name for person, name in seen if name or person not in named}


# -- the queue ----------------------------------------------------------------------------


async def queue(request: web.Request) -> web.Response:
    dash = request.app[DASHBOARD]
    now = dash.clock.now()
    reach = reach_of(request)
    platforms = [r.platform for r in reach]
    wanted = QueueFilter.from_query(request.query, platforms)
    # both read every ticket of the reach (with "all", its whole history, seconds of it on a
    # big install): on the reports lane, never holding up the one the bot answers through
    page = await dash.store.report(StateStore.ticket_queue, wanted.query(reach), now, SHOWN)
    channels, assignees = await dash.store.report(
        StateStore.queue_people_and_channels, wanted.reach(reach), wanted.status.statuses
    )
    people = dict.fromkeys(_named_in(dash.settings, reach), "") | dict(assignees)
    # and the ones chosen, though no ticket of the status chosen now has them: the form shows
    # the filter the list is under, not "any"
    if wanted.channel and wanted.channel not in channels:
        channels = sorted([*channels, wanted.channel])
    if wanted.assignee not in ("", UNASSIGNED):
        people.setdefault(wanted.assignee, "")
    # the start of each, redacted (a pasted log is not scanned whole to show a line of it),
    # off the event loop the bot answers on
    questions = await asyncio.to_thread(lambda: [quoted_plain(t.question, QUOTED) for t in page.tickets])
    language = viewer_locale(request).value
    rows = [
        {
            "ticket": t,
            "age": age(now - t.created_at, language),
            "sla": sla_state(t, now, language),
            "question": question,
        }
        for t, question in zip(page.tickets, questions, strict=True)
    ]
    return render(
        request,
        "tickets.html",
        tickets=rows,
        total=page.total,
        # the next page's link, past the last row shown; and the first's, from a page past it
        next_page=_queue_url(wanted, after=page.tickets[-1].id) if page.more else "",
        first_page=_queue_url(wanted) if wanted.after is not None else "",
        filters=wanted,
        platforms=platforms,
        channels=channels,
        people=sorted((name or id, id) for id, name in people.items()),
        statuses=list(StatusFilter),
        orders=list(QueueOrder),
        ages=list(AgeFilter),
        slas=list(SLA_LABELS),
        status_labels=STATUS_LABELS,
        age_labels=AGE_LABELS,
        order_labels=ORDER_LABELS,
        sla_labels=SLA_LABELS,
        unassigned=UNASSIGNED,
        me=signed_in(request).user_id,
        can_act=dash.channels is not None,
    )


def _queue_url(wanted: QueueFilter, after: int | None = None) -> str:
    query = wanted.link(after)
    return f"{PREFIX}/tickets?{query}" if query else f"{PREFIX}/tickets"


# -- one ticket ---------------------------------------------------------------------------


async def _ticket(request: web.Request) -> Ticket:
    """The ticket in the path, if it is in a workspace the signed-in user has rights in
    (anything else is not found: the page does not say a ticket exists elsewhere)."""
    dash = request.app[DASHBOARD]
    ticket = await dash.store.run(StateStore.ticket, path_id(request))
    if ticket is None or not can_see(request, ticket.conversation):
        raise web.HTTPNotFound()
    return ticket


async def ticket_page(request: web.Request) -> web.Response:
    ticket = await _ticket(request)
    return await _page(request, ticket, status_of(request))


async def _page(request: web.Request, ticket: Ticket, message: str, status: int = 200) -> web.Response:
    dash = request.app[DASHBOARD]
    now = dash.clock.now()
    saved = await dash.store.run(StateStore.ticket_context, ticket.id)
    context = Context(
        answer=saved.get("answer"), sources=tuple(saved.get("sources") or ()), summary=saved.get("summary")
    )
    previous = await dash.store.run(
        StateStore.asker_tickets,
        ticket.conversation.platform,
        ticket.asker_id,
        ticket.id,
        3,
        policy.listed_from(ticket.conversation),
    )
    previous = [t for t in previous if can_see(request, t.conversation)]  # and the viewer's to see
    # the triage card's own text: the same status line and brief staff see in the chat
    lines = card(ticket, ticket.conversation, now, context, previous=previous).text.split("\n")
    history = await dash.store.run(StateStore.history, ticket.conversation, 200)
    # what people wrote, shown as the bot copies it anywhere: credentials hidden whatever
    # `[privacy] redact` let the store keep
    events = await dash.store.run(StateStore.ticket_events, ticket.id)

    def redacted() -> tuple[list[Turn], list[dict[str, Any]]]:
        # and so is what the timeline quotes of them: the asker's reply that reopened it, a reason
        return (
            [replace(turn, text=quoted_plain(turn.text)) for turn in history],
            [event | {"detail": quoted_plain(event["detail"] or "")} for event in events],
        )

    # 200 turns with pasted logs take seconds to scan: off the event loop the bot answers on
    history, events = await asyncio.to_thread(redacted)
    is_admin = rights_in(request, ticket.conversation) == Rights.ADMIN
    team = await _team(request, acting_from(request, ticket.conversation)) if is_admin else {}
    return render(
        request,
        "ticket.html",
        status=status,
        ticket=ticket,
        brief=[_markdown_line(line) for line in lines],
        history=history,
        events=events,
        can_act=dash.channels is not None,
        active=ticket.status in ACTIVE,
        reopenable=ticket.status == TicketStatus.RESOLVED,
        is_admin=is_admin,
        staff=sorted(((name or person, person) for person, name in team.items()), key=lambda p: p[0].lower()),
        note_limit=NOTE_LIMIT,
        role_labels=ROLE_LABELS,
        event_labels=EVENT_LABELS,
        message=message,
    )


# -- actions ------------------------------------------------------------------------------


def _actor(request: web.Request, ticket: Ticket) -> tuple[Author, ConversationRef]:
    """The signed-in person as the chat knows them where they act on the ticket from, and
    that place: the ticket's workspace, or for a direct message's the workspace of theirs
    that gives them rights over it (`acting_from`), as a command typed there would."""
    where = acting_from(request, ticket.conversation)
    return signed_in(request).author_in(where.platform, where.workspace), where


def _channel(request: web.Request, ticket: Ticket) -> Channel | None:
    return (request.app[DASHBOARD].channels or {}).get(ticket.conversation.platform)


def _back(request: web.Request, ticket: Ticket, message: str) -> web.Response:
    """To the ticket's page, saying what happened (post/redirect/get: a reload repeats nothing)."""
    return redirect(request, request.app.router["ticket"].url_for(id=str(ticket.id)), message)


async def _done(
    request: web.Request, ticket: Ticket, result: TransitionResult, action: str, detail: str
) -> web.Response:
    if result.changed:
        await record(request, action, detail)
    return _back(request, ticket, result.message)


def _not_running(request: web.Request) -> web.Response:
    return refuse(request, Refusal.TICKETS_STANDALONE, status=409)


async def claim(request: web.Request) -> web.StreamResponse:
    ticket = await _ticket(request)
    channel = _channel(request, ticket)
    if channel is None:
        return _not_running(request)
    escalations = request.app[DASHBOARD].escalations
    actor, where = _actor(request, ticket)
    result = await escalations.claim(ticket.id, actor, channel, where)
    return await _done(request, ticket, result, "claim", f"ticket #{ticket.id}")


async def resolve(request: web.Request) -> web.StreamResponse:
    ticket = await _ticket(request)
    channel = _channel(request, ticket)
    if channel is None:
        return _not_running(request)
    note = (await typed(request, str((await request.post()).get("note", "")))).strip()
    if len(note) > NOTE_LIMIT:  # as `/support resolve`: it is posted in the thread and kept
        return _back(
            request, ticket, notice(request, Notice.NOTE_TOO_LONG, length=len(note), limit=NOTE_LIMIT)
        )
    escalations = request.app[DASHBOARD].escalations
    actor, where = _actor(request, ticket)
    result = await escalations.resolve(ticket.id, actor, channel, where, note=note)
    return await _done(request, ticket, result, "resolve", f"ticket #{ticket.id}")


async def assign(request: web.Request) -> web.StreamResponse:
    ticket = await _ticket(request)
    if rights_in(request, ticket.conversation) != Rights.ADMIN:  # `/support assign` is for admins
        return refuse(request, Refusal.ASSIGN_ADMIN)
    channel = _channel(request, ticket)
    if channel is None:
        return _not_running(request)
    person = parse_user_id(str((await request.post()).get("person", "")))
    if person is None:
        return _back(request, ticket, notice(request, Notice.ASSIGN_WHOM))
    # a direct message's ticket is assigned from the workspace the admin acts from (whose
    # rights let them), to that workspace's team, as a mention typed there picks
    actor, where = _actor(request, ticket)
    team = await _team(request, where)
    if person not in team:
        # in the chat a mention picks a person of the workspace it is typed in
        assign = request.app[DASHBOARD].settings.command_prefix(where.platform, admin=True) + " assign"
        # refused here, not only left out of the list: a form can be sent with any id
        refused = notice(
            request, Notice.NOT_ON_TEAM, person=person, workspace=where.workspace, command=assign
        )
        return await _page(request, ticket, refused, status=403)
    escalations = request.app[DASHBOARD].escalations
    # the thread tags them, as `/support assign` does, so they are told; the ticket keeps the
    # name the team knows them by (none for a bare id, so no id is shown as a name)
    to = Author(id=person, name=team[person])
    result = await escalations.reassign(ticket.id, actor, to, channel, where)
    return await _done(request, ticket, result, "assign", f"ticket #{ticket.id} to {person}")


async def reopen(request: web.Request) -> web.StreamResponse:
    ticket = await _ticket(request)
    channel = _channel(request, ticket)
    if channel is None:
        return _not_running(request)
    reason = (await typed(request, str((await request.post()).get("reason", "")))).strip()
    escalations = request.app[DASHBOARD].escalations
    actor, _ = _actor(request, ticket)
    # what reopens when the asker writes again: back to open, the first-response clock
    # restarted and the team tagged in the thread
    result = await escalations.reopen(ticket, actor, channel, reason or f"reopened by {actor.id}")
    return await _done(request, ticket, result, "reopen", f"ticket #{ticket.id}")


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/tickets", queue)
    app.router.add_get(f"{PREFIX}/tickets/{{id}}", ticket_page, name="ticket")
    app.router.add_post(f"{PREFIX}/tickets/{{id}}/claim", claim)
    app.router.add_post(f"{PREFIX}/tickets/{{id}}/resolve", resolve)
    app.router.add_post(f"{PREFIX}/tickets/{{id}}/assign", assign)
    app.router.add_post(f"{PREFIX}/tickets/{{id}}/reopen", reopen)
