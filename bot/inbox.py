"""How an inbound message is kept in the store's inbox until it is handled.

The inbox holds a message from the moment it arrives until it is answered, so a process
that dies mid-answer can replay it after a restart; these two functions are the format.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from bot.types import Author, ConversationRef, InboundMessage, Visibility


def serialise_message(message: InboundMessage) -> str:
    data = asdict(message)
    data.pop("raw", None)
    data["sent_at"] = message.sent_at.isoformat()
    data["author"]["roles"] = sorted(message.author.roles)
    return json.dumps(data, ensure_ascii=False)


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
    )
