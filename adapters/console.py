"""The terminal adapter: the embedded default and the reference Channel.

`supportbot chat` runs a conversation in the terminal with the full core: answers with
sources, buttons typed as `:helpful`, `:not-helpful`, `:human`, tickets, and
`/support ...` commands. Being the simplest Channel, it is also what core tests use to
see exactly what a person would see.

The terminal has the shape of a Slack channel: each question typed at the top level is a
top-level message, so the core opens a thread (a conversation, and at most one ticket) for
it. `/thread` replies in the current question's thread, as a reply in Slack would;
`/new` (or Ctrl-L, then Enter) goes back to the top level. `/support ...` commands run as
a staff member distinct from the asker, because one terminal plays both parts and the core
tells them apart by identity (who may rate a ticket, whose reply takes over a thread): both
identities are adapters/console_users.py's.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from adapters.console_users import DEFAULT_USER, console_staff, console_user
from bot import policy
from bot.channel_types import Platform
from bot.errors import StoreError
from bot.markdown import unescape
from bot.messages import say
from bot.ports import PostChanged
from bot.text import read_line
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
    Posted,
    Reply,
    ReplyKind,
)

if TYPE_CHECKING:  # `supportbot ask` renders with this module: the core is chat's alone
    from bot.core import SupportBot

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
    lines.append(unescape(reply.text))  # the terminal renders no Markdown: quotes as typed
    if reply.channels:
        lines.append("Channels: " + ", ".join(f"#{ref.channel}" for ref in reply.channels))
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

    def __init__(self, out: TextIO | None = None, *, prefix: str = "") -> None:
        self.out = out or sys.stdout
        self.posted: list[tuple[Posted, Reply]] = []
        self.edits: list[tuple[Posted, Reply]] = []
        # each message as it reads now: an edit can take a message's buttons away (a claimed
        # ticket's Claim button), and a typed shortcut must not press a button nobody sees
        self.current: dict[str, Reply] = {}
        # message ids become thread ids (`/support ask` threads on its post): a session
        # prefix keeps them from meeting an earlier session's threads in a kept store
        self._prefix = prefix
        self._ids = itertools.count(1)

    async def send(self, reply: Reply) -> Posted:
        posted = Posted(message_id=f"{self._prefix}m{next(self._ids)}", conversation=reply.conversation)
        self.posted.append((posted, reply))
        self.current[posted.message_id] = reply
        prefix = "(only you) " if reply.ephemeral_to else ""
        self._print(prefix + render(reply))
        return posted

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        self.edits.append((posted, reply))
        self.current[posted.message_id] = reply
        if reply.kind != ReplyKind.THINKING:
            self._print(f"(updated {posted.message_id}) " + render(reply))
        return posted

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        if message.conversation.thread is not None:
            return message.conversation
        return message.conversation.in_thread(message.id)

    async def find_reply(self, message: InboundMessage) -> Posted | None:
        """`bot.ports.FindsReplies`: the first post in the thread a top-level message opened.
        The console does not see what people type in a thread, so for a message inside one it
        cannot tell whose question a later post answers: None."""
        if message.conversation.thread is not None:
            return None
        thread = message.conversation.in_thread(message.id).key
        return next(
            (
                posted
                for posted, reply in self.posted
                if not reply.ephemeral_to and reply.conversation.key == thread
            ),
            None,
        )

    async def find_post(self, where: ConversationRef, after: datetime, button: Button) -> Posted | None:
        """`bot.ports.FindsPosts`: the first post in `where` that shows `button` (the console's
        posts are all since it started: `after` rules out none of them)."""
        del after
        return next(
            (
                posted
                for posted, reply in self.posted
                if reply.conversation.key == where.key
                and any(
                    (b.action, b.value) == (button.action, button.value)
                    for b in self.current.get(posted.message_id, reply).buttons
                )
            ),
            None,
        )

    def _print(self, text: str) -> None:
        self.out.write(f"bot> {text}\n\n")
        self.out.flush()


_NEW_WORDS = {"/new"}
_THREAD_WORDS = {"/thread", "/reply"}
_CTRL_L = "\x0c"  # what Ctrl-L types when no line editor takes it (input() without readline)
_RATINGS = (ActionKind.RATE_GOOD, ActionKind.RATE_BAD)


class ConsoleSession:
    """One terminal session: turns typed lines into the core's events.

    Top-level lines are top-level messages in the `terminal` channel, one conversation each;
    in a thread (after `/thread`) lines are replies in the current question's thread."""

    def __init__(
        self,
        bot: SupportBot,
        channel: ConsoleChannel,
        *,
        user: str = DEFAULT_USER,
        staff: Author | None = None,
        session: str | None = None,
    ) -> None:
        self.bot = bot
        self.channel = channel
        self.author = console_user(user)
        self.staff = staff or console_staff(bot.settings.console.staff_users, self.author)
        # event ids are inbox keys and become thread ids: unique per session, as a kept
        # store sees many sessions
        self.session = session or uuid.uuid4().hex[:8]
        self.top = ConversationRef(platform=Platform.CONSOLE, workspace="local", channel="terminal")
        self.thread: ConversationRef | None = None  # the current question's thread
        self.in_thread = False  # typed lines are replies in `thread`
        self.language = "en"  # of the current question: what the console says in its own words
        self._counter = itertools.count(1)

    @property
    def conversation(self) -> ConversationRef:
        """Where a typed line goes: the current thread after `/thread`, else the top level."""
        if self.in_thread and self.thread is not None:
            return self.thread
        return self.top

    @property
    def prompt(self) -> str:
        return "you (thread)> " if self.in_thread else "you> "

    def new_conversation(self) -> None:
        self.thread = None
        self.in_thread = False

    def _last_button(self, action: ActionKind) -> tuple[str, ConversationRef] | None:
        """The most recent button of this kind still shown, and the conversation it sits in.
        Answer buttons belong to the current question only: `:helpful` must not rate an
        earlier question's answer. A rating prompt arrives whenever staff resolve a ticket,
        so it is found in any thread."""
        for posted, first in reversed(self.channel.posted):
            reply = self.channel.current.get(posted.message_id, first)
            if action not in _RATINGS and reply.conversation != self.thread:
                continue
            for button in reply.buttons:
                if button.action == action:
                    return button.value, reply.conversation
        return None

    def _ticket_in_thread(self) -> str | None:
        """The ticket the core opened in the current thread, from the staff buttons it showed."""
        # the first post of a ticket keeps its number even after an edit takes its buttons away
        for _, reply in reversed(self.channel.posted):
            if reply.conversation != self.thread:
                continue
            for button in reply.buttons:
                if button.action in (ActionKind.CLAIM, ActionKind.RESOLVE):
                    return button.value
        return None

    def _next_id(self) -> str:
        return f"{self.session}-{next(self._counter)}"

    async def handle_line(self, line: str, *, as_user: Author | None = None) -> Outcome | None:
        """Handle one typed line; None for a line that is not an event (blank, `/new`)."""
        if _CTRL_L in line:
            self.new_conversation()
            line = line.replace(_CTRL_L, "")  # what follows ^L is the new conversation's question
        text = line.strip()
        if not text:
            return None
        word, _, rest = text.partition(" ")
        if word.lower() in _NEW_WORDS:
            self.new_conversation()
            self.channel._print(say("console_new", self.language))
            return None
        if word.lower() in _THREAD_WORDS:
            if self.thread is None:
                self.channel._print(say("console_no_thread", self.language))
                return None
            self.in_thread = True
            if not rest.strip():
                self.channel._print(say("console_in_thread", self.language))
                return None
            text = rest.strip()
        if text.startswith("/support"):
            return await self._command(text, as_user)
        author = as_user or self.author
        if text.lower() in _ACTION_WORDS:
            return await self._action(text.lower(), author)
        return await self._message(text, author)

    async def _command(self, text: str, as_user: Author | None) -> Outcome:
        name, _, args = text.removeprefix("/support").strip().partition(" ")
        name = name or "help"
        # `/support ask` is a question, asked by the asker; the rest is the team's work
        invoker = as_user or (self.author if name == "ask" else self.staff)
        before = len(self.channel.posted)
        command = Command(
            id=self._next_id(),
            name=name,
            args=args.strip(),
            invoker=invoker,
            conversation=self.conversation,
            visibility=self.bot.settings.console.visibility,
            locale=self.language,  # a platform's app language: the terminal's is its question's
        )
        outcome = await self.bot.on_command(command, self.channel)
        if name == "ask" and not self.in_thread:
            # the core answers `/support ask` in a thread of its own: that is now the question
            for _, reply in self.channel.posted[before:]:
                if reply.conversation.thread is not None and reply.ephemeral_to is None:
                    self.thread = reply.conversation
                    self.language = policy.detect_language(args)
                    break
        return outcome

    async def _action(self, word: str, author: Author) -> Outcome | None:
        action = _ACTION_WORDS[word]
        found = self._last_button(action)
        if found is None and action == ActionKind.TALK_TO_HUMAN and self.thread is not None:
            # no button on screen (the question already went to people): a person is asked for
            # on the thread itself, as the core's "talk to a person" button on a message does
            found = (f"msg:{self.thread.thread}", self.thread)
        if found is None:
            self.channel._print(self._nothing_to_press(word, action))
            return None
        value, where = found
        event = ActionEvent(
            id=self._next_id(),
            conversation=where,
            actor=author,
            action=action,
            value=value,
            visibility=self.bot.settings.console.visibility,
            locale=self.language,  # a press with no answer behind it (a ticket's thread) is said in it
        )
        return await self.bot.on_action(event, self.channel)

    def _nothing_to_press(self, word: str, action: ActionKind) -> str:
        """Why a typed button does nothing, and what to do instead."""
        if action in _RATINGS:
            return say("console_nothing_to_rate", self.language)
        if action == ActionKind.TALK_TO_HUMAN:
            return say("console_ask_first", self.language)
        ticket = self._ticket_in_thread()
        if ticket is not None:  # the bot did not answer: the question went to people
            return say("console_no_answer_ticket", self.language, word=word, ticket=ticket)
        if self.thread is not None:
            return say("console_no_answer", self.language, word=word)
        return say("console_ask_first", self.language)

    async def _message(self, text: str, author: Author) -> Outcome:
        conversation = self.conversation
        message = InboundMessage(
            id=self._next_id(),
            conversation=conversation,
            author=author,
            text=text,
            addressed=True,  # the terminal talks to the bot alone, as a direct message does
            visibility=self.bot.settings.console.visibility,
            sent_at=datetime.now(UTC),
        )
        if conversation.thread is None:
            # a top-level message: the core opens its thread on the message id (open_thread)
            self.thread = conversation.in_thread(message.id)
            self.language = policy.detect_language(text)
        return await self.bot.on_message(message, self.channel)


