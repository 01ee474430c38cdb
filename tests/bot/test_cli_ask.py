"""`supportbot ask` reading questions from stdin, one per line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.bot.test_cli import clean_env


def test_a_question_file_with_one_cp949_line_answers_the_others(tmp_path: Path, knowledge_dir: Path) -> None:
    """A file of questions with one line saved as cp949 (a Korean Windows export), read where
    Python decodes stdin strictly (PYTHONIOENCODING here; a usual desktop locale): `ask --json`
    used to die with a UnicodeDecodeError traceback, every question unanswered. Now that line
    gets its own {"error": ...} object, naming it, and the others are answered."""
    questions = (
        b"How long does a refund take?\n"
        + "환불은 어떻게 받나요?\n".encode("cp949")
        + "\ufeffHow do I reset my password?\r\n".encode()  # a BOM and CRLF: Notepad's UTF-8
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "ask",
            "--json",
            "--knowledge",
            str(knowledge_dir),
            "--data",
            str(tmp_path),
        ],
        input=questions,
        capture_output=True,
        cwd=tmp_path,
        env=clean_env(PYTHONIOENCODING="utf-8:strict"),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr.decode()
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(lines) == 3, lines  # one object per input line
    assert lines[0]["sources"][0]["path"] == "refunds.md"
    assert lines[1]["error"] == "line 2 is not UTF-8 text: save the questions as UTF-8"
    assert lines[2]["sources"][0]["path"] == "password-reset.md"
