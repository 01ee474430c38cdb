"""What the offline answer quotes: the how-to, whole, from the passage that holds it."""

from __future__ import annotations

from bot.answering.context import fit_sections
from bot.answering.picker import MAX_CODE_LINES, pick
from bot.answering.units import UnitKind, split_units
from bot.types import DocVisibility, Passage

FILLER = " ".join(f"Background sentence {i} about history and design goals." for i in range(25))


def passage(
    text: str, *, path: str = "a.md", score: float = 10.0, heading: str = "", **more: object
) -> Passage:
    return Passage(
        chunk_id=f"{path}#0",
        path=path,
        title=path,
        heading=heading,
        text=text,
        score=score,
        visibility=DocVisibility.PUBLIC,
        **more,  # type: ignore[arg-type]
    )


def test_units_keep_code_blocks_whole_with_their_line_breaks() -> None:
    text = "Intro sentence. Second one:\n\n```python\nx = 1\n\ny = 2\n```\n\n- item one\n- item two\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    units = split_units(text)
    kinds = [u.kind for u in units]
    assert kinds == [
        UnitKind.SENTENCE,
        UnitKind.SENTENCE,
        UnitKind.CODE,
        UnitKind.ITEM,
        UnitKind.ITEM,
        UnitKind.ROW,
        UnitKind.ROW,
    ]
    assert units[2].text == "```python\nx = 1\n\ny = 2\n```"


def test_the_code_block_comes_with_the_sentence_that_introduces_it() -> None:
    text = (
        f"{FILLER}\n\nTo skip fields that are None when dumping, pass `exclude_none`:\n\n"
        "```python\nmodel.model_dump(exclude_none=True)\n```\n\n" + FILLER
    )
    quote = pick("how do I skip None fields when dumping", [passage(text)])
    assert quote is not None
    assert "pass `exclude_none`:" in quote.text
    assert "```python\nmodel.model_dump(exclude_none=True)\n```" in quote.text
    assert "Background sentence 3 " not in quote.text


def test_a_link_list_is_not_the_answer() -> None:
    links = "\n".join(f"- [Exporting data part {i}](export-{i}.md)" for i in range(8))
    text = f"{links}\n\n{FILLER}\n\nTo export data, open Settings and choose Export; the archive arrives by email."
    quote = pick("how do I export data", [passage(text)])
    assert quote is not None
    assert "open Settings and choose Export" in quote.text
    assert "[Exporting data part" not in quote.text


def test_the_section_that_holds_the_how_to_wins_over_a_stronger_introduction() -> None:
    intro = passage(
        f"{FILLER} Exporting data is one of the most common operations. Exporting data matters.",
        path="intro.md",
        score=12.0,
    )
    howto = passage(
        f"{FILLER}\n\nRun `app export --format csv` to export data as CSV:\n\n```sh\napp export --format csv\n```",
        path="cli.md",
        score=10.0,
        heading="Export data as CSV",
    )
    quote = pick("how can I export data as CSV", [intro, howto])
    assert quote is not None and quote.passage.path == "cli.md"
    assert "app export --format csv" in quote.text


def test_reference_stubs_are_never_quoted() -> None:
    stub = passage("API reference: `pydantic.main.BaseModel`", path="api.md", score=20.0, reference=True)
    prose = passage("Subclass `BaseModel` to declare a model with typed fields.", path="models.md", score=5.0)
    quote = pick("BaseModel", [stub, prose])
    assert quote is not None and quote.passage.path == "models.md"
    assert pick("BaseModel", [stub]) is None


def test_a_long_code_block_is_cut_and_still_fenced() -> None:
    code = "\n".join(f"line_{i} = {i}" for i in range(MAX_CODE_LINES * 2))
    text = f"{FILLER}\n\nConfigure every line_ value like this:\n\n```python\n{code}\n```"
    quote = pick("configure line_ values", [passage(text)])
    assert quote is not None
    assert quote.text.count("```") == 2 and quote.text.rstrip().endswith("```")
    assert "# …" in quote.text and f"line_{MAX_CODE_LINES * 2 - 1}" not in quote.text


def test_sections_fit_the_budget_best_first_breadth_before_depth() -> None:
    small = passage("short section", path="a.md")
    big_chunk = passage("the matching chunk", path="b.md")
    big_whole = passage("x " * 4000, path="b.md")
    other_chunk = passage("another chunk", path="c.md")
    other_whole = passage("another chunk and the code block after it", path="c.md")
    sent = fit_sections(
        [(small, small), (big_chunk, big_whole), (other_chunk, other_whole)], budget_tokens=50
    )
    # every passage is there; the one whose section fits is widened, the huge one is not
    assert [p.text for p in sent] == ["short section", "the matching chunk", other_whole.text]
    assert fit_sections([(big_whole, big_whole)], budget_tokens=10) == ()
