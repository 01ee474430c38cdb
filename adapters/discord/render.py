"""Rendering the core's replies for Discord: pure functions, no I/O, no discord.py objects.

This module owns what a Reply looks like on Discord and nothing else:

* mention safety: `neutralise` defuses every mention-like token in user or document text
  (`@everyone`, `@here`, `<@id>`, `<@!id>`, `<@&id>`), so only the pings the core asks for
  (`Reply.mentions`) are real, and `allowed_mentions` names exactly those;
* content: Markdown is Discord's own, so text passes through; long text is split at
  Discord's 2000-character limit (adapters/discord/split.py);
* sources: one embed listing the citations, linked when they have a URL, within the
  embed limits;
* buttons: specs with stable custom ids `supportbot:<action>:<value>` that the adapter's
  persistent dispatcher parses back (`parse_custom_id`) after any restart;
* names and links: thread names (1..100 characters, cleaned) and jump URLs.

`adapters/discord/channel.py` turns a `RenderedMessage` into `discord.Embed` / `discord.ui.View`
objects; keeping this side free of the SDK makes every rule testable on plain values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.discord.split import CONTENT_LIMIT, split_text
from bot.messages import say
from bot.types import (
    ActionKind,
    Button,
    ButtonStyle,
    Citation,
    ConversationRef,
    MentionKind,
    Reply,
    ReplyKind,
)

EMBED_DESCRIPTION_LIMIT = 4096
EMBED_TOTAL_LIMIT = 6000
THREAD_NAME_LIMIT = 100
BUTTON_LABEL_LIMIT = 80
CUSTOM_ID_LIMIT = 100
BUTTONS_PER_ROW = 5
MAX_ROWS = 5
CUSTOM_ID_PREFIX = "supportbot"
SOURCES_COLOUR = 0x5865F2  # Discord's blurple: the sources read as part of the bot's answer

# Discord's component button styles.
STYLE_PRIMARY = 1
STYLE_SECONDARY = 2
STYLE_DANGER = 4
_STYLES = {
    ButtonStyle.PRIMARY: STYLE_PRIMARY,
    ButtonStyle.DEFAULT: STYLE_SECONDARY,
    ButtonStyle.DANGER: STYLE_DANGER,
}

ZWSP = "\u200b"
# Every token Discord may turn into a ping or a highlighted mention. Discord parses
# @everyone/@here anywhere in a message, and user/role mentions by their <@...> syntax.
_MENTION = re.compile(r"@(everyone|here)|<@([!&]?)(\d+)>", re.IGNORECASE)
_ANY_MENTION_TOKEN = re.compile(r"<(@[!&]?|#)\d+>")
_CUSTOM_ID = re.compile(rf"^{CUSTOM_ID_PREFIX}:(?P<action>[a-z_]+):(?P<value>\S+)$")


@dataclass(frozen=True, kw_only=True)
class ButtonSpec:
    custom_id: str
    label: str
    style: int = STYLE_SECONDARY


@dataclass(frozen=True, kw_only=True)
class RenderedMessage:
    """One Discord message: what `Messageable.send` / a follow-up / an edit needs."""

    content: str
    embeds: tuple[dict[str, Any], ...] = ()
    buttons: tuple[ButtonSpec, ...] = ()
    # The only pings allowed: everything else is none (`{"parse": []}` plus these ids).
    allowed_users: tuple[int, ...] = ()
    allowed_roles: tuple[int, ...] = ()
    reference: int | None = None  # the message this replies to, when not in a thread


# -- mention safety -------------------------------------------------------------------


def neutralise(text: str) -> str:
    """Defuse mentions in text someone else wrote: a zero-width space after the `@`.

    The text still reads the same (`@everyone`, `<@&123>`), but Discord no longer parses
    it as a mention, so it neither pings nor renders as a highlighted role or user, even
    if `allowed_mentions` were ever lost on the way. Channel links (`<#id>`) are harmless
    and left alone.
    """

    def defuse(match: re.Match[str]) -> str:
        if match.group(1):
            return f"@{ZWSP}{match.group(1)}"
        return f"<@{ZWSP}{match.group(2)}{match.group(3)}>"

    return _MENTION.sub(defuse, text)


def strip_bot_mention(text: str, bot_id: int | str, bot_role_id: int | str | None = None) -> str:
    """The question without the mention that addressed it (user mention or managed role)."""
    ids = [re.escape(f"<@{bot_id}>"), re.escape(f"<@!{bot_id}>")]
    if bot_role_id is not None:
        ids.append(re.escape(f"<@&{bot_role_id}>"))
    stripped = re.sub("|".join(ids), " ", text)
    return re.sub(r"[ \t]{2,}", " ", stripped).strip()


def mention_prefix(reply: Reply) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """The pings of a reply (text, user ids, role ids); ephemeral replies ping nobody."""
    if reply.ephemeral_to:
        return "", (), ()
    users: list[int] = []
    roles: list[int] = []
    for mention in reply.mentions:
        if not mention.id.isdigit():
            continue  # not a Discord snowflake (e.g. a Slack group): nothing to ping here
        if mention.kind == MentionKind.ROLE and int(mention.id) not in roles:
            roles.append(int(mention.id))
        elif mention.kind == MentionKind.USER and int(mention.id) not in users:
            users.append(int(mention.id))
    tags = [f"<@&{r}>" for r in roles] + [f"<@{u}>" for u in users]
    return " ".join(tags), tuple(users), tuple(roles)


# -- text -----------------------------------------------------------------------------


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def thread_name(title: str) -> str:
    """A thread name from a question: one line, no mention syntax, 1..100 characters."""
    text = _ANY_MENTION_TOKEN.sub("", title)
    text = re.sub(r"@(everyone|here)", r"\1", text, flags=re.IGNORECASE)
    text = re.sub(r"[`*_~|>#]+", "", text)  # Markdown does not render in names
    text = " ".join(text.split())
    return truncate(text, THREAD_NAME_LIMIT) or "Question"


def forum_question(name: str, content: str) -> str:
    """A forum post's question: its title and body (the title often is the question)."""
    name, content = name.strip(), content.strip()
    if not content or content.startswith(name):
        return content or name
    if not name:
        return content
    return f"{name}\n\n{content}"


