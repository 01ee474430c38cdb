"""The bot's Python threads kept together on one CPU, for the life of `supportbot run`.

The bot is one event loop plus helper threads (the state store's lane, bot/store/lanes.py;
the knowledge thread, bot/retrieval/service.py), and a question hops between them several
times: each store trip and search hands the GIL from one thread to another, and SQLite and
the sockets release and take it back on every statement and write. When the threads run on
different CPUs, each hand-over wakes a thread on another CPU, and on a virtual machine such a
wake-up costs tens of microseconds of both CPUs (26 us of the caller's CPU and 77 us of wall
clock on the 2-core VM the benches run on). Only one thread runs Python at a time anyway,
so two CPUs buy the bot little but that cost. Kept on one CPU, the same work cost 5.1-6.5
instead of 7.1-8.6 ms of CPU per Discord question, and ran at 147-190 instead of 111-129
questions a second, 8 in flight (bench/event_throughput.py's product; Slack: 199-237
against 149-179 a second).

What is pinned is the threads, not the work the bot starts elsewhere: the processes that
read a large knowledge folder are given back every CPU the bot had (`process_cpus`, used by
bot/retrieval/reading.py), and native threads started before the pin (the search index's
reader) keep every CPU. Native threads started later by a pinned thread, such as the index
writer of a re-sync, share the bot's CPU and stay there if the bot later moves.

`[run] cpu` (bot/config_run.py) chooses:

* `"auto"` (the default): the CPU the event loop is on when the bot starts, the scheduler's
  own pick. Pinned threads cannot be moved by the scheduler, so a watcher thread looks about
  every `LOOK_EVERY_S` seconds (jittered, so that two workers that started together do not
  look, and move, in step for ever) at how busy each allowed CPU was, and moves the threads
  when other processes kept this CPU busier than another allowed one by more than
  `MOVE_MARGIN` of a CPU: two workers that started on the same CPU part within a minute;
* a CPU number: that CPU, never moved (a worker with a configuration of its own);
* `"off"`: the threads float, as every Python program's do.

Threads started later inherit the CPU of the thread that starts them (Linux), and every move
pins all live Python threads again. Where the platform has no `sched_setaffinity` (macOS,
Windows), or the process may run on one CPU only, there is nothing to do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.config_run import CpuSetting

log = logging.getLogger(__name__)

LOOK_EVERY_S = 30.0
MOVE_MARGIN = 0.25  # of one CPU: other processes' load here, above the quietest CPU's load

_PIN_PASSES = 5  # a thread that is starting has no native id yet: look again for it
_before_pin: frozenset[int] | None = None  # the process's CPUs before the first pin


def process_cpus() -> frozenset[int] | None:
    """The CPUs this process may use, as before any pin of ours: for work the bot starts in
    other processes (which would otherwise inherit the pin). None where the platform has no
    CPU affinity (macOS, Windows)."""
    if _before_pin is not None:
        return _before_pin
    if not hasattr(os, "sched_getaffinity"):
        return None
    return frozenset(os.sched_getaffinity(0))


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Busy and total clock ticks per CPU since boot (/proc/stat), and this process's own CPU
    ticks (/proc/self/stat), read at one moment."""

    busy: Mapping[int, int]
    total: Mapping[int, int]
    own: int


def read_cpu_times(proc: Path = Path("/proc")) -> CpuTimes:
    busy: dict[int, int] = {}
    total: dict[int, int] = {}
    for line in (proc / "stat").read_text(encoding="ascii").splitlines():
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        ticks = [int(value) for value in fields[:8]]  # user nice system idle iowait irq softirq steal
        cpu = int(name[3:])
        total[cpu] = sum(ticks)
        busy[cpu] = total[cpu] - ticks[3] - ticks[4]
    stat = (proc / "self" / "stat").read_text(encoding="ascii")
    after_name = stat.rsplit(")", 1)[1].split()
    own = int(after_name[11]) + int(after_name[12])  # utime, stime
    return CpuTimes(busy=busy, total=total, own=own)


def quieter_cpu(
    current: int, allowed: frozenset[int], before: CpuTimes, after: CpuTimes, margin: float = MOVE_MARGIN
) -> int | None:
    """The allowed CPU to move to, or None to stay: one whose load over the interval was lower,
    by more than `margin` of a CPU, than what other processes put on `current` (its load less
    this process's own, which moves with it)."""

    def load(cpu: int) -> float:
        span = after.total.get(cpu, 0) - before.total.get(cpu, 0)
        return (after.busy.get(cpu, 0) - before.busy.get(cpu, 0)) / span if span > 0 else 0.0

    span = after.total.get(current, 0) - before.total.get(current, 0)
    if span <= 0:
        return None
    own = (after.own - before.own) / span
    others_here = max(0.0, load(current) - own)
    candidates = sorted((load(cpu), cpu) for cpu in allowed if cpu != current and cpu in after.total)
    if candidates and others_here - candidates[0][0] > margin:
        return candidates[0][1]
    return None


