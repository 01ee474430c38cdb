"""Kill soak: the exactly-once promise under real `kill -9`s of `supportbot run`.

    python bench/kill_soak.py [--platform slack|discord] [--questions 120] [--kills 5]
                              [--model-seconds 0.5] [--seed 1] [--rate 20] [--wait 60]
                              [--slack-gives-up] [--json FILE] [--logs DIR]

This docstring describes Slack, the default (its side: bench/kill_soak_slack.py). `--platform
discord` runs the same soak against the local fake Discord (REST + gateway), delivering as Discord
does: bench/kill_soak_discord.py.

In this process: the local fake Slack (tests/fakes/slack_server.py, Socket Mode + Web API) and
the local fake OpenAI (tests/fakes/openai_server.py), which streams one cited answer
("Refunds go back to the original payment method [1].") in 5 chunks over about
`--model-seconds`. The bot is the real product in a child process:

    python -m bot run --data DIR --knowledge knowledge/ --config DIR/supportbot.toml

with SLACK_BOT_TOKEN / SLACK_APP_TOKEN / SLACK_API_URL pointing at the fake Slack,
OPENAI_BASE_URL / OPENAI_API_KEY at the fake OpenAI, and a config with `[llm] max_retries = 0`,
no per-user or per-channel rate limit and `[answer] workers = 8`.

`--questions` app_mention events are sent at `--rate` per second from 10 users in one channel.
Meanwhile the bot is killed with SIGKILL `--kills` times and restarted each time on the same data
dir (the kernel releases the old process's `flock`, bot/instance.py). Kill moments are seeded: a
random 0.4-2.0 s after the bot (re)connected, except one kill (not the first) that lands 0.1-0.9 s
after a reconnection, while the new process is catching up (replaying what the dead one left).

Delivery is modelled on Slack's: an envelope counts as delivered only when the bot acks it; an
envelope sent to a connection that dies before the ack (or not acked within 3 s) is sent again,
with `retry_attempt` / `retry_reason`, as soon as a connection is open. The fake Slack itself does
no redelivery. Events created while the bot is down wait for the next connection (Slack would
retry them too; it does so after back-off, this bench at once, which is the harder case).
With `--slack-gives-up` they are never delivered, as after an outage longer than Slack's
retries (about 5 minutes), nor is an envelope whose connection died before the ack: those
questions are only in the channel's history, and only the bot's read-back at start
(adapters/slack/missed.py) can answer them; the bot is told to read back after any gap
(`[slack] read_back_after_seconds = 0`), as this Slack retries nothing.

At the end the bench waits (at most `--wait` seconds) until every question has a complete answer,
every envelope was acked and the bot's inbox (state.db, read-only) has nothing pending, then counts
per question the distinct bot messages posted in its thread (successful chat.postMessage calls,
by ts) and reads the last version of each (after chat.update) from the fake's state. It prints one
table and exits 0 only if every question was answered exactly once (one message, a complete
answer); 1 otherwise. Everything is loopback; the child process and temp dirs are always cleaned up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
# run as a script, Python puts bench/ first on the path; the fakes live in tests/
sys.path.insert(0, str(ROOT))

from tests.fakes.openai_server import Answer, FakeOpenAI, RecordedRequest  # noqa: E402

CHANNEL = "C111"
USERS = tuple(f"W9{n:02d}" for n in range(10))
QUESTIONS = (
    "How do I connect Slack?",
    "What does supportbot do?",
    "How do I install supportbot?",
    "Which files can the knowledge folder contain?",
    "What is the confidence threshold?",
    "How do I run the bot in HTTP mode?",
    "Where do I find the app-level token?",
    "How do I add a staff user group?",
    "What does supportbot doctor check?",
    "How does the bot stream answers?",
)
ANSWER_TEXT = "Refunds go back to the original payment method [1]."
WORDS_PER_CHUNK = 2  # 9 word pieces -> 5 stream chunks
PARTIAL_MARK = "…"  # bot/streaming.py: a partial answer ends with " …"
ACK_TIMEOUT = 3.0  # Slack's own deadline for an ack
CONNECT_TIMEOUT = 30.0  # a (re)started bot must connect within this
CONFIG = """\
[answer]
workers = 8

