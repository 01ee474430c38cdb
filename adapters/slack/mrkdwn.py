"""Slack's text markup: the core's Markdown to mrkdwn, and Slack's inbound markup to plain text.

This module owns text, never blocks or I/O:

* `to_mrkdwn` converts the core's Markdown (links, bold, italics, code, code blocks, lists,
  headings, quotes) to Slack's mrkdwn, escaping `&`, `<` and `>` as Slack requires;
* every mention-like token that a user or a document wrote (`<!channel>`, `<!here>`,
  `<!everyone>`, `<@U…>`, `<!subteam^…>`, a bare `@channel`) is neutralised, so only the
  `Reply.mentions` the core asked for can ping anyone (`mention_tag`);
* `split_text` / `truncate` cut mrkdwn to Slack's limits without breaking a word, a link,
  an entity or a code block;
* `plain_from_slack` turns Slack's inbound markup (`<@U1>`, `<url|label>`, `&amp;`) into the
  plain text the core reads, with the bot's own mention removed.

Block Kit (`adapters.slack.render`) is built from these pieces.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.markdown import ESCAPED as _ESCAPED
from bot.markdown import LINK, closes_fence, opening_fence, quoted_url, unescape
from bot.types import Mention, MentionKind

SECTION_TEXT_LIMIT = 3000
RENDERED_CACHE = 256  # texts kept converted (answers of a few KB: about a MB at most)

_ZWSP = "\u200b"
FENCE = "```"


# -- escaping and neutralisation --------------------------------------------------------------

_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


def neutralise(text: str) -> str:
    """Break `@channel`, `@here`, `@everyone` with a zero-width space so they never ping,
    even if a client or a future `link_names` setting would parse them."""
    return _BROADCAST.sub(lambda m: "@" + _ZWSP + m.group(1), text)


def escape(text: str) -> str:
    """Escape text for mrkdwn: `&`, `<`, `>` as Slack requires, and broadcast words broken.

    After this, `<!channel>` or `<@U123>` typed by anyone shows literally and pings nobody,
    because Slack only treats an unescaped `<` as the start of a mention or link.
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return neutralise(escaped)


_SAFE_SCHEMES = ("https://", "http://", "mailto:")


def safe_url(url: str) -> str | None:
    """The URL escaped for use inside `<…|…>`, or None if it must not become a link.

    Only http(s) and mailto are linked: a Markdown link to `!channel` or `@U123` would
    otherwise render as `<!channel|text>`, which is a broadcast.
    """
    url = url.strip()
    if not url.lower().startswith(_SAFE_SCHEMES) or any(c.isspace() for c in url):
        return None
    return url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def link(url: str, label: str) -> str:
    """A mrkdwn link, or the escaped label alone when the URL is not safe to link."""
    target = safe_url(url)
    shown = escape(label.strip()) or (target or "")
    if target is None:
        return shown
    return f"<{target}|{shown}>" if shown and shown != target else f"<{target}>"


def mention_tag(mention: Mention) -> str | None:
    """The ping for a mention the core asked for; None for kinds Slack does not have."""
    ident = mention.id.strip()
    if not re.fullmatch(r"[A-Z0-9]+", ident):
        return None  # a malformed id must not smuggle markup into the message
    if mention.kind == MentionKind.GROUP:
        return f"<!subteam^{ident}>"
    if mention.kind == MentionKind.USER:
        return f"<@{ident}>"
    return None


# -- Markdown to mrkdwn -----------------------------------------------------------------------

