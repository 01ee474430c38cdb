"""Choosing what to quote: the part of the retrieved passages that answers the question.

Pure functions, no I/O. A passage is split into units (sentences, list items, code blocks,
table rows) in reading order (bot/answering/units.py). Each unit of the best few passages is
scored by how much of the question's weight (the corpus IDF of its terms) it covers, read
together with what it depends on: a sentence that introduces a code block or a list ("Use
`exclude_none`:") is scored with that block, and a code block with the sentence that
introduces it. A unit is scored like a document in BM25 (term frequency saturated, length
normalised against the average unit, each term weighted by its corpus IDF), over what a unit
holding every question term once would score. The score also carries the passage's own
retrieval score, so a strong sentence in a weak passage does not win over the section ranked
first by far.

A how-to is what people ask for, so units that name an API, a parameter or a command
(inline code) or bring a code block get a bonus, and units that only point elsewhere
(link lists, tables of contents, "in this section you will learn ...") get none of the
match credit. The constants below were chosen by leave-one-set-out cross-validation on
the three realdocs_dev sets (a grid over the rank weight, the how-to bonus, the length
normalisation and the number of passages; see the README's measurements).

The quote is the best unit with its dependants, then its strongest neighbours while the
prose stays short; code blocks are kept whole, fenced, up to MAX_CODE_LINES lines. A list or
table quoted together with the sentence that leads into it is quoted whole when it fits that
same prose budget ("three types of exceptions can be used:" followed by two of them reads as
the whole answer, and the third was the one asked about); when it does not fit, an ELIDED
line stands where items were left out. A table row is quoted with its table's header, which
says what its cells are; a header quoted without any of its rows (it held the question's words,
the rows only the values asked for) brings the whole table when it fits that budget, else the
rows that match the question, best first, while they fit.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.answering.units import Unit, UnitKind, group, split_units, table_header, table_rows
from bot.retrieval.confidence import QUESTION_WORDS, heading_covers
from bot.retrieval.tokenize import analyze, topic_words
from bot.types import Passage

SHORT_PASSAGE_WORDS = 90  # a section this short is quoted whole: it is the answer
MAX_PROSE_WORDS = 120  # prose around the best unit, code blocks not counted
MAX_CODE_LINES = 40  # a longer code block is cut, and says so
PREPARED_CACHE = 2048  # passages kept analysed (a few MB at most)
CANDIDATE_PASSAGES = 5  # units are looked for in this many of the best passages
CANDIDATE_FLOOR = 0.6  # ... scoring at least this share of the best one
# where a quoted list leaves items out: the bracketed ellipsis of quotations, not a bare "…",
# which is how an answer still being streamed ends (bot/streaming.py)
ELIDED = "[…]"

# chosen by leave-one-set-out cross-validation on realdocs_dev (see the module docstring),
# relative to the unit's coverage of the question, which is in [0, 1]. Also measured and
# dropped there: a bonus for the passage's headings covering the question (chosen weight 0)
# and a discount for terms matched only inside code (chosen: no discount).
RANK_WEIGHT = 0.35  # the passage's retrieval score relative to the best one
HOWTO_BONUS = 0.3  # the unit names code or brings a code block
K1 = 1.2  # BM25's term-frequency saturation, as the index uses (not tuned)
UNIT_B = 0.15  # BM25's length normalisation of a unit's group


@dataclass(frozen=True, kw_only=True)
class Quote:
    """What the offline answerer quotes from one passage, with its score."""

    passage: Passage
    text: str
    score: float


_INLINE_CODE = re.compile(r"`[^`\n]+`")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def _is_pointer(unit: Unit) -> bool:
    """A unit that only sends the reader elsewhere: a link list entry, a bare link."""
    if unit.kind is UnitKind.CODE:
        return False
    without_links = _LINK.sub("", unit.text)
    words = re.sub(r"^\s*([-*+]|\d+[.)])\s+", "", without_links).split()
    return bool(_LINK.search(unit.text)) and len(words) <= 2


def term_weights(question: str, passages: Sequence[Passage], idf: Mapping[str, float]) -> dict[str, float]:
    """Each question term's weight: its corpus IDF when known, else its rarity among `passages`."""
    terms = set(analyze(question))
    weights = {term: idf[term] for term in terms if term in idf}
    if len(weights) == len(terms):
        return weights  # the usual case: reading the passages is needed only for the rest
    docs = [set(_prepared(p.text).terms) for p in passages] or [set()]
    n = len(docs)
    for term in terms:
        if term in idf:
            weights[term] = idf[term]
        else:
            weights[term] = math.log(1 + (n + 1) / (1 + sum(term in d for d in docs)))
    return weights


@dataclass(frozen=True)
class _Scored:
    """A passage cut into units, with the analysed terms each unit's group holds."""

    units: list[Unit]
    groups: list[list[int]]
    counts: list[Counter[str]]  # the analysed terms of each unit's group, with their frequencies
    terms: frozenset[str]  # every analysed term of the passage
    words: int  # the passage's words (a short one is quoted whole)
    lengths: list[int]  # how many analysed terms each unit's group holds
    pointers: list[bool]  # each unit only sends the reader elsewhere (_is_pointer)
    prose: list[int]  # each unit's words, 0 for code: what MAX_PROSE_WORDS counts
    howto: list[bool]  # each unit names code or its group brings a code block


