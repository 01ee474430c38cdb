"""The core's text is light Markdown that each adapter renders (Discord natively, Slack through
adapters/slack/mrkdwn.py). What people wrote, copied into the bot's own words, must not be
rendered: `literal` makes it show exactly as typed. Pure, no I/O.
"""

from __future__ import annotations

import re

# A bare URL is left as typed: every renderer shows (and links) it as itself, which disguises
# nothing, and a backslash in it would break the link. It ends at a bracket, which is escaped.
_BARE_URL = re.compile(r"(?:https?://|mailto:)[^\s<>\[\]]+", re.IGNORECASE)

# An inline link, [words](address), in every form the renderers link: blanks around the
# address, the address perhaps in <> and holding one level of parentheses, a title after it
# ("…", '…' or (…)). One definition, for adapters/slack/mrkdwn.py, which makes links of it, and
# bot/answering/safety.py, which must see every link a renderer would make. Brackets in the
# address or a title, and code in the words, make no link here: an address is never written
# with its brackets raw, and what a renderer reads differently the output filter breaks apart
# anyway (any "](" before an address).
LINK = re.compile(
    r"\[(?P<label>[^\[\]`\n]*)\]\(\s*<?(?P<url>(?:[^\s()<>`\[\]]|\([^\s()<>`\[\]]*\))+)>?"
    r"(?:\s+(?:\"[^\"\n\]]*\"|'[^'\n\]]*'|\([^()\n\]]*\)))?\s*\)"
)

# a code fence line: its run of backticks or tildes, then the info string (or, closing, nothing)
FENCE_LINE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")


def opening_fence(line: str) -> str:
    """The fence (the run of ` or ~) `line` opens a code block with, or "" when it opens none:
    a backtick fence whose info string holds a backtick is inline code ("```pip install x```"),
    as CommonMark reads it."""
    match = FENCE_LINE.match(line)
    if match is None or (match.group(1)[0] == "`" and "`" in match.group(2)):
        return ""
    return match.group(1)


def closes_fence(opener: str, line: str) -> bool:
    """Whether `line` closes a code block its fence `opener` (the run of ` or ~) opened, as
    CommonMark reads it: a run of the same character at least as long, with nothing after
    it. A shorter run is the block's content: a ```` block showing how to write a ``` one."""
    match = FENCE_LINE.match(line)
    if match is None or match.group(2).strip():
        return False
    run = match.group(1)
    return run[0] == opener[0] and len(run) >= len(opener)


def quoted_url(ending_at: str = "") -> str:
    """The pattern of a bare URL in `literal`'s text, which a renderer reads as one piece, as
    `literal` left it, so that what people typed in and around a link never pairs up into
    markup. It is followed by an escaped bracket at most: a backslash before a bracket is the
    bracket's escape. It also ends at a character of `ending_at`."""
    return rf"(?i:https?://|mailto:)(?:[^\s<>\[\]\\{ending_at}]|\\(?![\[\]]))+"


# CommonMark's escapes: a backslash before ASCII punctuation stands for that character.
ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
# What makes Markdown anywhere in a line: escapes, code, emphasis, strike, spoilers, links.
_INLINE_MARKUP = re.compile(r"[\\`*_~|\[\]]")
# What makes Markdown at the start of a line: headings (and Discord's "-#" small text),
# quotes, list items ("1." and "1)" too).
_LINE_MARKUP = re.compile(r"^([ \t]*)([#>+-]|[0-9]{1,9}(?=[.)]))", re.MULTILINE)


def literal(text: str) -> str:
    """`text` with every character that would make Markdown backslash-escaped (CommonMark's
    escapes, which Discord honours and Slack's conversion reads), so it shows as written:
    `[a](https://x)` stays those characters, the URL in plain sight; `**a**` is no bold."""
    return _LINE_MARKUP.sub(_escape_line_start, escaped(text, _INLINE_MARKUP))


def escaped(text: str, markup: re.Pattern[str]) -> str:
    """`text` with each match of `markup` backslash-escaped, except in bare URLs, which every
    renderer reads as one piece (a backslash in one would break its link)."""
    parts: list[str] = []
    pos = 0
    for url in _BARE_URL.finditer(text):
        parts.append(markup.sub(r"\\\g<0>", text[pos : url.start()]))
        parts.append(url.group())
        pos = url.end()
    parts.append(markup.sub(r"\\\g<0>", text[pos:]))
    return "".join(parts)


def _escape_line_start(match: re.Match[str]) -> str:
    indent, mark = match.groups()
    # a list number is made plain by escaping what follows it: "1\." (a backslash before a
    # digit is no escape)
    return f"{indent}\\{mark}" if not mark.isdigit() else f"{indent}{mark}\\"


def unescape(text: str) -> str:
    """`literal`'s escapes taken back: the characters as typed, for a plain-text copy of the
    core's text (the console, the dashboard) where no Markdown renderer reads them."""
    return ESCAPED.sub(r"\1", text)


# A fenced block or a code span: CommonMark reads no escapes inside, so the backslashes there
# are the code's. A span's opening backticks follow an even number of backslashes (escaped
# ones, prose's: not part of the match's `code`), and a span ends within its paragraph: a
# stray backtick is no span running on over the blank lines after it.
_CODE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,}).*?(?:^[ \t]*(?P=fence)[`~]*[ \t]*$|\Z)"
    r"|(?<!\\)(?:\\\\)*(?P<ticks>`+)(?!`)(?:(?!\n[ \t]*\n).)+?(?<!`)(?P=ticks)(?!`)",
    re.MULTILINE | re.DOTALL,
)


def unescape_prose(text: str) -> str:
    """The escapes of Markdown `text` taken back outside its code: the words a reader sees, for
    searching and comparing a passage's text (a document's `\\_\\_init\\_\\_.py` is the word
    `__init__.py`). Code keeps its backslashes, as it shows them."""
    if "\\" not in text:
        return text  # the usual passage: nothing escaped, no copy
    parts: list[str] = []
    pos = 0
    for match in _CODE.finditer(text):
        code = match.start("ticks") if match.group("ticks") else match.start()
        parts.append(ESCAPED.sub(r"\1", text[pos:code]))
        parts.append(text[code : match.end()])
        pos = match.end()
    parts.append(ESCAPED.sub(r"\1", text[pos:]))
    return "".join(parts)
