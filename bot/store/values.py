"""How Python values are written as the text both backends store (times, LIKE patterns).

Kept apart from bot/store/store.py, which imports sqlite-utils, so the catalog can use them
on the `supportbot ask` path without it."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    """Times are stored as UTC ISO text with milliseconds, so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# `column LIKE_PREFIX` with like_prefix(...) as its parameter. The pattern is a cast, not a bare
# parameter: SQLite prepares a statement again on every run when a LIKE's pattern is a bare
# parameter (it may plan an index around the value; no index here can use one), 40-70 us per
# call on the event path (askers_since, resolved_tickets). The cast changes nothing on either engine.
LIKE_PREFIX = "like cast(? as text) escape '\\'"


def like_prefix(prefix: str) -> str:
    """A LIKE pattern (with `escape '\\'`) matching text that starts with `prefix` literally."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
