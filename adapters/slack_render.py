"""Slack rendering: the core's Markdown subset to Slack mrkdwn and Block Kit. Pure functions.

This module owns everything about how a `Reply` looks in Slack and nothing about sending it:

* `to_mrkdwn` converts the core's Markdown (links, bold, italics, code, code blocks, lists,
  headings, quotes) to Slack's mrkdwn, escaping `&`, `<` and `>` as Slack requires;
* every mention-like token that a user or a document wrote (`<!channel>`, `<!here>`,
  `<!everyone>`, `<@U…>`, `<!subteam^…>`, a bare `@channel`) is neutralised, so only the
  `Reply.mentions` the core asked for can ping anyone (`mention_tag`);
* `render_reply` turns a Reply into one or more `SlackMessage`s (fallback `text` + `blocks`)
  within Slack's limits: 3000 characters per section, 50 blocks and 40,000 characters per
  message, 10 context elements, 25 buttons;
* `action_id_for` / `action_from_id` encode the core's ActionKind in button action ids;
* `plain_from_slack` turns Slack's inbound markup (`<@U1>`, `<url|label>`, `&amp;`) into the
  plain text the core reads, with the bot's own mention removed.

No I/O happens here: `adapters/slack.py` resolves permalinks and does the calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.types import (
    ActionKind,
    Button,
    ButtonStyle,
    Citation,
    Mention,
    MentionKind,
    Reply,
)

SECTION_TEXT_LIMIT = 3000
MESSAGE_BLOCK_LIMIT = 50
MESSAGE_TEXT_LIMIT = 40_000
CONTEXT_ELEMENT_LIMIT = 10
CONTEXT_TEXT_LIMIT = 2000
ACTIONS_ELEMENT_LIMIT = 25
BUTTON_LABEL_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
ACTION_PREFIX = "supportbot:"

# Room kept below the message limit: fallback text joins sections with newlines.
_MESSAGE_TEXT_BUDGET = MESSAGE_TEXT_LIMIT - 1000
_ZWSP = "\u200b"
_FENCE = "```"


@dataclass(frozen=True)
class SlackMessage:
    """One chat.postMessage worth of content: the notification/fallback text and blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


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

_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_LINK_OR_AUTOLINK = re.compile(
    r"\[(?P<label>[^\[\]]*)\]\(\s*<?(?P<url>[^()\s<>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
    r"|<(?P<auto>(?:https?|mailto):[^<>\s]+)>"
)
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_BOLD_MARK = "\x01"  # stands for a bold '*' while single-star italics are rewritten


def _emphasis(escaped: str) -> str:
    text = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(2)}{_BOLD_MARK}", escaped)
    text = _ITALIC_STAR.sub(lambda m: f"_{m.group(1)}_", text)
    text = _STRIKE.sub(lambda m: f"~{m.group(1)}~", text)
    return text.replace(_BOLD_MARK, "*")


def _prose(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _LINK_OR_AUTOLINK.finditer(text):
        out.append(_emphasis(escape(text[pos : match.start()])))
        if match.group("auto"):
            out.append(link(match.group("auto"), ""))
        else:
            label = _BOLD.sub(lambda m: m.group(2), match.group("label"))
            out.append(link(match.group("url"), label))
        pos = match.end()
    out.append(_emphasis(escape(text[pos:])))
    return "".join(out)


def inline(text: str) -> str:
    """One line of Markdown to mrkdwn: code spans kept verbatim (escaped), the rest converted."""
    out: list[str] = []
    pos = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_prose(text[pos : match.start()]))
        code = match.group(2).replace("`", "'")
        out.append(f"`{escape(code)}`")
        pos = match.end()
    out.append(_prose(text[pos:]))
    return "".join(out)


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
        title = _BOLD.sub(lambda m: m.group(2), heading.group(1))
        converted = inline(title)
        return f"*{converted}*" if converted.strip() else ""
    if bullet := _BULLET.match(line):
        return f"{_indent(bullet.group(1))}• {inline(bullet.group(2))}"
    if ordered := _ORDERED.match(line):
        return f"{_indent(ordered.group(1))}{ordered.group(2)}. {inline(ordered.group(3))}"
    if quote := _QUOTE.match(line):
        return f"> {inline(quote.group(1))}"
    return inline(line)


