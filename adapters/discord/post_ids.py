"""The id of a Discord post: the ids of every message that shows it.

A reply longer than one message (2,000 characters) is shown in several, in order, the
sources and buttons on the last (adapters/discord/render.py `render_reply`). The core keeps a
post by `Posted.message_id`, which is the adapter's own handle (Slack's is "channel:ts"); on
Discord it names all the post's messages, first to last, joined by SEPARATOR (one message: its
plain id, as every post had before). So whatever keeps a post (the inbox's note, the answer's
record a revision edits, a ticket's card) keeps all its parts, with no column of its own, and
an edit (`DiscordChannel.edit`) reaches each of them: none left showing an older reply, none
shown twice. The first is the message a streamed answer was written into and the one that
replies to the question (what a replay's `find_reply` knows it by).
"""

from __future__ import annotations

from collections.abc import Sequence

SEPARATOR = ","


def post_id(message_ids: Sequence[int | str]) -> str:
    """The handle of a post shown in these messages, first to last."""
    return SEPARATOR.join(str(m) for m in message_ids)


def message_ids(post: str) -> list[int] | None:
    """The messages of a post, first to last; None for a post that is not Discord's (a muted
    announcement's empty id)."""
    parts = post.split(SEPARATOR)
    if not all(part.isdigit() for part in parts):
        return None
    return [int(part) for part in parts]
