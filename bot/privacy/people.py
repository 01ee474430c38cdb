"""Opt-in memory, forget-me and export: the rules the commands, the buttons and the CLI share.

Memory is off by default. With `/support remember on` a person has a few facts kept: the
language they ask in (or said they prefer), the product plan they said they are on, and a
one-line summary of each ticket they opened. The facts are capped by `[privacy] memory_facts`
and `memory_chars`, given to the model as quoted, untrusted data (bot/answering/prompt.py),
and used offline: a remembered language decides when a short message does not show one, and
the ticket lines are how `/support me` and the model link earlier tickets. Off means neither
read nor written: an asker without memory costs one primary-key lookup per question.

Forget-me deletes what a person wrote across state.db in one transaction (the rules per table
are in bot/store/people.py) and leaves a salted-hash tombstone, so nothing re-creates their
memory unless they opt in again. Export gathers everything kept about them as JSON.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot import policy
from bot.answering.prompt import MEMORY_ROLE
from bot.config import Settings
from bot.messages import say, spoken
from bot.ports import Channel, Clock
from bot.store import AsyncStore, StateStore
from bot.text import single_line
from bot.types import ActionEvent, ActionKind, Outcome, Reply, Ticket, Turn

log = logging.getLogger(__name__)

# a message with fewer letters than this does not show its language ("ok", "v2.3 500?"):
# a remembered language decides instead
SHORT_TEXT_LETTERS = 8
TICKET_LINE_CHARS = 120
# one part fits one Discord message (2,000) with its code fence, and the last with the line
# saying whether that is all
EXPORT_PART_CHARS = 1800
EXPORT_MAX_PARTS = 5  # the posts a Slack response URL takes: the whole export, that last line with it

_LETTER = re.compile(r"[^\W\d_]")


def shows_language(text: str) -> bool:
    """Whether `text` has letters enough to tell its language ("ok" and "v2.3 500?" do not),
    in words of its writer's own (names alone, as in "SLACK_APP_TOKEN?", do not either)."""
    return len(_LETTER.findall(text)) >= SHORT_TEXT_LETTERS and policy.language_shown(text) is not None


_SAID_LANGUAGE = (
    (re.compile(r"\b(?:in|speak|prefer|use)\s+korean\b|한국어로", re.IGNORECASE), "ko"),
    (re.compile(r"\b(?:in|speak|prefer|use)\s+english\b|영어로", re.IGNORECASE), "en"),
)
_PLAN = (
    re.compile(
        r"\b(?:on|using|use|have|bought|subscribed\s+to|pay\s+for)\s+(?:the\s+|a\s+|an\s+|our\s+)?"
        r"([A-Za-z0-9][\w+.-]{0,30})\s+(plan|tier|edition|subscription|license)\b",
        re.IGNORECASE,
    ),
    re.compile(r"([\w+.-]{1,20})\s*(플랜|요금제|에디션)"),
)


class FactKind(StrEnum):
    LANGUAGE = "language"  # "en" or "ko"
    PLAN = "plan"  # e.g. "Pro plan", as they wrote it
    TICKET = "ticket"  # "#12 2026-03-01: how do I ..."


@dataclass(frozen=True, kw_only=True)
class Fact:
    kind: FactKind
    text: str
    at: str  # ISO time it was last confirmed

    def as_row(self) -> dict[str, str]:
        return {"kind": str(self.kind), "text": self.text, "at": self.at}


def said_language(text: str) -> str | None:
    for pattern, language in _SAID_LANGUAGE:
        if pattern.search(text):
            return language
    return None


def said_plan(text: str) -> str | None:
    for pattern in _PLAN:
        found = pattern.search(text)
        if found:
            return single_line(f"{found.group(1)} {found.group(2)}", 60)
    return None


def cap(facts: Sequence[Fact], max_facts: int, max_chars: int) -> list[Fact]:
    """The facts kept: the language and plan first (one each, the newest), then ticket lines
    newest first, while both the count and the total characters stay within the limits."""
    newest: dict[FactKind, Fact] = {}
    tickets: list[Fact] = []
    for fact in facts:
        if fact.kind == FactKind.TICKET:
            tickets.append(fact)
        else:
            newest[fact.kind] = fact
    ordered = [newest[k] for k in (FactKind.LANGUAGE, FactKind.PLAN) if k in newest]
    ordered += sorted(tickets, key=lambda f: f.at, reverse=True)
    kept: list[Fact] = []
    used = 0
    for fact in ordered:
        if len(kept) >= max_facts or used + len(fact.text) > max_chars:
            continue
        kept.append(fact)
        used += len(fact.text)
    return kept


def remembered_tickets(facts: Sequence[Fact]) -> frozenset[int]:
    """The ids of the tickets a person's memory holds (its "#12 2026-03-01: ..." lines)."""
    ids = (f.text[1:].split(" ", 1)[0] for f in facts if f.kind == FactKind.TICKET and f.text.startswith("#"))
    return frozenset(int(i) for i in ids if i.isdigit())


def memory_turns(facts: Sequence[Fact]) -> list[Turn]:
    """The facts as turns the prompt quotes in its `<memory>` block, never as instructions."""
    return [Turn(role=MEMORY_ROLE, text=f"{fact.kind}: {fact.text}") for fact in facts]


