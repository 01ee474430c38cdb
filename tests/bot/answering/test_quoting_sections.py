"""The offline answer quotes from whole sections, not only the chunk retrieval matched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.app import Runtime
from bot.types import DocVisibility
from tests.fakes.answerers import RecordingExtractive

SECTION = (
    "# Reports\n\n## Scheduled exports\n\n"
    "Scheduled exports send a report on a timetable, and each workspace turns them on once.\n\n"
    + "\n\n".join(
        f"Background note {i}: retention windows, quota arithmetic and archive tiers vary by plan."
        for i in range(40)
    )
    + "\n\nRun this once per workspace:\n\n```sh\nreportctl schedule --nightly\n```\n"
)


async def test_the_offline_answerer_reads_the_whole_section_of_the_chunk_that_matched(
    make_runtime: Callable[..., Runtime], knowledge_dir: Path
) -> None:
    (knowledge_dir / "reports.md").write_text(SECTION, encoding="utf-8")
    answerer = RecordingExtractive()
    rt = make_runtime(answerer=answerer)
    answer, result = await rt.bot.answers.ask(
        "How do scheduled exports get turned on?", DocVisibility.INTERNAL
    )
    # retrieval matched the section's first chunk, which does not hold the command
    assert result.passages[0].heading.endswith("Scheduled exports")
    assert "reportctl" not in result.passages[0].text
    given = answerer.given[-1]
    assert given[0].chunk_id == result.passages[0].chunk_id  # the same passage, best first ...
    assert "Background note 39" in given[0].text and "reportctl schedule --nightly" in given[0].text
    assert [(p.path, p.heading) for p in given].count((given[0].path, given[0].heading)) == 1  # ... once
    assert not answer.abstained and answer.citations[0].path == "reports.md"


PLANS = (
    "# Plans\n\n## Limits\n\n"
    + " ".join(f"Unrelated sentence number {i} about something else entirely." for i in range(15))
    + "\n\n| Plan | Upload limit | Seats |\n|------|--------------|-------|\n"
    "| Free | 10 MB | 1 |\n| Pro | 50 MB | 10 |\n| Enterprise | 1 GB | unlimited |\n\n"
    + " ".join(f"Unrelated sentence number {i} about something else entirely." for i in range(15))
    + "\n"
)


async def test_a_question_answered_by_a_table_row_quotes_the_row_with_its_header(
    make_runtime: Callable[..., Runtime], knowledge_dir: Path
) -> None:
    """Each row was a unit of its own: the header held the question's words and was quoted alone,
    confidently, as "Plan | Upload limit | Seats"; the row with the answer was left out."""
    (knowledge_dir / "plans.md").write_text(PLANS, encoding="utf-8")
    rt = make_runtime()
    answer, _ = await rt.bot.answers.ask("What is the upload limit on the Pro plan?", DocVisibility.INTERNAL)
    assert not answer.abstained and answer.citations[0].path == "plans.md"
    # the table is small: quoted whole, header first, without the prose around it
    assert (
        "Plan | Upload limit | Seats\nFree | 10 MB | 1\nPro | 50 MB | 10\nEnterprise | 1 GB | unlimited"
        in answer.text
    )
    assert "Unrelated sentence" not in answer.text
