"""The dashboard's knowledge drafts (admins only): the list, and one draft with its question
beside its answer, a Markdown editor, a preview rendered here, save, approve and reject.

Saving goes through the store calls `/support learn title` and the learning loop use;
approving is `/support learn approve` itself (`approve_draft` in bot/commands/handlers.py: the
file written into the knowledge folder's learned/ and indexed at once), through the running
core, so it works inside `supportbot run`. The preview is the file's body as it will be
written (secrets redacted) rendered by markdown-it with raw HTML off: what a draft holds was
typed in a chat and is shown as text, never as markup.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date

from aiohttp import web
from markdown_it import MarkdownIt
from markupsafe import Markup

from bot.answering.secrets import redact_secrets
from bot.commands.handlers import TITLE_LIMIT, approve_draft
from bot.dashboard.auth import Rights
from bot.dashboard.context import DASHBOARD, PREFIX, RIGHTS, TEMPLATES, refuse, render
from bot.dashboard.inputs import path_id, redirect, status_of, typed
from bot.dashboard.notices import Notice, label, notice
from bot.dashboard.pages import record, signed_in
from bot.dashboard.reach import reach_of, rights_in
from bot.dashboard.refusals import Refusal
from bot.escalation.learning import render_entry
from bot.escalation.values import DraftStatus
from bot.privacy.redaction import quoted_plain
from bot.store import StateStore
from bot.text import single_line
from bot.types import ConversationRef, Draft

# what the pages say for each status: English, the key of its Korean (i18n.py)
STATUS_LABELS = {
    "pending": "waiting for review",
    "approved": "approved",
    "rejected": "rejected",
    "all": "all",
}
ANSWER_LIMIT = 20_000  # characters: a page of documentation, not a dump
LISTED = 200
# html off: a draft's "<script>" is shown as text; links keep markdown-it's own URL check
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


_WHERE = web.RequestKey("draft_ticket_conversation", ConversationRef)


def _admin(request: web.Request) -> web.Response | None:
    """The refusal a non-admin gets: drafts are reviewed by admins, as `/support learn` is."""
    if request[RIGHTS] == Rights.ADMIN:
        return None
    return refuse(request, Refusal.DRAFTS_ADMIN)


def preview(draft: Draft, title: str, answer: str, today: date) -> tuple[str, Markup]:
    """The front matter and the rendered body of the file approving would write today,
    redacted as `write_entry` redacts it."""
    shown = replace(
        draft,
        title=redact_secrets(title),
        question=redact_secrets(draft.question),
        answer=redact_secrets(answer),
    )
    # the front matter is "---", YAML lines, "---": no YAML line is a bare "---"
    front, body = render_entry(shown, today).removeprefix("---\n").split("\n---\n", 1)
    return front.strip(), Markup(_MARKDOWN.render(body))  # markdown-it escaped every tag in it


async def drafts_list(request: web.Request) -> web.Response:
    if (refused := _admin(request)) is not None:
        return refused
    dash = request.app[DASHBOARD]
    wanted = request.query.get("status", DraftStatus.PENDING)
    status = wanted if wanted in {s.value for s in DraftStatus} else None
    # an admin's: approving a draft is for the admins of the workspace its ticket is in
    found = await dash.store.run(StateStore.drafts_in, reach_of(request, Rights.ADMIN), status, LISTED)
    return render(
        request,
        "drafts.html",
        # a title may hold what `[privacy] redact` let be stored; the page never shows a credential
        drafts=[replace(d, title=quoted_plain(d.title)) for d in found[:LISTED]],
        statuses=[s.value for s in DraftStatus],
        chosen=status or "all",
        labels=STATUS_LABELS,
    )


async def _draft(request: web.Request) -> Draft:
    """The draft in the path, if its ticket is in a workspace the viewer is an admin of (as
    `/support learn` there would let them review it)."""
    dash = request.app[DASHBOARD]
    draft = await dash.store.run(StateStore.draft, path_id(request))
    ticket = None if draft is None else await dash.store.run(StateStore.ticket, draft.ticket_id)
    if draft is None or ticket is None or rights_in(request, ticket.conversation) != Rights.ADMIN:
        raise web.HTTPNotFound()
    request[_WHERE] = ticket.conversation
    return draft


def _version(draft: Draft) -> str:
    """What the editor's page was made from (its title and answer, hashed): a save sent from
    a page made before someone else's save would silently undo theirs."""
    return hashlib.sha256(f"{draft.title}\x00{draft.answer}".encode()).hexdigest()[:16]


