"""Retrieval confidence in [0, 1): what decides between answering and handing over.

One scale for every language: the probability that the question is answered by what was
found, from a logistic model per language over a few facts about the search (Evidence):

- strength: log(s1 / ln(N) / sqrt(q)), the best chunk's BM25 score divided by ln(N) (IDF,
  and so scores, grow with the size of the index) and by the square root of the number of
  distinct query terms (a long question piles up score without matching any better);
- coverage: the share of the question's IDF mass found in the best passage (its text,
  title and headings), for words and, in Korean, character bigrams;
- absent: the share of the question's IDF mass in words the whole index never uses;
- lead share: the share of the first LEAD_WINDOW passages found that come from the leading
  passage's file. A question the docs answer is about a page: several of its passages match.
  A question they do not answer picks up one passage here and one there, each for a word.
  A page that is a large part of the index fills the window by chance: its share counts only
  beyond its weight (lead_share());
- lead size: the leading file's chunks over the index's mean chunks per file. The pages that
  answer are substantial ones; a stray match lands on a stub, a changelog entry, an index
  page. Relative to this folder's own mean, so a folder of short FAQ entries, every page
  alike, is not held against itself (its lead size is about 1 for every question);
- unknown name: the question names something (a capitalised or upper-case word, or a Latin
  word in a Korean question) that the whole index never uses. A question about something
  the docs do not mention (Kafka, Tailwind, JWT) usually names it; a question the docs
  answer uses the docs' own names. A compound identifier (PydanticImportError, read_json)
  counts as unknown only when at least UNKNOWN_SHARE of the words it is made of are unused:
  people paste error classes and identifiers built from the docs' own words. The share is
  chosen with the coefficients, by cross-validation inside the training folds.

The coefficients are fitted by `python bench/confidence_fit.py`, with k-fold
cross-validation over question groups on the eval sets: unanswerable questions (gold: [])
and hold-outs (the gold documents removed from the index) are the negatives. Documentation
trees (realdocs_dev) count twice as much as the QA sets (Wikipedia paragraphs, StackExchange
threads): they are what the bot is pointed at, and their negatives are the ones it meets
(questions about things the docs never cover, not a paragraph removed from its article).
The boundary itself is chosen on the held-out scores as the cut that maximises the worst
answered / abstained rate over the documentation sets, and folded into the intercepts, so
0.5 stays the boundary here. Each language
has its own coefficients, fitted on its own questions, so 0.5 means the same in Korean and
English, and one threshold serves both. The fit, its held-out figures and the data it used
are printed by that command and reported in the README.

One rule is added on top: when every word of the question (at least two) appears in the
title or headings of the best passage, that passage was written to answer this question
(an FAQ entry, a how-to titled by its task), and confidence is at least HEADING_MATCH.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

# question words: kept for ranking ("how do I turn off"), but they name no topic, so they
# count neither for nor against an answer (small folders rarely contain "how" at all)
QUESTION_WORDS = frozenset({"how", "what", "whi", "when", "where", "which", "who", "whom", "whose"})

LEAD_WINDOW = 10  # the passages lead_share is counted over (the search reads at least this many)
LEAD_SIZE_CAP = 8.0  # lead_size is held within [1/8, 8] (lead_size() says why)
THRESHOLD = 0.5  # the default [answer] confidence_threshold: the calibrated boundary
HEADING_MATCH = 0.6
# a name is unknown when at least this share of its parts no passage uses; chosen by
# cross-validation in bench/confidence_fit.py with the coefficients (do not edit by hand)
UNKNOWN_SHARE = 0.5


@dataclass(frozen=True, kw_only=True)
class Evidence:
    korean: bool  # the question has Hangul: the Korean coefficients apply
    top_score: float
    chunks: int
    query_terms: int
    word_coverage: float
    bigram_coverage: float
    absent: float
    reach: float  # the best score over the most a passage could score: every query term once
    unknown_name: float = 0.0  # how much the question names something no passage has (Kafka: 1)
    heading_match: bool = False
    lead_share: float = 1.0  # of the first LEAD_WINDOW passages, the share from the lead's file
    lead_size: float = 1.0  # the lead's file's chunks over the index's mean chunks per file


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """Logistic coefficients over `features()`, in its order."""

    intercept: float
    weights: tuple[float, ...]


# fitted by bench/confidence_fit.py (see the module docstring); do not edit by hand
CALIBRATION: Mapping[str, Calibration] = {
    "en": Calibration(
        intercept=2.0017, weights=(2.3613, 0.9764, 0.0, -2.1251, 0.6042, -1.9814, 0.743, 0.6023)
    ),
    "ko": Calibration(
        intercept=2.2139, weights=(1.0644, 1.6625, 0.2365, -1.2078, 0.7616, -1.8357, 0.8577, 0.6941)
    ),
}


def coverage(query: Sequence[str], found: set[str] | frozenset[str], idf: Mapping[str, float]) -> float:
    """The share of the IDF mass of `query` (distinct terms) that `found` holds."""
    total = sum(idf.get(t, 0.0) for t in set(query))
    if total <= 0:
        return 0.0
    return sum(idf.get(t, 0.0) for t in set(query) if t in found) / total


def absent_share(query: Sequence[str], idf: Mapping[str, float], chunks: int) -> float:
    """The share of the IDF mass of `query` in terms no chunk has (they carry the top IDF)."""
    total = sum(idf.get(t, 0.0) for t in set(query))
    if total <= 0:
        return 0.0
    top = math.log(1 + (chunks + 0.5) / 0.5)
    return sum(w for t in set(query) if (w := idf.get(t, 0.0)) >= top - 1e-9) / total


_NAME = re.compile(r"\b(?:[A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9]*|[A-Z][a-z]+[A-Za-z0-9]*)\b")
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9]+")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)([A-Za-z]+)")


def names(question: str, korean: bool) -> list[str]:
    """Words of `question` that name something: capitalised or upper-case words that do not
    start a sentence (MongoDB, Kafka, JWT), and in a Korean question every Latin-script word
    (Korean is written in Hangul, so Latin words are product and API names)."""
    if korean:
        return _LATIN.findall(question)
    starters = {m.group(1) for m in _SENTENCE_START.finditer(question)}
    return [w for w in _NAME.findall(question) if w not in starters]


# the pieces of a compound identifier: an upper-case run with a plural s (POSTs, URLs), an
# upper-case run before a capitalised word (HTTP|Server), a capitalised or lower-case word
# (Pydantic|Import|Error, get|Element); digits and underscores only separate pieces
_PART = re.compile(r"[A-Z]+s(?![a-z])|[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")


def name_parts(name: str) -> list[str]:
    """The words a name is made of: PydanticImportError -> Pydantic, Import, Error; HTTPServer ->
    HTTP, Server; read_json -> read, json. A plain word (Kafka, JWT, POSTs) is its only part."""
    return _PART.findall(name)


def lead_share(found: float, page_chunks: int, index_chunks: int) -> float:
    """`found`, the share of the first LEAD_WINDOW passages from the lead's page, beyond what
    the page's length alone brings: a page holding more than a LEAD_WINDOW-th of the index (a
    changelog of hundreds of entries, one giant reference page) fills the window by chance, so
    its share is scaled down by how far its own weight passes that. Below it, unchanged."""
    weight = page_chunks / index_chunks if index_chunks > 0 else 0.0
    return found * min(1.0, (1 / LEAD_WINDOW) / weight) if weight > 0 else found


def lead_size(chunks: int, mean: float) -> float:
    """A page's chunks over the folder's mean, held within [1/LEAD_SIZE_CAP, LEAD_SIZE_CAP]: the
    fit saw pages from a twelfth to twelve times their folder's mean, nearly all within eight,
    and a page far longer than any it saw (a changelog of hundreds of entries) would otherwise
    carry its stray matches over the threshold by extrapolation."""
    ratio = chunks / mean if mean > 0 else 1.0
    return min(max(ratio, 1 / LEAD_SIZE_CAP), LEAD_SIZE_CAP)


def strength(evidence: Evidence) -> float:
    if evidence.top_score <= 0 or evidence.query_terms <= 0:
        return -10.0
    c = evidence.top_score / math.log(max(evidence.chunks, 2)) / math.sqrt(evidence.query_terms)
    return math.log(c)


def features(evidence: Evidence, unknown_share: float = UNKNOWN_SHARE) -> tuple[float, ...]:
    return (
        strength(evidence),
        evidence.word_coverage,
        evidence.bigram_coverage,
        evidence.absent,
        math.log(max(evidence.reach, 1e-3)),
        float(evidence.unknown_name >= unknown_share),
        math.log(max(evidence.lead_share, 1e-3)),
        math.log(max(evidence.lead_size, 1e-3)),
    )


def calibrated(evidence: Evidence, calibration: Calibration, unknown_share: float = UNKNOWN_SHARE) -> float:
    z = calibration.intercept + sum(
        w * x for w, x in zip(calibration.weights, features(evidence, unknown_share), strict=True)
    )
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


def confidence(evidence: Evidence) -> float:
    if evidence.top_score <= 0 or evidence.query_terms <= 0:
        return 0.0
    sure = calibrated(evidence, CALIBRATION["ko" if evidence.korean else "en"])
    return max(sure, HEADING_MATCH) if evidence.heading_match else sure


_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def heading_covers(question_words: Sequence[str], heading_words: Set[str]) -> bool:
    """Every word of the question (at least two) is in the headings. A Korean word counts when
    a heading word starts with it: particles and endings stay on a word (봇을, 연결하려면) where a
    stripper may not take them off."""

    def found(word: str) -> bool:
        if word in heading_words:
            return True
        return bool(_HANGUL.match(word)) and any(h.startswith(word) for h in heading_words)

    return len(question_words) >= 2 and all(found(word) for word in question_words)
