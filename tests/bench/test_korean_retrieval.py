"""bench/korean_retrieval.py's analyses still run against the product's tokenizer: the bench is
not part of the suite, and a rename in bot/retrieval/tokenize.py once broke it silently."""

from __future__ import annotations

from bench import korean_retrieval as kr


def test_the_anchor_is_plain_character_bigrams() -> None:
    terms = kr._plain_bigram("환불을 요청 API 키")
    assert terms.words == []
    assert terms.bigrams == ["환불", "불을", "요청", "api", "키"]


def test_every_candidate_analyses_korean_and_english_text() -> None:
    for candidate in kr.candidates(with_kiwi=False):
        document = candidate.analysis("환불을 요청하려면 API 키를 설정하세요")
        query = candidate.analysis("환불은 어떻게 요청해요?", query=True)
        assert document.words or document.bigrams, candidate.name
        assert query.words or query.bigrams, candidate.name
        assert candidate.grid, candidate.name
