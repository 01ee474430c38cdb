"""A Slack read-back is owed until one ends having read everything (adapters/slack/missed.py,
adapters/slack/heard.py): one cut short by a shutdown is read again at the next start; a
question left unacknowledged for Slack to redeliver is read back though later marks passed
it; a state that cannot give the marks at start costs a wider read, not the outage; one
workspace whose install cannot be read stops none of the others.

The real slack-bolt and slack_sdk against the fake Slack (Socket Mode), the real core and
store; faults through bot/faults.py points and the fake's scripting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import pytest

from adapters.inflight import InFlight
from adapters.slack.heard import TEAMS, Heard, HeldIn
from adapters.slack.read_backs import ReadBacks
from bot import faults
from bot.app import Runtime
from tests.adapters.test_discord_shards import until
from tests.adapters.test_slack import MEMBER, STAFF, TOML, deliver, fake, posts, running  # noqa: F401  (fixture)
from tests.adapters.test_slack_missed import _asked_before, _process
from tests.adapters.test_slack_retries import DOWN
from tests.fakes.slack_server import ApiCall, FakeSlack, _Ctx

pytestmark = pytest.mark.timeout(60)


def _answered(server: FakeSlack, channel: str, ts: str) -> bool:
    return any(c.params.get("thread_ts") == ts for c in posts(server, channel))


def _quick_read_backs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A running worker's first read-back of what a hold owes 0.1 s after it (not once Slack's
    retries are spent), its state step tried once (not again after pauses)."""
    import adapters.slack.missed as missed
    import adapters.slack.read_backs as read_backs

    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.1)
    monkeypatch.setattr(missed, "MARK_READ_PAUSES", ())


def _lines_saying(text: str, caplog: pytest.LogCaptureFixture) -> Callable[[], int]:
    """How many lines logged so far say `text`, each time it is called."""
    return lambda: sum(text in r.getMessage() for r in caplog.records)


def _down_since(server: FakeSlack, make_runtime: Callable[..., Runtime], seconds: float) -> None:
    """Slack was last heard `seconds` ago, then every worker was down."""
    runtime = _process(server, make_runtime, TOML)
    runtime.state.note_heard("slack", f"{time.time() - seconds:.6f}")
    runtime.close()


