"""The terminal: every option it shows can be typed, including ratings and ticket buttons."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from adapters.console import ConsoleChannel, ConsoleSession, render, run_chat
from adapters.console_users import console_user
from bot.app import Runtime
from bot.core import Outcome
from bot.types import ActionKind, Author, Button, ConversationRef, Reply, ReplyKind, TicketStatus

ROOT = Path(__file__).resolve().parents[2]


def test_buttons_are_shown_as_what_to_type() -> None:
    reply = Reply(
        conversation=ConversationRef(platform="console", workspace="local", channel="t"),
        text="Done.",
        buttons=(
            Button(action=ActionKind.RATE_GOOD, label="Good", value="3"),
            Button(action=ActionKind.CLAIM, label="Claim", value="3"),
        ),
    )
    assert render(reply).endswith("Options: :good (Good), /support claim 3 (Claim)")


async def test_a_whole_ticket_from_the_terminal(make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime()
    channel = ConsoleChannel(io.StringIO())
    session = ConsoleSession(rt.bot, channel, user="ann")
    assert await session.handle_line("I want to talk to a human") == Outcome.ESCALATED
    staff = Author(id="staff", name="staff")
    assert await session.handle_line("/support resolve 1 fixed it", as_user=staff) == Outcome.ANSWERED
    assert await session.handle_line(":good") == Outcome.RECORDED
    assert channel.posted[-1][1].text == "Thanks for rating!"
    ticket = rt.state.ticket(1)
    assert ticket is not None and ticket.rating == "good"
    assert await session.handle_line(":helpful") is None  # nothing to be helpful about: it went to people
    assert "no answer to mark :helpful" in channel.out.getvalue()  # type: ignore[attr-defined]


async def test_a_question_listed_in_the_terminal_reads_as_typed(make_runtime: Callable[..., Runtime]) -> None:
    # the core quotes people's words with Markdown escapes; the terminal renders no Markdown
    session, out = _session(make_runtime())
    question = r"I want to talk to a human: my_user_id is *1234* (see C:\Users\ann)"
    assert await session.handle_line(question) == Outcome.ESCALATED
    await session.handle_line("/support tickets", as_user=Author(id="staff", name="staff"))
    assert out.getvalue().splitlines()[-2].endswith(question)


def _session(rt: Runtime, user: str = "ann") -> tuple[ConsoleSession, io.StringIO]:
    out = io.StringIO()
    return ConsoleSession(rt.bot, ConsoleChannel(out), user=user), out


def _last_answer(session: ConsoleSession) -> ConversationRef:
    """The conversation the latest answer was posted in."""
    return [reply for _, reply in session.channel.posted if reply.kind == ReplyKind.ANSWER][-1].conversation


async def test_a_new_question_after_a_resolved_ticket_is_answered_not_reopened(
    make_runtime: Callable[..., Runtime],
) -> None:
    """The issue's first hour: a ticket captured the whole session, so the next question
    reopened it instead of being answered."""
    rt = make_runtime()
    session, out = _session(rt)
    assert await session.handle_line("I want to talk to a human") == Outcome.ESCALATED
    assert await session.handle_line("/support claim 1") == Outcome.ANSWERED
    assert await session.handle_line("/support resolve 1") == Outcome.ANSWERED
    assert await session.handle_line("How do I connect Slack?") == Outcome.ANSWERED
    assert "reopened" not in out.getvalue()
    ticket = rt.state.ticket(1)
    assert ticket is not None and ticket.status == TicketStatus.RESOLVED
    assert _last_answer(session) != ticket.conversation  # the ticket holds its own thread only
    assert _last_answer(session).thread is not None
    assert rt.state.ticket(2) is None


async def test_thread_follows_up_and_a_person_takes_that_question_only(
    make_runtime: Callable[..., Runtime],
) -> None:
    rt = make_runtime()
    session, out = _session(rt)
    assert await session.handle_line("How long does a refund take?") == Outcome.ANSWERED
    answered = _last_answer(session)
    assert await session.handle_line("/thread") is None  # into the thread: no event yet
    assert "You are in this question's thread now" in out.getvalue()
    assert await session.handle_line("that did not help, I want to talk to a person") == Outcome.ESCALATED
    ticket = rt.state.ticket(1)
    assert ticket is not None and ticket.conversation == answered
    assert await session.handle_line("/new") is None
    assert session.conversation.thread is None and session.thread is None
    assert await session.handle_line("How do I reset my password?") == Outcome.ANSWERED
    second = _last_answer(session)
    assert second != answered
    # `/reply text` sends one follow-up into the (new) current thread straight away
    assert await session.handle_line("/reply How long is the password reset link valid?") == Outcome.ANSWERED
    assert _last_answer(session) == second and session.in_thread
    assert rt.state.ticket(2) is None


async def test_ctrl_l_starts_a_fresh_conversation(make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime()
    session, _ = _session(rt)
    await session.handle_line("How long does a refund take?")
    first = _last_answer(session)
    assert await session.handle_line("/thread") is None
    assert await session.handle_line("\x0c") is None  # Ctrl-L, then Enter
    assert session.conversation.thread is None
    assert await session.handle_line("\x0cHow do I reset my password?") == Outcome.ANSWERED
    assert _last_answer(session) != first


async def test_helpful_after_an_abstention_says_what_to_do(make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime()
    session, out = _session(rt)
    assert await session.handle_line("How long does a refund take?") == Outcome.ANSWERED
    assert await session.handle_line("What is the airspeed of an unladen swallow?") == Outcome.ESCALATED
    # the button shortcuts belong to the current question: the earlier answer is not rated
    assert await session.handle_line(":helpful") is None
    assert await session.handle_line(":not-helpful") is None
    said = out.getvalue()
    assert "There is nothing to answer" not in said
    assert "I didn't answer this question, so there is no answer to mark :helpful" in said
    assert "ticket #1" in said.rsplit("no answer to mark :helpful", 1)[1] and "/thread" in said
    stats = rt.state.stats()
    assert stats.answered == 1 and stats.helpful == 0 and stats.not_helpful == 0


async def test_talk_to_a_person_after_an_abstention_points_at_the_ticket(
    make_runtime: Callable[..., Runtime],
) -> None:
    rt = make_runtime()
    session, out = _session(rt)
    assert await session.handle_line("What is the airspeed of an unladen swallow?") == Outcome.ESCALATED
    assert await session.handle_line(":human") == Outcome.ESCALATED
    assert "already with the support team (ticket #1" in out.getvalue()
    assert rt.state.ticket(2) is None


async def test_shortcuts_before_any_question(make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime()
    session, out = _session(rt)
    for word in (":helpful", ":human", ":good", "/thread"):
        assert await session.handle_line(word) is None
    said = out.getvalue()
    assert "There is no question yet" in said and "no resolved ticket to rate yet" in said
    assert "no question to follow up yet" in said


def test_the_default_user_has_a_name_that_reads_in_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "alice")
    assert console_user() == Author(id="you", name="alice")
    assert console_user("ann") == Author(id="ann", name="ann")  # `[console] user` still wins

    def no_login() -> str:
        raise OSError("no login name")

    monkeypatch.setattr("getpass.getuser", no_login)
    assert console_user().display == "console user"


async def test_third_person_messages_read_right_with_the_defaults(
    make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "alice")
    rt = make_runtime()
    out = io.StringIO()
    session = ConsoleSession(rt.bot, ConsoleChannel(out))  # `[console] user` left at its default
    await session.handle_line("/support ask How long does a refund take?")
    await session.handle_line("I want to talk to a human")
    await session.handle_line("/support claim 1")
    said = out.getvalue()
    assert "alice asked: How long does a refund take?" in said
    assert "Support staff is looking at this now" in said
    assert "you is" not in said and "you asked" not in said


async def test_resolving_as_staff_asks_the_asker_not_the_resolver(
    make_runtime: Callable[..., Runtime],
) -> None:
    """One terminal, two parts: `/support` runs as a staff member, so the rating prompt the
    core sends the asker is the asker's to answer, not the resolver's."""
    rt = make_runtime()
    lines = iter(["I want to talk to a human", "/support resolve 1 fixed it", ":good", "quit"])

    def reader() -> Awaitable[str | None]:
        async def next_line() -> str | None:
            return next(lines, None)

        return next_line()

    out = io.StringIO()
    await run_chat(rt.bot, read_line=reader, out=out, user="ann")
    ticket = rt.state.ticket(1)
    assert ticket is not None and ticket.asker_id == "ann"
    assert ticket.assignee_id == "staff" != ticket.asker_id  # resolved by the team, not by the asker
    assert ticket.rating == "good"  # rated by the asker
    said = out.getvalue()
    assert "Support staff marked this resolved" in said and "Thanks for rating!" in said


def test_flags_in_help_show_no_bool_type() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "OPENAI_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**env, "COLUMNS": "100"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "--json" in line or "--public" in line]
    assert len(rows) == 2 and all("<bool>" not in row for row in rows)
