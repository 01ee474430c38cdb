"""Kill soak on Slack: the `Platform` of bench/kill_soak.py (whose docstring describes it) on the
local fake Slack: Socket Mode envelopes, acked by the bot and redelivered as Slack does, and the
bot's messages in each question's thread, read in their final state."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from adapters.slack.manifest import BOT_SCOPES
from bench.kill_soak import (
    ACK_TIMEOUT,
    CHANNEL,
    PARTIAL_MARK,
    QUESTIONS,
    USERS,
    Bot,
    Clock,
    Question,
    Verdict,
    bot_env,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import ApiCall, FakeSlack, SocketConnection

# -- delivery -------------------------------------------------------------------------------


def _stamp_journal(journal: Any, stamps: dict[int, float], key: Callable[[Any], int], clock: Clock) -> None:
    """Record when each item enters one of FakeSlack's journals (it keeps no times itself)."""
    original: Callable[[Any], Awaitable[None]] = journal.add

    async def add(item: Any) -> None:
        stamps[key(item)] = clock.now()
        await original(item)

    journal.add = add


def _open_connection(fake: FakeSlack) -> SocketConnection | None:
    for conn in reversed(fake.connections):
        if conn.is_open:
            return conn
    return None


async def _deliver(fake: FakeSlack, question: Question, clock: Clock, gives_up: bool) -> None:
    """Send one event until the bot acks it, as Slack does: an envelope whose connection dies
    (or that is not acked in time) is sent again, with the retry fields, on the next connection.
    With `gives_up`, as Slack does once its retries are spent: an event that finds no open
    connection, or whose connection dies before the ack, is never sent (again); the message
    stays in the channel's history, where only the bot's read-back finds it."""
    attempt = 0
    while True:
        conn = _open_connection(fake)
        if conn is None:
            if gives_up:
                question.given_up = True
                return
            await asyncio.sleep(0.02)
            continue
        question.deliveries += 1
        send = asyncio.create_task(
            fake.socket_send(
                "events_api",
                question.body,
                retry_attempt=attempt,
                retry_reason="timeout" if attempt else "",
                connection=conn,
                timeout=ACK_TIMEOUT,
            )
        )
        closed = asyncio.create_task(conn.closed.wait())
        try:
            await asyncio.wait({send, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if send.done() and not send.cancelled() and send.exception() is None:
            question.acked = clock.now()
            return
        send.cancel()
        with contextlib.suppress(BaseException):
            await send
        if gives_up:
            question.given_up = True
            return
        attempt += 1
        await asyncio.sleep(0.05)


# -- judging ------------------------------------------------------------------------------


def _is_answer(blocks: Any) -> bool:
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return any(
        str(element.get("action_id", "")).startswith("supportbot:helpful")
        for block in blocks or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    )


def _kind(text: str, blocks: Any) -> str:
    if text.rstrip().endswith(PARTIAL_MARK):
        return "partial"
    return "answer" if _is_answer(blocks) else "other"


def judge(fake: FakeSlack, questions: list[Question], stamps: dict[int, float]) -> list[Verdict]:
    posts: dict[str, list[ApiCall]] = {}  # question ts -> successful chat.postMessage calls
    updates: dict[str, list[ApiCall]] = {}  # bot message ts -> successful chat.update calls
    for call in fake.api_calls:
        if not call.ok or call.params.get("channel") != CHANNEL:
            continue
        if call.method == "chat.postMessage" and call.params.get("thread_ts"):
            posts.setdefault(str(call.params["thread_ts"]), []).append(call)
        elif call.method == "chat.update":
            updates.setdefault(str(call.params.get("ts")), []).append(call)
    verdicts = []
    for q in questions:
        calls = posts.get(q.ts, [])
        message_ts = list(dict.fromkeys(str(c.response["ts"]) for c in calls if c.response))
        kinds = []
        answered_at: float | None = None
        for ts in message_ts:
            msg = fake.message(CHANNEL, ts)
            kinds.append("deleted" if msg is None else _kind(str(msg.get("text", "")), msg.get("blocks")))
            history = [c for c in calls if c.response and str(c.response["ts"]) == ts] + updates.get(ts, [])
            for c in history:
                if _kind(str(c.params.get("text", "")), c.json_param("blocks")) == "answer":
                    at = stamps.get(c.index)
                    if at is not None and (answered_at is None or at < answered_at):
                        answered_at = at
        if not message_ts:
            category = "lost"
        elif len(message_ts) > 1:
            category = "duplicate"
        else:
            category = {"answer": "exactly once", "partial": "orphaned partial"}.get(
                kinds[0], "not an answer"
            )
        verdicts.append(
            Verdict(
                n=q.n,
                ts=q.ts,
                messages=len(message_ts),
                final_kinds=kinds,
                answered_at=answered_at,
                deliveries=q.deliveries,
                created=q.created,
                acked=q.acked,
                category=category,
            )
        )
    return verdicts


def _all_answered(fake: FakeSlack, questions: list[Question]) -> bool:
    for q in questions:
        replies = [m for m in fake.thread(CHANNEL, q.ts) if m["ts"] != q.ts and m.get("bot_id")]
        if not any(_kind(str(m.get("text", "")), m.get("blocks")) == "answer" for m in replies):
            return False
    return True


class SlackSoak:
    """The soak's `Platform` on the fake Slack: Socket Mode events, acked and redelivered."""

    config = ""

    def __init__(self, slack: FakeSlack, clock: Clock, *, gives_up: bool = False) -> None:
        self.slack = slack
        self.clock = clock
        self.gives_up = gives_up
        # Slack that gives up at once leaves even a restart of seconds to the read-back
        self.config = "[slack]\nread_back_after_seconds = 0\n" if gives_up else ""
        self.deliveries: list[asyncio.Task[None]] = []
        self.stamps: dict[int, float] = {}  # Web API call index -> when the fake got it
        self.connected_at: dict[int, float] = {}  # Socket Mode connection number -> opened at
        _stamp_journal(slack._calls, self.stamps, lambda c: c.index, clock)
        _stamp_journal(slack._connections, self.connected_at, lambda c: c.number, clock)
        for user in USERS:
            slack.add_user(user, f"user-{user.lower()}")

    def env(self, openai: FakeOpenAI) -> dict[str, str]:
        return bot_env(
            SLACK_BOT_TOKEN=self.slack.bot_token,
            SLACK_APP_TOKEN=self.slack.app_token,
            SLACK_API_URL=self.slack.api_url,
            OPENAI_BASE_URL=openai.base_url,
            OPENAI_API_KEY=openai.api_key,
        )

    def connected(self, number: int, log: Path) -> float | None:
        return self.connected_at.get(number)

    async def ask(self, n: int) -> Question:
        user = USERS[n % len(USERS)]
        body = self.slack.user_message(CHANNEL, QUESTIONS[n % len(QUESTIONS)], user=user, mention=True)
        q = Question(n=n, ts=body["event"]["ts"], user=user, body=body, created=self.clock.now())
        self.deliveries.append(asyncio.create_task(_deliver(self.slack, q, self.clock, self.gives_up)))
        return q

    def delivering(self) -> bool:
        return not all(t.done() for t in self.deliveries)

    def activity(self) -> int:
        return len(self.slack.api_calls)

    def all_answered(self, questions: list[Question]) -> bool:
        return _all_answered(self.slack, questions)

    def judge(self, questions: list[Question]) -> list[Verdict]:
        return judge(self.slack, questions, self.stamps)

    def counts(self, questions: list[Question]) -> tuple[dict[str, int], dict[str, int]]:
        delivery = {
            "redelivered events": sum(1 for q in questions if q.deliveries > 1),
            "envelopes sent": sum(q.deliveries for q in questions),
            "events given up": sum(1 for q in questions if q.given_up),
        }
        posts = {
            "chat.postMessage ok": sum(1 for c in self.slack.calls("chat.postMessage") if c.ok),
            "chat.update ok": sum(1 for c in self.slack.calls("chat.update") if c.ok),
        }
        return delivery, posts

    def rows(self, counts: dict[str, int]) -> list[tuple[str, str]]:
        c = counts
        return [
            (
                "events redelivered (not acked before a kill)",
                f"{c['redelivered events']} ({c['envelopes sent']} envelopes)",
            ),
            ("events Slack gave up on (found only by the read-back)", str(c["events given up"])),
            (
                "model requests / postMessage / update",
                f"{c['model requests']} / {c['chat.postMessage ok']} / {c['chat.update ok']}",
            ),
        ]

    def note(self, verdict: Verdict, kills: list[float]) -> str:
        # the thinking reaction left on a lost question means the bot acked the event and
        # began on it, then died before the inbox claimed it
        v = verdict
        msg = self.slack.message(CHANNEL, v.ts) or {}
        reactions = [r["name"] for r in msg.get("reactions", [])]
        later = [k for k in kills if k >= v.created]
        near = f"; next kill at {later[0]:.3f} s" if later else ""
        acked = "never acked" if v.acked is None else f"acked at {v.acked:.3f} s"
        return (
            f"question {v.n} (ts {v.ts}): {v.category}, {v.messages} message(s) {v.final_kinds}, "
            f"{v.deliveries} envelope(s), sent at {v.created:.3f} s, {acked}{near}; "
            f"reactions left on the question: {reactions or 'none'}"
        )

    def notes(self, bot: Bot, verdicts: list[Verdict]) -> list[str]:
        return []

    async def stop(self) -> None:
        for task in self.deliveries:
            task.cancel()
        await asyncio.gather(*self.deliveries, return_exceptions=True)


@contextlib.asynccontextmanager
async def slack_soak(clock: Clock, *, gives_up: bool = False) -> AsyncIterator[SlackSoak]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as slack:
        yield SlackSoak(slack, clock, gives_up=gives_up)
