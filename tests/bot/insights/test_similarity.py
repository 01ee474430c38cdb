"""bot/insights/similarity.py: same-question detection and clustering (no eval sets needed)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.insights.similarity import (
    NEIGHBOURS,
    SIMILAR,
    Postings,
    Signature,
    best_match,
    cluster,
    cut,
    may_be_similar,
    merges,
    neighbour_overlap,
    neighbour_weights,
    signature,
    similar,
    similarity,
    term_jaccard,
    word_overlap,
)
from bot.retrieval.knowledge import KnowledgeBase
from bot.types import DocVisibility

INVITE = ("docs/discord.md#0", "docs/discord.md#1", "docs/setup.md#0")
BILLING = ("docs/billing.md#0", "docs/plans.md#0", "docs/billing.md#1")


def test_english_paraphrases_are_similar_and_one_shared_keyword_is_not() -> None:
    a = signature("How do I invite the bot to my Discord server?", INVITE)
    b = signature("Inviting the bot to a Discord server", INVITE)
    c = signature("How do I delete my Discord account?", BILLING)
    assert similar(a, b)
    assert not similar(a, c)
    assert similarity(a, b) > similarity(a, c)


def test_korean_paraphrases_are_similar_and_one_shared_keyword_is_not() -> None:
    a = signature("디스코드 봇 초대는 어떻게 해요?", INVITE)
    b = signature("디스코드에 봇을 초대하려면?", INVITE)
    c = signature("디스코드 서버 요금은 얼마예요?", BILLING)
    assert a.terms & b.terms  # Korean comes through as character bigrams
    assert similar(a, b)
    assert not similar(a, c)


def test_question_words_do_not_make_questions_similar() -> None:
    a = signature("How do I export my data?", ())
    b = signature("How do I reset my password?", ())
    assert "how" not in a.terms
    assert similarity(a, b) == 0.0


def test_rank_weighting_counts_the_best_passage_more() -> None:
    a = Signature(terms=frozenset(), neighbours=("x", "y", "z"))
    top = Signature(terms=frozenset(), neighbours=("x", "p", "q"))
    tail = Signature(terms=frozenset(), neighbours=("p", "q", "z"))
    assert similarity(a, top) > similarity(a, tail) > 0.0


def test_json_round_trip_and_neighbours_capped() -> None:
    ids = [f"c{i}" for i in range(NEIGHBOURS + 3)]
    scores = [20.0 - i for i in range(NEIGHBOURS + 3)]
    for sig in (
        signature("디스코드 봇 초대 and Slack setup", ids),
        signature("디스코드 봇 초대 and Slack setup", ids, scores=scores),
    ):
        assert len(sig.neighbours) == NEIGHBOURS
        back = Signature.from_json(sig.to_json())
        assert back == sig
        assert abs(similarity(back, sig) - 1.0) < 1e-9
        assert hash(back) == hash(sig)
    assert len(sig.weights) == NEIGHBOURS
    assert len(sig.to_json().encode("utf-8")) < 1024
    assert Signature.from_json("") == Signature(terms=frozenset(), neighbours=())


def test_signatures_stored_before_scores_still_load_and_compare() -> None:
    old = Signature.from_json('{"terms": ["bot", "discord", "invit"], "neighbours": ["a#0", "b#0"]}')
    new = signature("Inviting the bot to Discord", ["a#0", "b#0", "c#0"], scores=[9.0, 5.0, 4.0])
    assert old.weights == ()
    assert 0.0 < neighbour_overlap(old, new) <= 1.0
    assert similar(old, new)


def test_neighbour_weights_are_margins_over_the_first_passage_left_out() -> None:
    scores = [12.0, 11.0, 7.0, *([5.0] * (NEIGHBOURS - 3)), 4.0, 1.0]
    weights = neighbour_weights(scores)
    assert len(weights) == NEIGHBOURS
    assert abs(sum(weights) - 1.0) < 0.01
    assert weights[0] > weights[1] > weights[2] > weights[3] > 0.0
    assert abs(weights[0] / weights[1] - 8.0 / 7.0) < 0.01  # margins 8 and 7 over the floor 4
    assert neighbour_weights([3.0, 1.0]) == (0.75, 0.25)  # nothing left out: the floor is 0
    assert neighbour_weights([2.0] * (NEIGHBOURS + 1)) == tuple([round(1 / NEIGHBOURS, 3)] * NEIGHBOURS)
    assert neighbour_weights([]) == ()


def test_scores_count_near_ties_that_ranks_would_split() -> None:
    # a's best two passages are near-tied; b found the second of them first, c another one
    a = signature("x", ["p", "q", "r"], scores=[10.0, 9.9, 1.0])
    b = signature("y", ["q", "s", "t"], scores=[10.0, 2.0, 1.0])
    c = signature("z", ["r", "s", "t"], scores=[10.0, 2.0, 1.0])
    assert neighbour_overlap(a, b) > 0.6 > neighbour_overlap(a, c)
    # by ranks alone, a weighs q half as much as p
    ranks = signature("x", ["p", "q", "r"]), signature("y", ["q", "s", "t"])
    assert neighbour_overlap(a, b) > neighbour_overlap(*ranks)


def test_best_match_picks_the_most_similar_above_threshold() -> None:
    new = signature("Inviting the bot to Discord", INVITE)
    candidates = [
        signature("How do I cancel my plan?", BILLING),
        signature("How do I invite the bot to my Discord server?", INVITE[:2]),
        signature("How do I invite the bot to Discord?", INVITE),
    ]
    assert best_match(new, candidates) == 2
    assert best_match(new, candidates[:1]) is None
    assert best_match(new, []) is None
    assert best_match(new, candidates, threshold=1.01) is None


def _questions() -> list[Signature]:
    return [
        signature("How do I cancel my plan?", BILLING),
        signature("How do I invite the bot to my Discord server?", INVITE),
        signature("Where do I see my invoices?", (*BILLING[1:], "docs/invoices.md#0")),
        signature("Inviting the bot to a Discord server", INVITE),
        signature("Cancelling my plan", BILLING),
        signature("Add the bot to Discord", INVITE),
        signature("Why is the sky blue?", ()),
    ]


def test_cluster_groups_paraphrases_largest_first_and_is_deterministic() -> None:
    sigs = _questions()
    groups = cluster(sigs)
    assert sorted(groups[0]) == [1, 3, 5]
    assert sorted(groups[1]) == [0, 4]
    assert sorted(i for g in groups for i in g) == list(range(len(sigs)))
    assert [len(g) for g in groups] == sorted((len(g) for g in groups), reverse=True)
    assert cluster(sigs) == groups
    assert cluster(list(sigs)) == cluster([Signature.from_json(s.to_json()) for s in sigs])
    assert cluster([]) == []


def test_complete_linkage_does_not_merge_a_chain() -> None:
    # A~B and B~C, but A and C share nothing: a chain, not one question
    a = Signature(terms=frozenset("ab"), neighbours=("1", "2"))
    b = Signature(terms=frozenset("abcd"), neighbours=("1", "2", "3", "4"))
    c = Signature(terms=frozenset("cd"), neighbours=("3", "4"))
    threshold = min(similarity(a, b), similarity(b, c))
    assert similarity(a, c) == 0.0
    assert all(len(g) < 3 for g in cluster([a, b, c], threshold))


def test_retrieval_neighbours_make_paraphrases_with_few_shared_words_similar(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "refunds.md").write_text(
        "# Refunds\n\nMoney back: a refund goes to the original payment method within 5 days.\n",
        encoding="utf-8",
    )
    (folder / "password.md").write_text(
        "# Password\n\nTo reset a forgotten password, use the sign-in page link.\n", encoding="utf-8"
    )
    (folder / "export.md").write_text(
        "# Export\n\nExport your data as CSV from the settings page.\n", encoding="utf-8"
    )
    kb = KnowledgeBase(folder, tmp_path / "data")
    try:
        kb.sync()

        def sig(question: str) -> Signature:
            result = kb.search(question, DocVisibility.INTERNAL, NEIGHBOURS + 1)
            return signature(
                question,
                [p.chunk_id for p in result.passages[:NEIGHBOURS]],
                scores=[p.score for p in result.passages[: NEIGHBOURS + 1]],
            )

        a, b = sig("Can I get a refund?"), sig("I want my money back")
        other = sig("How do I reset my password?")
    finally:
        kb.close()
    words_only = Signature(terms=a.terms, neighbours=()), Signature(terms=b.terms, neighbours=())
    assert not similar(*words_only)  # the words alone do not say it
    assert similar(a, b)
    assert not similar(a, other)
    assert SIMILAR > 0


def test_the_same_passages_alone_make_two_questions_similar_at_the_shipped_threshold() -> None:
    # the bench fits the threshold only where the neighbourhood alone can reach it: a paraphrase
    # sharing no word with the other (no term, no n-gram) is what the neighbourhood is there for
    a = signature("refund", INVITE, scores=[9.0, 5.0, 4.0])
    b = signature("money back", INVITE, scores=[9.0, 5.0, 4.0])
    assert word_overlap(a, b) == 0.0
    assert neighbour_overlap(a, b) > 0.999
    assert similar(a, b)
    assert not similar(a, signature("money back", BILLING, scores=[9.0, 5.0, 4.0]))


def test_words_count_in_part_through_typos_and_inflections() -> None:
    a = signature("Undo archiving a gmail message", ())
    b = signature("I archived a gmial mesage by mistake", ())  # typos, another inflection
    c = signature("Change the default font size", ())
    assert term_jaccard(a, b) < word_overlap(a, b)  # whole terms barely meet; n-grams do
    assert word_overlap(a, b) > 0.3 > word_overlap(a, c)
    assert word_overlap(a, a) == 1.0


def test_korean_spacing_and_particles_share_n_grams() -> None:
    a = signature("비밀번호 재설정이 안 돼요", ())
    b = signature("비밀번호를 재설정 하고 싶어요", ())
    c = signature("환불은 며칠 걸려요?", ())
    assert word_overlap(a, b) > word_overlap(a, c)
    assert word_overlap(a, c) == 0.0


def test_every_pair_inside_a_cluster_is_similar() -> None:
    sigs = [
        *_questions(),
        signature("Inviting a bot to a server", (INVITE[0], "docs/servers.md#0")),
        signature("Which plan includes invoices?", (BILLING[1], "docs/invoices.md#0")),
    ]
    for threshold in (0.3, 0.4, SIMILAR, 0.7):
        for group in cluster(sigs, threshold):
            assert all(similarity(sigs[i], sigs[j]) >= threshold for i in group for j in group if i < j)


def test_cutting_the_merges_at_a_threshold_is_clustering_at_it() -> None:
    sigs = _questions()
    done = merges(sigs, 0.2)
    assert [score for score, _, _ in done] == sorted((score for score, _, _ in done), reverse=True)
    for threshold in (0.2, 0.35, SIMILAR, 0.8):
        want = sorted(sorted(g) for g in cluster(sigs, threshold))
        assert sorted(cut(len(sigs), done, threshold)) == want


def test_may_be_similar_never_skips_a_similar_pair() -> None:
    sigs = [*_questions(), signature("gmial archving", ()), signature("gmail archiving", ())]
    for a in sigs:
        for b in sigs:
            if similarity(a, b) > 0.0:
                assert may_be_similar(a, b)
    assert not may_be_similar(sigs[0], sigs[6])  # nothing shared: skipped
    assert may_be_similar(sigs[-2], sigs[-1])  # no passages and no common term: their n-grams


_WORDS = ("archive", "archiving", "gmail", "refund", "invoice", "discord", "invite", "password", "reset")
_PASSAGES = tuple(f"docs/{n}.md#{i}" for n in ("mail", "billing", "discord") for i in range(4))


@st.composite
def _signatures(draw: st.DrawFn) -> Signature:
    words = draw(st.lists(st.sampled_from(_WORDS), max_size=4))
    passages = draw(st.lists(st.sampled_from(_PASSAGES), max_size=NEIGHBOURS))
    scores = draw(st.lists(st.floats(0.0, 30.0), min_size=len(passages) + 1, max_size=len(passages) + 1))
    return signature(" ".join(words), passages, scores=sorted(scores, reverse=True))


@settings(max_examples=300, deadline=None)
@given(_signatures(), st.lists(_signatures(), max_size=6), st.sampled_from((0.0, 0.3, SIMILAR, 0.8, 1.0)))
def test_the_shortcut_past_distant_neighbourhoods_decides_as_the_full_measure(
    a: Signature, others: list[Signature], threshold: float
) -> None:
    """similar() and best_match() skip the n-grams when the neighbourhoods alone cannot reach
    the threshold: they must decide exactly as the full similarity would."""
    for b in others:
        assert similar(a, b, threshold) == (similarity(a, b) >= threshold)
    scores = [similarity(a, b) for b in others]
    eligible = [i for i, s in enumerate(scores) if s >= threshold]
    want = min(eligible, key=lambda i: (-scores[i], i)) if eligible else None
    assert best_match(a, others, threshold) == want


@settings(max_examples=300, deadline=None)
@given(_signatures(), st.lists(_signatures(), max_size=12))
@example(signature("invoice", ()), [signature("invite", ()), signature("invoice", ("docs/mail.md#0",))])
def test_postings_find_every_signature_that_may_be_similar_and_keep_the_best_match(
    a: Signature, others: list[Signature]
) -> None:
    """Postings.near narrows a comparison to the signatures sharing a term, a passage or (both
    without passages) an n-gram: none it leaves out could be similar, and the best match among
    those it keeps is the best match among all (the same one on ties: order is kept)."""
    near = Postings(others).near(a)
    assert near == sorted(near)
    assert {i for i, b in enumerate(others) if may_be_similar(a, b)} <= set(near)
    assert all(similarity(a, b) == 0.0 for i, b in enumerate(others) if i not in near)
    match = best_match(a, [others[i] for i in near], threshold=1e-9)
    assert (near[match] if match is not None else None) == best_match(a, others, threshold=1e-9)
