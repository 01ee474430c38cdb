"""Business hours: opening times and deadlines counted in working minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


def test_working_minutes_skip_nights_and_weekends() -> None:
    friday = datetime(2026, 12, 4, 8, 50, tzinfo=UTC)  # Fri 17:50 KST: 10 minutes before closing
    monday = datetime(2026, 12, 7, 0, 20, tzinfo=UTC)  # Mon 09:20 KST
    assert SEOUL.working_minutes(friday, monday) == 30
    # the inverse of add_minutes, across nights and a weekend
    for minutes in (1, 15, 540, 541, 2000):
        assert SEOUL.working_minutes(friday, SEOUL.add_minutes(friday, minutes)) == minutes
    saturday, sunday = datetime(2026, 12, 5, 1, 0, tzinfo=UTC), datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
    assert SEOUL.working_minutes(saturday, sunday) == 0  # nobody was in
    assert SEOUL.working_minutes(monday, friday) == 0  # backwards is no time at all


def test_working_minutes_are_wall_clock_when_always_open() -> None:
    always = BusinessHours.parse("", ("mon",), "UTC")
    start = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # a Sunday: no day is closed when always open
    assert always.working_minutes(start, datetime(2026, 11, 29, 4, 30, tzinfo=UTC)) == 90


def test_working_minutes_over_weeks_count_each_working_day() -> None:
    monday = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # Mon 09:00 KST
    assert SEOUL.working_minutes(monday, monday + timedelta(days=28)) == 4 * 5 * 9 * 60
    assert SEOUL.working_minutes(monday, monday + timedelta(days=30, hours=1)) == (4 * 5 + 2) * 9 * 60 + 60


def test_working_minutes_across_a_clock_change_count_local_hours() -> None:
    new_york = BusinessHours.parse("09:00-18:00", ("mon", "tue", "wed", "thu", "fri"), "America/New_York")
    friday = datetime(2026, 10, 30, 21, 50, tzinfo=UTC)  # Fri 17:50 EDT; clocks go back on Sunday
    monday = datetime(2026, 11, 2, 14, 20, tzinfo=UTC)  # Mon 09:20 EST
    assert new_york.working_minutes(friday, monday) == 30
    assert new_york.working_minutes(friday, new_york.add_minutes(friday, 30)) == 30


def test_a_deadline_across_the_night_the_clocks_fall_back_is_real_minutes_later() -> None:
    """A team in all day in New York: fifteen working minutes from 01:50 EDT on the night the
    clocks fall back end fifteen real minutes later (they used to end 75 minutes later: the
    window's end and the moment were subtracted as wall clocks)."""
    hours = BusinessHours.parse(
        "00:00-23:59", ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "America/New_York"
    )
    start = datetime(2026, 11, 1, 5, 50, tzinfo=UTC)  # 01:50 EDT
    assert hours.add_minutes(start, 15) == start + timedelta(minutes=15)
    spring = datetime(2026, 3, 8, 6, 50, tzinfo=UTC)  # 01:50 EST, before the clocks spring forward
    assert hours.add_minutes(spring, 120) == spring + timedelta(minutes=120)