def _page(
    request: web.Request,
    draft: Draft,
    *,
    title: str,
    answer: str,
    message: str = "",
    status: int = 200,
    theirs: str = "",
) -> web.Response:
    dash = request.app[DASHBOARD]
    front, body = preview(draft, title, answer, dash.clock.now().date())
    return render(
        request,
        "draft.html",
        status=status,
        draft=draft,
        title=title,  # the editor's own field: what is saved, as it is
        heading=quoted_plain(title),
        answer=answer,
        front=front,
        preview=body,
        pending=draft.status == DraftStatus.PENDING,
        can_approve=dash.host is not None,
        title_limit=TITLE_LIMIT,
        answer_limit=ANSWER_LIMIT,
        message=message,
        labels=STATUS_LABELS,
        base=_version(draft),
        theirs=theirs,
    )


async def draft_page(request: web.Request) -> web.Response:
    if (refused := _admin(request)) is not None:
        return refused
    draft = await _draft(request)
    return _page(request, draft, title=draft.title, answer=draft.answer, message=status_of(request))


async def _overtaken(request: web.Request, draft: Draft, title: str, answer: str) -> web.Response | None:
    """The editor's page again, keeping what was typed, when the draft was saved by someone
    else after this editor's page was made and this save would replace their text; None to
    go on. A page sent without its version (made before pages carried one) goes on."""
    base = str((await request.post()).get("base", ""))
    if not base or base == _version(draft) or (title, answer) == (draft.title, draft.answer):
        return None
    said = notice(request, Notice.DRAFT_EDITED_MEANWHILE, draft=draft.id)
    return _page(request, draft, title=title, answer=answer, message=said, status=409, theirs=draft.answer)


async def _edited(request: web.Request) -> tuple[str, str, str]:
    """The title and answer the editor sent (redacted as the chat's `learn title` and an edited
    draft are), and what is wrong with them ("" when nothing)."""
    form = await request.post()
    title = single_line(await typed(request, str(form.get("title", ""))), TITLE_LIMIT)
    answer = (await typed(request, str(form.get("answer", "")))).strip()
    if not title:
        return title, answer, notice(request, Notice.DRAFT_NO_TITLE)
    if not answer:
        return title, answer, notice(request, Notice.DRAFT_NO_ANSWER)
    if len(answer) > ANSWER_LIMIT:
        return title, answer, notice(request, Notice.ANSWER_TOO_LONG, length=len(answer), limit=ANSWER_LIMIT)
    return title, answer, ""


def _back(request: web.Request, draft: Draft, said: Notice, **values: object) -> web.Response:
    """To the draft's page, saying what happened in the viewer's language."""
    message = notice(request, said, draft=draft.id, **values)
    return redirect(request, request.app.router["draft"].url_for(id=str(draft.id)), message)


def _already(request: web.Request, draft: Draft) -> web.Response:
    return _back(request, draft, Notice.DRAFT_ALREADY, status=label(request, STATUS_LABELS[draft.status]))


async def _save(request: web.Request, draft: Draft, title: str, answer: str) -> bool:
    """Store the editor's title and answer on a pending draft; audited when they changed."""
    if (title, answer) == (draft.title, draft.answer):
        return True
    dash = request.app[DASHBOARD]
    saved = await dash.store.run(StateStore.edit_draft, draft.id, title, answer, dash.clock.now())
    if saved:
        await record(request, "draft edit", f"draft #{draft.id}")
    return saved