def current_cpu(proc: Path = Path("/proc")) -> int:
    """The CPU this thread last ran on (/proc/thread-self/stat, field 39)."""
    stat = (proc / "thread-self" / "stat").read_text(encoding="ascii")
    return int(stat.rsplit(")", 1)[1].split()[36])


def pin_python_threads(cpus: frozenset[int]) -> int:
    """Let every live Python thread of this process (the calling one included) run on `cpus`
    only. Returns how many. A thread that ended meanwhile is skipped."""
    pinned: set[int] = set()
    for _ in range(_PIN_PASSES):
        starting = False
        for thread in threading.enumerate():
            native = thread.native_id
            if native is None:
                starting = True  # created by an unpinned thread, maybe: catch it next pass
                continue
            if native in pinned:
                continue
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.sched_setaffinity(native, cpus)
                pinned.add(native)
        if not starting:
            break
    return len(pinned)


class CpuKeeper:
    """Keeps the Python threads on one CPU as `[run] cpu` says; `stop` ends the watcher."""

    def __init__(
        self,
        setting: CpuSetting,
        *,
        look_every: float = LOOK_EVERY_S,
        times: Callable[[], CpuTimes] = read_cpu_times,
    ) -> None:
        self.setting = setting
        self.look_every = look_every
        self._times = times
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.cpu: int | None = None
        self.allowed: frozenset[int] = frozenset()

    def check(self) -> None:
        """Raise ValueError, saying which CPUs it may use, if `[run] cpu` is a number this
        process may not run on: before the bot starts, not once its index is built."""
        allowed = process_cpus()
        if isinstance(self.setting, int) and allowed is not None and self.setting not in allowed:
            raise ValueError(
                f"[run] cpu = {self.setting}, but this process may only run on CPU(s) "
                f"{', '.join(map(str, sorted(allowed)))}"
            )

    def start(self) -> int | None:
        """Pin, and with "auto" start watching. Returns the CPU, or None when nothing was pinned.
        A CPU number this process may not use raises ValueError (`check`)."""
        global _before_pin
        if self.setting == "off":
            return None
        self.check()
        try:
            allowed = process_cpus()
            if allowed is None:
                return None
            self.allowed = allowed
            if self.setting == "auto" and len(self.allowed) < 2:
                return None
            cpu = self.setting if isinstance(self.setting, int) else current_cpu()
            if cpu not in self.allowed:
                cpu = min(self.allowed)
            _before_pin = self.allowed
            threads = pin_python_threads(frozenset({cpu}))
        except (OSError, ValueError) as exc:  # no /proc, or a sandbox that refuses affinity
            with contextlib.suppress(OSError):
                pin_python_threads(self.allowed)  # undo a pin that stopped half-way
            log.warning(
                "could not keep the bot's threads on one CPU (%s); they run wherever the system puts them",
                exc,
            )
            return None
        self.cpu = cpu
        log.info(
            "kept the bot's %d Python thread(s) on CPU %d (of CPUs %s; [run] cpu = %s)",
            threads,
            cpu,
            ",".join(map(str, sorted(self.allowed))),
            self.setting,
            extra={"cpu": cpu},
        )
        if self.setting == "auto":
            self._watcher = threading.Thread(target=self._watch, name="supportbot-cpu", daemon=True)
            self._watcher.start()
        return cpu

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None

    def _watch(self) -> None:
        try:
            before = self._times()
            while not self._stop.wait(self.look_every * random.uniform(0.5, 1.5)):
                after = self._times()
                if self.cpu is not None:
                    better = quieter_cpu(self.cpu, self.allowed, before, after)
                    if better is not None:
                        try:
                            moved = pin_python_threads(frozenset({better}))
                        except OSError:
                            with contextlib.suppress(OSError):
                                pin_python_threads(frozenset({self.cpu}))  # all back together
                            raise
                        log.info(
                            "moved the bot's %d Python thread(s) from CPU %d to %d: other programs kept CPU %d busy",
                            moved,
                            self.cpu,
                            better,
                            self.cpu,
                            extra={"cpu": better},
                        )
                        self.cpu = better
                before = after
        except (OSError, ValueError) as exc:  # /proc unreadable or odd, affinity refused: stay here
            log.warning("stopped watching CPU load (%s); the bot stays on CPU %s", exc, self.cpu)
