"""Business hours: opening times and deadlines counted in working minutes."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.hours import BusinessHours

SEOUL = BusinessHours.parse("09:00-18:00", ("mon", "tue", "wed", "thu", "fri"), "Asia/Seoul")


def test_open_and_closed() -> None:
    assert SEOUL.is_open(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))  # Mon 10:00 KST
    assert not SEOUL.is_open(datetime(2026, 11, 30, 9, 1, tzinfo=UTC))  # Mon 18:01 KST
    assert not SEOUL.is_open(datetime(2026, 12, 5, 3, 0, tzinfo=UTC))  # Saturday noon in Seoul


def test_next_open_skips_the_weekend() -> None:
    friday_evening = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)  # Fri 19:00 KST
    assert SEOUL.next_open(friday_evening) == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # Mon 09:00 KST


def test_deadlines_count_working_minutes_only() -> None:
    late_friday = datetime(2026, 12, 4, 8, 50, tzinfo=UTC)  # Fri 17:50 KST: 10 minutes left that day
    assert SEOUL.add_minutes(late_friday, 15) == datetime(2026, 12, 7, 0, 5, tzinfo=UTC)  # Mon 09:05 KST
    assert SEOUL.add_minutes(datetime(2026, 11, 30, 1, 0, tzinfo=UTC), 30) == datetime(
        2026, 11, 30, 1, 30, tzinfo=UTC
    )


def test_always_open_when_no_hours_are_set() -> None:
    always = BusinessHours.parse("", ("mon",), "UTC")
    sunday = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    assert always.is_open(sunday) and always.add_minutes(sunday, 15) == datetime(
        2026, 11, 29, 3, 15, tzinfo=UTC
    )
    assert SEOUL.describe() == "Mon, Tue, Wed, Thu, Fri 09:00-18:00 (Asia/Seoul)"
