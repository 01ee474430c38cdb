"""Forget-me and export through the core (console Channel, real store): afterwards no column of
any table of state.db holds the person's id or words, the counts the metrics need survive
anonymised, and another person's data is untouched. The export holds only the asker's data."""

from __future__ import annotations

import io
import itertools
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.cli import app
from bot.privacy.people import export_parts
from bot.types import (
    ActionEvent,
    ActionKind,
    Author,
    Command,
    ConversationRef,
    InboundMessage,
    Outcome,
    Reply,
    Visibility,
)

TOML = """
[slack]
staff_users = ["U-STAFFER"]
triage_channel = "C-TRIAGE"
"""
GONE = Author(id="U-FORGETME1", name="Fiona Forgettable")
KEPT = Author(id="U-KEEPME22", name="Kim Kept")
STAFF = Author(id="U-STAFFER", name="Sam")
# words only the forgotten person wrote: none of them may remain anywhere
GONE_TEXTS = (
    "How long does a refund take to arrive for my zebra-order?",
    "What is the airspeed velocity of a quokka-laden swallow?",
    "talk to a person about my quokka please",
)
KEPT_TEXT = "How do I reset my password for the walrus account?"
_ids = itertools.count(1)


def message(
    text: str, author: Author, channel: str = "C-GENERAL", thread: str | None = None
) -> InboundMessage:
    return InboundMessage(
        id=f"m{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace="T1", channel=channel, thread=thread),
        author=author,
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )


def command(name: str, author: Author, args: str = "") -> Command:
    return Command(
        id=f"c{next(_ids)}",
        name=name,
        args=args,
        invoker=author,
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-GENERAL"),
        visibility=Visibility.INTERNAL,
    )


