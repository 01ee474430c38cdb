"""The SQL of the bursts-and-incidents reads that are sent together with others.

It owns the statements (SQL and parameters, built without a connection) of the reads each
answer's burst watch makes (bot/insights/burst_window.py: the askers, the bursts, the recent
questions) and of the open incidents each answer is checked against (bot/answering/trips.py),
so a caller can send several in one trip. `IncidentRepository` (bot/store/incidents.py) runs
them one at a time, and reads their rows into records there (`recent_of`, `incidents_of`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store.store import in_workspace, iso, like_prefix
from bot.store.values import LIKE_PREFIX


def askers_statement(
    platform: str, since: datetime, enough: int, workspace: str | None = None
) -> tuple[str, list[Any]]:
    """`IncidentRepository.askers_since`' count (one row, one column)."""
    return (
        "select count(*) from (select distinct asker_id from answers where created_at >= ? "
        f"and conversation {LIKE_PREFIX} and asker_id is not null and asker_id != '' limit ?) as askers",
        [iso(since), _questions_of(platform, workspace), enough],
    )


def burst_ids_statement(
    platform: str, since: datetime, workspace: str | None = None
) -> tuple[str, list[Any]]:
    """The ids of the bursts alerted since `since`, newest first (`burst_signatures` goes on)."""
    where, params = in_workspace("platform = ? and alerted_at >= ?", [platform, iso(since)], workspace)
    return f"select id from bursts where {where} order by id desc", params


def recent_statement(
    platform: str, since: datetime, limit: int, after_id: int = 0, workspace: str | None = None
) -> tuple[str, list[Any]]:
    """`IncidentRepository.recent_questions`' read; `recent_of` (bot/store/incidents.py) reads its rows.

    Two reads, each bounded by an index. With `after_id` (a window that holds a current row
    read up to that id: bot/insights/burst_window.py `Look`), the rows after it, newest id
    first: the primary key bounds the read to what was recorded since, a few rows per
    answer, where walking the created_at index back over the whole window to find them was a
    pass per answer that grew with the traffic (bench/cluster_throughput.py: a third of the
    PostgreSQL server's time at 3,000 questions). Without (a first look, or a window gone
    quiet), the window's newest rows by time, which the created_at index bounds: walking the
    primary key down to an old id would read every place's rows since. Ids and times
    disagree only for a row committed late or stamped by a worker whose clock differs, which
    the window keeps as a stray."""
    columns = "id, conversation, coalesce(asker_id, ''), question, neighbours, created_at, neighbour_scores"
    where = f"created_at >= ? and conversation {LIKE_PREFIX}"
    params: list[Any] = [iso(since), _questions_of(platform, workspace)]
    if after_id:  # the rows after it, by the primary key
        bound, order, params = "id > ? and ", "id desc", [after_id, *params]
    else:  # the window's newest, by the created_at index
        bound, order = "", "created_at desc"
    return f"select {columns} from answers where {bound}{where} order by {order} limit ?", [*params, limit]


def incidents_statement(
    platform: str, status: str | None = None, limit: int = 20, workspace: str | None = None
) -> tuple[str, list[Any]]:
    """`IncidentRepository.incidents`' read, to send with others (bot/answering/trips.py);
    `incidents_of` (bot/store/incidents.py) reads its rows (as dicts)."""
    where = "platform = ?" + (" and status = ?" if status else "")
    params: list[Any] = [platform, status] if status else [platform]
    where, params = in_workspace(where, params, workspace)
    # on every answer (an open incident's notice): plain SQL, not rows_where's schema reads
    return f"select * from incidents where {where} order by id desc limit ?", [*params, limit]


def _questions_of(platform: str, workspace: str | None) -> str:
    """The LIKE pattern of the conversation keys of `platform`, or of one workspace on it."""
    return like_prefix(f"{platform}:{workspace}:" if workspace is not None else f"{platform}:")
