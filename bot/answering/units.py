"""Cutting a passage's Markdown into quotable units, and what each unit depends on.

A unit is a sentence, a list item, a code block (whole) or a table row, in reading order;
units of one paragraph, list or table share a block number. A unit's group is the unit with
what it needs to make sense: a sentence that introduces a code block or a list ("Use
`exclude_none`:") goes with that block, and a code block with the sentence that introduces
it. A table's header row, the one its `---` rule follows (the format readers write one under
a header they know of), says what the other rows' cells are. It is not in a row's group, which
is what gets scored: its words would be every row's words, and the whole table would match
alike; the picker quotes a row with its header (`table_header`). bot/answering/picker.py
scores the groups and quotes the best.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from bot.retrieval.lines import FENCE, LIST_ITEM, TABLE_ROW, TABLE_RULE


class UnitKind(StrEnum):
    SENTENCE = "sentence"
    ITEM = "item"  # a list item
    CODE = "code"  # a fenced code block, whole
    ROW = "row"  # a table row


@dataclass(frozen=True, slots=True)
class Unit:
    """One quotable piece of a passage: a sentence, a list item, a code block or a table row."""

    text: str
    kind: UnitKind
    block: int  # units of one paragraph, list or table share a block number
    header: bool = False  # a table's header row: what the cells of the rows under it are


_SENTENCE = re.compile(r"(?<=[.!?。])\s+(?=[\"'(\[A-Z0-9가-힣`*])")
_QUOTED = re.compile(r"^\s*(?:>\s?)+")


def split_units(text: str) -> list[Unit]:
    """Markdown into units, in order. Code blocks and table rows are never split."""
    units: list[Unit] = []
    block = 0
    prose: list[str] = []
    lines = text.splitlines()

    def flush() -> None:
        # a quoted paragraph's lines each start with `>`: joined into sentences, the marks
        # would land mid-sentence ("...into multiple > places..."), so its text is quoted bare
        joined = " ".join(_QUOTED.sub("", s).strip() for s in prose if s.strip())
        for sentence in _SENTENCE.split(joined):
            if sentence.strip():
                units.append(Unit(sentence.strip(), UnitKind.SENTENCE, block))
        prose.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence:
            flush()
            block += 1
            marker = fence.group(1)
            code = [line.strip()]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                code.append(lines[i])
                i += 1
            code.append(marker)  # an unclosed fence is closed, so the quote stays well formed
            units.append(Unit("\n".join(code), UnitKind.CODE, block))
            block += 1
            i += 1
            continue
        if not line.strip():
            flush()
            block += 1
        elif TABLE_ROW.match(line):
            flush()
            if not TABLE_RULE.match(line):
                units.append(Unit(line.strip(), UnitKind.ROW, block))
            elif units and units[-1].kind is UnitKind.ROW and units[-1].block == block:
                row = len(units) - 1
                if _table_start(units, row) == row:  # the rule under a table's first row
                    units[row] = replace(units[row], header=True)
        elif LIST_ITEM.match(line):
            flush()
            units.append(Unit(line.rstrip(), UnitKind.ITEM, block))
        elif units and units[-1].kind is UnitKind.ITEM and line.startswith(("  ", "\t")) and not prose:
            last = units.pop()
            units.append(Unit(f"{last.text} {line.strip()}", UnitKind.ITEM, last.block))
        else:
            prose.append(line)
        i += 1
    flush()
    return units


def _introduces(unit: Unit, following: Unit) -> bool:
    """`unit` is the sentence (or item) that leads into `following`: a list or code after a colon,
    or code right after the sentence that talks about it."""
    if following.kind is UnitKind.CODE:
        return unit.kind is not UnitKind.CODE
    if following.kind in (UnitKind.ITEM, UnitKind.ROW):
        return unit.kind is UnitKind.SENTENCE and unit.text.rstrip().endswith(":")
    return False


def group(units: Sequence[Unit], i: int) -> list[int]:
    """Unit `i` with what it needs to make sense: what it introduces, or what introduces it."""
    members = [i]
    j = i + 1
    if j < len(units) and _introduces(units[i], units[j]):
        kind = units[j].kind
        while j < len(units) and units[j].kind is kind and (kind is not UnitKind.CODE or j == i + 1):
            members.append(j)
            j += 1
    if units[i].kind in (UnitKind.CODE, UnitKind.ITEM, UnitKind.ROW):
        k = i - 1
        while k >= 0 and units[k].kind is units[i].kind and units[i].kind is not UnitKind.CODE:
            k -= 1
        if k >= 0 and _introduces(units[k], units[k + 1]):
            members.insert(0, k)
    return members


def _table_start(units: Sequence[Unit], i: int) -> int:
    """The first row of the table row `i` is in: its rows are consecutive and share a block."""
    k = i
    while k > 0 and units[k - 1].kind is UnitKind.ROW and units[k - 1].block == units[i].block:
        k -= 1
    return k


def table_header(units: Sequence[Unit], i: int) -> int | None:
    """The header of the table unit `i` is a row of; None when `i` is no row, is the header, or
    its table has none."""
    if units[i].kind is not UnitKind.ROW:
        return None
    k = _table_start(units, i)
    return k if k != i and units[k].header else None


def table_rows(units: Sequence[Unit], k: int) -> list[int]:
    """The rows under header `k`, when unit `k` is the header of a table; else empty."""
    if not units[k].header:
        return []
    rows: list[int] = []
    j = k + 1
    while j < len(units) and units[j].kind is UnitKind.ROW and units[j].block == units[k].block:
        rows.append(j)
        j += 1
    return rows