# CommonMark's escapes (bot.markdown.ESCAPED): quoted text (bot/privacy/redaction.py `literal`)
# relies on them to show what people typed. While the markup around them is converted, escaped
# characters are held as private-use characters no pattern here matches, then let go as what
# Slack shows literally.
_HELD = 0xF0000
_HELD_RANGE = "\U000f0021-\U000f007e"
_HELD_CHAR = re.compile(f"[{_HELD_RANGE}]")
# Slack has no escapes: its own formatting marks are kept from pairing up by zero-width spaces.
_SLACK_FORMATTING = frozenset("*_~`")
# A bare URL is one piece, as `literal` leaves it and Discord links it: while emphasis is
# converted it stands as one character, its marks out of reach. Marks ending it may close
# emphasis opened before it (`**https://x**`), never open any: they stand as closers of their
# own, and are the URL's again if they close nothing. Input holding these is cleaned first.
_URL = "\U0010fff0"
_CLOSES = {"*": "\U0010fff1", "_": "\U0010fff2", "~": "\U0010fff3"}
_UNCLOSE = str.maketrans({closer: mark for mark, closer in _CLOSES.items()})
_RESERVED = re.compile("[\U0010fff0-\U0010fff3]")
_S, _U, _T = _CLOSES.values()
# escapes are held everywhere but in bare URLs, which are as typed
_HOLD = re.compile(rf"(?P<url>{quoted_url(_URL + _S + _U + _T)})|{_ESCAPED.pattern}")
# a URL's end that is the sentence's, not the link's (a closing bracket only when unbalanced)
_URL_END_PUNCTUATION = frozenset(".,:;!?'\")")
_URL_CLOSERS = re.compile(f"{_URL}([{_S}{_U}{_T}]*)")
# What a line holds besides prose, the leftmost first (as CommonMark and Discord read it): a
# code span, a link (bot.markdown.LINK, which the answer's output filter reads too), an autolink,
# a bare URL (whose backticks open no code span).
_TOKEN = re.compile(
    r"(?P<ticks>`+)(?P<code>.+?)(?P=ticks)"
    rf"|{LINK.pattern}"
    r"|<(?P<auto>(?:https?|mailto):[^<>\s`]+)>"
    rf"|(?P<bare>{quoted_url(_HELD_RANGE + _URL + _S + _U + _T)})",
    re.DOTALL,
)
# Emphasis whose content stops at the first mark that could close it: each opener looks no
# further than that, so a line of unclosed openers costs its length, not its square.
_BOLD = re.compile(
    rf"\*\*(?=\S)((?:[^*{_S}]|[*{_S}](?![*{_S}]))+?)(?<=\S)(?:\*\*|{_S}{_S})"
    rf"|__(?=\S)((?:[^_{_U}]|[_{_U}](?![_{_U}]))+?)(?<=\S)(?:__|{_U}{_U})"
)
_ITALIC_STAR = re.compile(rf"(?<![*\w])\*(?=[^\s*])([^*{_S}]+?)(?<=[^\s*])(?:\*|{_S})(?![*\w{_S}])")
# Slack's own italics, `_a_`, kept as they are: only a URL's closing `_` is taken from it
_ITALIC_UNDERSCORE = re.compile(rf"(?<![_\w])_(?=[^\s_])([^_{_U}]+?)(?<=[^\s_])(?:_|{_U})(?![_\w{_U}])")
_STRIKE = re.compile(rf"~~(?=\S)((?:[^~{_T}]|[~{_T}](?![~{_T}]))+?)(?<=\S)(?:~~|{_T}{_T})")
_BOLD_MARK = "\x01"  # stands for a bold '*' while single-star italics are rewritten


def _unbold(text: str) -> str:
    return _BOLD.sub(lambda m: m.group(1) or m.group(2), text)


def _emphasis(escaped: str) -> str:
    text = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(1) or m.group(2)}{_BOLD_MARK}", escaped)
    text = _ITALIC_UNDERSCORE.sub(lambda m: f"_{m.group(1)}_", text)
    text = _ITALIC_STAR.sub(lambda m: f"_{m.group(1)}_", text)
    text = _STRIKE.sub(lambda m: f"~{m.group(1)}~", text)
    return text.replace(_BOLD_MARK, "*")


def _held(char: str) -> str:
    return chr(_HELD + ord(char))


def _let_go(text: str, *, shown: bool = True) -> str:
    """Held characters back as themselves: escaped for mrkdwn where they are shown, as they
    were where they are part of a URL."""

    def one(match: re.Match[str]) -> str:
        char = chr(ord(match.group()) - _HELD)
        if not shown:
            return char
        if char in _SLACK_FORMATTING:
            return f"{_ZWSP}{char}{_ZWSP}"
        return escape(char)

    return _HELD_CHAR.sub(one, text).replace(_ZWSP + _ZWSP, _ZWSP)


def _source(text: str) -> str:
    """Held characters back as their escapes: code shows what was written."""
    return _HELD_CHAR.sub(lambda m: "\\" + chr(ord(m.group()) - _HELD), text)