def export_parts(data: dict[str, Any]) -> tuple[list[str], bool]:
    """The export as JSON split into message-sized parts; True when it had to be cut short
    (the admin's `supportbot privacy export` writes it whole)."""
    text = json.dumps(data, ensure_ascii=False, indent=1, default=str)
    parts = [text[i : i + EXPORT_PART_CHARS] for i in range(0, len(text), EXPORT_PART_CHARS)] or ["{}"]
    return parts[:EXPORT_MAX_PARTS], len(parts) > EXPORT_MAX_PARTS


class People:
    """The memory and forget-me service over the store; cheap to make where it is needed."""

    def __init__(self, *, settings: Settings, store: AsyncStore, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock

    async def recall(self, platform: str, user_id: str) -> list[Fact] | None:
        """The facts kept about a person; None when their memory is off (nothing is read)."""
        return remembered(*await self.store.run(StateStore.memory, platform, user_id))

    async def set_enabled(self, platform: str, user_id: str, on: bool) -> None:
        await self.store.run(StateStore.set_memory_enabled, platform, user_id, on, self.clock.now())

    def language_for(self, facts: Sequence[Fact] | None, text: str, detected: str) -> str:
        """A remembered language decides when the message itself is too short to show one."""
        if not facts:
            return detected
        remembered = next((f.text for f in facts if f.kind == FactKind.LANGUAGE), None)
        if remembered and not shows_language(text):
            return remembered
        return detected

    async def observe_question(
        self, platform: str, user_id: str, question: str, language: str, facts: Sequence[Fact] | None
    ) -> None:
        """With memory on: note the language they ask in (or say they prefer) and a plan they
        name. `facts` is what `recall` returned: None (memory off) writes nothing."""
        if facts is None:
            return
        now = self.clock.now().isoformat(timespec="seconds")
        new: list[Fact] = []
        spoken = said_language(question) or (language if shows_language(question) else None)
        if spoken:
            new.append(Fact(kind=FactKind.LANGUAGE, text=spoken, at=now))
        plan = said_plan(question)
        if plan:
            new.append(Fact(kind=FactKind.PLAN, text=plan, at=now))
        if new:
            await self._save(platform, user_id, [*facts, *new])

    async def observe_ticket(self, ticket: Ticket) -> None:
        """With memory on: one line for a ticket they opened, so later tickets can link to it."""
        platform, user_id = ticket.conversation.platform, ticket.asker_id
        facts = await self.recall(platform, user_id)
        if facts is None:
            return
        line = f"#{ticket.id} {ticket.created_at:%Y-%m-%d}: {single_line(ticket.question, TICKET_LINE_CHARS)}"
        at = ticket.created_at.isoformat(timespec="seconds")
        await self._save(platform, user_id, [*facts, Fact(kind=FactKind.TICKET, text=line, at=at)])

    async def _save(self, platform: str, user_id: str, facts: Sequence[Fact]) -> None:
        privacy = self.settings.privacy
        kept = cap(facts, privacy.memory_facts, privacy.memory_chars)
        await self.store.run(
            StateStore.save_memory_facts, platform, user_id, [f.as_row() for f in kept], self.clock.now()
        )

    async def forget(self, platform: str, user_id: str) -> dict[str, int]:
        return await self.store.run(StateStore.forget, platform, user_id, self.clock.now())

    async def export(self, platform: str, user_id: str) -> dict[str, Any]:
        return await self.store.run(StateStore.export_person, platform, user_id)


def remembered(enabled: bool, rows: Sequence[dict[str, str]]) -> list[Fact] | None:
    """The facts of `StateStore.memory`'s (enabled, rows); None when memory is off."""
    if not enabled:
        return None
    return [_fact(row) for row in rows if row.get("kind") in FactKind.__members__.values()]


def _fact(row: dict[str, str]) -> Fact:
    return Fact(kind=FactKind(row["kind"]), text=str(row.get("text", "")), at=str(row.get("at", "")))


async def forget_me_pressed(event: ActionEvent, channel: Channel, people: People) -> Outcome:
    """*Forget me* or *Cancel* under `/support forget-me`. The button carries the id of the
    person who asked, so nobody else's press can forget them (or cancel for them)."""
    platform, actor = event.conversation.platform, event.actor.id
    # as the confirmation was written (bot/commands/language.py), read before it is gone
    facts = await people.recall(platform, actor)
    language = people.language_for(facts, "", spoken(event.locale) or "en")
    if event.value != actor:
        await channel.send(
            Reply(conversation=event.conversation, text=say("forget_not_yours", language), ephemeral_to=actor)
        )
        return Outcome.REFUSED
    if event.action == ActionKind.FORGET_ME_CANCEL:
        await channel.send(
            Reply(conversation=event.conversation, text=say("forget_cancelled", language), ephemeral_to=actor)
        )
        return Outcome.RECORDED
    counts = await people.forget(platform, actor)
    log.info("forgot a person", extra={"platform": platform, "rows": sum(counts.values())})
    await channel.send(
        Reply(
            conversation=event.conversation,
            text=say("forget_done", language, rows=sum(counts.values()) - counts.get("tombstones", 0)),
            ephemeral_to=actor,
            language=language,
        )
    )
    return Outcome.RECORDED
