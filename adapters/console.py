"""The terminal adapter: the embedded default and the reference Channel.

`supportbot chat` runs a conversation in the terminal with the full core: answers with
sources, buttons typed as `:helpful`, `:not-helpful`, `:human`, tickets, and
`/support ...` commands. Being the simplest Channel, it is also what core tests use to
see exactly what a person would see.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TextIO

from bot.core import SupportBot
from bot.types import (
    ActionEvent,
    ActionKind,
    Author,
    Button,
    Command,
    ConversationRef,
    InboundMessage,
    MentionKind,
    Outcome,
    Platform,
    Posted,
    Reply,
    ReplyKind,
)

_ACTION_WORDS = {
    ":helpful": ActionKind.HELPFUL,
    ":not-helpful": ActionKind.NOT_HELPFUL,
    ":human": ActionKind.TALK_TO_HUMAN,
    ":person": ActionKind.TALK_TO_HUMAN,
    ":good": ActionKind.RATE_GOOD,
    ":bad": ActionKind.RATE_BAD,
}
_TYPED = {v: k for k, v in _ACTION_WORDS.items() if k != ":person"}


def _typed(button: Button) -> str:
    """What to type in the terminal to press `button`."""
    if button.action in _TYPED:
        return _TYPED[button.action]
    return f"/support {button.action} {button.value}"  # claim / resolve are commands too


def render(reply: Reply) -> str:
    """A reply as plain text, the way the terminal shows it."""
    lines: list[str] = []
    if reply.mentions:
        tags = " ".join(f"@{'group:' if m.kind == MentionKind.GROUP else ''}{m.id}" for m in reply.mentions)
        lines.append(tags)
    lines.append(reply.text)
    if reply.citations:
        lines.append("")
        lines.append("Sources:")
        for n, citation in enumerate(reply.citations, start=1):
            where = citation.title + (f" > {citation.heading}" if citation.heading else "")
            link = citation.url or citation.path
            lines.append(f"  [{n}] {where} ({link})")
    if reply.buttons:
        lines.append("Options: " + ", ".join(f"{_typed(b)} ({b.label})" for b in reply.buttons))
    return "\n".join(lines)


class ConsoleChannel:
    """A Channel that prints to a stream; `posted` keeps everything for inspection."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.posted: list[tuple[Posted, Reply]] = []
        self.edits: list[tuple[Posted, Reply]] = []
        self._ids = itertools.count(1)

    async def send(self, reply: Reply) -> Posted:
        posted = Posted(message_id=f"m{next(self._ids)}", conversation=reply.conversation)
        self.posted.append((posted, reply))
        prefix = "(only you) " if reply.ephemeral_to else ""
        self._print(prefix + render(reply))
        return posted

    async def edit(self, posted: Posted, reply: Reply) -> None:
        self.edits.append((posted, reply))
        if reply.kind != ReplyKind.THINKING:
            self._print(f"(updated {posted.message_id}) " + render(reply))

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        if message.conversation.thread is not None:
            return message.conversation
        return message.conversation.in_thread(message.id)

    def _print(self, text: str) -> None:
        self.out.write(f"bot> {text}\n\n")
        self.out.flush()


class ConsoleSession:
    """One terminal conversation: turns typed lines into the core's events."""

    def __init__(self, bot: SupportBot, channel: ConsoleChannel, *, user: str = "you") -> None:
        self.bot = bot
        self.channel = channel
        self.author = Author(id=user, name=user)
        self.conversation = ConversationRef(
            platform=Platform.CONSOLE, workspace="local", channel="terminal", thread=uuid.uuid4().hex[:8]
        )
        self._counter = itertools.count(1)

    def _last_value(self, action: ActionKind) -> str | None:
        """The value of the most recent button of this kind: the answer or ticket it is about."""
        for _, reply in reversed(self.channel.posted):
            for button in reply.buttons:
                if button.action == action:
                    return button.value
        return None

    async def handle_line(self, line: str, *, as_user: Author | None = None) -> Outcome | None:
        """Handle one typed line; None for a line that is not an event (blank)."""
        author = as_user or self.author
        text = line.strip()
        if not text:
            return None
        event_id = f"{self.conversation.thread}-{next(self._counter)}"
        visibility = self.bot.settings.console.visibility
        if text.startswith("/support"):
            name, _, args = text.removeprefix("/support").strip().partition(" ")
            command = Command(
                id=event_id,
                name=name or "help",
                args=args.strip(),
                invoker=author,
                conversation=self.conversation,
                visibility=visibility,
            )
            return await self.bot.on_command(command, self.channel)
        if text.lower() in _ACTION_WORDS:
            action = _ACTION_WORDS[text.lower()]
            value = self._last_value(action)
            if value is None:
                self.channel._print(f"There is nothing to answer {text} to yet.")
                return None
            event = ActionEvent(
                id=event_id,
                conversation=self.conversation,
                actor=author,
                action=action,
                value=value,
                visibility=visibility,
            )
            return await self.bot.on_action(event, self.channel)
        message = InboundMessage(
            id=event_id,
            conversation=self.conversation,
            author=author,
            text=text,
            addressed=True,
            visibility=visibility,
            sent_at=datetime.now(UTC),
        )
        return await self.bot.on_message(message, self.channel)


async def run_chat(
    bot: SupportBot,
    *,
    read_line: Callable[[], Awaitable[str | None]] | None = None,
    out: TextIO | None = None,
    user: str = "you",
) -> None:
    """The interactive loop of `supportbot chat`; ends on EOF, `quit` or `exit`."""
    channel = ConsoleChannel(out)
    session = ConsoleSession(bot, channel, user=user)
    reader = read_line or _stdin_reader
    channel.out.write(
        "Ask a question (Korean or English). Type :helpful, :not-helpful or :human after an answer,\n"
        "/support help for commands, quit to leave.\n\n"
    )
    while True:
        line = await reader()
        if line is None or line.strip().lower() in {"quit", "exit", ":q"}:
            return
        await session.handle_line(line)


async def _stdin_reader() -> str | None:
    try:
        return await asyncio.to_thread(input, "you> ")
    except EOFError:
        return None
