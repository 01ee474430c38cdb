"""The `[escalation]` section: when tickets wait too long, the team's hours, how a tag routes a
ticket (knowledge/escalation.md documents it; bot/escalation/ and bot/hours.py read it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time as dt_time
from typing import Annotated

from bot.config_platforms import TagRoute
from bot.config_rules import Bounds, Check, Section


def _business_hours(value: str) -> str:
    if not value.strip():
        return ""
    parts = value.split("-")
    try:
        start, end = (time_of_day(p) for p in parts)
    except ValueError:
        raise ValueError('must look like "09:00-18:00" (24-hour clock), or be empty') from None
    if end <= start:
        raise ValueError("must close after it opens, on the same day")
    return value.strip()


def _business_days(value: tuple[str, ...]) -> tuple[str, ...]:
    from bot.hours import DAYS

    wrong = [d for d in value if d.lower()[:3] not in DAYS or len(d) < 3]
    if wrong or not value:
        raise ValueError(f"use day names like mon, tue, ... sun (got {', '.join(wrong) or 'nothing'})")
    return tuple(d.lower()[:3] for d in value)


def _time_zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("is not a time zone name such as UTC, Europe/Berlin or Asia/Seoul") from None
    return value


@dataclass(frozen=True, kw_only=True)
class EscalationSettings(Section):
    first_response_minutes: Annotated[int, Bounds(ge=1)] = 15
    second_tier_minutes: Annotated[int, Bounds(ge=1)] = 30
    claimed_idle_minutes: Annotated[int, Bounds(ge=1)] = 120
    reopen_days: Annotated[int, Bounds(ge=0)] = 7
    business_hours: Annotated[str, Check(_business_hours)] = ""  # "09:00-18:00"; empty: the team is always in
    business_days: Annotated[tuple[str, ...], Check(_business_days)] = ("mon", "tue", "wed", "thu", "fri")
    timezone: Annotated[str, Check(_time_zone)] = "UTC"
    ask_rating: bool = True
    tags: dict[str, TagRoute] = field(default_factory=dict)


def time_of_day(text: str) -> dt_time:
    if len(text.split()) != 1 or ":" not in text:
        raise ValueError(text)
    return dt_time.fromisoformat(text.strip())