def press(reply: Reply, action: ActionKind, actor: Author) -> ActionEvent:
    [button] = [b for b in reply.buttons if b.action == action]
    return ActionEvent(
        id=f"a{next(_ids)}",
        conversation=reply.conversation,
        actor=actor,
        action=action,
        value=button.value,
        visibility=Visibility.INTERNAL,
    )


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of state.db, every column."""
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type = 'table'")]
        return {t: db.execute(f'select * from "{t}"').fetchall() for t in tables}
    finally:
        db.close()


def cells_containing(tables: dict[str, list[tuple[object, ...]]], needle: str) -> list[tuple[str, object]]:
    return [
        (table, cell)
        for table, rows in tables.items()
        for row in rows
        for cell in row
        if isinstance(cell, str | bytes) and needle.lower() in str(cell).lower()
    ]


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(TOML)


async def populate(rt: Runtime, channel: ConsoleChannel) -> None:
    """Both people use everything: memory, questions, feedback, a ticket staff resolve, a draft."""
    bot = rt.bot
    for author in (GONE, KEPT):
        await bot.on_command(command("remember", author, "on"), channel)
    await bot.on_message(message(GONE_TEXTS[0] + " I'm on the Pro plan.", GONE), channel)
    answer = next(r for _, r in reversed(channel.posted) if r.buttons)
    for actor in (GONE, KEPT):
        await bot.on_action(press(answer, ActionKind.HELPFUL, actor), channel)
    await bot.on_message(message(GONE_TEXTS[1], GONE), channel)  # no answer: a ticket
    await bot.on_message(message(GONE_TEXTS[2] + f" and ping <@{KEPT.id}>", GONE, thread="T-GONE"), channel)
    await bot.on_message(message(KEPT_TEXT, KEPT), channel)
    await bot.on_message(message(f"<@{GONE.id}> the team will call you", KEPT, thread="T-GONE"), channel)
    for ticket in rt.state.tickets():
        await bot.on_command(command("claim", STAFF, f"#{ticket.id}"), channel)
        await bot.on_command(command("resolve", STAFF, f"#{ticket.id} answered by hand"), channel)
    # a message still waiting in the inbox holds its raw payload
    rt.state.claim_event(
        "slack:ev-pending", "slack", json.dumps({"user": GONE.id, "text": GONE_TEXTS[0]}), rt.bot.clock.now()
    )
    with rt.state.db.conn:
        rt.state.db.execute(
            "insert into reply_drafts (conversation, asker_id, question, answer, status, created_at) "
            "values ('slack:T1:C-GENERAL:', ?, ?, 'a drafted reply', 'pending', '2026-11-30')",
            [GONE.id, GONE_TEXTS[0]],
        )
        rt.state.db.execute(
            "insert into welcomed (platform, user_id, at) values ('slack', ?, '2026-11-30')", [GONE.id]
        )
        rt.state.db.execute(
            "insert into welcomed (platform, user_id, at) values ('slack', ?, '2026-11-30')", [KEPT.id]
        )


async def forget(rt: Runtime, channel: ConsoleChannel, who: Author = GONE) -> Reply:
    await rt.bot.on_command(command("forget-me", who), channel)
    confirm = channel.posted[-1][1]
    assert confirm.ephemeral_to == who.id
    assert {b.action for b in confirm.buttons} == {ActionKind.FORGET_ME_CONFIRM, ActionKind.FORGET_ME_CANCEL}
    return confirm


async def test_forget_me_leaves_no_trace_of_the_person_in_any_table(rt: Runtime) -> None:
    channel = ConsoleChannel(io.StringIO())
    await populate(rt, channel)
    before = dump(rt.settings.data_dir / "state.db")
    assert cells_containing(before, GONE.id) and cells_containing(before, "quokka")
    tickets_before = len(before["tickets"])
    answers_before = len(before["answers"])
    assert tickets_before >= 2

    confirm = await forget(rt, channel)
    # nobody else can press it for them, and Cancel deletes nothing
    assert (
        await rt.bot.on_action(press(confirm, ActionKind.FORGET_ME_CONFIRM, KEPT), channel) == Outcome.REFUSED
    )
    assert (
        await rt.bot.on_action(press(confirm, ActionKind.FORGET_ME_CANCEL, GONE), channel) == Outcome.RECORDED
    )
    assert cells_containing(dump(rt.settings.data_dir / "state.db"), GONE.id)
    assert (
        await rt.bot.on_action(press(confirm, ActionKind.FORGET_ME_CONFIRM, GONE), channel)
        == Outcome.RECORDED
    )
    assert "deleted or anonymised" in channel.posted[-1][1].text

    after = dump(rt.settings.data_dir / "state.db")
    for needle in (GONE.id, GONE.name, "zebra-order", "quokka", "Pro plan"):
        assert cells_containing(after, needle) == [], needle
    # the counts survive, anonymised; the other person is untouched
    assert len(after["tickets"]) == tickets_before and len(after["answers"]) == answers_before
    assert {row[2] for row in after["feedback"]} >= {KEPT.id}
    assert len(after["feedback"]) == 2
    assert cells_containing(after, "walrus account") and cells_containing(after, KEPT.id)
    assert after["tombstones"] and rt.state.is_tombstoned("slack", GONE.id)
    assert rt.state.memory("slack", KEPT.id)[0] is True
    assert rt.bot.settings is rt.settings  # same data dir as the dump
    # metrics still count the forgotten person's questions
    assert rt.state.stats().questions == answers_before  # type: ignore[attr-defined]


async def test_after_forget_me_memory_is_not_recreated_unless_they_opt_in_again(rt: Runtime) -> None:
    channel = ConsoleChannel(io.StringIO())
    await rt.bot.on_command(command("remember", GONE, "on"), channel)
    await forget(rt, channel)
    await rt.bot.on_action(press(channel.posted[-1][1], ActionKind.FORGET_ME_CONFIRM, GONE), channel)
    await rt.bot.on_message(
        message("I'm on the Enterprise plan, how long does a refund take?", GONE), channel
    )
    assert rt.state.memory("slack", GONE.id) == (False, [])
    assert not rt.state.save_memory_facts(
        "slack", GONE.id, [{"kind": "plan", "text": "x", "at": ""}], rt.bot.clock.now()
    )
    await rt.bot.on_command(command("me", GONE), channel)
    assert "Memory is off" in channel.posted[-1][1].text
    await rt.bot.on_command(command("remember", GONE, "on"), channel)  # opting in again lifts the tombstone
    assert not rt.state.is_tombstoned("slack", GONE.id)
    await rt.bot.on_message(
        message("I'm on the Enterprise plan, how long does a refund take?", GONE), channel
    )
    facts = rt.state.memory("slack", GONE.id)[1]
    assert [f["text"] for f in facts if f["kind"] == "plan"] == ["Enterprise plan"]


class NoThreads(ConsoleChannel):
    """A channel where the bot may not make threads (a Discord channel without the permission):
    it answers in place, so one channel-level conversation holds every asker's questions."""

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        return message.conversation


