"""What a start at a new shard count takes over (adapters/discord/other_counts.py), as values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord

from adapters.discord.other_counts import at_this_count, count_of, last_count_mark, owed_at_other_counts

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def at(minutes_ago: float) -> str:
    return f"{discord.utils.time_snowflake(NOW - timedelta(minutes=minutes_ago)):020d}"


def test_a_place_names_its_count() -> None:
    assert count_of("discord/2/1") == 2
    assert count_of("discord/1/0") == 1
    assert count_of("slack@T1/C1") is None
    assert count_of("discord/x/0") is None
    assert count_of("discord/2") is None


def test_the_last_count_that_ran_gives_its_earliest_mark() -> None:
    noted = {
        "discord/1/0": at(600),  # a count that ran long ago
        "discord/2/0": at(30),
        "discord/2/1": at(45),  # count 2 ran last: its shard 1 heard least far
    }
    assert last_count_mark(noted, 3) == at(45)
    # a shard of count 2 never noted (its others were) takes the count before's, count 1's
    assert last_count_mark(noted, 2) == at(600)
    assert last_count_mark({"discord/2/0": at(30)}, 2) is None  # no other count ran
    assert last_count_mark({}, 3) is None
    assert last_count_mark({"slack@T1": "1700000000.000100"}, 3) is None


def test_what_other_counts_owe_within_the_window_is_owed_still() -> None:
    owed = {
        "discord/2/1": at(90),
        "discord/2/0": at(60 * 25),  # out of the window: nothing that old is read
        "discord/3/0": at(5),  # this count's own
    }
    assert owed_at_other_counts(owed, 3, NOW) == {"discord/2/1": at(90)}


def test_the_earliest_mark_of_a_count_is_any_of_its_shards() -> None:
    noted = {"discord/1/0": at(600), "discord/2/0": at(30), "discord/2/1": at(45), "slack": "1.0"}
    assert at_this_count(noted, 2) == at(45)
    assert at_this_count(noted, 1) == at(600)
    assert at_this_count(noted, 3) is None