def _hold_url(url: str, urls: list[str]) -> str:
    """`url` as it stands while emphasis is converted; its link kept in `urls`."""
    end = len(url)
    unclosed = url.count(")") - url.count("(")
    while end > 0 and url[end - 1] in _URL_END_PUNCTUATION and (url[end - 1] != ")" or unclosed > 0):
        unclosed -= url[end - 1] == ")"
        end -= 1
    marks = end
    while marks > 0 and url[marks - 1] in _CLOSES:
        marks -= 1
    urls.append(url[:marks])
    return _URL + "".join(_CLOSES[c] for c in url[marks:end]) + url[end:]


def _bare(url: str) -> str:
    # Slack formats nothing inside <...>: a URL holding its marks is sent as a link to itself
    return link(url, "") if any(c in _SLACK_FORMATTING for c in url) else escape(url)


def _prose(text: str, urls: list[str]) -> str:
    converted = _emphasis(escape(text))
    found = iter(urls)
    converted = _URL_CLOSERS.sub(lambda m: _bare(next(found) + m.group(1).translate(_UNCLOSE)), converted)
    return converted.translate(_UNCLOSE)


def inline(text: str) -> str:
    """One line of Markdown to mrkdwn: code spans kept verbatim (escaped), the rest converted."""
    text = _HOLD.sub(lambda m: m.group("url") or _held(m.group(2)), _RESERVED.sub("\ufffd", text))
    out: list[str] = []
    prose: list[str] = []
    urls: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        prose.append(text[pos : match.start()])
        pos = match.end()
        if match.group("bare"):
            prose.append(_hold_url(match.group("bare"), urls))
            continue
        out.append(_prose("".join(prose), urls))
        prose, urls = [], []
        if match.group("ticks"):
            code = _source(match.group("code")).replace("`", "'")
            out.append(f"`{escape(code)}`")
        elif match.group("auto"):
            out.append(link(_let_go(match.group("auto"), shown=False), ""))
        else:
            label = _unbold(match.group("label"))
            # a link's target reads escapes (CommonMark), an autolink's does not
            out.append(link(unescape(_let_go(match.group("url"), shown=False)), label))
    prose.append(text[pos:])
    out.append(_prose("".join(prose), urls))
    return _let_go("".join(out))


_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_ORDERED = re.compile(r"^(\s*)(\d{1,9})[.)]\s+(.*)$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")


def _indent(spaces: str) -> str:
    # Slack keeps leading spaces; four per nesting level reads as nesting.
    level = len(spaces.replace("\t", "    ")) // 2
    return "    " * level


def _line(line: str) -> str:
    if _RULE.match(line):
        return "──────────"
    if heading := _HEADING.match(line):
        title = _unbold(heading.group(1))
        converted = inline(title)
        return f"*{converted}*" if converted.strip() else ""
    if bullet := _BULLET.match(line):
        return f"{_indent(bullet.group(1))}• {inline(bullet.group(2))}"
    if ordered := _ORDERED.match(line):
        return f"{_indent(ordered.group(1))}{ordered.group(2)}. {inline(ordered.group(3))}"
    if quote := _QUOTE.match(line):
        return f"> {inline(quote.group(1))}"
    return inline(line)


_BACKTICK_RUN = re.compile(r"`{3,}")


# pure, and an offline answer quotes the same sections question after question: each is
# converted once (a few regular expressions per line were 3-4% of an answered event's CPU)
@lru_cache(maxsize=RENDERED_CACHE)
def to_mrkdwn(markdown: str) -> str:
    """The core's Markdown subset as Slack mrkdwn, with every user/document mention defused.

    Code blocks are read as CommonMark reads them (`closes_fence`): a ```` block showing how to
    write a ``` block is one block, and Slack, which has only ``` and closes a block at the
    next one, is sent that one block with the ``` inside it defused (`_code`)."""
    out: list[str] = []
    marker = ""  # the fence that opened the code block we are in, or ""
    for raw in markdown.replace("\r\n", "\n").split("\n"):
        if marker and not closes_fence(marker, raw):
            out.append(_code(raw))
        elif marker:
            marker = ""
            out.append(FENCE)
        elif opened := opening_fence(raw):
            marker = opened
            out.append(FENCE)  # Slack shows a language tag as code text, so fences are bare
        else:
            out.append(_line(raw))
    if marker:
        out.append(FENCE)
    return "\n".join(out).strip("\n")


