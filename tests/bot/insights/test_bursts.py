"""Bursts and known-issue notices through the core: a console Channel, a real store, a fake clock."""

from __future__ import annotations

import contextlib
import gc
import io
import itertools
import weakref
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.console import ConsoleChannel
from bot import faults
from bot.app import Runtime
from bot.insights.burst_window import AskerIndex
from bot.insights.bursts import CENTRAL_SAMPLE, alert, cluster_of, one_of, signature_of, signatures_from_json
from bot.insights.similarity import Signature, signature, similar, similarity
from bot.store.incidents import BurstRecord, IncidentStatus, RecentQuestion
from bot.store.jobs import POST_LEASE, POST_RETRY
from bot.types import (
    ActionEvent,
    ActionKind,
    Author,
    Command,
    ConversationRef,
    InboundMessage,
    Outcome,
    Posted,
    Reply,
    ReplyKind,
    Visibility,
)
from tests.fakes.clock import FakeClock

TOML = """
[slack]
staff_users = ["U-STAFF"]
triage_channel = "C-TRIAGE"
[insights]
burst_window_minutes = 30
burst_min_askers = 5
burst_cooldown_minutes = 120
"""

PARAPHRASES = [
    "How do I reset my password?",
    "I forgot my password, how can I reset it?",
    "how to reset password",
    "Where do I reset my password?",
    "Can I reset my password somehow?",
    "password reset, how?",
    "I need to reset my password, what do I do?",
]
UNRELATED = [
    "How long does a refund take to arrive?",
    "How do I connect Slack?",
    "Which tokens does the Slack bot need?",
    "Are annual plans refunded?",
    "What is the on-call runbook?",
    "How do I create the Slack app?",
]
STAFF = Author(id="U-STAFF", name="Sam")
_ids = itertools.count(1)


def ask(text: str, user: str, channel: str = "C-GENERAL", workspace: str = "T1") -> InboundMessage:
    return InboundMessage(
        id=f"b{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace=workspace, channel=channel),
        author=Author(id=user, name=user),
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=FakeClock().now(),
    )


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(TOML)


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


def alerts(channel: ConsoleChannel) -> list[Reply]:
    return [
        r
        for _, r in channel.posted
        if r.conversation.channel == "C-TRIAGE"
        and r.buttons
        and r.buttons[0].action == ActionKind.OPEN_INCIDENT
    ]


