"""One running bot per data dir: the second `supportbot run` refuses and names the holder."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.errors import SupportBotError
from bot.instance import InstanceLock


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    first = InstanceLock(tmp_path)
    first.acquire()
    with pytest.raises(SupportBotError, match=rf"pid {os.getpid()}\b.*--data DIR"):
        InstanceLock(tmp_path).acquire()
    first.release()
    with InstanceLock(tmp_path):  # free again once released
        pass


def test_the_lock_dies_with_its_process_even_kill_9(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from bot.instance import InstanceLock
                lock = InstanceLock(Path({str(tmp_path)!r}))
                lock.acquire()
                print("held", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(SupportBotError, match=rf"pid {holder.pid}\b"):
            InstanceLock(tmp_path).acquire()
    finally:
        holder.kill()  # SIGKILL: no cleanup runs in the holder
        holder.wait()
    with InstanceLock(tmp_path):  # the kernel released it
        pass


def test_supportbot_run_refuses_a_busy_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with InstanceLock(data):
        env = {**os.environ, "DISCORD_TOKEN": "x" * 20}
        result = subprocess.run(
            [sys.executable, "-m", "bot", "run", "--data", str(data)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
        )
    assert result.returncode == 2
    assert f"pid {os.getpid()}" in result.stderr and "Traceback" not in result.stderr
