"""The terminal: every option it shows can be typed, including ratings and ticket buttons."""

from __future__ import annotations

import io
import os
import sqlite3
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


async def test_human_after_a_korean_abstention_is_answered_in_korean(
    make_runtime: Callable[..., Runtime],
) -> None:
    """A Korean asker typing `:human` after their question already went to people used to be
    told in English ("That's already with the support team"): the terminal's press carried no
    language, and with no answer behind it the core fell back to English. Now it carries the
    question's, as a platform's app locale would."""
    rt = make_runtime()
    session, out = _session(rt)
    assert await session.handle_line("우주선 연료 탱크는 어떻게 청소하나요?") == Outcome.ESCALATED
    assert "티켓 #1" in out.getvalue()
    before = len(session.channel.posted)
    assert await session.handle_line(":human") == Outcome.ESCALATED
    said = "\n".join(reply.text for _, reply in session.channel.posted[before:])
    assert "이미 지원팀에 전달되어 있습니다" in said and "already with the support team" not in said, said


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


async def test_a_question_while_another_process_holds_the_state_database_is_kept(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Another program (a `sqlite3` shell, a backup, a second bot) holding state.db's write
    lock used to end `supportbot chat` with a `sqlite3.OperationalError: database is locked`
    traceback, the question lost. Now the terminal says so in one line, in the store's own
    advice, and keeps the question: Enter sends it again once the lock is gone."""
    rt = make_runtime()
    holder = sqlite3.connect(rt.settings.data_dir / "state.db", isolation_level=None)
    holder.execute("begin exclusive")
    lines = iter(["How long does a refund take?", "", "quit"])
    out = io.StringIO()

    def reader() -> Awaitable[str | None]:
        async def next_line() -> str | None:
            line = next(lines, None)
            if line == "":  # what the person does after reading the advice: the lock is gone
                assert "locked by another process" in out.getvalue()
                holder.rollback()
            return line

        return next_line()

    try:
        await run_chat(rt.bot, read_line=reader, out=out, user="ann")
    finally:
        holder.close()
    said = out.getvalue()
    assert said.count("locked by another process") == 1, said
    assert "press Enter to send it again" in said
    assert "refunds.md" in said  # the question kept, sent again and answered


async def test_a_korean_question_the_store_refused_is_said_in_korean_with_the_advice_apart(
    make_runtime: Callable[..., Runtime],
) -> None:
    """The Korean reply used to hold the store's English advice inside its sentence
    ("전송되지 않았습니다: …state.db is locked by another process. … 메시지는 보관되어 있습니다.").
    Now the Korean is one sentence of its own and the advice follows on its own line."""
    rt = make_runtime()
    holder = sqlite3.connect(rt.settings.data_dir / "state.db", isolation_level=None)
    holder.execute("begin exclusive")
    out = io.StringIO()
    lines = iter(["환불은 얼마나 걸리나요?", "quit"])

    async def reader() -> str | None:
        return next(lines, None)

    try:
        await run_chat(rt.bot, read_line=reader, out=out, user="ann")
    finally:
        holder.close()
    [said] = [block for block in out.getvalue().split("bot> ") if "전송되지" in block]
    korean, advice = said.strip().split("\n")
    assert korean == "전송되지 않았습니다. 메시지는 보관되어 있습니다. Enter를 누르면 다시 보냅니다."
    assert advice.startswith("저장소 오류: ") and "locked by another process" in advice


def test_a_line_that_is_not_utf8_is_said_and_the_session_goes_on(tmp_path: Path, knowledge_dir: Path) -> None:
    """`supportbot chat` fed a file with one cp949 line, where Python decodes stdin strictly
    (PYTHONIOENCODING here; a usual desktop locale), used to end with a UnicodeDecodeError
    traceback and the questions after it unread. Now that line is named and the rest answered."""
    lines = "환불은 어떻게 받나요?\n".encode("cp949") + b"How long does a refund take?\nquit\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "OPENAI_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--knowledge", str(knowledge_dir), "--data", str(tmp_path)],
        input=lines,
        capture_output=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8:strict"},
        timeout=120,
        check=False,
    )
    said = result.stdout.decode()
    assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr.decode()
    assert "I could not read that line: it is not UTF-8 text" in said, said
    assert "refunds.md" in said, said


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
