"""What a search says about its best passage: the evidence confidence is computed from.

Given the index, an analysed question and the passages found, it decides which passage
leads (a section titled by the question goes first: `titled_first`), measures how well the
lead answers (`assess`: coverage of the question's words, their absence from the corpus,
the heading, names the documentation never uses) and weighs the question's words for the
answer picker (`word_weights`). bot/retrieval/confidence.py turns the evidence into a
number; bot/retrieval/knowledge.py runs the search.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from bot.retrieval.confidence import (
    LEAD_WINDOW,
    QUESTION_WORDS,
    Evidence,
    absent_share,
    coverage,
    heading_covers,
    lead_share,
    lead_size,
    name_parts,
    names,
)
from bot.retrieval.index import SearchIndex
from bot.retrieval.tokenize import Terms, analyze, analyze_query, char_bigrams, tokenize, topic_words
from bot.types import Passage

_HANGUL_WORD = re.compile(r"[\uac00-\ud7a3]")
TITLED_WITHIN = 5  # how far down a section titled by the question is brought to the top


def asked_words(query: str) -> list[str]:
    """What the question asks about: its topic words without the question words."""
    return [w for w in topic_words(query) if w not in QUESTION_WORDS]


def titled_first(asked: Sequence[str], passages: list[Passage]) -> list[Passage]:
    """A section among the best few whose headings name every word the question asks about
    (`asked`: its topic words without the question words) was written to answer it (an FAQ
    entry, a how-to titled by its task): it goes first, the rest keep their order. The same
    rule makes such a section confident (bot/retrieval/confidence.py)."""
    for i, passage in enumerate(passages[:TITLED_WITHIN]):
        if heading_covers(asked, heading_words(passage.title, passage.heading)):
            return [passage, *passages[:i], *passages[i + 1 :]] if i else passages
    return passages


@lru_cache(maxsize=4096)
def heading_words(title: str, heading: str) -> frozenset[str]:
    """The words of a section's title and headings. Every search that finds the section reads
    them, so the last 4,096 sections' are kept rather than analysed again."""
    return frozenset(analyze(f"{title} {heading}"))


def assess(
    index: SearchIndex,
    query: str,
    terms: Terms,
    passages: Sequence[Passage],
    chunks: int,
    asked: Sequence[str],
    idf: Mapping[str, float] | None = None,
) -> Evidence:
    """What the search says about whether its lead, `passages[0]`, answers `query` (analysed:
    `terms`; `passages`: what the search found, best first, at least LEAD_WINDOW when the
    index has them; `asked`: `asked_words(query)`; `chunks`: how many the index holds;
    `idf`: the index's IDF of `terms.words` when the caller has it already)."""
    best = passages[0]
    window = passages[:LEAD_WINDOW]
    pages = index.file_chunks(best.path)
    found = tokenize(f"{best.title} {best.heading}\n{best.text}")
    topic = [w for w in terms.words if w not in QUESTION_WORDS]
    word_idf = {w: idf[w] for w in topic} if idf is not None else index.idf(topic)
    bigram_idf = index.idf(terms.bigrams, "bigram")
    return Evidence(
        korean=bool(terms.bigrams),
        top_score=best.score,
        chunks=chunks,
        query_terms=len(terms),
        word_coverage=coverage(topic, set(found.words), word_idf),
        bigram_coverage=coverage(terms.bigrams, set(found.bigrams), bigram_idf),
        absent=absent_share(topic, word_idf, chunks),
        reach=best.score / index.best_possible(word_idf, bigram_idf),
        heading_match=heading_covers(asked, heading_words(best.title, best.heading)),
        unknown_name=max(
            (_unknown(index, n, chunks) for n in names(query, bool(terms.bigrams))), default=0.0
        ),
        lead_share=lead_share(sum(p.path == best.path for p in window) / len(window), pages, chunks),
        lead_size=lead_size(pages, index.mean_file_chunks()),
    )


def word_weights(
    index: SearchIndex, query: str, terms: Terms, idf: Mapping[str, float] | None = None
) -> dict[str, float]:
    """The corpus IDF of each question word, for choosing what to quote (`idf`: that of
    `terms.words`, when the caller has it). Korean words are not indexed as words (search uses
    their bigrams), so a Korean word weighs the mean IDF of its character bigrams: a rare
    compound outweighs a common one, as in English."""
    weights = dict(idf) if idf is not None else index.idf(terms.words)
    korean = [w for w in topic_words(query) if _HANGUL_WORD.match(w) and w not in weights]
    if korean:
        grams = {w: char_bigrams(w) for w in korean}
        idf = index.idf(sorted({g for gs in grams.values() for g in gs}), "bigram")
        for word, gs in grams.items():
            weights[word] = sum(idf[g] for g in gs) / len(gs)
    return weights


def _unknown(index: SearchIndex, name: str, chunks: int) -> float:
    """How unknown `name` is: 0 when a passage uses it, else the share of the words it is
    made of (name_parts) that no passage uses. Users paste error classes and identifiers
    (PydanticImportError) whose parts the docs do use; MongoDB is unknown though "DB" is not."""
    words = analyze_query(name).words
    if not words or absent_share(words, index.idf(words), chunks) < 0.999:
        return 0.0
    parts = [w for part in name_parts(name) for w in analyze_query(part).words] or words
    idf = index.idf(parts)
    return sum(absent_share([w], idf, chunks) >= 0.999 for w in set(parts)) / len(set(parts))
