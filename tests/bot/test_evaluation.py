"""`supportbot eval`'s figures on a set small enough to work out by hand.

The set has four documents and nine questions. The confidence threshold is set low, so the
bot gives up exactly when retrieval finds nothing: the figures then follow from which words
the questions share with the documents, not from how confidence is calibrated. With every
document indexed:

| id | lang | gold | first gold rank | answered | answer holds a key string |
| --- | --- | --- | --- | --- | --- |
| a1 | en | refunds.md | 1 | yes | yes ("five to seven business days") |
| a2 | en | password-reset.md | 1 | yes | yes ("Forgot  PASSWORD", after normalising) |
| a3 | en | slack-setup.md | 1 | yes | no ("OAuth scopes" is in no document) |
| a4 | en | slack-setup.md | 1 | yes | not counted: no key strings |
| a5 | en | faq-ko.md | 2 (refunds.md first) | yes | no (the English page is quoted) |
| a6 | en | refunds.md | none: no word matches | no | no |
| u1 | en | [] | - | no | - |
| k1 | ko | faq-ko.md | 1 | yes | yes ("30일 이내") |
| k2 | ko | [] | - | no | - |
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, load_settings
from bot.errors import SupportBotError
from bot.evaluation import EvalQuestion, contains_any, eval_bot, evaluate, index_set, load_questions
from tests.fakes.openai_server import FakeOpenAI

DOCS = {
    "refunds.md": """\
        # Refund policy

        Customers can ask for a refund within 30 days of purchase. Refunds go back to the original
        payment method and take five to seven business days to arrive.
        """,
    "password-reset.md": """\
        # Resetting your password

        To reset your password, open the login page and click "Forgot password". We email you a reset
        link that stays valid for one hour.
        """,
    "slack-setup.md": """\
        # Connecting Slack

        The bot needs two tokens in its environment: `SLACK_BOT_TOKEN`, which starts with xoxb-, and
        `SLACK_APP_TOKEN`, the app-level token for Socket Mode, which starts with xapp-.
        """,
    "faq-ko.md": """\
        # 환불 안내

        ## 환불은 어떻게 받나요?

        구매 후 30일 이내에 환불을 요청할 수 있습니다. 환불 금액은 원래 결제 수단으로 돌아가며
        영업일 기준 5~7일이 걸립니다.
        """,
}

QUESTIONS: list[dict[str, Any]] = [
    {
        "id": "a1",
        "question": "How long does a refund take?",
        "gold": ["refunds.md"],
        "answers": ["five to seven business days"],
    },
    {
        "id": "a2",
        "question": "How do I reset my password?",
        "gold": ["password-reset.md"],
        "answers": ["Forgot  PASSWORD"],
    },
    {
        "id": "a3",
        "question": "Which tokens does the bot need for Slack?",
        "gold": ["slack-setup.md"],
        "answers": ["OAuth scopes"],
    },
    {"id": "a4", "question": "What does the xapp- token do?", "gold": ["slack-setup.md"], "answers": []},
    {"id": "u1", "question": "What is the capital of Peru?", "gold": [], "answers": []},
    {"id": "k1", "question": "환불은 어떻게 받나요?", "gold": ["faq-ko.md"], "answers": ["30일 이내"]},
    {"id": "k2", "question": "지하철역 위치는?", "gold": [], "answers": []},
    {
        "id": "a5",
        "question": "Refund within 30 days of purchase?",
        "gold": ["faq-ko.md"],
        "answers": ["30일 이내"],
    },
    {
        "id": "a6",
        "question": "Is there a cooling-off period?",
        "gold": ["refunds.md"],
        "answers": ["30 days"],
    },
]

TIMINGS = ("p50_ms", "p99_ms")


@pytest.fixture
def evalset(tmp_path: Path) -> Path:
    folder = tmp_path / "set"
    for name, text in DOCS.items():
        target = folder / "knowledge" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    (folder / "questions.jsonl").write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in QUESTIONS), encoding="utf-8"
    )
    return folder


@pytest.fixture
def settings_for(tmp_path: Path, evalset: Path) -> Callable[..., Settings]:
    def make(toml: str = "", env: dict[str, str] | None = None) -> Settings:
        config = tmp_path / "supportbot.toml"
        config.write_text(f"[answer]\nconfidence_threshold = 0.05\n{toml}", encoding="utf-8")
        return load_settings(
            config=config,
            knowledge=evalset / "knowledge",
            data=tmp_path / "data",
            env=env or {},
            cwd=tmp_path,
        )

    return make


async def run_eval(
    settings: Settings, questions: list[EvalQuestion], held_out: frozenset[str] = frozenset()
) -> dict[str, Any]:
    knowledge, _ = index_set(settings, held_out)
    with eval_bot(settings, knowledge) as bot:
        try:
            return await evaluate(bot, questions, held_out=held_out)
        finally:
            await bot.aclose()


def without_timings(figures: dict[str, Any]) -> dict[str, Any]:
    for key in TIMINGS:
        assert isinstance(figures[key], float) and 0 <= figures[key] <= figures["p99_ms"]
    return {key: value for key, value in figures.items() if key not in TIMINGS}


async def test_every_figure_comes_out_as_worked_out_by_hand(
    evalset: Path, settings_for: Callable[..., Settings]
) -> None:
    report = await run_eval(settings_for(), load_questions(evalset / "questions.jsonl"))
    by_language = report.pop("by_language")
    assert without_timings(report) == {
        "questions": 9,
        "answerable": 7,
        "unanswerable": 2,  # u1 and k2: gold: []
        "recall@1": 0.7143,  # 5/7
        "recall@5": 0.8571,  # 6/7: a6 finds nothing
        "mrr@10": 0.7857,  # (5 + 1/2) / 7
        "answer_contains": 0.5,  # a1, a2, k1 of a1, a2, a3, a5, a6, k1
        "context_contains": None,  # no model
        "answered_when_answerable": 0.8571,  # all but a6
        "abstained_when_unanswerable": 1.0,
        "abstain_rate": 0.3333,  # a6, u1, k2
    }
    assert set(by_language) == {"en", "ko"}
    assert without_timings(by_language["en"]) == {
        "questions": 7,
        "answerable": 6,
        "unanswerable": 1,
        "recall@1": 0.6667,  # 4/6
        "recall@5": 0.8333,  # 5/6
        "mrr@10": 0.75,  # (4 + 1/2) / 6
        "answer_contains": 0.4,  # a1, a2 of a1, a2, a3, a5, a6
        "context_contains": None,
        "answered_when_answerable": 0.8333,  # 5/6
        "abstained_when_unanswerable": 1.0,
        "abstain_rate": 0.2857,  # 2/7
    }
    assert without_timings(by_language["ko"]) == {
        "questions": 2,
        "answerable": 1,
        "unanswerable": 1,
        "recall@1": 1.0,
        "recall@5": 1.0,
        "mrr@10": 1.0,
        "answer_contains": 1.0,
        "context_contains": None,
        "answered_when_answerable": 1.0,
        "abstained_when_unanswerable": 1.0,
        "abstain_rate": 0.5,
    }
    assert "held_out_documents" not in report


async def test_a_question_whose_gold_is_held_out_counts_as_unanswerable(
    evalset: Path, settings_for: Callable[..., Settings]
) -> None:
    """Without slack-setup.md, a3 and a4 join u1 and k2 on the side the bot should give up on."""
    report = await run_eval(
        settings_for(), load_questions(evalset / "questions.jsonl"), frozenset({"slack-setup.md"})
    )
    by_language = report.pop("by_language")
    assert without_timings(report) == {
        "questions": 9,
        "answerable": 5,
        "unanswerable": 4,
        "recall@1": 0.6,  # a1, a2, k1
        "recall@5": 0.8,  # and a5
        "mrr@10": 0.7,  # (3 + 1/2) / 5
        "answer_contains": 0.6,  # a1, a2, k1 of a1, a2, a5, a6, k1
        "context_contains": None,
        "answered_when_answerable": 0.8,
        "abstained_when_unanswerable": 1.0,  # nothing left in the index answers a3 or a4
        "abstain_rate": 0.5556,  # 5/9
        "held_out_documents": 1,
    }
    assert (by_language["en"]["answerable"], by_language["en"]["unanswerable"]) == (4, 3)
    assert (by_language["ko"]["answerable"], by_language["ko"]["unanswerable"]) == (1, 1)


async def test_a_language_without_questions_has_no_figures(settings_for: Callable[..., Settings]) -> None:
    questions = [EvalQuestion(id="1", question="How do I reset my password?", gold=(), answers=())]
    report = await run_eval(settings_for(), questions)
    assert report["answerable"] == 0 and report["unanswerable"] == 1
    assert report["recall@1"] is None and report["answered_when_answerable"] is None
    assert report["by_language"]["ko"] == {
        key: 0 if key in ("questions", "answerable", "unanswerable") else None
        for key in report["by_language"]["ko"]
    }


async def test_with_a_model_context_contains_says_whether_the_prompt_held_the_answer(
    evalset: Path, settings_for: Callable[..., Settings]
) -> None:
    """The model writes the same English sentence whatever it is asked, so only a1's answer
    holds a key string, and k1's (Korean) gives way to the quoted documentation, which holds
    one; the prompt holds one for a1, a2, a5 (faq-ko.md ranks second) and k1, not for a3
    (no document has it) nor a6 (nothing retrieved, nothing in the prompt)."""
    async with FakeOpenAI() as fake:
        fake.default_reply = "Refunds take five to seven business days [1]."
        settings = settings_for(
            "[llm]\nmax_retries = 0\ntimeout_seconds = 5\n",
            {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": fake.api_key},
        )
        report = await run_eval(settings, load_questions(evalset / "questions.jsonl"))
    assert fake.chat_requests, "the model was never asked"
    assert report["context_contains"] == 0.6667  # 4/6
    assert report["answer_contains"] == 0.3333  # a1, k1 of 6
    assert report["by_language"]["en"]["context_contains"] == 0.6  # a1, a2, a5 of a1, a2, a3, a5, a6
    assert report["by_language"]["ko"]["context_contains"] == 1.0
    assert report["by_language"]["ko"]["answer_contains"] == 1.0


async def test_a_question_is_redacted_before_the_model_sees_it_and_scored_as_the_set_says(
    settings_for: Callable[..., Settings],
) -> None:
    """Before the twenty-fourth session eval sent each question to the model as written, where
    the chat it measures sends it redacted by `[privacy] redact` (a card number as `[card]`).
    The answer is still scored against the set's own key strings."""
    card = "4111" + "1111" * 3
    asked = EvalQuestion(
        id="c1",
        question=f"How long does a refund to my card {card} take?",
        gold=("refunds.md",),
        answers=("five to seven business days",),
    )
    async with FakeOpenAI() as fake:
        fake.default_reply = "Refunds take five to seven business days [1]."
        settings = settings_for(
            "[llm]\nmax_retries = 0\ntimeout_seconds = 5\n",
            {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": fake.api_key},
        )
        report = await run_eval(settings, [asked])
    [request] = fake.chat_requests
    assert "How long does a refund to my card [card] take?" in request.prompt
    assert card not in request.prompt
    assert report["recall@1"] == 1.0 and report["answer_contains"] == 1.0


def test_a_key_string_is_found_in_an_answer_as_its_reader_sees_it() -> None:
    # a quoted passage keeps the document's escapes; the reader sees `__init__.py`
    assert contains_any(r"Create an empty \_\_init\_\_.py file.", ["__init__.py"])
    assert not contains_any(r"Run `a\_b`.", ["a_b"])  # code shows its backslash


async def test_gold_and_answers_given_as_one_string_are_a_list_of_one(
    settings_for: Callable[..., Settings], evalset: Path
) -> None:
    """A row with `"gold": "refunds.md"` or `"answers": "forty business weeks"` (one string, not
    a list) used to be read letter by letter: the gold document was never found (its letters
    were the gold) and every answer "held" the wrong key string (any one letter). Now one
    string is the one item it is; anything else but a list of strings is refused, naming the line."""
    path = evalset / "questions.jsonl"
    rows = [
        {
            "id": "s1",
            "question": "How long does a refund take?",
            "gold": "refunds.md",
            "answers": "forty business weeks",
        }
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    questions = load_questions(path)
    assert (questions[0].gold, questions[0].answers) == (("refunds.md",), ("forty business weeks",))
    figures = await run_eval(settings_for(), questions)
    assert figures["recall@1"] == 1.0 and figures["answer_contains"] == 0.0, figures

    for wrong in ({"answers": 5}, {"gold": {"path": "refunds.md"}}, {"answers": ["five", 7]}):
        row = {"id": "x", "question": "How long does a refund take?", **wrong}
        path.write_text(json.dumps(rows[0]) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
        with pytest.raises(
            SupportBotError, match=rf"line 2: .*`{next(iter(wrong))}` must be a list of strings"
        ):
            load_questions(path)
