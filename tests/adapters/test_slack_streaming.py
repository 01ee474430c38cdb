"""A model answer streamed into Slack while Slack rate-limits the edits (chat.update 429):
the model's answer is kept, not thrown away for the offline quote (bot/streaming.py). And a
post being answered in that a person deleted (chat.update message_not_found): the answer is
posted anew, not taken for a failure, and a replay after a crash does not post it again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from adapters.slack.manifest import BOT_SCOPES
from bot import faults
from bot.app import Runtime
from bot.inbox import serialise_message
from bot.types import Author, ConversationRef, InboundMessage, Visibility
from tests.adapters.test_slack import MEMBER, TOML, deliver, edited_question, posts, running, slack_env
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.openai_server import Answer, FakeOpenAI
from tests.fakes.slack_server import ApiCall, FakeSlack, SlackError, _Ctx


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        yield server


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def _streaming_while_edits_wait(
    make_runtime: Callable[..., Runtime],
    fake: FakeSlack,
    model: FakeOpenAI,
    *,
    deadline: int,
    retry_after: int,
) -> Runtime:
    """A bot whose model streams a cited answer (deadline: its [llm] timeout) while Slack
    answers the first chat.update with a 429 and Retry-After (which slack_sdk waits out)."""
    env = {**slack_env(fake), "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}
    rt: Runtime = make_runtime(TOML + f"[llm]\nmax_retries = 0\ntimeout_seconds = {deadline}\n", env=env)
    words = "Refunds take five to seven business days to arrive on the original payment method [1]."
    model.enqueue(Answer(words, chunk_delay=0.15))
    fake.rate_limit("chat.update", times=1, retry_after=retry_after)
    return rt


async def test_a_rate_limited_edit_does_not_cost_the_model_its_answer(
    make_runtime: Callable[..., Runtime], fake: FakeSlack, model: FakeOpenAI
) -> None:
    # slack_sdk waits out Retry-After (5 s) on the edit: longer than the model's whole deadline
    rt = _streaming_while_edits_wait(make_runtime, fake, model, deadline=3, retry_after=5)
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
        await deliver(fake, adapter, body)
    assert len(fake.calls("chat.postMessage")) == 1  # one message, edited in place
    final = [c for c in fake.calls("chat.update") if c.ok][-1].params.get("text", "")
    assert "five to seven business days" in final
    assert "language model is unavailable" not in final


async def test_slack_refusing_the_first_partial_post_does_not_cost_the_model_its_answer(
    make_runtime: Callable[..., Runtime], fake: FakeSlack, model: FakeOpenAI
) -> None:
    """Slack refuses the post the streamed answer was to go into (a passing internal_error);
    the model is healthy: its answer is posted whole once written, not dropped for the
    quoted documentation with a note that the model is unavailable."""
    env = {**slack_env(fake), "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}
    rt = make_runtime(TOML + "[llm]\nmax_retries = 0\ntimeout_seconds = 5\n", env=env)
    model.enqueue(Answer("Refunds take five to seven business days to arrive [1].", chunk_delay=0.05))
    fake.fail("chat.postMessage", "internal_error", times=1)
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
        await deliver(fake, adapter, body)
    [answer] = [c for c in posts(fake, "C111") if c.ok]
    assert "five to seven business days" in answer.params["text"]
    assert "language model is unavailable" not in answer.params["text"]
    assert [c for c in fake.calls("chat.update") if c.ok] == []  # nothing was streamed into


async def test_a_slash_ask_answered_through_its_response_url_shows_no_half_written_answer(
    make_runtime: Callable[..., Runtime], fake: FakeSlack, model: FakeOpenAI
) -> None:
    """`/support ask` in a channel the bot is not in: Slack lets it answer only through the
    command's response URL, whose messages cannot be edited, so the streamed answer is said
    once, whole, and no partial one is left in the channel beside it."""
    fake.add_channel("C777", "outside", bot_is_member=False)
    env = {**slack_env(fake), "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}
    rt = make_runtime(TOML + "[llm]\nmax_retries = 0\ntimeout_seconds = 5\n", env=env)
    model.enqueue(Answer("Refunds take five to seven business days to arrive [1].", chunk_delay=0.05))
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        asked = fake.slash_command(
            "/support", "ask How long does a refund take?", user_id=MEMBER, channel_id="C777"
        )
        await fake.socket_send("slash_commands", asked, timeout=3.0)
        assert await adapter.drain(timeout=15)
    said = [r.text or "" for r in fake.response_posts]
    assert [t for t in said if "five to seven" in t and not t.rstrip().endswith("…")], said
    assert [t for t in said if t.rstrip().endswith("…")] == []  # no partial answer left


def _refuse_updates(fake: FakeSlack, how: str) -> None:
    """Every chat.update refused past slack_sdk's retries (a passing Slack fault)."""
    if how == "ratelimited":
        fake.rate_limit("chat.update", times=40, retry_after=0)
    elif how == "http500":
        fake.http_error("chat.update", status=500, times=40)
    else:
        fake.fail("chat.update", how, times=40)


