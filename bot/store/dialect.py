"""SQLite's spelling of a statement as PostgreSQL's: the little translation the backend needs.

The repositories are written once, in SQL both engines read wherever that is simple (sums of
CASE rather than of comparisons, `on conflict do nothing`, `cast(? as text) is null`). What
is left has no portable spelling and is rewritten here, outside quoted literals only:

* `?` and `:name` placeholders become the driver's `%s` and `%(name)s`, and `%` is doubled;
* `insert or ignore into` becomes `insert into ... on conflict do nothing`;
* `instr(text, part)` becomes `strpos(text, part)`;
* `not indexed` (a hint to SQLite's planner) is dropped;
* a bare `begin` (a read snapshot) becomes `begin isolation level repeatable read`.

Parameters are passed as SQLite stores them: booleans as integers, enums as their values,
and text as it is, but for a NUL, which SQLite keeps and PostgreSQL's text refuses: U+FFFD
stands in its place, as it does where text arrives (bot/text.py). Arrival cannot see every
way in (what the model answers, what a dashboard request carries), and a write refused there
would lose what it was for (an answer given, a ticket's reason).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import Enum
from functools import lru_cache
from typing import Any

from bot.text import REPLACEMENT

# a quoted literal or identifier (kept as is), or one piece of SQL between them
_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_INSERT_OR_IGNORE = re.compile(r"^\s*insert\s+or\s+ignore\s+into\b", re.IGNORECASE)
_REWRITES = (
    (re.compile(r"\binstr\s*\(", re.IGNORECASE), "strpos("),  # same arguments: (text, part)
    (re.compile(r"\s+not\s+indexed\b", re.IGNORECASE), ""),  # a hint to SQLite's planner only
)


# the statements are the repositories' own (values are always parameters), a few hundred
# strings: each is translated once, not on every call (4-20 us of regular expressions each,
# a dozen and more per answered question)
@lru_cache(maxsize=4096)
def to_postgres(sql: str) -> str:
    """SQLite's spelling of a statement as PostgreSQL's, for the driver with parameters: `?` and
    `:name` become `%s` and `%(name)s` and every literal `%` is doubled. Quoted literals are
    never rewritten."""
    if sql.strip().lower() == "begin":
        # a read snapshot (metrics_snapshot): every statement until commit sees the same state,
        # which is what a deferred transaction gives on SQLite
        return "begin isolation level repeatable read"
    ignore = _INSERT_OR_IGNORE.match(sql) is not None
    if ignore:
        sql = _INSERT_OR_IGNORE.sub("insert into", sql, count=1)
    out: list[str] = []
    position = 0
    for literal in _LITERAL.finditer(sql):
        out.append(_code(sql[position : literal.start()]))
        out.append(literal.group().replace("%", "%%"))
        position = literal.end()
    out.append(_code(sql[position:]))
    translated = "".join(out)
    return translated + " on conflict do nothing" if ignore else translated


def _code(piece: str) -> str:
    piece = piece.replace("%", "%%").replace("?", "%s")
    piece = _NAMED.sub(r"%(\1)s", piece)
    for pattern, replacement in _REWRITES:
        piece = pattern.sub(replacement, piece)
    return piece


def pg_value(value: Any) -> Any:
    """Parameters as SQLite stores them: flags are integers, enums their values; text with
    U+FFFD for each NUL."""
    if type(value) is str:  # most parameters: a look for a NUL (tens of ns), no copy
        return value.replace("\x00", REPLACEMENT) if "\x00" in value else value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):  # of a subclass of str's
        return pg_value(str(value))
    return value


def pg_params(params: Sequence[Any] | Mapping[str, Any] | None) -> Sequence[Any] | Mapping[str, Any]:
    if params is None:
        return ()
    if isinstance(params, Mapping):
        return {k: pg_value(v) for k, v in params.items()}
    return [pg_value(v) for v in params]
