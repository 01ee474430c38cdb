"""The burst watch's window, kept up to date incrementally: the same questions and askers as
rebuilding it from scratch on every observation (what the watch did before)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.insights.bursts import RECENT_LIMIT, Window
from bot.store.incidents import RecentQuestion

START = datetime(2026, 1, 5, 12, tzinfo=UTC)


def _question(answer_id: int, asker: str) -> RecentQuestion:
    return RecentQuestion(
        answer_id=answer_id,
        conversation=f"slack:T1:C1:{answer_id}",
        asker_id=asker,
        question="Login fails with error 500",
        neighbours=("docs/login.md#0",),
        scores=(9.0, 1.0),
        at=START + timedelta(seconds=answer_id),
    )


# each observation: how many questions were recorded since the last, who asked them, and how
# far the window's start moved (seconds); ids and times only grow, as the store gives them
_observations = st.lists(
    st.tuples(
        st.integers(0, 260),
        st.lists(st.sampled_from(("U1", "U2", "U3", "", "U5")), min_size=1, max_size=4),
        st.integers(0, 120),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(_observations)
def test_the_window_matches_one_rebuilt_from_scratch(observations: list[tuple[int, list[str], int]]) -> None:
    window = Window()
    rebuilt: list[RecentQuestion] = []
    next_id, since, seen = 1, START, 0
    for count, askers, moved in observations:
        fresh = [_question(next_id + n, askers[n % len(askers)]) for n in range(count)][::-1]
        next_id += count
        seen = max([seen, *(q.answer_id for q in fresh)])
        since += timedelta(seconds=moved)
        dropped = window.update(fresh, since)
        before = {q.answer_id for q in rebuilt}
        rebuilt = [q for q in [*fresh, *rebuilt] if q.at >= since][:RECENT_LIMIT]
        assert list(window.questions) == rebuilt == window.current(since)
        assert window.askers == len({q.asker_id for q in rebuilt if q.asker_id})
        assert window.seen == seen  # the next read starts after it
        # what left is exactly what was there (or just came) and is no longer
        assert {q.answer_id for q in dropped} == (before | {q.answer_id for q in fresh}) - {
            q.answer_id for q in rebuilt
        }


def test_a_question_committed_out_of_order_never_reaches_the_clustering_once_aged() -> None:
    """Another process's row can arrive behind an older one: it stays until it reaches the
    window's end, but `current` (what the clustering sees) leaves it out once it has aged."""
    window = Window()
    window.update([_question(10, "U1")], START)
    window.update([_question(5, "U2")], START)  # recorded earlier, read later
    later = START + timedelta(seconds=8)
    window.update([], later)
    assert [q.answer_id for q in window.current(later)] == [10]
