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
