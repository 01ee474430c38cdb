"""Whether the configured model is answering, as this process has seen it lately.

A model that fails (a revoked key, an endpoint down, an exhausted quota) does not stop the
bot: each answer falls back to quoting the documentation, with a note to the asker. The team
must still hear of it before the askers complain, so the run of failures since the model
last answered is kept here, and `/support status` says it (bot/commands/handlers.py). Kept in
memory, per process: a restart or one good answer clears it, as it should.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime


@dataclass(frozen=True)
class ModelTrouble:
    """Failures in a row since the model last answered: when the first came, how many, and
    what the last one was (AnswererUnavailable's words: no key, no endpoint text)."""

    since: datetime
    failures: int
    last_reason: str

    def describe(self) -> str:
        plural = "answer" if self.failures == 1 else "answers"
        return (
            f"Model: failing since {self.since:%Y-%m-%d %H:%M} UTC ({self.failures} {plural} in a row "
            f"quoted the documentation instead): {self.last_reason}"
        )


class ModelHealth:
    def __init__(self) -> None:
        self.trouble: ModelTrouble | None = None

    def failed(self, reason: str, now: datetime) -> bool:
        """Note a failure; True when it begins a run (the model answered before, or never tried)."""
        if self.trouble is None:
            self.trouble = ModelTrouble(since=now, failures=1, last_reason=reason)
            return True
        self.trouble = replace(self.trouble, failures=self.trouble.failures + 1, last_reason=reason)
        return False

    def answered(self) -> ModelTrouble | None:
        """Note an answer from the model; the run of failures it ends, if any."""
        ended, self.trouble = self.trouble, None
        return ended
