"""Slack rendering: a core `Reply` as Block Kit messages. Pure functions, no I/O.

This module owns how a `Reply` looks in Slack and nothing about sending it:

* `render_reply` turns a Reply into one or more `SlackMessage`s (fallback `text` + `blocks`)
  within Slack's limits: 3000 characters per section, 50 blocks and 40,000 characters per
  message, 10 context elements, 25 buttons; `render_single` fits one message (for edits);
* `action_id_for` / `action_from_id` encode the core's ActionKind in button action ids;
* sources as a context block, buttons as an actions block, ticket cards with a permalink.

Text conversion and mention neutralisation are `adapters.slack.mrkdwn`'s; the caller
(`adapters.slack.channel`) resolves permalinks and does the calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from adapters.slack.mrkdwn import (
    FENCE,
    SECTION_TEXT_LIMIT,
    escape,
    link,
    mention_tag,
    safe_url,
    split_text,
    to_mrkdwn,
    truncate,
)
from bot.types import (
    ActionKind,
    Button,
    ButtonStyle,
    Citation,
    Reply,
)

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


@dataclass(frozen=True)
class SlackMessage:
    """One chat.postMessage worth of content: the notification/fallback text and blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


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
        return truncate(link(citation.url, where), CONTEXT_TEXT_LIMIT)
    return truncate(escape(where), CONTEXT_TEXT_LIMIT)


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
        "text": {"type": "plain_text", "text": truncate(button.label, BUTTON_LABEL_LIMIT) or "…"},
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
    reply: Reply, permalink: str | None, sources_label: str, link_label: str, thread_links: Sequence[str] = ()
) -> list[dict[str, Any]]:
    tail: list[dict[str, Any]] = []
    if permalink and safe_url(permalink):
        tail.append(_section(link(permalink, link_label)))
    named = [f"<#{ref.channel}>" for ref in reply.channels if re.fullmatch(r"[A-Z0-9]+", ref.channel)]
    if named:  # Slack shows a channel's name for its id written so, and links it
        tail.append(_section("Channels: " + ", ".join(named)))
    numbered = [link(url, str(n)) for n, url in enumerate(thread_links, 1) if safe_url(url)]
    if numbered:  # several conversations (a burst alert's threads): numbered links on one line
        tail.append(_section("Threads: " + " · ".join(numbered)))
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
    starts_block = body.startswith((">", "•", FENCE)) or bool(re.match(r"\d+\. ", body))
    return f"{tags}\n{body}" if starts_block else f"{tags} {body}"


def _tail_text(reply: Reply, body: str, sources_label: str) -> str:
    if reply.citations:
        titles = ", ".join(escape(c.title or c.path) for c in reply.citations)
        return truncate(f"{escape(sources_label)}: {titles}", SECTION_TEXT_LIMIT)
    first = body.split("\n", 1)[0] if body else ""
    return truncate(first, SECTION_TEXT_LIMIT) or "…"


def render_reply(
    reply: Reply,
    *,
    permalink: str | None = None,
    sources_label: str = "Sources",
    link_label: str = "Open the conversation",
    thread_links: Sequence[str] = (),
) -> list[SlackMessage]:
    """A Reply as Slack messages, in posting order: mentions first, then the text in sections,
    and on the last message the link, the sources and the buttons."""
    body = _body(reply)
    sections = [_section(piece) for piece in split_text(body)] if body else []
    tail = _tail_blocks(reply, permalink, sources_label, link_label, thread_links)

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
    thread_links: Sequence[str] = (),
) -> SlackMessage:
    """A Reply as exactly one message (chat.update replaces one message): if it would need
    several, the text is shortened so the buttons and sources stay."""
    options: dict[str, Any] = {
        "permalink": permalink,
        "sources_label": sources_label,
        "link_label": link_label,
        "thread_links": thread_links,
    }
    messages = render_reply(reply, **options)
    limit = len(reply.text)
    while len(messages) > 1 and limit > 100:
        limit = limit * 2 // 3
        shorter = replace(reply, text=truncate(reply.text, limit))
        messages = render_reply(shorter, **options)
    return messages[0]


def plain_text(message: SlackMessage) -> SlackMessage:
    """The same message without blocks: what to post when Slack refuses the blocks."""
    return SlackMessage(text=truncate(message.text, MESSAGE_TEXT_LIMIT) or "…")


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