@lru_cache(maxsize=PREPARED_CACHE)
def _prepared(text: str) -> _Scored:
    """A passage split into units and analysed: pure, and the same passages come back question
    after question (analysing them was most of an offline answer's CPU), so it is cached."""
    units = split_units(text)
    unit_terms = [Counter(analyze(u.text)) for u in units]
    groups = [group(units, i) for i in range(len(units))]
    counts = [sum((unit_terms[g] for g in group), Counter()) for group in groups]
    howto = [
        bool(_INLINE_CODE.search(unit.text)) or any(units[g].kind is UnitKind.CODE for g in group)
        for unit, group in zip(units, groups, strict=True)
    ]
    return _Scored(
        units,
        groups,
        counts,
        frozenset().union(*unit_terms) if unit_terms else frozenset(),
        words=len(text.split()),
        lengths=[sum(c.values()) for c in counts],
        pointers=[_is_pointer(unit) for unit in units],
        prose=[0 if unit.kind is UnitKind.CODE else len(unit.text.split()) for unit in units],
        howto=howto,
    )


@lru_cache(maxsize=PREPARED_CACHE)
def _heading_terms(heading: str) -> frozenset[str]:
    """A passage's headings analysed, once: the same few come back question after question."""
    return frozenset(analyze(heading))


def _score_units(scored: _Scored, weights: Mapping[str, float], total: float, average: float) -> list[float]:
    """BM25 of each unit's group against the question, over what a group of average length
    holding every question term once would score: long code blocks match many words by
    chance, and the length normalisation discounts them as BM25 discounts long documents."""
    scores: list[float] = []
    # what depends only on the passage (pointer, how-to, length) was worked out with its units
    for counts, length, pointer, howto in zip(
        scored.counts, scored.lengths, scored.pointers, scored.howto, strict=True
    ):
        if pointer or not total:
            scores.append(0.0)
            continue
        norm = K1 * (1 - UNIT_B + UNIT_B * length / average)
        # .get, not counts[t]: a term the group lacks (most of them) would call Counter's
        # __missing__, a Python call per term and unit; same terms, order and arithmetic
        got = sum(w * c * (K1 + 1) / (c + norm) for t, w in weights.items() if (c := counts.get(t, 0)))
        score = got / total
        if howto:
            score += HOWTO_BONUS * min(score * 4, 1.0)  # how-to only counts where the unit is on topic
        scores.append(score)
    return scores


def _prose_words(prose: Sequence[int], indexes: Iterable[int]) -> int:
    """`indexes`' words outside code (`prose`: _Scored.prose, counted once per passage)."""
    return sum(prose[i] for i in indexes)


def _led_list(units: Sequence[Unit], k: int) -> list[int]:
    """The items (or rows) of the list (or table) right after sentence `k`, which leads into it;
    empty when none follows. Any sentence, not only one ending in a colon: Korean and many
    English docs lead into a list with a full stop ("... 몇 가지 방법을 소개하겠습니다.")."""
    if units[k].kind is not UnitKind.SENTENCE or k + 1 >= len(units):
        return []
    kind = units[k + 1].kind
    if kind not in (UnitKind.ITEM, UnitKind.ROW):
        return []
    members: list[int] = []
    j = k + 1
    while j < len(units) and units[j].kind is kind:
        members.append(j)
        j += 1
    return members


def _complete_lists(units: Sequence[Unit], prose: Sequence[int], chosen: set[int]) -> None:
    """Quote whole each list that is quoted in part with the sentence leading into it, when the
    prose stays within MAX_PROSE_WORDS: half a list of steps reads as all of them."""
    for k in sorted(chosen):
        members = _led_list(units, k)
        missing = [j for j in members if j not in chosen]
        partly = bool(missing) and len(missing) < len(members)
        if partly and _prose_words(prose, chosen.union(missing)) <= MAX_PROSE_WORDS:
            chosen.update(missing)


def _complete_tables(
    units: Sequence[Unit], prose: Sequence[int], scores: Sequence[float], chosen: set[int]
) -> None:
    """Bring rows to each table header quoted without any: alone it only names the columns. The
    whole table when the prose stays within MAX_PROSE_WORDS, else the rows that match the
    question, best first, while they fit."""
    for k in sorted(chosen):
        rows = table_rows(units, k)
        if not rows or any(j in chosen for j in rows):
            continue
        if _prose_words(prose, chosen.union(rows)) <= MAX_PROSE_WORDS:
            chosen.update(rows)
            continue
        for j in sorted((j for j in rows if scores[j] > 0), key=lambda j: -scores[j]):
            if _prose_words(prose, chosen | {j}) <= MAX_PROSE_WORDS:
                chosen.add(j)


