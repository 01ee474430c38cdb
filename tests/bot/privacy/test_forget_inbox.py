"""Forget-me and the inbox: a question of theirs still being answered when they confirm records
nothing of them afterwards, and another person's waiting question that names them is still
answered (console Channel, real store)."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.inbox import serialise_message
from bot.types import ActionKind
from tests.bot.privacy.test_forget import GONE, KEPT, TOML, cells_containing, dump, forget, message, press
from tests.fakes.answerers import ConfidentExtractive, GatedExtractive


async def _forgotten_while_answered(
    make_runtime: Callable[..., Runtime], question: str, caplog: pytest.LogCaptureFixture
) -> Runtime:
    """`question` asked; forget-me confirmed while its answer is being written; then it finishes."""
    answerer = GatedExtractive()
    rt = make_runtime(TOML, answerer=answerer)
    channel = ConsoleChannel(io.StringIO())
    asking = asyncio.create_task(rt.bot.on_message(message(question, GONE), channel))
    await asyncio.wait_for(answerer.asked.wait(), 10)
    await forget(rt, channel)
    await rt.bot.on_action(press(channel.posted[-1][1], ActionKind.FORGET_ME_CONFIRM, GONE), channel)
    assert "deleted or anonymised" in channel.posted[-1][1].text
    answerer.gate.set()
    with caplog.at_level(logging.INFO, logger="bot.delivery"):
        await asyncio.wait_for(asking, 10)
    return rt


async def test_forget_me_while_the_question_is_answered_leaves_nothing_of_them(
    make_runtime: Callable[..., Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    """It used to: the bot said it would not remember them, then the answer finished and wrote
    an answers row with their id and question. The log said another worker took the message
    over (on one SQLite process)."""
    rt = await _forgotten_while_answered(
        make_runtime, "How do I reset my password for the zebra-order account?", caplog
    )
    after = dump(rt.settings.data_dir / "state.db")
    assert cells_containing(after, GONE.id) == [] and cells_containing(after, "zebra-order") == []
    said = [r.getMessage() for r in caplog.records]
    assert any("its author was forgotten" in line for line in said), said
    assert not any("another worker took this message over" in line for line in said)


async def test_forget_me_while_the_question_escalates_opens_no_ticket_in_their_name(
    make_runtime: Callable[..., Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    """A question nothing in the docs answers: the bot abstains and opens a ticket. It used to
    open it with their question after they were forgotten (card, SLA pings and all)."""
    rt = await _forgotten_while_answered(
        make_runtime, "Do you ship the zebra-order to the moon base?", caplog
    )
    after = dump(rt.settings.data_dir / "state.db")
    assert rt.state.tickets() == []
    assert cells_containing(after, "zebra-order") == [] and cells_containing(after, GONE.id) == []


async def test_forget_me_keeps_another_persons_waiting_question_that_mentions_them(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Forget-me deleted every waiting inbox payload that held their id anywhere: Kim's
    question naming Fiona, received just before a crash, was never answered."""
    rt = make_runtime(TOML)
    kims = message(f"<@{GONE.id}> and I both need this: how do I reset my password?", KEPT)
    # received and recorded, then the process died before answering it
    assert rt.state.claim_event(f"slack:msg:{kims.id}", "slack", serialise_message(kims), datetime.now(UTC))
    rt.state.forget("slack", GONE.id, datetime.now(UTC))  # `supportbot privacy forget` meanwhile
    assert cells_containing(dump(rt.settings.data_dir / "state.db"), GONE.id) == []
    restarted = make_runtime(TOML, answerer=ConfidentExtractive())  # the id replaced is noise to retrieval
    channel = ConsoleChannel(io.StringIO())
    assert await restarted.bot.replay_pending("slack", channel) == 1
    assert any("Forgot password" in r.text for _, r in channel.posted)
