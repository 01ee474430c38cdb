"""The result of one `supportbot doctor` check: a value every part that checks something shares.

A leaf module (it imports nothing of ours), so the model answerer and the adapters can
report checks without importing the doctor, which imports the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True, kw_only=True)
class Check:
    name: str
    status: Status
    detail: str