def bot_posts(rt: Runtime) -> list[str]:
    """The platform ids of the bot's messages kept in the history."""
    return [str(row[0]) for row in rt.state.db.execute("select platform_id from messages where role = 'bot'")]


def answer_posts(rt: Runtime, asker: Author) -> list[str]:
    rows = rt.state.db.execute("select posted_message_id from answers where asker_id = ?", [asker.id])
    return [str(row[0]) for row in rows]


async def test_forget_me_in_a_channel_without_threads_keeps_the_answers_to_others(rt: Runtime) -> None:
    """The first asker of a channel-level conversation is its asker: forgetting them must not
    delete the bot's answers to everyone who asked after, and forgetting a later asker must
    delete the answers to them (which may quote them)."""
    channel = NoThreads(io.StringIO())
    await rt.bot.on_message(message("How do I reset my password?", GONE), channel)
    await rt.bot.on_message(message(KEPT_TEXT, KEPT), channel)
    await rt.bot.on_message(message("How do I reset my password? I lost it again.", GONE), channel)
    kims, fionas = answer_posts(rt, KEPT), answer_posts(rt, GONE)
    assert len(kims) == 1 and len(fionas) == 2
    assert sorted(bot_posts(rt)) == sorted(kims + fionas)  # one conversation holds all three
    await forget(rt, channel)
    await rt.bot.on_action(press(channel.posted[-1][1], ActionKind.FORGET_ME_CONFIRM, GONE), channel)
    assert bot_posts(rt) == kims
    await forget(rt, channel, KEPT)
    await rt.bot.on_action(press(channel.posted[-1][1], ActionKind.FORGET_ME_CONFIRM, KEPT), channel)
    assert bot_posts(rt) == []


async def test_my_data_exports_only_that_persons_data(rt: Runtime) -> None:
    channel = ConsoleChannel(io.StringIO())
    await populate(rt, channel)
    await rt.bot.on_command(command("my-data", GONE), channel)
    parts = [r for _, r in channel.posted if r.ephemeral_to == GONE.id and "```json" in r.text]
    assert parts and all(r.ephemeral_to == GONE.id for r in parts)
    text = "".join(r.text.split("```json\n", 1)[1].rsplit("\n```", 1)[0] for r in parts)
    data = json.loads(text)
    assert data["user_id"] == GONE.id and data["memory"]["enabled"] is True
    assert any("zebra-order" in m["text"] for m in data["messages"])
    assert any("quokka" in q["question"] for q in data["questions"])
    assert data["tickets"] and data["feedback"] and data["draft_replies"] and data["welcomed"]
    # the other person appears only where this one's own words mention them
    assert "walrus" not in text and KEPT.name not in text
    assert text.count(KEPT.id) == text.count(f"<@{KEPT.id}>") > 0
    assert "That is everything" in channel.posted[-1][1].text