def _streamed(make_runtime: Callable[..., Runtime], fake: FakeSlack, model: FakeOpenAI) -> Runtime:
    env = {**slack_env(fake), "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}
    model.enqueue(Answer("Refunds take five to seven business days to arrive [1].", chunk_delay=0.05))
    return make_runtime(TOML + "[llm]\nmax_retries = 0\ntimeout_seconds = 10\n", env=env)


def _past_editing(fake: FakeSlack, stuck: set[str], *, first: bool = False) -> None:
    """chat.update answers cant_update_message for the messages in `stuck` (with `first`, the
    first message it is asked to update joins them), and updates the others."""
    update = fake._m_chat_update

    async def refuse(call: ApiCall) -> dict[str, Any]:
        if first and not stuck:
            stuck.add(str(call.params.get("ts")))
        if str(call.params.get("ts")) in stuck:
            raise SlackError("cant_update_message")
        out = await update(_Ctx(call.method, call.params, fake._tokens[fake.bot_token], call))
        out.pop("ok", None)
        return out

    fake.stub("chat.update", refuse)


async def _killed_then_replayed(
    make_runtime: Callable[..., Runtime],
    fake: FakeSlack,
    model: FakeOpenAI,
    rt: Runtime,
    crash: AbstractContextManager[object],
) -> str:
    """A question asked, the process killed at `crash` and started again (its replay done);
    the question's ts. Chat.update is healed for the restart unless a stub decides it."""
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
        with crash:
            await deliver(fake, adapter, body)
    fake.heal("chat.update")
    rt.close()
    model.enqueue(Answer("Refunds take five to seven business days to arrive [1]."))
    async with running(_streamed(make_runtime, fake, model)) as adapter:
        assert await adapter.drain(timeout=15)
    return str(body["event"]["ts"])


def _whole(fake: FakeSlack, question_ts: str) -> list[str]:
    """The thread's messages that show the whole answer."""
    shown = [m.get("text", "") for m in fake.thread("C111", question_ts)[1:]]
    return [t for t in shown if "five to seven" in t and not t.rstrip().endswith("…")]


@pytest.mark.parametrize("how", ["cant_update_message", "edit_window_closed"])
async def test_a_final_edit_slack_will_not_make_still_shows_the_answer_in_a_message_of_its_own(
    make_runtime: Callable[..., Runtime], fake: FakeSlack, model: FakeOpenAI, how: str
) -> None:
    """Slack says the partial answer's message will not be changed: the answer is posted anew
    below it (the partial stays), not dropped for an apology and a ticket."""
    rt = _streamed(make_runtime, fake, model)
    _refuse_updates(fake, how)
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
        await deliver(fake, adapter, body)
    shown = [m.get("text", "") for m in fake.thread("C111", body["event"]["ts"])[1:]]
    assert len(_whole(fake, body["event"]["ts"])) == 1, shown
    assert not [t for t in shown if "went wrong" in t], shown


@pytest.mark.parametrize("how", ["internal_error", "http500", "ratelimited"])
async def test_a_final_edit_that_may_have_been_applied_is_not_posted_again(
    make_runtime: Callable[..., Runtime], fake: FakeSlack, model: FakeOpenAI, how: str
) -> None:
    """Slack failed the update without saying it was not made (it may have been): posting the
    answer anew could show it twice, so it stays a failure, handed to people."""
    rt = _streamed(make_runtime, fake, model)
    _refuse_updates(fake, how)
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
        await deliver(fake, adapter, body)
    assert len(_whole(fake, body["event"]["ts"])) <= 1
    assert [c for c in posts(fake, "C111") if "five to seven" in c.params.get("text", "")] == []


async def test_an_answer_posted_anew_is_the_post_a_replay_finishes(
    make_runtime: Callable[..., Runtime], fake: FakeSlack, model: FakeOpenAI
) -> None:
    """Killed right after the answer went out anew: the inbox names the new post, not the
    partial one, so the replay does not make the partial a second copy of the answer."""
    rt = _streamed(make_runtime, fake, model)
    _refuse_updates(fake, "cant_update_message")
    asked = await _killed_then_replayed(make_runtime, fake, model, rt, faults.crash_at("answer.posted"))
    assert len(_whole(fake, asked)) == 1


async def test_an_answer_posted_anew_is_the_post_a_replay_finishes_if_killed_before_its_note(
    make_runtime: Callable[..., Runtime], fake: FakeSlack, model: FakeOpenAI
) -> None:
    """Killed between the answer said anew and its note: the replay finds the last post that
    names the question (the new one; the one past editing names it too) and finishes that."""
    rt = _streamed(make_runtime, fake, model)
    stuck: set[str] = set()  # the first message updated (the partial's): past editing, for good
    _past_editing(fake, stuck, first=True)
    # the partial's post, then the answer said anew: killed before that one is noted
    asked = await _killed_then_replayed(
        make_runtime, fake, model, rt, faults.crash_at("answer.sent", after=1)
    )
    assert len(_whole(fake, asked)) == 1


async def test_a_revised_answer_slack_will_not_update_is_shown_in_a_message_of_its_own(
    make_runtime: Callable[..., Runtime], fake: FakeSlack
) -> None:
    """The asker edits the question; Slack refuses the update of the answer's message (one too
    old to edit): the new answer is posted, not "something went wrong" and a ticket."""
    rt = make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
        await deliver(fake, adapter, body)
        question_ts = body["event"]["ts"]
        changed = edited_question(fake, question_ts, "How do I reset my password?")
        _refuse_updates(fake, "cant_update_message")
        await deliver(fake, adapter, changed)
    shown = [m.get("text", "") for m in fake.thread("C111", question_ts)[1:]]
    assert [t for t in shown if "Forgot password" in t], shown
    assert not [t for t in shown if "went wrong" in t], shown


async def test_a_revision_said_anew_is_the_post_a_replay_finishes_if_killed_before_its_note(
    make_runtime: Callable[..., Runtime], fake: FakeSlack
) -> None:
    """The asker edits the question, the answer's message is past editing, the revision is
    said anew, and the process is killed before that post is noted: the replay finds it (the
    last post naming the question as first sent) and finishes it, not a third copy."""
    rt = make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
        await deliver(fake, adapter, body)
        question_ts = body["event"]["ts"]
        _past_editing(fake, {str(m["ts"]) for m in fake.thread("C111", question_ts)[1:]})
        changed = edited_question(fake, question_ts, "How do I reset my password?")
        with faults.crash_at("answer.sent"):
            await deliver(fake, adapter, changed)
    rt.close()

    def revisions() -> list[str]:
        return [
            m.get("text", "")
            for m in fake.thread("C111", question_ts)[1:]
            if "Forgot password" in m.get("text", "")
        ]

    assert len(revisions()) == 1
    async with running(make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())) as adapter:
        assert await adapter.drain(timeout=15)
    assert len(revisions()) == 1


