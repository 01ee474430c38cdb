"""What a dashboard request brings in from outside, made fit to use: the id in its path.

A path is anyone's to write (it is in any link a staff member may be sent), so an id is a
store's integer or not found.
"""

from __future__ import annotations

import re

from aiohttp import web

ID_MAX = 2**63 - 1  # the stores' integer keys (SQLite's integer, PostgreSQL's bigint)
_ID = re.compile(r"[0-9]{1,19}")  # ASCII digits only: int() would also take "+1", " 1" and "١"


def path_id(request: web.Request) -> int:
    """The `{id}` of the path, or not found (404): a number no store could hold is no row, and
    is never sent to one (SQLite cannot bind an integer of 2**63 or more)."""
    text = request.match_info["id"]
    if not _ID.fullmatch(text) or not 1 <= int(text) <= ID_MAX:
        raise web.HTTPNotFound()
    return int(text)