def jump_url(ref: ConversationRef) -> str:
    """A link that opens the conversation (its thread when it has one)."""
    where = "@me" if ref.workspace == "dm" else ref.workspace
    return f"https://discord.com/channels/{where}/{ref.thread or ref.channel}"


# -- buttons --------------------------------------------------------------------------


def custom_id(action: ActionKind | str, value: str) -> str:
    return f"{CUSTOM_ID_PREFIX}:{action}:{value}"


def parse_custom_id(value: str) -> tuple[ActionKind, str] | None:
    """The action and value a button carries, or None for an id this bot did not make."""
    match = _CUSTOM_ID.match(value)
    if match is None:
        return None
    try:
        return ActionKind(match.group("action")), match.group("value")
    except ValueError:
        return None


def button_specs(buttons: Sequence[Button]) -> tuple[ButtonSpec, ...]:
    specs = []
    for button in buttons[: BUTTONS_PER_ROW * MAX_ROWS]:
        cid = custom_id(button.action, button.value)
        if len(cid) > CUSTOM_ID_LIMIT or any(c.isspace() for c in button.value):
            continue  # Discord would reject the whole message; the button cannot work anyway
        specs.append(
            ButtonSpec(
                custom_id=cid,
                label=truncate(button.label, BUTTON_LABEL_LIMIT) or str(button.action),
                style=_STYLES.get(button.style, STYLE_SECONDARY),
            )
        )
    return tuple(specs)


# -- sources --------------------------------------------------------------------------


def _link_text(text: str) -> str:
    # square brackets would end a masked link early; Discord honours backslash escapes
    return text.replace("[", "\\[").replace("]", "\\]")


def citation_line(number: int, citation: Citation) -> str:
    where = citation.title or citation.path
    if citation.heading and citation.heading != citation.title:
        where = f"{where} › {citation.heading}"
    where = neutralise(truncate(" ".join(where.split()), 200))
    if citation.url and citation.url.startswith(("https://", "http://")):
        return f"{number}. [{_link_text(where)}]({citation.url})"
    return f"{number}. {where} (`{citation.path}`)"


def sources_embed(citations: Sequence[Citation], language: str = "en") -> dict[str, Any] | None:
    """One embed listing the sources, or None without citations."""
    if not citations:
        return None
    title = say("sources", language)
    lines: list[str] = []
    used = len(title)
    for number, citation in enumerate(citations, start=1):
        line = citation_line(number, citation)
        if used + len(line) + 1 > min(EMBED_DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - 100):
            break
        lines.append(line)
        used += len(line) + 1
    return {"title": title, "description": "\n".join(lines), "color": SOURCES_COLOUR}