async def test_a_read_back_cut_short_is_read_again_at_the_next_start(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """Stopped after answering one channel, before reading the other: its own answer and what
    it heard move the marks past the outage, yet the next start reads it all again."""
    now = time.time()
    _down_since(fake, make_runtime, 600)
    fake.add_channel("C444", "random")
    first_q = fake.add_message(
        "C111", f"<@{fake.bot_user_id}> How do I reset my password?", ts=f"{now - 400:.6f}"
    )
    missed = fake.add_message(
        "C444", f"<@{fake.bot_user_id}> How long does a refund take?", ts=f"{now - 300:.6f}"
    )
    history = fake._m_conversations_history
    reading_c444, release = asyncio.Event(), asyncio.Event()

    async def slow_on_c444(call: ApiCall) -> dict[str, Any]:
        if call.params.get("channel") == "C444":
            reading_c444.set()
            await release.wait()  # Slack slow on this one (a long Retry-After, say)
        out = await history(_Ctx(call.method, call.params, fake._tokens[fake.bot_token], call))
        out.pop("ok", None)
        return out

    fake.stub("conversations.history", slow_on_c444)
    second = _process(fake, make_runtime, TOML)
    async with running(second, drain_timeout=2.0) as adapter:
        await fake.wait_for_connection(1)
        await fake.wait_for_call(
            "chat.postMessage", lambda c: c.params.get("thread_ts") == first_q["ts"], timeout=15
        )
        await reading_c444.wait()
    release.set()  # stopped (a deploy) before #C444 was read; its answer in #C111 is the newest mark
    assert not _answered(fake, "C444", missed["ts"])

    third = _process(fake, make_runtime, TOML)
    async with running(third) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(30)
    assert _answered(fake, "C444", missed["ts"])
    assert third.state.owed_read_back("slack") is None  # read to the end this time: settled


async def test_a_question_left_for_slack_to_redeliver_is_read_back_though_later_marks_passed_it(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The store fails to record a question, so it is not acknowledged; later events move the
    marks past it; every worker is then down past Slack's retries."""
    first = _process(fake, make_runtime, TOML)
    async with running(first) as adapter:
        await fake.wait_for_connection(1)
        asked = fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True)
        # no ack: Slack is left to deliver it again
        with faults.crash_at("event.claiming", error=OSError("disk full")), pytest.raises(TimeoutError):
            await fake.socket_send("events_api", asked, timeout=3.0)
        assert await adapter.drain(15)
        # heard for minutes after it: the marks move on
        later = fake.user_message("C111", "morning all", user=MEMBER)
        await deliver(fake, adapter, later)
        first.state.note_heard("slack", f"{time.time() + 300:.6f}")
    first.close()
    ts = str(asked["event"]["ts"])
    assert not _answered(fake, "C111", ts)

    second = _process(fake, make_runtime, TOML)  # within a minute of the last mark: no read-back is due
    async with running(second) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(30)
    assert _answered(fake, "C111", ts)


async def test_marks_the_state_cannot_give_at_start_cost_a_wider_read_not_the_outage(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import adapters.slack.missed as missed

    _down_since(fake, make_runtime, 600)
    asked = fake.add_message(
        "C111", f"<@{fake.bot_user_id}> How long does a refund take?", ts=f"{time.time() - 300:.6f}"
    )
    monkeypatch.setattr(missed, "MARK_READ_PAUSES", ())  # one try, then the whole window
    with faults.crash_at("read_back.marks", error=OSError("database is locked")):
        await _back(fake, make_runtime)
    assert _answered(fake, "C111", asked["ts"])


async def _back(server: FakeSlack, make_runtime: Callable[..., Runtime]) -> Runtime:
    runtime = _process(server, make_runtime, TOML)
    async with running(runtime) as adapter:
        await server.wait_for_connection(1)
        assert await adapter.drain(30)
    return runtime


async def test_a_broadcast_question_staff_answered_in_its_thread_is_left_to_them(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    await _asked_before(fake, make_runtime)
    fake.add_channel("C444", "random")
    root = fake.add_message("C444", "anyone know about refunds?", user="W333")
    fake.add_message(
        "C444",
        f"<@{fake.bot_user_id}> How long does a refund take?",
        user=MEMBER,
        thread_ts=root["ts"],
        subtype="thread_broadcast",
    )
    fake.add_message("C444", "Five to seven business days.", user=STAFF, thread_ts=root["ts"])
    second = _process(fake, make_runtime)
    async with running(second) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(30)
    assert not _answered(fake, "C444", root["ts"])


async def test_an_owed_point_older_than_the_window_is_settled_by_a_read_back_of_the_whole_window(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """Owed from two days ago (a process that ran on for two days after a hold, say): nothing
    older than a day is read, so the read-back of the whole day covers it; the next start,
    Slack heard seconds before, reads nothing."""
    now = time.time()
    runtime = _process(fake, make_runtime, TOML)
    runtime.state.note_heard("slack", f"{now - 5:.6f}")
    runtime.state.owe_read_back("slack", f"{now - 2 * 86400:.6f}")
    runtime.close()
    first = await _back(fake, make_runtime)
    assert first.state.owed_read_back("slack") is None
    since = fake.mark()
    await _back(fake, make_runtime)
    assert not [c for c in fake.api_calls[since:] if c.method == "conversations.history"]


async def test_a_hold_the_state_refused_is_written_at_shutdown(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The store records neither the question nor, once, the read-back it owes; nothing more is
    heard before a deploy stops the process: the owed point is written on the way out."""
    first = _process(fake, make_runtime, TOML)
    async with running(first) as adapter:
        await fake.wait_for_connection(1)
        asked = fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True)
        with (
            faults.crash_at("event.claiming", error=OSError("disk full")),
            faults.crash_at("heard.owing", error=OSError("disk full")),
            pytest.raises(TimeoutError),
        ):
            await fake.socket_send("events_api", asked, timeout=3.0)
        assert await adapter.drain(15)
        assert first.state.owed_read_back("slack") is None  # refused: in memory only
        first.state.note_heard("slack", f"{time.time() + 300:.6f}")  # the marks move on
    assert first.state.owed_read_back("slack") is not None
    first.close()
    await _back(fake, make_runtime)
    assert _answered(fake, "C111", str(asked["event"]["ts"]))


async def test_a_running_worker_reads_back_what_it_left_to_slack_once_the_retries_are_past(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A store outage longer than Slack's retries, the workers up all along: no start will come
    to read what is owed, so the worker reads it back itself once Slack's last retry is past."""
    import adapters.slack.read_backs as read_backs

    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.2)
    runtime = _process(fake, make_runtime, TOML)
    async with running(runtime) as adapter:
        await fake.wait_for_connection(1)
        asked = fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True)
        with (
            faults.crash_at("event.claiming", error=OSError("database unavailable")),
            pytest.raises(TimeoutError),
        ):
            await fake.socket_send("events_api", asked, timeout=3.0)
        # the store is back; Slack's redeliveries met it down and stopped
        ts = str(asked["event"]["ts"])
        await fake.wait_for_call("chat.postMessage", lambda c: c.params.get("thread_ts") == ts, timeout=15)
        assert await adapter.drain(15)
    assert len([c for c in posts(fake, "C111") if c.params.get("thread_ts") == ts]) == 1
    assert runtime.state.owed_read_back("slack") is None  # read: settled


async def test_what_a_running_worker_owes_is_read_back_though_the_store_refused_it_at_first(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store refuses the question, the owed point's write, and (once) the read-back's
    own first step: the point is written when the timer comes, and the read-back that failed
    is tried again later, until the question is answered."""
    import adapters.slack.missed as missed
    import adapters.slack.read_backs as read_backs

    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.2)
    monkeypatch.setattr(missed, "MARK_READ_PAUSES", ())
    runtime = _process(fake, make_runtime, TOML)
    async with running(runtime) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(15)  # nothing read back at start (nothing heard before)
        asked = fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True)
        ts = str(asked["event"]["ts"])
        with (
            faults.crash_at("event.claiming", error=OSError("database unavailable")),
            faults.crash_at("heard.owing", error=OSError("database unavailable")),
            faults.crash_at("read_back.state", error=OSError("database unavailable")),
        ):
            with pytest.raises(TimeoutError):
                await fake.socket_send("events_api", asked, timeout=3.0)
            await fake.wait_for_call(
                "chat.postMessage", lambda c: c.params.get("thread_ts") == ts, timeout=15
            )
        assert await adapter.drain(15)
    assert len([c for c in posts(fake, "C111") if c.params.get("thread_ts") == ts]) == 1


async def test_a_store_down_through_many_read_backs_does_not_put_off_the_next_one(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A store down through six of the running worker's read-backs: a read of a state that is
    down costs Slack nothing, so each comes `RETRIES_SPENT` after the last, not twice as late
    (the wait after the sixth would be 6.4 s here, up to an hour in production): once the
    store is back, the held question is answered at the next, with no event needed to wake
    it. The failed writes of what was heard are one warning, not one per event, and their
    end is said."""
    _quick_read_backs(monkeypatch)
    caplog.set_level(logging.DEBUG, logger="adapters.slack")

    failed_reads = _lines_saying("could not read back what was said while down", caplog)
    runtime = _process(fake, make_runtime, TOML)
    async with running(runtime) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(15)
        asked = fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True)
        ts = str(asked["event"]["ts"])
        with (
            faults.crash_at("event.claiming", error=DOWN, times=10**6),
            faults.crash_at("heard.owing", error=DOWN, times=10**6),
            faults.crash_at("read_back.state", error=DOWN, times=10**6),
        ):
            with pytest.raises(TimeoutError):
                await fake.socket_send("events_api", asked, timeout=0.5)
            chatter = fake.user_message("C111", "anyone around?", user=STAFF)
            await fake.socket_send("events_api", chatter)  # heard, not for the bot: acknowledged
            await until(lambda: failed_reads() >= 6, "six failed read-backs", timeout=20)
            assert not _answered(fake, "C111", ts)
        # the store is back; nothing more is said
        await fake.wait_for_call("chat.postMessage", lambda c: c.params.get("thread_ts") == ts, timeout=4)
        assert await adapter.drain(15)
    assert len([c for c in posts(fake, "C111") if c.params.get("thread_ts") == ts]) == 1
    assert runtime.state.owed_read_back("slack") is None
    heard = [r for r in caplog.records if r.name == "adapters.slack.heard"]
    failed = [r for r in heard if "could not note what was heard" in r.getMessage()]
    assert [r.levelno for r in failed].count(logging.WARNING) == 1
    assert len(failed) >= 3  # the question, the chatter, each read-back's flush: tried, said once
    assert any(f"again after {len(failed)} failed write(s)" in r.getMessage() for r in heard)


async def test_a_read_back_slack_keeps_refusing_waits_longer_each_time_and_the_state_failing_between_undoes_none(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What is owed stays owed because Slack answers every history read with a 500: each
    read-back after the first comes twice as late as the one before (0.1, 0.2, 0.4, 0.8,
    1.6 s here), not at the steady pace of a store outage. One the state fails between them
    is tried again soon, and does not undo Slack's wait. Once Slack answers, it is read."""
    import adapters.slack.missed_reading as reading

    _quick_read_backs(monkeypatch)
    monkeypatch.setattr(reading, "RETRY_PAUSES", ())  # a history read Slack refuses: not tried again
    caplog.set_level(logging.INFO, logger="adapters.slack")

    unread = _lines_saying("could not read back everything", caplog)
    state_failed = _lines_saying("could not read back what was said while down", caplog)
    runtime = _process(fake, make_runtime, TOML)
    async with running(runtime) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(15)
        fake.http_error("conversations.history", 500, times=10**6)
        asked = fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True)
        ts = str(asked["event"]["ts"])
        with faults.crash_at("event.claiming", error=DOWN), pytest.raises(TimeoutError):
            await fake.socket_send("events_api", asked, timeout=0.5)
        await until(lambda: unread() >= 1, "the first read-back Slack refused")
        await asyncio.sleep(1.4)
        # 0.2 + 0.4 + 0.8 s after the first: at most three more in 1.4 s (a steady pace: fourteen)
        assert 1 <= unread() <= 4
        with faults.crash_at("read_back.state", error=DOWN):  # the next read-back: the state's failure
            await until(lambda: state_failed() >= 1, "a read-back the state failed")
        refused = unread()
        await asyncio.sleep(2.0)
        # one read 0.1 s after it, refused, and the next at least 3.2 s after that (Slack's wait
        # undone, 0.1, 0.2, 0.4, 0.8 s apart: four)
        assert unread() - refused <= 2
        fake.heal("conversations.history")
        await fake.wait_for_call("chat.postMessage", lambda c: c.params.get("thread_ts") == ts, timeout=15)
        assert await adapter.drain(15)
    assert len([c for c in posts(fake, "C111") if c.params.get("thread_ts") == ts]) == 1


async def test_a_hold_during_a_read_back_that_then_reads_everything_is_read_at_the_steady_pace(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Slack refused five read-backs (the next would wait 3.2 s here, up to an hour in
    production); the sixth reads everything it was asked, and a question held while it ran
    (Slack's answer to it was on its way) is read at the steady pace once it ends: the wait
    grown against a Slack that refused is over once Slack answers, for a hold that came
    meanwhile too."""
    import adapters.slack.missed_reading as reading

    _quick_read_backs(monkeypatch)
    monkeypatch.setattr(reading, "RETRY_PAUSES", ())
    caplog.set_level(logging.INFO, logger="adapters.slack")
    unread = _lines_saying("could not read back everything", caplog)
    history = fake._m_conversations_history
    reading_now, release = asyncio.Event(), asyncio.Event()

    async def answered_before_the_hold(call: ApiCall) -> dict[str, Any]:
        out = await history(_Ctx(call.method, call.params, fake._tokens[fake.bot_token], call))
        reading_now.set()
        await release.wait()  # on its way back while the second question is held
        out.pop("ok", None)
        return out

    runtime = _process(fake, make_runtime, TOML)
    async with running(runtime) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(15)
        fake.http_error("conversations.history", 500, times=10**6)
        fake.stub("conversations.history", answered_before_the_hold)
        first = fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True)
        with faults.crash_at("event.claiming", error=DOWN), pytest.raises(TimeoutError):
            await fake.socket_send("events_api", first, timeout=0.5)
        await until(lambda: unread() >= 5, "five read-backs Slack refused", timeout=20)
        fake.heal("conversations.history")
        await asyncio.wait_for(reading_now.wait(), 15)
        second = fake.user_message("C111", "Can I change my plan?", user=MEMBER, mention=True)
        with faults.crash_at("event.claiming", error=DOWN), pytest.raises(TimeoutError):
            await fake.socket_send("events_api", second, timeout=0.5)
        release.set()
        await fake.wait_for_call(
            "chat.postMessage", lambda c: c.params.get("thread_ts") == first["event"]["ts"], timeout=15
        )
        # the next read 0.1 s after that one ended, not 3.2 s after the hold
        await fake.wait_for_call(
            "chat.postMessage", lambda c: c.params.get("thread_ts") == second["event"]["ts"], timeout=2
        )
        assert await adapter.drain(15)
    threads = [c.params.get("thread_ts") for c in posts(fake, "C111")]
    assert threads.count(first["event"]["ts"]) == threads.count(second["event"]["ts"]) == 1
    assert runtime.state.owed_read_back("slack") is None


@pytest.mark.parametrize("refused_by", ["state", "slack"])
async def test_a_start_read_back_that_could_not_read_everything_is_read_again_while_the_worker_runs(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    refused_by: str,
) -> None:
    """The start's read-back of what was said while no worker ran meets the state down (the
    database not up yet after the machine restarted: nothing in it says a read-back is owed)
    or a history Slack does not give: it is read again while the worker runs, not left to the
    next start (weeks away, maybe), by which time what the worker heard has moved the marks
    past it."""
    import adapters.slack.missed_reading as reading

    _quick_read_backs(monkeypatch)
    monkeypatch.setattr(reading, "RETRY_PAUSES", ())
    caplog.set_level(logging.INFO, logger="adapters.slack")
    unread = _lines_saying("could not read back everything", caplog)
    await _asked_before(fake, make_runtime)
    missed = fake.add_message("C111", f"<@{fake.bot_user_id}> How long does a refund take?", user=MEMBER)
    if refused_by == "slack":
        fake.http_error("conversations.history", 500, times=10**6)
    second = _process(fake, make_runtime)
    with faults.crash_at("read_back.state", error=DOWN) if refused_by == "state" else nullcontext():
        async with running(second) as adapter:
            await fake.wait_for_connection(1)
            if refused_by == "slack":
                await until(lambda: unread() >= 1, "the start's read-back, refused by Slack")
                fake.heal("conversations.history")
            await fake.wait_for_call(
                "chat.postMessage", lambda c: c.params.get("thread_ts") == missed["ts"], timeout=15
            )
            assert await adapter.drain(15)
    assert [c.params.get("thread_ts") for c in posts(fake, "C111")].count(missed["ts"]) == 1
    assert second.state.owed_read_back("slack") is None


async def test_a_read_back_from_before_the_window_that_slack_keeps_refusing_owes_no_new_row_a_try(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A point owed two days ago (older than the day a read-back reads) and Slack refusing the
    history: each try reads from the window's start, which moves with the clock, but owes the
    point it was given, so no row is added at each try however long Slack refuses, and all
    go once a read ends having read everything."""
    import adapters.slack.missed_reading as reading
    import adapters.slack.read_backs as read_backs

    _quick_read_backs(monkeypatch)
    monkeypatch.setattr(read_backs, "RETRY_OWED_AT_MOST", 0.2)
    monkeypatch.setattr(reading, "RETRY_PAUSES", ())
    caplog.set_level(logging.INFO, logger="adapters.slack")
    unread = _lines_saying("could not read back everything", caplog)

    def owed_rows(runtime: Runtime) -> list[str]:
        return [
            key for (key,) in runtime.state.db.execute("select key from state_meta where key like '%owed%'")
        ]

    await _asked_before(fake, make_runtime)
    before = _process(fake, make_runtime)
    before.state.owe_read_back("slack", f"{time.time() - 2 * 86400:.6f}")
    before.close()
    fake.http_error("conversations.history", 500, times=10**6)
    runtime = _process(fake, make_runtime)
    async with running(runtime):
        await fake.wait_for_connection(1)
        await until(lambda: unread() >= 3, "three read-backs Slack refused", timeout=30)
        rows = set(owed_rows(runtime))
        await until(lambda: unread() >= 8, "five more", timeout=30)
        assert set(owed_rows(runtime)) == rows  # no new row a try
        fake.heal("conversations.history")
        await until(lambda: not owed_rows(runtime), "a read-back that read everything")
    # the points given (the one owed, and where the start's read-back began), in the whole and
    # in the token's workspace
    assert len(rows) <= 4, rows


async def test_a_staff_question_to_the_bot_in_its_thread_is_no_takeover(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """As live: a staff member asking the bot in its thread does not take the thread over, so
    the asker's next message there (no mention) is still the bot's to answer."""
    first = _process(fake, make_runtime)
    async with running(first) as adapter:
        await fake.wait_for_connection(1)
        asked = fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
        await deliver(fake, adapter, asked)
    first.close()
    thread_ts = str(asked["event"]["ts"])
    fake.add_message(
        "C111", f"<@{fake.bot_user_id}> and where do I change my email?", user=STAFF, thread_ts=thread_ts
    )
    follow = fake.add_message("C111", "And how long does a refund take?", user=MEMBER, thread_ts=thread_ts)
    second = _process(fake, make_runtime)
    async with running(second) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(30)
    assert second.state.db.execute(
        "select status from inbox where key = ?", [f"slack:msg:C111:{follow['ts']}"]
    ).fetchone() == ("answered",)


async def test_no_read_back_begins_once_shutdown_stopped_them(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    read_backs = ReadBacks(runtime.bot, Heard(runtime.bot, InFlight()))
    read_backs.cancel()
    ran: list[str] = []

    async def work() -> None:
        ran.append("read")

    read_backs.start(work())
    read_backs.start_later(0.0, work)
    await asyncio.sleep(0.05)
    assert ran == []
    assert await read_backs.wait(1.0)


async def test_a_slow_start_read_back_is_not_read_again_beside_it_when_nothing_was_held(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The start's read-back is slow (Slack throttles a big backlog); nothing was held before
    the read-backs began, so nothing else reads the same span beside it."""
    import adapters.slack.read_backs as read_backs

    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.2)
    _down_since(fake, make_runtime, 600)
    asked = fake.add_message(
        "C111", f"<@{fake.bot_user_id}> How long does a refund take?", ts=f"{time.time() - 300:.6f}"
    )
    history = fake._m_conversations_history
    release = asyncio.Event()
    reads: list[float] = []

    async def slow(call: ApiCall) -> dict[str, Any]:
        if call.params.get("channel") == "C111":
            reads.append(time.monotonic())
            await release.wait()  # Slack slow (rate limits on a big backlog)
        out = await history(_Ctx(call.method, call.params, fake._tokens[fake.bot_token], call))
        out.pop("ok", None)
        return out

    fake.stub("conversations.history", slow)
    rt = _process(fake, make_runtime, TOML)
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        await asyncio.sleep(1.0)
        concurrent = len(reads)
        release.set()
        assert await adapter.drain(30)
    answers = [c for c in posts(fake, "C111") if c.params.get("thread_ts") == asked["ts"]]
    assert len(answers) == 1
    assert concurrent == 1, f"#C111's history read {concurrent} times at once (nothing was held)"


async def test_a_hold_naming_another_workspace_than_the_tokens_is_read_and_settled(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """One token whose events name a workspace other than its own (an organisation's): the
    held workspace is read with the token and settled, not owed at every start after."""
    first = _process(fake, make_runtime, TOML)
    async with running(first) as adapter:
        await fake.wait_for_connection(1)
        asked = fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True)
        asked["team_id"] = "T999"
        asked["authorizations"][0]["team_id"] = None  # an org-wide install names no team
        with faults.crash_at("event.claiming", error=OSError("disk full")), pytest.raises(TimeoutError):
            await fake.socket_send("events_api", asked, timeout=3.0)
        assert await adapter.drain(15)
    assert list(first.state.owed_read_backs(TEAMS)) == [HeldIn("T999", "C111").place]
    first.close()
    second = _process(fake, make_runtime, TOML)
    async with running(second) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(30)
    assert _answered(fake, "C111", str(asked["event"]["ts"]))
    assert second.state.owed_read_back("slack") is None
    assert second.state.owed_read_backs(TEAMS) == {}


async def test_a_hold_naming_another_workspace_reads_the_tokens_channels_once_under_its_own(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The held workspace ("T000") sorts before the token's own: read under that name, the
    token's channels would be read twice and a question of its own workspace filed under the
    other, where a live follow-up in the bot's thread finds no bot."""
    first = _process(fake, make_runtime, TOML)
    async with running(first) as adapter:
        await fake.wait_for_connection(1)
        asked = fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True)
        asked["team_id"] = "T000"
        asked["authorizations"][0]["team_id"] = None  # an org-wide install names no team
        with faults.crash_at("event.claiming", error=OSError("disk full")), pytest.raises(TimeoutError):
            await fake.socket_send("events_api", asked, timeout=3.0)
        assert await adapter.drain(15)
    first.close()
    fake.add_channel("C444", "random")
    missed = fake.add_message("C444", f"<@{fake.bot_user_id}> Where do I change my email?", user=MEMBER)
    before = len(fake.calls("conversations.history"))
    second = _process(fake, make_runtime, TOML)
    async with running(second) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(30)
        reads = [c for c in fake.calls("conversations.history")[before:] if c.params.get("channel") == "C444"]
        follow_up = fake.user_message(
            "C444", "And how long does a refund take?", user=MEMBER, thread_ts=missed["ts"]
        )
        await deliver(fake, adapter, follow_up)
        assert await adapter.drain(15)
    assert len(reads) == 1
    assert _answered(fake, "C111", str(asked["event"]["ts"]))
    status = second.state.db.execute(
        "select status from inbox where key = ?", [f"slack:msg:C444:{follow_up['event']['ts']}"]
    ).fetchone()
    assert status == ("answered",)
    assert second.state.owed_read_backs(TEAMS) == {}


async def test_a_held_mention_in_a_thread_older_than_the_look_back_is_read_back(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """The held reply's thread is owed with it: its root, two days old, is in no history the
    read-back reads."""
    root = fake.add_message(
        "C111", "deploy notes for the week", user=MEMBER, ts=f"{time.time() - 2 * 86400:.6f}"
    )
    first = _process(fake, make_runtime, TOML)
    async with running(first) as adapter:
        await fake.wait_for_connection(1)
        asked = fake.user_message(
            "C111", "How long does a refund take?", user=MEMBER, mention=True, thread_ts=root["ts"]
        )
        with faults.crash_at("event.claiming", error=OSError("disk full")), pytest.raises(TimeoutError):
            await fake.socket_send("events_api", asked, timeout=3.0)
        assert await adapter.drain(15)
    assert list(first.state.owed_read_backs(TEAMS)) == [HeldIn(fake.team_id, "C111", "", root["ts"]).place]
    first.close()
    second = _process(fake, make_runtime, TOML)
    async with running(second) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(30)
    assert _answered(fake, "C111", root["ts"])
    assert second.state.owed_read_backs(TEAMS) == {}


async def test_a_read_back_from_a_stale_owed_point_reads_nothing_older_than_a_day(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A point owed two days ago (a start's read-back left unfinished then): a hold's
    read-back while running reads from a day ago at most, as a start's does; a question asked
    30 hours ago is people's."""
    import adapters.slack.missed_reading as reading
    import adapters.slack.read_backs as read_backs

    monkeypatch.setattr(read_backs, "RETRIES_SPENT", 0.2)
    monkeypatch.setattr(reading, "RETRY_PAUSES", ())
    now = time.time()
    old = fake.add_message(
        "C111", f"<@{fake.bot_user_id}> How do I reset my password?", user=MEMBER, ts=f"{now - 30 * 3600:.6f}"
    )
    runtime = _process(fake, make_runtime, TOML)
    runtime.state.note_heard("slack", f"{now - 5:.6f}")
    runtime.state.owe_read_back("slack", f"{now - 2 * 86400:.6f}")
    runtime.close()
    fake.fail("conversations.history", "internal_error", times=1)  # the start's read-back: unfinished
    runtime = _process(fake, make_runtime, TOML)
    async with running(runtime) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(30)
        asked = fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True)
        with (
            faults.crash_at("event.claiming", error=OSError("database unavailable")),
            pytest.raises(TimeoutError),
        ):
            await fake.socket_send("events_api", asked, timeout=3.0)
        ts = str(asked["event"]["ts"])
        await fake.wait_for_call("chat.postMessage", lambda c: c.params.get("thread_ts") == ts, timeout=15)
        assert await adapter.drain(15)
    assert not _answered(fake, "C111", old["ts"])


@pytest.mark.parametrize("follow_up_held", [False, True], ids=["only-the-question-held", "both-held"])
async def test_a_held_follow_up_in_a_held_questions_thread_is_answered_after_it(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
    follow_up_held: bool,
) -> None:
    """Held too, the follow-up's thread is read with its channel's threads: the question is
    answered first, then the thread read whole, as when only the question was held."""
    first = _process(fake, make_runtime, TOML)
    async with running(first) as adapter:
        await fake.wait_for_connection(1)
        asked = fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True)
        question = str(asked["event"]["ts"])
        with faults.crash_at("event.claiming", error=OSError("disk full")), pytest.raises(TimeoutError):
            await fake.socket_send("events_api", asked, timeout=3.0)
        follow_up = fake.user_message(
            "C111", "And how do I reset my password?", user=MEMBER, thread_ts=question
        )
        if follow_up_held:
            with faults.crash_at("event.claiming", error=OSError("disk full")), pytest.raises(TimeoutError):
                await fake.socket_send("events_api", follow_up, timeout=3.0)
        assert await adapter.drain(15)
    first.close()
    second = _process(fake, make_runtime, TOML)
    async with running(second) as adapter:
        await fake.wait_for_connection(1)
        assert await adapter.drain(30)
    answers = [c for c in posts(fake, "C111") if c.params.get("thread_ts") == question]
    assert len(answers) == 2
    assert "password" in str(answers[1].params.get("text")).lower()  # the follow-up's, after the question's
