"""The bot's Python threads kept on one CPU (bot/cpu_affinity.py), and `[run] cpu`.

What changes a process's CPUs runs in a child process of its own, so that pytest's own
threads keep every CPU; the child prints what it saw as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_settings
from bot.cpu_affinity import MOVE_MARGIN, CpuTimes, current_cpu, quieter_cpu, read_cpu_times
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = sorted(os.sched_getaffinity(0))


def times(busy: dict[int, int], own: int, total: int = 1000) -> CpuTimes:
    return CpuTimes(busy=busy, total={cpu: total for cpu in busy}, own=own)


# -- choosing a CPU (pure) ---------------------------------------------------------------------


def test_moves_when_other_programs_keep_this_cpu_busier_than_a_quiet_one() -> None:
    before = times({0: 0, 1: 0}, own=0, total=0)
    after = times({0: 900, 1: 100}, own=100, total=1000)  # others: 0.8 of CPU 0; CPU 1 at 0.1
    assert quieter_cpu(0, frozenset({0, 1}), before, after) == 1


def test_stays_when_the_load_on_this_cpu_is_its_own() -> None:
    """The bot's own work moves with it: a CPU it alone keeps busy is no reason to move."""
    before = times({0: 0, 1: 0}, own=0, total=0)
    after = times({0: 950, 1: 100}, own=900)
    assert quieter_cpu(0, frozenset({0, 1}), before, after) is None


def test_stays_when_the_difference_is_within_the_margin() -> None:
    before = times({0: 0, 1: 0}, own=0, total=0)
    gap = int(MOVE_MARGIN * 1000) - 10
    after = times({0: 300 + gap, 1: 300}, own=0)
    assert quieter_cpu(0, frozenset({0, 1}), before, after) is None


def test_moves_when_the_difference_is_just_over_the_margin() -> None:
    before = times({0: 0, 1: 0}, own=0, total=0)
    gap = int(MOVE_MARGIN * 1000) + 10
    after = times({0: 300 + gap, 1: 300}, own=0)
    assert quieter_cpu(0, frozenset({0, 1}), before, after) == 1


def test_only_an_allowed_cpu_is_chosen_and_the_quietest_of_them() -> None:
    before = times({0: 0, 1: 0, 2: 0, 3: 0}, own=0, total=0)
    after = times({0: 900, 1: 0, 2: 200, 3: 100}, own=0)
    assert quieter_cpu(0, frozenset({0, 2, 3}), before, after) == 3


def test_no_time_passed_means_no_move() -> None:
    same = times({0: 500, 1: 0}, own=0)
    assert quieter_cpu(0, frozenset({0, 1}), same, same) is None


# -- reading /proc -----------------------------------------------------------------------------


def test_reads_busy_and_total_ticks_per_cpu_and_its_own(tmp_path: Path) -> None:
    (tmp_path / "self").mkdir()
    (tmp_path / "stat").write_text(
        "cpu  50 0 30 900 20 0 0 0 0 0\n"
        "cpu0 10 1 5 400 10 2 3 4 7 9\n"
        "cpu1 40 0 25 500 10 0 0 0 6 0\n"
        "intr 12345 0 0\nctxt 999\n",
        encoding="ascii",
    )
    # a process name with a space and a parenthesis: fields are counted after the last ")"
    (tmp_path / "self" / "stat").write_text(
        "4242 (my (bot) x) S 1 2 3 4 5 6 7 8 9 10 70 30 0 0 20 0 9\n", encoding="ascii"
    )
    read = read_cpu_times(tmp_path)
    assert read.total == {0: 435, 1: 575}
    assert read.busy == {0: 25, 1: 65}  # less idle and iowait; guest time is inside user already
    assert read.own == 100


