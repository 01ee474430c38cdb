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
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import yaml

from bot.answering.safety import redact_secrets
from bot.escalation.values import DraftStatus, MessageRole
from bot.store import AsyncStore, StateStore
from bot.types import Draft, Ticket

log = logging.getLogger(__name__)

LEARNED_FOLDER = "learned"


async def draft_from(store: AsyncStore, ticket: Ticket, now: datetime) -> int | None:
    """What staff wrote in the ticket's thread becomes a draft knowledge entry; returns its
    id, or None when staff wrote nothing. A pending draft is brought up to date (staff may
    have corrected themselves after a reopen); a decided one is followed by a new draft of
    what staff wrote since."""
    previous = await store.run(StateStore.latest_draft_for, ticket.id)
    pending = previous is not None and previous.status == DraftStatus.PENDING
    since = (
        previous.created_at
        if previous is not None and not pending and previous.created_at
        else ticket.created_at
    )
    replies = await store.run(StateStore.messages_since, ticket.conversation, since, MessageRole.STAFF)
    # staff sometimes quote the asker's token back, or paste one of their own
    answer = redact_secrets("\n\n".join(r.strip() for r in replies if r.strip()))
    if not answer:
        return None
    if pending and previous is not None:
        await store.run(StateStore.refresh_draft, previous.id, answer, now)
        return previous.id
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
    return draft.id


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