def _code(line: str) -> str:
    """A line of a code block as mrkdwn: escaped, and every run of three backticks broken by
    zero-width spaces, which Slack would otherwise take for the block's end (anywhere in a
    line, not only on one of its own) but which reads the same."""
    return _BACKTICK_RUN.sub(lambda run: _ZWSP.join(run.group()), escape(line))


# -- splitting to Slack's limits --------------------------------------------------------------


def _safe_cut(text: str, limit: int) -> int:
    """Where to cut `text` to at most `limit` characters without breaking a word, a
    `<…>` link or mention, or an `&amp;` entity."""
    if len(text) <= limit:
        return len(text)
    window = text[:limit]
    cut = max(window.rfind(" "), window.rfind("\n"))
    if cut <= limit // 2:
        cut = limit
    # never inside a <...> token or an &entity;
    opened = window.rfind("<", 0, cut)
    if opened != -1 and window.find(">", opened, cut) == -1 and opened > 0:
        cut = opened
    amp = window.rfind("&", max(0, cut - 8), cut)
    if amp != -1 and window.find(";", amp, cut) == -1 and amp > 0:
        cut = amp
    return max(cut, 1)


def split_text(text: str, limit: int = SECTION_TEXT_LIMIT) -> list[str]:
    """Split mrkdwn into pieces of at most `limit` characters, at line breaks when possible.

    A code block cut in two is closed at the end of one piece and reopened in the next, so
    each piece renders on its own.
    """
    if limit < 16:
        raise ValueError("limit too small to split mrkdwn safely")
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    in_code = False

    def has_content() -> bool:
        return bool(current) and current != [FENCE]

    def add(line: str) -> None:
        nonlocal size
        size += len(line) + (1 if current else 0)
        current.append(line)

    def flush() -> None:
        nonlocal current, size
        body = "\n".join(current).strip("\n")
        if body and body != FENCE:
            pieces.append(body + ("\n" + FENCE if in_code else ""))
        current, size = ([FENCE], len(FENCE)) if in_code else ([], 0)

    for line in text.split("\n"):
        after = in_code != (line == FENCE)
        reserve = len(FENCE) + 1 if after else 0  # room to close a code block left open
        while True:
            if size + len(line) + (1 if current else 0) + reserve <= limit:
                add(line)
                break
            if has_content():
                flush()  # start the line on a fresh piece rather than cutting it
                continue
            room = limit - size - (1 if current else 0) - reserve
            cut = _safe_cut(line, room)
            add(line[:cut].rstrip())
            line = line[cut:].lstrip(" ")
            flush()
        in_code = after
    if in_code:
        current.append(FENCE)
        in_code = False
    flush()
    return pieces


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a safe place, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = _safe_cut(text, limit - 1)
    return text[:cut].rstrip() + "…"


# -- inbound: Slack markup to plain text ------------------------------------------------------

_SLACK_TOKEN = re.compile(r"<([^<>\n]+)>")
_SPACES = re.compile(r"[ \t]{2,}")


def mentions_user(text: str, user_id: str) -> bool:
    return bool(re.search(rf"<@{re.escape(user_id)}(\|[^>]*)?>", text))


def plain_from_slack(text: str, bot_user_id: str | None = None, *, keep_user_mentions: bool = False) -> str:
    """Slack's message markup as plain text: the bot's own mention removed, other mentions
    and links made readable (`@ann`, `#general`, `label (url)`), entities decoded.

    `keep_user_mentions` keeps people as `<@U123>` (`<@U123|ann>` with the name Slack gave):
    command arguments such as `assign 4 @ann` must name a user id, which the core reads from
    that form, and the name is what the thread then calls them.
    """

    def token(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            user = target[1:]
            if user == bot_user_id:
                return ""
            if keep_user_mentions:
                return f"<@{user}|{label}>" if label else f"<@{user}>"
            return "@" + (label.lstrip("@") or user)
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!subteam^"):
            return label or "@" + target[len("!subteam^") :]
        if target.startswith("!"):
            word = target[1:].split("^", 1)[0]
            return "@" + word if word in ("channel", "here", "everyone") else label
        if label and label not in target:
            return f"{label} ({target})"
        return target.removeprefix("mailto:")

    plain = _SLACK_TOKEN.sub(token, text)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    lines = [_SPACES.sub(" ", line).strip() for line in plain.split("\n")]
    return "\n".join(lines).strip()
