"""Payment card numbers in free text: where they are, for `[privacy] redact = ["card"]`.

A number is a card when three things hold, each cheap and together rare by chance:

* its digits are a card: a network's issuer prefix with a length that network issues
  (`NETWORKS`), and the Luhn check. Luhn alone passes one number in ten; the prefix and length
  leave out order numbers, timestamps, Discord ids (17-19 digits from 1) and most row ids;
* it is written as cards are written: contiguous, or in the groups printed on cards
  (`LAYOUTS`) split by one kind of gap throughout: one or two blanks (NBSP and the other
  Unicode spaces too), or a dash with a blank either side or none. Dots, commas, tabs and wide
  column padding join versions, OIDs, spreadsheet rows and `free -m` columns, never a card;
* it stands on its own: not glued to other digits by `.`, `,`, `:`, a dash or `_` (a decimal,
  a list, a dashed identifier), not after a word unless that word names a card ("Visa-4111…",
  "card4111…"; "ORD-…", "id_…" are identifiers), not inside a Discord or Slack entity
  (`<@…>`, `<#…>`, `<:name:…>`, `<a:name:…>`, `</cmd sub:…>`, `&#…;`), a link's path (`/`)
  or a phone number (`+`). Korean particles and words may touch it ("번호4111…입니다"); `/MM/YY`
  (the expiry) may follow it.

Fullwidth digits and dashes (CJK input methods) and the other dashes autocorrect types are
folded for the search only, one character for one, so a span found in the folded view is the
same span of the original text.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from bot.patterns import lazy_pattern

_ANY_LENGTH = range(12, 20)
# Issuer prefix ranges (low, high: digit strings of one length, compared as strings) and the
# lengths each network issues. From the issuer table of Wikipedia's "Payment card number"
# article, checked against CyberSource's card type identification guide. Maestro is its current
# list of ranges: the old blanket "50, 56-69" (still in some guides) would take Korean
# tracking numbers (68…) and order numbers (50…) for cards; Diners Club's 300-305, 3095 and
# 38-39 are the 14-digit Carte Blanche / International cards, only 36 issues longer ones.
NETWORKS: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({13, 16, 19})),  # Visa
    ("51", "55", frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16})),  # Mastercard 2-series
    ("34", "34", frozenset({15})),  # American Express
    ("37", "37", frozenset({15})),
    ("6011", "6011", frozenset(range(16, 20))),  # Discover
    ("644", "649", frozenset(range(16, 20))),
    ("65", "65", frozenset(range(16, 20))),
    ("3528", "3589", frozenset(range(16, 20))),  # JCB
    ("36", "36", frozenset(range(14, 20))),  # Diners Club International
    ("300", "305", frozenset({14})),  # Diners Club Carte Blanche
    ("3095", "3095", frozenset({14})),
    ("38", "39", frozenset({14})),
    ("62", "62", frozenset(range(16, 20))),  # UnionPay (Discover's 622126-622925 within it)
    ("5018", "5018", frozenset(_ANY_LENGTH)),  # Maestro
    ("5020", "5020", frozenset(_ANY_LENGTH)),
    ("5038", "5038", frozenset(_ANY_LENGTH)),
    ("5893", "5893", frozenset(_ANY_LENGTH)),
    ("6304", "6304", frozenset(_ANY_LENGTH)),
    ("6759", "6759", frozenset(_ANY_LENGTH)),
    ("6761", "6763", frozenset(_ANY_LENGTH)),
    ("676770", "676770", frozenset(_ANY_LENGTH)),  # Maestro UK
    ("676774", "676774", frozenset(_ANY_LENGTH)),
)

# Group sizes of a card written in groups: fours (the last group 1-7 long: 13 to 19 digits, or
# 4-4-4-4 then 1-3), and Amex's 4-6-5 and Diners' 4-6-4.
LAYOUTS: frozenset[tuple[int, ...]] = frozenset(
    {(4, 4, 4), (4, 6, 5), (4, 6, 4)}
    | {(4, 4, 4, k) for k in range(1, 8)}
    | {(4, 4, 4, 4, k) for k in range(1, 4)}
)
_MOST_GROUPS = max(len(layout) for layout in LAYOUTS)

# Words that may touch the number ("Visa-4111…", "card4111…"): it is still a card.
CARD_WORDS = frozenset(
    {"card", "cc", "visa", "mastercard", "mc", "amex", "discover", "jcb", "diners", "unionpay", "maestro"}
)


def _fold_table() -> Mapping[int, str]:
    # NFKC takes fullwidth digits and the fullwidth hyphen (U+FF0D) to ASCII and the Unicode
    # spaces to " "; the dashes NFKC keeps (hyphen, en dash, minus sign…) are folded too.
    table = {}
    for code in [*range(0xFF10, 0xFF1A), 0xFF0D, 0xFE63, 0x00A0, 0x1680, *range(0x2000, 0x200B)]:
        table[code] = unicodedata.normalize("NFKC", chr(code))
    for code in (0x202F, 0x205F, 0x3000):
        table[code] = " "
    for code in (0x2010, 0x2011, 0x2012, 0x2013, 0x2212):
        table[code] = "-"
    assert all(len(folded) == 1 for folded in table.values())  # spans map back one for one
    return MappingProxyType(table)


_FOLD = _fold_table()

# Groups of ASCII digits split by a gap a card may be written with; a run holds the card and
# whatever other numbers are written beside it the same way.
_RUN = lazy_pattern(r"[0-9]+(?:(?: {1,2}| ?- ?)[0-9]+)*")
_GROUP = lazy_pattern(r"[0-9]+")
# What, right before the digits, makes them an id inside a chat entity rather than a card.
_ENTITY_BEFORE = lazy_pattern(r"(?:<[@#][!&]?|<a?:[A-Za-z0-9_~]{1,64}:|</[^<>:\n]{1,100}:|&#)\Z")
_WORD_BEFORE = lazy_pattern(r"([A-Za-z]+)[-_]?\Z")
_EXPIRY_AFTER = lazy_pattern(r"/(?:0?[1-9]|1[0-2])(?:/(?:[0-9]{4}|[0-9]{2}))?(?![0-9/])")


_DOUBLED = {str(d): (2 * d - 9 if d > 4 else 2 * d) for d in range(10)}


def luhn_valid(digits: str) -> bool:
    total = sum(map(int, digits[-1::-2])) + sum(_DOUBLED[ch] for ch in digits[-2::-2])
    return total % 10 == 0


@cache
def _lengths_by_prefix() -> Mapping[str, frozenset[int]]:
    # every prefix of NETWORKS spelled out (about 600), so a number is looked up, not compared
    # with each range
    table: dict[str, frozenset[int]] = {}
    for low, high, lengths in NETWORKS:
        for prefix in range(int(low), int(high) + 1):
            table[str(prefix)] = lengths
    return MappingProxyType(table)


_PREFIX_SIZES = sorted({len(low) for low, _, _ in NETWORKS})


def is_card_number(digits: str) -> bool:
    """`digits` (ASCII digits only) are a card number some network issues."""
    if not 12 <= len(digits) <= 19:
        return False
    table = _lengths_by_prefix()
    for size in _PREFIX_SIZES:
        lengths = table.get(digits[:size])
        if lengths is not None:
            return len(digits) in lengths and luhn_valid(digits)
    return False


def card_spans(text: str) -> list[tuple[int, int]]:
    """Where `text` holds card numbers, as (start, end) of the original text."""
    folded = text.translate(_FOLD)
    spans: list[tuple[int, int]] = []
    for run in _RUN().finditer(folded):
        groups = [g.span() for g in _GROUP().finditer(folded, run.start(), run.end())]
        gaps = [folded[a:b] for (_, a), (b, _) in itertools.pairwise(groups)]
        i = 0
        while i < len(groups):
            last = _longest_card(folded, groups, gaps, i)
            if last is None:
                i += 1
                continue
            spans.append((groups[i][0], groups[last][1]))
            i = last + 1
    return spans


def _longest_card(folded: str, groups: list[tuple[int, int]], gaps: list[str], first: int) -> int | None:
    """The last group of the longest card starting at group `first`, or None."""
    found = None
    sizes: list[int] = []
    for last in range(first, min(first + _MOST_GROUPS, len(groups))):
        if last > first and gaps[last - 1] != gaps[first]:
            break  # one kind of gap throughout
        sizes.append(groups[last][1] - groups[last][0])
        if len(sizes) > 1 and tuple(sizes) not in LAYOUTS:
            continue
        digits = "".join(folded[a:b] for a, b in groups[first : last + 1])
        if is_card_number(digits) and _stands_alone(folded, groups, gaps, first, last):
            found = last
    return found


def _stands_alone(folded: str, groups: list[tuple[int, int]], gaps: list[str], first: int, last: int) -> bool:
    """The card from group `first` to `last` is not part of something else: a neighbouring
    number in the run may only be a separate number beside it (a blank between), and the text
    around the run must not make its digits an identifier, a decimal, an entity or a link."""
    if first > 0 and "-" in gaps[first - 1]:
        return False  # "2024-4111-…": a dashed identifier
    if last < len(groups) - 1 and "-" in gaps[last]:
        return False
    start, end = groups[first][0], groups[last][1]
    return (first > 0 or _free_before(folded, start)) and (last < len(groups) - 1 or _free_after(folded, end))


def _free_before(folded: str, start: int) -> bool:
    before = folded[max(0, start - 120) : start]
    if not before:
        return True
    if before[-1] in "+/":
        return False  # a phone number ("+49 …"), a link's path or a date
    if before[-1] in ".,:-_" and before[-2:-1].isdigit():
        return False  # a decimal, a list, a time, an OID, a dashed or underscored id
    if _ENTITY_BEFORE().search(before):
        return False
    word = _WORD_BEFORE().search(before)
    return word is None or word.group(1).lower() in CARD_WORDS


def _free_after(folded: str, end: int) -> bool:
    after = folded[end : end + 2]
    if not after:
        return True
    if after[0].isascii() and after[0].isalnum():
        return False
    if after[0] in "-_" and after[1:].isascii() and after[1:].isalnum():
        return False  # "4111…-2026", "4111…_x": an identifier
    if after[0] in ".,:" and after[1:].isdigit():
        return False  # a decimal or a list
    return after[0] != "/" or _EXPIRY_AFTER().match(folded, end) is not None
