"""Splitting text at Discord's 2,000-character message limit (adapters/discord/split.py):
cuts between paragraphs, code fences closed and reopened at a cut, hard cuts, and a property
test that every piece fits and balances its fences."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.discord.split import CONTENT_LIMIT, split_text
from bot.retrieval.formats.common import fence


def test_short_text_is_one_piece() -> None:
    assert split_text("short") == ["short"]


def test_long_text_splits_on_paragraphs_within_the_limit() -> None:
    paragraphs = [f"Paragraph {n}. " + "word " * 60 for n in range(40)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    pieces = split_text(text)
    assert len(pieces) > 1 and all(len(p) <= CONTENT_LIMIT for p in pieces)
    assert all(p.startswith("Paragraph") for p in pieces)  # cut between paragraphs
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())


def test_a_code_fence_open_at_a_cut_is_closed_and_reopened() -> None:
    code = "\n".join(f"line_{n} = {n}" for n in range(400))
    text = f"Run this:\n```python\n{code}\n```\nDone."
    pieces = split_text(text)
    assert len(pieces) > 1 and all(len(p) <= CONTENT_LIMIT for p in pieces)
    for piece in pieces:
        assert piece.count("```") % 2 == 0, piece[:80]
    assert pieces[1].startswith("```python\n")


def test_a_longer_fence_showing_a_code_block_is_closed_and_reopened_as_itself() -> None:
    # a quoted page about Markdown, fenced in ```` by the parsers (fence()): its ``` lines were
    # taken for the block's end, so a cut left the ```` block open in one message and the
    # next began outside it
    page = "```python\nprint(1)\n```\n\n" + "\n".join(f"line {n} of the page" for n in range(150))
    pieces = split_text(f"Sample:\n\n{fence(page, 'markdown')}\n\nDone.")
    assert len(pieces) >= 2 and all(len(p) <= CONTENT_LIMIT for p in pieces)
    assert all(p.endswith("\n````") for p in pieces[:-1]), [p[-20:] for p in pieces]
    assert all(p.startswith("````markdown\n") for p in pieces[1:]), [p[:20] for p in pieces]
    assert pieces[-1].endswith("````\n\nDone.")


@pytest.mark.parametrize(
    "span",
    [
        "[the full configuration guide](https://docs.acme.test/guide/config/#options)",
        '[the guide](https://en.wikipedia.org/wiki/Acme_(company) "Acme, the company")',
        "`pip install --upgrade --index-url https://pypi.acme.test/simple acme`",
        "``the `tick` stays inside this span, which ends past the cut``",
    ],
)
@pytest.mark.parametrize("head", ["설정 " * 655, "word " * 390])
def test_a_cut_at_a_space_falls_outside_a_link_or_code_span(span: str, head: str) -> None:
    # a paragraph with no line break (as a model writes Korean) whose limit falls in the span:
    # cut at a space inside it, both messages showed its markup raw
    text = f"{head}See {span} for the rest."
    assert len(head) + 4 < CONTENT_LIMIT < len(head) + 4 + len(span)
    pieces = split_text(text)
    assert pieces[1].startswith(span), [p[-40:] for p in pieces]


def test_a_link_longer_than_a_message_is_cut_at_a_space_in_it() -> None:
    # no space outside it will do: a word kept whole is the best left
    text = "Read [" + "a long label " * 200 + "](https://docs.acme.test/) now."
    pieces = split_text(text)
    assert [len(p) > CONTENT_LIMIT // 2 for p in pieces] == [True, False], [len(p) for p in pieces]
    assert " ".join(pieces).split() == text.split()  # every word whole


def test_text_without_spaces_is_cut_hard() -> None:
    pieces = split_text("x" * 4500)
    assert [len(p) for p in pieces] == [2000, 2000, 500]


@pytest.mark.parametrize("marker", ["````", "~~~~", "~~~", "``````"])
def test_a_long_line_in_a_longer_fence_is_cut_with_room_for_its_own_closing_marker(marker: str) -> None:
    # a base64 key or minified JSON the answer quotes, in a fence other than three backticks
    text = f"Put this in the config file:\n\n{marker}json\n{'A' * 4000}\n{marker}\n\nThen restart."
    pieces = split_text(text)
    assert all(len(p) <= CONTENT_LIMIT for p in pieces), [len(p) for p in pieces]
    assert all(p.rstrip().endswith(marker) for p in pieces[:-1])
    assert pieces[-1].endswith("Then restart.")


def test_code_cut_between_messages_keeps_the_indentation_of_its_next_line() -> None:
    code = "\n".join(f"    line_{n} = {n}" for n in range(400))
    pieces = split_text(f"Run this:\n```python\n{code}\n```\nDone.")
    assert len(pieces) > 1
    for piece in pieces[1:]:
        first = piece.split("\n")[1]  # after the reopened fence
        assert first.startswith("    line_"), piece[:40]


@pytest.mark.parametrize("info", [1990, 1996, 2100, 5000])
def test_a_fence_with_a_long_info_string_is_reopened_with_its_language_alone(info: int) -> None:
    # a reopened fence line as long as the opening one left no room: no progress (a frozen
    # event loop), or a few characters a message (1,506 messages for 5,000 characters)
    text = "```python" + "x" * info + "\ncode line\n" + "y" * 3000 + "\n```"
    pieces = split_text(text)
    assert all(len(p) <= CONTENT_LIMIT for p in pieces), [len(p) for p in pieces]
    assert len(pieces) <= math.ceil(len(text) / CONTENT_LIMIT) + 2, len(pieces)
    assert all(p.startswith("```python" + "x" * 24 + "\n") for p in pieces[1:]), [p[:50] for p in pieces]


def test_a_fence_marker_too_long_to_close_and_reopen_is_cut_as_text() -> None:
    pieces = split_text("`" * 1500 + "\ncode\n" + "y" * 3000 + "\n" + "`" * 1500)
    assert all(len(p) <= CONTENT_LIMIT for p in pieces) and len(pieces) <= 4, [len(p) for p in pieces]


_FENCE_LINE = re.compile(r"^\s*(```+|~~~+)")
_WORDS = st.text(alphabet="abc xyz.\n", max_size=300) | st.builds(lambda n: "B" * n, st.integers(1, 3000))
_CODE_LINE = st.text("abc=(); ", max_size=300) | st.builds(lambda n: "C" * n, st.integers(1, 3000))
_CODE_LINES = st.lists(
    st.builds(lambda indent, body: " " * indent + body, st.integers(0, 8), _CODE_LINE), max_size=12
)


@st.composite
def _markdown(draw: st.DrawFn) -> str:
    """Prose and fenced code (any fence, long unbroken lines, indented lines), each code block
    closed with its own marker and holding nothing that looks like a fence."""
    blocks: list[str] = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            blocks.append(draw(_WORDS))
        else:
            marker = draw(st.sampled_from(["```", "````", "~~~", "~~~~", "`````"]))
            # a long info string (a model may write anything there), short enough that a cut
            # falls before its line rather than in it (a longer line is cut hard, as any is)
            info = draw(
                st.sampled_from(["", "json", "python"]) | st.builds(lambda n: "I" * n, st.integers(1, 1250))
            )
            blocks.append("\n".join([marker + info, *draw(_CODE_LINES), marker]))
    return "\n\n".join(blocks)


@settings(max_examples=200, deadline=None)
@given(_markdown())
def test_every_piece_fits_and_closes_the_fences_it_opens(text: str) -> None:
    pieces = split_text(text)
    assert all(len(p) <= CONTENT_LIMIT for p in pieces), [len(p) for p in pieces]
    # a cut falls early only before a stretch with no break, which the next cut takes whole: two
    # pieces carry at least a message's budget less the (short) fence markup they carry
    assert len(pieces) <= 2 * math.ceil(len(text) / (CONTENT_LIMIT - 100)) + 1, [len(p) for p in pieces]
    for piece in pieces:
        fences = [line for line in piece.split("\n") if _FENCE_LINE.match(line)]
        assert len(fences) % 2 == 0, fences
    # nothing is lost but whitespace and the fences added at the cuts
    assert _code_and_words("\n".join(pieces)) == _code_and_words(text)


def _code_and_words(text: str) -> str:
    return "".join("".join(line.split()) for line in text.split("\n") if not _FENCE_LINE.match(line))


def test_triple_backticks_around_one_line_are_inline_code_not_a_fence_left_open() -> None:
    # CommonMark: a backtick in a fence's info string makes the line inline code; taken for a
    # fence, the split reopened it in the next message, showing the prose there as code
    text = "```pip install supportbot```\n\n" + "Then open the settings page and choose a channel. " * 60
    pieces = split_text(text)
    assert len(pieces) > 1 and not any(piece.startswith("```") for piece in pieces[1:])
