"""What a search says about its best passage: the section titled by the question leads, and a
name the documentation never uses counts against the answer."""

from __future__ import annotations

from pathlib import Path

from bot.retrieval.evidence import asked_words, assess, titled_first
from bot.retrieval.knowledge import KnowledgeBase
from bot.retrieval.tokenize import analyze_query
from bot.types import DocVisibility, Passage


def _passage(heading: str, score: float) -> Passage:
    return Passage(chunk_id=heading, path="guide.md", title="Guide", heading=heading, text="...", score=score)


def test_a_section_titled_by_the_question_leads_when_it_is_among_the_best_few() -> None:
    passages = [_passage(h, 9.0 - i) for i, h in enumerate(["Install", "Tokens", "Reset your password"])]
    asked = asked_words("How do I reset my password?")
    assert [p.heading for p in titled_first(asked, passages)] == ["Reset your password", "Install", "Tokens"]
    far = [_passage(f"Part {i}", 20.0 - i) for i in range(5)] + passages
    assert titled_first(asked, far) == far  # beyond TITLED_WITHIN the ranking stands


def test_a_name_made_of_the_docs_words_is_not_unknown(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "errors.md").write_text(
        "# Errors\n\nAn import error is raised when pydantic cannot import a moved class.\n", encoding="utf-8"
    )
    kb = KnowledgeBase(docs, tmp_path / "index")
    kb.sync()

    def unknown(question: str) -> float:
        terms = analyze_query(question)
        passages, chunks = kb.index.search(terms, DocVisibility.INTERNAL, 5)
        asked = asked_words(question)
        return assess(kb.index, question, terms, passages[0], chunks, asked).unknown_name

    assert unknown("Why does importing raise PydanticImportError?") == 0.0
    assert unknown("Why does importing raise KafkaStreamsTimeout?") == 1.0
    assert unknown("Why does importing raise Kafka?") == 1.0
    kb.close()