async def test_six_paraphrases_from_five_people_raise_one_alert_and_a_seventh_none(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    users = ["U1", "U2", "U3", "U4", "U5", "U1"]
    for n, (text, user) in enumerate(zip(PARAPHRASES[:6], users, strict=True)):
        await rt.bot.on_message(ask(text, user, channel=f"C-{n % 2}"), channel)
        clock.advance(minutes=2)
    [alert] = alerts(channel)
    assert "5 people asked about the same thing in the last 30 minutes" in alert.text
    assert "reset" in alert.text.lower()
    assert [c.channel for c in alert.channels] == ["C-0", "C-1"]  # each adapter links them its way
    assert len(alert.links) == 5 and alert.refers_to == alert.links[0]  # newest thread first
    await rt.bot.on_message(ask(PARAPHRASES[6], "U6"), channel)
    assert len(alerts(channel)) == 1  # the cooldown holds: the same cluster is not announced twice


def test_a_multi_line_question_stays_inside_the_alerts_quote() -> None:
    # a line break would end the "> " quote: the rest would read as the bot's own words
    asked = "Is login broken?\n\n**False alarm: the on-call checked, ignore these questions.**"
    burst = BurstRecord(
        id=1,
        platform="slack",
        representative=asked,
        signatures="[]",
        askers=5,
        channels=("C1",),
        threads=("slack:T1:C1:t1",),
        alerted_at=datetime(2026, 11, 30, tzinfo=UTC),
        workspace="T1",
    )
    text = alert(burst, ConversationRef(platform="slack", workspace="T1", channel="C-TRIAGE"), 10).text
    # ...and its bold is shown as typed (escaped), not made the bot's emphasis
    assert (
        text.splitlines()[1]
        == r"> Is login broken? \*\*False alarm: the on-call checked, ignore these questions.\*\*"
    )
    assert text.count("False alarm") == 1


async def test_one_person_asking_many_times_is_not_a_burst(rt: Runtime, channel: ConsoleChannel) -> None:
    for text in PARAPHRASES[:6]:
        await rt.bot.on_message(ask(text, "U-SAME"), channel)
    assert alerts(channel) == []


async def test_five_people_asking_different_things_is_not_a_burst(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    for n, text in enumerate(UNRELATED):
        await rt.bot.on_message(ask(text, f"U{n}"), channel)
    assert alerts(channel) == []


async def test_questions_outside_the_window_do_not_count(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    for n, text in enumerate(PARAPHRASES[:5]):
        await rt.bot.on_message(ask(text, f"U{n}"), channel)
        clock.advance(minutes=10)  # 5 askers, but never 5 within 30 minutes
    assert alerts(channel) == []


async def test_after_the_cooldown_the_same_cluster_alerts_again(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    for n, text in enumerate(PARAPHRASES[:5]):
        await rt.bot.on_message(ask(text, f"U{n}"), channel)
    clock.advance(minutes=121)
    for n, text in enumerate(PARAPHRASES[:5]):
        await rt.bot.on_message(ask(text, f"V{n}"), channel)
    assert len(alerts(channel)) == 2


async def _burst_then_incident(rt: Runtime, channel: ConsoleChannel) -> tuple[Reply, int]:
    for n, text in enumerate(PARAPHRASES[:5]):
        await rt.bot.on_message(ask(text, f"U{n}"), channel)
    [alert] = alerts(channel)
    press = ActionEvent(
        id="press-1",
        action=ActionKind.OPEN_INCIDENT,
        value=alert.buttons[0].value,
        actor=STAFF,
        conversation=alert.conversation,
        visibility=Visibility.INTERNAL,
    )
    assert await rt.bot.on_action(press, channel) == Outcome.RECORDED
    [incident] = rt.state.incidents("slack", IncidentStatus.OPEN)
    return alert, incident.id


async def test_open_incident_from_the_alert_puts_a_notice_on_similar_answers_only(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    alert, incident_id = await _burst_then_incident(rt, channel)
    before = len(channel.posted)
    await rt.bot.on_message(ask(PARAPHRASES[5], "U9"), channel)
    await rt.bot.on_message(ask("How long does a refund take to arrive?", "U9"), channel)
    [similar, other] = [
        r
        for _, r in channel.posted[before:]
        if r.kind in (ReplyKind.ANSWER, ReplyKind.ABSTAIN, ReplyKind.ESCALATION)
    ][:2]
    assert similar.text.startswith("**Known issue:** the team knows about this problem")
    assert "Known issue" not in other.text
    # a second press on the same alert opens nothing new
    again = ActionEvent(
        id="press-2",
        action=ActionKind.OPEN_INCIDENT,
        value=alert.buttons[0].value,
        actor=STAFF,
        conversation=alert.conversation,
        visibility=Visibility.INTERNAL,
    )
    assert await rt.bot.on_action(again, channel) == Outcome.DUPLICATE
    assert [i.id for i in rt.state.incidents("slack")] == [incident_id]


async def test_only_staff_can_open_an_incident(rt: Runtime, channel: ConsoleChannel) -> None:
    for n, text in enumerate(PARAPHRASES[:5]):
        await rt.bot.on_message(ask(text, f"U{n}"), channel)
    [alert] = alerts(channel)
    press = ActionEvent(
        id="press-x",
        action=ActionKind.OPEN_INCIDENT,
        value=alert.buttons[0].value,
        actor=Author(id="U1", name="U1"),
        conversation=alert.conversation,
        visibility=Visibility.INTERNAL,
    )
    assert await rt.bot.on_action(press, channel) == Outcome.REFUSED
    assert rt.state.incidents("slack") == []


def command(text: str, who: Author = STAFF) -> Command:
    name, _, args = text.partition(" ")
    return Command(
        id=f"c{next(_ids)}",
        name=name,
        args=args,
        invoker=who,
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C-TRIAGE"),
        visibility=Visibility.INTERNAL,
    )


async def test_closing_an_incident_replies_once_in_every_thread_that_saw_the_notice(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    await rt.bot.on_command(command("incident open Password resets are failing; we are on it"), channel)
    [incident] = rt.state.incidents("slack", IncidentStatus.OPEN)
    threads = []
    for n, text in enumerate(PARAPHRASES[:3]):
        await rt.bot.on_message(ask(text, f"U{n}"), channel)
        reply = channel.posted[-1][1]
        assert reply.text.startswith("**Known issue:** Password resets are failing")
        threads.append(reply.conversation)
    await rt.bot.on_message(ask(PARAPHRASES[0], "U1"), channel)  # same asker, new thread: told too
    threads.append(channel.posted[-1][1].conversation)
    before = len(channel.posted)
    await rt.bot.on_command(command(f"incident close #{incident.id} Fixed at 11:05."), channel)
    closing = [r for _, r in channel.posted[before:] if r.text.startswith("**Update on the known issue:**")]
    assert sorted(r.conversation.key for r in closing) == sorted(t.key for t in threads)
    assert all("Fixed at 11:05." in r.text for r in closing)
    summary = channel.posted[-1][1]
    assert "closed; 4 thread(s)" in summary.text
    # closing again tells nobody twice, and answers no longer carry the notice
    await rt.bot.on_command(command(f"incident close #{incident.id} again"), channel)
    assert "already closed" in channel.posted[-1][1].text
    assert len([r for _, r in channel.posted if r.text.startswith("**Update on the known issue:**")]) == 4
    await rt.bot.on_message(ask(PARAPHRASES[1], "U7"), channel)
    assert "Known issue" not in channel.posted[-1][1].text


async def test_incident_commands_are_staff_only_and_list_what_is_open(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    assert (
        await rt.bot.on_command(command("incident open broken", Author(id="U1", name="U1")), channel)
        == Outcome.REFUSED
    )
    await rt.bot.on_command(command("incident open Logins fail since 10:00"), channel)
    await rt.bot.on_command(command("incident list"), channel)
    listing = channel.posted[-1][1].text
    assert "#1 [open for" in listing and "Logins fail since 10:00" in listing
    await rt.bot.on_command(command("incident close"), channel)  # the only open one
    await rt.bot.on_command(command("incident list"), channel)
    assert "#1 [closed" in channel.posted[-1][1].text


async def test_a_burst_never_gathers_two_workspaces_questions(rt: Runtime, channel: ConsoleChannel) -> None:
    # five people, the same question, but three in one workspace and two in another: with
    # several workspaces installed, neither may see the other's questions in an alert
    for n, text in enumerate(PARAPHRASES[:5]):
        await rt.bot.on_message(ask(text, f"U{n}", workspace="T1" if n < 3 else "T2"), channel)
    assert alerts(channel) == []
    for n, text in enumerate(PARAPHRASES[3:5], start=3):  # two more in T1: five there now
        await rt.bot.on_message(ask(text, f"U{n}", workspace="T1"), channel)
    [alert] = alerts(channel)
    assert alert.conversation.workspace == "T1"
    assert all(link.workspace == "T1" for link in alert.links)


class RefusesAnAlert(ConsoleChannel):
    """The next burst alert never reaches the triage channel: its worker is killed while it is
    in flight (Crash), or the platform refuses it (an ordinary error)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(io.StringIO())
        self.error: BaseException | None = error

    async def send(self, reply: Reply) -> Posted:
        if self.error is not None and reply.conversation.channel == "C-TRIAGE":
            error, self.error = self.error, None
            raise error
        return await super().send(reply)


@pytest.mark.parametrize("died", [True, False], ids=["worker-died", "post-failed"])
async def test_a_burst_alert_not_posted_is_posted_once_by_a_later_tick(
    make_runtime: Callable[..., Runtime], clock: FakeClock, died: bool
) -> None:
    channel = RefusesAnAlert(
        faults.Crash("killed posting the alert") if died else RuntimeError("ratelimited")
    )
    rt = make_runtime(TOML)
    for n, text in enumerate(PARAPHRASES[:4]):
        await rt.bot.on_message(ask(text, f"U{n}"), channel)
    with pytest.raises(faults.Crash) if died else contextlib.nullcontext():
        await rt.bot.on_message(ask(PARAPHRASES[4], "U4"), channel)
    ticking = make_runtime(TOML) if died else rt  # another worker, or the one whose post failed
    await ticking.bot.on_message(ask(PARAPHRASES[5], "U5"), channel)  # the burst is recorded already
    await ticking.bot.tick({"slack": channel})
    await ticking.bot.settle()
    assert alerts(channel) == []  # within the lease the first post may still be in flight
    clock.advance(seconds=POST_LEASE.total_seconds() + 1)
    await ticking.bot.tick({"slack": channel})
    await ticking.bot.tick({"slack": channel})
    [alert] = alerts(channel)
    assert "people asked about the same thing" in alert.text
    [burst] = ticking.state.bursts_since("slack", clock.now() - timedelta(hours=1))
    assert alert.buttons[0].value == str(burst.id)
    # claimed on the burst's row: nothing is kept for it elsewhere once posted
    assert {key for (key,) in ticking.state.db.execute("select key from job_runs")} <= {"retention"}  # hourly


async def test_a_refused_alert_is_tried_again_a_minute_later_whatever_the_cooldown(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """The platform refused the alert (a rate limit past the client's retries): the clock tries
    again a minute later, not at the end of the post's ten-minute lease, and a cooldown shorter
    than that does not drop it (before, a 5-minute cooldown lost the alert for good)."""
    channel = RefusesAnAlert(RuntimeError("ratelimited"))
    rt = make_runtime(TOML.replace("burst_cooldown_minutes = 120", "burst_cooldown_minutes = 5"))
    assert rt.settings.insights.burst_cooldown_minutes == 5
    for n, text in enumerate(PARAPHRASES[:5]):
        await rt.bot.on_message(ask(text, f"U{n}"), channel)
    assert alerts(channel) == []
    clock.advance(seconds=POST_RETRY.total_seconds() - 1)
    await rt.bot.tick({"slack": channel})
    assert alerts(channel) == []  # not before the retry's minute
    clock.advance(seconds=2)
    await rt.bot.tick({"slack": channel})
    assert len(alerts(channel)) == 1


async def test_an_incident_puts_its_notice_only_on_its_own_workspace_s_answers(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    await _burst_then_incident(rt, channel)  # in T1
    before = len(channel.posted)
    await rt.bot.on_message(ask(PARAPHRASES[5], "U9", workspace="T2"), channel)
    await rt.bot.on_message(ask(PARAPHRASES[6], "U9", workspace="T1"), channel)
    answers = {
        r.conversation.workspace: r.text
        for _, r in channel.posted[before:]
        if r.kind in (ReplyKind.ANSWER, ReplyKind.ABSTAIN, ReplyKind.ESCALATION)
    }
    assert "Known issue" not in answers["T2"]
    assert answers["T1"].startswith("**Known issue:**")


def _recent(
    n: int, asker: Callable[[int], str], text: str, neighbours: tuple[str, ...], first_id: int = 100
) -> list[RecentQuestion]:
    at = datetime(2026, 1, 5, 12, tzinfo=UTC)
    return [
        RecentQuestion(
            answer_id=first_id - i,  # newest first, as the window keeps them
            conversation=f"slack:T1:C1:{i}",
            asker_id=asker(i),
            question=text,
            neighbours=neighbours,
            scores=(9.0, 5.0, 1.0),
            at=at - timedelta(minutes=i),
        )
        for i in range(n)
    ]


def test_a_window_asking_in_the_same_words_keeps_one_signature_for_them() -> None:
    """Equal signatures are one object in the cache (`one_of`): the clustering compares each
    distinct one once, by identity, not each of the window's rows."""
    passages = ("docs/login.md#0", "docs/sso.md#1")
    same = _recent(6, lambda i: f"U{i}", "Login fails with error 500", passages)
    other = _recent(3, lambda i: f"U-other{i}", "How are invoices numbered?", ("docs/billing.md#0",), 50)
    cache: dict[int, Signature] = {}
    cluster = cluster_of(same[0], [*same, *other], cache, min_askers=5)
    assert cluster is not None and len(cluster.members) == 6
    assert len({id(cache[q.answer_id]) for q in same}) == 1
    assert len({id(cache[q.answer_id]) for q in other}) == 1
    assert cache[same[0].answer_id] is not cache[other[0].answer_id]


def test_equal_signatures_are_one_object_and_none_outlives_its_last_holder() -> None:
    """`one_of` is an intern table, not a store: a signature no window, cache or burst holds
    any more is freed, however many were seen (a busy bot sees one per distinct question)."""
    first = one_of(signature("Where is the unsubscribe link?", ("docs/mail.md#0",), scores=(3.0, 1.0)))
    again = one_of(signature("Where is the unsubscribe link?", ("docs/mail.md#0",), scores=(3.0, 1.0)))
    assert again is first
    held = weakref.ref(first)
    del first, again
    gc.collect()
    assert held() is None


def test_a_cluster_of_too_few_askers_is_dropped_before_its_centre_is_sought() -> None:
    passages = ("docs/login.md#0", "docs/sso.md#1")
    unrelated = _recent(3, lambda i: f"U-other{i}", "How are invoices numbered?", ("docs/billing.md#0",), 50)
    one_person = _recent(6, lambda i: "U1", "Login fails with error 500", passages)
    assert cluster_of(one_person[0], [*one_person, *unrelated], {}, min_askers=5) is None
    many = _recent(6, lambda i: f"U{i % 5}", "Login fails with error 500", passages)
    cluster = cluster_of(many[0], [*many, *unrelated], {}, min_askers=5)
    assert cluster is not None and cluster.askers == 5 and len(cluster.members) == 6
    assert {m.question for m in cluster.members} == {"Login fails with error 500"}


class _Watching(ConsoleChannel):
    """Notes, when the burst alert is posted, whether the answer just given is recorded yet."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(io.StringIO())
        self.rt = rt
        self.recorded_at_alert: list[bool] = []

    async def send(self, reply: Reply) -> Posted:
        if reply.conversation.channel == "C-TRIAGE" and reply.buttons:
            answers = [r for _, r in self.posted if r.buttons and r.buttons[0].action == ActionKind.HELPFUL]
            last = answers[-1].conversation
            self.recorded_at_alert.append(any(t.role == "bot" for t in self.rt.state.history(last)))
        return await super().send(reply)


async def test_the_burst_watch_runs_once_the_answer_is_recorded(rt: Runtime, clock: FakeClock) -> None:
    """The watch (which waits on other answers' and may post an alert) runs after the event's
    finish: until the answer is recorded, a follow-up in its thread would be ignored."""
    channel = _Watching(rt)
    for n, user in enumerate(["U1", "U2", "U3", "U4", "U5"]):
        await rt.bot.on_message(ask(PARAPHRASES[n], user), channel)
        clock.advance(minutes=2)
    assert channel.recorded_at_alert == [True]


_TEXTS = (
    "Login fails with error 500",
    "login error 500 again",
    "How are invoices numbered?",
    "reset password",
)
_PASSAGES = ("docs/login.md#0", "docs/sso.md#1", "docs/billing.md#0", "docs/account.md#2")


@st.composite
def _windows(draw: st.DrawFn) -> list[RecentQuestion]:
    n = draw(st.integers(1, 14))
    at = datetime(2026, 1, 5, 12, tzinfo=UTC)
    return [
        RecentQuestion(
            answer_id=100 - i,
            conversation=f"slack:T1:C1:{i}",
            asker_id=draw(st.sampled_from(("U1", "U2", "U3", "U4", "U5", "U6"))),
            question=draw(st.sampled_from(_TEXTS)),
            neighbours=tuple(draw(st.lists(st.sampled_from(_PASSAGES), min_size=1, max_size=3, unique=True))),
            scores=(9.0, 5.0, 3.0, 1.0),
            at=at - timedelta(minutes=i),
        )
        for i in range(n)
    ]


@settings(max_examples=150, deadline=None)
@given(_windows(), st.integers(1, 6))
def test_a_cluster_is_the_similar_questions_whoever_asked_first(
    window: list[RecentQuestion], least: int
) -> None:
    """cluster_of counts people before it gathers members: the same cluster, or None, as the
    plain definition (every similar question, then its askers)."""
    newest = window[0]
    sigs = {q.answer_id: signature(q.question, q.neighbours, scores=q.scores) for q in window}
    plain = [q for q in window if q is newest or similar(sigs[newest.answer_id], sigs[q.answer_id])]
    found = cluster_of(newest, window, {}, min_askers=least)
    if len({q.asker_id for q in plain}) < least:
        assert found is None
    else:
        assert found is not None and sorted(m.answer_id for m in found.members) == sorted(
            q.answer_id for q in plain
        )
        # most central first (within the newest CENTRAL_SAMPLE), ties the earliest: equal
        # questions are compared once, and still rank as the plain definition ranks them
        sample = [sigs[q.answer_id] for q in plain[:CENTRAL_SAMPLE]]
        centre = {q.answer_id: sum(similarity(sigs[q.answer_id], s) for s in sample) for q in plain}
        ranked = sorted(plain, key=lambda q: (-centre[q.answer_id], q.at))
        assert [m.answer_id for m in found.members] == [q.answer_id for q in ranked]


@st.composite
def _repeating_windows(draw: st.DrawFn) -> list[RecentQuestion]:
    """Windows where the same question comes back in the same words from several people (one
    signature, many askers), as in a burst, beside others that share a word or a passage."""
    n = draw(st.integers(1, 24))
    at = datetime(2026, 1, 5, 12, tzinfo=UTC)
    places = (("docs/login.md#0",), ("docs/login.md#0", "docs/sso.md#1"), ("docs/billing.md#0",), ())
    return [
        RecentQuestion(
            answer_id=200 - i,
            conversation=f"slack:T1:C1:{i}",
            asker_id=draw(st.sampled_from(("U1", "U2", "U3", "U4", "U5", "U6", ""))),
            question=draw(st.sampled_from(_TEXTS)),
            neighbours=draw(st.sampled_from(places)),
            scores=(9.0, 5.0, 3.0),
            at=at - timedelta(minutes=i),
        )
        for i in range(n)
    ]


@settings(max_examples=300, deadline=None)
@given(st.one_of(_windows(), _repeating_windows()), _windows(), st.integers(1, 6), st.integers(0, 14))
def test_the_asker_index_never_changes_a_cluster(
    window: list[RecentQuestion], before: list[RecentQuestion], least: int, aged: int
) -> None:
    """With the window's asker index, cluster_of gives what it gives without: the index only
    says no where the count over the window's current questions says no. The index held other
    rows before (dropped by the sync) and holds rows that have aged out of `recent` too."""
    cache: dict[int, Signature] = {}
    index = AskerIndex()
    earlier = [replace(q, answer_id=q.answer_id - 100) for q in before]  # rows since gone
    half = len(earlier) // 2
    index.add([*window[: len(window) // 2], *earlier[:half]])
    index.may_reach(signature("reset password", ()), "U1", 99, partial(signature_of, cache=cache))
    index.add([*window[len(window) // 2 :], *earlier[half:]])
    index.drop(earlier)  # half analysed by the look above, half never
    assert len(index) == len(window)  # what was dropped is gone, whether analysed or not
    recent = window[: max(1, len(window) - aged)]  # the rest aged: still in the index
    plain = cluster_of(recent[0], recent, {}, min_askers=least)
    indexed = cluster_of(recent[0], recent, cache, min_askers=least, index=index)
    assert indexed == plain


async def test_a_burst_of_one_question_in_the_same_words_keeps_its_signature_once(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    """A burst's signatures are read back for every claim while it cools down: repeats of one
    question are kept once, and they still hold back a second alert."""
    for user in ["U1", "U2", "U3", "U4", "U5"]:
        await rt.bot.on_message(ask(PARAPHRASES[0], user), channel)
        clock.advance(minutes=1)
    assert len(alerts(channel)) == 1
    [burst] = rt.state.bursts_since("slack", clock.now() - timedelta(hours=1), "T1")
    assert len(signatures_from_json(burst.signatures)) == 1
    for user in ["U6", "U7", "U8", "U9", "U10"]:
        await rt.bot.on_message(ask(PARAPHRASES[0], user), channel)
    assert len(alerts(channel)) == 1


@pytest.mark.parametrize("elsewhere", [False, True], ids=["same-worker", "another-worker"])
async def test_a_forgotten_askers_question_is_not_quoted_in_a_later_burst_alert(
    make_runtime: Callable[..., Runtime], channel: ConsoleChannel, clock: FakeClock, elsewhere: bool
) -> None:
    """Someone asks, then runs forget-me (their question is blanked in the store); minutes later
    others ask the same. The watch kept the window's questions in memory, so the triage alert
    quoted the forgotten person's own words, the burst record saved them again and their
    thread was linked. Forget-me in another worker is the case a window cannot see coming."""
    rt = make_runtime(TOML)
    secret = PARAPHRASES[3]  # only the forgotten person wrote these words
    await rt.bot.on_message(ask(secret, "U-GONE-1234"), channel)
    [forgotten_thread] = {r["conversation"] for r in rt.state.db["answers"].rows}
    forgetting = make_runtime(TOML) if elsewhere else rt
    await forgetting.bot.on_command(command("forget-me", Author(id="U-GONE-1234", name="gone")), channel)
    [confirm] = [b for b in channel.posted[-1][1].buttons if b.action == ActionKind.FORGET_ME_CONFIRM]
    pressed = ActionEvent(
        id="press-forget",
        conversation=channel.posted[-1][1].conversation,
        actor=Author(id="U-GONE-1234", name="gone"),
        action=ActionKind.FORGET_ME_CONFIRM,
        value=confirm.value,
        visibility=Visibility.INTERNAL,
    )
    await forgetting.bot.on_action(pressed, channel)
    assert [r["question"] for r in rt.state.db["answers"].rows] == [""]
    clock.advance(minutes=1)
    for n, text in enumerate([PARAPHRASES[i] for i in (0, 1, 2, 4, 5)]):
        await rt.bot.on_message(ask(text, f"U{n}"), channel)
    [alert] = alerts(channel)  # five people still asking, the forgotten one not among them
    assert secret not in alert.text and "5 people asked" in alert.text
    assert forgotten_thread not in {ref.key for ref in alert.links}
    [burst] = rt.state.bursts_since("slack", clock.now() - timedelta(hours=1))
    assert secret != burst.representative and forgotten_thread not in burst.threads
