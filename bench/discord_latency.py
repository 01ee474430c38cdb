"""Latency of the Discord adapter, from a gateway MESSAGE_CREATE to the answer posted.

Runs the real adapter (discord.py 2.x) and the real core (SQLite state, retrieval over the
repository's own knowledge/ folder, the offline extractive answerer) against the local fake
Discord (tests/fakes/discord_server.py) on 127.0.0.1, and measures, for each of N mentions,
the time from the fake dispatching the MESSAGE_CREATE to the fake receiving the bot's first
message in the thread it started (the answer, or the hand-off when the answerer abstains).

Two runs: one question at a time, the next once the previous is finished (latency), and
`--concurrency` questions in flight at all times (throughput under load). Everything (the
fake, discord.py, the core) shares one process and one event loop, so the second row is
a floor, not a capacity figure. An unbounded burst mostly measures discord.py's client-side
limiter on the one channel's thread-creation bucket rather than the bot.

    python bench/discord_latency.py [--messages 200] [--concurrency 10] [--threshold 0.2]
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repository root, for tests.fakes (never adapters/ itself)

from adapters.discord import DiscordAdapter, build_adapter  # noqa: E402
from bot.app import Runtime, build_runtime  # noqa: E402
from bot.config import load_settings  # noqa: E402
from tests.fakes.discord_server import FakeDiscord, RecordedRequest  # noqa: E402

QUESTIONS = (
    "How do I connect Slack?",
    "How do I invite the bot to my Discord server?",
    "What does the confidence threshold do?",
    "How do I point the bot at my own documents?",
    "What does supportbot doctor check?",
    "How do I escalate a question to a person?",
    "Where do I enable the Message Content Intent?",
    "How do I change the slash command name?",
    "Does the bot work without an API key?",
    "How do I reindex the knowledge folder?",
)


@dataclass(frozen=True)
class Run:
    name: str
    latencies_ms: list[float]
    answered: int
    escalated: int
    elapsed_s: float


def settings_for(fake: FakeDiscord, workdir: Path, threshold: float | None) -> Any:
    config = workdir / "supportbot.toml"
    answer = "" if threshold is None else f"confidence_threshold = {threshold}\n"
    config.write_text(
        f'[answer]\nmode = "extractive"\n{answer}\n[discord]\n'
        f'staff_roles = ["{fake.staff_role_id}"]\n'
        f'command_guilds = ["{fake.guild_id}"]\n',
        encoding="utf-8",
    )
    return load_settings(
        config=config,
        knowledge=ROOT / "knowledge",
        data=workdir / "data",
        env={"DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.api_base},
        cwd=workdir,
    )


async def start(runtime: Runtime) -> tuple[DiscordAdapter, asyncio.Task[None]]:
    adapter = build_adapter(runtime.bot, runtime.settings, guild_ready_timeout=0.05)
    task = asyncio.create_task(adapter.run())
    ready = asyncio.create_task(adapter.wait_until_ready())
    done, _ = await asyncio.wait({task, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    if ready not in done:
        raise RuntimeError("the adapter did not connect to the fake Discord")
    return adapter, task


def first_post(fake: FakeDiscord, thread_id: str, after: int) -> RecordedRequest | None:
    found = fake.requests_matching(
        "POST", f"/channels/{thread_id}/messages", lambda r: r.status == 200, after=after
    )
    return found[0] if found else None


def is_answer(request: RecordedRequest) -> bool:
    ids = [c["custom_id"] for row in request.json.get("components", []) for c in row["components"]]
    return any(i.startswith("supportbot:helpful:") for i in ids)


async def dispatch(fake: FakeDiscord, n: int) -> tuple[str, float]:
    payload = fake.build_message_create(QUESTIONS[n % len(QUESTIONS)], mention_bot=True)
    sent_at = time.monotonic()
    await fake.dispatch("MESSAGE_CREATE", payload)
    return payload["id"], sent_at


async def answer_of(fake: FakeDiscord, thread_id: str, after: int) -> RecordedRequest:
    return await fake.wait_for_request(
        "POST", f"/channels/{thread_id}/messages", lambda r: r.status == 200, timeout=60, after=after
    )


def summarise(name: str, pairs: list[tuple[float, RecordedRequest]], elapsed: float) -> Run:
    latencies = [(request.at - sent_at) * 1000 for sent_at, request in pairs]
    answered = sum(is_answer(request) for _, request in pairs)
    return Run(name, latencies, answered, len(pairs) - answered, elapsed)


async def sequential(fake: FakeDiscord, adapter: DiscordAdapter, n: int) -> Run:
    pairs = []
    began = time.monotonic()
    for i in range(n):
        start = len(fake.requests)
        thread_id, sent_at = await dispatch(fake, i)
        pairs.append((sent_at, await answer_of(fake, thread_id, start)))
        await adapter.drain(30)  # the next question starts on an idle bot
    return summarise("sequential", pairs, time.monotonic() - began)


async def concurrent(fake: FakeDiscord, adapter: DiscordAdapter, n: int, width: int) -> Run:
    """`width` questions in flight at all times: each worker asks its next question as soon
    as its previous one is answered (different threads of one channel, as in a busy server)."""
    pairs: list[tuple[float, RecordedRequest]] = []
    numbers = iter(range(n))

    async def worker() -> None:
        for i in numbers:
            start = len(fake.requests)
            thread_id, sent_at = await dispatch(fake, i)
            pairs.append((sent_at, await answer_of(fake, thread_id, start)))

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(width)))
    elapsed = time.monotonic() - began
    await adapter.drain(60)
    return summarise(f"{width} in flight", pairs, elapsed)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def table(runs: list[Run], runtime: Runtime) -> str:
    summary = runtime.knowledge.summary()
    lines = [
        "Discord adapter: gateway MESSAGE_CREATE -> bot's first POST in the new thread",
        f"(FakeDiscord on 127.0.0.1; knowledge/: {summary.files} files, {summary.chunks} passages; "
        f"answerer: {runtime.bot.answers.description})",
        "",
        f"{'run':<14}{'msgs':>6}{'answered':>10}{'handed off':>12}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'mean ms':>9}{'max ms':>9}{'msgs/s':>9}",
    ]
    for run in runs:
        values = run.latencies_ms
        lines.append(
            f"{run.name:<14}{len(values):>6}{run.answered:>10}{run.escalated:>12}"
            f"{percentile(values, 50):>9.1f}{percentile(values, 99):>9.1f}"
            f"{statistics.fmean(values):>9.1f}{max(values):>9.1f}{len(values) / run.elapsed_s:>9.1f}"
        )
    return "\n".join(lines)


async def main(messages: int, concurrency: int, threshold: float | None) -> None:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeDiscord() as fake:
            runtime = build_runtime(settings_for(fake, Path(tmp), threshold))
            adapter, task = await start(runtime)
            try:
                await sequential(fake, adapter, min(10, messages))  # warm-up: caches, JIT of regexes
                runs = [
                    await sequential(fake, adapter, messages),
                    await concurrent(fake, adapter, messages, concurrency),
                ]
                report = table(runs, runtime)
            finally:
                await adapter.close()
                await asyncio.gather(task, return_exceptions=True)
                runtime.close()
    print(report)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200, help="mentions per run (default 200)")
    parser.add_argument("--concurrency", type=int, default=10, help="questions in flight (default 10)")
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="[answer] confidence_threshold (default: the product's default)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.concurrency, args.threshold))
