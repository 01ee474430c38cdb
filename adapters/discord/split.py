"""Splitting text at Discord's message limit: pure functions on strings.

A reply longer than CONTENT_LIMIT is shown in several messages (bot/inbox.py: a post). The
cuts fall on paragraph, line or word boundaries where they can, and a code fence open at a
cut is closed with its own marker and reopened in the next piece (with its language, cut
short), so code keeps rendering as code, indented as it was; every piece fits, and every
pass makes progress whatever the fence markup.
"""

from __future__ import annotations

import re

CONTENT_LIMIT = 2000  # characters of `content` a bot may send

_FENCE = re.compile(r"^\s*(```+|~~~+)(.*)$")
_REOPENED_INFO_LIMIT = 30  # characters of a fence's language kept when it is reopened


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
    for separator in ("\n\n", "\n", " "):
        at = window.rfind(separator, 0, budget)
        if at > budget // 3:  # a break too early would waste most of a message
            return at
    return budget


def _open_fence(text: str) -> str:
    """The opening line of a code fence left open at the end of `text`, or ""."""
    open_line = ""
    for line in text.splitlines():
        match = _FENCE.match(line)
        if not match:
            continue
        if open_line and match.group(1)[0] == open_line.lstrip()[0] and not match.group(2).strip():
            open_line = ""
        elif not open_line:
            open_line = line.strip()
    return open_line


def _reopening(fence_line: str) -> str:
    """The line reopening a fence in the next piece: its marker and language, the rest of its
    info string dropped, so a long one (a model may write anything there) costs every piece
    a few dozen characters at most."""
    match = _FENCE.match(fence_line)
    if not match:
        return ""
    words = match.group(2).split()
    return match.group(1) + (words[0][:_REOPENED_INFO_LIMIT] if words else "")


def _fence_marker(fence_line: str) -> str:
    match = _FENCE.match(fence_line)
    return match.group(1) if match else "```"
