"""Known-issue notices: while staff say something is broken, askers hear it first.

An incident is opened by staff (`/support incident open <text>`, or *Open incident* on a
burst alert) and covers a cluster of questions: the burst's questions, or, opened by
command, the text itself plus the most recent burst it resembles. While it is open, an
answer to a similar question carries the notice at the top, and the thread is remembered.
Closing it (`/support incident close [#N] [text]`) replies once in every such thread, in the
language its notice was given in: each thread is claimed with a lease (bot/store/jobs.py
`claim_post`) and marked told once its reply is posted, so the threads a closing worker that
died left untold are told by the clock
(`tick`) or by closing it again (the thread in flight when it died may be told twice: better
than never). A thread gone for good (ConversationGone) is marked told untold; one whose reply
was refused for now is tried again by the clock once its claim lapses.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.errors import ConversationGone
from bot.insights.bursts import signatures_from_json, signatures_json
from bot.insights.similarity import NEIGHBOURS, Asked, Signature, best_match, signature
from bot.messages import say
from bot.policy import detect_language
from bot.ports import Channel, Clock
from bot.retrieval.service import KnowledgeService
from bot.store import AsyncStore, StateStore
from bot.store.incident_statements import incidents_statement
from bot.store.incidents import IncidentRecord, IncidentStatus, PostKind
from bot.store.jobs import POST_LEASE
from bot.store.state import settle
from bot.types import Author, ConversationRef, DocVisibility, Reply, ReplyKind

log = logging.getLogger(__name__)

RECENT_BURSTS = timedelta(
    hours=24
)  # a burst this recent lends its questions to an incident opened by command
NOTICE_LIMIT = 500  # characters of incident text shown to askers
OPEN_COMPARED = 20  # open incidents an answer is compared with, newest first
TELL_WITHIN = timedelta(days=1)  # the clock tells threads of incidents closed this recently


@dataclass(frozen=True, kw_only=True)
class Notice:
    incident_id: int
    text: str  # what the asker reads, in their language


def open_incidents(store: StateStore, conversation: ConversationRef) -> list[IncidentRecord]:
    """The open incidents of `conversation`'s workspace, newest first: what an answer there is
    compared with (on the store's thread)."""
    return store.incidents(conversation.platform, IncidentStatus.OPEN, OPEN_COMPARED, conversation.workspace)


def open_incidents_statement(conversation: ConversationRef) -> tuple[str, list[Any]]:
    """`open_incidents`' read, to send with others (bot/answering/trips.py; `incidents_of`
    reads its rows)."""
    return incidents_statement(
        conversation.platform, IncidentStatus.OPEN, OPEN_COMPARED, conversation.workspace
    )


class Incidents:
    def __init__(self, *, store: AsyncStore, clock: Clock, knowledge: KnowledgeService) -> None:
        self.store = store
        self.clock = clock
        self.knowledge = knowledge

    async def open(
        self,
        platform: str,
        text: str,
        by: Author,
        burst_id: int | None = None,
        *,
        workspace: str | None = None,
    ) -> tuple[IncidentRecord, bool]:
        """Open an incident of `workspace` (once per burst; from a burst, the burst's workspace).
        Returns it and whether it is new."""
        sigs: list[Signature] = []
        if text:
            found = await self.knowledge.search(text, DocVisibility.INTERNAL, k=NEIGHBOURS + 1)
            sigs.append(
                signature(
                    text,
                    [p.chunk_id for p in found.passages[:NEIGHBOURS]],
                    scores=[p.score for p in found.passages[: NEIGHBOURS + 1]],
                )
            )
        if burst_id is not None:
            burst = await self.store.run(StateStore.burst, burst_id)
            if burst is not None:
                sigs = signatures_from_json(burst.signatures) + sigs
                workspace = burst.workspace
        elif sigs:
            since = self.clock.now() - RECENT_BURSTS
            for burst in await self.store.run(StateStore.bursts_since, platform, since, workspace):
                members = signatures_from_json(burst.signatures)
                if best_match(sigs[0], members) is not None:
                    sigs += members
                    break
        return await self.store.run(
            StateStore.open_incident,
            platform=platform,
            text=text[:NOTICE_LIMIT],
            signatures=signatures_json(sigs),
            by=by.id,
            at=self.clock.now(),
            burst_id=burst_id,
            workspace=workspace,
        )

    async def notice_for(
        self,
        conversation: ConversationRef,
        question: Asked,
        language: str,
        open_now: Sequence[IncidentRecord] | None = None,
    ) -> Notice | None:
        """The notice an answer to `question` should carry, if an open incident covers it; the
        thread is remembered so that closing the incident tells it. `open_now`: what
        `open_incidents` read for `conversation`, when the caller read it already."""
        if open_now is None:
            open_now = await self.store.run(open_incidents, conversation)
        if not open_now:
            return None
        asked = question.signature()
        for incident in open_now:  # newest first: the latest word on a problem wins
            if best_match(asked, signatures_from_json(incident.signatures)) is None:
                continue
            await self.store.run(StateStore.add_notice, incident.id, conversation, self.clock.now(), language)
            text = incident.text or say("incident_default", language)
            return Notice(incident_id=incident.id, text=say("incident_notice", language, text=text))
        return None

    async def close(self, incident: IncidentRecord, by: Author, text: str, channel: Channel) -> int | None:
        """Close `incident` and reply once in every thread that got its notice. Returns how
        many threads were told; None if it was not open (someone closed it first: the threads
        its closer left untold are told now, with its text)."""
        if not await self.store.run(
            StateStore.close_incident, incident.id, by=by.id, at=self.clock.now(), text=text
        ):
            closed = await self.store.run(StateStore.incident, incident.id)
            if closed is not None and closed.status == IncidentStatus.CLOSED:
                await self.tell_closed(closed.id, closed.close_text or "", channel)
            return None
        return await self.tell_closed(incident.id, text, channel)

    async def tick(self, channels: Mapping[str, Channel]) -> int:
        """The clock's share: tell the threads of recently closed incidents that are not told
        yet (their closer died part-way); how many were told."""
        since = self.clock.now() - TELL_WITHIN
        told = 0
        for platform, channel in channels.items():
            for incident in await self.store.run(StateStore.incidents_to_tell, platform, since):
                told += await self.tell_closed(incident.id, incident.close_text or "", channel)
        return told

    async def tell_closed(self, incident_id: int, text: str, channel: Channel) -> int:
        """Reply in each noticed thread not yet told, each under a claim (a second process
        skips it; one left by a dead worker goes stale and is taken over), marked told after."""
        told = 0
        for notice_id, conversation, shown_in in await self.store.run(
            StateStore.notices_to_close, incident_id
        ):
            if not await self.store.run(
                StateStore.claim_post, PostKind.INCIDENT_CLOSED, notice_id, self.clock.now()
            ):
                continue
            # said as the notice was: the thread's words alone may say otherwise (a Korean asker
            # answered in Korean from memory, who wrote "refund?")
            language = shown_in or await self._thread_language(conversation)
            body = text or say("incident_closed_default", language)
            try:
                await channel.send(
                    Reply(
                        conversation=conversation,
                        text=say("incident_closed", language, text=body),
                        kind=ReplyKind.INFO,
                        language=language,
                    )
                )
                told += 1
            except ConversationGone:
                # deleted, archived or closed to the bot: every retry would be refused too
                log.warning(
                    "a thread gone for good cannot be told the incident is closed",
                    extra={"incident_id": incident_id},
                )
            except Exception:
                # perhaps only for now (a 5xx, a rate limit): the clock tells the thread a minute
                # from now (`tick`, for TELL_WITHIN)
                log.exception(
                    "could not tell a thread the incident is closed; it is tried again",
                    extra={"incident_id": incident_id},
                )
                with contextlib.suppress(Exception):
                    await self.store.run(
                        StateStore.retry_post, PostKind.INCIDENT_CLOSED, notice_id, self.clock.now()
                    )
                continue
            try:
                await settle(self.store, POST_LEASE, StateStore.mark_notice_told, notice_id, self.clock.now())
            except Exception:
                # the closing and the replies stand: the staff member hears of them, not of this
                log.exception(
                    "a thread was told the incident is closed but could not be marked so; it is told "
                    "again when its claim lapses",
                    extra={"incident_id": incident_id},
                )
        return told

    async def _thread_language(self, conversation: ConversationRef) -> str:
        """A guess, for a notice given before its language was kept."""
        history = await self.store.run(StateStore.history, conversation, 4)
        asked = next((turn.text for turn in history if turn.role == "user"), "")
        return detect_language(asked) if asked else "en"
