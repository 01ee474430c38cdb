"""What adapters/discord/holes.py keeps of the messages the core refused, and in which order it
hands them over again: the oldest first, a pass stopping at the first the core refuses again
(a follow-up is never taken before its question); an edit superseded by a later one taken is
not handed over (it would bring the answer back to the older words); past `KEEP_AT_MOST`, the
oldest of all is let go (to the next start's read-back), whatever shard it is on; closing
hands over once more what is kept, before the drain.

The hand-over is given a recorder in place of the Discord handler (`Events.deliver`): the
end-to-end paths through discord.py and the fake Discord are tests/adapters/test_discord_holes.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.discord import holes
from adapters.discord.holes import Holes
from bot.app import Runtime
from bot.types import Author, ConversationRef, InboundMessage, Visibility

SENT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def said(ident: int, *, edit_ms: int | None = None, guild: str = "1") -> InboundMessage:
    return InboundMessage(
        id=str(ident) if edit_ms is None else f"{ident}:edit:{edit_ms}",
        conversation=ConversationRef(platform="discord", workspace=guild, channel="10"),
        author=Author(id="7"),
        text=f"message {ident} {edit_ms or ''}",
        addressed=True,
        visibility=Visibility.PUBLIC,
        sent_at=SENT,
        edited=edit_ms is not None,
        edit_of=str(ident) if edit_ms is not None else None,
    )


class Core:
    """Takes what it is handed over, or refuses the ids in `refusing` once each; records the order."""

    def __init__(self, kept: Holes) -> None:
        self.kept = kept
        self.refusing: set[str] = set()
        self.taken: list[str] = []
        self.asked: list[str] = []  # the words each was taken in
        self.meanwhile: Callable[[], None] | None = None  # runs while a hand-over waits on the store

    async def deliver(self, message: InboundMessage) -> bool:
        if self.meanwhile is not None:
            self.meanwhile()
        if message.id in self.refusing:
            self.refusing.discard(message.id)
            self.kept.refused(None, message)  # as Heard.refused does, through the handler
            return False
        self.taken.append(message.id)
        self.asked.append(message.text)
        return True


@pytest.fixture
async def started(
    make_runtime: Callable[..., Runtime],
) -> AsyncIterator[tuple[Holes, Core, list[asyncio.Task[None]]]]:
    kept = Holes()
    core = Core(kept)
    tasks: list[asyncio.Task[None]] = []

    def spawn(work: Coroutine[Any, Any, None]) -> None:
        tasks.append(asyncio.get_running_loop().create_task(work))

    kept.start(core.deliver, spawn, make_runtime().bot, lambda key: f"discord/1/{key or 0}")
    yield kept, core, tasks
    kept.stop()  # the tries still waiting


async def _settled(tasks: list[asyncio.Task[None]]) -> None:
    while pending := [t for t in tasks if not t.done()]:
        await asyncio.gather(*pending)


async def test_a_pass_hands_over_the_oldest_first_and_stops_at_a_refusal(
    started: tuple[Holes, Core, list[asyncio.Task[None]]],
) -> None:
    kept, core, tasks = started
    question, follow_up = said(100), said(200)
    kept.refused(None, follow_up)  # the handler's order need not be the order they were said
    kept.refused(None, question)
    core.refusing.add(question.id)  # the store still refuses at the first try
    kept.store_back()
    await _settled(tasks)
    assert core.taken == []  # the follow-up is not taken past its question
    assert kept.oldest(None) == 100
    kept.store_back()
    await _settled(tasks)
    assert core.taken == [question.id, follow_up.id]
    assert kept.oldest(None) is None


async def test_an_edit_a_later_taken_edit_supersedes_is_not_handed_over(
    started: tuple[Holes, Core, list[asyncio.Task[None]]],
) -> None:
    kept, core, tasks = started
    first_edit, second_edit = said(100, edit_ms=1_000), said(100, edit_ms=2_000)
    kept.refused(None, first_edit)
    kept.taken(None, second_edit)  # the later edit was taken live
    kept.refused(None, said(100, edit_ms=500))  # an even older one refused after it
    kept.store_back()
    await _settled(tasks)
    assert core.taken == []
    assert kept.oldest(None) is None


async def test_the_message_as_first_sent_is_handed_over_before_any_edit_of_it(
    started: tuple[Holes, Core, list[asyncio.Task[None]]],
) -> None:
    kept, core, tasks = started
    kept.refused(None, said(100, edit_ms=1_000))
    kept.refused(None, said(100))
    kept.taken(None, said(100, edit_ms=2_000))  # supersedes the edit, not the question
    kept.store_back()
    await _settled(tasks)
    assert core.taken == ["100"]


async def test_past_its_bound_the_oldest_of_all_shards_is_let_go(
    started: tuple[Holes, Core, list[asyncio.Task[None]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, core, tasks = started
    monkeypatch.setattr(holes, "KEEP_AT_MOST", 2)
    kept.refused(0, said(100))  # a busy shard's backlog, the oldest
    kept.refused(0, said(300))
    kept.refused(1, said(200))  # a quiet shard's one message: kept
    assert kept.oldest(0) == 100  # let go, but its shard's mark still stops before it
    kept.store_back()
    await _settled(tasks)
    assert sorted(core.taken) == ["200", "300"]
    assert kept.oldest(0) == 100 and kept.oldest(1) is None


async def test_closing_hands_over_once_more_what_is_kept(
    started: tuple[Holes, Core, list[asyncio.Task[None]]],
) -> None:
    kept, core, tasks = started
    kept.refused(None, said(100))  # its try waits FIRST_AFTER
    kept.stop(last_try=True)
    await _settled(tasks)
    assert core.taken == ["100"]
    kept.refused(None, said(200))  # after the stop: no try begins
    kept.store_back()
    await _settled(tasks)
    assert core.taken == ["100"] and kept.oldest(None) == 200


async def test_an_edit_of_a_question_kept_as_first_sent_asks_it_in_its_new_words(
    started: tuple[Holes, Core, list[asyncio.Task[None]]],
) -> None:
    """The question was refused and kept; the asker corrects it (the edit refused too, or taken
    by a core that had no question to revise): the question is handed over in its new words."""
    kept, core, tasks = started
    kept.refused(None, said(100))
    kept.refused(None, replace(said(100, edit_ms=1_000), text="How long does a refund take?"))
    kept.taken(None, replace(said(100, edit_ms=2_000), text="How do I cancel?"))
    kept.store_back()
    await _settled(tasks)
    assert core.taken == ["100"] and core.asked == ["How do I cancel?"]


async def test_a_closed_clients_kept_messages_are_given_up_for_the_next(
    started: tuple[Holes, Core, list[asyncio.Task[None]]],
) -> None:
    kept, core, tasks = started
    kept.refused(None, said(100))
    kept.refused(0, said(200))
    left: list[InboundMessage] = []
    kept.give_up(left.append)
    kept.refused(None, said(300))  # refused while its client's handlers drain: the next's too
    assert sorted(m.id for m in left) == ["100", "200", "300"]
    kept.store_back()
    await _settled(tasks)
    assert core.taken == [] and kept.oldest(None) is None  # nothing tried here after it


async def test_a_shard_with_a_message_let_go_is_not_filled(
    started: tuple[Holes, Core, list[asyncio.Task[None]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is owed from before a message let go must stand: the shard is never `filled`."""
    kept, core, tasks = started
    monkeypatch.setattr(holes, "KEEP_AT_MOST", 1)
    filled: list[object] = []
    kept.on_filled = filled.append
    kept.refused(None, said(100))
    kept.refused(None, said(200))  # 100 is let go
    kept.store_back()
    await _settled(tasks)
    assert core.taken == ["200"] and filled == [] and kept.oldest(None) == 100