async def test_a_replay_whose_noted_post_was_deleted_posts_the_answer_anew(
    make_runtime: Callable[..., Runtime], fake: FakeSlack
) -> None:
    rt = make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())
    text = "How do I reset my password?"
    question = fake.add_message("C111", text, user=MEMBER)
    pending = InboundMessage(
        id=f"C111:{question['ts']}",
        conversation=ConversationRef(platform="slack", workspace="T111", channel="C111"),
        author=Author(id=MEMBER, name="member"),
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=rt.bot.clock.now(),
    )
    key = f"slack:msg:{pending.id}"
    rt.state.claim_event(key, "slack", serialise_message(pending), rt.bot.clock.now())
    # the dead process streamed the beginning of the answer and noted that post, which a
    # moderator deleted before the restart
    thinking = fake.add_message("C111", "To reset your …", user=fake.bot_user_id, thread_ts=question["ts"])
    rt.state.note_post(key, f"C111:{thinking['ts']}", pending.conversation.in_thread(question["ts"]).key)
    fake._remove_message("C111", thinking["ts"])  # as chat.delete removes it
    async with running(rt):
        pass  # the adapter's replay on connecting
    assert rt.state.pending_events("slack") == []
    assert [c.response.get("error") for c in fake.calls("chat.update")] == ["message_not_found"]
    [answer] = [str(c.params.get("text", "")) for c in posts(fake, "C111")]
    assert "password" in answer.lower() and "something went wrong" not in answer.lower()


