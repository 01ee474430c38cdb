"""How an inbound message is kept in the store's inbox until it is handled; and the invariant.

Exactly once: a question is answered in one post, whatever retries the platform makes and
wherever the process dies. A post is one platform message, or, for a reply longer than the
platform's limit, the messages that show it in order (a Discord post's id names them all:
adapters/discord/post_ids.py); an edit of the post brings all of them to the new reply. It
holds because of four rules:

1. An event is claimed in the inbox (its key is the platform's id, the message kept as
   its payload) before anything is done with it; a second claim of the key is a duplicate.
2. The post that shows the answer is noted in the inbox as soon as it exists, before any
   text is streamed into it or anything else is posted (bot/noting.py `NotingChannel`). A whole
   answer (posted complete, nothing streamed) is the handler's last act, so its note rides
   with the finish (rule 3): one write fewer, and nothing awaited in between.
3. The event is finished only after its outcome is visible; finishing drops the payload
   and records the answer that was posted (`Finish.completion`), in one transaction: the
   answer's record and its event's finish are never one without the other.
4. What is claimed but not finished is replayed (at start-up and on every clock tick, a
   bounded number at a time, never one a live handler of this process holds, under a short
   lease so two replays never take one event); a replay edits the noted post instead of
   posting, so a half-streamed answer is completed in place. One process per data dir
   (bot/instance.py) makes "live handler" a question this process can answer; on a shared
   PostgreSQL each worker answers it for the events it holds (bot/store/inbox.py), and one
   whose heartbeats lapsed (paused past its lease: another may have taken its events over)
   asks the inbox before each post, edit and answer record whether the event is still its
   own (bot/fence.py), and its finish writes nothing for an event that is not. A
   handling that failed before it did anything (`NothingDoneYet`: a dropped database
   connection) is left unfinished for such a replay, a few times, rather than dropped.

The windows that remain: between a paused worker's read of the inbox and its post or edit; and the
platform accepted a post but the process died before step 2 recorded its id (one write to the store; for a whole answer, the finish's). There a replay
asks the platform for the bot's reply (`bot.ports.FindsReplies`, which the Slack and Discord
channels answer) and finishes it. A finish the store refused after the answer was posted
(the database away) is written again by the clock, the key held from replays meanwhile
(bot/delivery.py `_write_unwritten`). tests/bot/test_exactly_once.py injects a crash at each
step (bot/faults.py) and checks the rule.

`Finish` carries what the handler leaves to the finish; the functions below are the payload's
format.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from bot.types import Author, Completion, ConversationRef, InboundMessage, Posted, Visibility

log = logging.getLogger(__name__)


class NothingDoneYet(Exception):
    """A handler failed before it did anything for the message (its first read of the store):
    handling it again is safe, so delivery leaves it for the clock's replay instead of
    finishing it as failed (bot/delivery.py `HANDLING_ATTEMPTS`). The failure is its cause."""


class NotYet(NothingDoneYet):
    """A handler did nothing for the message because of something that passes: an edit of a
    question another worker is still answering, or whose answer another edit is revising. Left
    for a later pass like NothingDoneYet, but not counted as a failed try: what it waits for
    ends (answered, given up, or its worker's lease lapses)."""


@dataclass(frozen=True)
class Unwritten:
    """A finish the store refused after the event was handled (the database away): its outcome,
    the answer's record and the post's note, kept to be written again (bot/delivery.py)."""

    outcome: str
    completion: Completion | None
    post: Posted | None


class Finish:
    """What is written when an event is finished, besides its outcome: the answer its handler
    posted. The responder leaves the completion here rather than writing it, and delivery
    writes both at once (one commit per answer fewer, and rule 3 above).

    Work that follows an answer but that the asker does not wait for (the burst watch, a
    first-time welcome) is left here too (`then`) and runs once the finish is written: until
    then the thread is not yet one the bot answered in (a follow-up there would be ignored,
    an edit of the question not seen), so nothing may stand between the post and the record.

    `key` is the event's: an answer recorded before it is posted is keyed by it, so a replay
    records over its dead predecessor's row (bot/store/answers.py `answer_statement`). Before
    that record the handler awaits `fenced` (bot/fence.py): a worker paused past its lease would
    otherwise record over the answer of the worker that took the event over."""

    def __init__(self, key: str | None = None, fence: Callable[[], Awaitable[None]] | None = None) -> None:
        self.key = key
        self.completion: Completion | None = None
        self._fence = fence
        self._after: list[Callable[[], Awaitable[object]]] = []

    async def fenced(self) -> None:
        """Raises bot.fence.TakenOver if the event may be another worker's now."""
        if self._fence is not None:
            await self._fence()

    def then(self, job: Callable[[], Awaitable[object]]) -> None:
        self._after.append(job)

    async def run_after(self) -> None:
        """Each job left by `then`, in order; a failure is logged and the rest still run."""
        for job in self._after:
            try:
                await job()
            except Exception:  # a boundary: the asker has their answer whatever fails here
                log.exception("work after an answer failed")
        self._after.clear()


async def after_record(finish: Finish | None, job: Callable[[], Awaitable[object]]) -> None:
    """Run `job` once the answer is recorded: after the event's finish, or now when there is
    no inbox event (a slash command's answer is recorded as it is posted)."""
    if finish is not None:
        finish.then(job)
    else:
        await job()


def serialise_message(message: InboundMessage) -> str:
    # field by field, not dataclasses.asdict: that deep-copies `raw` (the platform's whole
    # payload) only for it to be dropped, and was most of this function's cost per event
    data = _fields(message)
    del data["raw"]
    data["conversation"] = _fields(message.conversation)
    data["author"] = _fields(message.author) | {"roles": sorted(message.author.roles)}
    data["sent_at"] = message.sent_at.isoformat()
    data["edited_at"] = message.edited_at.isoformat() if message.edited_at is not None else None
    return json.dumps(data, ensure_ascii=False)


def _fields(value: Any) -> dict[str, Any]:
    return {f.name: getattr(value, f.name) for f in fields(value)}


def payload_author(payload: str) -> str | None:
    """The id of who wrote the message kept as `payload`; None when it is not one
    `serialise_message` wrote."""
    try:
        author = json.loads(payload)["author"]["id"]
    except (ValueError, LookupError, TypeError):
        return None
    return author if isinstance(author, str) else None


def deserialise_message(payload: str) -> InboundMessage:
    data = json.loads(payload)
    author = data["author"]
    return InboundMessage(
        id=data["id"],
        conversation=ConversationRef(**data["conversation"]),
        author=Author(
            id=author["id"],
            name=author["name"],
            is_bot=author["is_bot"],
            roles=frozenset(author["roles"]),
            platform_admin=author["platform_admin"],
            external=author.get("external", False),
        ),
        text=data["text"],
        addressed=data["addressed"],
        visibility=Visibility(data["visibility"]),
        sent_at=datetime.fromisoformat(data["sent_at"]),
        edited=data["edited"],
        edit_of=data.get("edit_of"),  # absent in events stored before edits were answered
        edited_at=datetime.fromisoformat(data["edited_at"]) if data.get("edited_at") else None,
    )
