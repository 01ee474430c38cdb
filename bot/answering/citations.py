"""Reading the model's reply: which passages it cited, and whether it declined to answer.

What this module owns (pure functions, no I/O):

* `map_citations`: finds `[n]` markers (also `[1, 2]`, `[1-3]`, `[Passage 2]`, full-width
  brackets), keeps those that name a passage the model was given, maps them to sources
  de-duplicated by file and heading, and renumbers the markers in the text so `[k]` is the k-th
  source shown under the answer. Markers naming a passage that was not given are removed:
  a dangling `[7]` under a three-source answer would be a citation to nothing.
* `is_refusal`: the exact `NO_ANSWER` marker the prompt asks for, and, as a fallback for models
  that ignore it, first-person refusal phrasing in English and Korean.
* `may_become_marker`: while streaming, text that could still turn into `NO_ANSWER` is held back
  so nobody sees "NO_ANS" flash by.

Markers inside code (inline or fenced) are left alone: `items[0]` is code, not a citation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answering.prompt import NO_ANSWER
from bot.types import Citation, Passage

# Fenced blocks (possibly still open at the end of a streamed text) and inline code spans.
_CODE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]*`", re.DOTALL)

_NUMBER = r"(?:passage|source|ref)?\s*#?\d{1,3}(?:\s*[-–]\s*\d{1,3})?"
_GROUP = r"[\[［【]\s*" + _NUMBER + r"(?:\s*[,，、;]\s*" + _NUMBER + r")*\s*[\]］】]"
# A run of adjacent groups ("[1][3]", "[1] [2]") is one marker, so duplicates within it merge.
# `(?!\()`: "[1](https://...)" is a Markdown link whose text happens to be a number.
_MARKER = re.compile(
    r"(?P<lead>[ \t]*)(?P<body>" + _GROUP + r"(?:[ \t]*" + _GROUP + r")*)(?!\()",
    re.IGNORECASE,
)
_RANGE = re.compile(r"(\d{1,3})(?:\s*[-–]\s*(\d{1,3}))?")
_MAX_RANGE = 50  # "[1-999]" is not a real citation; do not expand it into a thousand numbers


@dataclass(frozen=True, kw_only=True)
class CitedText:
    text: str  # markers renumbered to `citations` order; markers to unknown passages removed
    citations: tuple[Citation, ...]  # the sources actually cited, in order of first citation
    cited: tuple[int, ...]  # the 1-based passage numbers validly cited, in order of first citation
    dropped: tuple[int, ...]  # numbers the model cited that no given passage has


def _numbers(body: str) -> list[int]:
    numbers: list[int] = []
    for match in _RANGE.finditer(body):
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else start
        if end < start or end - start > _MAX_RANGE:
            end = start
        numbers.extend(range(start, end + 1))
    return numbers


def map_citations(text: str, passages: Sequence[Passage]) -> CitedText:
    """Map the model's `[n]` markers to the passages it was given (numbered from 1)."""
    citations: list[Citation] = []
    index_of_source: dict[tuple[str, str], int] = {}  # (path, heading) -> 1-based citation number
    cited: list[int] = []
    dropped: list[int] = []

    def replace(match: re.Match[str]) -> str:
        shown: list[int] = []
        for number in _numbers(match.group("body")):
            if not 1 <= number <= len(passages):
                if number not in dropped:
                    dropped.append(number)
                continue
            passage = passages[number - 1]
            key = (passage.path, passage.heading)
            if key not in index_of_source:
                citations.append(passage.citation())
                index_of_source[key] = len(citations)
            if number not in cited:
                cited.append(number)
            if index_of_source[key] not in shown:
                shown.append(index_of_source[key])
        if not shown:
            return ""  # with its leading space: "done [7]." becomes "done."
        return match.group("lead") + "".join(f"[{n}]" for n in shown)

    out: list[str] = []
    position = 0
    for code in _CODE.finditer(text):
        out.append(_MARKER.sub(replace, text[position : code.start()]))
        out.append(code.group(0))
        position = code.end()
    out.append(_MARKER.sub(replace, text[position:]))
    return CitedText(
        text="".join(out).strip(),
        citations=tuple(citations),
        cited=tuple(cited),
        dropped=tuple(dropped),
    )


