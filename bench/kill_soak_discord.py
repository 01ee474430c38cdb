"""Kill soak on Discord: bench/kill_soak.py's soak (real `kill -9`s of `supportbot run`) against
the local fake Discord.

    python bench/kill_soak.py --platform discord [--questions 120] [--kills 5] [--seed 1] ...

Everything bench/kill_soak.py's docstring says holds (the child process, the fake OpenAI and its
streamed answer, the config, the seeded kills, the end, the table) except what follows.

The fake is tests/fakes/discord_server.py (REST v10 + gateway) in the bench's process. The child
gets DISCORD_TOKEN and DISCORD_API_URL (the adapter asks that API where its gateway is,
GET /gateway/bot) and `[discord] command_guilds` = the fake's guild. A process counts as connected
when it logs "connected to Discord": its on_ready, once READY and the guilds are in, which is
where it replays what a dead predecessor left and catches up (adapters/discord/client.py).

Questions: 10 guild members take turns posting a message that mentions the bot in #support. Each
is stored in the channel (REST history shows it from then on) and dispatched as MESSAGE_CREATE at
once, as Discord does it: the gateway has no acks and redelivers nothing to a new session. The
dispatch goes to the sessions that exist; the one whose connection is open receives it; a killed
process's session keeps it for a RESUME that never comes (discord.py keeps its session in the
process, so a restarted bot IDENTIFYs afresh). A message posted while no process is connected
reaches no one, and neither does one that reached a process killed before it claimed it: only
the product's own catch-up (REST reads of channel history, adapters/discord/standby.py) can find
those. The bench does not resend them.

Judging: per question, the bot's messages in the thread started from it (a thread started from a
message has the message's id) and any bot reply in #support that references it (an answer in
place, when no thread could be started): successful POSTs, by message id, each read in its final
state (after edits) from the fake. A post may be several messages (adapters/discord/post_ids.py):
messages in posting order form one post up to the one carrying the buttons (render_reply puts them
on the last part), one ending with the partial mark, or one since deleted. Exactly once: one post,
and it is a complete answer (the helpful button, no part ending with "…", the model's answer text
in it). `messages` in the JSON is the number of messages; a second post makes it a duplicate.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.kill_soak import (
    ANSWER_TEXT,
    PARTIAL_MARK,
    QUESTIONS,
    USERS,
    Bot,
    Clock,
    Question,
    Verdict,
    bot_env,
)
from tests.fakes.discord_server import FakeDiscord, RecordedRequest
from tests.fakes.openai_server import FakeOpenAI

POST = "/channels/{channel_id}/messages"
EDIT = "/channels/{channel_id}/messages/{message_id}"
THREAD = "/channels/{channel_id}/messages/{message_id}/threads"
# the model's answer as the answer shows it (its citation may be rendered otherwise)
ANSWER_WORDS = ANSWER_TEXT.split(" [", 1)[0]
HELPFUL = "supportbot:helpful"
CAUGHT_UP = re.compile(r"(?:caught up on|read back) (\d+) message")
REPLAYED = re.compile(r"replayed (\d+) unfinished message")


def _button_ids(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return []
    return [
        str(item.get("custom_id", ""))
        for row in body.get("components") or []
        for item in row.get("components") or []
    ]


def _kind(body: Any) -> str:
    """answer / partial / other, of one message (or the body of a POST or PATCH of one)."""
    content = str(body.get("content") or "") if isinstance(body, dict) else ""
    if content.rstrip().endswith(PARTIAL_MARK):
        return "partial"
    return "answer" if any(i.startswith(HELPFUL) for i in _button_ids(body)) else "other"


def _channel(request: RecordedRequest) -> str:
    return request.path.split("/")[2]


class DiscordSoak:
    """The soak's `Platform` (bench/kill_soak.py) on the fake Discord: gateway dispatches, no
    acks, no redelivery."""

    def __init__(self, fake: FakeDiscord, clock: Clock) -> None:
        self.fake = fake
        self.clock = clock
        self.channel = fake.text_channel_id
        self.config = f'\n[discord]\ncommand_guilds = ["{fake.guild_id}"]\n'
        self.users: list[str] = []
        for n in range(len(USERS)):
            user = fake.add_user(f"asker-{n:02d}")
            fake.add_member(fake.guild_id, user["id"])
            self.users.append(user["id"])
        self.ready_at: dict[int, float] = {}  # life number -> when its log said it connected
        self.received_by: dict[str, list[int]] = {}  # question id -> lives whose gateway got it

    def env(self, openai: FakeOpenAI) -> dict[str, str]:
        return bot_env(
            DISCORD_TOKEN=self.fake.token,
            DISCORD_API_URL=self.fake.api_base,
            OPENAI_BASE_URL=openai.base_url,
            OPENAI_API_KEY=openai.api_key,
        )

    def connected(self, number: int, log: Path) -> float | None:
        if number not in self.ready_at:
            with contextlib.suppress(FileNotFoundError):
                if "connected to Discord" in log.read_text(errors="replace"):
                    self.ready_at[number] = self.clock.now()
        return self.ready_at.get(number)

    async def ask(self, n: int) -> Question:
        user = self.users[n % len(self.users)]
        payload = self.fake.build_message_create(
            QUESTIONS[n % len(QUESTIONS)], channel_id=self.channel, author_id=user, mention_bot=True
        )
        question = Question(n=n, ts=payload["id"], user=user, body=payload, created=self.clock.now())
        await self.fake.dispatch("MESSAGE_CREATE", payload)  # to whichever connection is open, once
        return question

    def delivering(self) -> bool:
        return False  # a dispatch is sent once, when it is made

    def activity(self) -> int:
        return len(self.fake.requests)

    def all_answered(self, questions: list[Question]) -> bool:
        bot = self.fake.bot_user_id
        return all(
            any(
                m["author"]["id"] == bot and _kind(m) == "answer"
                for m in self.fake.messages.get(q.ts, {}).values()
            )
            for q in questions
        )

    # -- judging

    def _lives(self) -> dict[int, int]:
        """Gateway connection id -> life number: each life IDENTIFYs on one connection, so the
        fake's identified connections, in order, are the lives."""
        return {c.id: i + 1 for i, c in enumerate(c for c in self.fake.connections if c.session is not None)}

    def _received(self, questions: list[Question]) -> None:
        """Which lives' gateway connections each question was sent on."""
        lives = self._lives()
        wanted = {q.ts for q in questions}
        for frame in self.fake.frames:
            if frame.direction == "sent" and frame.t == "MESSAGE_CREATE" and isinstance(frame.d, dict):
                key = str(frame.d.get("id"))
                if key in wanted:
                    self.received_by.setdefault(key, []).append(lives.get(frame.connection_id, 0))
        for q in questions:
            q.deliveries = len(self.received_by.get(q.ts, []))

    def _posts_by_question(
        self, wanted: set[str]
    ) -> tuple[dict[str, list[tuple[str, str]]], list[RecordedRequest]]:
        """Per question, the (channel, message id) of each bot message answering it, in posting
        order; and every successful request that wrote one (a POST or a PATCH)."""
        posted: dict[str, list[tuple[str, str]]] = {}
        owner: dict[str, str] = {}  # message id -> question id
        writes = []
        for r in self.fake.requests:
            if (
                r.status != 200
                or r.method != "POST"
                or r.template != POST
                or not isinstance(r.response, dict)
            ):
                continue
            channel = _channel(r)
            question = channel if channel in wanted else None
            if channel == self.channel and isinstance(r.json, dict):
                reference = str((r.json.get("message_reference") or {}).get("message_id"))
                question = reference if reference in wanted else None
            if question is not None:
                message = str(r.response["id"])
                posted.setdefault(question, [])
                if (channel, message) not in posted[question]:  # a nonce'd repeat returns the same message
                    posted[question].append((channel, message))
                owner[message] = question
                writes.append(r)
        for r in self.fake.requests:
            if (
                r.status == 200
                and r.method == "PATCH"
                and r.template == EDIT
                and r.path.split("/")[4] in owner
            ):
                writes.append(r)
        return posted, writes

    def judge(self, questions: list[Question]) -> list[Verdict]:
        self._received(questions)
        wanted = {q.ts for q in questions}
        posted, writes = self._posts_by_question(wanted)
        owner = {message: q for q, messages in posted.items() for _, message in messages}
        answered_at: dict[str, float] = {}
        for r in writes:
            message = str(r.response["id"]) if r.method == "POST" else r.path.split("/")[4]
            question = owner[message]
            if _kind(r.json) == "answer" and ANSWER_WORDS in str(r.json.get("content", "")):
                at = r.at - self.clock.start
                answered_at[question] = min(at, answered_at.get(question, at))
        verdicts = []
        for q in questions:
            finals = [self.fake.messages.get(c, {}).get(m) for c, m in posted.get(q.ts, [])]
            kinds = ["deleted" if m is None else _kind(m) for m in finals]
            posts = _posts(finals)
            if not finals:
                category = "lost"
            elif len(posts) > 1:
                category = "duplicate"
            else:
                category = {"answer": "exactly once", "partial": "orphaned partial"}.get(
                    _post_kind(posts[0]), "not an answer"
                )
            verdicts.append(
                Verdict(
                    n=q.n,
                    ts=q.ts,
                    messages=len(finals),
                    final_kinds=kinds,
                    answered_at=answered_at.get(q.ts),
                    deliveries=q.deliveries,
                    created=q.created,
                    acked=None,  # the gateway has no acks
                    category=category,
                )
            )
        return verdicts

    def counts(self, questions: list[Question]) -> tuple[dict[str, int], dict[str, int]]:
        ok = Counter((r.method, r.template) for r in self.fake.requests if 200 <= r.status < 300)
        delivery = {
            "delivered to a connected process": sum(1 for q in questions if q.deliveries),
            "delivered to no process": sum(1 for q in questions if not q.deliveries),
        }
        posts = {
            "threads started": ok["POST", THREAD],
            "message POST ok": ok["POST", POST],
            "message PATCH ok": ok["PATCH", EDIT],
            "history reads of #support": sum(
                1
                for r in self.fake.requests
                if r.method == "GET" and r.template == POST and _channel(r) == self.channel
            ),
            "history reads elsewhere": sum(
                1
                for r in self.fake.requests
                if r.method == "GET" and r.template == POST and _channel(r) != self.channel
            ),
        }
        return delivery, posts

    def rows(self, counts: dict[str, int]) -> list[tuple[str, str]]:
        c = counts
        return [
            (
                "questions sent while no process was connected",
                f"{c['delivered to no process']} (the gateway delivered {c['delivered to a connected process']}; "
                "no acks, no redelivery)",
            ),
            (
                "model requests / threads / message POST / PATCH",
                f"{c['model requests']} / {c['threads started']} / {c['message POST ok']} / {c['message PATCH ok']}",
            ),
            (
                "history reads (GET messages): #support / threads",
                f"{c['history reads of #support']} / {c['history reads elsewhere']}",
            ),
        ]

    def note(self, verdict: Verdict, kills: list[float]) -> str:
        v = verdict
        question = self.fake.messages[self.channel].get(v.ts) or {}
        reactions = [r["emoji"]["name"] for r in question.get("reactions", [])]
        before = [k for k in kills if k < v.created]
        later = [k for k in kills if k >= v.created]
        near = (
            f"; {v.created - before[-1]:.3f} s after the kill at {before[-1]:.3f} s" if before else ""
        ) + (f"; next kill at {later[0]:.3f} s" if later else "")
        lives = self.received_by.get(v.ts, [])
        got = f"received by process {', '.join(map(str, lives))}" if lives else "received by no process"
        thread = "a thread" if v.ts in self.fake.channels else "no thread"
        return (
            f"question {v.n} (id {v.ts}): {v.category}, {v.messages} message(s) {v.final_kinds}, "
            f"sent at {v.created:.3f} s{near}; {got}; {thread} started from it; "
            f"reactions left on it: {reactions or 'none'}"
        )

    def notes(self, bot: Bot, verdicts: list[Verdict]) -> list[str]:
        lines = []
        lives = self._lives()
        ready = {
            lives.get(f.connection_id): f.at - self.clock.start
            for f in self.fake.frames
            if f.direction == "sent" and f.t == "READY"
        }
        for life, log in zip(bot.lives, bot.read_logs(), strict=True):
            session = ready.get(life.number)
            killed = f"killed at {life.killed:.2f} s" if life.killed is not None else "ran to the end"
            lines.append(
                f"process {life.number}: gateway READY at {_at(session)}, its on_ready ('connected to Discord') "
                f"at {_at(life.connected)}, {killed}; replayed "
                f"{sum(int(n) for n in REPLAYED.findall(log))} unfinished message(s) once ready (log), "
                f"caught up on {sum(int(n) for n in CAUGHT_UP.findall(log))} message(s) from history (log)"
            )
        missed = [v for v in verdicts if v.category != "exactly once"]
        if missed:
            status = _inbox_status(bot, [f"discord:msg:{v.ts}" for v in missed])
            seen = Counter(
                (
                    "received" if self.received_by.get(v.ts) else "never received",
                    status.get(f"discord:msg:{v.ts}", "no inbox row"),
                )
                for v in missed
            )
            lines.append(
                "not answered exactly once, by (gateway, inbox): "
                + "; ".join(f"{got}, {row}: {n}" for (got, row), n in sorted(seen.items()))
            )
        return lines

    async def stop(self) -> None:
        return None


