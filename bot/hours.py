"""Business hours: when the team is in, and deadlines counted in working minutes.

Pure functions over aware datetimes. The SLA clock only runs while the team is in: a
ticket opened on Friday evening with a 15-minute target is due 15 minutes after Monday's
opening, not during the weekend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, kw_only=True)
class BusinessHours:
    """`None` opening means the team is always in (every deadline is wall-clock)."""

    opens: time | None
    closes: time | None
    days: frozenset[int]  # 0 = Monday
    zone: ZoneInfo

    @classmethod
    def parse(cls, hours: str, days: tuple[str, ...], timezone: str) -> BusinessHours:
        zone = ZoneInfo(timezone)
        day_numbers = frozenset(DAYS.index(d.lower()[:3]) for d in days)
        if not hours.strip():
            return cls(opens=None, closes=None, days=day_numbers, zone=zone)
        start, end = (part.strip() for part in hours.split("-", 1))
        return cls(
            opens=time.fromisoformat(start), closes=time.fromisoformat(end), days=day_numbers, zone=zone
        )

    @property
    def always(self) -> bool:
        return self.opens is None

    def _window(self, day: datetime) -> tuple[datetime, datetime] | None:
        """Opening and closing of the local calendar day of `day`, if it is a working day."""
        if self.opens is None or self.closes is None or day.weekday() not in self.days:
            return None
        start = day.replace(hour=self.opens.hour, minute=self.opens.minute, second=0, microsecond=0)
        end = day.replace(hour=self.closes.hour, minute=self.closes.minute, second=0, microsecond=0)
        return (start, end) if end > start else None

    def is_open(self, moment: datetime) -> bool:
        if self.always:
            return True
        local = moment.astimezone(self.zone)
        window = self._window(local)
        return window is not None and window[0] <= local < window[1]

    def next_open(self, moment: datetime) -> datetime:
        """`moment` itself if the team is in, else when it next opens (UTC)."""
        if self.is_open(moment):
            return moment
        local = moment.astimezone(self.zone)
        for offset in range(0, 15):
            day = local + timedelta(days=offset)
            window = self._window(day)
            if window is not None and window[0] > local:
                return window[0].astimezone(UTC)
        raise ValueError("business hours never open: check business_days")

    def add_minutes(self, moment: datetime, minutes: float) -> datetime:
        """`minutes` of working time after `moment`."""
        if self.always:
            return moment + timedelta(minutes=minutes)
        remaining = timedelta(minutes=minutes)
        current = self.next_open(moment).astimezone(self.zone)
        while True:
            window = self._window(current)
            assert window is not None  # next_open only returns moments inside a window
            available = window[1] - current
            if remaining <= available:
                return (current + remaining).astimezone(UTC)
            remaining -= available
            current = self.next_open(window[1]).astimezone(self.zone)

    def describe(self) -> str:
        if self.always:
            return "around the clock"
        names = [DAYS[d].capitalize() for d in sorted(self.days)]
        assert self.opens is not None and self.closes is not None
        return f"{', '.join(names)} {self.opens:%H:%M}-{self.closes:%H:%M} ({self.zone.key})"