def _partial_edits_pending() -> list[asyncio.Task[object]]:
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and getattr(task.get_coro(), "__qualname__", "") == "StreamingReply._edit"
    ]


async def test_a_partial_edit_waiting_out_a_rate_limit_never_lands_on_the_apology(
    make_runtime: Callable[..., Runtime], fake: FakeSlack, model: FakeOpenAI
) -> None:
    """The answer fails after the model streamed (the store refusing its record) while a partial
    edit waits out Slack's Retry-After: the apology is said in the streamed post, and the
    partial edit is stopped before it, not sent over it afterwards."""
    rt = _streaming_while_edits_wait(make_runtime, fake, model, deadline=10, retry_after=30)
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
        with faults.crash_at("answer.composed", error=RuntimeError("the store went away")):
            await deliver(fake, adapter, body)
        assert _partial_edits_pending() == []  # stopped, not left to land in 30 s
        ts = fake.calls("chat.postMessage")[0].response["ts"]
        updates = [c for c in fake.calls("chat.update") if c.ok and c.params.get("ts") == ts]
        assert updates and "Sorry" in updates[-1].params.get("text", "")


async def test_an_answer_posted_anew_for_a_deleted_post_is_not_posted_again_by_a_replay(
    make_runtime: Callable[..., Runtime], fake: FakeSlack, model: FakeOpenAI
) -> None:
    """The post being streamed into was deleted (every chat.update: message_not_found): the
    answer goes out as a message of its own, and the process dies before its finish. The inbox
    no longer names the deleted post, so the replay finds the answer in the thread (find_reply)
    and edits it, instead of editing the deleted post, failing, and posting a second answer."""
    env = {**slack_env(fake), "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": model.api_key}
    toml = TOML + "[llm]\nmax_retries = 0\n"
    words = "Refunds take five to seven business days to arrive on the original payment method [1]."
    model.enqueue(Answer(words, chunk_delay=0.05))
    fake.fail("chat.update", "message_not_found", times=1000)
    async with running(make_runtime(toml, env=env)) as adapter:
        await fake.wait_for_connection(1)
        body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
        with faults.crash_at("answer.posted"):
            await deliver(fake, adapter, body)
    fake._faults.pop("chat.update")
    thinking, answer = posts(fake, "C111")
    fake._remove_message("C111", thinking.response["ts"])  # it was deleted all along
    model.enqueue(Answer(words.replace("five to seven", "5-7")))  # worded differently the second time
    async with running(make_runtime(toml, env=env)) as adapter:
        assert await adapter.drain(timeout=15)
    assert posts(fake, "C111") == [thinking, answer]  # nothing posted again
    edited = [c for c in fake.calls("chat.update") if c.ok]
    assert {c.params["ts"] for c in edited} == {answer.response["ts"]}  # streamed into, then final
    assert "5-7 business days" in edited[-1].params.get("text", "")
