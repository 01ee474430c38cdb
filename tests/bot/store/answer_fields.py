"""One answered question's fields, as the store tests record it (record_answer and
answer_statement take the same keywords)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.types import ConversationRef


def answer_fields(ref: ConversationRef, at: datetime, asker_id: str = "U1") -> dict[str, Any]:
    return {
        "ref": ref,
        "message_id": ref.thread,
        "asker_id": asker_id,
        "question": "How long does a refund take?",
        "answer": "Five to seven business days.",
        "confidence": 0.9,
        "language": "en",
        "answerer": "extractive",
        "abstained": False,
        "sources": (),
        "top_path": None,
        "at": at,
    }