def to_mrkdwn(markdown: str) -> str:
    """The core's Markdown subset as Slack mrkdwn, with every user/document mention defused."""
    out: list[str] = []
    in_code = False
    for raw in markdown.replace("\r\n", "\n").split("\n"):
        if raw.strip().startswith(_FENCE):
            # Slack shows a language tag as code text, so fences are bare.
            in_code = not in_code
            out.append(_FENCE)
            continue
        out.append(escape(raw) if in_code else _line(raw))
    if in_code:
        out.append(_FENCE)
    return "\n".join(out).strip("\n")


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
        return bool(current) and current != [_FENCE]

    def add(line: str) -> None:
        nonlocal size
        size += len(line) + (1 if current else 0)
        current.append(line)

    def flush() -> None:
        nonlocal current, size
        body = "\n".join(current).strip("\n")
        if body and body != _FENCE:
            pieces.append(body + ("\n" + _FENCE if in_code else ""))
        current, size = ([_FENCE], len(_FENCE)) if in_code else ([], 0)

    for line in text.split("\n"):
        after = in_code != (line == _FENCE)
        reserve = len(_FENCE) + 1 if after else 0  # room to close a code block left open
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
        current.append(_FENCE)
        in_code = False
    flush()
    return pieces


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = _safe_cut(text, limit - 1)
    return text[:cut].rstrip() + "…"


# -- Block Kit --------------------------------------------------------------------------------


def action_id_for(kind: ActionKind, index: int = 0) -> str:
    """`supportbot:<kind>`; a second button of the same kind gets `:<n>` (ids are unique)."""
    return f"{ACTION_PREFIX}{kind}" + (f":{index}" if index else "")


def action_from_id(action_id: str) -> ActionKind | None:
    if not action_id.startswith(ACTION_PREFIX):
        return None
    name = action_id[len(ACTION_PREFIX) :].split(":", 1)[0]
    try:
        return ActionKind(name)
    except ValueError:
        return None


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def citation_text(citation: Citation) -> str:
    """One source: a link to its URL when it has one, else its title and heading."""
    title = citation.title.strip() or citation.path
    where = title + (f" › {citation.heading.strip()}" if citation.heading.strip() else "")
    if citation.url and safe_url(citation.url):
        return _truncate(link(citation.url, where), CONTEXT_TEXT_LIMIT)
    return _truncate(escape(where), CONTEXT_TEXT_LIMIT)


def sources_block(citations: Sequence[Citation], label: str = "Sources") -> dict[str, Any] | None:
    if not citations:
        return None
    shown = citations[: CONTEXT_ELEMENT_LIMIT - 1]  # one element is the label
    elements = [{"type": "mrkdwn", "text": f"*{escape(label)}:*"}]
    elements += [{"type": "mrkdwn", "text": f"{n}. {citation_text(c)}"} for n, c in enumerate(shown, start=1)]
    return {"type": "context", "elements": elements}


def _button(button: Button, action_id: str) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": _truncate(button.label, BUTTON_LABEL_LIMIT) or "…"},
        "value": button.value[:BUTTON_VALUE_LIMIT],
    }
    if button.style != ButtonStyle.DEFAULT:
        element["style"] = str(button.style)
    return element


def actions_block(buttons: Sequence[Button]) -> dict[str, Any] | None:
    if not buttons:
        return None
    seen: dict[ActionKind, int] = {}
    elements = []
    for button in buttons[:ACTIONS_ELEMENT_LIMIT]:
        index = seen.get(button.action, 0)
        seen[button.action] = index + 1
        elements.append(_button(button, action_id_for(button.action, index)))
    return {"type": "actions", "block_id": "supportbot_actions", "elements": elements}


def _tail_blocks(
    reply: Reply, permalink: str | None, sources_label: str, link_label: str
) -> list[dict[str, Any]]:
    tail: list[dict[str, Any]] = []
    if permalink and safe_url(permalink):
        tail.append(_section(link(permalink, link_label)))
    if block := sources_block(reply.citations, sources_label):
        tail.append(block)
    if block := actions_block(reply.buttons):
        tail.append(block)
    return tail


