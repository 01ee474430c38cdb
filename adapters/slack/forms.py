"""Forms: the core's request for text (`bot.ports.TextInput`) as a Slack modal, and back.

This module owns the modal's shape and reading its submission, as pure functions:

* `text_form` builds the `views.open` view: one multi-line `plain_text_input` prefilled
  with the current text, within Slack's limits (title and buttons 24 characters, the input's
  value 3000). What the press referred to (action, value, channel, thread, message) travels
  in `private_metadata`, since a `view_submission` carries no channel of its own;
* `read_submission` turns a `view_submission` payload back into those fields and the text.

The listener is `adapters.slack.events`'s, what a submission becomes `adapters.slack.interactions`'s,
and the calls `adapters.slack.channel`'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.slack.mrkdwn import truncate
from bot.types import ActionEvent, ActionKind

CALLBACK_ID = "supportbot:form"
BLOCK_ID = "supportbot_text"
ACTION_ID = "text"
TITLE_LIMIT = 24  # the modal's title, submit and close labels
LABEL_LIMIT = 2000
VALUE_LIMIT = 3000  # a plain_text_input's initial and maximum length
METADATA_LIMIT = 3000


@dataclass(frozen=True, kw_only=True)
class Submission:
    """What a submitted form refers to, and what was typed."""

    action: ActionKind
    value: str
    channel: str
    thread: str | None
    message_id: str | None
    text: str


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit) or "…"}


def text_form(
    event: ActionEvent, *, title: str, label: str, initial: str, submit: str = "Save"
) -> dict[str, Any]:
    """The modal asking for text on behalf of `event` (a press on one of the bot's buttons)."""
    metadata = json.dumps(
        {
            "action": str(event.action),
            "value": event.value,
            "channel": event.conversation.channel,
            "thread": event.conversation.thread,
            "message": event.message_id,
        },
        separators=(",", ":"),
    )
    if len(metadata) > METADATA_LIMIT:
        raise ValueError("the form's context does not fit Slack's private_metadata")
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ACTION_ID,
        "multiline": True,
        "max_length": VALUE_LIMIT,
    }
    if initial:
        element["initial_value"] = initial[:VALUE_LIMIT]
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": _plain(title, TITLE_LIMIT),
        "submit": _plain(submit, TITLE_LIMIT),
        "close": _plain("Cancel", TITLE_LIMIT),
        "private_metadata": metadata,
        "blocks": [
            {"type": "input", "block_id": BLOCK_ID, "label": _plain(label, LABEL_LIMIT), "element": element}
        ],
    }


def read_submission(view: Mapping[str, Any]) -> Submission | None:
    """The form's context and text from a `view_submission`'s view; None if it is not one of
    ours or cannot be read (a forged or truncated payload)."""
    metadata = str(view.get("private_metadata") or "")
    if view.get("callback_id") != CALLBACK_ID or len(metadata) > METADATA_LIMIT:
        return None  # longer than we ever write, or Slack keeps: not ours to parse
    try:
        meta = json.loads(metadata)
        action = ActionKind(meta["action"])
        state = (view.get("state") or {}).get("values") or {}
        text = (state.get(BLOCK_ID) or {}).get(ACTION_ID, {}).get("value")
        return Submission(
            action=action,
            value=str(meta["value"]),
            channel=str(meta["channel"]),
            thread=str(meta["thread"]) if meta.get("thread") else None,
            message_id=str(meta["message"]) if meta.get("message") else None,
            text=str(text or ""),
        )
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
