"""The learning loop's last step: an approved draft becomes a Markdown file in the
knowledge folder, so the next person asking the same thing gets the answer from the bot.

The file carries its provenance in the front matter (source ticket, date) and inherits
the visibility of the channel the question came from, so an answer given in an internal
channel never becomes public by being learned.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from pathlib import Path

import yaml

from bot.types import Draft

LEARNED_FOLDER = "learned"


def _slug(title: str, fallback: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].strip("-")
    return slug or fallback


def render_entry(draft: Draft, today: date) -> str:
    front = {
        "title": draft.title,
        "visibility": str(draft.visibility),
        "tags": ["learned"],
        "source": f"ticket #{draft.ticket_id}",
        "date": today.isoformat(),
    }
    header = yaml.safe_dump(front, allow_unicode=True, sort_keys=False).strip()
    question = " ".join(draft.question.split())
    return f"---\n{header}\n---\n# {draft.title}\n\n{question}\n\n{draft.answer.strip()}\n"


def write_entry(folder: Path, draft: Draft, today: date) -> str:
    """Write the draft into `folder`/learned/ and return its path relative to `folder`.
    Never overwrites an existing file."""
    target_dir = folder / LEARNED_FOLDER
    target_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{today.isoformat()}-{_slug(draft.title, f'ticket-{draft.ticket_id}')}"
    target = target_dir / f"{stem}.md"
    counter = 2
    while target.exists():
        target = target_dir / f"{stem}-{counter}.md"
        counter += 1
    target.write_text(render_entry(draft, today), encoding="utf-8")
    return target.relative_to(folder).as_posix()