def _body(reply: Reply) -> str:
    body = to_mrkdwn(reply.text)
    tags = " ".join(t for t in (mention_tag(m) for m in reply.mentions) if t)
    if not tags:
        return body
    if not body:
        return tags
    # a block element (quote, list, code) must stay at the start of its own line
    starts_block = body.startswith((">", "•", _FENCE)) or bool(re.match(r"\d+\. ", body))
    return f"{tags}\n{body}" if starts_block else f"{tags} {body}"


def _tail_text(reply: Reply, body: str, sources_label: str) -> str:
    if reply.citations:
        titles = ", ".join(escape(c.title or c.path) for c in reply.citations)
        return _truncate(f"{escape(sources_label)}: {titles}", SECTION_TEXT_LIMIT)
    first = body.split("\n", 1)[0] if body else ""
    return _truncate(first, SECTION_TEXT_LIMIT) or "…"


def render_reply(
    reply: Reply,
    *,
    permalink: str | None = None,
    sources_label: str = "Sources",
    link_label: str = "Open the conversation",
) -> list[SlackMessage]:
    """A Reply as Slack messages, in posting order: mentions first, then the text in sections,
    and on the last message the link, the sources and the buttons."""
    body = _body(reply)
    sections = [_section(piece) for piece in split_text(body)] if body else []
    tail = _tail_blocks(reply, permalink, sources_label, link_label)

    messages: list[SlackMessage] = []
    blocks: list[dict[str, Any]] = []
    texts: list[str] = []
    size = 0
    for section in sections:
        text = section["text"]["text"]
        full = len(blocks) >= MESSAGE_BLOCK_LIMIT or size + len(text) > _MESSAGE_TEXT_BUDGET
        if blocks and full:
            messages.append(SlackMessage(text="\n".join(texts), blocks=blocks))
            blocks, texts, size = [], [], 0
        blocks.append(section)
        texts.append(text)
        size += len(text) + 1
    if tail:
        if blocks and len(blocks) + len(tail) > MESSAGE_BLOCK_LIMIT:
            messages.append(SlackMessage(text="\n".join(texts), blocks=blocks))
            blocks, texts = [], []
        blocks.extend(tail)
        if not texts:
            texts.append(_tail_text(reply, body, sources_label))
    if blocks:
        messages.append(SlackMessage(text="\n".join(texts), blocks=blocks))
    if not messages:
        messages.append(SlackMessage(text="…", blocks=[_section("…")]))
    return messages


def render_single(
    reply: Reply,
    *,
    permalink: str | None = None,
    sources_label: str = "Sources",
    link_label: str = "Open the conversation",
) -> SlackMessage:
    """A Reply as exactly one message (chat.update replaces one message): if it would need
    several, the text is shortened so the buttons and sources stay."""
    messages = render_reply(reply, permalink=permalink, sources_label=sources_label, link_label=link_label)
    limit = len(reply.text)
    while len(messages) > 1 and limit > 100:
        limit = limit * 2 // 3
        shorter = replace(reply, text=_truncate(reply.text, limit))
        messages = render_reply(
            shorter, permalink=permalink, sources_label=sources_label, link_label=link_label
        )
    return messages[0]


def plain_text(message: SlackMessage) -> SlackMessage:
    """The same message without blocks: what to post when Slack refuses the blocks."""
    return SlackMessage(text=_truncate(message.text, MESSAGE_TEXT_LIMIT) or "…")


# -- inbound: Slack markup to plain text ------------------------------------------------------

_SLACK_TOKEN = re.compile(r"<([^<>\n]+)>")
_SPACES = re.compile(r"[ \t]{2,}")


def mentions_user(text: str, user_id: str) -> bool:
    return bool(re.search(rf"<@{re.escape(user_id)}(\|[^>]*)?>", text))


def plain_from_slack(text: str, bot_user_id: str | None = None, *, keep_user_mentions: bool = False) -> str:
    """Slack's message markup as plain text: the bot's own mention removed, other mentions
    and links made readable (`@ann`, `#general`, `label (url)`), entities decoded.

    `keep_user_mentions` keeps people as `<@U123>`: command arguments such as
    `assign 4 @ann` must name a user id, which the core reads from that form.
    """

    def token(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            user = target[1:]
            if user == bot_user_id:
                return ""
            return f"<@{user}>" if keep_user_mentions else "@" + (label.lstrip("@") or user)
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


def iter_strings(value: Any) -> Iterable[str]:
    """Every string inside a JSON-like value (for checks over rendered blocks)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from iter_strings(item)
