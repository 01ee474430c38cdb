"""Slack adapter latency: from a mention event sent to the answer posted, against the fake.

    python bench/slack_latency.py [--events 200] [--concurrency 1 8] [--threshold 0.5]

Builds the real runtime on the repository's `knowledge/` folder (extractive answerer, a
fresh data directory), starts the local fake Slack (tests/fakes/slack_server.py) and the
real Slack adapter in Socket Mode, then sends app_mention envelopes. For each one it
measures the time from sending the envelope to the fake receiving the chat.postMessage in
that question's thread: ack, translation, lookups, thinking reaction, retrieval, answer,
rendering and the Web API call, over loopback. Prints p50 / p99 / mean and events/s for
each concurrency level (1 = one question at a time), and how many questions were answered
or handed to people (an escalation is also a chat.postMessage in the thread).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# run as a script, Python puts bench/ first on the path; the fake lives in tests/
sys.path.insert(0, str(ROOT))

from adapters.slack import SlackAdapter, build_adapter  # noqa: E402
from adapters.slack.manifest import BOT_SCOPES  # noqa: E402
from bot.app import Runtime, build_runtime  # noqa: E402
from bot.config import load_settings  # noqa: E402
from tests.fakes.slack_server import ApiCall, FakeSlack  # noqa: E402

QUESTIONS = (
    "How do I connect Slack?",
    "What does supportbot do?",
    "How do I install supportbot?",
    "Which files can the knowledge folder contain?",
    "How do I hand a question to a person?",
    "What is the confidence threshold?",
    "How do I run the bot in HTTP mode?",
    "Where do I find the app-level token?",
    "How do I add a staff user group?",
    "What does supportbot doctor check?",
)
USERS = tuple(f"W9{n:02d}" for n in range(10))


@dataclass(frozen=True)
class Result:
    concurrency: int
    latencies: list[float]
    wall: float
    answered: int
    escalated: int

    def row(self) -> str:
        ms = sorted(x * 1000 for x in self.latencies)
        p50 = statistics.median(ms)
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        return (
            f"{self.concurrency:>11} {len(ms):>7} {self.answered:>9} {self.escalated:>10} "
            f"{p50:>8.1f} {p99:>8.1f} {statistics.fmean(ms):>8.1f} {len(ms) / self.wall:>9.1f}"
        )


def _kind(call: ApiCall) -> str:
    ids = [
        e.get("action_id", "")
        for b in call.json_param("blocks") or []
        if b.get("type") == "actions"
        for e in b["elements"]
    ]
    return "answered" if "supportbot:helpful" in ids else "escalated"


async def _one(fake: FakeSlack, n: int) -> tuple[float, ApiCall]:
    body = fake.user_message("C111", QUESTIONS[n % len(QUESTIONS)], user=USERS[n % len(USERS)], mention=True)
    ts = body["event"]["ts"]
    since = fake.mark()  # only newer calls can be the answer: keeps the wait O(events)
    started = time.perf_counter()
    await fake.socket_send("events_api", body, timeout=10)
    call = await fake.wait_for_call(
        "chat.postMessage", lambda c: c.ok and c.params.get("thread_ts") == ts, timeout=60, since=since
    )
    return time.perf_counter() - started, call


async def _run(fake: FakeSlack, adapter: SlackAdapter, events: int, concurrency: int) -> Result:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(events):
        queue.put_nowait(n)
    results: list[tuple[float, ApiCall]] = []

    async def worker() -> None:
        while not queue.empty():
            results.append(await _one(fake, queue.get_nowait()))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    # the thinking reactions come off after the post; a run that never settles is no result
    if not await adapter.drain(timeout=60):
        raise TimeoutError("Slack handlers still running 60 s after the last answer")
    kinds = [_kind(call) for _, call in results]
    return Result(
        concurrency=concurrency,
        latencies=[latency for latency, _ in results],
        wall=wall,
        answered=kinds.count("answered"),
        escalated=kinds.count("escalated"),
    )


def _runtime(fake: FakeSlack, data: Path, threshold: float | None) -> Runtime:
    env = {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_APP_TOKEN": fake.app_token,
        "SLACK_API_URL": fake.api_url,
    }
    config = data / "supportbot.toml"
    answer = f"[answer]\nconfidence_threshold = {threshold}\n" if threshold is not None else ""
    config.write_text(answer, encoding="utf-8")
    settings = load_settings(
        config=config, knowledge=ROOT / "knowledge", data=data / "data", env=env, cwd=data
    )
    return build_runtime(settings)


async def main(events: int, levels: list[int], threshold: float | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="supportbot-bench-") as tmp:
        async with FakeSlack(bot_scopes=BOT_SCOPES) as fake:
            for user in USERS:
                fake.add_user(user, f"user-{user.lower()}")
            runtime = _runtime(fake, Path(tmp), threshold)
            adapter = build_adapter(runtime.bot, runtime.settings)
            task = asyncio.create_task(adapter.run())
            try:
                await asyncio.wait_for(adapter.ready.wait(), 30)
                await _one(fake, 0)  # warm-up: first lookups, first search
                if not await adapter.drain(timeout=60):
                    raise TimeoutError("the warm-up question was not handled within 60 s")
                results = [await _run(fake, adapter, events, level) for level in levels]
            finally:
                await adapter.close()
                await task
                runtime.close()
            summary = runtime.last_sync
            threshold_used = runtime.settings.answer.confidence_threshold
    print(
        f"Slack adapter latency: Socket Mode against FakeSlack on loopback, extractive answerer, "
        f"knowledge/ ({summary.chunks} passages), confidence threshold {threshold_used}; "
        "event sent -> chat.postMessage received"
    )
    print(
        f"{'concurrency':>11} {'events':>7} {'answered':>9} {'escalated':>10} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'mean ms':>8} {'events/s':>9}"
    )
    for result in results:
        print(result.row())


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=200, help="mention events per run (default 200)")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 8], help="questions in flight (default: 1 8)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="[answer] confidence_threshold (default: the bot's default); 0 answers every question",
    )
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _args()
    # warnings only: the measurement should not be printing a log line per event
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(main(arguments.events, arguments.concurrency, arguments.threshold))
