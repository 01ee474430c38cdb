"""The dashboard's knowledge page (for the admins of every workspace, as the settings page
is): the files the index holds (title, passages, who they are for, when indexed), the
unreadable and skipped ones with why, the last sync, a Reindex button, and "why did it answer
that?": a question run through the real answer pipeline, showing the answer, its confidence,
whether the bot would abstain, which answerer wrote it, and the ranked passages with their
scores.

Inside `supportbot run` everything goes through the running core: Reindex is
`/support reindex` (`KnowledgeService.reindex`), and the question is `supportbot ask`'s call
(`AnswerPipeline.ask`, internal scope, every audience). Standalone there is no core: the
folder's index is opened for reading with the `reader` the dashboard was given
(bot/knowledge_reader.py: never synced, as the running bot or `supportbot index` writes it),
and Reindex is refused (409).
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web

from bot.answering.pipeline import AnswerPipeline
from bot.commands.handlers import and_others
from bot.dashboard.auth import Rights
from bot.dashboard.context import DASHBOARD, PREFIX, RIGHTS, refuse, render
from bot.dashboard.inputs import redirect, status_of, typed
from bot.dashboard.pages import record, signed_in
from bot.dashboard.reach import full_admin
from bot.dashboard.refusals import Refusal
from bot.retrieval.indexes import FolderKnowledgeBase, list_indexes
from bot.retrieval.service import KnowledgeService
from bot.store.catalog import IndexedFile
from bot.types import DocVisibility

log = logging.getLogger(__name__)

K = 10  # passages listed, as `supportbot ask` lists by default
QUESTION_LIMIT = 1000  # characters: a question, not a document
MESSAGE_LIMIT = 2000  # characters of a reindex report carried back in the redirect


@dataclass
class _Standalone:
    """The index opened read-only for a dashboard without a core, once, on first use."""

    answers: AnswerPipeline | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


STANDALONE = web.AppKey("standalone knowledge", _Standalone)


@dataclass(frozen=True, kw_only=True)
class Listing:
    files: tuple[IndexedFile, ...]
    skipped: tuple[tuple[str, str], ...]
    last_sync: datetime | None


def linkable(url: str | None) -> bool:
    """A document's `url:` (front matter anyone with the folder writes) made a link: http(s),
    or a path of this site; never `javascript:` or `data:`. Strict, as browsers are lenient:
    nothing that could hide a scheme (a tab, a space, a backslash) passes."""
    if not url or any(ch.isspace() or ch == "\\" or unicodedata.category(ch)[0] == "C" for ch in url):
        return False
    lowered = url.lower()
    if lowered.startswith(("http://", "https://")):
        return True
    # relative: no scheme before the path, and not "//host" (another site, any scheme's)
    return not url.startswith("//") and ":" not in url.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]


def _admin(request: web.Request) -> web.Response | None:
    """The refusal for all but the admins of every workspace, as the settings page refuses:
    every document is listed and searched here, whatever audience it is for, and an admin of
    one workspace is not in every audience."""
    if request[RIGHTS] == Rights.ADMIN and full_admin(request, signed_in(request).platform):
        return None
    return refuse(request, Refusal.KNOWLEDGE_ADMIN)


async def _answers(request: web.Request) -> tuple[AnswerPipeline | None, str]:
    """The running core's pipeline, or the standalone one (opened once); or why there is none."""
    dash = request.app[DASHBOARD]
    if dash.host is not None:
        return dash.host.answers, ""
    standalone = request.app[STANDALONE]
    async with standalone.lock:
        # a failure is not kept: once `supportbot index` has run, the next view opens it
        if standalone.answers is None:
            if dash.reader is None:
                return None, "this dashboard was started without a way to read the index"
            try:
                standalone.answers = await asyncio.to_thread(dash.reader)
            except LookupError as exc:
                return None, str(exc)
            except Exception as exc:  # a boundary: the page says why instead of failing
                log.exception("could not open the knowledge index for the dashboard")
                return None, f"{type(exc).__name__}: {exc}"
    return standalone.answers, ""


async def _close(app: web.Application) -> None:
    answers = app[STANDALONE].answers
    if answers is not None:
        await answers.aclose()
        await answers.knowledge.aclose()
        answers.knowledge.close()
        await asyncio.to_thread(answers.knowledge.base.close)


async def _listing(knowledge: KnowledgeService) -> Listing:
    def read() -> Listing:
        base = knowledge.base
        last_sync = None
        if isinstance(base, FolderKnowledgeBase):  # its index.json records each sync (index --list)
            root = base.lease.directory.parent
            last_sync = next((i.last_sync for i in list_indexes(root, base.folder) if i.current), None)
        return Listing(
            files=tuple(base.catalog.indexed_files()), skipped=tuple(base.skipped), last_sync=last_sync
        )

    return await knowledge.run(read)


async def knowledge_page(request: web.Request) -> web.Response:
    if (refused := _admin(request)) is not None:
        return refused
    dash = request.app[DASHBOARD]
    answers, problem = await _answers(request)
    listing = None if answers is None else await _listing(answers.knowledge)
    return render(
        request,
        "knowledge.html",
        listing=listing,
        problem=problem,
        live=dash.host is not None,
        folder=str(dash.settings.knowledge_dir),
        linkable=linkable,
        message=status_of(request),
    )


async def reindex(request: web.Request) -> web.Response:
    """`/support reindex`: only changed files are read again; audited with its first line."""
    if (refused := _admin(request)) is not None:
        return refused
    dash = request.app[DASHBOARD]
    if dash.host is None:
        return refuse(request, Refusal.REINDEX_STANDALONE, status=409)
    report = await dash.host.shared_knowledge.reindex()
    described = and_others(dash.host, report.describe())
    await record(request, "knowledge reindex", described.splitlines()[0])
    return redirect(request, request.app.router["knowledge"].url_for(), described[:MESSAGE_LIMIT])


async def why(request: web.Request) -> web.Response:
    """What the bot would answer to a question, and why: `supportbot ask`'s own call."""
    if (refused := _admin(request)) is not None:
        return refused
    dash = request.app[DASHBOARD]
    # redacted as `/support ask` is: the question may go to the model
    question = (await typed(request, request.query.get("q", "").strip()[:QUESTION_LIMIT])).strip()
    answers, problem = await _answers(request)
    found = None
    if question and answers is not None:
        # the dashboard is the team's, as the terminal is: internal scope, every audience
        answer, result = await answers.ask(question, DocVisibility.INTERNAL, k=K, audiences=None)
        found = {
            "answer": answer,
            "passages": result.passages[:K],
            "abstained": answers.is_abstention(answer),
            "answerer": answers.answerer_kind(answer),
        }
    return render(
        request,
        "why.html",
        question=question,
        found=found,
        problem=problem,
        threshold=dash.settings.answer.confidence_threshold,
        linkable=linkable,
    )


def add_routes(app: web.Application) -> None:
    app[STANDALONE] = _Standalone()
    app.on_cleanup.append(_close)
    app.router.add_get(f"{PREFIX}/knowledge", knowledge_page, name="knowledge")
    app.router.add_get(f"{PREFIX}/knowledge/why", why)
    app.router.add_post(f"{PREFIX}/knowledge/reindex", reindex)