async def test_a_try_its_client_gives_up_meanwhile_settles_nothing(
    started: tuple[Holes, Core, list[asyncio.Task[None]]],
) -> None:
    """The client is closed while a try is in flight, and the store refuses it: the message
    goes to the next client, and nothing owed for it is settled, no mark moved past it."""
    kept, core, tasks = started
    filled: list[object] = []
    kept.on_filled = filled.append
    left: list[InboundMessage] = []
    question = said(100)
    kept.refused(None, question)
    core.refusing.add(question.id)
    core.meanwhile = lambda: kept.give_up(left.append)  # the client closes while the claim waits
    kept.store_back()
    await _settled(tasks)
    assert [m.id for m in left] == ["100"] and filled == []


async def test_a_try_in_flight_when_its_client_is_given_up_hands_over_nothing_more(
    started: tuple[Holes, Core, list[asyncio.Task[None]]],
) -> None:
    """The question's hand-over is under way when the client closes: the follow-up goes to the
    next client, not through the closed one after the question (twice, and maybe first)."""
    kept, core, tasks = started
    left: list[InboundMessage] = []
    kept.refused(None, said(100))
    kept.refused(None, said(200))

    def close_once() -> None:
        core.meanwhile = None
        kept.give_up(left.append)

    core.meanwhile = close_once
    kept.store_back()
    await _settled(tasks)
    assert core.taken == ["100"] and [m.id for m in left] == ["200"]
