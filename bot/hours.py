"""Business hours: when the team is in, and deadlines counted in working minutes.

Pure functions over aware datetimes. The SLA clock only runs while the team is in: a
ticket opened on Friday evening with a 15-minute target is due 15 minutes after Monday's
opening, not during the weekend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.messages import say

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
            # in UTC: the same time zone on both sides subtracts wall clocks, an hour off across
            # the night the clocks change
            available = window[1].astimezone(UTC) - current.astimezone(UTC)
            if remaining <= available:
                return current.astimezone(UTC) + remaining
            remaining -= available
            current = self.next_open(window[1]).astimezone(self.zone)

    def working_minutes(self, start: datetime, end: datetime) -> float:
        """Minutes of working time between `start` and `end` (0 if `end` is not later): the
        inverse of `add_minutes`, so a reply on Monday 09:20 to a question of Friday 17:50
        (closing 18:00) took 30 minutes, not 63 hours."""
        if end <= start:
            return 0.0
        if self.always:
            return (end - start).total_seconds() / 60
        return max(0.0, self._worked_until(end) - self._worked_until(start))

    def _worked_until(self, moment: datetime) -> float:
        """Working minutes from a fixed Monday long ago up to `moment`, in closed form (a report
        computes this for every ticket): whole weeks, the working days before this one in its
        week, and the part of today's window that has passed. Counted in local wall-clock
        time (the windows are local hours), where `add_minutes` counts real minutes: on the two
        nights a year the clocks change inside a window, a report's figure there is an hour off
        the deadline's, which closed form cannot follow without walking every day."""
        assert self.opens is not None and self.closes is not None
        local = moment.astimezone(self.zone)
        opens = self.opens.hour * 60 + self.opens.minute
        day = max(0, self.closes.hour * 60 + self.closes.minute - opens)
        weeks, weekday = divmod(local.toordinal() - 1, 7)  # ordinal 1 (0001-01-01) is a Monday
        total = float(weeks * len(self.days) * day + sum(day for d in self.days if d < weekday))
        if weekday in self.days:
            now = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60_000_000
            total += min(max(now - opens, 0.0), float(day))
        return total

    def describe(self, language: str = "en") -> str:
        """The hours as people read them, in `language`: "Mon, Tue 09:00-18:00 (UTC)"."""
        if self.always:
            return say("hours_always", language)
        names = [day_name(d, language) for d in sorted(self.days)]
        assert self.opens is not None and self.closes is not None
        return f"{', '.join(names)} {self.opens:%H:%M}-{self.closes:%H:%M} ({self.zone.key})"

    def local(self, moment: datetime, language: str = "en") -> str:
        """`moment` as the team reads it, in the business-hours time zone: "Mon 09:00 UTC"."""
        at = moment.astimezone(self.zone)
        return f"{day_name(at.weekday(), language)} {at:%H:%M %Z}"


def day_name(weekday: int, language: str = "en") -> str:
    """The short name of a day of the week (0 = Monday) in `language`."""
    return say("weekdays", language).split()[weekday]
