"""Data fenced in the prompt's tags: `fence_safe` defuses anything in a document or a message
that a reader could take for one of those tags, so data can neither close its block nor open
a new one (bot/answering/prompt.py lays the blocks out).

What "could take for a tag" means: the text as a lenient reader sees it, HTML entities and
JSON `\\u` escapes decoded once, NFKC-folded, every invisible (default-ignorable) character
dropped, slash lookalikes read as slashes. Only the original opening of such a tag is
escaped; the text is never otherwise changed. Linear in the text: the view is built once, and
each tag found is mapped back to the original by bisection.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from collections.abc import Callable

from bot.patterns import lazy_pattern
from bot.text import invisible

# The tag names the prompt fences data with (bot/answering/prompt.py): `fence_safe` must
# defuse exactly these.
TAGS = ("passages", "passage", "conversation", "turn", "question", "memory", "fact")
# What a reader could take for the start of one of our tags, matched on the folded view
# (`_folded`), where entities and JSON escapes are decoded and lookalikes, fullwidth forms and
# invisible characters are already gone: a `<`, blanks, a slash (or a JSON-escaped one,
# "<\/passage>"), more blanks, then one of our names in any case. Possessive: a long run of
# blanks or backslashes after a `<` is read once, not once per way to split it.
_TAG_LIKE = lazy_pattern(  # compiled on first use: only a model prompt needs it
    rf"<\s*+(?:\\*+/)?\s*+(?:{'|'.join(TAGS)})\b",
    re.IGNORECASE,
)
# What a reader decodes before it reads: HTML character references, numeric (any number of
# leading zeros) or named (with or without the semicolon, as browsers and html.unescape
# accept the legacy ones), and JSON's \uXXXX escapes.
_ESCAPE = lazy_pattern(  # one group: split() keeps the escapes
    r"(&(?:#0*[0-9]{1,7};?|#[xX]0*[0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{0,31};?)|\\u[0-9a-fA-F]{4})"
)
# Slashes NFKC leaves alone but a reader takes for one: fraction, division, big solidus, and
# the box-drawing diagonal. Folded to "/" in the view.
_SLASH_LOOKALIKES = "\u2044\u2215\u29f8\u2571"


def fence_safe(text: str) -> str:
    """Defuse anything in `text` that looks like one of the prompt's own tags, so data can
    neither close its block nor open a new one.

    Tags are looked for in a folded view of the text, as a lenient reader sees it (see
    `_folded`), so every spelling that folds to one of our tags is caught at once; what is
    changed is the original text, at the span the tag's opening came from. The opening is
    HTML-escaped: `<` becomes `&lt;`, any other character its numeric entity, and an entity
    already spelling `<` gets its `&` escaped (`&amp;lt;`), so even a reader that decodes
    entities once finds text, not a tag; where the rest of the tag is spelled with entities
    too (`</&#112;assage>`), the opening is escaped twice (`&amp;lt;`), for the same reason.
    Decoding the result gives back the data as written: nothing is lost (Korean or fullwidth
    text is not normalised), and angle brackets that start no tag of ours are untouched."""
    view, origin = _folded(text)
    entities = "&" in text
    pieces: list[str] = []
    done = 0
    for match in _TAG_LIKE().finditer(view):
        start, end = origin(match.start())  # the opening: `<`, or the escape that spells it
        if start < done:  # two matches from one original character: defused already
            continue
        # the rest of the tag needs one decoding too ("</&#112;assage>"): the opening must
        # need two
        deeper = entities and "&" in text[end : origin(match.end() - 1)[1]]
        pieces += [text[done:start], _defuse(text[start:end], deeper)]
        done = end
    return "".join(pieces) + text[done:] if pieces else text


Origin = Callable[[int], tuple[int, int]]


def _folded(text: str) -> tuple[str, Origin]:
    """`text` as a lenient reader sees it, only for finding tags: HTML character references
    and JSON \\uXXXX escapes decoded (once), each character NFKC-folded (fullwidth letters and
    `＜`, `／`, `﹤` become ASCII), invisible characters (format characters and every
    Default_Ignorable_Code_Point) dropped, and slash lookalikes made "/". With it, for each
    index of the view, the span of the original character or escape it came from. Per
    character, so the map is exact; no tag of ours needs the compositions NFKC would make
    across characters."""
    if "&" not in text and "\\u" not in text:
        if text.isascii():
            return text, _same
        folds = list(map(_fold, text))
        view = "".join(folds)
        if len(view) == len(text) and "" not in folds:  # one for one: the usual case, Korean too
            return view, _same
        parts = [text]
    else:
        parts = _ESCAPE().split(text)  # text, escape, text, escape, ..., text
    views = parts.copy()
    views[::2] = map(_fold_text, parts[::2])
    views[1::2] = map(_fold_escape, parts[1::2])
    return "".join(views), _Origin(parts, views).span


def _same(index: int) -> tuple[int, int]:
    return index, index + 1


class _Origin:
    """Where each character of a view built from `parts` (text, escape, text, …) came from:
    an escape's characters all come from the whole escape; a text's from one character each.
    Found by bisection, so a view with many tags costs no more than one with a few."""

    def __init__(self, parts: list[str], views: list[str]) -> None:
        self._parts = parts
        self._views = views
        self._ends: list[int] = []  # made when first needed: most texts hold no tag
        self._view_ends: list[int] = []
        self._char_ends: dict[int, list[int]] = {}  # per text part, likewise

    def span(self, index: int) -> tuple[int, int]:
        if not self._ends:
            self._ends = list(itertools.accumulate(map(len, self._parts)))
            self._view_ends = list(itertools.accumulate(map(len, self._views)))
        part = bisect.bisect_right(self._view_ends, index)
        start = self._ends[part - 1] if part else 0
        if part % 2:
            return start, self._ends[part]
        offset = index - (self._view_ends[part - 1] if part else 0)
        if self._parts[part].isascii():
            return start + offset, start + offset + 1
        if part not in self._char_ends:
            folded = (len(_fold(char)) for char in self._parts[part])
            self._char_ends[part] = list(itertools.accumulate(folded))
        char = start + bisect.bisect_right(self._char_ends[part], offset)
        return char, char + 1


def _fold_text(text: str) -> str:
    return text if text.isascii() else "".join(map(_fold, text))


@functools.lru_cache(maxsize=4096)  # bounded: "&#32;" a thousand times is one decoding
def _fold_escape(escape: str) -> str:
    return "".join(map(_fold, _decode(escape)))


def _decode(escape: str) -> str:
    if escape.startswith("\\"):
        return chr(int(escape[2:], 16))
    import html  # here: its entity table is not worth loading for a prompt without a "&"

    if escape.startswith("&#"):  # leading zeros off: int() refuses thousands of digits
        hexa = escape[2:3] in ("x", "X")
        digits = escape[2 + hexa :].rstrip(";").lstrip("0") or "0"
        escape = "&#" + escape[2 : 2 + hexa] + digits + ";"
    return html.unescape(escape)


@functools.lru_cache(maxsize=8192)  # bounded: a hostile document may hold any character
def _fold(char: str) -> str:
    if char.isascii():
        return char
    if char in _SLASH_LOOKALIKES:
        return "/"
    if invisible(char):
        return ""
    folded = unicodedata.normalize("NFKC", char)
    if folded == char:  # most characters
        return char
    # NFKC may give an invisible character (U+3164 HANGUL FILLER folds to U+1160)
    return "".join(c for c in folded if not invisible(c))


def _defuse(opening: str, deeper: bool) -> str:
    """`opening` HTML-escaped: `<` becomes `&lt;`, an entity gets its `&` escaped, anything
    else (a fullwidth `＜`, the backslash of `\\u003c`) becomes its numeric entity; `deeper`:
    escaped once more."""
    if opening.startswith("&"):
        return "&amp;" + opening[1:]
    escaped = "&lt;" if opening == "<" else f"&#x{ord(opening[0]):x};" + opening[1:]
    return "&amp;" + escaped[1:] if deeper else escaped