HELP = (
    "Ask a question (Korean or English); each question is its own conversation.\n"
    "After an answer type :helpful, :not-helpful or :human. /thread (or /reply) continues the\n"
    "current question's thread with a follow-up; /new (or Ctrl-L, then Enter) starts a fresh\n"
    "conversation. /support help lists commands (they run as staff). quit to leave.\n\n"
)


async def run_chat(
    bot: SupportBot,
    *,
    read_line: Callable[[], Awaitable[str | None]] | None = None,
    out: TextIO | None = None,
    user: str = DEFAULT_USER,
) -> None:
    """The interactive loop of `supportbot chat`; ends on EOF, `quit` or `exit`. A line the
    state store refused (state.db locked by another process) is said in one line and kept:
    an empty line sends it again."""
    session_id = uuid.uuid4().hex[:8]
    channel = ConsoleChannel(out, prefix=f"{session_id}-")
    session = ConsoleSession(bot, channel, user=user, session=session_id)
    reader = read_line or (lambda: _stdin_reader(session.prompt))
    channel.out.write(HELP)
    kept: str | None = None  # the line the store refused
    while True:
        try:
            line = await reader()
        except UnicodeDecodeError:  # that line alone (bot/text.py read_line): the session goes on
            channel._print(say("console_not_text", session.language, encoding=sys.stdin.encoding.upper()))
            continue
        if line is None or line.strip().lower() in {"quit", "exit", ":q"}:
            return
        if kept is not None and not line.strip():
            line = kept
        kept = None
        try:
            await session.handle_line(line)
        except StoreError as exc:
            kept = line
            channel._print(say("console_store_failed", session.language, error=str(exc)))


async def _stdin_reader(prompt: str = "you> ") -> str | None:
    """The next line typed or piped in; None at its end. Read as bytes and decoded line by
    line (input() decodes what it reads ahead, so one line in another encoding ended the
    session and every line read with it): a line that is not text raises UnicodeDecodeError."""
    return await asyncio.to_thread(_read_stdin, prompt)


def _read_stdin(prompt: str) -> str | None:
    sys.stdout.write(prompt)
    sys.stdout.flush()
    raw = sys.stdin.buffer.readline()
    return read_line(raw, sys.stdin.encoding) if raw else None
