"""Closing an incident (bot/insights/incidents.py) when the worker closing it dies part-way:
the real core and store, a console Channel, a fake clock."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable

import pytest

from adapters.console import ConsoleChannel
from bot import faults
from bot.app import Runtime
from bot.errors import ConversationGone, PlatformError
from bot.messages import say
from bot.store.incidents import IncidentStatus
from bot.store.jobs import POST_LEASE, POST_RETRY
from bot.types import Author, Command, ConversationRef, InboundMessage, Posted, Reply, Visibility
from tests.fakes.clock import FakeClock

TOML = """
[slack]
staff_users = ["U-STAFF"]
triage_channel = "C-TRIAGE"
"""
QUESTIONS = ["How do I reset my password?", "how to reset password", "Where do I reset my password?"]
CLOSED = "**Update on the known issue:**"
STAFF = Author(id="U-STAFF", name="Sam")
_ids = itertools.count(1)


def ask(text: str, user: str, clock: FakeClock) -> InboundMessage:
    return InboundMessage(
        id=f"i{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-GENERAL"),
        author=Author(id=user, name=user),
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=clock.now(),
    )


def incident(args: str) -> Command:
    return Command(
        id=f"c{next(_ids)}",
        name="incident",
        args=args,
        invoker=STAFF,
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-TRIAGE"),
        visibility=Visibility.INTERNAL,
    )


class DiesTellingAThread(ConsoleChannel):
    """The closing worker is killed while its first "the incident is over" reply is in flight:
    that reply never reaches the thread."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.died = False

    async def send(self, reply: Reply) -> Posted:
        if reply.text.startswith(CLOSED) and not self.died:
            self.died = True
            raise faults.Crash("killed telling the threads")
        return await super().send(reply)


@pytest.mark.parametrize("resumed_by", ["clock", "closing again"])
async def test_threads_a_closer_that_died_left_untold_are_each_told_once(
    make_runtime: Callable[..., Runtime], clock: FakeClock, resumed_by: str
) -> None:
    channel = DiesTellingAThread()
    rt = make_runtime(TOML)
    await rt.bot.on_command(incident("open Password resets are failing; we are on it"), channel)
    [open_one] = rt.state.incidents("slack", IncidentStatus.OPEN)
    threads = []
    for n, text in enumerate(QUESTIONS):
        await rt.bot.on_message(ask(text, f"U{n}", clock), channel)
        assert channel.posted[-1][1].text.startswith("**Known issue:**")
        threads.append(channel.posted[-1][1].conversation.key)
    with pytest.raises(faults.Crash):
        await rt.bot.on_command(incident(f"close #{open_one.id} Fixed at 11:05."), channel)

    other = make_runtime(TOML)  # another worker (or the restarted one)

    async def resume() -> None:
        if resumed_by == "clock":
            await other.bot.tick({"slack": channel})
        else:
            await other.bot.on_command(incident(f"close #{open_one.id} done"), channel)
            assert f"Incident #{open_one.id} was already closed." in channel.posted[-1][1].text

    def told() -> list[Reply]:
        return [r for _, r in channel.posted if r.text.startswith(CLOSED)]

    await resume()
    assert len(told()) == 2  # the thread in flight waits for its claim's lease: it may be posted
    clock.advance(seconds=POST_LEASE.total_seconds() + 1)
    await resume()
    await resume()
    assert sorted(r.conversation.key for r in told()) == sorted(threads)  # each thread once
    assert all("Fixed at 11:05." in r.text for r in told())  # the closer's words
    # each thread claimed on its notice's row: nothing is kept for it elsewhere once told
    assert {key for (key,) in other.state.db.execute("select key from job_runs")} <= {"retention"}  # hourly


class RefusesTwoThreads(ConsoleChannel):
    """The first thread's "it is over" reply is refused once for now (a 5xx after the client's
    retries), the second's for good (its thread was deleted)."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.refusals: list[Exception] = [PlatformError("slack: internal_error"), ConversationGone("deleted")]

    async def send(self, reply: Reply) -> Posted:
        if reply.text.startswith(CLOSED) and self.refusals:
            raise self.refusals.pop(0)
        return await super().send(reply)


async def test_a_thread_refused_for_now_is_told_later_and_one_gone_for_good_is_not_retried(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    channel = RefusesTwoThreads()
    rt = make_runtime(TOML)
    await rt.bot.on_command(incident("open Password resets are failing; we are on it"), channel)
    [open_one] = rt.state.incidents("slack", IncidentStatus.OPEN)
    threads = []
    for n, text in enumerate(QUESTIONS):
        await rt.bot.on_message(ask(text, f"U{n}", clock), channel)
        threads.append(channel.posted[-1][1].conversation.key)
    await rt.bot.on_command(incident(f"close #{open_one.id} Fixed at 11:05."), channel)
    assert f"Incident #{open_one.id} closed; 1 thread(s)" in channel.posted[-1][1].text
    clock.advance(seconds=POST_RETRY.total_seconds() + 1)  # a minute, not the post's whole lease
    await rt.bot.tick({"slack": channel})
    told = [r.conversation.key for _, r in channel.posted if r.text.startswith(CLOSED)]
    assert told == [threads[2], threads[0]]  # the first told once the clock came back to it
    for _ in range(3):
        clock.advance(seconds=POST_LEASE.total_seconds() + 1)
        await rt.bot.tick({"slack": channel})
    assert len([r for _, r in channel.posted if r.text.startswith(CLOSED)]) == 2
    assert rt.state.notices_to_close(open_one.id) == []  # the deleted one is not tried again


async def test_the_closing_update_is_in_the_language_the_notice_was_given_in(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """A Korean asker with memory on asks "refund?" during an incident: the answer and its
    notice are Korean (the remembered language). The update on closing was English: its
    language was guessed again from "refund?" alone."""
    rt, channel = make_runtime(TOML), ConsoleChannel(io.StringIO())
    asker = Author(id="U-KO", name="Jiwoo")
    remember = Command(
        id="c-remember",
        name="remember",
        args="on",
        invoker=asker,
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-GENERAL"),
        visibility=Visibility.INTERNAL,
    )
    await rt.bot.on_command(remember, channel)
    await rt.bot.on_message(ask("환불은 어떻게 받나요?", asker.id, clock), channel)  # remembered: Korean
    await rt.bot.on_command(incident("open Refunds are delayed today"), channel)
    await rt.bot.on_message(ask("refund?", asker.id, clock), channel)
    answer = channel.posted[-1][1]
    assert answer.text.startswith("**알려진 문제:**")  # the notice, in Korean
    before = len(channel.posted)
    await rt.bot.on_command(incident("close Refunds are flowing again."), channel)
    [update] = [r for _, r in channel.posted[before:] if r.conversation == answer.conversation]
    assert update.text == say("incident_closed", "ko", text="Refunds are flowing again.")