async def test_a_staff_members_export_holds_the_ticket_work_forget_me_anonymises(rt: Runtime) -> None:
    """Forget-me anonymises a staff member on the tickets assigned to them, the events they
    acted in, incidents and decided drafts, but their export showed none of it (only what they
    asked). Now it holds that work and what they wrote there, without the askers' questions."""
    await populate(
        rt, ConsoleChannel(io.StringIO())
    )  # Sam claims and resolves each ticket "answered by hand"
    exported = rt.state.export_person("slack", STAFF.id)
    assert exported["tickets_assigned"] and exported["ticket_events"]
    assert any(e["detail"] == "answered by hand" for e in exported["ticket_events"])
    assert "quokka" not in json.dumps(exported, default=str)  # the askers' words are theirs
    counts = rt.state.forget("slack", STAFF.id, rt.bot.clock.now())
    assert counts["tickets"] == len(exported["tickets_assigned"])
    assert counts["ticket_events"] == len(exported["ticket_events"])


def test_a_long_export_is_split_and_cut_with_a_note() -> None:
    parts, cut = export_parts({"messages": [{"text": "x" * 500} for _ in range(40)]})
    assert cut and len(parts) == 5 and all(len(p) <= 1800 for p in parts)
    parts, cut = export_parts({"messages": []})
    assert not cut and json.loads("".join(parts)) == {"messages": []}


async def test_the_admin_cli_forgets_and_exports(rt: Runtime, tmp_path: Path) -> None:
    channel = ConsoleChannel(io.StringIO())
    await populate(rt, channel)
    data_dir = rt.settings.data_dir
    runner = CliRunner()
    out = tmp_path / "kim.json"
    result = runner.invoke(
        app,
        [
            "privacy",
            "export",
            "--platform",
            "slack",
            "--user",
            KEPT.id,
            "--data",
            str(data_dir),
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert any("walrus" in m["text"] for m in exported["messages"])
    assert "zebra-order" not in out.read_text() and GONE.name not in out.read_text()
    result = runner.invoke(
        app, ["privacy", "forget", "--platform", "slack", "--user", KEPT.id, "--data", str(data_dir), "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert "row(s) deleted or anonymised" in result.output
    after = dump(data_dir / "state.db")
    assert cells_containing(after, KEPT.id) == [] and cells_containing(after, "walrus") == []
    assert cells_containing(after, "zebra-order")  # the other person stays


async def test_the_admin_cli_refuses_a_mistyped_platform_for_export_as_for_forget(
    rt: Runtime, tmp_path: Path
) -> None:
    """An admin answering a data request types `--platform Slack` (or `slak`): `forget`
    refused it, but `export` used to exit 0 with an empty record ("we hold nothing about you")
    while the person's messages were kept. Now both refuse it, naming the choices."""
    await populate(rt, ConsoleChannel(io.StringIO()))
    runner = CliRunner()
    for typo in ("Slack", "slak"):
        for command in (["export"], ["forget", "--yes"]):
            args = [*command, "--platform", typo, "--user", KEPT.id, "--data", str(rt.settings.data_dir)]
            refused = runner.invoke(app, ["privacy", *args])
            assert refused.exit_code == 2, refused.output
            assert typo in refused.output and "slack" in refused.output and "discord" in refused.output
    assert cells_containing(dump(rt.settings.data_dir / "state.db"), "walrus")  # nothing forgotten


def test_forget_me_reaches_the_dashboards_links_and_audit_trail(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.store import StateStore

    path = tmp_path / "state.db"
    store = StateStore(path)
    now = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    store.issue_dashboard_link("hash-1", "slack", "U-FORGETME", now + timedelta(minutes=10), now)
    store.add_audit(now, "slack", "U-FORGETME", "claim", "ticket #3")
    store.add_audit(now, "slack", "U-OTHER01", "assign", "ticket #4 to U-FORGETME")
    store.forget("slack", "U-FORGETME", now)
    store.close()
    tables = dump(path)
    assert cells_containing(tables, "U-FORGETME") == []
    assert len(tables["audit_log"]) == 2  # the team's record of who changed what stays, anonymised
    assert cells_containing(tables, "U-OTHER01")  # someone else is untouched
