"""The learning loop: what staff wrote to resolve a ticket becomes a knowledge draft, and an
approved draft becomes a Markdown file in the knowledge folder, so the next person asking
the same thing gets the answer from the bot.

The file carries its provenance in the front matter (source ticket, date) and inherits
the visibility of the channel the question came from, so an answer given in an internal
channel never becomes public by being learned.

A draft carries the question and staff's replies with credentials redacted
(`redact_secrets`): it is shown to admins, written into the knowledge folder, indexed and
quoted to everyone who asks next, while a token pasted into the thread belonged to one person.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import yaml

from bot.answering.secrets import redact_secrets
from bot.escalation.values import Drafted, DraftStatus, MessageRole
from bot.store import AsyncStore, StateStore
from bot.types import Draft, Ticket

log = logging.getLogger(__name__)

LEARNED_FOLDER = "learned"


@dataclass(frozen=True)
class Drafting:
    """The draft `draft_from` made or found for a ticket, and what it did with it."""

    draft_id: int
    drafted: Drafted


async def draft_from(store: AsyncStore, ticket: Ticket, now: datetime) -> Drafting | None:
    """What staff wrote to the ticket's asker becomes a draft knowledge entry; None when they
    wrote nothing that no decided draft of the ticket took already. A pending draft is brought
    up to date (staff may have corrected themselves after a reopen) unless a person edited its
    answer: their text is never written over. A decided one is followed by a new draft of what
    staff wrote after the loop last wrote it."""
    newest = await store.run(StateStore.ticket_drafts, ticket.id, 2)
    words = await _staff_words(store, ticket)
    decided = next((d for d in newest if d.status != DraftStatus.PENDING), None)
    if decided is not None:
        # approved (published) or rejected with what it held when the loop last wrote it: none
        # of that again (a refreshed draft's words are those up to its refresh)
        taken = decided.updated_at or decided.created_at or ticket.created_at
        words = [(text, at) for text, at in words if at > taken]
    answer = _answer(words)
    if newest and newest[0].status == DraftStatus.PENDING:
        return Drafting(newest[0].id, await _bring_up_to_date(store, newest[0], answer, now))
    if not answer:
        return None
    # tickets opened before questions were redacted on the way in still carry the raw text
    question = redact_secrets(ticket.question)
    title = question.strip().splitlines()[0][:120] if question.strip() else f"Ticket {ticket.id}"
    draft = await store.run(
        StateStore.create_draft,
        ticket_id=ticket.id,
        title=title,
        question=question,
        answer=answer,
        visibility=str(ticket.visibility),
        at=now,
    )
    log.info("knowledge draft created", extra={"ticket_id": ticket.id})
    return Drafting(draft.id, Drafted.NEW)


async def _staff_words(store: AsyncStore, ticket: Ticket) -> list[tuple[str, datetime]]:
    """What staff wrote to the ticket's asker, each with when: their messages in its thread.
    A conversation without a thread (a channel where threads could not be made) is every
    asker's there, and nothing says whose question a staff message in it answers: there only
    what staff wrote on the ticket itself counts, the notes they resolved it with."""
    if ticket.conversation.thread is None:
        return await store.run(StateStore.resolve_notes, ticket.id)
    return await store.run(
        StateStore.messages_since, ticket.conversation, ticket.created_at, MessageRole.STAFF
    )


async def _bring_up_to_date(store: AsyncStore, pending: Draft, answer: str, now: datetime) -> Drafted:
    """The pending draft made of `answer`, what staff wrote, unless a person saved it by hand:
    then it is theirs, kept as they saved it (the store checks that too, in the write)."""
    if pending.edited_at is not None:
        return Drafted.KEPT
    if not answer or answer == pending.answer:
        return Drafted.UNCHANGED  # an emptied thread (retention, forget-me) empties no draft
    if await store.run(StateStore.refresh_draft, pending.id, answer, now):
        return Drafted.REFRESHED
    return Drafted.KEPT  # saved by a person after it was read


def _answer(words: list[tuple[str, datetime]]) -> str:
    # staff sometimes quote the asker's token back, or paste one of their own
    return redact_secrets("\n\n".join(text.strip() for text, _ in words if text.strip()))


def _slug(title: str, fallback: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].strip("-")
    return slug or fallback


def render_entry(draft: Draft, today: date) -> str:
    # the title is the file's heading line and its front matter title: one line whatever was
    # stored (a line break in it would end the heading and start the document with its own text)
    spaced = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") else ch for ch in draft.title
    )
    title = " ".join(spaced.split())[:200].rstrip() or f"Ticket {draft.ticket_id}"
    front = {
        "title": title,
        "visibility": str(draft.visibility),
        "tags": ["learned"],
        "source": f"ticket #{draft.ticket_id}",
        "date": today.isoformat(),
    }
    header = yaml.safe_dump(front, allow_unicode=True, sort_keys=False).strip()
    question = " ".join(draft.question.split())
    return f"---\n{header}\n---\n# {title}\n\n{question}\n\n{draft.answer.strip()}\n"


def write_entry(folder: Path, draft: Draft, today: date) -> str:
    """Write the draft into a new file in `folder`/learned/ and return its path relative to
    `folder`. The file is one this call created: never an existing file, nor one another
    approval (another worker sharing the folder) creates at the same moment, so the caller
    may delete it again when the approval does not hold."""
    # Fields, not the rendered file, are redacted: "[redacted]" at the start of a YAML value
    # would read as a list. Drafts made before drafts were redacted are covered here too, and
    # the file name is made from the redacted title.
    safe = replace(
        draft,
        title=redact_secrets(draft.title),
        question=redact_secrets(draft.question),
        answer=redact_secrets(draft.answer),
    )
    target_dir = folder / LEARNED_FOLDER
    target_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{today.isoformat()}-{_slug(safe.title, f'ticket-{safe.ticket_id}')}"
    target = _create(target_dir, stem, render_entry(safe, today))
    return target.relative_to(folder).as_posix()


def _create(target_dir: Path, stem: str, text: str) -> Path:
    """`text` in a file `stem`.md of `target_dir` created for it (`stem`-2.md, -3, ... when
    taken). Created exclusively (open mode "x", O_EXCL): a check that the name is free and
    then a write lets two approvals at once both find it free and write the same file, the
    second truncating the first's page; and it writes through a link left under that name."""
    counter = 1
    while True:
        target = target_dir / (f"{stem}.md" if counter == 1 else f"{stem}-{counter}.md")
        try:
            # one open that creates or fails: no moment where the name could be taken between
            handle = open(target, "x", encoding="utf-8")  # noqa: SIM115 - closed by the with below
        except FileExistsError:
            counter += 1
            continue
        try:
            with handle:
                handle.write(text)
        except BaseException:
            target.unlink(missing_ok=True)  # ours: no half-written page left to be indexed
            raise
        return target
