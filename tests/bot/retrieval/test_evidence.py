"""What a search says about its best passage: the section titled by the question leads, and a
name the documentation never uses counts against the answer."""

from __future__ import annotations

from pathlib import Path

from bot.retrieval.confidence import LEAD_SIZE_CAP, lead_share, lead_size
from bot.retrieval.evidence import asked_words, assess, titled_first
from bot.retrieval.index import SearchIndex
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
        return assess(kb.index, question, terms, passages, chunks, asked).unknown_name

    assert unknown("Why does importing raise PydanticImportError?") == 0.0
    assert unknown("Why does importing raise KafkaStreamsTimeout?") == 1.0
    assert unknown("Why does importing raise Kafka?") == 1.0
    kb.close()


def _page(title: str, sections: list[tuple[str, str]]) -> str:
    return f"# {title}\n\n" + "".join(f"## {heading}\n\n{body}\n\n" for heading, body in sections)


def test_a_question_about_a_page_leads_with_that_page_and_a_stray_word_does_not(tmp_path: Path) -> None:
    """lead_share and lead_size: the page that answers holds several of the passages found and
    is longer than the folder's usual page; a question the docs do not answer matches a word
    here and a word there, and its lead is a stub."""
    docs = tmp_path / "docs"
    docs.mkdir()
    webhooks = [
        (f"Webhook {topic}", f"Webhook {topic}: the webhook signing secret verifies each delivery {topic}.")
        for topic in ("setup", "retries", "signatures", "payloads", "testing", "rotation")
    ]
    (docs / "webhooks.md").write_text(_page("Webhooks", webhooks), encoding="utf-8")
    names = [f"{area}{n}" for area in ("billing", "teams", "exports", "themes") for n in range(5)]
    for name in names:
        (docs / f"{name}.md").write_text(
            _page(
                name.title(),
                [(f"Part {k}", f"The {name} page, part {k}: plans and members.") for k in range(4)],
            )
            + "## Overview\n\nThe dashboard shows limits.\n",
            encoding="utf-8",
        )
    (docs / "glossary.md").write_text("# Glossary\n\nDelivery: one attempt.\n", encoding="utf-8")
    kb = KnowledgeBase(docs, tmp_path / "index")
    kb.sync()
    assert kb.index.mean_file_chunks() == kb.index.size / (len(names) + 2)
    assert kb.index.file_chunks("webhooks.md") > kb.index.file_chunks("glossary.md") >= 1

    def evidence(question: str) -> tuple[str, float, float]:
        terms = analyze_query(question)
        passages, chunks = kb.index.search(terms, DocVisibility.INTERNAL, 10)
        found = assess(kb.index, question, terms, passages, chunks, asked_words(question))
        return passages[0].path, found.lead_share, found.lead_size

    path, share, size = evidence("How do I verify the webhook signing secret of a delivery?")
    assert path == "webhooks.md" and share > 0.5 and size > 1.0
    path, share, size = evidence("Which dashboard theme limits a delivery attempt?")
    assert share < 0.5 and size < 1.0
    kb.close()


def test_the_mean_page_length_is_counted_again_after_a_change(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text(_page("A", [("One", "alpha"), ("Two", "beta")]), encoding="utf-8")
    kb = KnowledgeBase(docs, tmp_path / "index")
    kb.sync()
    before = kb.index.mean_file_chunks()
    assert before == kb.index.file_chunks("a.md") == kb.index.size
    (docs / "b.md").write_text("# B\n\ngamma\n", encoding="utf-8")
    kb.sync()
    assert kb.index.mean_file_chunks() == kb.index.size / 2 < before
    kb.close()


def test_an_edited_page_counts_its_live_chunks_only(tmp_path: Path) -> None:
    """tantivy's doc_freq also counts the chunks an edit replaced, until a merge: the page
    would look twice as long after one edit."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(5):
        (docs / f"p{n}.md").write_text(_page(f"P{n}", [("One", "alpha"), ("Two", "beta")]), encoding="utf-8")
    kb = KnowledgeBase(docs, tmp_path / "index")
    kb.sync()
    before = kb.index.file_chunks("p0.md")
    (docs / "p0.md").write_text(_page("P0", [("One", "alpha gamma"), ("Two", "beta")]), encoding="utf-8")
    kb.sync()
    assert kb.index.file_chunks("p0.md") == before
    assert kb.index.mean_file_chunks() == kb.index.size / 5
    kb.close()


def test_another_instance_sees_the_new_mean_after_a_sync_elsewhere(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text(_page("A", [(f"S{n}", f"text {n}") for n in range(6)]), encoding="utf-8")
    writer = KnowledgeBase(docs, tmp_path / "index")
    writer.sync()
    reader = SearchIndex(tmp_path / "index" / "tantivy")
    assert reader.mean_file_chunks() == writer.index.mean_file_chunks() == writer.index.size
    (docs / "b.md").write_text("# B\n\nshort\n", encoding="utf-8")
    writer.sync()
    reader._index.reload()  # what a reader's next searcher sees after another's commit
    assert reader.mean_file_chunks() == writer.index.size / 2
    writer.close()


def test_a_page_far_longer_than_any_the_fit_saw_is_held_at_the_cap() -> None:
    assert lead_size(300, 4.0) == LEAD_SIZE_CAP
    assert lead_size(1, 40.0) == 1 / LEAD_SIZE_CAP
    assert lead_size(6, 4.0) == 1.5
    assert lead_size(3, 0.0) == 1.0


def test_a_page_that_is_much_of_the_index_counts_its_share_beyond_its_weight() -> None:
    assert lead_share(0.6, page_chunks=5, index_chunks=500) == 0.6  # an ordinary page
    assert lead_share(1.0, page_chunks=300, index_chunks=500) == 1.0 * 0.1 / 0.6  # a changelog
    assert lead_share(0.5, page_chunks=0, index_chunks=0) == 0.5
