"""A test-only tracer: the round trips and statements one psycopg connection makes, read from
libpq's own protocol trace (`PQtrace`), so nothing of ours or of psycopg is wrapped.

A round trip is one `ReadyForQuery` from the server: it answers each Sync (or simple query),
and the client waits for it. A statement is one `Execute` (extended protocol) or `Query`
(simple protocol); prepared statements are named by their `Parse`, so each execution is
counted under its SQL text however psycopg sent it.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from psycopg.pq import Trace

# one traced message: direction, length, type, then its fields
_LINE = re.compile(r"^(?:\S+\s+)?([FB])\t\d+\t(\w+)\t?(.*)$")
# the fields of the three messages that name statements (SQL may itself hold double quotes)
_PARSE = re.compile(r'^\s*"([^"]*)" "(.*)" \d+')
_BIND = re.compile(r'^\s*"[^"]*" "([^"]*)"')
_QUERY = re.compile(r'^\s*"(.*)"\s*$')


@dataclass
class RoundTrips:
    """`with RoundTrips(connection) as trace:` ... then `trace.trips`, `trace.statements`."""

    connection: Any  # a psycopg.Connection
    trips: int = 0
    statements: Counter[str] = field(default_factory=Counter)  # SQL text (first 80 chars) -> count
    _file: Any = None

    def __enter__(self) -> RoundTrips:
        self._file = tempfile.NamedTemporaryFile("w+", suffix=".trace", delete=False)
        pgconn = self.connection.pgconn
        pgconn.trace(self._file.fileno())
        pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.connection.pgconn.untrace()  # flushes libpq's buffer
        path = Path(self._file.name)
        self._file.close()
        # statements psycopg prepared before the trace began are named, not spelled, in it
        prepared = self.connection.execute("select name, statement from pg_prepared_statements").fetchall()
        self._read(path.read_text(encoding="utf-8", errors="replace"), {n: _short(s) for n, s in prepared})
        path.unlink()

    @property
    def total(self) -> int:
        return sum(self.statements.values())

    def _read(self, text: str, prepared: dict[str, str]) -> None:
        parsed = dict(prepared)
        bound = ""
        for line in text.splitlines():
            found = _LINE.match(line)
            if found is None:
                continue
            side, kind, rest = found.groups()
            if side == "B" and kind == "ReadyForQuery":
                self.trips += 1
            elif side == "F" and kind == "Parse" and (parse := _PARSE.match(rest)):
                parsed[parse.group(1)] = _short(parse.group(2))
            elif side == "F" and kind == "Bind" and (bind := _BIND.match(rest)):
                bound = parsed.get(bind.group(1), "?")
            elif side == "F" and kind == "Execute":
                self.statements[bound] += 1
            elif side == "F" and kind == "Query" and (query := _QUERY.match(rest)):
                self.statements[_short(query.group(1))] += 1


def _short(sql: str) -> str:
    return " ".join(sql.split())[:80]
