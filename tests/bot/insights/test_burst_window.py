"""The burst watch's window, kept up to date incrementally: the same questions and askers as
rebuilding it from scratch on every observation (what the watch did before)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.insights.burst_window import RECENT_LIMIT, AskerIndex, Window, advance
from bot.store.incidents import RecentQuestion

START = datetime(2026, 1, 5, 12, tzinfo=UTC)


def _question(answer_id: int, asker: str, late: int = 0) -> RecentQuestion:
    """Question `answer_id`, recorded `late` seconds before its id says (another process's
    row committed out of order)."""
    return RecentQuestion(
        answer_id=answer_id,
        conversation=f"slack:T1:C1:{answer_id}",
        asker_id=asker,
        question="Login fails with error 500",
        neighbours=("docs/login.md#0",),
        scores=(9.0, 1.0),
        at=START + timedelta(seconds=answer_id / 4 - late),  # four questions a second
    )


# each observation: the questions recorded since the last (who asked, how late each row is),
# and how far the window's start moved (seconds); ids only grow, as the store gives them
_observations = st.lists(
    st.tuples(
        st.lists(
            st.tuples(st.sampled_from(("U1", "U2", "U3", "", "U5")), st.sampled_from((0, 0, 0, 40))),
            max_size=260,
        ),
        st.integers(0, 60),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=80, deadline=None)
@given(_observations)
def test_the_window_matches_one_rebuilt_from_scratch(
    observations: list[tuple[list[tuple[str, int]], int]],
) -> None:
    """What the clustering sees is the old rebuild's window exactly, rows out of time order
    included; the askers pre-check never counts fewer people than it has."""
    window = Window()
    rebuilt: list[RecentQuestion] = []
    next_id, since, seen = 1, START, 0
    for batch, moved in observations:
        since += timedelta(seconds=moved)
        recorded = [_question(next_id + n, asker, late) for n, (asker, late) in enumerate(batch)]
        next_id += len(batch)
        # the store's read: `id > seen and created_at >= since`, newest id first, at most the limit
        fresh = sorted((q for q in recorded if q.at >= since), key=lambda q: q.answer_id, reverse=True)[
            :RECENT_LIMIT
        ]
        seen = max([seen, *(q.answer_id for q in fresh)])
        before = set(window.questions)
        dropped = window.update(fresh, since)
        rebuilt = [q for q in [*fresh, *rebuilt] if q.at >= since][:RECENT_LIMIT]
        assert window.current(since) == rebuilt
        assert len(window.questions) <= RECENT_LIMIT
        assert window.askers == len({q.asker_id for q in window.questions if q.asker_id})
        assert window.askers >= len({q.asker_id for q in rebuilt if q.asker_id})
        assert window.seen == seen  # the next read starts after it
        assert set(dropped) == (before | set(fresh)) - set(window.questions)
        assert not set(dropped) & set(rebuilt)  # nothing live is dropped


def test_a_question_committed_out_of_order_never_reaches_the_clustering_once_aged() -> None:
    """Another process's row can arrive behind an older one: it stays until it reaches the
    window's end, but `current` (what the clustering sees) leaves it out once it has aged."""
    window = Window()
    window.update([_question(40, "U1")], START)  # recorded at 10 s
    window.update([_question(44, "U2", late=6)], START)  # recorded at 5 s, read after it
    later = START + timedelta(seconds=8)
    window.update([], later)
    assert [q.answer_id for q in window.current(later)] == [40]


def test_a_full_window_drops_an_aged_row_before_a_live_one() -> None:
    window = Window()
    window.update([_question(n, f"U{n}", late=-200) for n in range(RECENT_LIMIT - 1, 0, -1)], START)
    window.update([_question(RECENT_LIMIT, "U-late", late=RECENT_LIMIT // 4)], START)  # recorded at 0 s
    since = START + timedelta(seconds=100)
    dropped = window.update([_question(RECENT_LIMIT + 1, "U-new", late=-200)], since)
    assert [q.answer_id for q in dropped] == [RECENT_LIMIT]  # the aged one, not the oldest live one
    assert len(window.current(since)) == RECENT_LIMIT


def test_rows_read_again_are_counted_once() -> None:
    """Two reads from the same `seen`, applied in either order: the later one's rows that the
    window holds already are not added, nor their askers counted, twice."""
    first = [_question(2, "U2"), _question(1, "U1")]
    second = [_question(3, "U3"), _question(2, "U2"), _question(1, "U1")]
    for order in ((first, second), (second, first)):
        window = Window()
        for fresh in order:
            window.update(fresh, START)
        assert [q.answer_id for q in window.current(START)] == [3, 2, 1]
        assert window.askers == 3 and window.seen == 3


@settings(max_examples=80, deadline=None)
@given(_observations)
def test_the_asker_index_holds_what_the_window_holds(
    observations: list[tuple[list[tuple[str, int]], int]],
) -> None:
    """The burst watch's step (`advance`): the index takes in and lets go of exactly the rows
    the window does, rows read twice and rows dropped on arrival included."""
    window, index = Window(), AskerIndex()
    next_id, since = 1, START
    for batch, moved in observations:
        since += timedelta(seconds=moved)
        recorded = [_question(next_id + n, asker, late) for n, (asker, late) in enumerate(batch)]
        next_id += len(batch)
        fresh = sorted((q for q in recorded if q.at >= since), key=lambda q: q.answer_id, reverse=True)
        again = list(window.questions)[:3]  # rows read again: the window skips them
        advance(window, index, [*fresh[:RECENT_LIMIT], *again], since)
        assert len(index) == len(window.questions)