def test_reads_the_cpu_a_thread_last_ran_on(tmp_path: Path) -> None:
    (tmp_path / "thread-self").mkdir()
    fields = " ".join(str(n) for n in range(3, 53))  # field 3 onwards: field N holds N
    (tmp_path / "thread-self" / "stat").write_text(f"77 (a (b) c) {fields}\n", encoding="ascii")
    assert current_cpu(tmp_path) == 39


def test_reads_every_cpu_of_this_machine() -> None:
    read = read_cpu_times()
    assert set(ALLOWED) <= set(read.busy)
    assert all(read.busy[cpu] <= read.total[cpu] for cpu in read.busy)


# -- keeping the threads (a child process each) -----------------------------------------------


def _child(body: str) -> dict[str, Any]:
    prelude = textwrap.dedent(
        """
        import json, os, threading, time
        from bot.cpu_affinity import CpuKeeper, CpuTimes

        def cpus(thread=None):
            return sorted(os.sched_getaffinity(thread.native_id if thread else 0))

        waiting = threading.Event()
        earlier = threading.Thread(target=waiting.wait, daemon=True)
        earlier.start()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_auto_keeps_every_python_thread_on_one_cpu_and_later_threads_join_it() -> None:
    seen = _child(
        """
        from bot.cpu_affinity import current_cpu, process_cpus
        from bot.retrieval.reading import available_cores
        keeper = CpuKeeper("auto")
        cpu = keeper.start()
        later = threading.Thread(target=waiting.wait, daemon=True)
        later.start()
        time.sleep(0.05)
        from bot.retrieval.reading import _exit_with
        widened = []
        def reading_worker_start():  # what a spawned reading process runs first
            _exit_with(os.getppid(), process_cpus())
            widened.append(cpus())
        starter = threading.Thread(target=reading_worker_start)
        starter.start()
        starter.join()
        print(json.dumps({"cpu": cpu, "main": cpus(), "earlier": cpus(earlier), "later": cpus(later),
                          "widened": widened[0],
                          "watching": keeper._watcher is not None and keeper._watcher.is_alive(),
                          "ran_on": current_cpu(), "process": sorted(process_cpus()),
                          "reading_cores": available_cores()}))
        keeper.stop()
        """
    )
    assert seen["process"] == ALLOWED, "what the bot starts elsewhere gets every CPU back"
    assert seen["reading_cores"] == len(ALLOWED)
    assert seen["widened"] == ALLOWED, "a reading process runs on every CPU, not the bot's one"
    if len(ALLOWED) < 2:
        assert seen["cpu"] is None and seen["main"] == ALLOWED, "one CPU: nothing to keep"
    else:
        assert seen["cpu"] in ALLOWED
        assert seen["main"] == seen["earlier"] == seen["later"] == [seen["cpu"]]
        assert seen["ran_on"] == seen["cpu"]
        assert seen["watching"]


def test_a_cpu_number_pins_there_without_watching() -> None:
    cpu = ALLOWED[-1]
    seen = _child(
        f"""
        keeper = CpuKeeper({cpu})
        print(json.dumps({{"cpu": keeper.start(), "main": cpus(), "earlier": cpus(earlier),
                          "watching": keeper._watcher is not None}}))
        """
    )
    assert seen == {"cpu": cpu, "main": [cpu], "earlier": [cpu], "watching": False}


def test_a_cpu_this_process_may_not_use_is_refused_naming_those_it_may() -> None:
    seen = _child(
        """
        try:
            CpuKeeper(4096).start()
        except ValueError as exc:
            print(json.dumps({"error": str(exc), "main": cpus()}))
        """
    )
    assert seen["error"].startswith("[run] cpu = 4096, but this process may only run on CPU(s) ")
    assert seen["error"].endswith(", ".join(map(str, ALLOWED)))
    assert seen["main"] == ALLOWED, "nothing pinned"


def test_off_leaves_the_threads_where_they_were() -> None:
    seen = _child(
        """
        keeper = CpuKeeper("off")
        print(json.dumps({"cpu": keeper.start(), "main": cpus(), "earlier": cpus(earlier)}))
        """
    )
    assert seen == {"cpu": None, "main": ALLOWED, "earlier": ALLOWED}


def test_a_system_that_refuses_affinity_leaves_the_bot_running_where_it_was() -> None:
    """A sandbox may refuse sched_setaffinity (EPERM) after some threads were pinned: the bot
    says so once, lets every thread run anywhere again, and goes on."""
    seen = _child(
        """
        import logging
        said = []
        class Said(logging.Handler):
            def emit(self, record):
                said.append(record.getMessage())
        logging.getLogger("bot.cpu_affinity").addHandler(Said())
        real = os.sched_setaffinity
        calls = []
        def refusing(tid, cpus):
            calls.append(sorted(cpus))
            if len(calls) == 2 and len(cpus) == 1:
                raise PermissionError(1, "Operation not permitted")
            real(tid, cpus)
        os.sched_setaffinity = refusing
        keeper = CpuKeeper("auto")
        print(json.dumps({"cpu": keeper.start(), "main": cpus(), "earlier": cpus(earlier),
                          "watching": keeper._watcher is not None, "said": said}))
        """
    )
    said = seen.pop("said")
    assert seen == {"cpu": None, "main": ALLOWED, "earlier": ALLOWED, "watching": False}
    if len(ALLOWED) > 1:
        assert said == [
            "could not keep the bot's threads on one CPU ([Errno 1] Operation not permitted); "
            "they run wherever the system puts them"
        ]


def test_the_watcher_moves_every_thread_off_a_cpu_other_programs_keep_busy() -> None:
    """Fed CPU times in which other programs load the kept CPU and another stays quiet, the
    watcher pins every Python thread, its own included, to the quiet one."""
    seen = _child(
        """
        allowed = sorted(os.sched_getaffinity(0))
        reads = 0
        busy = None  # the CPU the keeper started on: other programs load it, and only it
        def fed():
            global reads
            reads += 1
            tick = 1000 * reads
            load = {cpu: (9 if cpu == busy else 1) * tick // 10 for cpu in allowed}
            return CpuTimes(busy=load, total={cpu: tick for cpu in allowed}, own=0)
        keeper = CpuKeeper("auto", look_every=0.01, times=fed)
        busy = start = keeper.start()
        deadline = time.monotonic() + 20
        while keeper.cpu == start and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # more looks: it must stay where it went
        watcher = keeper._watcher
        native = {"watcher": cpus(watcher)}
        keeper.stop()
        print(json.dumps({"start": start, "moved_to": keeper.cpu, "main": cpus(), "earlier": cpus(earlier),
                          **native}))
        """
        if len(ALLOWED) >= 2
        else """
        print(json.dumps({"start": CpuKeeper("auto").start()}))
        """
    )
    if len(ALLOWED) < 2:
        assert seen == {"start": None}
        return
    assert seen["moved_to"] != seen["start"]
    assert seen["main"] == seen["earlier"] == seen["watcher"] == [seen["moved_to"]]


# -- [run] cpu ---------------------------------------------------------------------------------


def test_run_cpu_is_auto_by_default_and_takes_a_number_or_off(tmp_path: Path) -> None:
    assert load_settings(data=tmp_path / "data", env={}).run.cpu == "auto"
    config = tmp_path / "supportbot.toml"
    for written, read in (("1", 1), ('"off"', "off"), ('"auto"', "auto")):
        config.write_text(f"[run]\ncpu = {written}\n", encoding="utf-8")
        assert load_settings(config=config, data=tmp_path / "data", env={}).run.cpu == read


@pytest.mark.parametrize("written", ['"fast"', "-1", "true", "1.5"])
def test_a_bad_run_cpu_is_refused_saying_what_to_write(tmp_path: Path, written: str) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text(f"[run]\ncpu = {written}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(config=config, data=tmp_path / "data", env={})
    assert 'run.cpu: Value error, must be "auto", "off" or a CPU number (0, 1, ...)' in str(refused.value)