# The marker anywhere, spelled exactly (a real answer never contains it) ...
_EXACT_MARKER = re.compile(r"(?<![A-Za-z0-9_])" + NO_ANSWER + r"(?![A-Za-z0-9_])")
_NOT_WORD = re.compile(r"[\W_]+")

# ... and, for models that ignore the instruction, refusal phrasing. A refusal speaks of the
# bot itself ("I couldn't find", "제가", "모르겠습니다") or of its own material, named ("the
# provided passages", "the documentation", "제공된 문서", "문서에는"); so said, it is a refusal even
# beside a citation. First person on purpose: "if you can't find the email, check spam" is an
# answer. Phrasing that names neither ("…가 포함되어 있지 않습니다", "documents do not include",
# "No information about …") is as often a cited statement about the product ("Exported
# documents do not include comments [1]", "가격에는 부가세가 포함되어 있지 않습니다 [1]", "If your
# data source does not contain a timestamp column…"): a refusal only in a paragraph citing
# nothing.
_NOT_HAVE = r"(?:do(?:es)?\s+not|do(?:es)?n'?t)\s+(?:contain|mention|cover|include|say|provide|specify|answer|explain)\b"
_NOT_IN = r"\bnot\s+(?:mentioned|covered|included|provided|specified|described|found)\s+in\s+"
# the bot's material, named so that nothing else is meant: whatever was "provided" or
# "given", "the passages" (the prompt's word), "the documentation" and "the documents". "The
# docs", "the context", "the source" are as often the product's ("the context does not have a
# request object [1]", "the docs don't include the private key [1]"): a refusal beside a
# citation only said "not mentioned in" them or with a verb of what they are about
_OWN_SOURCES = (
    r"(?:(?:the\s+)?(?:provided|given|supplied|retrieved|available)\s+"
    r"(?:passages?|documents?|documentation|docs|context|sources?|information|excerpts?)"
    r"|(?:the\s+)?passages?|the\s+(?:documentation|documents?))"
)
_MENTIONED_IN = rf"(?:{_OWN_SOURCES}|the\s+docs)"
# "the docs", "the context", "the sources" say what the bot's material does not cover (a
# refusal, cited or not) with these verbs; "include", "contain", "have", "provide" are as
# often said of the product's ("the context does not have a request object [1]")
_AMBIGUOUS_SOURCES = r"the\s+(?:docs|context|sources?)"
_NOT_ABOUT = (
    r"(?:do(?:es)?\s+not|do(?:es)?n'?t)\s+(?:mention|cover|say|specify|answer|explain|address|discuss)\b"
)
_EN_REFUSAL = re.compile(
    r"\bI\s+(?:do\s+not|don'?t|cannot|can'?t|could\s+not|couldn'?t|am\s+unable\s+to|'m\s+unable\s+to)\s+"
    r"(?:know|find|answer|determine|tell|say|help\s+with\s+that"
    r"|have\s+(?:any\s+|enough\s+|specific\s+|more\s+)?(?:information|details))\b"
    r"|\bI(?:'m|\s+am)\s+(?:not\s+sure|sorry,?\s+but\s+I)\b"
    rf"|\b{_OWN_SOURCES}\s+(?:{_NOT_HAVE}|(?:do(?:es)?\s+not|do(?:es)?n'?t)\s+have\b)"
    rf"|{_NOT_IN}{_MENTIONED_IN}\b"
    rf"|\b{_AMBIGUOUS_SOURCES}\s+{_NOT_ABOUT}"
    # said of the whole reply, as a sentence of its own ("Sorry, there's no information on
    # ..."), not of a detail inside an answer ("... [1]; after that no information about it is
    # kept", "Once it is deleted [1], no information about it is kept")
    r"|(?:^|[.!?]\s+)(?:(?:sorry|unfortunately|however),?\s+(?:there(?:'s|\s+is)\s+)?|there(?:'s|\s+is)\s+)"
    r"no\s+information\s+(?:about|on|regarding)\b"
    # after a clause that points at the sources ("Based on the pricing page [2], there is ..."),
    # not after one about the product ("Once the account is deleted [1], there is no ...")
    r"|\b(?:based\s+on|in|according\s+to|from)\b[^.?!]{0,80}?\b(?:passages?|documents?|documentation|"
    r"pages?|context|sources?|docs)\b[^.?!,]{0,20},\s*there(?:'s|\s+is)\s+no\s+information\s+(?:about|on|regarding)\b",
    re.IGNORECASE,
)
_EN_UNNAMED = re.compile(
    rf"\b(?:documents?|documentation|docs|sources?|context)\s+{_NOT_HAVE}"
    r"|(?:^|[.!?]\s+)no\s+information\s+(?:about|on|regarding)\b",
    re.IGNORECASE,
)
# Korean drops the subject, so "cannot find / know / check" is a refusal only when what cannot
# be found is the answer, or the one who cannot is the bot or the documents: "만료된 링크로는
# 비밀번호를 확인할 수 없습니다" (you cannot check a password with an expired link) is an answer.
# Answering and telling are the speaker's own acts: those need no subject, nor do saying that
# something is not mentioned, specified or explained (what documents do). "Not included"
# (포함되어 있지 않습니다) is said of the product as often: a refusal when the documents are named.
_KO_CANNOT = r"\s*수\s*(?:가\s*)?없(?:습니다|어요|네요|다)"
_KO_SOURCES = (
    r"(?:제가|저는|(?:문서|자료)(?:에서|에는|에|만으로는|만으로)|(?:^|[.!?]\s*|죄송하지만\s*|현재\s*)(?:문서|자료)(?:로는|으로는)"
    r"|(?:제공된|주어진)\s*(?:문서|자료|정보|내용))"
)
_KO_NOT_INCLUDED = r"포함되어\s*있지\s*않(?:습니다|아요|네요|다)"
# the bot's material named outright, for "not included": the documents as a sentence's first
# word, or "provided" ones ("내보낸 문서에는 … 포함되어 있지 않습니다 [1]" is about exported ones)
_KO_OWN_NAMED = (
    r"(?:제가|저는|(?:^|[.!?]\s*)(?:(?:죄송하지만|아쉽게도|안타깝게도|현재|다만),?\s*)?"
    r"(?:문서|자료)(?:에서|에는|에|만으로는|만으로|로는|으로는)"
    r"|(?:제공된|주어진)\s*(?:문서|자료|정보|내용))"
)
_KO_REFUSAL = re.compile(
    r"(?:답변할|답변드릴|답할|답해\s*드릴|말씀드릴)"
    + _KO_CANNOT
    + rf"|(?:{_KO_SOURCES}[^.?!\n]{{0,40}}?|(?:정보|내용|답|답변)(?:을|를)\s*)"
    r"(?:찾을|알|확인할)" + _KO_CANNOT + r"|모르겠(?:습니다|어요|네요|다)"
    r"|(?:정보|내용|답|언급)(?:가|이|은|는)?\s*없(?:습니다|어요|네요|다)"
    r"|(?:나와|언급되어|명시되어|설명되어|기재되어)\s*있지\s*않(?:습니다|아요|네요|다)"
    rf"|{_KO_OWN_NAMED}[^.?!\n]{{0,40}}?{_KO_NOT_INCLUDED}"
)
_KO_UNNAMED = re.compile(_KO_NOT_INCLUDED)
_PARAGRAPHS = re.compile(r"\n[ \t]*\n")
_CITES = re.compile(_GROUP + r"(?!\()", re.IGNORECASE)


def is_refusal(text: str) -> bool:
    """The model declined: the `NO_ANSWER` marker (however decorated) or refusal phrasing."""
    if _EXACT_MARKER.search(text):
        return True
    if _NOT_WORD.sub("", text).upper() == NO_ANSWER.replace("_", ""):
        return True  # "**No answer.**", "`NO-ANSWER`"
    return any(_refuses(paragraph) for paragraph in _PARAGRAPHS.split(text))


def _refuses(paragraph: str) -> bool:
    if _EN_REFUSAL.search(paragraph) or _KO_REFUSAL.search(paragraph):
        return True
    unnamed = _EN_UNNAMED.search(paragraph) or _KO_UNNAMED.search(paragraph)
    return unnamed is not None and not _CITES.search(paragraph)


def may_become_marker(text: str) -> bool:
    """While streaming: could `text` still be the start of a bare `NO_ANSWER` reply?"""
    stripped = text.strip().lstrip("*_`\"'").upper()
    return not stripped or NO_ANSWER.startswith(stripped)
