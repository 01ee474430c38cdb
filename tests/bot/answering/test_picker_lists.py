"""A list or table quoted with the sentence that leads into it is quoted whole, or says it was cut."""

from __future__ import annotations

from bot.answering.picker import ELIDED, MAX_PROSE_WORDS, pick
from bot.types import DocVisibility, Passage

FILLER = " ".join(f"Background sentence {i} about history and design goals." for i in range(25))


def passage(text: str) -> Passage:
    return Passage(
        chunk_id="validators.md#0",
        path="validators.md",
        title="Validators",
        heading="Raising validation errors",
        text=text,
        score=10.0,
        visibility=DocVisibility.PUBLIC,
    )


def test_an_item_that_answers_brings_the_rest_of_the_list_its_colon_sentence_leads_into() -> None:
    # the first item answers; the second one shares a word with the question and comes along as
    # a neighbour; the third shares none, and was left out although the lead promises three
    text = (
        f"{FILLER}\n\nTo raise a validation error, three types of exceptions can be used:\n\n"
        "- `ValueError`: the most common exception raised inside validators.\n"
        "- `AssertionError`: using the assert statement also works, but be aware that these "
        "statements are skipped when Python is run with the -O optimization flag.\n"
        "- `PydanticCustomError`: a bit more verbose, but provides extra flexibility, with its own "
        "error type and message template.\n\n"
        f"{FILLER}"
    )
    quote = pick("which exception is the most common one inside validators", [passage(text)])
    assert quote is not None
    assert quote.text.startswith("To raise a validation error, three types of exceptions can be used:")
    for item in ("- `ValueError`", "- `AssertionError`", "- `PydanticCustomError`"):
        assert item in quote.text
    assert ELIDED not in quote.text
    assert "Background sentence" not in quote.text


def test_a_list_led_by_a_sentence_without_a_colon_is_completed_too() -> None:
    # Korean and much English documentation lead into steps with a full stop
    text = (
        f"{FILLER}\n\nThere are three steps to enable strict type checking in the editor.\n\n"
        "1. Open the strict type checking settings of the editor.\n"
        "2. Search for the mode option.\n"
        "3. Choose the value named basic or higher.\n\n"
        f"{FILLER}"
    )
    quote = pick("how do I enable strict type checking in the editor", [passage(text)])
    assert quote is not None
    assert quote.text.startswith("There are three steps to enable strict type checking in the editor.")
    assert "2. Search for the mode option." in quote.text
    assert "3. Choose the value named basic or higher." in quote.text


def test_a_list_too_long_to_quote_whole_says_where_items_were_left_out() -> None:
    items = "\n".join(
        f"- `option_{i}`: tunes part {i} of the renderer in several small ways." for i in range(40)
    )
    text = f"{FILLER}\n\nThe renderer accepts these options, all of them optional:\n\n{items}\n\n{FILLER}"
    quote = pick("which renderer option tunes part 17", [passage(text)])
    assert quote is not None
    lines = quote.text.splitlines()
    assert "- `option_17`: tunes part 17 of the renderer in several small ways." in lines
    assert ELIDED in lines  # the cut is marked, once for each run of items left out
    # as a paragraph of its own, so Markdown does not fold it into the item before it
    at = quote.text.index(ELIDED)
    assert quote.text[at - 2 : at] == "\n\n" or at == 0
    # never like an answer still being streamed, which ends with "…"
    assert not quote.text.rstrip().endswith(" …") and lines[-1] != "…"
    assert len(lines) < 40
    assert sum(len(line.split()) for line in lines) <= MAX_PROSE_WORDS + 1


def test_rows_quoted_without_their_leading_sentence_are_not_padded_with_the_table() -> None:
    rows = "\n".join(f"| `pydantic.old_name_{i}` | `pydantic.new_name_{i}` |" for i in range(30))
    rows = rows.replace("old_name_12` |", "parse_obj_as` |")
    text = f"{FILLER}\n\nSome things moved.\n\n| V1 | V2 |\n| --- | --- |\n{rows}\n\n{FILLER}"
    quote = pick("where did parse_obj_as go", [passage(text)])
    assert quote is not None
    assert "`pydantic.parse_obj_as` | `pydantic.new_name_12`" in quote.text
    assert "Some things moved." not in quote.text
    assert "new_name_29" not in quote.text and ELIDED not in quote.text


def test_a_row_that_answers_is_quoted_under_its_table_header() -> None:
    """A row was quoted bare: "`pydantic.parse_obj_as` | `pydantic.new_name_12`" without the
    header saying which column is the old name and which the new one."""
    rows = "\n".join(f"| `pydantic.old_name_{i}` | `pydantic.new_name_{i}` |" for i in range(30))
    rows = rows.replace("old_name_12` |", "parse_obj_as` |")
    text = f"{FILLER}\n\n| Pydantic V1 | Pydantic V2 |\n| --- | --- |\n{rows}\n\n{FILLER}"
    quote = pick("where did parse_obj_as go", [passage(text)])
    assert quote is not None
    assert quote.text == "| Pydantic V1 | Pydantic V2 |\n| `pydantic.parse_obj_as` | `pydantic.new_name_12` |"


def test_a_header_that_matches_brings_the_rows_that_match_when_the_table_is_long() -> None:
    """The header held the question's words and was quoted alone, which answers nothing; a
    table too long to quote whole brings the rows that match, not the ones around them."""
    rows = [f"| team-{i} | {i} MB | {i} seats |" for i in range(30)]
    rows[17] = "| pro | 50 MB | 10 seats |"
    text = f"{FILLER}\n\n| Plan | Upload limit | Seats |\n|---|---|---|\n" + "\n".join(rows) + f"\n\n{FILLER}"
    quote = pick("what is the upload limit of the pro plan", [passage(text)])
    assert quote is not None
    assert quote.text == "| Plan | Upload limit | Seats |\n| pro | 50 MB | 10 seats |"
