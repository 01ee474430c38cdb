"""Instructions per event: event_throughput.py's product and anchor bots, counted by callgrind.

    python bench/event_instructions.py [--platform slack|discord|both] [--events 100] [--repeats 2]

CPU time per event on this shared 2-core machine moves by 30-50% with other jobs' load; the
number of instructions a bot executes per event hardly moves (repeats agree within about 2%),
so a change of a few percent in the product's cost shows here when the throughput run cannot
see it. Each bot is the one bench/event_throughput.py starts (same fake, same questions, same
warm-up), run under `valgrind --tool=callgrind` with collection off; collection is switched on
(`callgrind_control -i on`) only while N events are answered at 1 in flight. Under callgrind a
bot runs about 50 times slower: at 8 in flight its answers would be slow enough to take paths
the real runs do not (the thinking reaction), so one at a time.

The counts are user-space instructions of all the bot's threads: the kernel's share (waking
the store's thread, sockets) is not in them, the throughput run's CPU time has it. Needs
valgrind (`apt-get install valgrind`).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repository root: bench.*, tests.fakes.*

import psutil  # noqa: E402

from bench import event_throughput as throughput  # noqa: E402

COUNT_TIMEOUT_S = 600.0  # N events at 1 in flight, 50 times slower than usual


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=60)


def _instructions(out_dir: Path, pid: int) -> int:
    """The instructions counted in the dumps callgrind wrote for process `pid`."""
    total = 0
    for dump in out_dir.glob(f"callgrind.{pid}*"):
        for line in dump.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("totals:"):
                total += int(line.split()[1])
    return total


async def count(target: throughput.Target, bot: str, events: int, work: Path, repeat: int) -> float:
    """Instructions per event of one bot, over `events` events at 1 in flight."""
    out = work / f"{target.platform}-{bot}-{repeat}"
    out.mkdir()
    prefix = (
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}/callgrind.%p",
    )
    sut = throughput.Sut(target, bot, work, prefix=prefix)
    async with sut:
        await throughput.warm_up(target)
        await asyncio.to_thread(_control, "-i", "on", str(sut.pid))
        run = await throughput.run_level(
            target, bot, psutil.Process(sut.pid), 1, events, COUNT_TIMEOUT_S, 90_000 + repeat
        )
        await asyncio.to_thread(_control, "-i", "off", str(sut.pid))
        await asyncio.to_thread(_control, "-d", str(sut.pid))
    if run.events < events:
        raise RuntimeError(f"{target.platform} {bot}: {run.events} of {events} events answered")
    return _instructions(out, sut.pid) / run.events


async def main(platforms: list[str], events: int, repeats: int) -> None:
    throughput.EVENT_TIMEOUT_S = 120.0  # one event under callgrind, with room for a slow start
    print(f"instructions per event at 1 in flight, {events} events, {repeats} repeat(s), under callgrind")
    with tempfile.TemporaryDirectory(prefix="supportbot-instructions-") as tmp:
        for name in platforms:
            if name == "slack":
                from adapters.slack.manifest import BOT_SCOPES
                from tests.fakes.slack_server import FakeSlack

                fake_cm: Any = FakeSlack(bot_scopes=BOT_SCOPES)
            else:
                from tests.fakes.discord_server import FakeDiscord

                fake_cm = FakeDiscord()
            counted: dict[str, list[float]] = {"product": [], "anchor": []}
            async with fake_cm as fake:
                target: throughput.Target = (
                    throughput.SlackTarget(fake) if name == "slack" else throughput.DiscordTarget(fake)
                )
                for repeat in range(repeats):
                    order = ("product", "anchor") if repeat % 2 == 0 else ("anchor", "product")
                    for bot in order:
                        per_event = await count(target, bot, events, Path(tmp), repeat)
                        counted[bot].append(per_event)
                        print(f"  {name} {bot:<7} repeat {repeat + 1}: {per_event / 1e6:.2f} M", flush=True)
            product, anchor = (statistics.median(counted[b]) for b in ("product", "anchor"))
            print(
                f"{name}: product {product / 1e6:.2f} M instructions per event, anchor {anchor / 1e6:.2f} M: "
                f"the product executes {product / anchor:.1f}x the anchor's"
            )


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--platform", choices=("slack", "discord", "both"), default="both")
    parser.add_argument("--events", type=int, default=100, help="events counted per bot and repeat")
    parser.add_argument("--repeats", type=int, default=2)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind (with callgrind_control) is needed: apt-get install valgrind")
    import logging

    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    chosen = ["slack", "discord"] if arguments.platform == "both" else [arguments.platform]
    asyncio.run(main(chosen, arguments.events, arguments.repeats))
