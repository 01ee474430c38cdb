"""The offline answerer: the part of a passage that answers, not a dump of it."""

from __future__ import annotations

from bot.answering.extractive import ExtractiveAnswerer, excerpt
from bot.messages import say
from bot.types import DocVisibility, Passage
from tests.fakes.tokens import OPENAI_KEY, SLACK_BOT_TOKEN


def passage(text: str, path: str = "a.md", score: float = 10.0, heading: str = "") -> Passage:
    return Passage(
        chunk_id=f"{path}#0",
        path=path,
        title=path,
        heading=heading,
        text=text,
        score=score,
        visibility=DocVisibility.PUBLIC,
    )


LONG = (
    "Our product has many settings and this page describes all of them in detail for administrators. "
    "The colour theme can be changed in the appearance panel, which also controls the font size. "
    "Notifications are sent by email every morning unless you turn them off in your profile. "
    "To export your data, open Settings and choose Export; the archive arrives by email within an hour. "
    "Exports include every project, comment and attachment you can see. "
    "Billing questions go to the finance team, who answer within two working days. "
    "The mobile app supports offline mode for documents you opened recently. "
    "Keyboard shortcuts are listed under the question mark menu in the top bar of every page."
)


def test_a_short_section_is_the_answer_whole() -> None:
    text = "Refunds take five to seven business days."
    assert excerpt("how long do refunds take", passage(text), [passage(text)]) == text


def test_a_long_passage_gives_the_relevant_sentences_only() -> None:
    p = passage(LONG)
    answer = excerpt("How do I export my data?", p, [p])
    assert "To export your data, open Settings and choose Export" in answer
    assert "Keyboard shortcuts" not in answer and "colour theme" not in answer
    assert len(answer.split()) < len(LONG.split()) / 2


def test_an_introduced_list_stays_with_its_introduction() -> None:
    filler = " ".join(f"Unrelated sentence number {i} about something else entirely." for i in range(12))
    text = (
        filler
        + "\n\nTo rotate the signing key, follow these steps:\n\n- Open Settings\n- Press Rotate\n- Update receivers\n\n"
        + filler
    )
    p = passage(text)
    answer = excerpt("how do I rotate the signing key", p, [p])
    assert "follow these steps:" in answer
    assert "- Open Settings" in answer and "- Update receivers" in answer
    assert "Unrelated sentence number 5" not in answer


def test_below_the_threshold_it_abstains() -> None:
    answerer = ExtractiveAnswerer(threshold=0.5)
    answer = answerer.answer_now("anything", [passage("text")], "en", confidence=0.2)
    assert answer.abstained and answer.citations == ()
    none = answerer.answer_now("anything", [], "ko", confidence=0.9)
    assert none.abstained and "문서에서" in none.text


def test_citations_name_other_strong_files_once() -> None:
    answerer = ExtractiveAnswerer(threshold=0.1, max_sources=2)
    ps = [
        passage("A.", "a.md", 10),
        passage("A again.", "a.md", 9.9),
        passage("B.", "b.md", 8),
        passage("C.", "c.md", 7.9),
    ]
    answer = answerer.answer_now("q", ps, "en", confidence=0.9)
    assert [c.path for c in answer.citations] == ["a.md", "b.md"]


def test_weak_other_files_are_not_cited() -> None:
    answerer = ExtractiveAnswerer(threshold=0.1)
    answer = answerer.answer_now(
        "q", [passage("A.", "a.md", 10), passage("B.", "b.md", 3)], "en", confidence=0.9
    )
    assert [c.path for c in answer.citations] == ["a.md"]


def test_a_korean_question_on_an_english_document_says_it_quotes_the_original() -> None:
    answerer = ExtractiveAnswerer(threshold=0.1)
    answer = answerer.answer_now(
        "환불은 얼마나 걸리나요?", [passage("Refunds take five days.")], "ko", confidence=0.9
    )
    assert answer.text.startswith("문서의 관련 내용입니다") and "Refunds take five days." in answer.text
    assert answer.language == "ko"


def test_credentials_pasted_into_a_document_are_not_quoted() -> None:
    answerer = ExtractiveAnswerer(threshold=0.1)
    text = f"Connect with the bot token {SLACK_BOT_TOKEN} and the key {OPENAI_KEY}."
    answer = answerer.answer_now("which token", [passage(text)], "en", confidence=0.9)
    assert SLACK_BOT_TOKEN not in answer.text and OPENAI_KEY not in answer.text
    assert "[redacted]" in answer.text


def test_a_korean_passage_showing_code_is_not_labelled_as_another_language() -> None:
    """The label says the quote is in another language than the question: a Korean section
    whose example is Python is Korean (the code is what it shows, not what it says)."""
    text = (
        "설정 파일에 다음 내용을 추가하면 재시도 횟수를 바꿀 수 있습니다.\n\n```python\n"
        "from acme import Client, RetryPolicy\n\nclient = Client(\n"
        '    base_url="https://api.example.com",\n'
        "    retry=RetryPolicy(max_attempts=5, backoff_seconds=2),\n)\nclient.connect()\n```"
    )
    answer = ExtractiveAnswerer(threshold=0.0).answer_now(
        "재시도 횟수는 어떻게 바꾸나요?", [passage(text, "retry.md", heading="재시도 설정")], "ko", 1.0
    )
    assert "설정 파일에" in answer.text
    assert say("quoted_original", "ko") not in answer.text
    english = ExtractiveAnswerer(threshold=0.0).answer_now(
        "How do I change the retry count?", [passage(text, "retry.md", heading="재시도 설정")], "en", 1.0
    )
    assert english.text.startswith(say("quoted_original", "en"))