async def preview_draft(request: web.Request) -> web.Response:
    """The editor's text rendered, saving nothing: the editor's Preview button."""
    if (refused := _admin(request)) is not None:
        return refused
    draft = await _draft(request)
    title, answer, problem = await _edited(request)
    return _page(request, draft, title=title or draft.title, answer=answer, message=problem)


async def save_draft(request: web.Request) -> web.Response:
    if (refused := _admin(request)) is not None:
        return refused
    draft = await _draft(request)
    title, answer, problem = await _edited(request)
    # someone else's save first: a page answered for a blank title would carry their version
    # without showing their text, and the corrected save would then replace it unseen
    overtaken = await _overtaken(request, draft, title, answer)
    if draft.status == DraftStatus.PENDING and overtaken is not None:
        return overtaken
    if problem:
        return _page(request, draft, title=title, answer=answer, message=problem, status=400)
    if not await _save(request, draft, title, answer):
        return _already(request, draft)
    return _back(request, draft, Notice.DRAFT_SAVED)


async def approve(request: web.Request) -> web.Response:
    """Save what the editor holds, then approve exactly as `/support learn approve` does."""
    if (refused := _admin(request)) is not None:
        return refused
    dash = request.app[DASHBOARD]
    draft = await _draft(request)
    if dash.host is None:
        return refuse(request, Refusal.APPROVE_STANDALONE, status=409)
    title, answer, problem = await _edited(request)
    # someone else's save first: a page answered for a blank title would carry their version
    # without showing their text, and the corrected save would then replace it unseen
    overtaken = await _overtaken(request, draft, title, answer)
    if draft.status == DraftStatus.PENDING and overtaken is not None:
        return overtaken
    if problem:
        return _page(request, draft, title=title, answer=answer, message=problem, status=400)
    if draft.status != DraftStatus.PENDING or not await _save(request, draft, title, answer):
        return _already(request, draft)
    where = request[_WHERE]
    # exactly what this editor sent, approved only while the draft still holds it: another
    # admin's edit saved in between is theirs to approve, never published under this approval
    path = await approve_draft(
        dash.host,
        replace(draft, title=title, answer=answer),
        signed_in(request).author_in(where.platform, where.workspace),
    )
    if path is None:
        now = await dash.store.run(StateStore.draft, draft.id)
        if now is not None and now.status == DraftStatus.PENDING:
            return _back(request, draft, Notice.DRAFT_CHANGED_MEANWHILE)
        return _back(request, draft, Notice.DRAFT_DECIDED)
    await record(request, "draft approve", f"draft #{draft.id} to {path}")
    approved = Notice.DRAFT_APPROVED_CLUSTER if dash.store.store.shared else Notice.DRAFT_APPROVED
    return _back(request, draft, approved, path=path)


async def reject_draft(request: web.Request) -> web.Response:
    if (refused := _admin(request)) is not None:
        return refused
    dash = request.app[DASHBOARD]
    draft = await _draft(request)
    changed = await dash.store.run(
        StateStore.decide_draft,
        draft.id,
        status=DraftStatus.REJECTED.value,
        by=signed_in(request).user_id,
        at=dash.clock.now(),
    )
    if not changed:
        return _back(request, draft, Notice.DRAFT_DECIDED)
    await record(request, "draft reject", f"draft #{draft.id}")
    return _back(request, draft, Notice.DRAFT_REJECTED)


async def script(_: web.Request) -> web.FileResponse:
    return web.FileResponse(TEMPLATES / "draft.js")


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/static/draft.js", script)
    app.router.add_get(f"{PREFIX}/drafts", drafts_list)
    app.router.add_get(f"{PREFIX}/drafts/{{id}}", draft_page, name="draft")
    app.router.add_post(f"{PREFIX}/drafts/{{id}}/preview", preview_draft)
    app.router.add_post(f"{PREFIX}/drafts/{{id}}/save", save_draft)
    app.router.add_post(f"{PREFIX}/drafts/{{id}}/approve", approve)
    app.router.add_post(f"{PREFIX}/drafts/{{id}}/reject", reject_draft)
