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
    """Each entry a day ("mon", "tues" or "monday") or a range of days ("mon-fri", or "sun-thu"
    across the week's end), as the three-letter names bot/hours.py reads. Anything else is
    refused: read by its first letters, "Mon-Fri" was Monday alone, with no word said."""
    days: list[str] = []
    wrong: list[str] = []
    for entry in value:
        first, _, last = entry.strip().lower().partition("-")
        start, end = _day(first), _day(last) if last else _day(first)
        if start is None or end is None:
            wrong.append(entry)
            continue
        span = (end - start) % len(DAY_NAMES)
        days += [DAY_NAMES[(start + step) % len(DAY_NAMES)][:3] for step in range(span + 1)]
    if wrong or not value:
        raise ValueError(
            "use day names like mon, tue, ... sun (or monday ...), or a range like mon-fri "
            f"(got {', '.join(repr(w) for w in wrong) or 'nothing'})"
        )
    return tuple(dict.fromkeys(days))


DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day(name: str) -> int | None:
    """The day's number (0 = Monday) of its name or an abbreviation of three letters or more
    ("mon", "tues", "thurs", "monday"); None for anything else ("monkey", "weekdays")."""
    name = _SPELLED.get(name.strip(), name.strip())
    for number, full in enumerate(DAY_NAMES):
        if len(name) >= 3 and full.startswith(name):
            return number
    return None


_SPELLED = {"weds": "wed"}  # the one common abbreviation that is not the name's beginning


def _time_zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("is not a time zone name such as UTC, Europe/Berlin or Asia/Seoul") from None
    return value


# the longest wait a reminder may be set to: 30 days of minutes. Counted in working minutes
# (bot/hours.py walks the open windows day by day), it stays far inside the calendar even for
# a one-minute working day a week; "never" written as 9999999999 overflowed it instead, and
# every hand-over failed
MAX_WAIT_MINUTES = 30 * 24 * 60


@dataclass(frozen=True, kw_only=True)
class EscalationSettings(Section):
    first_response_minutes: Annotated[int, Bounds(ge=1, le=MAX_WAIT_MINUTES)] = 15
    second_tier_minutes: Annotated[int, Bounds(ge=1, le=MAX_WAIT_MINUTES)] = 30
    claimed_idle_minutes: Annotated[int, Bounds(ge=1, le=MAX_WAIT_MINUTES)] = 120
    # at most ten years: "for ever" as 9999999999 overflowed the calendar too
    reopen_days: Annotated[int, Bounds(ge=0, le=3650)] = 7
    business_hours: Annotated[str, Check(_business_hours)] = ""  # "09:00-18:00"; empty: the team is always in
    business_days: Annotated[tuple[str, ...], Check(_business_days)] = ("mon", "tue", "wed", "thu", "fri")
    timezone: Annotated[str, Check(_time_zone)] = "UTC"
    ask_rating: bool = True
    tags: dict[str, TagRoute] = field(default_factory=dict)


def time_of_day(text: str) -> dt_time:
    if len(text.split()) != 1 or ":" not in text:
        raise ValueError(text)
    return dt_time.fromisoformat(text.strip())