# -- replies --------------------------------------------------------------------------


def _body(reply: Reply) -> str:
    text = neutralise(reply.text.strip())
    if reply.refers_to is not None:
        text += f"\n[Open the conversation]({jump_url(reply.refers_to)})"
    named = [f"<#{ref.channel}>" for ref in reply.channels if re.fullmatch(r"[0-9]+", ref.channel)]
    if named:  # Discord shows a channel's name for its id written so, and links it
        text += "\nChannels: " + ", ".join(named)
    if reply.links:  # several conversations (a burst alert's threads): numbered links on one line
        text += "\nThreads: " + " · ".join(f"[{n}]({jump_url(ref)})" for n, ref in enumerate(reply.links, 1))
    return text


def render_reply(reply: Reply) -> list[RenderedMessage]:
    """A reply as one or more Discord messages.

    The pings lead the first message and are the only mentions it allows; the sources
    embed and the buttons ride on the last message, under the end of the answer.
    """
    prefix, users, roles = mention_prefix(reply)
    body = _body(reply)
    text = f"{prefix}\n{body}" if prefix else body
    pieces = split_text(text or "…")
    embed = sources_embed(reply.citations, reply.language)
    # a reply quotes the question it answers, unless it goes in the thread started from that
    # question (the question is the thread's starter, in the parent channel: no reply there)
    reference = (
        int(reply.in_reply_to)
        if reply.in_reply_to
        and reply.in_reply_to.isdigit()
        and reply.conversation.thread != reply.in_reply_to
        else None
    )
    messages: list[RenderedMessage] = []
    for index, piece in enumerate(pieces):
        first, last = index == 0, index == len(pieces) - 1
        messages.append(
            RenderedMessage(
                content=piece,
                embeds=(embed,) if last and embed else (),
                buttons=button_specs(reply.buttons) if last else (),
                allowed_users=users if first else (),
                allowed_roles=roles if first else (),
                reference=reference if first else None,
            )
        )
    return messages


def render_edit(reply: Reply) -> RenderedMessage:
    """A reply replacing one posted message: one message, its text cut to fit if needed.

    Edits never notify anyone, so the mentions are kept only to keep their rendering.
    """
    prefix, users, roles = mention_prefix(reply)
    body = _body(reply)
    text = f"{prefix}\n{body}" if prefix else body
    embed = sources_embed(reply.citations, reply.language)
    return RenderedMessage(
        content=truncate(text or "…", CONTENT_LIMIT),
        embeds=(embed,) if embed else (),
        buttons=button_specs(reply.buttons),
        allowed_users=users,
        allowed_roles=roles,
    )


def allowed_mentions_payload(message: RenderedMessage) -> dict[str, Any]:
    """What `allowed_mentions` must be on the wire: nothing but the named users and roles."""
    payload: dict[str, Any] = {"parse": []}
    if message.allowed_users:
        payload["users"] = [str(u) for u in message.allowed_users]
    if message.allowed_roles:
        payload["roles"] = [str(r) for r in message.allowed_roles]
    return payload


# -- forum tags -----------------------------------------------------------------------

TAG_ANSWERED = "answered"
TAG_NEEDS_STAFF = "needs staff"
TAG_RESOLVED = "resolved"
FORUM_TAG_NAMES = frozenset({TAG_ANSWERED, TAG_NEEDS_STAFF, TAG_RESOLVED})


def normalise_tag_name(name: str) -> str:
    """ "Needs-Staff", "needs_staff" and "needs staff" are the same tag."""
    return " ".join(re.sub(r"[-_]", " ", name).lower().split())


def forum_tag_for(reply: Reply, *, edited: bool) -> str | None:
    """Which status tag a forum post should wear after this reply, if it says anything.

    Read from what the Channel sees: an answer; an escalation posted with the ticket's
    buttons (claim / resolve: the ticket is open); the escalation message edited without
    buttons (the ticket left the open and claimed states: resolved or closed).
    """
    if reply.kind == ReplyKind.ANSWER and not edited:
        return TAG_ANSWERED
    if reply.kind == ReplyKind.ESCALATION:
        ticket_buttons = any(b.action in (ActionKind.CLAIM, ActionKind.RESOLVE) for b in reply.buttons)
        if ticket_buttons:
            return TAG_NEEDS_STAFF
        if edited:
            return TAG_RESOLVED
    return None
