"""The `supportbot` command: the exact shapes other tools rely on, and clear errors."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.cli import app
from bot.cli_progress import STOPPED
from bot.retrieval.reading import pool_size
from tests.conftest import write_docs
from tests.fakes.openai_server import FakeOpenAI, ServerError

ROOT = Path(__file__).resolve().parents[2]


def clean_env(**extra: str) -> dict[str, str]:
    """This machine's environment without any platform or model setting, plus `extra`. The
    command imports this checkout's code whatever folder it runs in (an installed copy of the
    package may be another checkout's)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "OPENAI_", "SUPPORTBOT_"))
    }
    return {**env, "PYTHONPATH": str(ROOT), **extra}


async def ask_over_model(fake: FakeOpenAI, *args: str, stdin: bytes, cwd: Path) -> tuple[int, bytes, bytes]:
    """`supportbot ask --json ARGS` in a fresh process pointed at the fake model endpoint."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "ask",
        "--json",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=clean_env(OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY=fake.api_key),
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 120)
    return int(process.returncode or 0), out, err


def run_cli(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=clean_env(),
        timeout=120,
    )


@pytest.fixture
def cli(tmp_path: Path, knowledge_dir: Path):  # type: ignore[no-untyped-def]
    def invoke(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(
            *args,
            "--knowledge",
            str(knowledge_dir),
            "--data",
            str(tmp_path / "data"),
            stdin=stdin,
            cwd=tmp_path,
        )

    return invoke


def test_ask_json_has_the_contract_shape(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("ask", "How long does a refund take?", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {
        "answer",
        "abstained",
        "confidence",
        "language",
        "sources",
        "passages",
        "answerer",
        "elapsed_ms",
    }
    assert payload["abstained"] is False and payload["language"] == "en"
    assert payload["answerer"] == "extractive"
    assert isinstance(payload["elapsed_ms"], float) and payload["elapsed_ms"] > 0
    assert 0 < payload["confidence"] <= 1
    assert payload["sources"][0] == {"path": "refunds.md", "title": "Refund policy", "heading": ""}
    assert payload["passages"][0]["path"] == "refunds.md"
    assert all(set(p) == {"path", "score"} for p in payload["passages"])
    scores = [p["score"] for p in payload["passages"]]
    assert scores == sorted(scores, reverse=True)
    assert len({p["path"] for p in payload["passages"]}) == len(payload["passages"])


def test_ask_json_reads_questions_from_stdin_in_order(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "ask",
        "--json",
        "--k",
        "2",
        stdin="How long does a refund take?\n\n환불은 어떻게 받나요?\nWhat is the capital of Peru?\n",
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 4  # one object per input line, the blank one included
    assert lines[1] == {
        "answer": "",
        "abstained": True,
        "confidence": 0.0,
        "language": "en",
        "sources": [],
        "passages": [],
        "answerer": None,
        "elapsed_ms": 0.0,
        "error": "empty question",
    }
    lines = [lines[0], lines[2], lines[3]]
    assert [line["language"] for line in lines] == ["en", "ko", "en"]
    assert lines[0]["sources"][0]["path"] == "refunds.md"
    assert lines[1]["sources"][0]["path"] == "faq-ko.md"
    assert lines[2]["abstained"] is True and lines[2]["sources"] == []
    assert all(len(line["passages"]) <= 2 for line in lines)


def test_ask_prints_the_answer_with_sources(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("ask", "How do I reset my password?")
    assert result.returncode == 0, result.stderr
    assert "Forgot password" in result.stdout
    assert "Sources:" in result.stdout and "password-reset.md" in result.stdout


def test_bad_input_gets_a_clear_message_and_no_traceback(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = cli("ask", "   ")
    assert empty.returncode == 2 and "the question is empty" in empty.stderr
    missing = run_cli(
        "ask", "hi", "--knowledge", str(tmp_path / "nope"), "--data", str(tmp_path / "d"), cwd=tmp_path
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    config = tmp_path / "bad.toml"
    config.write_text("[answer]\nthreshold = 2\n", encoding="utf-8")
    typo = run_cli("ask", "hi", "--config", str(config), cwd=tmp_path)
    assert typo.returncode == 2 and "'threshold' in [answer] is not a setting" in typo.stderr
    for result in (empty, missing, typo):
        assert "Traceback" not in result.stderr


def test_corrupt_state_database_is_reported_not_overwritten(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    data.mkdir()
    (data / "state.db").write_bytes(b"not a database" * 50)
    result = cli("chat", stdin="/quit\n")
    assert result.returncode == 2 and "not a readable SQLite database" in result.stderr
    migrated = run_cli("migrate", "--data", str(data), cwd=tmp_path)
    assert migrated.returncode == 2 and "not a readable SQLite database" in migrated.stderr
    # `ask` records nothing, so it never opens the state database: it still answers
    asked = cli("ask", "refund?")
    assert asked.returncode == 0 and "Refund policy" in asked.stdout, asked.stderr
    assert (data / "state.db").read_bytes().startswith(b"not a database")


def test_huge_question_is_answered_without_crashing(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("ask", "--json", stdin="refund " * 15_000 + "\n")
    assert result.returncode == 0, result.stderr
    assert "answer" in json.loads(result.stdout)


def test_eval_reports_the_contract_metrics(tmp_path: Path, knowledge_dir: Path) -> None:
    evalset = tmp_path / "set"
    (evalset / "knowledge").mkdir(parents=True)
    for f in knowledge_dir.glob("*.md"):
        (evalset / "knowledge" / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    rows = [
        {
            "id": "1",
            "question": "How long does a refund take?",
            "gold": ["refunds.md"],
            "answers": ["five to seven business days"],
        },
        {"id": "2", "question": "How do I reset my password?", "gold": ["password-reset.md"], "answers": []},
        {"id": "3", "question": "환불은 어떻게 받나요?", "gold": ["faq-ko.md"], "answers": ["30일 이내"]},
        {"id": "4", "question": "What is the capital of Peru?", "gold": [], "answers": []},
    ]
    (evalset / "questions.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["eval", str(evalset), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    figures = {
        "questions",
        "answerable",
        "unanswerable",
        "recall@1",
        "recall@5",
        "mrr@10",
        "answer_contains",
        "context_contains",
        "answered_when_answerable",
        "abstained_when_unanswerable",
        "abstain_rate",
        "p50_ms",
        "p99_ms",
    }
    assert figures | {"set", "retrieval", "index_seconds", "by_language"} == set(report)
    assert report["questions"] == 4 and report["recall@1"] == 1.0 and report["answer_contains"] == 1.0
    assert (report["answerable"], report["unanswerable"]) == (3, 1)
    assert report["abstained_when_unanswerable"] == 1.0 and report["context_contains"] is None
    assert set(report["by_language"]) == {"en", "ko"}
    assert all(set(part) == figures for part in report["by_language"].values())
    assert (report["by_language"]["en"]["questions"], report["by_language"]["ko"]["questions"]) == (3, 1)
    held = CliRunner().invoke(app, ["eval", str(evalset), "--json", "--holdout", "0.4"])
    assert held.exit_code == 0, held.output
    held_report = json.loads(held.stdout)
    assert held_report["held_out_documents"] >= 1
    assert held_report["unanswerable"] > 1  # the held-out questions join the one with gold: []


def test_eval_table_shows_the_figures_per_language(tmp_path: Path, knowledge_dir: Path) -> None:
    evalset = tmp_path / "set"
    (evalset / "knowledge").mkdir(parents=True)
    for f in knowledge_dir.glob("*.md"):
        (evalset / "knowledge" / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    rows = [
        {"id": "1", "question": "How long does a refund take?", "gold": ["refunds.md"], "answers": []},
        {"id": "2", "question": "환불은 어떻게 받나요?", "gold": ["faq-ko.md"], "answers": []},
    ]
    (evalset / "questions.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["eval", str(evalset)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "figure" in line)
    columns = [header.index(f" {name} ") for name in ("figure", "all", "en", "ko", "meaning")]
    assert columns == sorted(columns)
    for name in (
        "answered_when_answerable",
        "abstained_when_unanswerable",
        "answer_contains",
        "unanswerable",
    ):
        assert name in result.stdout
    assert "context_contains" not in result.stdout  # no model: the figure does not exist
    assert "index_seconds" in result.stdout and "by_language" not in result.stdout


def test_init_writes_a_config_once(tmp_path: Path) -> None:
    target = tmp_path / "supportbot.toml"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--config", str(target)]).exit_code == 0
    assert "[answer]" in target.read_text(encoding="utf-8")
    again = runner.invoke(app, ["init", "--config", str(target)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_init_creates_the_folder_the_config_goes_in(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "supportbot.toml"  # `supportbot init -c conf/supportbot.toml`
    result = CliRunner().invoke(app, ["init", "--config", str(target)])
    assert result.exit_code == 0, result.output
    assert "[answer]" in target.read_text(encoding="utf-8")


def test_run_without_platforms_says_how_to_configure_one(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("run")
    assert result.returncode == 2
    assert (
        "SLACK_BOT_TOKEN" in result.stderr
        and "DISCORD_TOKEN" in result.stderr
        and "supportbot chat" in result.stderr
    )


def test_index_reports_unreadable_files(cli, knowledge_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (knowledge_dir / "broken.md").write_bytes(b"\xff\xfe\x00binary")
    result = cli("index")
    assert result.returncode == 0, result.stderr
    assert "6 added" in result.stdout and "broken.md" in result.stdout and "binary" in result.stdout


def test_chat_in_the_terminal(cli) -> None:  # type: ignore[no-untyped-def]
    script = "How long does a refund take?\n:helpful\nI want to talk to a human\n/support help\nquit\n"
    result = cli("chat", stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "five to seven business days" in out and "Sources:" in out
    assert "Thanks for the feedback" in out
    assert "ticket #1" in out
    assert "/support ask <question>" in out


def test_python_m_bot_is_the_same_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0 and "ask" in result.stdout and "eval" in result.stdout


async def test_ask_uses_the_model_when_one_is_configured(tmp_path: Path, knowledge_dir: Path) -> None:
    async with FakeOpenAI() as fake:
        fake.default_reply = "Refunds take five to seven business days [1]."
        code, out, err = await ask_over_model(
            fake,
            "--knowledge",
            str(knowledge_dir),
            "--data",
            str(tmp_path / "d"),
            stdin=b"How long does a refund take?\nHow long until my refund arrives?\n",
            cwd=tmp_path,
        )
    assert code == 0, err.decode()
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert len(lines) == 2 and len(fake.chat_requests) == 2
    for line in lines:
        assert line["answer"] == "Refunds take five to seven business days [1]."
        assert line["sources"] == [{"path": "refunds.md", "title": "Refund policy", "heading": ""}]
        assert line["answerer"] == "model"
    assert fake.api_key not in err.decode()


async def test_ask_redacts_a_question_before_the_model_sees_it(tmp_path: Path, knowledge_dir: Path) -> None:
    """Before the twenty-fourth session `supportbot ask` sent a question to the model as typed,
    where `supportbot chat`, `/support ask` and the dashboard send it redacted by
    `[privacy] redact` (a card number as `[card]`)."""
    card = "4111" + "1111" * 3
    async with FakeOpenAI() as fake:
        fake.default_reply = "Refunds take five to seven business days [1]."
        code, out, err = await ask_over_model(
            fake,
            "--knowledge",
            str(knowledge_dir),
            "--data",
            str(tmp_path / "d"),
            stdin=f"How long does a refund to my card {card} take?\n".encode(),
            cwd=tmp_path,
        )
    assert code == 0, err.decode()
    assert json.loads(out.decode())["answerer"] == "model"
    [request] = fake.chat_requests
    assert "How long does a refund to my card [card] take?" in request.prompt
    assert card not in request.prompt


async def test_ask_json_says_when_the_documentation_stood_in_for_the_model(
    tmp_path: Path, knowledge_dir: Path
) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text("[llm]\nmax_retries = 0\ntimeout_seconds = 5\n", encoding="utf-8")
    async with FakeOpenAI() as fake:
        fake.enqueue(ServerError(503))
        code, out, err = await ask_over_model(
            fake,
            "--config",
            str(config),
            "--knowledge",
            str(knowledge_dir),
            "--data",
            str(tmp_path / "d"),
            stdin=b"How long does a refund take?\n",
            cwd=tmp_path,
        )
    assert code == 0, err.decode()
    payload = json.loads(out.decode())
    assert payload["answerer"] == "fallback" and payload["abstained"] is False
    assert "five to seven business days" in payload["answer"]


def test_run_names_the_missing_slack_token(tmp_path: Path, knowledge_dir: Path) -> None:
    env = clean_env(SLACK_BOT_TOKEN="xoxb-" + "only-the-bot-token")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "run",
            "--knowledge",
            str(knowledge_dir),
            "--data",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert "SLACK_APP_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET" in result.stderr
    assert "xoxb-" + "only-the-bot-token" not in result.stderr + result.stdout


def test_report_reads_the_data_dir_and_prints_json(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.store import StateStore
    from bot.types import ConversationRef
    from tests.bot.insights.week import ask

    data = tmp_path / "data"
    store = StateStore(data / "state.db")
    ref = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="1.0")
    answer = ask(store, ref, "U1", datetime.now(UTC) - timedelta(days=2))
    store.add_feedback(answer, "U1", "helpful", datetime.now(UTC) - timedelta(days=2))
    store.close()
    done = run_cli("report", "--data", str(data), "--format", "json", "--since", "7d", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["metrics"]["questions"] == 1 and report["metrics"]["confirmed_resolutions"] == 1
    assert report["by_platform"][0]["platform"] == "slack"
    table = run_cli("report", "--data", str(data), "--platform", "discord", cwd=tmp_path)
    assert table.returncode == 0 and "discord" in table.stdout


def test_report_without_data_says_so_and_creates_nothing(tmp_path: Path) -> None:
    done = run_cli("report", "--data", str(tmp_path / "nothing"), cwd=tmp_path)
    assert done.returncode == 2
    assert "no state database" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "nothing").exists()
    bad = run_cli("report", "--data", str(tmp_path), "--since", "last tuesday", cwd=tmp_path)
    assert bad.returncode == 2 and "is not a period" in bad.stderr


@pytest.mark.parametrize("command", [(), ("ask",), ("slack",), ("store", "copy"), ("eval",)])
def test_help_shows_no_type_beside_a_flag(command: tuple[str, ...]) -> None:
    # typer writes its own --help as `--help <bool>`; a flag takes no value to type
    shown = run_cli(*command, "--help")
    assert shown.returncode == 0, shown.stderr
    assert "--help" in shown.stdout and "<bool>" not in shown.stdout


def unusable_data_dir(tmp_path: Path) -> Path:
    """A data directory that cannot be created: one under a regular file. (A read-only folder
    would not do: the tests may run as root, whom no permission stops.)"""
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder", encoding="utf-8")
    return in_the_way / "data"


@pytest.mark.parametrize("command", [("ask", "How long does a refund take?"), ("index",)])
def test_a_data_directory_that_cannot_be_written_is_named_with_how_to_choose_another(
    tmp_path: Path, knowledge_dir: Path, command: tuple[str, ...]
) -> None:
    data = unusable_data_dir(tmp_path)
    result = run_cli(*command, "--knowledge", str(knowledge_dir), "--data", str(data), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert str(data) in result.stderr and "--data DIR" in result.stderr


def test_doctor_fails_a_data_directory_that_cannot_be_written(tmp_path: Path, knowledge_dir: Path) -> None:
    data = unusable_data_dir(tmp_path)
    result = run_cli("doctor", "--knowledge", str(knowledge_dir), "--data", str(data), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    knowledge = next(line for line in result.stdout.splitlines() if "knowledge:" in line)
    assert knowledge.startswith("[FAIL]") and str(data) in knowledge and "--data DIR" in knowledge


def test_dashboard_on_a_port_in_use_names_the_port_and_the_flag(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("dashboard", "--port", str(port), "--data", str(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


@pytest.mark.parametrize(
    ("command", "port", "lowest"),
    [("dashboard", "70000", "1"), ("dashboard", "0", "1"), ("run", "70000", "0")],
)
def test_a_port_out_of_range_is_refused_naming_it(
    tmp_path: Path, command: str, port: str, lowest: str
) -> None:
    """`dashboard --port 70000` used to end in an OverflowError traceback from the socket
    (and `run --port 70000` only once Slack's HTTP server started); now the option says so.
    `run --port 0` is any free port (the cluster tests' workers use it)."""
    done = run_cli(command, "--port", port, "--data", str(tmp_path / "d"), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"{port} is not in the range {lowest}<=x<=65535" in done.stderr


def pool_workers(pid: int) -> list[int]:
    """The processes `pid` spawned to read files (its multiprocessing workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            started = parent == pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone while we looked
        if started:
            found.append(int(stat.parent.name))
    return found


def wait_for_workers(command: subprocess.Popen[str], count: int) -> None:
    """Until `command` has started `count` workers: the moment it has begun reading the folder."""
    deadline = time.monotonic() + 120
    while len(pool_workers(command.pid)) < count:
        assert command.poll() is None, "the command ended before its workers started"
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.005)


def interrupt_while_reading(knowledge: Path, data: Path, workers: int) -> tuple[int, str]:
    """`supportbot index` in a process group of its own (as a terminal's foreground job),
    sent SIGINT as soon as its `workers` workers exist: what Ctrl-C does. Its exit code and
    stderr; it is killed, its workers with it, if it does not end within a generous bound."""
    command = subprocess.Popen(
        [sys.executable, "-m", "bot", "index", "--knowledge", str(knowledge), "--data", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=data.parent,
        env=clean_env(),
        start_new_session=True,
    )
    try:
        wait_for_workers(command, workers)
        os.killpg(command.pid, signal.SIGINT)
        _, err = command.communicate(timeout=120)
    finally:
        if command.poll() is None:  # it hung
            os.killpg(command.pid, signal.SIGKILL)
            command.wait()
    return command.returncode, err


def test_ctrl_c_while_the_folder_is_read_stops_the_command_with_one_line(tmp_path: Path) -> None:
    """Ctrl-C in a terminal signals the whole process group: the command and the pool of
    processes it reads the folder with (bot/retrieval/reading.py). It reached the workers as
    they started, and the command printed their tracebacks or waited for ever; now the command
    alone stops, with one line and the usual code. Three times: the moment varies."""
    files = 3000
    workers = pool_size(files, workers=None)
    if not workers:
        pytest.skip("one core: the folder is read without a pool")
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    for i in range(files):
        (knowledge / f"doc{i}.md").write_text(f"# Doc {i}\n\nword{i} install the token\n", encoding="utf-8")
    for attempt in range(3):
        code, err = interrupt_while_reading(knowledge, tmp_path / f"data{attempt}", workers)
        assert code == 130, err
        assert err.strip() == f"error: {STOPPED}"


def _without_platforms() -> dict[str, str | None]:
    """CliRunner's env: this machine's platform and model settings unset (None removes one)."""
    return {k: None for k in os.environ if k.startswith(("SLACK_", "DISCORD_", "OPENAI_", "SUPPORTBOT_"))}


def _doctor_lines(*args: str) -> tuple[int, dict[str, str]]:
    """`supportbot doctor ARGS`: its exit code and each check's line by the check's name."""
    done = CliRunner().invoke(app, ["doctor", *args], env=_without_platforms())
    lines = {line.split("] ", 1)[1].split(":", 1)[0]: line for line in done.stdout.splitlines()}
    return done.exit_code, lines


def test_doctor_warns_when_a_config_file_is_answered_from_the_bundled_guide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started elsewhere (cron, systemd, Docker) with `-c`, the bot reads knowledge/ beside the
    config file; with none there it falls back to supportbot's own guide, which doctor flags."""
    home, elsewhere = tmp_path / "srv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = home / "supportbot.toml"
    home.mkdir()
    config.write_text("", encoding="utf-8")
    monkeypatch.chdir(elsewhere)
    code, lines = _doctor_lines("-c", str(config), "--data", str(tmp_path / "d1"))
    assert code == 0 and lines["knowledge"].startswith("[warn]"), lines
    assert "supportbot's own user guide" in lines["knowledge"] and str(config) in lines["knowledge"]
    write_docs(home / "knowledge")
    code, lines = _doctor_lines("-c", str(config), "--data", str(tmp_path / "d2"))
    assert code == 0 and lines["knowledge"].startswith("[ok"), lines
    assert str(home / "knowledge") in lines["knowledge"]


def test_doctor_fails_a_run_cpu_that_run_refuses(tmp_path: Path, knowledge_dir: Path) -> None:
    config = tmp_path / "supportbot.toml"
    options = ["-c", str(config), "--knowledge", str(knowledge_dir), "--data", str(tmp_path / "d")]
    config.write_text("[run]\ncpu = 999\n", encoding="utf-8")
    code, lines = _doctor_lines(*options)
    assert code == 1 and lines["cpu"].startswith("[FAIL] cpu: [run] cpu = 999"), lines
    config.write_text('[run]\ncpu = "off"\n', encoding="utf-8")
    code, lines = _doctor_lines(*options)
    assert code == 0 and lines["cpu"].startswith("[ok"), lines


def test_llm_mode_without_a_model_fails_doctor_and_refuses_to_run(
    tmp_path: Path, knowledge_dir: Path
) -> None:
    """knowledge/configuration.md: `llm` always uses the model. Without an endpoint neither
    doctor nor run may pass it off as quoting the docs."""
    config = tmp_path / "supportbot.toml"
    config.write_text('[answer]\nmode = "llm"\n', encoding="utf-8")
    options = ["-c", str(config), "--knowledge", str(knowledge_dir)]
    code, lines = _doctor_lines(*options, "--data", str(tmp_path / "d1"))
    assert code == 1 and lines["answers"].startswith("[FAIL]"), lines
    assert "OPENAI_API_KEY" in lines["answers"]
    ran = CliRunner().invoke(
        app,
        ["run", *options, "--data", str(tmp_path / "d2")],
        env={**_without_platforms(), "DISCORD_TOKEN": "x.y.z"},
    )
    assert ran.exit_code == 2 and 'mode = "llm"' in ran.stderr, ran.output
    assert not (tmp_path / "d2" / "index").exists()  # refused before the index was built


def test_dashboard_link_points_where_the_dashboard_is_served(tmp_path: Path) -> None:
    config = tmp_path / "supportbot.toml"
    args = ["dashboard", "--link", "--user", "U0123ABC", "-c", str(config), "--data", str(tmp_path / "d")]
    migrated = CliRunner().invoke(app, ["migrate", "--data", str(tmp_path / "d")], env=_without_platforms())
    assert migrated.exit_code == 0, migrated.output  # a state database, as after a first run
    config.write_text(
        '[dashboard]\nenabled = true\npublic_url = "https://support.example.com"\n', encoding="utf-8"
    )
    behind_proxy = CliRunner().invoke(app, args, env=_without_platforms())
    assert behind_proxy.stdout.startswith("https://support.example.com/admin/signin?token="), (
        behind_proxy.output
    )
    config.write_text("[dashboard]\nenabled = true\nport = 8123\n", encoding="utf-8")
    served = CliRunner().invoke(app, args, env=_without_platforms())
    assert served.stdout.startswith("http://127.0.0.1:8123/admin/signin?token="), served.output


def test_dashboard_link_from_the_wrong_folder_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    """`supportbot dashboard --link` run from another folder (or with a mistyped --data) used to
    make a state.db there and print a sign-in link the real dashboard refuses, its token stored
    in that new database. Now it says there is no state database, as `report` does."""
    done = run_cli("dashboard", "--link", "--user", "U0123ABC", cwd=tmp_path)
    assert done.returncode == 2, done.stdout
    assert (
        "no state database" in done.stderr and "signin" not in done.stdout and "Traceback" not in done.stderr
    )
    assert not (tmp_path / ".supportbot").exists()


def test_report_refuses_an_unknown_platform(tmp_path: Path) -> None:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, [*args, "--data", str(tmp_path / "d")], env=_without_platforms())

    assert invoke("migrate").exit_code == 0  # a state database, as after a first run
    assert invoke("report", "--platform", "slack").exit_code == 0
    typo = invoke("report", "--platform", "slak")
    assert typo.exit_code == 2 and "slak" in typo.output and "console" in typo.output, typo.output


def _section_names(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Each command's path and each `[section]` its help or its options' help names."""
    texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
    for name in sorted({found for text in texts for found in re.findall(r"\[[a-z][a-z_.]*\]", text)}):
        yield path, name
    for name, sub in getattr(command, "commands", {}).items():
        yield from _section_names(sub, (*path, name))


def test_help_shows_every_section_name_its_text_has() -> None:
    # Rich reads `[store]` as markup and drops it: "SUPPORTBOT_DATABASE_URL or  url"; and a
    # help text escaped by hand as well used to show a stray backslash: `store copy`'s "\[store] url"
    import typer

    named = list(_section_names(typer.main.get_command(app)))
    assert (("migrate",), "[store]") in named and (("privacy", "purge"), "[privacy]") in named
    for path in sorted({path for path, _ in named}):
        shown = run_cli(*path, "--help")
        assert shown.returncode == 0, shown.stderr
        for name in (name for where, name in named if where == path):
            assert name in shown.stdout, (path, name, shown.stdout)
            assert "\\" + name not in shown.stdout, (path, name, shown.stdout)