[llm]
max_retries = 0
user_rate_per_hour = 0
channel_rate_per_hour = 0
"""


# -- records ------------------------------------------------------------------------------


@dataclass
class Question:
    n: int
    ts: str
    user: str
    body: dict[str, Any]
    created: float  # monotonic, relative to the run's start
    acked: float | None = None
    deliveries: int = 0  # envelopes sent for it (1 = no redelivery)
    given_up: bool = False  # never delivered: the platform gave up (Slack with --slack-gives-up)


@dataclass
class Verdict:
    n: int
    ts: str
    messages: int  # distinct bot messages in its thread
    final_kinds: list[str]  # per message: answer / partial / other
    answered_at: float | None  # first moment a complete answer was visible
    deliveries: int
    created: float
    acked: float | None
    category: str  # exactly once / duplicate / lost / orphaned partial / not an answer


@dataclass
class Life:
    """One bot process."""

    number: int
    pid: int
    spawned: float
    connected: float | None = None
    killed: float | None = None
    exit_code: int | None = None
    replays: int = 0  # events it took for replay (its log: "replaying an unfinished message")
    duplicates: int = 0  # redelivered events its inbox recognised (its log: "duplicate event")
    catch_up_kill: bool = False  # this process was killed while catching up (by design)


@dataclass
class Report:
    settings: dict[str, Any]
    lives: list[Life] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    catch_up: list[dict[str, Any]] = field(default_factory=list)
    inbox: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    settled: bool = False
    notes: list[str] = field(default_factory=list)


# -- what differs between the platforms ------------------------------------------------------


class Platform(Protocol):
    """One platform's side of the soak: its fake, how a question reaches the bot, how the bot's
    answers to it are found and judged (bench/kill_soak_slack.py, bench/kill_soak_discord.py).
    The rest (the bot's lives, the kills, the end, the table) is the same on both."""

    config: str  # appended to CONFIG

    def env(self, openai: FakeOpenAI) -> dict[str, str]:
        """The `supportbot run` child's environment against this fake and `openai`."""
        ...

    def connected(self, number: int, log: Path) -> float | None:
        """When the bot's `number`-th process was connected and ready (None: not yet)."""
        ...

    async def ask(self, n: int) -> Question:
        """Ask question `n` (of USERS and QUESTIONS, round robin) and start delivering it, as
        the platform delivers."""
        ...

    def delivering(self) -> bool:
        """Whether some question is still being delivered."""
        ...

    def activity(self) -> int:
        """A number that grows with each of the bot's calls to the platform."""
        ...

    def all_answered(self, questions: list[Question]) -> bool: ...

    def judge(self, questions: list[Question]) -> list[Verdict]: ...

    def counts(self, questions: list[Question]) -> tuple[dict[str, int], dict[str, int]]:
        """Its figures: of delivery (shown before the model's requests) and of the bot's posts."""
        ...

    def rows(self, counts: dict[str, int]) -> list[tuple[str, str]]:
        """The table's rows of those figures."""
        ...

    def note(self, verdict: Verdict, kills: list[float]) -> str:
        """What a question not answered exactly once looked like at the end."""
        ...

    def notes(self, bot: Bot, verdicts: list[Verdict]) -> list[str]:
        """Anything else worth a line (from the bot's logs, its inbox)."""
        ...

    async def stop(self) -> None:
        """Stop delivering."""
        ...


# -- the fakes ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.start


def _answer_behaviour(model_seconds: float) -> Callable[[RecordedRequest], Answer]:
    pieces = len(ANSWER_TEXT.split())
    chunks = -(-pieces // WORDS_PER_CHUNK)

    def reply(_: RecordedRequest) -> Answer:
        return Answer(ANSWER_TEXT, chunk_delay=model_seconds / chunks, words_per_chunk=WORDS_PER_CHUNK)

    return reply


# -- the bot process ----------------------------------------------------------------------


def bot_env(**settings: str) -> dict[str, str]:
    """The environment of a `supportbot run` child against the fakes: this one's, less every
    setting of ours or a platform's and any proxy (the fakes are on loopback), plus `settings`."""
    drop = ("SUPPORTBOT_", "SLACK_", "DISCORD_", "OPENAI_")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(drop) and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update(
        SUPPORTBOT_LOG_LEVEL="INFO",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
    )
    env.update(settings)
    return env


class Bot:
    """`python -m bot run` in a child process: started, killed with SIGKILL, restarted."""

    def __init__(self, tmp: Path, env: dict[str, str], clock: Clock, config: str = CONFIG) -> None:
        self.tmp = tmp
        self.data = tmp / "data"
        self.config = tmp / "supportbot.toml"
        self.config.write_text(config, encoding="utf-8")
        self.env = env
        self.clock = clock
        self.process: asyncio.subprocess.Process | None = None
        self.lives: list[Life] = []

    def log_path(self, number: int) -> Path:
        return self.tmp / f"bot-{number}.log"

    async def start(self) -> Life:
        number = len(self.lives) + 1
        with self.log_path(number).open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                "--data",
                str(self.data),
                "--knowledge",
                str(ROOT / "knowledge"),
                "--config",
                str(self.config),
                cwd=self.tmp,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a Ctrl-C on the bench is not a signal to the bot
            )
        life = Life(number=number, pid=self.process.pid, spawned=self.clock.now())
        self.lives.append(life)
        return life

    async def wait_connected(self, platform: Platform, life: Life) -> None:
        """Until this process has connected (on Slack: opened its Socket Mode connection, the
        n-th one)."""
        assert self.process is not None
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while (at := platform.connected(life.number, self.log_path(life.number))) is None:
            if self.process.returncode is not None:
                tail = self.log_path(life.number).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"bot process {life.number} exited ({self.process.returncode}):\n{tail}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"bot process {life.number} did not connect within {CONNECT_TIMEOUT} s")
            await asyncio.sleep(0.01)
        life.connected = at

    async def kill(self) -> None:
        assert self.process is not None
        life = self.lives[-1]
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        life.killed = self.clock.now()
        life.exit_code = await self.process.wait()

    async def stop(self) -> None:
        """Cleanup: whatever runs now is killed (the bench owns no other process)."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.process.wait(), 10)
            if self.lives and self.lives[-1].exit_code is None:
                self.lives[-1].exit_code = self.process.returncode

    def read_logs(self) -> list[str]:
        """Each life's log, its counts read into the life."""
        texts = []
        for life in self.lives:
            text = self.log_path(life.number).read_text(errors="replace")
            life.replays = text.count("replaying an unfinished message")
            life.duplicates = text.count("duplicate event")
            texts.append(text)
        return texts

    def keep_logs(self, target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        for life in self.lives:
            shutil.copy(self.log_path(life.number), target / self.log_path(life.number).name)

    def inbox(self) -> dict[str, int] | None:
        """The bot's inbox by status, read-only; None if it cannot be read right now."""
        path = self.data / "state.db"
        if not path.exists():
            return None
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
                rows = db.execute("select status, count(*) from inbox group by status").fetchall()
        except sqlite3.Error:
            return None
        return {str(status): int(count) for status, count in rows}


# -- the catch-up after each restart ---------------------------------------------------------


def catch_up(lives: list[Life], questions: list[Question], verdicts: list[Verdict]) -> list[dict[str, Any]]:
    """Per restart: how long the bot was down; how many questions it owed (sent before the kill,
    not answered by then); how many it took for replay and answered while it lived; and how long
    after it reconnected the last owed question was answered (by it or by a later process)."""
    answered = {v.n: v.answered_at for v in verdicts}
    rows = []
    for before, life in itertools.pairwise(lives):
        killed = before.killed
        assert killed is not None and life.connected is not None
        owed = [
            n for n, at in answered.items() if questions[n].created < killed and (at is None or at > killed)
        ]
        times = [answered[n] for n in owed]
        end = life.killed if life.killed is not None else float("inf")
        done = max((t for t in times if t is not None), default=None)
        rows.append(
            {
                "restart": life.number - 1,
                "killed_while_catching_up": life.catch_up_kill,
                "down_s": life.connected - killed,
                "owed": len(owed),
                "taken_for_replay": life.replays,
                "owed_answered_while_up": sum(1 for t in times if t is not None and t <= end),
                "lived_s": None if life.killed is None else life.killed - life.connected,
                "catch_up_s": None if done is None else max(0.0, done - life.connected),
                "unanswered": sum(1 for t in times if t is None),
            }
        )
    return rows


# -- the run ------------------------------------------------------------------------------


async def run(
    args: argparse.Namespace, soak: Callable[[Clock], AbstractAsyncContextManager[Platform]]
) -> tuple[Report, list[tuple[str, str]]]:
    """The soak on the platform `soak` opens (its fake runs while it is open): the report, and
    the platform's rows of it for the table."""
    rng = random.Random(args.seed)
    clock = Clock()
    report = Report(settings={k: v for k, v in vars(args).items() if k != "json"})
    questions: list[Question] = []
    with tempfile.TemporaryDirectory(prefix="supportbot-killsoak-") as tmpdir:
        tmp = Path(tmpdir)
        async with soak(clock) as platform, FakeOpenAI() as openai:
            openai.default_reply = _answer_behaviour(args.model_seconds)
            bot = Bot(tmp, platform.env(openai), clock, CONFIG + platform.config)
            report.lives = bot.lives
            try:
                life = await bot.start()
                await bot.wait_connected(platform, life)

                async def send_all() -> None:
                    started = time.monotonic()
                    for n in range(args.questions):
                        await asyncio.sleep(max(0.0, started + n / args.rate - time.monotonic()))
                        questions.append(await platform.ask(n))

                sender = asyncio.create_task(send_all())
                catch_up_kill = rng.randrange(1, args.kills) if args.kills > 1 else -1
                for k in range(args.kills):
                    if k == catch_up_kill:
                        delay = rng.uniform(0.1, 0.9)
                        life.catch_up_kill = True
                    else:
                        delay = rng.uniform(0.4, 2.0)
                    assert life.connected is not None
                    await asyncio.sleep(max(0.0, life.connected + delay - clock.now()))
                    await bot.kill()
                    life = await bot.start()  # same data dir: the lock must be free again
                    await bot.wait_connected(platform, life)
                await sender

                # The end: every question delivered (on Slack: every envelope acked), the inbox
                # has nothing pending or replaying, and no call to the platform for 1 s (so a late
                # second post is not missed) with every question answered; or for 3 s without:
                # with nothing pending and nothing left to deliver, the bot has no way left to
                # answer the rest (they are lost).
                deadline = time.monotonic() + args.wait
                quiet: tuple[float, int] = (time.monotonic(), -1)
                while time.monotonic() < deadline:
                    inbox = bot.inbox()
                    idle = inbox is not None and not inbox.get("pending") and not inbox.get("replaying")
                    marker = platform.activity()
                    if marker != quiet[1] or not idle or platform.delivering():
                        quiet = (time.monotonic(), marker)
                    still = time.monotonic() - quiet[0]
                    if still >= 3.0 or (still >= 1.0 and platform.all_answered(questions)):
                        report.settled = True
                        break
                    if bot.process is not None and bot.process.returncode is not None:
                        report.notes.append(
                            f"the last bot process exited by itself ({bot.process.returncode})"
                        )
                        break
                    await asyncio.sleep(0.1)
                report.inbox = bot.inbox() or {}
            finally:
                await platform.stop()
                await bot.stop()
                bot.read_logs()
                if args.logs is not None:
                    bot.keep_logs(args.logs)
            report.verdicts = platform.judge(questions)
            report.catch_up = catch_up(bot.lives, questions, report.verdicts)
            report.wall_seconds = clock.now()
            delivery, posts = platform.counts(questions)
            report.counts = {
                "questions": len(questions),
                "exactly once": sum(v.category == "exactly once" for v in report.verdicts),
                "duplicate": sum(v.category == "duplicate" for v in report.verdicts),
                "lost": sum(v.category == "lost" for v in report.verdicts),
                "orphaned partial": sum(v.category == "orphaned partial" for v in report.verdicts),
                "partial left behind": sum("partial" in v.final_kinds for v in report.verdicts),
                "not an answer": sum(v.category == "not an answer" for v in report.verdicts),
                **delivery,
                "model requests": len(openai.chat_requests),
                **posts,
            }
            kills = [life.killed for life in bot.lives if life.killed is not None]
            report.notes += [platform.note(v, kills) for v in report.verdicts if v.category != "exactly once"]
            report.notes += platform.notes(bot, report.verdicts)
            rows = platform.rows(report.counts)
    return report, rows


# -- output -------------------------------------------------------------------------------


def _fmt(value: float | None, suffix: str = " s") -> str:
    return "-" if value is None else f"{value:.2f}{suffix}"


def print_report(report: Report, platform_rows: list[tuple[str, str]]) -> None:
    """The table; `platform_rows` are the platform's figures (`Platform.rows`)."""
    s = report.settings
    c = report.counts
    fake = {"slack": "Slack", "discord": "Discord"}[s["platform"]]
    print(
        f"Kill soak: {c['questions']} mentions at {s['rate']}/s, {s['kills']} x kill -9 of `supportbot run` "
        f"(seed {s['seed']}), model streams for {s['model_seconds']} s; fake {fake} + fake OpenAI on loopback; "
        f"wall {report.wall_seconds:.1f} s, settled: {'yes' if report.settled else 'NO (timed out)'}"
    )
    rows: list[tuple[str, str]] = [
        ("answered exactly once", f"{c['exactly once']} / {c['questions']}"),
        ("twice or more (duplicates)", str(c["duplicate"])),
        ("lost (no message)", str(c["lost"])),
        ("orphaned partial (its only message ends with …)", str(c["orphaned partial"])),
        ("questions with any partial left behind", str(c["partial left behind"])),
        ("one message, not an answer", str(c["not an answer"])),
        *platform_rows,
        ("inbox at the end", ", ".join(f"{k} {v}" for k, v in sorted(report.inbox.items())) or "-"),
    ]
    for row in report.catch_up:
        label = f"restart {row['restart']}" + (
            " (killed while catching up)" if row["killed_while_catching_up"] else ""
        )
        lived = (
            "ran to the end" if row["lived_s"] is None else f"killed {row['lived_s']:.2f} s after connecting"
        )
        never = f", {row['unanswered']} never" if row["unanswered"] else ""
        rows.append(
            (
                label,
                f"down {_fmt(row['down_s'])}, {lived}; owed {row['owed']}, took {row['taken_for_replay']} "
                f"for replay, answered {row['owed_answered_while_up']} of them; last owed answered "
                f"{_fmt(row['catch_up_s'])} after reconnecting{never}",
            )
        )
    ups = [r["down_s"] for r in report.catch_up if r["down_s"] is not None]
    if ups:
        rows.append(
            ("kill -> reconnected (median / max)", f"{statistics.median(ups):.2f} / {max(ups):.2f} s")
        )
    width = max(len(label) for label, _ in rows)
    print(f"{'':<{width}}  result")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    for note in report.notes:
        print(f"  - {note}")


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--platform", choices=("slack", "discord"), default="slack", help="whose fake (default slack)"
    )
    parser.add_argument("--questions", type=int, default=120, help="mention events to send (default 120)")
    parser.add_argument("--kills", type=int, default=5, help="kill -9s during the run (default 5)")
    parser.add_argument(
        "--model-seconds", type=float, default=0.5, help="how long the fake model streams one answer (0.5)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seeds the kill moments (default 1)")
    parser.add_argument("--rate", type=float, default=20.0, help="mentions per second (default 20)")
    parser.add_argument("--wait", type=float, default=60.0, help="at most this long for the end (60 s)")
    parser.add_argument(
        "--slack-gives-up",
        action="store_true",
        help="Slack's retries spent: events sent while the bot is down are never delivered",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    parser.add_argument("--logs", type=Path, default=None, help="copy the bot processes' logs to this folder")
    args = parser.parse_args()
    if args.questions < 1 or args.kills < 0 or args.rate <= 0 or args.model_seconds < 0:
        parser.error("--questions >= 1, --kills >= 0, --rate > 0, --model-seconds >= 0")
    return args


def main() -> int:
    args = _args()
    # the whole run is bounded: start-ups, sending, kills and the final wait
    bound = 60 + args.questions / args.rate + args.kills * (CONNECT_TIMEOUT + 3) + args.wait

    # each platform's module imports this one (by name: see the end of this file)
    from bench.kill_soak_discord import discord_soak
    from bench.kill_soak_slack import slack_soak

    soak: Callable[[Clock], AbstractAsyncContextManager[Platform]] = (
        discord_soak
        if args.platform == "discord"
        else functools.partial(slack_soak, gives_up=args.slack_gives_up)
    )

    async def bounded() -> tuple[Report, list[tuple[str, str]]]:
        async with asyncio.timeout(bound):
            return await run(args, soak)

    report, rows = asyncio.run(bounded())
    print_report(report, rows)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2, default=str), encoding="utf-8")
    return 0 if report.counts["exactly once"] == report.counts["questions"] else 1


if __name__ == "__main__":
    # as the module bench/kill_soak_discord.py imports, not a second copy of it named __main__
    from bench import kill_soak

    sys.exit(kill_soak.main())
