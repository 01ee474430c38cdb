"""Splitting text at Discord's message limit: pure functions on strings.

A reply longer than CONTENT_LIMIT is shown in several messages (bot/inbox.py: a post). The
cuts fall on paragraph, line or word boundaries where they can, and a code fence open at a
cut is closed with its own marker and reopened in the next piece (with its language, cut
short), so code keeps rendering as code, indented as it was; every piece fits, and every
pass makes progress whatever the fence markup. Fences are read as CommonMark reads them: a
block closes only at a line of its opener's character, at least as long, with nothing after
it, so a ```` block showing a ``` block is one block. A cut at a space never falls inside a
link or a code span that closes later, where another space will do.
"""

from __future__ import annotations

import re

from bot.markdown import FENCE_LINE, closes_fence, opening_fence

CONTENT_LIMIT = 2000  # characters of `content` a bot may send

_REOPENED_INFO_LIMIT = 30  # characters of a fence's language kept when it is reopened
_TICKS = re.compile(r"`+")
# a link as Discord shows one: its label, then a target (no spaces unless in <>, one level of
# parentheses as in Wikipedia's addresses) and an optional title
_LINK = re.compile(r'\[[^\[\]\n]*\]\((?:<[^<>\n]*>|(?:[^()\s]|\([^()\s]*\))*)(?:\s+"[^"\n]*")?\s*\)')


def split_text(text: str, limit: int = CONTENT_LIMIT) -> list[str]:
    """Split text into pieces of at most `limit` characters.

    Cuts at the last paragraph break, else line break, else space within the budget, so
    sentences stay whole where possible; a code fence open at a cut is closed (with its own
    marker) and reopened in the next piece, so code keeps rendering as code, indented as it was."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    rest = text
    reopen = ""  # the fence line to start the next piece with
    while rest:
        prefix = f"{reopen}\n" if reopen else ""
        if len(prefix) + len(rest) <= limit:
            pieces.append(prefix + rest)
            break
        budget = limit - len(prefix)
        while True:  # a fence left open is closed with its own marker ("````", "~~~~"): room for it
            cut = _cut_point(rest, budget)
            piece = rest[:cut].rstrip()
            fence = _open_fence(prefix + piece)
            close = "\n" + _fence_marker(fence) if fence else ""
            if len(prefix) + len(piece) + len(close) <= limit:
                break
            budget = limit - len(prefix) - len(close)  # smaller each time: piece <= budget
            if budget < limit // 2:
                # fence markup (a marker hundreds of backticks long) would fill the message
                # and leave no room to make progress: cut the text as it is
                prefix, cut, fence, close = "", limit, "", ""
                piece = rest[:cut]
                break
        rest = rest[cut:].lstrip("\n" if fence else "\n ")  # in code, indentation is code
        pieces.append(prefix + piece + close)
        reopen = _reopening(fence)
    return [p for p in pieces if p.strip()]


def _cut_point(text: str, budget: int) -> int:
    window = text[: budget + 1]
    for separator in ("\n\n", "\n"):
        at = window.rfind(separator, 0, budget)
        if at > budget // 3:  # a break too early would waste most of a message
            return at
    for at in (_free_space(text, budget), window.rfind(" ", 0, budget)):
        # the second: a link or code span longer than most of a message is cut in it, as
        # nothing else would keep a word whole
        if at > budget // 3:
            return at
    return budget


def _free_space(text: str, budget: int) -> int:
    """The last space before `budget` outside every link and code span of its line, or -1.

    Cut there, a link or code span would be shown as its raw markup in both messages. Only
    the line is read (a span across a line break could be cut at the break, which comes
    first), and a message's length past the cut at most: a span closing further away could
    not be kept whole anyway."""
    start = text.rfind("\n", 0, budget) + 1
    end = text.find("\n", budget)
    end = min(len(text) if end == -1 else end, budget + CONTENT_LIMIT)
    at = text.rfind(" ", start, budget)
    for opened, closed in reversed(_spans(text[start:end])):
        if at >= start + closed:  # right of this span, so of every one left to see
            break
        if at > start + opened:  # inside it: the last space before it instead
            at = text.rfind(" ", start, start + opened)
    return at


def _spans(line: str) -> list[tuple[int, int]]:
    """Where the code spans and links of `line` start and end, sorted, overlaps merged."""
    found = sorted(_code_spans(line) + [match.span() for match in _LINK.finditer(line)])
    merged: list[tuple[int, int]] = []
    for opened, closed in found:
        if merged and opened < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closed))
        else:
            merged.append((opened, closed))
    return merged


def _code_spans(line: str) -> list[tuple[int, int]]:
    """The code spans of `line` (CommonMark): a run of backticks opens one that the next run
    of the same length closes; a run no such run follows is shown as it is. Linear: each
    run's closer is found in one pass from the right, not by a search per run."""
    runs = [match.span() for match in _TICKS.finditer(line)]
    closer: list[int | None] = [None] * len(runs)
    later: dict[int, int] = {}  # run length -> the nearest run of that length seen so far
    for n in range(len(runs) - 1, -1, -1):
        length = runs[n][1] - runs[n][0]
        closer[n] = later.get(length)
        later[length] = n
    spans: list[tuple[int, int]] = []
    n = 0
    while n < len(runs):
        close = closer[n]
        if close is None:
            n += 1
            continue
        spans.append((runs[n][0], runs[close][1]))
        n = close + 1
    return spans


def _open_fence(text: str) -> str:
    """The opening line of a code fence left open at the end of `text`, or ""."""
    open_line = ""
    for line in text.splitlines():
        if open_line:
            if closes_fence(_fence_marker(open_line), line):
                open_line = ""
        elif opening_fence(line):
            open_line = line.strip()
    return open_line


def _reopening(fence_line: str) -> str:
    """The line reopening a fence in the next piece: its marker and language, the rest of its
    info string dropped, so a long one (a model may write anything there) costs every piece
    a few dozen characters at most."""
    match = FENCE_LINE.match(fence_line)
    if not match:
        return ""
    words = match.group(2).split()
    return match.group(1) + (words[0][:_REOPENED_INFO_LIMIT] if words else "")


def _fence_marker(fence_line: str) -> str:
    match = FENCE_LINE.match(fence_line)
    return match.group(1) if match else "```"
