"""What a dashboard request brings in from outside, made fit to use: the id in its path and
the text typed into its forms.

A path is anyone's to write (it is in any link a staff member may be sent), so an id is a
store's integer or not found; and typed text is redacted as the chat redacts what is typed
there.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from bot.core import LONG_TEXT
from bot.dashboard.context import DASHBOARD
from bot.privacy.redaction import Redactor

ID_MAX = 2**63 - 1  # the stores' integer keys (SQLite's integer, PostgreSQL's bigint)
_ID = re.compile(r"[0-9]{1,19}")  # ASCII digits only: int() would also take "+1", " 1" and "١"


def path_id(request: web.Request) -> int:
    """The `{id}` of the path, or not found (404): a number no store could hold is no row, and
    is never sent to one (SQLite cannot bind an integer of 2**63 or more)."""
    text = request.match_info["id"]
    if not _ID.fullmatch(text) or not 1 <= int(text) <= ID_MAX:
        raise web.HTTPNotFound()
    return int(text)


async def typed(request: web.Request, text: str) -> str:
    """Text typed into a dashboard form (a resolution note, a reopen reason, a draft's title
    and answer), redacted by `[privacy] redact` as the core redacts the same text typed in the
    chat (`Redactor.command`, `.action`) before anything keeps, posts or sends it."""
    redactor = Redactor.from_settings(request.app[DASHBOARD].settings.privacy)
    if len(text) > LONG_TEXT:  # a pasted log: scanned off the event loop, as the core does
        return await asyncio.to_thread(redactor.redact, text)
    return redactor.redact(text)