def _quoted_with(units: Sequence[Unit], groups: Sequence[list[int]], i: int) -> list[int]:
    """Unit `i` with what a quote of it needs: its group, and for a table row its header."""
    header = table_header(units, i)
    return groups[i] if header is None else [header, *groups[i]]


def _with_gaps(units: Sequence[Unit], chosen: set[int]) -> list[Unit]:
    """The chosen units in order, with an ELIDED line where a list quoted with its leading sentence
    had to leave items out, so a cut list does not pass for the whole one."""
    cut: set[int] = set()
    for k in chosen:
        members = _led_list(units, k)
        if any(j in chosen for j in members):
            cut.update(j for j in members if j not in chosen)
    out: list[Unit] = []
    for i, unit in enumerate(units):
        if i in chosen:
            out.append(unit)
        elif i in cut and i - 1 not in cut:  # once for each run of items left out
            # a paragraph of its own: inside a list it would join the item before it (and an
            # ordered list after it would be renumbered, hiding the gap)
            out.append(Unit(ELIDED, UnitKind.SENTENCE, -1))
    return out


def _assemble(scored: _Scored, scores: Sequence[float], best: int) -> str:
    units, groups, words = scored.units, scored.groups, scored.prose
    chosen = set(_quoted_with(units, groups, best))
    _complete_lists(units, words, chosen)
    _complete_tables(units, words, scores, chosen)
    prose = _prose_words(words, chosen)
    # then the strongest neighbours, while the prose stays short
    for i in sorted(range(len(units)), key=lambda i: -scores[i]):
        if i in chosen or scores[i] <= 0:
            continue
        if not any(abs(i - c) <= 1 for c in chosen):
            continue
        extra = [g for g in _quoted_with(units, groups, i) if g not in chosen]
        size = _prose_words(words, extra)
        if prose + size > MAX_PROSE_WORDS:
            continue
        chosen.update(extra)
        _complete_lists(units, words, chosen)
        _complete_tables(units, words, scores, chosen)
        prose = _prose_words(words, chosen)
    return render(_with_gaps(units, chosen))


def _trim_code(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= MAX_CODE_LINES + 2:
        return text
    return "\n".join([*lines[: MAX_CODE_LINES + 1], "# …", lines[-1]])


def render(units: Sequence[Unit]) -> str:
    out: list[str] = []
    previous: Unit | None = None
    for unit in units:
        text = _trim_code(unit.text) if unit.kind is UnitKind.CODE else unit.text
        if previous is None:
            out.append(text)
        elif unit.kind is previous.kind and unit.kind in (UnitKind.ITEM, UnitKind.ROW):
            out.append("\n" + text)
        elif (
            unit.kind is UnitKind.SENTENCE
            and previous.kind is UnitKind.SENTENCE
            and unit.block == previous.block
        ):
            out.append(" " + text)
        else:
            out.append("\n\n" + text)
        previous = unit
    return "".join(out).strip()


def pick(
    question: str,
    passages: Sequence[Passage],
    idf: Mapping[str, float] | None = None,
) -> Quote | None:
    """The best quote among the first CANDIDATE_PASSAGES of `passages` (best first), or None
    when none of them can be quoted (API reference stubs are cited, never quoted)."""
    quotes = pick_all(question, passages, idf)
    return quotes[0] if quotes else None


def pick_all(
    question: str,
    passages: Sequence[Passage],
    idf: Mapping[str, float] | None = None,
) -> list[Quote]:
    """The best quote of each candidate passage, best first."""
    if not passages:
        return []
    weights = term_weights(question, passages, idf or {})
    total = sum(weights.values())
    quotable = [p for p in passages[:CANDIDATE_PASSAGES] if not p.reference]
    if not quotable:
        return []
    top = quotable[0].score or 1.0
    quotes: list[Quote] = []
    candidates = [p for p in quotable if p.score >= CANDIDATE_FLOOR * top]
    # a section whose headings name every word of the question was written to answer it (an
    # FAQ entry, a how-to titled by its task; the page title alone is not enough): its body need not repeat the words to be the
    # answer, so it is quoted rather than a passage that only mentions them (as confidence does)
    asked = [w for w in topic_words(question) if w not in QUESTION_WORDS]
    titled = [p for p in candidates if heading_covers(asked, _heading_terms(p.heading or p.title))]
    prepared = [(p, _prepared(p.text)) for p in titled or candidates]
    lengths = [length for _, scored in prepared for length in scored.lengths]
    average = max(sum(lengths) / len(lengths), 1.0) if lengths else 1.0
    for passage, scored in prepared:
        if not scored.units:
            continue
        scores = _score_units(scored, weights, total, average)
        i = max(range(len(scored.units)), key=lambda i: (scores[i], -i))
        score = RANK_WEIGHT * passage.score / top + scores[i]
        text = render(scored.units) if scored.words <= SHORT_PASSAGE_WORDS else _assemble(scored, scores, i)
        quotes.append(Quote(passage=passage, text=text, score=score))
    # stable: on a tie the passage retrieval ranked higher stays first
    return sorted(quotes, key=lambda q: -q.score)
