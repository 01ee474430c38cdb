"""What a dashboard request brings in from outside, made fit to use: the id in its path, the
text typed into its forms, and the status line a redirect carries to the page it leads to.

A path or a query string is anyone's to write (it is in any link a staff member may be
sent), so an id is a store's integer or not found, and a status line is shown only when the
dashboard wrote it, for this session; typed text is redacted as the chat redacts what is
typed there.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re

from aiohttp import web
from yarl import URL

from bot.core import LONG_TEXT
from bot.dashboard.context import DASHBOARD, SESSION
from bot.privacy.redaction import Redactor
from bot.text import scrub

# a form sends each line break as CRLF (the HTML form encoding), where a textarea's maxlength,
# what one typed and what the chat keeps count one "\n"; a lone CR is a line break too
_LINE_BREAK = re.compile(r"\r\n?")
ID_MAX = 2**63 - 1  # the stores' integer keys (SQLite's integer, PostgreSQL's bigint)
_ID = re.compile(r"[0-9]{1,19}")  # ASCII digits only: int() would also take "+1", " 1" and "١"
STATUS, SIGNED = "message", "sig"  # the query parameters a status line travels in


def path_id(request: web.Request) -> int:
    """The `{id}` of the path, or not found (404): a number no store could hold is no row, and
    is never sent to one (SQLite cannot bind an integer of 2**63 or more)."""
    found = id_of(request.match_info["id"])
    if found is None:
        raise web.HTTPNotFound()
    return found


def id_of(text: str) -> int | None:
    """`text` as a store's integer key, None for anything else."""
    if not _ID.fullmatch(text) or not 1 <= int(text) <= ID_MAX:
        return None
    return int(text)


async def typed(request: web.Request, text: str) -> str:
    """Text typed into a dashboard form (a resolution note, a reopen reason, a draft's title
    and answer), redacted by `[privacy] redact` as the core redacts the same text typed in the
    chat (`Redactor.command`, `.action`) before anything keeps, posts or sends it; a NUL or lone
    surrogate replaced first, as for what arrives from the chat (PostgreSQL refuses NUL).

    Its line breaks are "\n", as the browser counted them against the field's maxlength: a
    length checked after this is the one the person saw, and nothing kept or posted holds
    the CR the form encoding added."""
    text = _LINE_BREAK.sub("\n", scrub(text))
    redactor = Redactor.from_settings(request.app[DASHBOARD].settings.privacy)
    if len(text) > LONG_TEXT:  # a pasted log: scanned off the event loop, as the core does
        return await asyncio.to_thread(redactor.redact, text)
    return redactor.redact(text)


def redirect(request: web.Request, url: URL, status: str) -> web.Response:
    """302 to `url`, to show `status` there (post/redirect/get: a reload repeats nothing).
    The line is signed for this session: the page shows it as its own, and no link can."""
    query = {STATUS: status, SIGNED: _signature(request, status)}
    return web.Response(status=302, headers={"Location": str(url.with_query(query))})


def status_of(request: web.Request) -> str:
    """The status line `redirect` sent this request with; "" for one a link made up."""
    status = request.query.get(STATUS, "")
    given = request.query.get(SIGNED, "")
    # as bytes: compare_digest raises on a str that is not ASCII, which a query may hold
    if status and hmac.compare_digest(_signature(request, status).encode(), given.encode("utf-8", "replace")):
        return status
    return ""


def _signature(request: web.Request, status: str) -> str:
    text = f"{request[SESSION].sid}\x00{status}".encode("utf-8", "replace")
    return hmac.new(request.app[DASHBOARD].secret.encode(), text, hashlib.sha256).hexdigest()