def _at(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _posts(finals: list[dict[str, Any] | None]) -> list[list[dict[str, Any] | None]]:
    """Messages in posting order as posts: a post ends at the part with the buttons, a partial
    answer, or a message since deleted (adapters/discord/render.py `render_reply`)."""
    posts: list[list[dict[str, Any] | None]] = []
    current: list[dict[str, Any] | None] = []
    for message in finals:
        current.append(message)
        if message is None or _kind(message) != "other":
            posts.append(current)
            current = []
    if current:
        posts.append(current)
    return posts


def _post_kind(post: list[dict[str, Any] | None]) -> str:
    if any(m is None for m in post):
        return "deleted"
    kinds = [_kind(m) for m in post]
    if "partial" in kinds:
        return "partial"
    text = "\n".join(str(m.get("content") or "") for m in post if m is not None)
    return "answer" if kinds[-1] == "answer" and ANSWER_WORDS in text else "other"


def _inbox_status(bot: Bot, keys: list[str]) -> dict[str, str]:
    """The inbox status of each of `keys` that has a row (state.db, read-only)."""
    path = bot.data / "state.db"
    if not path.exists() or not keys:
        return {}
    marks = ", ".join("?" for _ in keys)
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
            rows = db.execute(f"select key, status from inbox where key in ({marks})", keys).fetchall()
    except sqlite3.Error:
        return {}
    return {str(key): str(status) for key, status in rows}


@contextlib.asynccontextmanager
async def discord_soak(clock: Clock) -> AsyncIterator[DiscordSoak]:
    async with FakeDiscord() as fake:
        yield DiscordSoak(fake, clock)
